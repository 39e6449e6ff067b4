"""The small protocol through which long-running core work reports progress and learns of cancellation.

Every long core function takes a ``reporter``. The CLI adapts it to a progress bar on stderr; the GUI adapts it
to throttled Qt signals. Core code only calls these four methods and never knows who listens.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol, runtime_checkable

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
