"""GUI test fixtures: offscreen Qt, a temporary STUDIO_HOME (hence temporary QSettings), captured dialogs, and
one worker process for the whole session (TensorFlow loads once, in the worker; never in this process).

Dialogs never block here: :func:`studio.gui.widgets.dialogs.exec_box` is replaced by a recorder that answers
each question with the answer the test queued (default: the first button, i.e. "yes").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


class DialogLog:
    """Every message box the app tried to show: (objectName, title, text, informative text, details)."""

    def __init__(self) -> None:
        self.shown: list[dict[str, Any]] = []
        self.answers: list[bool] = []

    def exec_box(self, box: Any) -> int:
        from PySide6.QtWidgets import QMessageBox

        self.shown.append({
            "name": box.objectName(),
            "title": box.windowTitle(),
            "text": box.text(),
            "info": box.informativeText(),
            "details": box.detailedText(),
        })
        buttons = box.buttons()
        answer = self.answers.pop(0) if self.answers else True
        if buttons and box.objectName() == "questionDialog":
            # buttons()[0] is "yes" (added first), [1] is "no"
            chosen = buttons[0] if answer else buttons[-1]
            for b in buttons:
                if box.buttonRole(b) == (QMessageBox.ButtonRole.YesRole if answer else QMessageBox.ButtonRole.NoRole):
                    chosen = b
            chosen.click()
            return 0
        return int(QMessageBox.StandardButton.Ok)

    def errors(self) -> list[dict[str, Any]]:
        return [d for d in self.shown if d["name"] == "errorDialog"]


@pytest.fixture
def dialog_log(monkeypatch: pytest.MonkeyPatch) -> DialogLog:
    from studio.gui.widgets import dialogs

    log = DialogLog()
    monkeypatch.setattr(dialogs, "exec_box", log.exec_box)
    return log


@pytest.fixture(scope="session")
def gui_worker(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The session's worker process, started once (its own STUDIO_HOME) and stopped at the end."""
    from studio.gui.app import create_application
    from studio.gui.worker_client import client

    create_application()
    worker = client()
    old = os.environ.get("STUDIO_HOME")
    os.environ["STUDIO_HOME"] = str(tmp_path_factory.mktemp("worker-home"))
    try:
        worker.start()
    finally:
        if old is None:
            os.environ.pop("STUDIO_HOME", None)
        else:
            os.environ["STUDIO_HOME"] = old
    yield worker
    worker.shutdown()


def settle_worker(qtbot: Any, worker: Any, timeout: int = 120_000) -> None:
    """Stop whatever a test left running in the worker and wait until it is idle again."""
    for job in worker.running(exclusive_only=False):
        job.cancel()
    qtbot.waitUntil(lambda: not worker.running(exclusive_only=False), timeout=timeout)


@pytest.fixture
def window(qtbot: Any, dialog_log: DialogLog, gui_worker: Any) -> Any:
    """A main window with a fresh AppState on the session's worker; every job is stopped after the test."""
    from studio.gui.main_window import MainWindow
    from studio.gui.state import AppState
    from studio.gui.workers import registry

    state = AppState()
    win = MainWindow(state)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.hide()
    settle_worker(qtbot, gui_worker)
    registry().cancel_all(wait_ms=120_000)


@pytest.fixture
def tiny_images(tmp_path: Path) -> Path:
    from studio.core.data.synth import make_image_folder

    return make_image_folder(tmp_path / "images", {"dark": 10, "light": 10}, size=(20, 16))


@pytest.fixture
def tiny_sensors(tmp_path: Path) -> Path:
    from studio.core.data.synth import make_sensor_folder

    return make_sensor_folder(tmp_path / "sensors", ("idle", "shake"), recordings=5, length=128)


def wait_job(qtbot: Any, page: Any, timeout: int = 180_000) -> None:
    """Wait until the page's current job has delivered its result (done is emitted last)."""
    job = page.job
    assert job is not None, "no job was started"
    if job.isFinished():
        return
    with qtbot.waitSignal(job.done, timeout=timeout):
        pass
