"""Run history and the run contract (studio.core.run_history): a stopped or worse run never silently replaces
the project's model; ``studio runs`` / ``studio use``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from studio.core.data import import_data
from studio.core.data.synth import make_image_folder
from studio.core.errors import ProjectError
from studio.core.fsutil import atomic_write_json
from studio.core.project import Project
from studio.core.reporter import NullReporter
from studio.core.run_history import describe_run, offer_run, plural, run_history, use_run


def _project(tmp_path: Path, classes: tuple[str, ...] = ("a", "b")) -> Project:
    data = make_image_folder(tmp_path / "img", {c: 6 for c in classes}, size=(16, 16))
    project = Project.create(tmp_path / "p", "image")
    import_data(project, data, val_split=0.34, seed=1)
    return project


def _run(project: Project, run_id: str, best: float, state: str = "finished", classes: Any = ("a", "b"),
         epochs: int = 20) -> str:
    """A run folder as training writes it (the weights are a placeholder: nothing here loads them)."""
    folder = project.runs_dir / run_id
    folder.mkdir(parents=True)
    (folder / "weights.h5").write_bytes(b"weights")
    atomic_write_json(folder / "model.json", {"format": 1, "arch": "compact_cnn", "classes": list(classes)})
    rows = [{"epoch": i + 1, "val_accuracy": best} for i in range(3)]
    atomic_write_json(folder / "metrics.json", {"state": state, "epochs": rows, "best_epoch": 3,
                                                "best_val_accuracy": best, "stopped": state != "finished",
                                                "stop_reason": "cancelled" if state == "stopped" else None,
                                                "started": "2026-03-01T10:00:00+0100"})
    atomic_write_json(folder / "config.json", {"config": {"arch": "compact_cnn", "epochs": epochs,
                                                          "batch_size": 8, "learning_rate": 0.001,
                                                          "input_size": 32}})
    return run_id


def test_a_stopped_run_never_replaces_a_usable_model(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _run(project, "run-20260301-100000", 0.48)
    assert offer_run(project, "run-20260301-100000", "finished")["active"]
    _run(project, "run-20260301-110000", 0.30, state="stopped")
    o = offer_run(project, "run-20260301-110000", "stopped")
    assert not o["active"] and o["reason"] == "stopped" and o["active_run"] == "run-20260301-100000"
    assert "still run-20260301-100000 (48.0 %)" in o["note"]
    assert Project.open(project.path).data["active_run"] == "run-20260301-100000"
    for state in ("interrupted", "failed", "running"):  # a dead process's run, an error, a first best epoch
        assert not offer_run(project, "run-20260301-110000", state)["active"]


def test_a_stopped_run_is_the_model_when_there_is_no_usable_one(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _run(project, "run-20260301-090000", 0.9, classes=("x", "y"))  # trained on other classes: not usable
    project.update(active_run="run-20260301-090000")
    _run(project, "run-20260301-100000", 0.30, state="stopped")
    o = offer_run(project, "run-20260301-100000", "stopped")
    assert o["active"] and o["reason"] == "no usable model"
    assert Project.open(project.path).data["active_run"] == "run-20260301-100000"


def test_worse_finished_run_replaces_on_the_cli_but_says_so_and_not_in_the_gui(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _run(project, "run-20260301-100000", 0.48)
    offer_run(project, "run-20260301-100000", "finished")
    _run(project, "run-20260301-110000", 0.30)
    o = offer_run(project, "run-20260301-110000", "finished", policy="better")  # the GUI's policy: it asks
    assert not o["active"] and o["reason"] == "worse" and o["previous_score"] == pytest.approx(0.48)
    assert Project.open(project.path).data["active_run"] == "run-20260301-100000"
    o = offer_run(project, "run-20260301-110000", "finished")  # the contract's default
    assert o["active"] and o["replaced_better"] and "replacing run-20260301-100000, which was better" in o["note"]
    _run(project, "run-20260301-120000", 0.60)
    o = offer_run(project, "run-20260301-120000", "finished", policy="better")
    assert o["active"] and not o["replaced_better"]


def test_history_lists_runs_newest_first_with_settings(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _run(project, "run-20260301-100000", 0.48, epochs=1)
    _run(project, "run-20260301-110000", 0.30, state="stopped")
    _run(project, "run-20260301-120000", 0.9, classes=("a", "b", "c"))
    project.update(active_run="run-20260301-100000")
    h = run_history(project)
    assert [r["id"] for r in h["runs"]] == ["run-20260301-120000", "run-20260301-110000", "run-20260301-100000"]
    assert h["active_run"] == "run-20260301-100000" and h["model_usable"]
    newest, stopped, first = h["runs"]
    assert not newest["usable"] and "other classes (a, b, c)" in newest["problem"]
    assert stopped["state"] == "stopped" and stopped["stop_reason"] == "cancelled"
    assert first["active"] and first["best_val_accuracy"] == pytest.approx(0.48)
    assert first["settings_text"].startswith("1 epoch (ran 3), batch 8, learning rate 0.001, 32 px")
    assert first["title"] == "Compact CNN" and first["started"].startswith("2026-03-01T10:00")
    assert describe_run(project, "run-20260301-110000")["epochs_run"] == 3
    assert plural(1, "epoch") == "1 epoch" and plural(2, "epoch") == "2 epochs"


def test_use_run_sets_the_model_and_refuses_unusable_runs(tmp_path: Path) -> None:
    project = _project(tmp_path)
    _run(project, "run-20260301-100000", 0.48)
    _run(project, "run-20260301-110000", 0.30, classes=("a", "z"))
    out = use_run(project, "run-20260301-100000")
    assert out["active_run"] == "run-20260301-100000" and out["run"]["active"]
    assert Project.open(project.path).data["active_run"] == "run-20260301-100000"
    with pytest.raises(ProjectError, match="other classes"):
        use_run(project, "run-20260301-110000")
    with pytest.raises(ProjectError, match="no run named 'run-x'"):
        use_run(project, "run-x")


def test_cli_runs_and_use(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from studio.cli import main

    project = _project(tmp_path)
    _run(project, "run-20260301-100000", 0.48)
    _run(project, "run-20260301-110000", 0.30, state="stopped")
    assert main(["use", str(project.path), "run-20260301-110000", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["active_run"] == "run-20260301-110000"
    assert main(["runs", str(project.path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["active_run"] == "run-20260301-110000" and len(out["runs"]) == 2
    assert main(["runs", str(project.path)]) == 0
    text = capsys.readouterr().out
    assert "* run-20260301-110000" in text and "stopped" in text and "48.0 %" in text
    assert main(["use", str(project.path), "nope"]) == 2
    assert "no run named 'nope'" in capsys.readouterr().err


@pytest.mark.slow
def test_training_stopped_or_worse_keeps_the_model(tmp_path: Path) -> None:
    """Real training: a finished run is the model; a stopped one, and (GUI policy) a worse one, are not."""
    from studio.core.train import default_config, train

    class StopAfterFirstEpoch(NullReporter):
        def __init__(self) -> None:
            super().__init__()
            self.epochs = 0

        def metrics(self, kind: str, values: dict) -> None:
            self.epochs += kind == "epoch"

        def cancel_requested(self) -> bool:
            return self.epochs >= 1

    project = _project(tmp_path)
    config = default_config(project, epochs=1, input_size=16, batch_size=4, augment=False)
    first = train(project, config).to_json()
    assert first["active"] and first["activation"]["reason"] in ("already", "no usable model")  # first best epoch
    # pretend the first run was excellent, so any new one is worse on validation
    metrics = project.runs_dir / first["run"] / "metrics.json"
    atomic_write_json(metrics, dict(json.loads(metrics.read_text()), best_val_accuracy=1.01))
    stopped = train(project, config.replace(epochs=3), StopAfterFirstEpoch()).to_json()
    assert stopped["stopped"] and not stopped["active"] and stopped["activation"]["reason"] == "stopped"
    worse = train(project, config, activate="better").to_json()
    assert not worse["active"] and worse["activation"]["reason"] == "worse"
    assert Project.open(project.path).data["active_run"] == first["run"]
    assert len(project.list_runs()) == 3
