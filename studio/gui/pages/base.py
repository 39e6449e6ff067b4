"""What every wizard page shares: a title, the app state, a place for its one running job."""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from studio.gui.state import AppState
from studio.gui.workers import Job


class Page(QWidget):
    """Base class of the pages. Subclasses fill ``self.body`` and override :meth:`reload`."""

    step = ""
    title = ""
    subtitle = ""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"{self.step or 'start'}Page")
        self.state = state
        self.job: Job | None = None
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

    # Overridden by pages ---------------------------------------------------------------------------
    def reload(self) -> None:
        """Show the current project's state. Called each time the page is shown, so hidden pages cost nothing."""

    def entered(self) -> None:
        """Called each time the page becomes visible."""
        self.reload()

    def shutdown(self) -> None:
        """The window is closing: stop anything the page runs outside the job registry (e.g. a QProcess)."""

    def is_busy(self) -> bool:
        return self.job is not None and self.job.isRunning()

    # Helpers ---------------------------------------------------------------------------------------
    def add_action_row(self, text: str, slot: Callable[[], Any]) -> tuple[QPushButton, Any]:
        """The page's primary button with its progress / cancel bar beside it; returns (button, TaskBar)."""
        from studio.gui.widgets.taskbar import TaskBar

        row = QHBoxLayout()
        button = QPushButton(text)
        button.setObjectName("primaryButton")
        button.clicked.connect(slot)
        row.addWidget(button)
        task = TaskBar()
        row.addWidget(task, 1)
        self.body.addLayout(row)
        return button, task

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
