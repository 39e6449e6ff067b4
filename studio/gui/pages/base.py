"""What every wizard page shares: a title, the app state, a place for its one running job.

A page builds requests and renders results: its work runs in the worker (``self.state.run("train", {...},
succeeded=..., task=self.task, owner=self)``), its start buttons sit in a container the app-wide busy policy
disables while any job runs (:meth:`Page.guarded_row`, :meth:`Page.add_action_row`).
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from studio.gui.state import AppState


class Page(QWidget):
    """Base class of the pages. Subclasses fill ``self.body`` and override :meth:`reload`."""

    step = ""
    title = ""
    subtitle = ""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"{self.step or 'start'}Page")
        self.state = state
        self.job: Any = None  # the page's current RemoteJob (worker) or Job (light thread)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        inner = QWidget()
        inner.setObjectName("pageBody")
        self.body = QVBoxLayout(inner)
        self.body.setContentsMargins(24, 8, 24, 16)
        self.body.setSpacing(14)
        self.body.setAlignment(Qt.AlignmentFlag.AlignTop)
        scroll.setWidget(inner)
        outer.addWidget(scroll)
        state.project_changed.connect(self._project_switched)

    # Overridden by pages ---------------------------------------------------------------------------
    def reload(self) -> None:
        """Show the current project's state. Called each time the page is shown, so hidden pages cost nothing."""

    def entered(self) -> None:
        """Called each time the page becomes visible."""
        self.reload()

    def forget(self) -> None:
        """Another project was opened: drop whatever was shown for the previous one (results, messages,
        bundles). The default clears the page's task line; pages with results override it (and call this)."""
        task = getattr(self, "task", None)
        if task is not None and not task.busy:
            task.set_idle("")

    @Slot()
    def _project_switched(self) -> None:
        if self.is_busy():
            return  # its job still reports to it (switching is disabled while a job runs)
        self.forget()
        if self.isVisible():
            self.reload()  # the window may already have shown this page for the new project

    def shutdown(self) -> None:
        """The window is closing: stop anything the page runs outside the job registry (e.g. a QProcess)."""

    def is_busy(self) -> bool:
        return self.job is not None and self.job.isRunning()

    # Helpers ---------------------------------------------------------------------------------------
    def add_action_row(self, text: str, slot: Callable[[], Any], cancel_text: str = "Cancel") -> tuple[QPushButton, Any]:
        """The page's primary button (guarded by the busy policy) with its progress / cancel bar beside it;
        returns (button, TaskBar)."""
        from studio.gui.widgets.taskbar import TaskBar

        row = QHBoxLayout()
        box, actions = self.guarded_row(add=False)
        button = QPushButton(text)
        button.setObjectName("primaryButton")
        button.clicked.connect(slot)
        actions.addWidget(button)
        row.addWidget(box)
        task = TaskBar(cancel_text=cancel_text)
        row.addWidget(task, 1)
        self.body.addLayout(row)
        self.body.addWidget(self._busy_notes[-1])
        return button, task

    def guarded_row(self, add: bool = True) -> tuple[QWidget, QHBoxLayout]:
        """A row container for start buttons: disabled while any job runs, with the reason in a note below
        (hidden while the job is this page's own). Returns (container, its layout); ``add`` puts both in
        the body."""
        box = QWidget()
        box.setObjectName("actionBox")
        layout = QHBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        note = QLabel()
        note.setObjectName("busyNote")
        note.setVisible(False)
        if not hasattr(self, "_busy_notes"):
            self._busy_notes: list[QLabel] = []
        self._busy_notes.append(note)
        if add:
            self.body.addWidget(box)
            self.body.addWidget(note)
        self.state.busy.guard(box, note, owner=self)
        return box, layout

    @staticmethod
    def section(text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("sectionTitle")
        return label

    @staticmethod
    def note(text: str = "") -> QLabel:
        label = QLabel(text)
        label.setObjectName("note")
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label
