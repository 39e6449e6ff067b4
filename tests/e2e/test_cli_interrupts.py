"""Ctrl-C and kill -9 during `studio train` keep the work (issue 11, "Ctrl-C during studio train deletes the
run"): a real training process is interrupted after a few epochs and the run is then evaluated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.core.data import import_data
from studio.core.data.synth import make_sensor_folder
from studio.core.project import Project
from studio.core.runs import run_state

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


def _project(tmp_path: Path) -> Project:
    src = make_sensor_folder(tmp_path / "rec", ("idle", "shake"), recordings=4, length=96)
    project = Project.create(tmp_path / "p", "sensor")
    import_data(project, src, window=32, stride=16, val_split=0.25, seed=1)
    return project


def _train_until_epoch(project: Project, epoch: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO), STUDIO_QUIET="", TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(
        [sys.executable, "-m", "studio", "train", str(project.path), "--epochs", "2000", "--patience", "0",
         "--arch", "dense"],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )
    deadline = time.monotonic() + 120
    for line in proc.stderr:
        if line.startswith(f"epoch {epoch}/"):
            return proc
        assert time.monotonic() < deadline, "training did not start"
    proc.kill()
    raise AssertionError(f"train exited early ({proc.wait()})")


def _evaluate(capsys: pytest.CaptureFixture, *argv: str) -> dict:
    """`studio evaluate ... --json` in this process (TensorFlow is loaded once for the test session)."""
    from studio.cli import main

    capsys.readouterr()
    code = main(["evaluate", *argv, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def test_ctrl_c_keeps_the_best_weights_as_a_stopped_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from studio.cli import main

    project = _project(tmp_path)
    proc = _train_until_epoch(project, 3)
    # one writer: while training holds the project, another writing command is refused, naming the holder;
    # reading commands still work
    capsys.readouterr()
    assert main(["export", str(project.path), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "in use: training in studio train (process" in err and "Traceback" not in err
    assert main(["info", str(project.path)]) == 0
    proc.send_signal(signal.SIGINT)
    try:
        _, rest = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, rest
    assert "Traceback" not in rest
    assert rest.strip().splitlines()[-1].startswith("stopped: kept the best weights"), rest
    project = Project.open(project.path)
    [run_id] = project.list_runs()
    assert project.data["active_run"] == run_id  # the project had no other run to use
    metrics = json.loads((project.runs_dir / run_id / "metrics.json").read_text())
    assert metrics["state"] == "stopped" and metrics["stopped"] and len(metrics["epochs"]) >= 3
    assert run_state(project.runs_dir / run_id) == "stopped"
    assert _evaluate(capsys, str(project.path))["run"] == run_id


def test_kill_9_mid_training_leaves_a_run_evaluate_can_use(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    project = _project(tmp_path)
    proc = _train_until_epoch(project, 3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    [run_id] = Project.open(project.path).list_runs()
    folder = project.runs_dir / run_id
    assert json.loads((folder / "metrics.json").read_text())["state"] == "running"
    assert run_state(folder) == "interrupted"
    assert _evaluate(capsys, str(project.path), "--run", run_id)["n"] > 0
    assert _evaluate(capsys, str(project.path))["run"] == run_id  # no usable active run: the latest is used
