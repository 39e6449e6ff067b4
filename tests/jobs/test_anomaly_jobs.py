"""The anomaly jobs as plain functions (no Qt, no process): choices, fitting through the generic train job,
evaluate's figures for the Evaluate page, and moving the threshold the way the page's drag does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.core.data import import_data
from studio.core.data.synth import make_anomaly_image_folder
from studio.core.errors import ConfigError
from studio.core.fsutil import read_json
from studio.core.project import Project
from studio.core.reporter import RecordingReporter
from studio.jobs import describe_jobs, run_job


@pytest.mark.slow
def test_anomaly_project_through_the_jobs(tmp_path: Path) -> None:
    table = describe_jobs()
    assert table["anomaly_choices"]["lane"] == "query" and not table["anomaly_choices"]["writes"]
    assert table["anomaly_train"]["writes"] and table["anomaly_threshold"]["writes"]

    data = make_anomaly_image_folder(tmp_path / "data", good=24, defects={"hole": 4}, size=(32, 32), normal="ok")
    project = Project.create(tmp_path / "p", "image-anomaly")
    out = run_job("import", project, {"source": str(data), "normal": "ok"}, RecordingReporter())
    assert out["normal_class"] == "ok" and out["good_vs_defect"]["defect"] == 4

    choices = run_job("anomaly_choices", project, {"overrides": {"false_alarms": 0.05}}, RecordingReporter())
    assert choices["defaults"]["input_size"] == 32 and choices["config"]["false_alarms"] == 0.05
    assert choices["detectors"] == ["auto", "patch", "global"] and choices["counts"]["good"] == 24
    bad = run_job("anomaly_choices", project, {"overrides": {"detector": "window"}}, RecordingReporter())
    assert bad["config"] is None and "does not apply" in bad["config_error"]

    rep = RecordingReporter()
    # the generic train job fits the detector in an anomaly project (a classifier's settings are ignored)
    trained = run_job("train", project, {"overrides": {"detector": "patch", "epochs": 3}}, rep)
    assert trained["arch"] == "anomaly-patch" and trained["stopped"] is False
    assert any(e[0] == "progress" for e in rep.events)
    json.dumps(trained)  # plain data, as the worker sends it

    ev = run_job("evaluate", project, {"split": "val"}, RecordingReporter())
    for key in ("auroc", "threshold", "detection_rate", "false_alarm_rate", "scores", "roc", "most_anomalous"):
        assert key in ev
    assert ev["auroc"] is not None and ev["auroc"] > 0.8
    assert any(it.get("heatmap") for it in ev["most_anomalous"])  # the page's gallery draws these

    new = min(ev["scores"]["defect"]) - 1e-3  # every validation defect caught
    record = run_job("anomaly_threshold", project, {"kind": "value", "value": new}, RecordingReporter())
    assert record["threshold"] == pytest.approx(new) and record["metrics"]["detection_rate"] == 1.0
    assert read_json(project.run_dir() / "calibration.json")["threshold"] == pytest.approx(new)
    again = run_job("evaluate", project, {"split": "val"}, RecordingReporter())
    assert again["threshold"] == pytest.approx(new) and again["detection_rate"] == 1.0
    with pytest.raises(ConfigError):
        run_job("anomaly_threshold", project, {"kind": "value"}, RecordingReporter())
    from studio.core.errors import ProjectError

    # Try it through its job: with no variant yet the fitted detector answers each photo OK / NOT OK against
    # the threshold just moved under every validation defect (all four holes are validation examples)
    tried = run_job("try_files", project, {"paths": [str(data / "hole")], "variant": None}, RecordingReporter())
    assert tried["anomaly"] and tried["model"]["kind"] == "keras" and len(tried["items"]) == 4
    assert all(i["threshold"] == pytest.approx(new, abs=1e-3) for i in tried["items"])
    assert tried["n_not_ok"] == 4 and all(i["verdict"] == "NOT OK" for i in tried["items"])
    json.dumps(tried)
    with pytest.raises(ProjectError, match="no optimized variant"):  # the device's model is asked for: none yet
        run_job("try_files", project, {"paths": [str(data / "hole")]}, RecordingReporter())
