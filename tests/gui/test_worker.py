"""The window and its worker process: a killed worker, the busy policy, settings merged during a run, a cancel
that runs out of time. These train (in the worker), hence ``slow``."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from conftest import wait_job  # type: ignore[import-not-found]

from studio.core.fsutil import read_json
from studio.core.lock import project_lock
from studio.core.project import Project

pytestmark = pytest.mark.slow


def _long_training(window, qtbot, tmp_path: Path):  # noqa: ANN001, ANN202
    """A sensor project training a 1-D CNN for 300 epochs; returns the Train page once an epoch finished."""
    from studio.core.data import import_data
    from studio.core.data.synth import make_sensor_folder

    source = make_sensor_folder(tmp_path / "s", ("idle", "shake"), recordings=6, length=512)
    project = Project.create(tmp_path / "p", "sensor")
    import_data(project, source, window=64, stride=16)  # set-up, not under test: done here directly
    window.state.set_project(Project.open(project.path))
    window.state.save_settings("train", {"arch": "cnn1d"})
    window.show_step("train")
    train = window.page("train")
    qtbot.waitUntil(lambda: train.ready, timeout=30_000)
    train.epochs_spin.setValue(300)
    train.batch_combo.setCurrentIndex(train.batch_combo.findData(8))
    train.patience_spin.setValue(0)
    train.start_button.click()
    qtbot.waitUntil(lambda: train.curves.completed_epochs >= 1, timeout=180_000)
    return train


def test_kill_9_mid_training_keeps_the_window_the_project_and_the_best_weights(window, qtbot, dialog_log,
                                                                                tmp_path: Path) -> None:
    worker = window.state.worker
    train = _long_training(window, qtbot, tmp_path)
    old_pid = worker.pid
    os.kill(old_pid, signal.SIGKILL)
    wait_job(qtbot, train, timeout=60_000)
    # a plain dialog, on the page that was waiting; the window is still there
    errors = dialog_log.errors()
    assert len(errors) == 1, dialog_log.shown
    assert "stopped unexpectedly" in errors[0]["info"] and "restarted" in errors[0]["info"]
    assert window.isVisible() and train.task.label.text() == "Training failed."
    # the project is consistent: it opens, the run is listed as stopped with its best weights, the lock is free
    project = Project.open(window.state.project.path)
    runs = project.list_runs()
    assert len(runs) == 1
    metrics = read_json(project.runs_dir / runs[0] / "metrics.json")
    assert metrics["stopped"] is True and metrics["stop_reason"] == "interrupted" and metrics["epochs"]
    assert (project.runs_dir / runs[0] / "weights.h5").stat().st_size > 0
    assert project.data["active_run"] == runs[0]
    with project_lock(project.path, "checking"):
        pass
    assert window.state.is_reachable("evaluate")  # the kept run can be evaluated
    # a new worker is up and answers
    qtbot.waitUntil(lambda: worker.pid not in (None, old_pid), timeout=30_000)
    assert worker.wait_ready(120_000)
    # killed while nothing runs: the window says so in a plain dialog, and restarts it again
    second_pid = worker.pid
    os.kill(second_pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: len(dialog_log.errors()) == 2, timeout=30_000)
    assert "Background process stopped" in dialog_log.errors()[1]["title"]
    assert "nothing was running" in dialog_log.errors()[1]["info"]
    qtbot.waitUntil(lambda: worker.pid not in (None, second_pid), timeout=30_000)
    assert worker.wait_ready(120_000)  # warm again for the next test


def test_sigterm_stops_the_work_and_closes_the_window(window, qtbot, dialog_log, tmp_path: Path) -> None:
    """SIGTERM (log-out, ``kill``) while training: no question, the training stops within a batch and keeps
    its best weights, then the window closes. Before, the command line's handlers caught it during the GUI,
    flagged a cancel nobody read, and the window stayed open (``kill`` did nothing)."""
    from studio.gui.app import close_on_signals

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        tick = close_on_signals(window)
        train = _long_training(window, qtbot, tmp_path)
        os.kill(os.getpid(), signal.SIGTERM)
        wait_job(qtbot, train, timeout=60_000)
        qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    tick.stop()
    assert not any(d["name"] == "questionDialog" for d in dialog_log.shown)  # the system asked: no question
    assert train.last_result is not None and train.last_result["stopped"] is True
    assert len(train.last_result["epochs"]) < 300
    assert (window.state.project.run_dir() / "weights.h5").exists()
    assert dialog_log.errors() == []


def test_busy_policy_settings_merge_and_a_cancel_that_runs_out_of_time(window, qtbot, dialog_log, monkeypatch,
                                                                       tmp_path: Path) -> None:
    from studio.gui import worker_client

    train = _long_training(window, qtbot, tmp_path)
    # one app-wide policy: conflicting actions elsewhere are disabled, with the reason shown
    data = window.page("data")
    assert not data.import_button.isEnabled() or not data.import_button.parentWidget().isEnabled()
    assert not data.import_button.isEnabledTo(window)
    note = data.findChild(type(data.summary), "busyNote")
    assert note is not None and note.text() == "Training is running: wait or stop it."
    start = window.page("")
    assert not start.create_button.isEnabledTo(window)
    # the Model page does not queue its size estimates behind the training: it says when they come
    window.show_step("model")
    model = window.page("model")
    qtbot.waitUntil(lambda: bool(model.cards) and "when training has finished" in model.cards[0].fits.text(),
                    timeout=30_000)
    window.show_step("train")
    assert not train.start_button.isEnabledTo(window) and train.stop_button.isEnabled()
    # a choice made elsewhere during the run is merged, never reverted by the run's final save
    window.state.save_settings("target", "cortex-m4")
    window.state.save_settings("optimize", {"prune": 0.4})
    qtbot.waitUntil(lambda: window.state.pending_updates() == 0, timeout=10_000)
    # Stop, with no grace at all: the worker is asked, then killed; that is a cancel, not an error
    monkeypatch.setattr(worker_client, "CANCEL_GRACE_MS", 1)
    old_pid = window.state.worker.pid
    t0 = time.monotonic()
    train.stop_button.click()
    wait_job(qtbot, train, timeout=60_000)
    assert time.monotonic() - t0 < 30
    assert dialog_log.errors() == []
    assert train.job.cancelled and train.task.label.text() == "Training stopped."
    project = Project.open(window.state.project.path)
    assert project.settings["target"] == "cortex-m4" and project.settings["optimize"] == {"prune": 0.4}
    runs = project.list_runs()
    assert len(runs) == 1  # the best weights so far were kept
    assert window.state.worker.pid != old_pid
    qtbot.waitUntil(lambda: data.import_button.isEnabledTo(window), timeout=10_000)
    assert not note.isVisible()
    assert window.state.worker.wait_ready(120_000)
