"""Data page: choose a folder (or a CSV), import it in a worker, and show what was found.

Shows per-class counts as a bar chart (stacked by split), thumbnails (images) or a signal plot of one window
per class (sensors), and the skipped files and warnings in plain words. The choices (source, split, window)
are saved in ``project.settings["data"]``. A failed import changes nothing: the core writes only on success.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.project import SPLITS, modality_of
from studio.gui.pages.base import Page
from studio.gui.widgets import anomaly_panels
from studio.gui.plots import PALETTE, BarChart, plot_widget
from studio.gui.widgets import dialogs
from studio.gui.widgets.gallery import ImageViewer, Thumbnail, pixmap_from_array
from studio.gui.workers import start_job

THUMBS_PER_CLASS = 6
THUMB_SIZE = 96
SUSPECTS_TITLE = "4. Possibly mislabelled examples"
CHECK_TITLE = "4. Examples to check"


def load_previews(project: Any, manifest: dict[str, Any]) -> dict[str, list[tuple[str, np.ndarray]]]:
    """A few samples per class for display: (caption, uint8 image) or (caption, float32 window). Worker thread."""
    out: dict[str, list[tuple[str, np.ndarray]]] = {c: [] for c in manifest["classes"]}
    if modality_of(manifest.get("task")) == "image":
        from studio.core.data import sample_path
        from studio.core.data.image import load_image
        from studio.core.errors import StudioError

        for sample in manifest.get("samples", []):
            items = out.get(sample["label"])
            if items is None or len(items) >= THUMBS_PER_CLASS:
                continue
            path = sample_path(project, manifest, sample)
            try:
                items.append((str(path), load_image(path, THUMB_SIZE * 2, 3)))
            except (StudioError, OSError):
                continue
        return out
    from studio.core.data.sensor import cut_windows, load_recordings

    recordings = load_recordings(project)
    window, stride = int(manifest["window"]), int(manifest["stride"])
    for rec in manifest.get("recordings", []):
        items = out.get(rec["label"])
        if items is None or items or rec["id"] not in recordings:
            continue
        windows = cut_windows(recordings[rec["id"]], window, stride)
        if len(windows):
            items.append((f"{rec.get('source', rec['id'])}, first window", windows[0]))
    return out


def plain_split_text(split_counts: dict[str, dict[str, int]], unit: str) -> str:
    parts = []
    for split, label in (("train", "for training"), ("val", "for validation"), ("test", "for testing")):
        n = sum((split_counts.get(split) or {}).values())
        if n:
            parts.append(f"{n} {label}")
    return f"{unit.capitalize()}s: " + ", ".join(parts) if parts else ""


class DataPage(Page):
    step = "data"
    title = "Data"
    subtitle = "Show Studio your examples: one sub-folder per class (e.g. ok / scratch / crack)."

    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        # --- source and options
        self.body.addWidget(self.section("1. Where are your examples?"))
        row = QHBoxLayout()
        self.source_edit = QLineEdit()
        self.source_edit.setObjectName("sourceEdit")
        self.source_edit.setPlaceholderText("A folder with one sub-folder per class")
        self.folder_button = QPushButton("Choose folder…")
        self.folder_button.clicked.connect(self._choose_folder)
        self.csv_button = QPushButton("Choose CSV file…")
        self.csv_button.clicked.connect(self._choose_csv)
        row.addWidget(self.source_edit, 1)
        row.addWidget(self.folder_button)
        row.addWidget(self.csv_button)
        self.body.addLayout(row)

        form = QFormLayout()
        form.setHorizontalSpacing(16)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        split_row = QHBoxLayout()
        self.split_slider = QSlider(Qt.Orientation.Horizontal)
        self.split_slider.setRange(5, 50)
        self.split_slider.setSingleStep(5)
        self.split_slider.setPageStep(5)
        self.split_slider.setValue(20)
        self.split_slider.setMaximumWidth(320)
        self.split_label = QLabel()
        self.split_slider.valueChanged.connect(self._update_split_label)
        split_row.addWidget(self.split_slider)
        split_row.addSpacing(12)
        split_row.addWidget(self.split_label)
        split_row.addStretch(1)
        form.addRow("Kept aside to check the model:", split_row)

        self.window_spin = QSpinBox()
        self.window_spin.setRange(0, 100_000)
        self.window_spin.setSpecialValueText("automatic")
        self.window_spin.setSuffix(" rows")
        self.stride_spin = QSpinBox()
        self.stride_spin.setRange(0, 100_000)
        self.stride_spin.setSpecialValueText("automatic")
        self.stride_spin.setSuffix(" rows")
        self.label_column_edit = QLineEdit()
        self.label_column_edit.setPlaceholderText("automatic (a column named label or class)")
        self.recording_column_edit = QLineEdit()
        self.recording_column_edit.setPlaceholderText("optional")
        self.sensor_rows = [
            ("Window length:", self.window_spin),
            ("Step between windows:", self.stride_spin),
            ("CSV: class column:", self.label_column_edit),
            ("CSV: recording column:", self.recording_column_edit),
        ]
        self.sensor_labels: list[QLabel] = []
        for text, widget in self.sensor_rows:
            label = QLabel(text)
            self.sensor_labels.append(label)
            widget.setMaximumWidth(320)
            form.addRow(label, widget)
        self.body.addLayout(form)

        self.import_button, self.task = self.add_action_row("Import", self.start_import)

        # --- results
        self.results = QWidget()
        results = QVBoxLayout(self.results)
        results.setContentsMargins(0, 0, 0, 0)
        results.setSpacing(12)
        results.addWidget(self.section("2. What Studio found"))
        self.summary = QLabel()
        self.summary.setObjectName("dataSummary")
        self.summary.setWordWrap(True)
        results.addWidget(self.summary)
        self.chart = BarChart(height=200)
        self.chart.setMaximumHeight(230)
        results.addWidget(self.chart)
        self.warnings_label = QLabel()
        self.warnings_label.setObjectName("warningText")
        self.warnings_label.setWordWrap(True)
        results.addWidget(self.warnings_label)
        self.skipped_title = QLabel()
        results.addWidget(self.skipped_title)
        self.skipped_table = QTableWidget(0, 2)
        self.skipped_table.setObjectName("skippedTable")
        self.skipped_table.setHorizontalHeaderLabels(["File", "Why it was left out"])
        self.skipped_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.skipped_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.skipped_table.verticalHeader().setVisible(False)
        self.skipped_table.setMaximumHeight(150)
        self.skipped_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        results.addWidget(self.skipped_table)
        self.preview_title = self.section("3. Examples per class")
        results.addWidget(self.preview_title)
        self.preview = QFrame()
        self.preview_layout = QGridLayout(self.preview)
        self.preview_layout.setContentsMargins(0, 0, 0, 0)
        self.preview_layout.setHorizontalSpacing(8)
        self.preview_layout.setVerticalSpacing(8)
        results.addWidget(self.preview)
        from studio.gui.pages.suspects_panel import SuspectsPanel

        self.suspects_title = self.section(SUSPECTS_TITLE)
        results.addWidget(self.suspects_title)
        self.suspects = SuspectsPanel(state)  # issue 14: found by the trained model, fixed reversibly
        results.addWidget(self.suspects)
        self.body.addWidget(self.results)
        self.body.addStretch(1)
        self.preview_job = None
        self._update_split_label(self.split_slider.value())
        self._shown_manifest_time: str | None = None

    # ------------------------------------------------------------------------------------------ state
    def reload(self) -> None:
        project = self.state.project
        if project is None:
            return
        sensor = project.modality == "sensor"
        self.subtitle = (
            "Show Studio your recordings: one sub-folder per class with one CSV per recording, or one CSV "
            "with a class column." if sensor else type(self).subtitle
        )
        self.csv_button.setVisible(sensor)
        for (_text, widget), label in zip(self.sensor_rows, self.sensor_labels):
            widget.setVisible(sensor)
            label.setVisible(sensor)
        self.source_edit.setPlaceholderText(
            "A folder with one sub-folder per class, or one CSV file with a class column"
            if sensor
            else "A folder with one sub-folder per class (png, jpg, bmp, gif, tiff)"
        )
        saved = self.state.page_settings("data")
        manifest = None
        if project.has_data():
            try:
                manifest = project.load_manifest()
            except Exception as exc:  # noqa: BLE001 - a corrupt manifest: say so, let the user re-import
                dialogs.show_error(self, exc, "Could not read the imported data")
        if not self.is_busy():
            self.source_edit.setText(str(saved.get("source") or (manifest or {}).get("source") or ""))
            self.split_slider.setValue(int(round(100 * float(saved.get("val_split", 0.2)))))
            self._update_split_label(self.split_slider.value())  # (same value, another kind of project)
            self.window_spin.setValue(int(saved.get("window") or 0))
            self.stride_spin.setValue(int(saved.get("stride") or 0))
            self.label_column_edit.setText(saved.get("label_column") or "")
            self.recording_column_edit.setText(saved.get("recording_column") or "")
        self._update_import_text(manifest is not None)
        self.show_manifest(manifest)
        self.suspects_title.setText(CHECK_TITLE if project is not None and project.is_anomaly else SUSPECTS_TITLE)
        self.suspects.reload()

    def _update_import_text(self, has_data: bool) -> None:
        self.import_button.setText("Import again" if has_data else "Import")

    @Slot(int)
    def _update_split_label(self, value: int) -> None:
        project = self.state.project
        if project is not None and project.is_anomaly:  # defects never train: all of them go to validation
            self.split_label.setText(f"{value} % of the good examples for validation, {100 - value} % for "
                                     "training; every defect example is kept for validation")
        else:
            self.split_label.setText(f"{value} % for validation, {100 - value} % for training")

    # ------------------------------------------------------------------------------------------ choose source
    @Slot()
    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose the folder with your examples")
        if folder:
            self.source_edit.setText(folder)

    @Slot()
    def _choose_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a CSV recording", "", "CSV files (*.csv *.txt)")
        if path:
            self.source_edit.setText(path)

    # ------------------------------------------------------------------------------------------ import
    def import_options(self) -> dict[str, Any]:
        project = self.state.project
        options: dict[str, Any] = {"val_split": self.split_slider.value() / 100.0}
        if project is not None and project.modality == "sensor":
            options["window"] = self.window_spin.value() or None
            options["stride"] = self.stride_spin.value() or None
            options["label_column"] = self.label_column_edit.text().strip() or None
            options["recording_column"] = self.recording_column_edit.text().strip() or None
        return options

    @Slot()
    def start_import(self) -> None:
        project = self.state.project
        source = self.source_edit.text().strip()
        if project is None or self.is_busy():
            return
        if not source:
            dialogs.info(self, "Import", "Choose the folder (or CSV file) with your examples first.")
            return
        options = self.import_options()
        self.state.save_settings("data", {"source": source, **options})
        self.job = self.state.run("import", {"source": source, **options}, succeeded=self._imported,
                                  failed=self._import_failed, task=self.task, owner=self)

    @Slot(object)
    def _imported(self, result: dict[str, Any]) -> None:
        project = self.state.project
        n = sum(result["classes"].values())
        self.task.set_idle(f"Imported {n} examples in {len(result['classes'])} classes.")
        self._update_import_text(True)
        if project is not None:
            window = result.get("window")
            if window:  # show the automatic choice the core made
                self.window_spin.setValue(int(window))
                self.stride_spin.setValue(int(result.get("stride") or 0))
            try:
                self.show_manifest(project.load_manifest())
            except Exception as exc:  # noqa: BLE001
                dialogs.show_error(self, exc, "Could not read the imported data")
        self.state.refresh_steps()

    @Slot(object)
    def _import_failed(self, exc: BaseException) -> None:
        self.task.set_idle("Import cancelled — the project is unchanged." if self.job and self.job.cancelled
                          else "Import failed — the project is unchanged.")
        dialogs.show_error(self, exc, "Could not import the data")

    # ------------------------------------------------------------------------------------------ results
    def show_manifest(self, manifest: dict[str, Any] | None) -> None:
        self.results.setVisible(manifest is not None)
        if manifest is None:
            self._shown_manifest_time = None
            return
        stamp = f"{manifest.get('imported')}|{manifest.get('source')}"
        if stamp == self._shown_manifest_time:
            return
        self._shown_manifest_time = stamp
        classes = list(manifest["classes"])
        sensor = modality_of(manifest.get("task")) == "sensor"
        unit = "window" if sensor else "image"
        total = sum(manifest["counts"].values())
        lines = [f"<b>{len(classes)} classes, {total} {unit}s</b> from {manifest.get('source')}"]
        if sensor:
            lines.append(
                f"{len(manifest.get('recordings', []))} recordings, channels {', '.join(manifest['channels'])}; "
                f"windows of {manifest['window']} rows every {manifest['stride']} rows. "
                "Recordings are split as a whole, so no window of a validation recording is seen in training."
            )
        lines.append(plain_split_text(manifest.get("split_counts", {}), unit))
        lines.append(anomaly_panels.data_text(manifest))  # good vs defect counts ("" for classifiers)
        self.summary.setText("<br>".join(x for x in lines if x))
        splits = manifest.get("split_counts", {})
        self.chart.set_counts(
            classes, {s: [int((splits.get(s) or {}).get(c, 0)) for c in classes] for s in SPLITS}
        )
        warnings = manifest.get("warnings", [])
        self.warnings_label.setVisible(bool(warnings))
        self.warnings_label.setText("<br>".join(f"⚠ {w}" for w in warnings))
        skipped = manifest.get("skipped", [])
        self.skipped_title.setVisible(bool(skipped))
        self.skipped_table.setVisible(bool(skipped))
        self.skipped_title.setText(f"{len(skipped)} file(s) were left out:")
        self.skipped_table.setRowCount(len(skipped))
        for i, item in enumerate(skipped):
            self.skipped_table.setItem(i, 0, QTableWidgetItem(str(item.get("path", ""))))
            self.skipped_table.setItem(i, 1, QTableWidgetItem(str(item.get("reason", ""))))
        self._clear_preview()
        self._start_previews(manifest)

    def _clear_preview(self) -> None:
        while self.preview_layout.count():
            item = self.preview_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()

    def _start_previews(self, manifest: dict[str, Any]) -> None:
        project = self.state.project
        if project is None:
            return

        def work(reporter: Any) -> dict[str, Any]:
            return {"task": manifest.get("task"), "classes": manifest["classes"],
                    "items": load_previews(project, manifest), "channels": manifest.get("channels")}

        self.preview_job = start_job(work, "previews", succeeded=self._show_previews)  # light: a thread here

    @Slot(object)
    def _show_previews(self, result: dict[str, Any]) -> None:
        self._clear_preview()
        items = result["items"]
        if modality_of(result["task"]) == "image":
            for row, cls in enumerate(result["classes"]):
                name = QLabel(f"<b>{cls}</b>")
                name.setMinimumWidth(90)
                self.preview_layout.addWidget(name, row, 0)
                for col, (caption, array) in enumerate(items.get(cls, []), start=1):
                    thumb = Thumbnail(pixmap_from_array(array), caption, (caption, array))
                    thumb.clicked.connect(self._enlarge)
                    self.preview_layout.addWidget(thumb, row, col)
            self.preview_layout.setColumnStretch(THUMBS_PER_CLASS + 1, 1)
            return
        channels = result.get("channels") or []
        for i, cls in enumerate(result["classes"]):
            plot = plot_widget(title=str(cls), bottom="row", height=170)
            plot.setMaximumHeight(200)
            plot.addLegend(offset=(-5, 5), colCount=max(1, len(channels)))
            for caption, window in items.get(cls, [])[:1]:
                for c in range(window.shape[1]):
                    name = channels[c] if c < len(channels) else f"ch{c}"
                    plot.plot(window[:, c], pen=PALETTE[c % len(PALETTE)], name=name)
                plot.setToolTip(caption)
            self.preview_layout.addWidget(plot, i // 2, i % 2)

    @Slot(object)
    def _enlarge(self, payload: tuple[str, np.ndarray]) -> None:
        caption, array = payload
        ImageViewer(pixmap_from_array(array), caption, self).open()
