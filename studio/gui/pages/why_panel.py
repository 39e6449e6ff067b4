"""The Evaluate page's why-maps: for the mistakes, and on demand for any sample (issue 14).

A panel the Evaluate page embeds under its gallery. It builds ``explain`` requests (images: file paths;
sensors: the project's recording ids) for the worker and shows what comes back with
:class:`studio.gui.widgets.trust.WhyMapView` — the same picture and plain-words legend as ``studio explain``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Slot
from PySide6.QtWidgets import (QDialog, QFileDialog, QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout,
                               QWidget)

from studio.gui.widgets import dialogs
from studio.gui.widgets.trust import WhyMapView

MAX_MAPS = 12
COLUMNS = 3  # photos; signal plots are wide: two a row, larger, so the legend stays readable


def why_requests(items: list[dict[str, Any]], modality: str, limit: int | None = MAX_MAPS) -> dict[str, Any]:
    """The ``explain`` request for the first ``limit`` mistakes: image paths, or recording ids (a sensor
    mistake's id is "rec@start" for a window, or the recording id itself)."""
    if modality == "image":
        return {"paths": [str(i["path"]) for i in items if i.get("path")][:limit]}
    recs = []
    for i in items:
        rid = str(i.get("id") or i.get("where") or "").split("@")[0]
        if rid and rid not in recs:
            recs.append(rid)
    return {"recordings": recs[:limit]}


class WhyDialog(QDialog):
    """One why-map, large, with its caption."""

    def __init__(self, result: dict[str, Any], caption: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("whyDialog")
        self.setWindowTitle("Why the model answered this")
        layout = QVBoxLayout(self)
        self.view = WhyMapView()
        self.view.show_result(result, _signal(result))
        layout.addWidget(self.view)
        if caption:
            text = QLabel(caption)
            text.setWordWrap(True)
            layout.addWidget(text)


def _signal(result: dict[str, Any]) -> np.ndarray | None:
    return np.asarray(result["signal"], np.float32) if result.get("signal") is not None else None


class WhyPanel(QWidget):
    """Buttons "Why-maps of the mistakes" and "Why? Any sample…", and a grid of the returned why-maps."""

    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("whyPanel")
        self.state = state
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.mistakes_button = QPushButton("Show why-maps of the mistakes")
        self.mistakes_button.setObjectName("whyMistakesButton")
        self.mistakes_button.clicked.connect(self.explain_mistakes)
        self.any_button = QPushButton("Why? Explain any sample…")
        self.any_button.clicked.connect(self._choose_any)
        row.addWidget(self.mistakes_button)
        row.addWidget(self.any_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.note = QLabel("A why-map shows which part of the example made the model answer what it did.")
        self.note.setObjectName("note")
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.grid_box = QWidget()
        self.grid = QGridLayout(self.grid_box)
        self.grid.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.grid_box)
        self.items: list[dict[str, Any]] = []
        self.results: list[dict[str, Any]] = []
        self.job: Any = None

    def set_mistakes(self, items: list[dict[str, Any]]) -> None:
        """The mistakes of the evaluation now shown (normalised as the gallery has them)."""
        self.items = list(items)
        self._clear()
        self.mistakes_button.setEnabled(bool(items))

    def _clear(self) -> None:
        while self.grid.count():
            w = self.grid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        self.results = []

    def _modality(self) -> str:
        project = self.state.project
        return project.modality if project is not None else "image"

    @Slot()
    def explain_mistakes(self) -> None:
        if self.state.project is None or not self.items or (self.job is not None and self.job.isRunning()):
            return
        self.explain_many(why_requests(self.items, self._modality()))

    def explain_many(self, request: dict[str, Any]) -> None:
        """Why-maps of several files (``paths``) or recordings (``recordings``), shown in the grid."""
        self.note.setText("Drawing the why-maps…")
        self.job = self.state.run("explain", request, succeeded=self._show_maps, failed=self._failed, owner=self)

    @Slot()
    def _choose_any(self) -> None:
        image = self._modality() == "image"
        pattern = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff)" if image else "CSV files (*.csv *.tsv *.txt)"
        path, _ = QFileDialog.getOpenFileName(self, "Choose a sample to explain", "", pattern)
        if path:
            self.explain_one(path)

    def explain_one(self, path: str | None = None, recording: str | None = None) -> None:
        """Explain one file or one of the project's recordings; the answer opens in a dialog."""
        if self.state.project is None:
            return
        request = {"paths": [path]} if path else {"recordings": [recording]}
        self.state.run("explain", request, succeeded=self._show_one, failed=self._failed, owner=self)

    @Slot(int, int)
    def explain_row(self, row: int, _column: int = 0) -> None:
        """A row of the Evaluate page's mistakes table (sensor projects) was double-clicked: its recording."""
        if 0 <= row < len(self.items) and self._modality() == "sensor":
            rid = str(self.items[row].get("id") or self.items[row].get("where") or "").split("@")[0]
            if rid:
                self.explain_one(recording=rid)

    @Slot(object)
    def _show_maps(self, out: dict[str, Any]) -> None:
        self._clear()
        self.results = list(out.get("results") or [])
        truth = {str(i.get("path")): str(i.get("true")) for i in self.items if i.get("path") and i.get("true")}
        for k, result in enumerate(self.results):
            cell = QWidget()
            box = QVBoxLayout(cell)
            box.setContentsMargins(0, 0, 0, 0)
            view = WhyMapView()
            columns = 2 if result.get("kind") == "sensor" else COLUMNS
            width = 500 if columns == 2 else 320
            view.setMaximumWidth(width)  # the view scales its picture to its own width: it must be limited too
            cell.setMaximumWidth(width)
            view.show_result(result, _signal(result))
            box.addWidget(view)
            label = result.get("true_label") or truth.get(str(result.get("path")))
            if label:  # the map explains the model's answer; the caption says what the example really is
                caption = QLabel(f"Labelled '{label}'; the model said '{result.get('label')}'.")
                caption.setObjectName("note")
                caption.setWordWrap(True)
                box.addWidget(caption)
            self.grid.addWidget(cell, k // columns, k % columns)
        shown = sum(1 for r in self.results if not r.get("error"))
        if self.items:
            total = len(next(iter(why_requests(self.items, self._modality(), limit=None).values())))
            of = "" if shown >= total else f" of the {total}, the most confident first"
            self.note.setText(f"Why-maps of {shown} mistakes{of}: red marks what decided the model's (wrong) "
                              "answer.")
        else:
            self.note.setText(f"Why-maps of {shown} example(s): red marks what decided the answer.")

    @Slot(object)
    def _show_one(self, out: dict[str, Any]) -> None:
        results = out.get("results") or []
        if not results:
            return
        result = results[0]
        if result.get("error"):
            dialogs.info(self, "Why-map", str(result["error"]))
            return
        caption = str(result.get("path") or result.get("recording") or "")
        if result.get("true_label"):
            caption += f" (labelled {result['true_label']})"
        self.dialog = WhyDialog(result, caption, self)
        self.dialog.open()

    @Slot(object)
    def _failed(self, exc: BaseException) -> None:
        self.note.setText("The why-maps could not be drawn.")
        dialogs.show_error(self, exc, "Could not draw the why-map")

