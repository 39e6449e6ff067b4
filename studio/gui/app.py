"""Entry point of the desktop app: ``studio``, ``python -m studio``, ``studio gui [P] [--sample image|sensor]``.

Start-up is kept fast (the window appears in well under 1.5 s) and this process never imports TensorFlow.
Right after the window is shown, the worker process (:mod:`studio.gui.worker_client`) starts and imports it
(~7 s), so the first training or estimate does not wait; the status bar says "Loading TensorFlow…" until the
worker is ready. Closing the app stops the worker.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from types import TracebackType
from typing import Any

NO_DISPLAY_MESSAGE = "no display: set QT_QPA_PLATFORM=offscreen or run on a desktop"


def has_display() -> bool:
    """False on a Linux box with no X11/Wayland display and no Qt platform chosen explicitly."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    if sys.platform.startswith("linux") or sys.platform.startswith("freebsd"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="studio gui", description="open the desktop app")
    parser.add_argument("project", nargs="?", help="project folder to open")
    parser.add_argument("--sample", choices=["image", "sensor", "image-anomaly", "sensor-anomaly"],
                        help="open a copy of a bundled sample project")
    return parser.parse_args(argv)


def load_style() -> str:
    from studio.resources import resource_path

    path = resource_path("style.qss")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return ""
    # url() in a style sheet is relative to the working directory: make icon paths absolute
    return text.replace("@ICONS@", resource_path("icons").as_posix())


def create_application(argv: list[str] | None = None):  # -> QApplication
    """The QApplication with the app's name, icon and style sheet (reused by tests and the screenshot script)."""
    from PySide6.QtWidgets import QApplication

    from studio.gui.widgets.icons import icon

    app = QApplication.instance() or QApplication(["studio", *(argv or [])])
    app.setApplicationName("Small Model Studio")
    app.setOrganizationName("SmallModelStudio")
    app.setWindowIcon(icon("app"))
    app.setStyle("Fusion")
    app.setStyleSheet(load_style())
    return app


def install_excepthook() -> None:
    """Unexpected exceptions in slots become a dialog with the traceback behind "Show Details…"."""

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        text = "".join(traceback.format_exception(kind, exc, tb))
        sys.stderr.write(text)
        try:
            from studio.gui.widgets import dialogs

            exc.traceback_text = text  # type: ignore[attr-defined]
            dialogs.show_error(None, exc)
        except Exception:  # noqa: BLE001 - never recurse from the hook
            pass

    sys.excepthook = hook


def close_on_signals(window: Any) -> Any:
    """SIGTERM (log-out, ``kill``) and SIGINT (Ctrl-C in the terminal) close the window as "Stop and close"
    does, without asking: before, the command line's handlers caught them during the GUI too, only flagged a
    cancel nobody read, and the window stayed open. Python runs signal handlers only between bytecodes, and
    Qt's event loop is C++: a light timer hands control back to Python every 200 ms. Returns the timer."""
    import signal

    from PySide6.QtCore import QTimer

    def handle(signum: int, frame: Any) -> None:
        QTimer.singleShot(0, window.close_without_asking)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handle)
    tick = QTimer(window)
    tick.timeout.connect(lambda: None)
    tick.start(200)
    return tick


def main(argv: list[str] | None = None) -> int:
    """Open the main window; returns the process exit code (2 when there is no display)."""
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    if not has_display():
        sys.stderr.write(NO_DISPLAY_MESSAGE + "\n")
        return 2
    from PySide6.QtCore import QTimer

    from studio.gui.main_window import MainWindow
    from studio.gui.state import AppState
    from studio.gui.worker_client import client

    app = create_application()
    install_excepthook()
    state = AppState()
    window = MainWindow(state)
    window.show()

    if os.environ.get("STUDIO_GUI_EXIT_WHEN_SHOWN"):
        # For benchmarks and smoke tests: report that the window is up (and whether TensorFlow was needed
        # for it), then quit once the event loop has run.
        sys.stdout.write(f"STUDIO_WINDOW_SHOWN tensorflow={'tensorflow' in sys.modules}\n")
        sys.stdout.flush()
        QTimer.singleShot(0, app.quit)
        return int(app.exec())
    worker = client()
    QTimer.singleShot(0, worker.start)  # after the first paint: TensorFlow loads there while the user looks
    app.aboutToQuit.connect(worker.shutdown)
    close_on_signals(window)
    if args.sample:
        QTimer.singleShot(0, lambda: window.page("").open_sample(args.sample))
    elif args.project:
        QTimer.singleShot(0, lambda: window.page("").open_path(args.project))
    return int(app.exec())


if __name__ == "__main__":
    raise SystemExit(main())
