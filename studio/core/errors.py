"""Error types that carry what went wrong, where, and what the user can do about it.

The CLI prints ``str(error)`` as one line and exits with code 2; the GUI shows the same text in a dialog.
Neither shows a traceback for these errors: they describe bad input, not bugs.
"""

from __future__ import annotations

from pathlib import Path


class StudioWarning(UserWarning):
    """Warnings raised by Studio itself (turned into errors in the test-suite)."""


class StudioError(Exception):
    """Base class for every error caused by the user's input or environment."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.hint = hint

    def __str__(self) -> str:
        where = ""
        if self.path:
            where = self.path + (f", line {self.line}" if self.line is not None else "") + ": "
        text = where + self.message
        if self.hint:
            text += " — " + self.hint
        return text

    def to_json(self) -> dict:
        return {
            "error": type(self).__name__,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "hint": self.hint,
        }


class ProjectError(StudioError):
    """The project folder or project.json is missing, corrupt, or from a newer Studio."""


class DatasetError(StudioError):
    """Data to import or evaluate on is unusable (no classes, malformed CSV, wrong labels...)."""


class ConfigError(StudioError):
    """A setting is out of range or does not fit the project (e.g. a sensor model on an image project)."""


class WeightsUnavailableError(StudioError):
    """Pretrained weights were asked for but are neither bundled, cached, nor downloadable."""


class Cancelled(StudioError):
    """The user cancelled a long operation; the project is left consistent."""

    def __init__(self, message: str = "cancelled by the user") -> None:
        super().__init__(message)


class ProjectBusyError(ProjectError):
    """Another process is writing the project (see :mod:`studio.core.lock`); ``holder`` says who, when known."""

    def __init__(self, message: str, *, path: str | Path | None = None, hint: str | None = None,
                 holder: dict | None = None) -> None:
        super().__init__(message, path=path, hint=hint)
        self.holder = holder
