"""The worker protocol: JSON lines between the window and the ``studio --worker`` process.

One JSON object per line, UTF-8. The events a job reports come from :class:`studio.core.reporter.EventReporter`
(the one source: ``studio ... --events`` writes the same lines to stderr). Documented in docs/ARCHITECTURE.md
("Worker process"). Everything that crosses is plain data (:func:`to_plain`): Keras objects never do.

GUI → worker: ``run`` / ``query`` ``{"type", "id", "job", "project", "request"}``, ``cancel`` ``{"id"}``, ``quit``.
Worker → GUI: ``hello``, ``ready``, then per request ``progress`` / ``status`` / ``metrics`` / ``batches``, and
exactly one ``result`` ``{"value"}`` or ``error`` (the ``StudioError`` fields, see :func:`error_event`).
"""

from __future__ import annotations

import json
import math
import traceback
from pathlib import PurePath
from typing import Any

from studio.core import errors

PROTOCOL_VERSION = 1


def to_plain(value: Any) -> Any:
    """``value`` as JSON-ready plain data: dicts, lists, str, int, float, bool, None.

    Paths become strings, tuples lists, numpy scalars and arrays Python numbers and lists, NaN and infinities
    None (JSON has no NaN). Anything else (a Keras model, a file handle) raises TypeError: results are data.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    kind = type(value).__module__.split(".")[0]
    if kind == "numpy":
        if hasattr(value, "tolist"):
            return to_plain(value.tolist())
    raise TypeError(f"not plain data: {type(value).__module__}.{type(value).__qualname__}")


def encode(event: dict[str, Any]) -> str:
    """One protocol line (no newline inside: JSON escapes them)."""
    return json.dumps(to_plain(event), ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def decode(line: str | bytes) -> dict[str, Any]:
    """Parse one line; raises ValueError for anything that is not a JSON object with a "type"."""
    if isinstance(line, bytes):
        line = line.decode("utf-8")
    obj = json.loads(line)
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise ValueError(f"not a protocol message: {line[:200]!r}")
    return obj


def error_event(exc: BaseException, job_id: Any = None) -> dict[str, Any]:
    """``{"type": "error", "error": class name, "message", "path", "line", "hint", "studio": bool,
    "traceback"}``. ``studio`` is true for a :class:`StudioError` (bad input: the window shows it in plain
    words, without a traceback); otherwise it is a bug and ``traceback`` holds the details."""
    if isinstance(exc, errors.StudioError):
        event = dict(exc.to_json())
        event.update(studio=True, traceback=None)
        holder = getattr(exc, "holder", None)
        if holder is not None:
            event["holder"] = holder
    else:
        event = {"error": type(exc).__name__, "message": str(exc) or type(exc).__name__, "path": None,
                 "line": None, "hint": None, "studio": False,
                 "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))}
    event["type"] = "error"
    if job_id is not None:
        event["id"] = job_id
    return event


class RemoteError(Exception):
    """An unexpected error (a bug) raised in the worker; ``traceback_text`` holds the worker's traceback."""

    def __init__(self, kind: str, message: str, traceback_text: str | None) -> None:
        super().__init__(f"{kind}: {message}" if kind else message)
        self.kind = kind
        self.traceback_text = traceback_text or ""


def error_from_event(event: dict[str, Any]) -> BaseException:
    """Rebuild the exception an ``error`` event describes: the same StudioError subclass (by name, from
    :mod:`studio.core.errors`) with its fields, or a :class:`RemoteError` for a bug."""
    name = str(event.get("error") or "")
    if event.get("studio"):
        cls = getattr(errors, name, None)
        if not (isinstance(cls, type) and issubclass(cls, errors.StudioError)):
            cls = errors.StudioError
        exc = errors.StudioError.__new__(cls)
        errors.StudioError.__init__(exc, str(event.get("message") or ""), path=event.get("path"),
                                    line=event.get("line"), hint=event.get("hint"))
        if "holder" in event:
            exc.holder = event["holder"]  # type: ignore[attr-defined]
        return exc
    return RemoteError(name, str(event.get("message") or ""), event.get("traceback"))
