"""Train page: a few plain settings, live loss/accuracy curves, a progress bar with ETA, and Stop.

Training runs in a worker (:class:`studio.gui.workers.Job`); the reporter adapter sends batch metrics in
throttled lists and epoch metrics one by one, to ``@Slot`` methods here. Curves are created once and updated
with ``setData``. Stop asks the core to stop within one batch; it keeps the best weights found so far.
Settings are saved in ``project.settings["train"]`` with the keys ``studio.core.train.default_config`` takes.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QWidget,
)

from studio.gui.pages.base import Page
from studio.gui.plots import BLUE, ORANGE, CurvePlot
from studio.gui.widgets import dialogs
from studio.gui.widgets.taskbar import TaskBar
from studio.gui.workers import start_job

BATCH_SIZES = (8, 16, 32, 64, 128)


class TrainCurves:
    """The four series of one training (batch / epoch × train / validation) for loss and accuracy."""

    def __init__(self, loss: CurvePlot, accuracy: CurvePlot) -> None:
        self.loss_plot = loss
        self.acc_plot = accuracy
        for plot in (loss, accuracy):
            plot.add_curve("batch", "#a9c6d6", width=1.0, label="training (each batch)")
            plot.add_curve("train", BLUE, width=2.2, symbol="o", label="training")
            plot.add_curve("val", ORANGE, width=2.2, symbol="s", label="validation")
        self.reset()

    def reset(self) -> None:
        self.batch_x: list[float] = []
        self.batch_loss: list[float] = []
        self.batch_acc: list[float] = []
        self.epoch_x: list[float] = []
        self.series: dict[str, list[float]] = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
        self.batches_in_epoch = 0
        self.steps_per_epoch: float | None = None
        self.completed_epochs = 0
        self.loss_plot.clear_data()
        self.acc_plot.clear_data()

    def add_batches(self, batches: list[dict[str, Any]]) -> None:
        for values in batches:
            self.batches_in_epoch += 1
            steps = values.get("steps") or self.steps_per_epoch
            batch = values.get("batch") or self.batches_in_epoch
            epoch = values.get("epoch")
            done = (int(epoch) - 1) if epoch else self.completed_epochs
            x = done + (float(batch) / float(steps) if steps else 0.0)
            if "loss" in values and values["loss"] is not None:
                self.batch_x.append(x)
                self.batch_loss.append(float(values["loss"]))
                acc = values.get("accuracy")
                self.batch_acc.append(100.0 * float(acc) if acc is not None else math.nan)
        self.loss_plot.set("batch", self.batch_x, self.batch_loss)
        self.acc_plot.set("batch", self.batch_x, self.batch_acc)

    def add_epoch(self, values: dict[str, Any]) -> None:
        if self.batches_in_epoch:
            self.steps_per_epoch = float(self.batches_in_epoch)
        self.batches_in_epoch = 0
        self.completed_epochs += 1
        self.epoch_x.append(float(self.completed_epochs))
        for key in self.series:
            value = values.get(key)
            self.series[key].append(float(value) if value is not None else math.nan)
        self._draw_epochs()

    def load_history(self, epochs: list[dict[str, Any]]) -> None:
        """Show a finished run's per-epoch curves (no batch curve)."""
        self.reset()
        for values in epochs:
            self.add_epoch(values)

    def _draw_epochs(self) -> None:
        pct = [100.0 * v for v in self.series["accuracy"]]
        val_pct = [100.0 * v for v in self.series["val_accuracy"]]
        self.loss_plot.set("train", self.epoch_x, self.series["loss"])
        self.loss_plot.set("val", self.epoch_x, self.series["val_loss"])
        self.acc_plot.set("train", self.epoch_x, pct)
        self.acc_plot.set("val", self.epoch_x, val_pct)


