"""Widgets of issue 14, fed with plain data (results of studio.core.explain / suspects / tryit jobs).

* :class:`WhyMapView` — a why-map picture (heat over the photo, or shading over the signal) with its legend,
  drawn by :mod:`studio.core.overlay` so the GUI shows the same picture as ``studio explain --out``.
* :class:`SuspectsTable` — "possibly mislabelled" with thumbnails and Relabel / Exclude / Restore actions
  (it only emits what the user asked; the page runs the change).
* :class:`EmbeddingMap` — the 2-D map of the model's embedding coloured by label; a click emits the sample.
* :class:`LiveView` — the camera frame with the answer, frames per second, and Freeze / Save controls.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QHeaderView, QLabel, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from studio.gui.plots import PALETTE
from studio.gui.widgets.gallery import pixmap_from_array

THUMB = 56


def overlay_pixmap(result: dict[str, Any], source: Any = None) -> Any:
    """The why-map picture of ``result`` as a QPixmap (Pillow draws it; see studio.core.overlay)."""
    from studio.core.overlay import overlay_image

    return pixmap_from_array(np.asarray(overlay_image(result, source).convert("RGB")))


class WhyMapView(QWidget):
    """One why-map with its plain-words legend (part of the picture), or a message when there is none."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("whyMapView")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.picture = QLabel("No why-map yet.")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setWordWrap(True)  # a message (an error) wraps in its cell instead of running off it
        self.picture.setMinimumSize(200, 160)
        layout.addWidget(self.picture)
        self.result: dict[str, Any] | None = None

    def show_result(self, result: dict[str, Any], source: Any = None) -> None:
        """``source``: the picture / signal to draw on when ``result["path"]`` is not a readable file."""
        self.result = result
        if result.get("error"):
            self.picture.setText(str(result["error"]))
            return
        pix = overlay_pixmap(result, source)
        if self.maximumWidth() < pix.width():  # a grid cell: the whole picture and legend, smaller
            pix = pix.scaledToWidth(self.maximumWidth(), Qt.TransformationMode.SmoothTransformation)
        self.picture.setPixmap(pix)

    def show_message(self, text: str) -> None:
        self.result = None
        self.picture.setText(text)


