"""Evaluate page: how good is the model? Accuracy, per-class table, confusion matrix, misclassified examples.

Runs the worker's ``evaluate`` job (:func:`studio.core.evaluate.evaluate`) on the validation or test split, or on
another labelled folder / CSV the user picks (same classes). The mistakes' thumbnails load in a light thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.gui.pages.base import Page
from studio.gui.widgets import anomaly_panels
from studio.gui.plots import HeatMap
from studio.gui.widgets import dialogs
from studio.gui.widgets.gallery import ImageViewer, Thumbnail, pixmap_from_array
from studio.gui.widgets.mistakes import count_title, place_text, recording_index
from studio.gui.widgets.taskbar import TaskBar
from studio.gui.widgets.verdict import VerdictPanel, remember, report_for_model
from studio.gui.workers import start_job

MAX_GALLERY = 24
GALLERY_COLUMNS = 7
TABLE_TIPS = (
    "The class the examples really belong to.",
    "Precision: when the model answers this class, how often it is right.",
    "Recall: of the real examples of this class, how many the model finds.",
    "F1: one figure for precision and recall together (their harmonic mean); 100 % only when both are.",
    "How many examples of this class were checked.",
)
MISTAKE_TIPS = (
    "Which example: for sensors the CSV file and the time into it (the line of the CSV it starts at).",
    "The class it really belongs to.",
    "What the model answered instead.",
    "How sure the model was of its (wrong) answer.",
)


def headline_figures(result: dict[str, Any]) -> dict[str, Any]:
    """What the Evaluate page leads with: per recording when a sensor recording holds more than one window
    (the user's question is about recordings), else per example. Keys: accuracy, n, unit, per_class, labels,
    matrix, misclassified, n_wrong, per_recording, window_accuracy."""
    windows = (result.get("windows_per_recording") or {}).get("max") or 0
    labels = result.get("labels") or []
    if result.get("recording_accuracy") is not None and int(windows) > 1:
        matrix = result.get("recording_confusion_matrix") or []
        wrong = sum(v for i, row in enumerate(matrix) for j, v in enumerate(row) if i != j)
        return {"accuracy": float(result["recording_accuracy"]), "n": int(result.get("recordings") or 0),
                "unit": "recordings", "per_class": result.get("recording_per_class") or {}, "labels": labels,
                "matrix": matrix, "misclassified": result.get("recording_misclassified") or [], "n_wrong": wrong,
                "per_recording": True, "window_accuracy": float(result.get("accuracy") or 0.0)}
    return {"accuracy": float(result.get("accuracy") or 0.0), "n": int(result.get("n") or 0), "unit": None,
            "per_class": result.get("per_class") or {}, "labels": labels,
            "matrix": result.get("confusion_matrix") or [], "misclassified": result.get("misclassified") or [],
            "n_wrong": int(result.get("n_misclassified") or len(result.get("misclassified") or [])),
            "per_recording": False, "window_accuracy": None}


def per_class_rows(result: dict[str, Any]) -> list[tuple[str, float, float, float, int]]:
    """(class, precision, recall, f1, support) whether per_class is a dict by class or a list of dicts."""
    per_class = result.get("per_class") or {}
    rows = []
    items = per_class.items() if isinstance(per_class, dict) else ((d.get("label") or d.get("class"), d) for d in per_class)
    for name, d in items:
        rows.append((str(name), float(d.get("precision") or 0.0), float(d.get("recall") or 0.0),
                     float(d.get("f1") or 0.0), int(d.get("support") or d.get("n") or 0)))
    return rows


def misclassified_items(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Normalise the core's misclassified entries to dicts with path/true/predicted/confidence (may be None)."""
    labels = list(result.get("labels") or [])
    out = []
    for item in result.get("misclassified") or []:
        if not isinstance(item, dict):
            continue
        true = item.get("true", item.get("label"))
        pred = item.get("predicted", item.get("prediction", item.get("pred")))
        if isinstance(true, int) and true < len(labels):
            true = labels[true]
        if isinstance(pred, int) and pred < len(labels):
            pred = labels[pred]
        conf = item.get("confidence", item.get("probability", item.get("score")))
        out.append({"path": item.get("path"), "true": true, "predicted": pred, "confidence": conf,
                    "where": item.get("recording") or item.get("id") or item.get("source") or item.get("window")})
    return out


SPLIT_WORDS = {"val": "the validation examples", "test": "the test examples", "train": "the training examples"}


def results_on(result: dict[str, Any]) -> str:
    """Which data the figures below are about: a split of the project or a folder."""
    split = result.get("split")
    if split:
        return f"Results on {SPLIT_WORDS.get(split, split)}."
    source = result.get("source")
    if not source:
        return ""
    return f"Results on the {'file' if Path(str(source)).suffix.lower() in ('.csv', '.txt') else 'folder'} {source}."


class EvaluatePage(Page):
    step = "evaluate"
    title = "Evaluate"
    subtitle = "How often is the model right on examples it never trained on, and where does it go wrong?"

    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        _box, row = self.guarded_row()
        row.addWidget(QLabel("Check on:"))
        self.split_combo = QComboBox()
        self.split_combo.setObjectName("splitCombo")
        row.addWidget(self.split_combo)
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setObjectName("primaryButton")
        self.evaluate_button.clicked.connect(self.evaluate_split)
        row.addWidget(self.evaluate_button)
        row.addStretch(1)
        self.report_button = QPushButton("Open report")
        self.report_button.setObjectName("openReportButton")
        self.report_button.clicked.connect(self._open_report)
        row.addWidget(self.report_button)
        self.folder_box, row = self.guarded_row()
        row.addWidget(QLabel("Or another labelled folder:"))
        self.folder_edit = QLineEdit()
        self.folder_edit.setObjectName("evalFolderEdit")
        self.folder_edit.setPlaceholderText("A folder with the same class sub-folders (or a CSV for sensors)")
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._choose_folder)
        self.folder_button = QPushButton("Evaluate this folder")
        self.folder_button.clicked.connect(self.evaluate_folder)
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        row.addWidget(self.folder_button)
        self.task = TaskBar()
        self.body.addWidget(self.task)

        self.results = QWidget()
        results = QVBoxLayout(self.results)
        results.setContentsMargins(0, 0, 0, 0)
        results.setSpacing(12)
        self.verdict = VerdictPanel()
        self.verdict.changed.connect(self._verdict_changed)
        results.addWidget(self.verdict)
        top = QHBoxLayout()
        box = QVBoxLayout()
        self.accuracy_label = QLabel("—")
        self.accuracy_label.setObjectName("bigNumber")
        self.accuracy_note = QLabel()
        self.accuracy_note.setObjectName("note")
        self.accuracy_note.setWordWrap(True)
        box.addWidget(self.accuracy_label)
        box.addWidget(self.accuracy_note)
        box.addWidget(self.section("Per class"))
        self.table = QTableWidget(0, 5)
        self.table.setObjectName("perClassTable")
        self.table.setHorizontalHeaderLabels(["Class", "Precision", "Recall", "F1", "Examples"])
        for i, tip in enumerate(TABLE_TIPS):
            self.table.horizontalHeaderItem(i).setToolTip(tip)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setMinimumHeight(150)
        self.table.setMaximumHeight(260)
        box.addWidget(self.table)
        help_text = QLabel("Precision: when the model says this class, how often it is right. "
                           "Recall: of the real examples of this class, how many it finds. "
                           "F1: both in one figure.")
        help_text.setObjectName("note")
        help_text.setWordWrap(True)
        box.addWidget(help_text)
        box.addStretch(1)
        top.addLayout(box, 1)
        cm_box = QVBoxLayout()
        cm_box.addWidget(self.section("Confusion matrix"))
        self.heatmap = HeatMap(height=330)
        cm_box.addWidget(self.heatmap)
        top.addLayout(cm_box, 1)
        results.addLayout(top)
        self.gallery_title = self.section("Mistakes")
        results.addWidget(self.gallery_title)
        self.gallery = QFrame()
        self.gallery_layout = QGridLayout(self.gallery)
        self.gallery_layout.setContentsMargins(0, 0, 0, 0)
        self.gallery_layout.setSpacing(8)
        results.addWidget(self.gallery)
        self.mistakes_table = QTableWidget(0, 4)
        self.mistakes_table.setHorizontalHeaderLabels(["Example", "True class", "Model said", "Confidence"])
        for i, tip in enumerate(MISTAKE_TIPS):
            self.mistakes_table.horizontalHeaderItem(i).setToolTip(tip)
        self.mistakes_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.mistakes_table.verticalHeader().setVisible(False)
        self.mistakes_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.mistakes_table.setMaximumHeight(220)
        results.addWidget(self.mistakes_table)
        from studio.gui.pages.why_panel import WhyPanel

        self.why = WhyPanel(state)  # why-maps of the mistakes and of any sample (issue 14)
        self.mistakes_table.cellDoubleClicked.connect(self.why.explain_row)
        results.addWidget(self.why)
        self.body.addWidget(self.results)
        self.body.addStretch(1)
        self.results.setVisible(False)
        self.last_result: dict[str, Any] | None = None
        self.gallery_job = None

    # ------------------------------------------------------------------------------------------ state
    def reload(self) -> None:
        project = self.state.project
        if project is None:
            return
        anomaly_panels.adapt_subtitle(self, "evaluate")
        current = self.split_combo.currentData()
        self.split_combo.clear()
        self.split_combo.addItem("Validation examples", "val")
        try:
            splits = project.load_manifest().get("split_counts", {})
        except Exception:  # noqa: BLE001
            splits = {}
        if sum((splits.get("test") or {}).values()):
            self.split_combo.addItem("Test examples", "test")
        self.split_combo.addItem("Training examples", "train")
        index = self.split_combo.findData(current)
        self.split_combo.setCurrentIndex(max(index, 0))
        report = report_for_model(project)
        self.report_button.setEnabled(report is not None)
        self.report_button.setToolTip(f"Open {report} in your browser" if report is not None else
                                      "The report is written with each export: export this model first.")
        last = self.last_result
        if last is None or last.get("_project") != str(project.path) or last.get("run") != project.data.get("active_run"):
            self.forget()  # another project, or another model since: nothing shown is about the model now
            self.task.set_idle("Press Evaluate to test the fitted detector." if project.is_anomaly else
                               "Press Evaluate to test the trained model.")

    @Slot()
    def _project_switched(self) -> None:
        if not self.is_busy():
            self.folder_edit.clear()  # another project's test folder: its data would not fit this project
        super()._project_switched()

    def forget(self) -> None:
        super().forget()
        self.last_result = None
        self.results.setVisible(False)
        self.verdict.set_result(None)
        anomaly_panels.clear_evaluation(self)

    @Slot()
    def _open_report(self) -> None:
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        report = report_for_model(self.state.project)
        if report is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(report)))

    @Slot()
    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a labelled folder")
        if folder:
            self.folder_edit.setText(folder)

    # ------------------------------------------------------------------------------------------ run
    @Slot()
    def evaluate_split(self) -> None:
        self._run(split=self.split_combo.currentData(), data_path=None)

    @Slot()
    def evaluate_folder(self) -> None:
        path = self.folder_edit.text().strip()
        if not path:
            dialogs.info(self, "Evaluate", "Choose a labelled folder first.")
            return
        self._run(split=None, data_path=path)

    def _run(self, split: str | None, data_path: str | None) -> None:
        project = self.state.project
        if project is None or self.is_busy():
            return
        self.job = self.state.run("evaluate", {"split": split, "data_path": data_path}, succeeded=self._evaluated,
                                  failed=self._failed, task=self.task, owner=self)
        self.task.on_status("Evaluating…" if self.state.tf_ready else "Loading TensorFlow…")

    @Slot(object)
    def _evaluated(self, result: dict[str, Any]) -> None:
        self.show_result(result)
        self.task.set_idle(results_on(result))
        self.state.mark_done("evaluate")

    @Slot(object)
    def _failed(self, exc: BaseException) -> None:
        shown = results_on(self.last_result) if self.last_result is not None else ""
        # the figures still on the page are the last evaluation's: say which data they are about
        self.task.set_idle(f"Evaluation did not finish. Still shown: {shown[0].lower()}{shown[1:]}" if shown
                           else "Evaluation did not finish.")
        dialogs.show_error(self, exc, "Could not evaluate the model")

    # ------------------------------------------------------------------------------------------ show
    def show_result(self, result: dict[str, Any]) -> None:
        if anomaly_panels.show_evaluation(self, result):  # AUROC, threshold, heat maps (widgets.anomaly_panels)
            return
        self.last_result = result
        self.results.setVisible(True)
        project = self.state.project
        self.verdict.set_result(result, project.modality if project is not None else "image")
        head = headline_figures(result)
        acc, n = head["accuracy"], head["n"]
        self.accuracy_label.setText(f"{100 * acc:.1f} % right")
        source = result.get("_source")
        split_words = {"val": "validation", "test": "test", "train": "training"}
        if head["per_recording"]:
            where = (f"{n} {split_words[str(source)]} recordings" if str(source) in split_words
                     else f"the {n} recordings in {source}")
            windows = int(result.get("n") or 0)
            self.accuracy_note.setText(
                f"{round(acc * n)} of {where} classified correctly (each recording: the mean of its windows' "
                f"answers). Per window: {100 * head['window_accuracy']:.1f} % of {windows} windows.")
        else:
            where = (f"{n} {split_words[str(source)]} examples" if str(source) in split_words
                     else f"the {n} examples in {source}")
            self.accuracy_note.setText(f"{round(acc * n)} of {where} classified correctly.")
        rows = per_class_rows({"per_class": head["per_class"]})
        self.table.setRowCount(len(rows))
        for i, (name, p, r, f1, support) in enumerate(rows):
            for j, text in enumerate((name, f"{100 * p:.0f} %", f"{100 * r:.0f} %", f"{100 * f1:.0f} %", str(support))):
                item = QTableWidgetItem(text)
                if j:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(i, j, item)
        self.heatmap.set_matrix(head["labels"], head["matrix"])
        items = misclassified_items({"labels": head["labels"], "misclassified": head["misclassified"]})
        self._show_mistakes(items, head["n_wrong"], "Recordings the model got wrong" if head["per_recording"]
                            else "Mistakes")

    @Slot()
    def _verdict_changed(self) -> None:
        project, result = self.state.project, self.last_result
        if project is not None and result is not None and self.verdict.verdict is not None:
            remember(project, result.get("run"), self.verdict.verdict)

    def _show_mistakes(self, items: list[dict[str, Any]], total: int | None = None, noun: str = "Mistakes") -> None:
        while self.gallery_layout.count():
            w = self.gallery_layout.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        self.why.set_mistakes(items)
        total = max(len(items), int(total if total is not None else len(items)))
        images = [i for i in items if i.get("path") and Path(str(i["path"])).suffix.lower() not in ("", ".csv")]
        self.gallery_title.setText(count_title(min(len(images), MAX_GALLERY) if images else len(items), total, noun))
        self.gallery.setVisible(bool(images))
        self.mistakes_table.setVisible(bool(items) and not images)
        if images:
            paths = images[:MAX_GALLERY]

            def work(reporter: Any) -> list[tuple[dict[str, Any], np.ndarray | None]]:
                from studio.core.data.image import load_image

                out = []
                for item in paths:
                    try:
                        out.append((item, load_image(item["path"], 192, 3)))
                    except Exception:  # noqa: BLE001 - a file deleted since: show the caption only
                        out.append((item, None))
                return out

            self.gallery_job = start_job(work, "gallery", succeeded=self._show_gallery)  # light: a thread here
            return
        self.mistakes_table.setRowCount(len(items))
        recordings, rate = self._recordings()
        for i, item in enumerate(items):
            conf = item.get("confidence")
            where = item.get("where") or item.get("path") or i
            values = (place_text(where, recordings, rate), str(item["true"]), str(item["predicted"]),
                      f"{100 * float(conf):.0f} %" if conf is not None else "")
            for j, text in enumerate(values):
                cell = QTableWidgetItem(text)
                cell.setData(Qt.ItemDataRole.UserRole, str(where))
                self.mistakes_table.setItem(i, j, cell)

    def _recordings(self) -> tuple[dict[str, dict[str, Any]], float | None]:
        """The project's recordings by id and the sample rate (names sensor mistakes by file and time)."""
        project = self.state.project
        if project is None or project.modality != "sensor":
            return {}, None
        try:
            manifest = project.load_manifest()
        except Exception:  # noqa: BLE001 - no manifest: the ids are all there is
            return {}, None
        rate = manifest.get("sample_rate_hz") or (manifest.get("sensor") or {}).get("sample_rate_hz")
        return recording_index(manifest), (float(rate) if rate else None)

    @Slot(object)
    def _show_gallery(self, loaded: list[tuple[dict[str, Any], np.ndarray | None]]) -> None:
        for k, (item, array) in enumerate(loaded):
            if array is None:
                continue
            conf = item.get("confidence")
            caption = (f"{Path(str(item['path'])).name}\nTrue class: {item['true']}\nModel said: {item['predicted']}"
                       + (f" ({100 * float(conf):.0f} % sure)" if conf is not None else "")
                       + f"\n{item['path']}")
            thumb = Thumbnail(pixmap_from_array(array), caption, (caption, array), size=96)
            thumb.clicked.connect(self._enlarge)
            cell = QVBoxLayout()
            box = QWidget()
            box.setLayout(cell)
            cell.setContentsMargins(0, 0, 0, 0)
            cell.setSpacing(2)
            cell.addWidget(thumb)
            text = QLabel(f"{item['true']}\n→ {item['predicted']}")
            text.setObjectName("note")
            text.setMaximumWidth(104)
            cell.addWidget(text)
            self.gallery_layout.addWidget(box, k // GALLERY_COLUMNS, k % GALLERY_COLUMNS)
        self.gallery_layout.setColumnStretch(GALLERY_COLUMNS, 1)

    @Slot(object)
    def _enlarge(self, payload: tuple[str, np.ndarray]) -> None:
        caption, array = payload
        viewer = ImageViewer(pixmap_from_array(array), caption, self)
        viewer.open()
