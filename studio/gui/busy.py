"""One app-wide busy policy: while a job runs in the worker, every action that would start another is disabled,
and says why ("Training is running: wait or stop it.").

The worker runs one job at a time and that job is the project's one writer, so a second import, training,
variant or export — on any page, or switching to another project — would only wait behind it or fight over
the project. Pages do not check this themselves: they :meth:`BusyPolicy.guard` the widget holding their
start buttons (and an optional note label) once. A guarded container is disabled as a whole, so the buttons'
own enabled state (set by the page for its own reasons) comes back unchanged when the job ends. Quick
background jobs (size estimates) are not exclusive and block nothing.
"""

from __future__ import annotations

from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QLabel, QWidget


class BusyPolicy(QObject):
    changed = Signal()

    def __init__(self, worker: Any, parent: QObject | None = None) -> None:  # worker: WorkerClient
        super().__init__(parent)
        self.worker = worker
        self._guards: list[tuple[QWidget, QLabel | None, QObject | None]] = []
        worker.jobs_changed.connect(self.refresh)

    def running_job(self) -> Any:
        """The exclusive job running now (oldest first), or None."""
        jobs = self.worker.running(exclusive_only=True)
        return jobs[0] if jobs else None

    @property
    def busy(self) -> bool:
        return self.running_job() is not None

    def reason(self) -> str:
        """Why actions are disabled now, in the user's words; "" when nothing runs."""
        job = self.running_job()
        if job is None:
            return ""
        return f"{job.title} is running: wait or stop it."

    def guard(self, container: QWidget, note: QLabel | None = None, owner: QObject | None = None) -> None:
        """Disable ``container`` while any exclusive job runs, with the reason as its tooltip and in ``note``.

        ``owner`` (the page): the note stays hidden while the running job is the owner's own (its task bar
        already shows it)."""
        self._guards.append((container, note, owner))
        self._apply(container, note, owner)

    @Slot()
    def refresh(self) -> None:
        if not shiboken6.isValid(self):  # an AppState that is gone (tests make several)
            return
        self._guards = [g for g in self._guards if shiboken6.isValid(g[0]) and (g[1] is None or shiboken6.isValid(g[1]))]
        for container, note, owner in self._guards:
            self._apply(container, note, owner)
        self.changed.emit()

    def _apply(self, container: QWidget, note: QLabel | None, owner: QObject | None) -> None:
        job = self.running_job()
        reason = self.reason()
        container.setEnabled(job is None)
        container.setToolTip(reason)
        if note is not None:
            note.setText(reason)
            note.setVisible(job is not None and (owner is None or job.owner is not owner))
