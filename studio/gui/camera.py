"""The live camera for Try it: Qt Multimedia when this installation has it, and the thread that classifies.

Qt Multimedia ships in the ``pyside6-addons`` wheel (175 MB download, 422 MB installed for 6.11.3, mostly
Qt WebEngine; the camera needs ~60 MB of it), not in ``pyside6-essentials`` which Studio depends on. So the
camera is optional: ``pip install "small-model-studio[camera]"`` adds it, and without it the page says so in
plain words (:func:`camera_status`) and still answers files, folders and fake frames. Measured here: the
6.11.3 addons load beside essentials 6.11.3 (FFmpeg 7.1.5 backend) once the system has the PulseAudio
client library (libpulse0, libsndfile1, libasyncns0); without them the import fails and the page names the
missing library.

:class:`LiveThread` runs :class:`studio.core.live.LiveClassifier` (LiteRT only, TensorFlow-free even statically) in a QThread of
the GUI process and emits each answered frame; the page shows the newest one. It never waits for the GUI: when
frames come faster than the window paints, the window simply skips to the newest.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

MAX_FPS = 30.0  # frames answered per second at most: what a camera delivers and an eye can follow
INSTALL_HINT = ('Live camera needs Qt Multimedia, which this installation does not include. Install it with '
                '"pip install small-model-studio[camera]" (the pyside6-addons package), then restart Studio. '
                'Files, folders and CSVs work without it.')


def multimedia_problem(exc: ImportError, installed: bool) -> str:
    """Why Qt Multimedia does not load, in plain words: not installed, or installed without the system
    libraries it links to (measured on Debian 12 with pyside6-addons 6.11.3: libpulse0, libsndfile1 and
    libasyncns0 are needed; a minimal system lacks them)."""
    if not installed:
        return INSTALL_HINT
    missing = str(exc).split(":")[0].strip()
    return (f"Qt Multimedia is installed but cannot load: the system library {missing} is missing. Install the "
            "PulseAudio client library (Debian / Ubuntu: sudo apt install libpulse0), then restart Studio. "
            "Files, folders and CSVs work without it.")


def camera_status() -> tuple[bool, str]:
    """(usable, plain-words reason): Qt Multimedia importable and at least one camera connected."""
    try:
        from PySide6.QtMultimedia import QMediaDevices
    except ImportError as exc:
        import importlib.util

        return False, multimedia_problem(exc, importlib.util.find_spec("PySide6.QtMultimedia") is not None)
    if not QMediaDevices.videoInputs():
        return False, "No camera found. Connect one and press Refresh, or try files instead."
    return True, ""


def list_cameras() -> list[tuple[str, str]]:
    """(id, description) of every connected camera; empty without Qt Multimedia."""
    try:
        from PySide6.QtMultimedia import QMediaDevices
    except ImportError:
        return []
    return [(bytes(d.id()).decode("utf-8", "replace"), d.description()) for d in QMediaDevices.videoInputs()]


def qimage_to_array(image: Any) -> np.ndarray:
    """A QImage as uint8 RGB ``[h, w, 3]`` (a copy: the image's buffer may be reused)."""
    from PySide6.QtGui import QImage

    image = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, stride = image.width(), image.height(), image.bytesPerLine()
    buf = np.frombuffer(image.constBits(), np.uint8, count=stride * h).reshape(h, stride)
    return buf[:, : w * 3].reshape(h, w, 3).copy()


class QtCameraSource(QObject):
    """A :class:`studio.core.tryit.FrameSource` over a Qt Multimedia camera: the sink's newest frame.

    Built and started in the GUI thread; :meth:`read` is called from the classifying thread and waits (up
    to a second) for a frame newer than the last one it returned.
    """

    def __init__(self, camera_id: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        from PySide6.QtMultimedia import QCamera, QMediaCaptureSession, QMediaDevices, QVideoSink

        devices = QMediaDevices.videoInputs()
        device = next((d for d in devices if bytes(d.id()).decode("utf-8", "replace") == camera_id),
                      devices[0] if devices else None)
        if device is None:
            raise RuntimeError("no camera connected")
        self._camera = QCamera(device)
        self._session = QMediaCaptureSession()
        self._sink = QVideoSink()
        self._session.setCamera(self._camera)
        self._session.setVideoSink(self._sink)
        self._sink.videoFrameChanged.connect(self._on_frame)
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._serial = 0
        self._seen = 0
        self._closed = False
        self._camera.start()

    @Slot(object)
    def _on_frame(self, frame: Any) -> None:
        array = qimage_to_array(frame.toImage())
        with self._cond:
            self._frame, self._serial = array, self._serial + 1
            self._cond.notify_all()

    def read(self) -> np.ndarray | None:
        with self._cond:
            self._cond.wait_for(lambda: self._closed or self._serial > self._seen, timeout=1.0)
            if self._closed or self._frame is None:
                return None
            self._seen = self._serial
            return self._frame

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._camera.stop()


class LiveThread(QThread):
    """Classify frames of a source with a LiteRT backend until stopped; ``answered`` carries each
    :class:`studio.core.live.FrameResult`, ``failed`` an exception, ``ended`` the frame count."""

    answered = Signal(object)
    failed = Signal(object)
    ended = Signal(int)

    def __init__(self, backend: Any, source: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        from studio.core.live import LiveClassifier

        self.live = LiveClassifier(backend, source, max_fps=MAX_FPS)
        self._stop = threading.Event()

    def run(self) -> None:  # noqa: D401 - QThread API
        n = 0
        try:
            n = self.live.run(self.answered.emit, should_stop=self._stop.is_set)
        except Exception as exc:  # noqa: BLE001 - shown to the user by the page
            self.failed.emit(exc)
        self.ended.emit(n)

    def stop(self, wait_ms: int = 3000) -> None:
        self._stop.set()
        self.live.source.close()
        self.wait(wait_ms)
