"""Run core functions off the GUI thread and turn the core's reporter calls into throttled Qt signals.

One :class:`Job` per long step (labelme's pattern): a ``QThread`` whose ``run`` calls ``fn(reporter)`` and
ends with exactly one of ``succeeded(result)`` / ``failed(exception)``, then ``done()``. The signals are emitted
from the worker thread; Qt queues them to receivers living in the GUI thread, **provided the receiver is a
QObject's slot** (a bare lambda would run in the worker thread). Cancelling sets an event that the core polls
through ``reporter.cancel_requested()``: the core stops at its next safe point and raises ``Cancelled``.

Throttling (Orange3's TaskState idea): progress is emitted only after a 1 % change or 100 ms; per-batch
metrics are buffered and sent as one list at most every 100 ms, so a fast training loop cannot flood the
event loop; epoch metrics are sent at once.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

BATCH_FLUSH_SECONDS = 0.1
PROGRESS_MIN_STEP = 0.01
PROGRESS_MIN_SECONDS = 0.1


WORKER_NICENESS = 10


def lower_thread_priority() -> None:
    """Make the calling worker thread (and threads it starts, e.g. TensorFlow's pools) yield to the GUI thread.

    On Linux a nice value is per thread and inherited by threads created afterwards, so TensorFlow's
    intra-/inter-op pools started from a worker stay below the GUI thread: on a busy 2-core machine that is
    the difference between a smooth window and second-long stalls. Elsewhere ``QThread.LowPriority`` (set when
    the job starts) does the job. Best effort: never fails.
    """
    if sys.platform.startswith("linux"):
        try:
            tid = threading.get_native_id()
            current = os.getpriority(os.PRIO_PROCESS, tid)
            os.setpriority(os.PRIO_PROCESS, tid, max(current, WORKER_NICENESS))
        except (OSError, AttributeError):
            pass


class QtReporter:
    """Implements the core ``Reporter`` protocol on behalf of a :class:`Job` (called in the worker thread)."""

    def __init__(self, job: "Job") -> None:
        self._job = job
        self._cancel = threading.Event()
        self._last_fraction = -1.0
        self._last_progress_time = 0.0
        self._batch_buffer: list[dict[str, Any]] = []
        self._last_flush = 0.0
        self._lock = threading.Lock()

    # -- Reporter protocol -------------------------------------------------------------------------------
    def progress(self, fraction: float, message: str = "") -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        now = time.monotonic()
        if (
            fraction >= 1.0
            or abs(fraction - self._last_fraction) >= PROGRESS_MIN_STEP
            or now - self._last_progress_time >= PROGRESS_MIN_SECONDS
        ):
            self._last_fraction = fraction
            self._last_progress_time = now
            self._job.progress.emit(fraction, str(message))

    def status(self, message: str) -> None:
        self._job.status.emit(str(message))

    def metrics(self, kind: str, values: dict[str, Any]) -> None:
        if kind == "batch":
            with self._lock:
                self._batch_buffer.append(dict(values))
                if time.monotonic() - self._last_flush < BATCH_FLUSH_SECONDS:
                    return
            self.flush()
            return
        self.flush()  # keep order: the batches of an epoch arrive before the epoch itself
        self._job.metrics.emit(str(kind), dict(values))

    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    # -- used by Job ---------------------------------------------------------------------------------------
    def flush(self) -> None:
        with self._lock:
            batch, self._batch_buffer = self._batch_buffer, []
            self._last_flush = time.monotonic()
        if batch:
            self._job.batch_metrics.emit(batch)

    def cancel(self) -> None:
        self._cancel.set()


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

    def run(self) -> None:  # worker thread
        lower_thread_priority()
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
        job.start(QThread.Priority.LowPriority)
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
) -> Job:
    """Create a :class:`Job`, connect the given slots *before* it starts (no signal can be missed), start it.

    Pass bound ``@Slot`` methods of QObjects living in the GUI thread, never lambdas.
    """
    job = Job(fn, name)
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
