"""Light work off the GUI thread: thumbnails, signal previews, LiteRT inference — never TensorFlow.

TensorFlow work runs in the worker process (:mod:`studio.gui.worker_client`); what stays here is short and
light. One :class:`Job` per task: a ``QThread`` whose ``run`` calls ``fn(reporter)`` and ends with exactly one
of ``succeeded(result)`` / ``failed(exception)``, then ``done()``. The signals are emitted from the worker
thread; Qt queues them to receivers living in the GUI thread, **provided the receiver is a QObject's slot** (a
bare lambda would run in the worker thread). :func:`start_job` connects every slot (and a TaskBar) *before*
the thread starts, so no signal can be missed. The reporter is the core's
:class:`~studio.core.reporter.EventReporter` (throttled, grouped), its events turned into the same signals a
worker-process job has. Keep ``fn`` free of Qt objects; return plain data (numpy arrays are fine here).
"""

from __future__ import annotations

import time
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from studio.core.reporter import EventReporter


class QtReporter(EventReporter):
    """The core's EventReporter whose events become the :class:`Job`'s signals (called in the worker thread)."""

    def __init__(self, job: "Job") -> None:
        super().__init__(job.emit_event)


class Job(QThread):
    """One long core call in a worker thread.

    ``fn`` receives the reporter and returns the result. Keep Keras/TensorFlow objects inside ``fn``: only
    plain results (dicts, dataclasses, numpy arrays) should cross back to the GUI thread.
    """

    progress = Signal(float, str)
    status = Signal(str)
    metrics = Signal(str, dict)
    batch_metrics = Signal(list)
    succeeded = Signal(object)
    failed = Signal(object)  # the exception; .traceback_text holds the formatted traceback
    done = Signal()

    def __init__(self, fn: Callable[[QtReporter], Any], name: str = "job", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self._fn = fn
        self.reporter = QtReporter(self)
        self.result: Any = None
        self.error: BaseException | None = None
        self.started_at: float | None = None

    def emit_event(self, event: dict[str, Any]) -> None:
        """A reporter event → the matching signal (worker thread; queued to the GUI thread's slots)."""
        kind = event["type"]
        if kind == "progress":
            self.progress.emit(float(event["fraction"]), str(event.get("message") or ""))
        elif kind == "status":
            self.status.emit(str(event["message"]))
        elif kind == "metrics":
            self.metrics.emit(str(event["kind"]), dict(event["values"]))
        elif kind == "batches":
            self.batch_metrics.emit(list(event["values"]))

    def run(self) -> None:  # worker thread
        self.started_at = time.monotonic()
        try:
            self.result = self._fn(self.reporter)
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the GUI as a dialog
            exc.traceback_text = traceback.format_exc()  # type: ignore[attr-defined]
            self.error = exc
            self.reporter.flush()
            self.failed.emit(exc)
        else:
            self.reporter.flush()
            self.succeeded.emit(self.result)
        finally:
            self.done.emit()

    def cancel(self) -> None:
        """Ask the core to stop at its next safe point (within one training batch)."""
        self.reporter.cancel()
        self.requestInterruption()

    @property
    def cancelled(self) -> bool:
        return self.reporter.cancel_requested()


class JobRegistry(QObject):
    """Keeps every running :class:`Job` alive until its thread has really finished.

    Dropping the last reference to a running QThread aborts the process ("Destroyed while thread is still
    running"), so pages hand their jobs to this registry instead of juggling lifetimes. The main window asks
    it whether anything is running when the user closes the window.
    """

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: list[Job] = []

    def start(self, job: Job) -> Job:
        self._jobs.append(job)
        job.finished.connect(self._on_finished)
        job.start()
        self.changed.emit()
        return job

    @Slot()
    def _on_finished(self) -> None:
        job = self.sender()
        if job in self._jobs:
            # Only drop our reference: pages still hold theirs (and ask job.cancelled afterwards), so the
            # C++ object must live as long as Python refers to it (no deleteLater here).
            self._jobs.remove(job)  # type: ignore[arg-type]
        self.changed.emit()

    def running(self) -> list[Job]:
        return [job for job in self._jobs if job.isRunning()]

    def cancel_all(self, wait_ms: int = 120_000) -> bool:
        """Cancel every job and wait for the threads (training stops within a batch). True if all stopped."""
        ok = True
        for job in list(self._jobs):
            job.cancel()
        for job in list(self._jobs):
            ok = job.wait(wait_ms) and ok
        return ok


_registry: JobRegistry | None = None


def registry() -> JobRegistry:
    """The application's job registry (created on first use, in the GUI thread)."""
    global _registry
    if _registry is None:
        _registry = JobRegistry()
    return _registry


def start_job(
    fn: Callable[[QtReporter], Any],
    name: str = "job",
    *,
    succeeded: Callable[[Any], None] | None = None,
    failed: Callable[[BaseException], None] | None = None,
    progress: Callable[[float, str], None] | None = None,
    status: Callable[[str], None] | None = None,
    metrics: Callable[[str, dict], None] | None = None,
    batch_metrics: Callable[[list], None] | None = None,
    done: Callable[[], None] | None = None,
    task: Any = None,
) -> Job:
    """Create a :class:`Job`, connect the given slots (and ``task``, a TaskBar) *before* it starts (no signal
    can be missed), start it.

    Pass bound ``@Slot`` methods of QObjects living in the GUI thread, never lambdas.
    """
    job = Job(fn, name)
    if task is not None:
        task.follow(job)
    for signal, slot in (
        (job.succeeded, succeeded),
        (job.failed, failed),
        (job.progress, progress),
        (job.status, status),
        (job.metrics, metrics),
        (job.batch_metrics, batch_metrics),
        (job.done, done),
    ):
        if slot is not None:
            signal.connect(slot)
    return registry().start(job)