class TrainPage(Page):
    step = "train"
    title = "Train"
    subtitle = "Studio shows the model your examples, many times over. Watch it learn; stop whenever you like."

    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.model_line = QLabel()
        self.model_line.setObjectName("modelLine")
        self.body.addWidget(self.model_line)

        form = QFormLayout()
        form.setHorizontalSpacing(16)
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setObjectName("epochsSpin")
        self.epochs_spin.setRange(1, 500)
        self.epochs_spin.setSuffix(" rounds")
        self.epochs_spin.setToolTip("An epoch is one pass over all training examples.")
        self.batch_combo = QComboBox()
        for b in BATCH_SIZES:
            self.batch_combo.addItem(str(b), b)
        self.batch_combo.setToolTip("How many examples the model looks at before each small correction.")
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(4)
        self.lr_spin.setRange(0.0001, 0.1)
        self.lr_spin.setSingleStep(0.0005)
        self.lr_spin.setToolTip("How big each correction is. The default suits most data.")
        self.patience_spin = QSpinBox()
        self.patience_spin.setRange(0, 100)
        self.patience_spin.setSpecialValueText("never")
        self.patience_spin.setSuffix(" rounds without progress")
        self.augment_check = QCheckBox("Vary the examples while training (flips, shifts, brightness / noise)")
        self.augment_check.setChecked(True)
        self.pretrained_check = QCheckBox("Start from a network pre-trained on everyday photos (ImageNet)")
        for w in (self.epochs_spin, self.batch_combo, self.lr_spin, self.patience_spin):
            w.setMaximumWidth(260)
        form.addRow("Epochs:", self.epochs_spin)
        form.addRow("Batch size:", self.batch_combo)
        form.addRow("Learning rate:", self.lr_spin)
        form.addRow("Stop early after:", self.patience_spin)
        form.addRow("", self.augment_check)
        form.addRow("", self.pretrained_check)
        self.body.addLayout(form)
        for signal in (self.epochs_spin.valueChanged, self.batch_combo.currentIndexChanged,
                       self.lr_spin.valueChanged, self.patience_spin.valueChanged,
                       self.augment_check.toggled, self.pretrained_check.toggled):
            signal.connect(self._save)

        row = QHBoxLayout()
        self.start_button = QPushButton("Start training")
        self.start_button.setObjectName("primaryButton")
        self.start_button.clicked.connect(self.start_training)
        row.addWidget(self.start_button)
        self.task = TaskBar(cancel_text="Stop")
        self.stop_button = self.task.cancel_button
        self.stop_button.setObjectName("stopButton")
        row.addWidget(self.task, 1)
        self.body.addLayout(row)

        plots = QHBoxLayout()
        self.loss_plot = CurvePlot("Loss (lower is better)", "loss")
        self.acc_plot = CurvePlot("Accuracy (higher is better)", "%", legend_offset=(-10, -40))
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.acc_plot)
        self.body.addLayout(plots)
        self.curves = TrainCurves(self.loss_plot, self.acc_plot)
        self.result_label = QLabel()
        self.result_label.setObjectName("resultLine")
        self.result_label.setWordWrap(True)
        self.body.addWidget(self.result_label)
        self.body.addStretch(1)
        self._loading = False
        self.last_result: dict[str, Any] | None = None

    # ------------------------------------------------------------------------------------------ state
    def reload(self) -> None:
        project = self.state.project
        if project is None or self.is_busy():
            return
        self._loading = True
        try:
            try:
                from studio.core.train import default_config

                config = default_config(project, **self._saved_overrides())
                defaults = config.__dict__ if hasattr(config, "__dict__") else {}
            except Exception:  # noqa: BLE001 - the core may reject a stale setting; fall back to safe values
                defaults = {}
            saved = self.state.page_settings("train")

            def pick(key: str, fallback: Any) -> Any:
                value = saved.get(key, defaults.get(key))
                return fallback if value is None else value

            self.epochs_spin.setValue(int(pick("epochs", 20)))
            batch = int(pick("batch_size", 32))
            self.batch_combo.setCurrentIndex(max(self.batch_combo.findData(batch), 0))
            self.lr_spin.setValue(float(pick("learning_rate", 0.001)))
            self.patience_spin.setValue(int(pick("patience", 5)))
            self.augment_check.setChecked(bool(pick("augment", True)))
            self.augment_check.setText(
                "Vary the examples while training (flips, shifts, rotation, brightness)" if project.modality == "image"
                else "Vary the examples while training (noise, scaling, time shift)")
            arch = pick("arch", "")
            self.pretrained_check.setVisible(arch == "mobilenetv2")
            self.pretrained_check.setChecked(str(pick("pretrained", "none")) == "imagenet")
            self.model_line.setText(self._model_text(saved, defaults))
        finally:
            self._loading = False
        self._show_last_run()

    def _saved_overrides(self) -> dict[str, Any]:
        saved = self.state.page_settings("train")
        keys = ("arch", "input_size", "width", "epochs", "batch_size", "learning_rate", "patience", "augment",
                "pretrained", "select")
        out = {k: saved[k] for k in keys if saved.get(k) is not None}
        if self.state.project is not None and self.state.project.modality != "image":
            out.pop("input_size", None)
        return out

    @staticmethod
    def _model_text(saved: dict[str, Any], defaults: dict[str, Any]) -> str:
        from studio.core.models import REGISTRY

        arch = saved.get("arch") or defaults.get("arch") or ""
        spec = REGISTRY.get(arch)
        parts = [f"<b>Model:</b> {spec.title if spec else arch or 'not chosen'}"]
        width = saved.get("width") or defaults.get("width")
        if width:
            parts.append(f"width {float(width):g}×")
        size = saved.get("input_size") or defaults.get("input_size")
        if size and spec is not None and spec.task == "image":
            parts.append(f"{size} px images")
        return ", ".join(parts) + "  (change it on the Model page)"

    def _show_last_run(self) -> None:
        project = self.state.project
        if project is None:
            return
        try:
            run_dir = project.run_dir()
        except Exception:  # noqa: BLE001 - no run yet
            self.curves.reset()
            self.result_label.setText("No model trained yet.")
            return
        from studio.core.fsutil import read_json

        try:
            metrics = read_json(run_dir / "metrics.json")
        except (OSError, ValueError):
            metrics = {}
        epochs = metrics.get("epochs", []) if isinstance(metrics, dict) else metrics
        self.curves.load_history(list(epochs or []))
        metrics = metrics if isinstance(metrics, dict) else {}
        best = metrics.get("best_val_accuracy")
        text = f"Last training ({run_dir.name}): {len(epochs or [])} epochs"
        reason = metrics.get("stop_reason")
        if reason == "cancelled":
            text += ", stopped by you"
        elif reason == "early_stopping":
            text += ", stopped early when validation stopped improving"
        if best is not None:
            text += f". Best validation accuracy <b>{100 * float(best):.1f} %</b>"
            if metrics.get("best_epoch"):
                text += f" (epoch {metrics['best_epoch']}, the model that was kept)"
        self.result_label.setText(text + ".")

    @Slot()
    def _save(self) -> None:
        if self._loading or self.state.project is None:
            return
        self.state.save_settings("train", self.settings_values())

    def settings_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "epochs": self.epochs_spin.value(),
            "batch_size": self.batch_combo.currentData(),
            "learning_rate": round(self.lr_spin.value(), 6),
            "patience": self.patience_spin.value(),
            "augment": self.augment_check.isChecked(),
        }
        if self.pretrained_check.isVisible() or self.pretrained_check.isChecked():
            values["pretrained"] = "imagenet" if self.pretrained_check.isChecked() else "none"
        return values

    # ------------------------------------------------------------------------------------------ training
    @Slot()
    def start_training(self) -> None:
        project = self.state.project
        if project is None or self.is_busy():
            return
        self._save()
        overrides = self._saved_overrides()
        try:
            from studio.core.train import default_config

            config = default_config(project, **overrides)
        except Exception as exc:  # noqa: BLE001
            dialogs.show_error(self, exc, "These training settings do not work")
            return

        def work(reporter: Any) -> dict[str, Any]:
            from studio.core.train import train

            if not self.state.tf_ready:
                reporter.status("Loading TensorFlow…")
            return train(project, config, reporter).to_json()

        self.curves.reset()
        self.result_label.setText("")
        self._set_controls_enabled(False)
        self.job = start_job(work, "training", succeeded=self._trained, failed=self._train_failed,
                             done=self._train_done, metrics=self._on_metrics, batch_metrics=self._on_batches)
        self.task.attach(self.job)
        self.task.on_status("Preparing the data…")

    @Slot(list)
    def _on_batches(self, batches: list) -> None:
        self.curves.add_batches(batches)

    @Slot(str, dict)
    def _on_metrics(self, kind: str, values: dict) -> None:
        if kind == "epoch":
            self.curves.add_epoch(values)
            epoch, total = values.get("epoch"), values.get("epochs")
            acc = values.get("val_accuracy")
            if epoch is not None:
                text = f"Epoch {epoch} of {total}" if total else f"Epoch {epoch}"
                if acc is not None:
                    text += f": validation accuracy {100 * float(acc):.1f} %"
                self.task.on_status(text)

    @Slot(object)
    def _trained(self, result: dict[str, Any]) -> None:
        self.last_result = result
        best = result.get("best_val_accuracy")
        stopped = bool(result.get("stopped")) or (self.job is not None and self.job.cancelled)
        text = "Stopped early at your request; the best model so far was kept." if stopped else "Training finished."
        if best is not None:
            text += f" Best validation accuracy: <b>{100 * float(best):.1f} %</b>."
        self.result_label.setText(text)
        self.task.set_idle("Stopped." if stopped else "Done.")
        self.state.refresh_steps()

    @Slot(object)
    def _train_failed(self, exc: BaseException) -> None:
        self.task.set_idle("Training stopped." if self.job and self.job.cancelled else "Training failed.")
        dialogs.show_error(self, exc, "Training did not finish")
        self.state.refresh_steps()

    @Slot()
    def _train_done(self) -> None:
        self._set_controls_enabled(True)
        self.reload()  # the core stored the settings it actually used

    def _set_controls_enabled(self, enabled: bool) -> None:
        """Settings are frozen while a run uses them (the core saves them to the project when it ends)."""
        for w in (self.start_button, self.epochs_spin, self.batch_combo, self.lr_spin, self.patience_spin,
                  self.augment_check, self.pretrained_check):
            w.setEnabled(enabled)
