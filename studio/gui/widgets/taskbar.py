"""A progress bar, a status line, an ETA and a Cancel button for one long step at a time."""

from __future__ import annotations

import time

from typing import Any

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QWidget


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class ElidedLabel(QLabel):
    """One line of plain text that never widens its page: what does not fit ends in "…", and the tooltip holds
    all of it (a long status such as a candidate's description pushed the whole Train page off the window)."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        super().setText(text)
        self.setToolTip(text if self.fontMetrics().horizontalAdvance(text) > self.contentsRect().width() else "")

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(0, super().minimumSizeHint().height())

    def paintEvent(self, event: Any) -> None:  # noqa: N802
        rect = self.contentsRect()
        text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, rect.width())
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(rect, int(self.alignment() | Qt.AlignmentFlag.AlignVCenter), text)


class TaskBar(QWidget):
    """Follows one job (a worker :class:`~studio.gui.worker_client.RemoteJob` or a light
    :class:`~studio.gui.workers.Job`): progress with an estimated time left, status text, and a Cancel button.

    ``AppState.run(..., task=bar)`` and ``start_job(..., task=bar)`` make it follow the job before the job
    starts; :meth:`follow` refuses a job that has started already (a signal could have been missed)."""

    cancel_clicked = Signal()

    def __init__(self, cancel_text: str = "Cancel", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("taskBar")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(10)
        self.label = ElidedLabel("")
        self.label.setObjectName("taskStatus")
        self.eta = QLabel("")
        self.eta.setObjectName("taskEta")
        self.cancel_button = QPushButton(cancel_text)
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.clicked.connect(self._on_cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        layout.addWidget(self.bar, 3)
        layout.addWidget(self.label, 4)
        layout.addWidget(self.eta)
        layout.addWidget(self.cancel_button)
        self._job: Any = None
        self._start = 0.0
        self._eta_start_fraction = 0.0
        self.set_idle("")

    # ------------------------------------------------------------------------------------------ API
    def follow(self, job: Any) -> None:
        if job.isRunning() or job.isFinished():
            raise RuntimeError("connect the task bar before the job starts (AppState.run / start_job task=)")
        self._job = job
        self._start = time.monotonic()
        self._eta_start_fraction = 0.0
        self.bar.setValue(0)
        self.bar.setVisible(True)
        self.cancel_button.setVisible(True)
        self.cancel_button.setEnabled(True)
        self.eta.setText("")
        job.progress.connect(self.on_progress)
        job.status.connect(self.on_status)
        job.done.connect(self.on_done)

    def set_idle(self, text: str) -> None:
        self.bar.setVisible(False)
        self.cancel_button.setVisible(False)
        self.eta.setText("")
        self.label.setText(text)

    @property
    def busy(self) -> bool:
        return self._job is not None

    # ------------------------------------------------------------------------------------------ slots
    @Slot(float, str)
    def on_progress(self, fraction: float, message: str) -> None:
        self.bar.setValue(int(fraction * 1000))
        if message:
            self.label.setText(message)
        elapsed = time.monotonic() - self._start
        done = fraction - self._eta_start_fraction
        if 0.02 < fraction < 1.0 and done > 0 and elapsed > 1.0:
            self.eta.setText(f"about {format_duration(elapsed * (1.0 - fraction) / done)} left")

    @Slot(str)
    def on_status(self, message: str) -> None:
        self.label.setText(message)

    @Slot()
    def on_done(self) -> None:
        job = self._job
        self._job = None
        self.bar.setVisible(False)
        self.cancel_button.setVisible(False)
        self.eta.setText("")
        if job is not None and job.cancelled and self.label.text() == "Stopping…":
            self.label.setText("Cancelled.")

    @Slot()
    def _on_cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self.cancel_button.setEnabled(False)
            self.label.setText("Stopping…")
        self.cancel_clicked.emit()
