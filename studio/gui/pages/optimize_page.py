"""Optimize page: make the trained model smaller, and see what it costs in accuracy — measured, not guessed.

A pruning slider (0–90 %) with its kind (whole channels removed, or weights set to zero: what each shrinks, in
plain words, :mod:`studio.gui.widgets.shrink`) and distillation, a quantization choice, quantization-aware
training, and "Build variant" (the worker's ``optimize`` job, :func:`studio.core.optimize.optimize`). Every variant
is listed with its measured file (flash) size, zipped size, RAM (arena), sparsity, accuracy through the LiteRT
interpreter and its change against the unpruned int8 model, agreement and host latency, and drawn as size vs
accuracy with the chosen device's flash limit. Below, "fit my device" (:mod:`studio.gui.widgets.search_panel`).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSlider,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from studio.gui.pages.base import Page
from studio.gui.pages.model_page import human_bytes
from studio.gui.plots import ScatterPlot
from studio.gui.widgets import dialogs
from studio.gui.widgets.search_panel import SearchPanel
from studio.gui.widgets.shrink import PruneKindBox, effect_text, pct, shown_accuracy
from studio.gui.widgets.target_combo import TargetCombo
from studio.gui.widgets.verdict import NotReadyBanner

QUANTIZATIONS = (
    ("int8", "Full int8 — smallest and fastest; needed by microcontrollers"),
    ("dynamic", "Dynamic range — int8 weights, float maths"),
    ("float16", "float16 — half the size, same accuracy"),
    ("float32", "None (float32) — the trained model as it is"),
)
COLUMNS = ("Variant", "File (flash)", "Zipped", "RAM (arena)", "Zeros", "Accuracy", "vs unpruned int8", "Agreement",
           "Time / sample", "Fits the device")
PRUNING_COLUMNS = ("Zeros", "vs unpruned int8")  # what pruning did: hidden on anomaly projects
COLUMN_TIPS = (
    "The variant's name (how it was made: pruning and number format).",
    "The size of the .tflite file: what the device stores in flash.",
    "The file's size when zipped: pruned weights (zeros) show up here, not in the file size.",
    "RAM (arena): the working memory TFLite-Micro needs to run it, as measured.",
    "Zeros: the share of the weights that pruning set to zero.",
    "Accuracy measured by running this very file (LiteRT, as on the device), on the validation examples; for "
    "sensor recordings, per recording (the mean of its windows' answers), as on the Evaluate page; for anomaly "
    "detectors good / not good, with the AUROC beside the float detector's.",
    "What pruning changed against the unpruned int8 model of the same run (size, RAM, accuracy).",
    "Agreement: how often this variant gives the same answer as the trained model (100 %: nothing was lost by "
    "shrinking it, whether the answers are right or not).",
    "Time for one example on this computer; the device will differ.",
    "Whether the model fits the chosen device's flash and RAM.",
)


def _fits_value(variant: dict[str, Any], target_id: str | None = None) -> bool | None:
    """The fits verdict for ``target_id`` (``list_variants`` gives ``{target_id: bool}``)."""
    fits = variant.get("fits")
    if isinstance(fits, dict):
        if target_id in fits:
            return bool(fits[target_id])
        return bool(fits["ok"]) if "ok" in fits else (bool(next(iter(fits.values()))) if len(fits) == 1 else None)
    return None if fits is None else bool(fits)


def fit_reason(variant: dict[str, Any], target_id: str | None) -> str:
    detail = (variant.get("fit_detail") or {}).get(target_id) or {}
    return str(detail.get("reason") or "")


def anomaly_auroc_text(v: dict[str, Any]) -> str:
    """An anomaly detector's variant: its AUROC through LiteRT beside the float detector's (validation)."""
    a = v.get("anomaly") or {}
    if a.get("auroc") is None:
        return ""
    ref = a.get("keras_auroc")
    return f" · AUROC {float(a['auroc']):.3f}" + ("" if ref is None else f" (float {float(ref):.3f})")


def variant_row(v: dict[str, Any], target_id: str | None = None) -> list[str]:
    fits = _fits_value(v, target_id)
    latency = v.get("latency_ms")
    if isinstance(latency, dict):
        latency = latency.get("mean")
    arena = v.get("arena_bytes") or (v.get("arena") or {}).get("min_bytes")
    return [
        str(v.get("name")),
        human_bytes(v.get("bytes")),
        human_bytes(v.get("gzip_bytes")),
        human_bytes(arena),
        "—" if v.get("sparsity") is None else f"{100 * float(v['sparsity']):.0f} %",
        shown_accuracy(v)[1] + anomaly_auroc_text(v),
        effect_text(v) or "—",
        pct(v.get("agreement")),
        "—" if latency is None else f"{float(latency):.2f} ms",
        "—" if fits is None else ("yes" if fits else f"no: {fit_reason(v, target_id) or 'too big'}"),
    ]


class OptimizePage(Page):
    variants_shown = Signal()  # the table was refreshed from the worker's answer
    step = "optimize"
    title = "Optimize"
    subtitle = ("Shrink the model for your device. Each variant is measured: its real size, and its accuracy "
                "when run the way the device will run it.")

    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.not_ready = NotReadyBanner(state)
        self.body.addWidget(self.not_ready)
        form = QFormLayout()
        form.setHorizontalSpacing(16)
        row = QHBoxLayout()
        self.prune_slider = QSlider(Qt.Orientation.Horizontal)
        self.prune_slider.setObjectName("pruneSlider")
        self.prune_slider.setRange(0, 90)
        self.prune_slider.setSingleStep(5)
        self.prune_slider.setPageStep(10)
        self.prune_slider.setTickInterval(10)
        self.prune_slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.prune_slider.setMaximumWidth(360)
        self.prune_label = QLabel()
        self.prune_slider.valueChanged.connect(self._prune_changed)
        row.addWidget(self.prune_slider)
        row.addSpacing(12)
        row.addWidget(self.prune_label)
        row.addStretch(1)
        form.addRow("Pruning:", row)
        self.prune_row = row
        self.kind_box = PruneKindBox()
        self.kind_box.changed.connect(self._kind_changed)
        form.addRow("Pruning kind:", self.kind_box)
        self.quant_combo = QComboBox()
        self.quant_combo.setObjectName("quantCombo")
        for key, text in QUANTIZATIONS:
            self.quant_combo.addItem(text, key)
        self.quant_combo.currentIndexChanged.connect(self._save)
        form.addRow("Quantization:", self.quant_combo)
        self.qat_check = QCheckBox("Quantization-aware training (a few extra epochs; usually recovers int8 accuracy)")
        self.qat_check.toggled.connect(self._save)
        form.addRow("", self.qat_check)
        self.finetune_spin = QSpinBox()
        self.finetune_spin.setRange(0, 50)
        self.finetune_spin.setSpecialValueText("automatic")
        self.finetune_spin.setSuffix(" epochs")
        self.finetune_spin.setMaximumWidth(200)
        self.finetune_spin.valueChanged.connect(self._save)
        form.addRow("Fine-tuning after pruning:", self.finetune_spin)
        self.target_combo = TargetCombo()
        self.target_combo.currentIndexChanged.connect(self._target_changed)
        form.addRow("Device:", self.target_combo)
        self.body.addLayout(form)
        self.form = form
        self.hint = self.note()
        self.body.addWidget(self.hint)
        self.build_button, self.task = self.add_action_row("Build variant", self.build_variant)

        self.body.addWidget(self.section("Variants"))
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("variantsTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for i, tip in enumerate(COLUMN_TIPS):
            self.table.horizontalHeaderItem(i).setToolTip(tip)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setMinimumHeight(90)
        self.body.addWidget(self.table)
        self.scatter = ScatterPlot(height=280)
        self.body.addWidget(self.scatter)
        # no variant yet: a sentence instead of an empty chart around the device's flash line (on a Linux
        # board that line sits at gigabytes, and the empty axes only puzzled)
        self.scatter_empty = self.note()
        self.body.addWidget(self.scatter_empty)
        self._show_scatter(False)
        self.search_title = self.section("Find the best model that fits my device")
        self.body.addWidget(self.search_title)
        self.search_panel = SearchPanel(self, self.target_combo.target)
        self.search_panel.variants_changed.connect(self._search_kept)
        self.body.addWidget(self.search_panel)
        self.body.addStretch(1)
        self.variants: list[dict[str, Any]] = []
        self._variants_job: Any = None
        self._loading = False
        self._prune_changed(0)

    # ------------------------------------------------------------------------------------------ state
    def reload(self) -> None:
        project = self.state.project
        if project is None:
            return
        self._loading = True
        try:
            saved = self.state.page_settings("optimize")
            self.prune_slider.setValue(int(round(100 * float(saved.get("prune", 0.0)))))
            default_quant = "int8"
            self.quant_combo.setCurrentIndex(max(self.quant_combo.findData(saved.get("quantize", default_quant)), 0))
            self.qat_check.setChecked(bool(saved.get("qat", False)))
            self.finetune_spin.setValue(int(saved.get("finetune_epochs") or 0))
            self.kind_box.set_values(saved.get("prune_kind"), saved.get("distill"))
            self.target_combo.set_target(project.settings.get("target"))
            self.search_panel.set_values(self.state.page_settings("search"))
        finally:
            self._loading = False
        self._prune_changed(self.prune_slider.value())
        self._show_training_controls(not project.is_anomaly)
        self.search_panel.set_target(self.target_combo.target())
        self.not_ready.refresh()
        self.refresh_variants()
        self.search_panel.reload()

    def _show_training_controls(self, shown: bool) -> None:
        """An anomaly detector is converted as fitted: pruning, its kind, QAT, fine-tuning and the search (all
        of which train) are hidden rather than offered and then refused."""
        for field in (self.prune_row, self.kind_box, self.qat_check, self.finetune_spin):
            self.form.setRowVisible(field, shown)
        self.search_title.setVisible(shown)
        self.search_panel.setVisible(shown)
        for name in PRUNING_COLUMNS:  # nothing is pruned: these columns would only ever read "—"
            self.table.setColumnHidden(COLUMNS.index(name), not shown)

    def forget(self) -> None:
        super().forget()
        self.variants = []
        self.table.setRowCount(0)
        self.scatter.set_points([], None, "")
        self._show_scatter(False)

    @Slot(int)
    def _prune_changed(self, value: int) -> None:
        channels = self.kind_box.kind() == "channels"
        what = "of the channels removed" if channels else "of the weights set to zero"
        self.prune_label.setText("off" if value == 0 else f"{value} % {what}")
        self.kind_box.set_pruning(value > 0)
        self._save()

    @Slot()
    def _kind_changed(self) -> None:
        self._prune_changed(self.prune_slider.value())

    @Slot()
    def _search_kept(self) -> None:
        self.refresh_variants()
        self.state.refresh_steps()

    @Slot()
    def _save(self) -> None:
        self._update_hint()
        if self._loading or self.state.project is None:
            return
        self.state.save_settings("optimize", self.config_values())

    def config_values(self) -> dict[str, Any]:
        prune = self.prune_slider.value() / 100.0
        kind = self.kind_box.values()
        return {
            "prune": prune,
            "prune_kind": kind["prune_kind"],
            "distill": kind["distill"] if prune else None,
            "quantize": self.quant_combo.currentData(),
            "qat": self.qat_check.isChecked(),
            "finetune_epochs": self.finetune_spin.value() or None,
        }

    def _update_hint(self) -> None:
        int8 = self.quant_combo.currentData() == "int8"
        self.qat_check.setEnabled(int8)
        if not int8 and self.qat_check.isChecked():
            self.qat_check.setChecked(False)
        parts = []
        project = self.state.project
        if project is not None and project.is_anomaly:
            parts.append("An anomaly detector is converted as it was fitted: there is nothing to prune or "
                         "fine-tune. Pick a quantization and a device; each variant's AUROC is measured through "
                         "LiteRT beside the float detector's.")
        elif self.prune_slider.value() and self.kind_box.kind() == "weights":
            parts.append("Zeroed weights make the file smaller only when zipped; the flashed file, the RAM and "
                         "the speed stay. The table shows both sizes against the unpruned int8 model.")
        elif self.prune_slider.value():
            parts.append("Removing channels shrinks the flashed file, the RAM and the time per sample; the table "
                         "shows each against the unpruned int8 model, with the accuracy it cost.")
        target = self.target_combo.target()
        if target.mcu and self.quant_combo.currentData() not in ("int8", "float32"):
            parts.append("Microcontrollers run int8 (or float32) models only.")
        self.hint.setText(" ".join(parts))

    @Slot()
    def _target_changed(self) -> None:
        if self._loading or self.state.project is None:
            return
        self.state.save_settings("target", self.target_combo.currentData())
        self._update_hint()
        self.search_panel.set_target(self.target_combo.target())
        self.refresh_variants()

    # ------------------------------------------------------------------------------------------ variants
    def refresh_variants(self) -> None:
        """Ask the worker for the variants with their fit on the chosen device (instant, even while it trains)."""
        if self.state.project is None:
            return
        self._variants_job = self.state.query("variants", {"target": self.target_combo.currentData()},
                                              succeeded=self._show_variants, failed=self._variants_failed)

    @Slot(object)
    def _variants_failed(self, exc: BaseException) -> None:
        self.hint.setText(f"Could not read the variants: {exc}")

    @Slot(object)
    def _show_variants(self, result: dict[str, Any]) -> None:
        if self.sender() is not self._variants_job:
            return  # an older request (another device or project)
        self.variants = list(result.get("variants") or [])
        self.table.setRowCount(len(self.variants))
        target_id = self.target_combo.currentData()
        for i, v in enumerate(self.variants):
            for j, text in enumerate(variant_row(v, target_id)):
                item = QTableWidgetItem(text)
                if j == len(COLUMNS) - 1:
                    item.setToolTip(fit_reason(v, target_id))
                if j == COLUMNS.index("Accuracy"):
                    item.setToolTip(shown_accuracy(v)[2] or COLUMN_TIPS[5])
                if j == 0 and v.get("run_id"):
                    current = v["run_id"] == (self.state.project.data.get("active_run") if self.state.project else None)
                    item.setToolTip(f"Built from run {v['run_id']}" + ("" if current else
                                    " — not the project's model now: build it again to shrink the current one"))
                if j:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if j == len(COLUMNS) - 1 and text != "—":
                    item.setForeground(Qt.GlobalColor.darkGreen if text == "yes" else Qt.GlobalColor.darkRed)
                self.table.setItem(i, j, item)
        rows_height = sum(self.table.rowHeight(i) for i in range(self.table.rowCount()))
        self.table.setFixedHeight(min(320, self.table.horizontalHeader().height() + rows_height + 6))
        target = self.target_combo.target()
        points = [
            (str(v.get("name")), float(v.get("bytes") or 0) / 1024, 100 * float(shown_accuracy(v)[0] or 0.0),
             _fits_value(v, target_id) is not False)
            for v in self.variants
            if v.get("bytes") is not None
        ]
        limit = target.flash_bytes
        if target.mcu:
            from studio.core.targets import MCU_CODE_RESERVE

            limit -= MCU_CODE_RESERVE
        self.scatter.set_points(points, limit / 1024, f"{target.id} flash for the model")
        self._show_scatter(bool(points))
        self.variants_shown.emit()

    def _show_scatter(self, shown: bool) -> None:
        """The size-vs-accuracy chart once there is a variant to put on it; before, one sentence saying what
        will appear. An anomaly detector's accuracy is its good / not-good accuracy at the threshold."""
        anomaly = bool(self.state.project and self.state.project.is_anomaly)
        self.scatter.setLabel("left", "accuracy (good / not good)" if anomaly else "accuracy")
        self.scatter.setVisible(shown)
        self.scatter_empty.setVisible(not shown)
        self.scatter_empty.setText(
            "Each variant you build appears here as a point: its file size against its accuracy, beside the "
            "chosen device's flash limit.")

    @Slot()
    def build_variant(self) -> None:
        project = self.state.project
        if project is None or self.is_busy():
            return
        values = self.config_values()
        self.state.save_settings("optimize", values)
        request = dict(values, io_dtype=self.target_combo.target().io_dtype)
        self.job = self.state.run("optimize", request, succeeded=self._built, failed=self._failed, task=self.task,
                                  owner=self)
        self.task.on_status("Building the variant…" if self.state.tf_ready else "Loading TensorFlow…")

    @Slot(object)
    def _built(self, result: Any) -> None:
        name = result.get("name") if isinstance(result, dict) else None
        self.task.set_idle(f"Built variant {name}." if name else "Variant built.")
        self.refresh_variants()
        self.state.refresh_steps()

    @Slot(object)
    def _failed(self, exc: BaseException) -> None:
        self.task.set_idle("No variant was built.")
        dialogs.show_error(self, exc, "Could not build the variant")

