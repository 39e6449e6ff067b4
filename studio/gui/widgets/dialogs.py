"""Every message box of the app goes through this module, so errors read the same everywhere.

A :class:`~studio.core.errors.StudioError` (bad input) becomes a warning in plain words: what happened, which
file and line, and what to do. Anything else is a bug: the dialog says so and keeps the traceback behind the
"Show Details..." expander. Tests replace :func:`exec_box` to capture dialogs without blocking.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from studio.core.errors import Cancelled, StudioError
from studio.gui.widgets.gui_words import gui_hint


def exec_box(box: QMessageBox) -> int:
    """Show ``box`` modally and return the clicked standard button (patched in tests)."""
    return box.exec()


def error_parts(exc: BaseException) -> tuple[str, str, str | None]:
    """(headline, explanation, details) for an exception, in the words shown to the user."""
    if isinstance(exc, StudioError):
        lines = [exc.message[:1].upper() + exc.message[1:]]
        if exc.path:
            where = f"File: {exc.path}"
            if exc.line is not None:
                where += f", line {exc.line}"
            lines.append(where)
        hint = gui_hint(exc.hint)  # the window's controls, not the command line's flags
        if hint:
            lines.append(f"What to do: {hint[:1].upper() + hint[1:]}.".replace("..", "."))
        # a plain message; details only when there are some to report (a crashed worker's last output)
        return ("That did not work", "\n\n".join(lines), getattr(exc, "details", None) or None)
    details = getattr(exc, "traceback_text", None) or f"{type(exc).__name__}: {exc}"
    text = (
        f"Studio ran into an unexpected problem ({type(exc).__name__}: {exc}).\n\n"
        "Your project files were not changed by the failed step. If it happens again, please report it "
        "with the details below."
    )
    return ("Something went wrong", text, details)


def show_error(parent: QWidget | None, exc: BaseException, action: str | None = None) -> None:
    """Show ``exc`` as a dialog. ``action`` says what failed, as a headline ("Could not import the data")."""
    if isinstance(exc, Cancelled):
        return  # the user asked for it: the page shows "Cancelled" in its status line instead
    headline, text, details = error_parts(exc)
    box = QMessageBox(parent)
    box.setObjectName("errorDialog")
    box.setIcon(QMessageBox.Icon.Warning if details is None else QMessageBox.Icon.Critical)
    box.setWindowTitle(headline)
    box.setText(f"<b>{action or headline}</b>")
    box.setInformativeText(text)
    if details:
        box.setDetailedText(details)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    exec_box(box)


def show_message(parent: QWidget | None, headline: str, text: str, details: str | None = None) -> None:
    """A plain warning that is not about one action (e.g. the background process stopped while idle)."""
    box = QMessageBox(parent)
    box.setObjectName("errorDialog")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(headline)
    box.setText(f"<b>{headline}</b>")
    box.setInformativeText(text)
    if details:
        box.setDetailedText(details)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    exec_box(box)


def ask(parent: QWidget | None, title: str, question: str, yes: str = "Yes", no: str = "No") -> bool:
    """A yes/no question; True when the user picks ``yes``."""
    box = QMessageBox(parent)
    box.setObjectName("questionDialog")
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle(title)
    box.setText(question)
    yes_button = box.addButton(yes, QMessageBox.ButtonRole.YesRole)
    box.addButton(no, QMessageBox.ButtonRole.NoRole)
    box.setDefaultButton(yes_button)
    result = exec_box(box)
    return box.clickedButton() is yes_button or result == int(QMessageBox.StandardButton.Yes)


def info(parent: QWidget | None, title: str, text: str) -> None:
    box = QMessageBox(parent)
    box.setObjectName("infoDialog")
    box.setIcon(QMessageBox.Icon.Information)
    box.setWindowTitle(title)
    box.setText(text)
    exec_box(box)
