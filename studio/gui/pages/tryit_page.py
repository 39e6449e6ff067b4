"""Try it (issue 14): new photos, a folder, a sensor CSV or a live camera, answered by the model the device runs.

Files go to the worker's ``try_files`` job (the chosen LiteRT variant, its why-map, and beside it the trained
float model's answer, flagged when the two differ). The camera runs here, in a thread of the window's process,
with LiteRT only (:mod:`studio.core.live`, no TensorFlow): the worker's ``live_model`` job says which
``.tflite`` to load. A frozen frame can be explained (``try_files`` on a temporary PNG) or saved into the
dataset under a label (the worker's ``add_capture`` job writes the project). Without Qt Multimedia or without
a camera the page says so in plain words; tests give it a fake frame source (:attr:`TryItPage.source_factory`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QGridLayout, QHBoxLayout, QLabel,
                               QPushButton, QVBoxLayout, QWidget)

from studio.gui.pages.base import Page
from studio.gui.widgets import dialogs
from studio.gui.widgets.trust import LiveView, WhyMapView

FLOAT_ONLY = "__float__"
COLUMNS = 3
PAINT_MS = 33  # the newest answered frame is painted at most ~30 times a second, however fast the model is
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff)"
CSV_FILTER = "CSV files (*.csv *.tsv *.txt)"


def shown_names(paths: list[str]) -> list[str]:
    """Each file's name, with its folder when another tried file has the same name (good/000.png, hole/000.png)."""
    names = [Path(p).name for p in paths]
    return [f"{Path(p).parent.name}/{n}" if names.count(n) > 1 else n for p, n in zip(paths, names)]


def answer_text(item: dict[str, Any], model: dict[str, Any] | None, float_model: dict[str, Any] | None,
                name: str | None = None) -> str:
    """The caption under one tried file (``name``: how it is called, default its file name): the device's
    answer, and the float model's beside it."""
    name = name or Path(str(item["path"])).name
    if item.get("error"):
        return f"{name}: {item['error']}"
    who = "Device model" if (model or {}).get("kind") == "litert" else "Trained model"
    if "verdict" in item:  # an anomaly detector: OK / NOT OK, the score against the threshold
        who = "Device model" if (model or {}).get("kind") == "litert" else "Fitted detector"
        text = (f"{name}\n{who}: {item['verdict']} (score {float(item['score']):.3g}, "
                f"threshold {float(item['threshold']):.3g})")
        if item.get("float") and float_model:
            f = item["float"]
            mark = "  ⚠ differs" if item.get("differs") else ""
            text += (f"\nFitted float detector: {f['verdict']} (score {float(f['score']):.3g}, threshold "
                     f"{float(f['threshold']):.3g}){mark}")
        return text
    text = f"{name}\n{who}: {item['label']} ({100 * float(item['confidence']):.0f} % sure)"
    if item.get("float") and float_model:
        f = item["float"]
        mark = "  ⚠ differs" if item.get("differs") else ""
        text += f"\nTrained float model: {f['label']} ({100 * float(f['confidence']):.0f} %){mark}"
    return text


ANOMALY_TRY_TEXT = (
    "An anomaly detector answers <b>OK / NOT OK</b>: a {one}'s score against the threshold, and red where it "
    "looks least like the good examples. NOT OK means the score is above the threshold. To see detection and "
    "false-alarm rates on a whole labelled folder (good and defect examples), use <b>Evaluate</b>'s "
    "<i>another labelled folder</i>.")