class SuspectsTable(QWidget):
    """The "possibly mislabelled" list: thumbnail, name, labelled, looks like, disagreement, actions."""

    relabel = Signal(list, str)  # names, new label
    exclude = Signal(list)
    restore = Signal(list)
    show_sample = Signal(dict)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.summary = QLabel()
        self.summary.setObjectName("note")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.table = QTableWidget(0, 5)
        self.table.setObjectName("suspectsTable")
        self.table.setHorizontalHeaderLabels(["", "Example", "Labelled", "Looks like", "Disagreement"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(THUMB + 6)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.cellDoubleClicked.connect(self._open)
        layout.addWidget(self.table)
        row = QHBoxLayout()
        self.accept_button = QPushButton("Relabel as suggested")
        self.accept_button.clicked.connect(self._accept)
        self.label_combo = QComboBox()
        self.other_button = QPushButton("Relabel as…")
        self.other_button.clicked.connect(self._relabel_other)
        self.exclude_button = QPushButton("Exclude")
        self.exclude_button.clicked.connect(lambda: self.exclude.emit(self.selected_names()))
        self.restore_button = QPushButton("Restore")
        self.restore_button.setToolTip("Back to the imported label, included again")
        self.restore_button.clicked.connect(lambda: self.restore.emit(self.selected_names()))
        for w in (self.accept_button, self.other_button, self.label_combo, self.exclude_button,
                  self.restore_button):
            row.addWidget(w)
        row.addStretch(1)
        layout.addLayout(row)
        self.items: list[dict[str, Any]] = []

    def set_suspects(self, result: dict[str, Any], thumbnails: dict[str, np.ndarray] | None = None) -> None:
        """``result``: a find_suspects result; ``thumbnails``: name -> uint8 image (images only)."""
        self.items = list(result.get("suspects") or [])
        thumbnails = thumbnails or {}
        self.summary.setText(
            f"{result.get('n_flagged', len(self.items))} of {result.get('n_ranked', '?')} training and validation "
            "examples are possibly mislabelled: the model and the examples most like them say another class. "
            "Check each one; changes are recorded and can be undone (Restore)."
            if self.items else "No example looks mislabelled to the model.")
        self.label_combo.clear()
        self.label_combo.addItems([str(c) for c in result.get("classes") or []])
        self.table.setRowCount(len(self.items))
        for i, s in enumerate(self.items):
            thumb = QLabel()
            if s["name"] in thumbnails:
                thumb.setPixmap(pixmap_from_array(thumbnails[s["name"]]).scaled(
                    THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))
            self.table.setCellWidget(i, 0, thumb)
            for j, text in enumerate((s["name"], s["label"], s["suggested"], f"{100 * s['score']:.0f} %"), start=1):
                self.table.setItem(i, j, QTableWidgetItem(str(text)))
        for b in (self.accept_button, self.other_button, self.exclude_button, self.restore_button):
            b.setEnabled(bool(self.items))

    def selected_names(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return [self.items[r]["name"] for r in rows if r < len(self.items)]

    @Slot()
    def _accept(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        by_label: dict[str, list[str]] = {}
        for r in rows:
            by_label.setdefault(self.items[r]["suggested"], []).append(self.items[r]["name"])
        for label, names in by_label.items():
            self.relabel.emit(names, label)

    @Slot()
    def _relabel_other(self) -> None:
        names = self.selected_names()
        if names and self.label_combo.currentText():
            self.relabel.emit(names, self.label_combo.currentText())

    @Slot(int, int)
    def _open(self, row: int, _column: int) -> None:
        if row < len(self.items):
            self.show_sample.emit(dict(self.items[row]))


class EmbeddingMap(pg.PlotWidget):
    """Samples as dots where the model's embedding puts them (PCA), one colour per label; click = ``picked``."""

    picked = Signal(dict)

    def __init__(self, height: int = 320) -> None:
        super().__init__()
        self.setObjectName("embeddingMap")
        self.setMinimumHeight(height)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)  # the wheel scrolls the page; points are still clicked
        self.hideButtons()
        self.getPlotItem().hideAxis("left")
        self.getPlotItem().hideAxis("bottom")
        self._legend = self.addLegend(offset=(-10, 10))
        self._items: list[pg.ScatterPlotItem] = []
        self.data: dict[str, Any] = {}

    def set_map(self, data: dict[str, Any]) -> None:
        """``data``: a find_suspects result's ``map`` (points, labels, names, paths, score)."""
        for item in self._items:
            self.removeItem(item)
        self._items = []
        self._legend.clear()
        self.data = data
        points = np.asarray(data.get("points") or np.zeros((0, 2)), dtype=float).reshape(-1, 2)
        labels = list(data.get("labels") or [])
        for k, label in enumerate(sorted(set(labels))):
            idx = [i for i, lab in enumerate(labels) if lab == label]
            item = pg.ScatterPlotItem(points[idx, 0], points[idx, 1], size=7, data=idx,
                                      brush=pg.mkBrush(PALETTE[k % len(PALETTE)]), pen=pg.mkPen(None))
            item.sigClicked.connect(self._clicked)
            self.addItem(item)
            self._legend.addItem(item, str(label))
            self._items.append(item)

    def _clicked(self, _item: Any, points: Any, *_: Any) -> None:
        if len(points) == 0:
            return
        i = int(points[0].data())
        self.picked.emit({k: self.data[k][i] for k in ("names", "paths", "labels", "score") if k in self.data})


class LiveView(QWidget):
    """The newest camera frame with the variant's answer and frames per second; Freeze and Save."""

    freeze_toggled = Signal(bool)
    save_requested = Signal(str)  # label to save the frozen frame under

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.frame_label = QLabel("No camera running.")
        self.frame_label.setObjectName("liveFrame")
        self.frame_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.frame_label.setMinimumSize(320, 240)
        layout.addWidget(self.frame_label)
        self.answer = QLabel("—")
        self.answer.setObjectName("bigNumber")
        self.fps = QLabel("")
        self.fps.setObjectName("note")
        row = QHBoxLayout()
        row.addWidget(self.answer)
        row.addStretch(1)
        row.addWidget(self.fps)
        layout.addLayout(row)
        controls = QHBoxLayout()
        self.freeze_button = QPushButton("Freeze")
        self.freeze_button.setCheckable(True)
        self.freeze_button.toggled.connect(self._freeze)
        self.save_combo = QComboBox()
        self.save_button = QPushButton("Save into the dataset as…")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(lambda: self.save_requested.emit(self.save_combo.currentText()))
        controls.addWidget(self.freeze_button)
        controls.addStretch(1)
        controls.addWidget(self.save_button)
        controls.addWidget(self.save_combo)
        layout.addLayout(controls)
        self.frozen = False
        self.last: Any = None

    def set_classes(self, classes: list[str]) -> None:
        self.save_combo.clear()
        self.save_combo.addItems([str(c) for c in classes])

    def show_frame(self, result: Any) -> None:
        """A :class:`studio.core.live.FrameResult` (ignored while frozen)."""
        if self.frozen:
            return
        self.last = result
        pix = pixmap_from_array(result.frame)
        self.frame_label.setPixmap(pix.scaled(self.frame_label.width(), self.frame_label.height(),
                                              Qt.AspectRatioMode.KeepAspectRatio,
                                              Qt.TransformationMode.FastTransformation))
        self.answer.setText(f"{result.label}  {100 * result.confidence:.0f} %")
        self.fps.setText(f"{result.fps:.1f} frames/s · {result.latency_ms:.1f} ms per frame")

    @Slot(bool)
    def _freeze(self, on: bool) -> None:
        self.frozen = on
        self.freeze_button.setText("Resume" if on else "Freeze")
        self.save_button.setEnabled(on and self.last is not None)
        self.freeze_toggled.emit(on)
