"""The wizard's jobs as plain functions, without Qt and without a process; and the worker process itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from studio.core.data import import_data
from studio.core.data.synth import make_sensor_folder
from studio.core.errors import ConfigError, ProjectError
from studio.core.project import Project
from studio.core.protocol import encode
from studio.core.reporter import RecordingReporter
from studio.jobs import JOBS, describe_jobs, run_job


def _sensor_project(tmp_path: Path) -> tuple[Project, Path]:
    source = make_sensor_folder(tmp_path / "sensors", ("idle", "shake"), recordings=5, length=128)
    return Project.create(tmp_path / "p", "sensor"), source


def test_every_job_is_registered_with_a_title(tmp_path: Path) -> None:
    table = describe_jobs()
    for name in ("update", "train_choices", "variants", "import", "open_sample", "estimate", "train", "evaluate",
                 "optimize", "export", "bundle_selftest"):
        assert name in table and table[name]["title"]
    assert table["train"]["writes"] and table["train"]["lane"] == "job"
    assert table["train_choices"]["lane"] == "query" and not table["train_choices"]["writes"]
    with pytest.raises(ConfigError, match="unknown job"):
        run_job("nope", None, {}, RecordingReporter())
    with pytest.raises(ProjectError, match="needs an open project"):
        run_job("train", None, {}, RecordingReporter())
    assert all(spec.fn.__module__.startswith("studio.jobs.") for spec in JOBS.values())


QUERIES = r"""
import json, sys
from studio.core.project import Project
from studio.core.reporter import NullReporter
from studio.jobs import run_job
p = Project.open(sys.argv[1])
out = {name: run_job(name, p, req, NullReporter()) for name, req in
       (("train_choices", {"overrides": {"epochs": 3}}), ("variants", {"target": "linux"}),
        ("update", {"changes": {"settings": {"optimize": {"prune": 0.5}}}}))}
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "tf_keras", "PySide6"))
print(json.dumps({"out": out, "bad": bad}))
"""


def test_queries_answer_without_tensorflow(tmp_path: Path) -> None:
    """The query lane runs beside a training: it must never load TensorFlow (nor Qt)."""
    project, source = _sensor_project(tmp_path)
    import_data(project, source, window=32, stride=32)
    proc = subprocess.run([sys.executable, "-c", QUERIES, str(project.path)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    assert data["bad"] == []
    choices = data["out"]["train_choices"]
    assert {a["id"] for a in choices["archs"]} >= {"cnn1d", "dense"}
    assert choices["defaults"]["arch"] in {a["id"] for a in choices["archs"]} and choices["config"]["epochs"] == 3
    assert data["out"]["variants"] == {"variants": []}
    assert Project.open(project.path).settings["optimize"] == {"prune": 0.5}


@pytest.mark.slow
def test_the_wizard_as_plain_functions(tmp_path: Path) -> None:
    """import → train → evaluate (→ estimate, variants) through run_job; every result is plain data. (Optimize and
    export run through the worker in the GUI walkthroughs.)"""
    project, source = _sensor_project(tmp_path)
    rep = RecordingReporter()

    def run(name: str, request: dict[str, Any]) -> dict[str, Any]:
        out = run_job(name, Project.open(project.path), request, rep)
        encode({"type": "result", "value": out})  # crosses the protocol as it is
        return out

    imported = run("import", {"source": str(source), "window": 32, "stride": 32, "val_split": 0.4})
    assert set(imported["classes"]) == {"idle", "shake"}
    trained = run("train", {"overrides": {"arch": "dense", "epochs": 1, "batch_size": 8}})
    assert trained["run"] in Project.open(project.path).list_runs()
    assert any(kind == "epoch" for kind, _ in rep.events)
    evaluated = run("evaluate", {"split": "val"})
    assert 0.0 <= evaluated["accuracy"] <= 1.0 and evaluated["_source"] == "val"
    assert run("variants", {"target": "linux"}) == {"variants": []}
    estimates = run("estimate", {"items": [["dense", [32, 3], 2, {}], ["cnn1d", [32, 3], 2, {"width": 99}]]})
    assert estimates["dense"]["params"] > 0 and "error" in estimates["cnn1d"]


class WorkerProcess:
    """``studio --worker`` driven through its pipes, as the window does."""

    def __init__(self, home: Path) -> None:
        env = dict(os.environ, STUDIO_HOME=str(home))
        self.proc = subprocess.Popen([sys.executable, "-m", "studio", "--worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        self.events: list[dict[str, Any]] = []

    def send(self, msg: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        self.proc.stdin.flush()

    def until(self, predicate: Any, timeout: float = 120) -> dict[str, Any]:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"the worker exited ({self.proc.poll()}); got {self.events[-5:]}")
            event = json.loads(line)  # every stdout line is a protocol message
            self.events.append(event)
            if predicate(event):
                return event
        raise AssertionError("timed out")


@pytest.mark.slow
def test_worker_process_speaks_the_protocol(tmp_path: Path) -> None:
    project, source = _sensor_project(tmp_path)
    worker = WorkerProcess(tmp_path / "home")
    try:
        hello = worker.until(lambda e: e["type"] == "hello")
        assert hello["protocol"] == 1 and "train" in hello["jobs"]
        # a query is answered while TensorFlow still loads
        worker.send({"type": "query", "id": 1, "job": "update", "project": str(project.path),
                     "request": {"changes": {"settings": {"target": "cortex-m4"}}}})
        answer = worker.until(lambda e: e.get("id") == 1)
        assert answer["type"] == "result" and not any(e["type"] == "ready" for e in worker.events)
        worker.send({"type": "run", "id": 2, "job": "import", "project": str(project.path),
                     "request": {"source": str(source), "window": 32, "stride": 32}})
        worker.send({"type": "run", "id": 3, "job": "import", "project": str(project.path),
                     "request": {"source": str(source)}})
        worker.send({"type": "cancel", "id": 3})  # still queued behind 2: dropped, never run
        worker.send({"type": "run", "id": 4, "job": "import", "project": str(project.path),
                     "request": {"source": str(tmp_path / "missing")}})
        worker.until(lambda e: e.get("id") == 4 and e["type"] in ("result", "error"))
        by_id = {e["id"]: e for e in worker.events if e["type"] in ("result", "error")}
        assert by_id[2]["type"] == "result" and by_id[2]["value"]["classes"]
        assert by_id[3]["type"] == "error" and by_id[3]["error"] == "Cancelled"
        assert by_id[4]["type"] == "error" and by_id[4]["studio"] and by_id[4]["error"] == "DatasetError"
        assert any(e["type"] == "ready" and e["tensorflow"] for e in worker.events)
        assert Project.open(project.path).settings["target"] == "cortex-m4"
        assert Project.open(project.path).load_manifest()["window"] == 32
        worker.send({"type": "quit"})
        assert worker.proc.wait(60) == 0
    finally:
        if worker.proc.poll() is None:
            worker.proc.kill()
            worker.proc.wait()


def test_worker_exits_when_the_window_goes_away(tmp_path: Path) -> None:
    worker = WorkerProcess(tmp_path / "home")
    try:
        worker.until(lambda e: e["type"] == "hello")
        assert worker.proc.stdin is not None
        worker.proc.stdin.close()  # the window died: end of input
        assert worker.proc.wait(60) == 0
    finally:
        if worker.proc.poll() is None:
            worker.proc.kill()
            worker.proc.wait()
