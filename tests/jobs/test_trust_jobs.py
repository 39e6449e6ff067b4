"""Issue 14's jobs as plain functions: registered, curate and add_capture write, the others only read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from studio.core.data import import_data
from studio.core.data.synth import make_image_folder
from studio.core.project import Project
from studio.core.reporter import RecordingReporter
from studio.jobs import describe_jobs, run_job


def test_trust_jobs_are_registered_and_curate_through_the_job_layer(tmp_path: Path) -> None:
    table = describe_jobs()
    for name in ("explain", "try_files", "suspects", "curate", "add_capture"):
        assert table[name]["title"]
    assert table["curate"]["writes"] and table["add_capture"]["writes"]
    assert not table["explain"]["writes"] and not table["suspects"]["writes"] and not table["try_files"]["writes"]
    root = make_image_folder(tmp_path / "img", {"a": 5, "b": 5}, size=(12, 10))
    project = Project.create(tmp_path / "p", "image")
    import_data(project, root, val_split=0.2, seed=1)
    name = project.load_manifest()["samples"][0]["path"]
    out = run_job("curate", project, {"names": [name], "action": "exclude"}, RecordingReporter())
    assert out["changed"][0]["excluded"] is True
    png = tmp_path / "frame.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(png)
    entry = run_job("add_capture", project, {"file": str(png), "label": "a"}, RecordingReporter())
    assert Path(entry["file"]).is_file() and entry["label"] == "a"
    m = project.load_manifest()
    assert any(s.get("excluded") for s in m["samples"]) and m["samples"][-1]["path"] == entry["path"]
