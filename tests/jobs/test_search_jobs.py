"""The Optimize page's search jobs as plain functions (no Qt, no process, no TensorFlow): requests are checked
before anything runs, and the last search is read back, also one the worker could not finish."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.core.errors import ConfigError, ProjectError
from studio.core.project import Project
from studio.core.reporter import RecordingReporter
from studio.jobs import describe_jobs, run_job


def _point(i: int, kb: float, acc: float, fits: bool, kind: str = "searched") -> dict:
    return {"point": i, "kind": kind, "rung": 0, "fits": fits, "fit_reason": "fits" if fits else "flash",
            "settings": {"arch": "compact_cnn", "width": 0.5, "input_size": 16, "channels": 0.0, "quantize": "int8"}}


def test_search_jobs_are_registered_and_check_their_request(tmp_path: Path) -> None:
    table = describe_jobs()
    assert table["search"]["writes"] and table["keep_point"]["writes"] and table["last_search"]["lane"] == "query"
    project = Project.create(tmp_path / "p", "image")
    rep = RecordingReporter()
    with pytest.raises(ConfigError, match="unknown search setting"):
        run_job("search", project, {"target": "cortex-m4", "budget": 3}, rep)
    with pytest.raises(ConfigError, match="needs a device"):
        run_job("search", project, {"budget_min": 3}, rep)
    with pytest.raises(ConfigError):
        run_job("search", project, {"target": "nowhere"}, rep)
    from studio.jobs.search import search_config

    cfg = search_config({"target": "cortex-m4", "budget_min": 2, "archs": ["compact_cnn"], "max_bytes": None})
    assert cfg.archs == ("compact_cnn",) and cfg.max_bytes is None and cfg.budget_min == 2
    with pytest.raises(ProjectError, match="no point 3"):
        run_job("keep_point", project, {"id": 3}, rep)


def test_last_search_reads_the_record_or_the_points_of_an_interrupted_search(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p", "image")
    rep = RecordingReporter()
    assert run_job("last_search", project, {}, rep) == {}
    points = project.path / "search" / "points"
    for i, (kb, acc, fits) in enumerate(((100, 0.9, True), (40, 0.88, True), (60, 0.8, False))):
        (points / str(i)).mkdir(parents=True)
        (points / str(i) / "variant.json").write_text(json.dumps({
            "format": 1, "bytes": int(kb * 1024), "accuracy": acc, "arena": {"min_bytes": 9000}, "macs": 10,
            "search": _point(i, kb, acc, fits, "run" if i == 0 else "searched")}))
    out = run_job("last_search", project, {}, rep)
    assert out["complete"] is False and [p["id"] for p in out["points"]] == [0, 1, 2]
    assert [p["id"] for p in out["frontier"]] == [1, 0] and out["points"][1]["arena_bytes"] == 9000
    assert out["points"][2]["fits"] is False and out["points"][0]["kind"] == "run"
    record = {"format": 1, "points": out["points"], "frontier": out["frontier"], "baseline": out["points"][0]}
    (project.path / "search" / "search.json").write_text(json.dumps(record))
    back = run_job("last_search", project, {}, rep)
    assert back["complete"] is True and back["baseline"]["id"] == 0
