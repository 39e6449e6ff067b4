"""The Data page's "possibly mislabelled" list and the map of the model's embedding (issue 14).

A panel the Data page embeds once a model is trained. "Find possibly mislabelled examples" runs the worker's
``suspects`` job; the list (:class:`studio.gui.widgets.trust.SuspectsTable`, thumbnails loaded by a light
thread) and the map (:class:`studio.gui.widgets.trust.EmbeddingMap`) render its plain result. Relabel /
Exclude / Restore run the ``curate`` job (the worker writes the manifest; the split never changes) and the
rows say what was done; training again uses the change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTableWidgetItem, QVBoxLayout, QWidget

from studio.gui.widgets import dialogs
from studio.gui.widgets.trust import EmbeddingMap, SuspectsTable
from studio.gui.workers import start_job

THUMB = 96
WEAK_MODEL_SHARE = 0.25  # more flagged than this: say the model may be too weak to judge the labels
INTRO = ("After training, the model can point out examples whose label it disagrees with, "
         "and examples unlike any other.")
ANOMALY_NOTE = ("An anomaly detector has no labels to disagree with, so there is no mislabel search here. Once it "
                "is fitted, Evaluate lists the examples it finds least normal, good ones included (its false "
                "alarms): a good example at the top of that list may not be good, or may be a kind of good the "
                "training examples do not show yet.")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")


def load_thumbnails(suspects: list[dict[str, Any]], size: int = THUMB) -> dict[str, np.ndarray]:
    """name -> small uint8 image of every image suspect (light thread: Pillow only)."""
    from studio.core.data.image import load_image
    from studio.core.errors import StudioError

    out = {}
    for s in suspects:
        if Path(str(s.get("path", ""))).suffix.lower() in IMAGE_SUFFIXES:
            try:
                out[s["name"]] = load_image(s["path"], size, 3)
            except (StudioError, OSError):
                continue
    return out


class SuspectsPanel(QWidget):
    """Find / list / fix possibly mislabelled examples, and the embedding map."""

    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("suspectsPanel")
        self.state = state
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.find_button = QPushButton("Find possibly mislabelled examples")
        self.find_button.setObjectName("findSuspectsButton")
        self.find_button.clicked.connect(self.find)
        row.addWidget(self.find_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.note = QLabel(INTRO)
        self.note.setObjectName("note")
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.table = SuspectsTable()
        self.table.relabel.connect(self._relabel)
        self.table.exclude.connect(self._exclude)
        self.table.restore.connect(self._restore)
        self.table.show_sample.connect(self._open_sample)
        layout.addWidget(self.table)
        self.map_title = QLabel("Where the model puts each example (similar examples close together)")
        self.map_title.setObjectName("sectionTitle")
        layout.addWidget(self.map_title)
        self.map = EmbeddingMap(height=300)
        self.map.picked.connect(self._picked)
        layout.addWidget(self.map)
        self.picked_note = QLabel("")
        self.picked_note.setObjectName("note")
        layout.addWidget(self.picked_note)
        self.result: dict[str, Any] | None = None
        self.job: Any = None
        self.thumb_job: Any = None
        self._show_results(False)

    def _show_results(self, on: bool) -> None:
        for w in (self.table, self.map_title, self.map, self.picked_note):
            w.setVisible(on)

    def reload(self) -> None:
        """The project changed or was re-read: offer the search only when a model exists."""
        project = self.state.project
        anomaly = project is not None and project.is_anomaly
        has_run = project is not None and bool(project.list_runs())
        self.find_button.setVisible(not anomaly)
        self.find_button.setEnabled(has_run and not anomaly)
        if anomaly or not has_run:
            self.note.setText(ANOMALY_NOTE if anomaly else
                              "Train a model first: it is the model that points out possibly mislabelled examples.")
            self._show_results(False)
            self.result = None
        elif self.result is None and not (self.job is not None and self.job.isRunning()):
            self.note.setText(INTRO)

    @Slot()
    def find(self) -> None:
        if self.state.project is None or (self.job is not None and self.job.isRunning()):
            return
        self.note.setText("Looking at every training and validation example…")
        self.job = self.state.run("suspects", {"top": 200}, succeeded=self._found, failed=self._failed, owner=self)

    @Slot(object)
    def _found(self, result: dict[str, Any]) -> None:
        self.result = result
        self._show_results(True)
        self.table.set_suspects(result)
        self.map.set_map(result.get("map") or {})
        share = result["n_flagged"] / max(1, result["n_ranked"])
        if share > WEAK_MODEL_SHARE:  # the model, not the labels, is likely what is wrong
            self.note.setText(f"The model disagrees with {100 * share:.0f} % of the labels: it is probably not good "
                              "enough yet to judge them. Train a better model first (more epochs, more data); "
                              "until then, treat this list with care.")
        else:
            self.note.setText("Most suspicious first. Double-click one to see it; select rows and fix them below.")
        if result.get("suspects"):
            self.thumb_job = start_job(lambda _r: load_thumbnails(result["suspects"]), "suspect thumbnails",
                                       succeeded=self._thumbs)

    @Slot(object)
    def _thumbs(self, thumbs: dict[str, np.ndarray]) -> None:
        if self.result is not None:
            self.table.set_suspects(self.result, thumbs)

    @Slot(object)
    def _failed(self, exc: BaseException) -> None:
        self.note.setText("The search did not finish.")
        dialogs.show_error(self, exc, "Could not look for mislabelled examples")

    # ------------------------------------------------------------------------------------------ fixing
    def _curate(self, names: list[str], action: str, label: str | None = None) -> None:
        if not names or self.state.project is None:
            return
        self._pending = (names, action, label)
        self.state.run("curate", {"names": names, "action": action, "label": label}, succeeded=self._curated,
                       failed=self._failed_curate, owner=self)

    @Slot(list, str)
    def _relabel(self, names: list[str], label: str) -> None:
        self._curate(names, "relabel", label)

    @Slot(list)
    def _exclude(self, names: list[str]) -> None:
        self._curate(names, "exclude")

    @Slot(list)
    def _restore(self, names: list[str]) -> None:
        self._curate(names, "restore")

    @Slot(object)
    def _curated(self, out: dict[str, Any]) -> None:
        done = {c["name"]: c for c in out.get("changed") or []}
        for row, item in enumerate(self.table.items):
            change = done.get(item["name"]) or done.get(item["name"].split("#")[0])
            if change is None:
                continue
            text = ("excluded" if change["excluded"] else f"now {change['to']}") + f" (was {change['from']})"
            self.table.table.setItem(row, 2, QTableWidgetItem(text))
        self.note.setText(f"{len(done)} example(s) changed (recorded in the project; Restore undoes it). Train "
                          "again to use the corrected labels.")

    @Slot(object)
    def _failed_curate(self, exc: BaseException) -> None:
        dialogs.show_error(self, exc, "Could not change the labels")

    # ------------------------------------------------------------------------------------------ viewing
    @Slot(dict)
    def _open_sample(self, item: dict[str, Any]) -> None:
        self._view(str(item.get("path", "")), f"{item['name']}: labelled {item['label']}, looks like "
                   f"{item['suggested']} (disagreement {100 * float(item['score']):.0f} %)")

    @Slot(dict)
    def _picked(self, sample: dict[str, Any]) -> None:
        caption = (f"{sample.get('names')}: labelled {sample.get('labels')}, disagreement "
                   f"{100 * float(sample.get('score') or 0):.0f} %")
        self.picked_note.setText(caption)
        self._view(str(sample.get("paths", "")), caption)

    def _view(self, path: str, caption: str) -> None:
        if Path(path).suffix.lower() not in IMAGE_SUFFIXES:
            return
        from studio.core.data.image import load_image
        from studio.gui.widgets.gallery import ImageViewer, pixmap_from_array

        try:
            array = load_image(path, 384, 3)
        except Exception as exc:  # noqa: BLE001 - a file moved since: say so
            dialogs.show_error(self, exc, "Could not open the example")
            return
        self.viewer = ImageViewer(pixmap_from_array(array), caption, self)
        self.viewer.open()
