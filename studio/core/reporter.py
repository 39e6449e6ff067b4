"""The small protocol through which long-running core work reports progress and learns of cancellation.

Every long core function takes a ``reporter``. Core code only calls these four methods and never knows who
listens. :class:`EventReporter` is the one adapter every boundary uses: it turns the calls into *events* (plain
dicts, see :mod:`studio.core.protocol`), throttled and grouped, and hands them to a sink: the worker process
writes them to the GUI as JSON lines, ``studio ... --events`` writes the same lines to stderr, and the CLI's
progress bar renders them as text.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Protocol, runtime_checkable

from studio.core.errors import Cancelled


@runtime_checkable
class Reporter(Protocol):
    def progress(self, fraction: float, message: str = "") -> None:
        """Overall progress of the current step, 0..1."""

    def status(self, message: str) -> None:
        """A line of human-readable status ("Converting to int8...")."""

    def metrics(self, kind: str, values: dict[str, Any]) -> None:
        """Training metrics. kind is "batch" or "epoch"; values hold loss, accuracy, val_* and counters."""

    def cancel_requested(self) -> bool:
        """True once the user asked to stop; the core stops at the next safe point."""


class NullReporter:
    """A reporter that ignores everything and can still be cancelled (useful in tests and scripts)."""

    def __init__(self) -> None:
        self._cancel = threading.Event()

    def progress(self, fraction: float, message: str = "") -> None:
        pass

    def status(self, message: str) -> None:
        pass

    def metrics(self, kind: str, values: dict[str, Any]) -> None:
        pass

    def cancel(self) -> None:
        self._cancel.set()

    def cancel_requested(self) -> bool:
        return self._cancel.is_set()


class RecordingReporter(NullReporter):
    """Keeps every call: handy for tests and for the CLI's --json output."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, Any]] = []

    def progress(self, fraction: float, message: str = "") -> None:
        self.events.append(("progress", (fraction, message)))

    def status(self, message: str) -> None:
        self.events.append(("status", message))

    def metrics(self, kind: str, values: dict[str, Any]) -> None:
        self.events.append((kind, dict(values)))


# Throttling (Orange3's TaskState idea): progress only after a 1 % change or 100 ms; per-batch metrics grouped
# into one event at most every 100 ms, so a fast training loop cannot flood the listener; epochs go at once.
PROGRESS_MIN_STEP = 0.01
PROGRESS_MIN_SECONDS = 0.1
BATCH_FLUSH_SECONDS = 0.1


class EventReporter:
    """A Reporter that emits protocol events to ``emit`` (called in the reporting thread).

    Events: ``{"type": "progress", "fraction", "message"}``, ``{"type": "status", "message"}``,
    ``{"type": "metrics", "kind", "values"}`` (epochs and every kind but "batch") and
    ``{"type": "batches", "values": [...]}`` (grouped batch metrics, in order, none lost); each carries ``"id"``
    when ``job_id`` is given. :meth:`cancel` (from any thread) makes :meth:`cancel_requested` true.
    """

    def __init__(self, emit: Callable[[dict[str, Any]], None], job_id: Any = None, *,
                 progress_step: float = PROGRESS_MIN_STEP, progress_seconds: float = PROGRESS_MIN_SECONDS,
                 batch_seconds: float = BATCH_FLUSH_SECONDS) -> None:
        self._emit_fn = emit
        self.job_id = job_id
        self.progress_step = progress_step
        self.progress_seconds = progress_seconds
        self.batch_seconds = batch_seconds
        self._cancel = threading.Event()
        self._lock = threading.RLock()
        self._last_fraction = -1.0
        self._last_progress = 0.0
        self._batches: list[dict[str, Any]] = []
        self._last_flush = time.monotonic()

    def _emit(self, event: dict[str, Any]) -> None:
        if self.job_id is not None:
            event["id"] = self.job_id
        self._emit_fn(event)

    # -- Reporter protocol ---------------------------------------------------------------------------
    def progress(self, fraction: float, message: str = "") -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        now = time.monotonic()
        with self._lock:
            if not (fraction >= 1.0 or abs(fraction - self._last_fraction) >= self.progress_step
                    or now - self._last_progress >= self.progress_seconds):
                return
            self._last_fraction, self._last_progress = fraction, now
            self._emit({"type": "progress", "fraction": fraction, "message": str(message)})

    def status(self, message: str) -> None:
        with self._lock:
            self._flush_locked()
            self._emit({"type": "status", "message": str(message)})

    def metrics(self, kind: str, values: dict[str, Any]) -> None:
        with self._lock:
            if kind == "batch":
                self._batches.append(dict(values))
                if time.monotonic() - self._last_flush >= self.batch_seconds:
                    self._flush_locked()
                return
            self._flush_locked()  # keep order: an epoch's batches arrive before the epoch
            self._emit({"type": "metrics", "kind": str(kind), "values": dict(values)})

    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    # -- for the owner ---------------------------------------------------------------------------------
    def cancel(self) -> None:
        self._cancel.set()

    def flush(self) -> None:
        """Send grouped batch metrics now (call before the result, so nothing arrives after it)."""
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        batches, self._batches = self._batches, []
        self._last_flush = time.monotonic()
        if batches:
            self._emit({"type": "batches", "values": batches})


def check_cancel(reporter: Reporter | None) -> None:
    """Raise :class:`Cancelled` if the user asked to stop."""
    if reporter is not None and reporter.cancel_requested():
        raise Cancelled()


class ScaledReporter:
    """Forwards to ``inner`` with progress mapped into ``[lo, hi]`` and metrics tagged with a ``stage``: one
    step of a longer job (a fine-tune inside an optimization, a candidate inside a search)."""

    def __init__(self, inner: Reporter, lo: float, hi: float, stage: str | None = None) -> None:
        self.inner, self.lo, self.hi, self.stage = inner, float(lo), float(hi), stage

    def progress(self, fraction: float, message: str = "") -> None:
        f = min(max(float(fraction), 0.0), 1.0)
        self.inner.progress(self.lo + (self.hi - self.lo) * f, message)

    def status(self, message: str) -> None:
        self.inner.status(message)

    def metrics(self, kind: str, values: dict[str, Any]) -> None:
        self.inner.metrics(kind, {**values, "stage": self.stage} if self.stage else values)

    def cancel_requested(self) -> bool:
        return self.inner.cancel_requested()