class TryItPage(Page):
    step = "tryit"
    title = "Try it"
    subtitle = ("Drop new photos or a folder of them here, or point a camera at a part: the answers come "
                "from the model the device will run (through LiteRT), beside the trained model's.")

    def __init__(self, state: Any) -> None:
        super().__init__(state)
        self.setAcceptDrops(True)
        # An anomaly project's page says where a detector is tried instead (its answer is OK / NOT OK)
        self.anomaly_note = self.note()
        self.anomaly_note.setObjectName("tryAnomalyNote")
        self.anomaly_note.setWordWrap(True)
        self.anomaly_note.setVisible(False)
        self.body.addWidget(self.anomaly_note)
        self.model_title = self.section("1. Which model answers")
        self.body.addWidget(self.model_title)
        self.model_box = QWidget()
        form = QFormLayout(self.model_box)
        form.setContentsMargins(0, 0, 0, 0)
        self.variant_combo = QComboBox()
        self.variant_combo.setObjectName("tryVariantCombo")
        self.variant_combo.currentIndexChanged.connect(self._model_changed)
        form.addRow("Model:", self.variant_combo)
        self.compare_check = QCheckBox("Also show the trained (float) model's answer")
        self.compare_check.setChecked(True)
        form.addRow("", self.compare_check)
        self.body.addWidget(self.model_box)

        self.files_title = self.section("2. Try files")
        self.body.addWidget(self.files_title)
        self.files_box, row = self.guarded_row()
        self.files_button = QPushButton("Choose photos…")
        self.files_button.setObjectName("primaryButton")
        self.files_button.clicked.connect(self._choose_files)
        self.folder_button = QPushButton("Choose a folder…")
        self.folder_button.clicked.connect(self._choose_folder)
        row.addWidget(self.files_button)
        row.addWidget(self.folder_button)
        row.addStretch(1)
        self.files_note = self.note("…or drop files or a folder anywhere on this page.")
        self.body.addWidget(self.files_note)
        self.results_box = QWidget()
        self.results_grid = QGridLayout(self.results_box)
        self.results_grid.setContentsMargins(0, 0, 0, 0)
        self.body.addWidget(self.results_box)

        self.camera_title = self.section("3. Live camera")
        self.body.addWidget(self.camera_title)
        self.camera_box = QWidget()
        cam = QVBoxLayout(self.camera_box)
        cam.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.camera_combo = QComboBox()
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh_cameras)
        self.start_button = QPushButton("Start camera")
        self.start_button.setObjectName("startCameraButton")
        self.start_button.clicked.connect(self.toggle_camera)
        for w in (QLabel("Camera:"), self.camera_combo, self.refresh_button, self.start_button):
            row.addWidget(w)
        row.addStretch(1)
        cam.addLayout(row)
        self.camera_note = self.note()
        cam.addWidget(self.camera_note)
        live_row = QHBoxLayout()
        self.live_view = LiveView()
        self.live_view.save_requested.connect(self.save_frame)
        self.live_view.freeze_toggled.connect(self._frozen)
        live_row.addWidget(self.live_view, 3)
        side = QVBoxLayout()
        self.why_frame_button = QPushButton("Why? (the frozen frame)")
        self.why_frame_button.setEnabled(False)
        self.why_frame_button.clicked.connect(self.explain_frame)
        self.frame_why = WhyMapView()
        self.frame_why.setMaximumWidth(400)
        side.addWidget(self.why_frame_button)
        side.addWidget(self.frame_why)
        side.addStretch(1)
        live_row.addLayout(side, 2)
        cam.addLayout(live_row)
        self.body.addWidget(self.camera_box)

        # tests replace this with a function returning a FakeFrameSource; default: the chosen Qt camera
        self.source_factory: Callable[[str | None], Any] | None = None
        self.live_thread: Any = None
        self.live_model: Any = None
        self._latest: Any = None
        self.last_result: dict[str, Any] | None = None
        self.paint_timer = QTimer(self)
        self.paint_timer.setInterval(PAINT_MS)
        self.paint_timer.timeout.connect(self._paint)
        self._variants_job: Any = None

    # ------------------------------------------------------------------------------------------ model
    def reload(self) -> None:
        project = self.state.project
        if project is None:
            return
        image = project.modality == "image"
        anomaly = bool(project.is_anomaly)
        self.subtitle = type(self).subtitle if image else (
            "Drop new recordings (CSV files) or a folder of them here: the answers come from the model the "
            "device will run (through LiteRT), beside the trained model's.")
        self.files_button.setText("Choose photos…" if image else "Choose CSV files…")
        self.compare_check.setText("Also show the fitted (float) detector's answer" if anomaly else
                                   "Also show the trained (float) model's answer")
        # a detector's answer is a verdict, not a class: the note says what OK / NOT OK means
        self.anomaly_note.setText(ANOMALY_TRY_TEXT.format(one="photo" if image else "recording") if anomaly
                                  else "")
        self.anomaly_note.setVisible(anomaly)
        # the live camera answers with classes (studio.core.live); a detector is tried on files
        self.camera_title.setVisible(image and not anomaly)
        self.camera_box.setVisible(image and not anomaly)
        if anomaly:
            self.subtitle = (f"Drop new {'photos' if image else 'recordings (CSV files)'} or a folder of them here: "
                             "the detector the device will run (through LiteRT) answers OK / NOT OK, beside the "
                             "fitted float detector.")
        variants = project.list_variants()
        if not variants:  # nothing converted yet: the float model answers alone (the header must not promise more)
            who = "fitted detector" if anomaly else "trained model"
            self.subtitle = (f"Drop new {'photos' if image else 'recordings (CSV files)'} or a folder of them here: "
                             f"{'OK / NOT OK from ' if anomaly else ''}the {who} (float), as no variant is built "
                             "yet; build one on Optimize to see the answers of the model the device will run"
                             + (", live from a camera too." if image and not anomaly else "."))
        self._fill_variants([{"name": n} for n in variants])
        self._variants_job = self.state.query("variants", {}, succeeded=self._show_variants)
        if image and not anomaly and self.live_thread is None:
            self.refresh_cameras()

    @Slot(object)
    def _show_variants(self, result: dict[str, Any]) -> None:
        if self.sender() is self._variants_job:
            self._fill_variants(list(result.get("variants") or []))

    def _fill_variants(self, variants: list[dict[str, Any]]) -> None:
        project = self.state.project
        current = self.variant_combo.currentData()
        self.variant_combo.blockSignals(True)
        self.variant_combo.clear()
        for v in variants:
            kind = f"{v['quantize']}, " if v.get("quantize") else ""
            self.variant_combo.addItem(f"{v['name']}  ({kind}through LiteRT, as on the device)", str(v["name"]))
        anomaly = project is not None and project.is_anomaly
        self.variant_combo.addItem("The fitted detector only (float, no variant yet)" if anomaly else
                                   "The trained model only (float, no variant yet)", FLOAT_ONLY)
        preferred = current or (project.data.get("active_variant") if project is not None else None)
        index = self.variant_combo.findData(preferred)
        self.variant_combo.setCurrentIndex(index if index >= 0 else 0)
        self.variant_combo.blockSignals(False)
        self._model_changed()

    def variant(self) -> str | None:
        """The chosen variant's name, or None for the float model alone."""
        data = self.variant_combo.currentData()
        return None if data in (None, FLOAT_ONLY) else str(data)

    @Slot()
    def _model_changed(self) -> None:
        self.compare_check.setEnabled(self.variant() is not None)
        if self.live_thread is not None and self.live_model is not None and self.variant() != self.live_model.name:
            self.stop_camera()  # another model was chosen: start again with it

    # ------------------------------------------------------------------------------------------ files
    @Slot()
    def _choose_files(self) -> None:
        image = self.state.project is None or self.state.project.modality == "image"
        paths, _ = QFileDialog.getOpenFileNames(self, "Choose files to try", "", IMAGE_FILTER if image else CSV_FILTER)
        if paths:
            self.try_paths(paths)

    @Slot()
    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder to try")
        if folder:
            self.try_paths([folder])

    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.try_paths(paths)

    def try_paths(self, paths: list[str], why: bool = True) -> None:
        """Answer files / folders with the chosen model (in the worker)."""
        if self.state.project is None or self.is_busy():
            return
        request = {"paths": [str(p) for p in paths], "variant": self.variant(),
                   "compare_float": self.compare_check.isChecked(), "why": why}
        self.files_note.setText("Answering…")
        self.job = self.state.run("try_files", request, succeeded=self._answered, failed=self._failed, owner=self)

    @Slot(object)
    def _answered(self, out: dict[str, Any]) -> None:
        self.last_result = out
        while self.results_grid.count():
            w = self.results_grid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        items = list(out.get("items") or [])
        names = shown_names([str(i["path"]) for i in items])
        for k, item in enumerate(items):
            cell = QWidget()
            lay = QVBoxLayout(cell)
            lay.setContentsMargins(0, 0, 0, 0)
            view = WhyMapView()
            view.setMaximumWidth(320)
            if item.get("why"):
                view.show_result({**item["why"], "path": item["path"]})
            elif item.get("error"):  # the whole error is the caption below; the picture's place says it briefly
                view.show_message("Could not read this file.")
            caption = QLabel(answer_text(item, out.get("model"), out.get("float_model"), names[k]))
            caption.setObjectName("tryAnswer")
            caption.setWordWrap(True)
            lay.addWidget(view)
            lay.addWidget(caption)
            self.results_grid.addWidget(cell, k // COLUMNS, k % COLUMNS)
        model = out.get("model") or {}
        text = f"{len(items)} file(s) answered by {model.get('name')} ({model.get('what')})."
        if out.get("anomaly"):
            text += f" {out.get('n_not_ok', 0)} of them NOT OK (score above {float(model['threshold']):.3g})."
        if out.get("float_model"):
            who = "fitted float detector" if out.get("anomaly") else "trained float model"
            text += (f" The {who} answers differently on {out['n_differ']} of them."
                     if out.get("n_differ") else f" The {who} gives the same answers.")
        self.files_note.setText(text)

    @Slot(object)
    def _failed(self, exc: BaseException) -> None:
        self.files_note.setText("Could not answer these files.")
        dialogs.show_error(self, exc, "Could not try these files")

    # ------------------------------------------------------------------------------------------ camera
    @Slot()
    def refresh_cameras(self) -> None:
        from studio.gui.camera import camera_status, list_cameras

        self.camera_combo.clear()
        if self.source_factory is not None:
            self.camera_combo.addItem("Test frames", None)
            usable, reason = True, ""
        else:
            for cid, name in list_cameras():
                self.camera_combo.addItem(name, cid)
            usable, reason = camera_status()
        self.start_button.setEnabled(usable)
        self.camera_note.setText(reason or "The camera's frames are answered one after another by the variant "
                                 "chosen above; Freeze keeps one to explain or to save into the dataset.")

    @Slot()
    def toggle_camera(self) -> None:
        if self.live_thread is not None:
            self.stop_camera()
            return
        variant = self.variant()
        if variant is None:
            self.camera_note.setText("The camera answers with a variant (the model the device runs): build one "
                                     "on the Optimize page first.")
            return
        self.start_button.setEnabled(False)
        self.camera_note.setText("Loading the model…")
        self.state.query("live_model", {"variant": variant}, succeeded=self._start_live, failed=self._live_failed)

    @Slot(object)
    def _start_live(self, info: dict[str, Any]) -> None:
        from studio.core.live import LiveModel
        from studio.gui.camera import LiveThread, QtCameraSource

        self.start_button.setEnabled(True)
        try:
            self.live_model = LiveModel.load(info)
            camera_id = self.camera_combo.currentData()
            source = self.source_factory(camera_id) if self.source_factory else QtCameraSource(camera_id, self)
        except Exception as exc:  # noqa: BLE001 - a camera that will not open, a damaged model: say so
            self._live_failed(exc)
            return
        self.live_view.set_classes(self.live_model.classes)
        self.live_thread = LiveThread(self.live_model, source, self)
        self.live_thread.answered.connect(self._frame_answered)
        self.live_thread.failed.connect(self._live_failed)
        self.live_thread.ended.connect(self._live_ended)
        self.live_thread.start()
        self.paint_timer.start()
        self.start_button.setText("Stop camera")
        self.camera_note.setText(f"Answering with {info['name']} ({info.get('quantize')}, LiteRT) in this window.")

    @Slot(object)
    def _frame_answered(self, result: Any) -> None:
        self._latest = result  # painted by the timer: a fast model never floods the window

    @Slot()
    def _paint(self) -> None:
        if self._latest is not None:
            self.live_view.show_frame(self._latest)
            self._latest = None

    @Slot(object)
    def _live_failed(self, exc: BaseException) -> None:
        self.start_button.setEnabled(True)
        self.camera_note.setText(f"The camera stopped: {exc}")

    @Slot(int)
    def _live_ended(self, n: int) -> None:
        self.paint_timer.stop()
        self._paint()
        self.start_button.setText("Start camera")
        if self.live_thread is not None:
            source = self.live_thread.live.source
            if hasattr(source, "deleteLater"):
                source.deleteLater()
            self.live_thread.deleteLater()
        self.live_thread = None

    def stop_camera(self) -> None:
        thread = self.live_thread
        if thread is not None:
            thread.stop()

    def shutdown(self) -> None:
        self.stop_camera()

    def hideEvent(self, event: Any) -> None:  # noqa: N802 - Qt API: another step is shown, the camera stops
        self.stop_camera()
        super().hideEvent(event)

    @Slot(bool)
    def _frozen(self, on: bool) -> None:
        self.why_frame_button.setEnabled(on and self.live_view.last is not None)

    def _frame_png(self) -> str | None:
        """The frozen frame written to a temporary PNG (outside the project) for the worker to read."""
        last = self.live_view.last
        if last is None:
            return None
        from PIL import Image

        fd, name = tempfile.mkstemp(prefix="studio-frame-", suffix=".png")
        with open(fd, "wb") as f:
            Image.fromarray(last.frame).save(f, "PNG")
        return name

    @Slot()
    def explain_frame(self) -> None:
        """The frozen frame's answer and why-map by the same variant (worker, occlusion through LiteRT)."""
        png = self._frame_png()
        if png is None or self.state.project is None:
            return
        self.frame_why.show_message("Drawing the why-map…")
        request = {"paths": [png], "variant": self.variant(), "compare_float": False, "why": True}
        self.state.run("try_files", request, succeeded=self._frame_explained, failed=self._failed, owner=self)

    @Slot(object)
    def _frame_explained(self, out: dict[str, Any]) -> None:
        item = (out.get("items") or [{}])[0]
        if item.get("why"):
            self.frame_why.show_result({**item["why"], "path": item["path"]})
        else:
            self.frame_why.show_message(str(item.get("error") or "No why-map."))

    @Slot(str)
    def save_frame(self, label: str) -> None:
        png = self._frame_png()
        if png is None or self.state.project is None:
            return
        self.state.run("add_capture", {"file": png, "label": label}, succeeded=self._saved, failed=self._save_failed,
                       owner=self)

    @Slot(object)
    def _saved(self, entry: dict[str, Any]) -> None:
        self.camera_note.setText(f"Saved as {entry['path']} under \"{entry['label']}\" ({entry.get('split')} set). "
                                 "Train again to use it.")

    @Slot(object)
    def _save_failed(self, exc: BaseException) -> None:
        dialogs.show_error(self, exc, "Could not save the frame")
