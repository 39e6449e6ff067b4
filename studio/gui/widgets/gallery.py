"""Thumbnail rows and an enlarge-on-click image viewer."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QMouseEvent, QPixmap
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget


def pixmap_from_array(array: np.ndarray) -> QPixmap:
    """A QPixmap from a uint8 ``[h, w]`` / ``[h, w, 1|3]`` array (the copy keeps the buffer alive)."""
    a = np.ascontiguousarray(array)
    if a.ndim == 3 and a.shape[2] == 1:
        a = np.ascontiguousarray(a[:, :, 0])
    h, w = a.shape[:2]
    if a.ndim == 2:
        image = QImage(a.data, w, h, w, QImage.Format.Format_Grayscale8)
    else:
        image = QImage(a.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


class Thumbnail(QLabel):
    """A small picture with a caption in its tooltip; emits ``clicked`` so a page can enlarge it."""

    clicked = Signal(object)

    def __init__(self, pixmap: QPixmap, caption: str, payload: object = None, size: int = 84) -> None:
        super().__init__()
        self.setObjectName("thumbnail")
        self.setPixmap(pixmap.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                     Qt.TransformationMode.SmoothTransformation))
        self.setFixedSize(size + 6, size + 6)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setToolTip(caption)
        self.setStyleSheet("QLabel#thumbnail { background: #ffffff; border: 1px solid #dde3e8; border-radius: 4px; }")
        self.payload = payload
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        self.clicked.emit(self.payload)
        super().mousePressEvent(event)


class ImageViewer(QDialog):
    """A larger view of one sample, with a caption."""

    def __init__(self, pixmap: QPixmap, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageViewer")
        self.setWindowTitle("Sample")
        layout = QVBoxLayout(self)
        picture = QLabel()
        picture.setPixmap(pixmap.scaled(420, 420, Qt.AspectRatioMode.KeepAspectRatio,
                                        Qt.TransformationMode.SmoothTransformation))
        picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text = QLabel(caption)
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(picture)
        layout.addWidget(text)
