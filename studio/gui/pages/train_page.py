"""Train page: a few plain settings, live loss/accuracy curves, a progress bar with ETA, and Stop.

Training runs in a worker (:class:`studio.gui.workers.Job`); the reporter adapter sends batch metrics in
throttled lists and epoch metrics one by one, to ``@Slot`` methods here. Curves are created once and updated
with ``setData``. Stop asks the core to stop within one batch; it keeps the best weights found so far.
Settings are saved in ``project.settings["train"]`` with the keys ``studio.core.train.default_config`` takes.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from studio.gui.pages.base import Page
from studio.gui.widgets import anomaly_panels
from studio.gui.plots import BLUE, ORANGE, CurvePlot
from studio.gui.widgets import dialogs
from studio.gui.widgets.run_history import RunHistory
from studio.gui.widgets.selection_table import SelectionTable

BATCH_SIZES = (8, 16, 32, 64, 128)


# Live curves are redrawn at most this often: a repaint of two plots (antialiased lines, axes with text) costs
# the GUI thread ~15 ms, and metrics arrive ten times a second; 4 frames a second look just as live.
REDRAW_MS = 250


NICE_STEPS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 1.2, 1.5, 2 ... 8 × 10^k at or above ``value``: axis limits that read well and change
    a few times per decade, not at every frame."""
    if not math.isfinite(value) or value <= 0:
        return 1.0
    exp = math.floor(math.log10(value))
    for step in NICE_STEPS:
        if step * 10**exp >= value * (1 - 1e-9):
            return round(step * 10**exp, 12)
    return 10.0 ** (exp + 1)


class TrainCurves:
    """The four series of one training (batch / epoch × train / validation) for loss and accuracy.

    New points are collected as they arrive and drawn together by a coalescing timer (:data:`REDRAW_MS`);
    :meth:`flush` draws now (at the end of a run, in tests). The axes are set here, not auto-ranged: epochs run
    from 0 to a 1-2-5 step, accuracy from 0 to 100 %, loss from 0 to a 1-2-5 step above every epoch point and the recent batches;
    so a frame repaints each plot once, and its axes only when a limit moves."""

    def __init__(self, loss: CurvePlot, accuracy: CurvePlot) -> None:
        self.loss_plot = loss
        self.acc_plot = accuracy
        for plot in (loss, accuracy):
            batch = plot.add_curve("batch", "#a9c6d6", width=1.0, label="training (each batch)")
            batch.setDownsampling(auto=True, method="peak")  # thousands of batches: draw what the pixels show
            batch.setClipToView(True)
            batch.curve.opts["antialias"] = False  # a thin, dense line: antialiasing it cost a third of a frame
            plot.add_curve("train", BLUE, width=2.2, symbol="o", label="training")
            plot.add_curve("val", ORANGE, width=2.2, symbol="s", label="validation")
            plot.enableAutoRange(False)
        self._ranges: dict[int, tuple[float, float]] = {}
        self._timer = QTimer(loss)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self.flush)
        self._dirty_batches = False
        self._dirty_epochs = False
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
        self._timer.stop()
        self._dirty_batches = self._dirty_epochs = False
        self.loss_plot.clear_data()
        self.acc_plot.clear_data()
        self._ranges = {}
        self._set_ranges()

    def _schedule(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Draw what arrived since the last frame."""
        self._timer.stop()
        if self._dirty_batches:
            self.loss_plot.set("batch", self.batch_x, self.batch_loss)
            self.acc_plot.set("batch", self.batch_x, self.batch_acc)
        if self._dirty_epochs:
            self._draw_epochs()
        if self._dirty_batches or self._dirty_epochs:
            self._set_ranges()
        self._dirty_batches = self._dirty_epochs = False

    def _set_ranges(self) -> None:
        last_x = max(self.batch_x[-1] if self.batch_x else 0.0, self.epoch_x[-1] if self.epoch_x else 0.0)
        x_max = nice_ceiling(max(last_x * 1.04, last_x + 0.5, 2.0))  # the newest point never sits on the edge
        # every epoch point stays on the chart (a curve running off the top reads as a broken plot); only the
        # noisy per-batch line is limited to its recent values
        recent = self.batch_loss[-200:] + self.series["loss"] + self.series["val_loss"]
        finite = [v for v in recent if math.isfinite(v)]
        y_max = nice_ceiling(max(finite) * 1.05) if finite else 1.0
        for plot, y_range in ((self.loss_plot, (0.0, y_max)), (self.acc_plot, (0.0, 100.0))):
            wanted = (x_max, *y_range)
            if self._ranges.get(id(plot)) != wanted:
                self._ranges[id(plot)] = wanted
                plot.setXRange(0.0, x_max, padding=0.02)
                plot.setYRange(*y_range, padding=0.04)

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
        self._dirty_batches = True
        self._schedule()

    def add_epoch(self, values: dict[str, Any]) -> None:
        if self.batches_in_epoch:
            self.steps_per_epoch = float(self.batches_in_epoch)
        self.batches_in_epoch = 0
        self.completed_epochs += 1
        self.epoch_x.append(float(self.completed_epochs))
        for key in self.series:
            value = values.get(key)
            self.series[key].append(float(value) if value is not None else math.nan)
        self._dirty_epochs = True
        self._schedule()

    def load_history(self, epochs: list[dict[str, Any]]) -> None:
        """Show a finished run's per-epoch curves (no batch curve)."""
        self.reset()
        for values in epochs:
            self.add_epoch(values)
        self.flush()

    def _draw_epochs(self) -> None:
        pct = [100.0 * v for v in self.series["accuracy"]]
        val_pct = [100.0 * v for v in self.series["val_accuracy"]]
        self.loss_plot.set("train", self.epoch_x, self.series["loss"])
        self.loss_plot.set("val", self.epoch_x, self.series["val_loss"])
        self.acc_plot.set("train", self.epoch_x, pct)
        self.acc_plot.set("val", self.epoch_x, val_pct)


class TrainPage(Page):
    choices_shown = Signal()  # the controls now show the project's settings (the worker answered)

    step = "train"
    title = "Train"
    subtitle = "Studio shows the model your examples, many times over. Watch it learn; stop whenever you like."

    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        self.model_line = QLabel()
        self.model_line.setObjectName("modelLine")
        self.model_line.setWordWrap(True)
        self.body.addWidget(self.model_line)
        self._closed_form = False  # the chosen model is fitted without epochs: the settings below do not apply

        form = QFormLayout()
        form.setHorizontalSpacing(16)
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setObjectName("epochsSpin")
        self.epochs_spin.setRange(1, 500)
        self.epochs_spin.valueChanged.connect(self._epochs_suffix)
        self._epochs_suffix(self.epochs_spin.value())
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
        self.patience_spin.setSuffix(" epochs without progress")
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
        self.epochs_note = self.note("")
        self.epochs_note.setVisible(False)
        self.body.addWidget(self.epochs_note)
        for signal in (self.epochs_spin.valueChanged, self.batch_combo.currentIndexChanged,
                       self.lr_spin.valueChanged, self.patience_spin.valueChanged,
                       self.augment_check.toggled, self.pretrained_check.toggled):
            signal.connect(self._save)

        self.start_button, self.task = self.add_action_row("Start training", self.start_training, cancel_text="Stop")
        self.stop_button = self.task.cancel_button
        self.stop_button.setObjectName("stopButton")

        # sensor runs: the measured candidates and why one was chosen, first (the search comes before any curve)
        self.selection = SelectionTable(self)
        self.body.addWidget(self.selection)
        plots = QHBoxLayout()
        self.loss_plot = CurvePlot("Loss (lower is better)", "loss", height=300)
        # legend top left: accuracy starts low and rises to the right, so that corner stays clear
        self.acc_plot = CurvePlot("Accuracy (higher is better)", "%", height=300, legend_offset=(10, 10))
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.acc_plot)
        self.body.addLayout(plots)
        self.curves = TrainCurves(self.loss_plot, self.acc_plot)
        self.result_label = QLabel()
        self.result_label.setObjectName("resultLine")
        self.result_label.setWordWrap(True)
        self.body.addWidget(self.result_label)
        self.history = RunHistory(state, self)
        self.history.model_changed.connect(self._model_changed)
        self.body.addWidget(self.history)
        self.body.addStretch(1)
        self._pretrained_reason = ""  # why the ImageNet box is disabled ("" = it is not)
        self._loading = False
        self.last_result: dict[str, Any] | None = None
        self._archs: dict[str, dict[str, Any]] = {}
        self._choices_job: Any = None
        self._shown_for: str | None = None

    # ------------------------------------------------------------------------------------------ state
    @property
    def ready(self) -> bool:
        """True once the controls show this project's settings (not the widgets' initial values)."""
        return self.state.project is not None and self._shown_for == str(self.state.project.path)

    def reload(self) -> None:
        project = self.state.project
        if project is None or self.is_busy():
            return
        if anomaly_panels.take_over(self, "train"):  # a detector to fit, not epochs (widgets.anomaly_panels)
            return
        self._show_last_run()
        self.history.refresh()
        if not self.ready:  # until the worker answers, the controls hold no value worth saving or training with
            self._loading = True
            self._set_controls_enabled(False)
            self.start_button.setEnabled(False)
        # the core's defaults for this data come from the worker (instant, even while it trains)
        self._choices_job = self.state.query("train_choices", {"overrides": self._saved_overrides()},
                                             succeeded=self._show_choices, failed=self._choices_failed)

    @Slot(object)
    def _choices_failed(self, exc: BaseException) -> None:
        if self.sender() is self._choices_job and not self.is_busy():
            self.model_line.setText(f"Could not read the training choices: {exc}")
            self._choices_applied()

    def _choices_applied(self) -> None:
        self._loading = False
        self._shown_for = str(self.state.project.path) if self.state.project is not None else None
        self._set_controls_enabled(True)
        self.start_button.setEnabled(True)
        self.choices_shown.emit()

    @Slot(object)
    def _show_choices(self, choices: dict[str, Any]) -> None:
        project = self.state.project
        if project is None or self.is_busy() or self.sender() is not self._choices_job:
            return  # another project, a newer request, or a run that uses the settings now
        self._archs = {a["id"]: a for a in choices.get("archs") or []}
        self._loading = True
        try:
            defaults = choices.get("config") or choices.get("defaults") or {}
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
            self._pretrained_reason = pretrained_reason(choices, pick("width", None))
            self.model_line.setText(self._model_text(saved, defaults))
            self._show_epochs_note(saved, defaults, arch)
        finally:
            self._choices_applied()
        if self._pretrained_reason:
            self.pretrained_check.setEnabled(False)
            self.pretrained_check.setToolTip(self._pretrained_reason)
        else:
            self.pretrained_check.setToolTip("The network starts from weights learnt on millions of everyday "
                                             "photos: better with few images, and the input stays RGB.")

    def _saved_overrides(self) -> dict[str, Any]:
        saved = self.state.page_settings("train")
        keys = ("arch", "input_size", "width", "features", "epochs", "batch_size", "learning_rate", "patience",
                "augment", "pretrained", "select")
        out = {k: saved[k] for k in keys if saved.get(k) is not None}
        if self.state.project is not None and self.state.project.modality != "image":
            out.pop("input_size", None)
        return out

    def _model_text(self, saved: dict[str, Any], defaults: dict[str, Any]) -> str:
        select = saved.get("select") if saved.get("select") is not None else defaults.get("select")
        if select:  # sensors by default: the candidates are scored on the user's recordings first
            return ("<b>Model:</b> chosen by measurement when you train (MiniRocket or a 1-D CNN, each way of "
                    "reading the recordings scored by cross-validation)  (pick one yourself on the Model page)")
        arch = saved.get("arch") or defaults.get("arch") or ""
        spec = self._archs.get(arch)
        parts = [f"<b>Model:</b> {spec['title'] if spec else arch or 'not chosen'}"]
        width = saved.get("width") or defaults.get("width")
        if width:
            parts.append(f"width {float(width):g}×")
        features = saved.get("features") or defaults.get("features")
        if features and spec is not None and "features" in spec["allowed"]:
            parts.append(f"{int(features):,} features")
        size = saved.get("input_size") or defaults.get("input_size")
        if size and spec is not None and spec["task"] == "image":
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
            self.selection.clear()
            self.result_label.setText("No model trained yet.")
            return
        from studio.core.fsutil import read_json

        try:
            self.selection.show_selection(read_json(run_dir / "selection.json"))
        except (OSError, ValueError):
            self.selection.clear()  # a run of a chosen architecture: no search, no table

        try:
            metrics = read_json(run_dir / "metrics.json")
        except (OSError, ValueError):
            metrics = {}
        epochs = metrics.get("epochs", []) if isinstance(metrics, dict) else metrics
        self.curves.load_history(list(epochs or []))
        metrics = metrics if isinstance(metrics, dict) else {}
        best = metrics.get("best_val_accuracy")
        n = len(epochs or [])
        text = f"The project's model (run {run_dir.name}): {n} epoch" + ("" if n == 1 else "s")
        reason = metrics.get("stop_reason")
        if reason == "cancelled":
            text += ", stopped by you"
        elif reason == "early_stopping":
            text += ", stopped early when validation stopped improving"
        elif reason == "interrupted":
            text += (f" of {metrics.get('epochs_planned')}" if metrics.get("epochs_planned") else "") + \
                ", cut short when Studio's background process stopped (Start training runs it again)"
        if best is not None:
            text += f". Best validation accuracy <b>{100 * float(best):.1f} %</b>"
            if metrics.get("best_epoch"):
                text += f" (epoch {metrics['best_epoch']}, the model that was kept)"
        self.result_label.setText(text + ".")

    @Slot(int)
    def _epochs_suffix(self, value: int) -> None:
        self.epochs_spin.setSuffix(" epoch" if value == 1 else " epochs")  # "1 epoch", "20 epochs"

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
        if project is None or self.is_busy() or not self.ready:
            return
        self._save()
        self.curves.reset()
        self.selection.clear()
        self.result_label.setText("")
        self._set_controls_enabled(False)
        # policy "better": a finished run worse than the current model is kept but asked about (_trained)
        request = {"overrides": self._saved_overrides(), "activate": "better"}
        self.job = self.state.run("train", request, succeeded=self._trained,
                                  failed=self._train_failed, done=self._train_done, metrics=self._on_metrics,
                                  batch_metrics=self._on_batches, task=self.task, owner=self)
        self.task.on_status("Preparing the data…" if self.state.tf_ready else "Loading TensorFlow…")

    @Slot(list)
    def _on_batches(self, batches: list) -> None:
        self.curves.add_batches(batches)

    @Slot(str, dict)
    def _on_metrics(self, kind: str, values: dict) -> None:
        if kind == "candidate":
            self.selection.add_candidate(values)
        elif kind == "epoch":
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
        activation = result.get("activation") or {}
        if activation.get("note"):
            text += " " + str(activation["note"])
        self.result_label.setText(text)
        self.task.set_idle("Stopped." if stopped else "Done.")
        self.state.refresh_steps()
        if activation.get("reason") in ("stopped", "worse"):
            self._offer_new_run(result, activation)

    def _offer_new_run(self, result: dict[str, Any], activation: dict[str, Any]) -> None:
        """The run contract kept the old model (the new run stopped or is worse): ask whether to use it."""
        from studio.gui.widgets.run_history import _pct

        new, old = activation.get("score"), activation.get("previous_score")
        why = "stopped before the end" if activation.get("reason") == "stopped" else "is worse on validation"
        question = (f"The new run {result.get('run')} {why} ({_pct(new)} on validation). The project's model "
                    f"is still {activation.get('previous_run')} ({_pct(old)}). Use the new run as the model?")
        if dialogs.ask(self, "Use the new run?", question, yes="Use the new run", no="Keep the current model"):
            self.history.use({"id": result.get("run")}, asked=True)

    @Slot()
    def _model_changed(self) -> None:
        self._show_last_run()
        self.state.refresh_steps()

    def forget(self) -> None:
        super().forget()
        self.last_result = None
        self.curves.reset()
        self.selection.clear()
        self.result_label.setText("")
        self.history.clear()

    @Slot(object)
    def _train_failed(self, exc: BaseException) -> None:
        self.task.set_idle("Training stopped." if self.job and self.job.cancelled else "Training failed.")
        dialogs.show_error(self, exc, "Training did not finish")
        self.state.refresh_steps()

    @Slot()
    def _train_done(self) -> None:
        self.curves.flush()
        self._set_controls_enabled(True)
        self.reload()  # the core stored the settings it actually used

    def _show_epochs_note(self, saved: dict[str, Any], defaults: dict[str, Any], arch: str) -> None:
        """Say which settings a sensor run will use: MiniRocket is fitted in closed form (no epochs, no
        batches), so its controls are disabled; when Studio chooses, they apply only if a network wins."""
        select = saved.get("select") if saved.get("select") is not None else defaults.get("select")
        closed = (self._archs.get(arch) or {}).get("trained_by") == "closed form"
        self._closed_form = bool(closed and not select)
        if self._closed_form:
            text = ("MiniRocket is fitted in closed form in seconds: it has no epochs, batches or learning rate, "
                    "so these settings are not used.")
        elif select:
            text = ("These settings apply only if a network (the 1-D CNN) wins the choice; MiniRocket is fitted in "
                    "closed form, without epochs.")
        else:
            text = ""
        self.epochs_note.setText(text)
        self.epochs_note.setVisible(bool(text))

    def _set_controls_enabled(self, enabled: bool) -> None:
        """Settings are frozen while a run uses them (the core saves them to the project when it ends)."""
        for w in (self.epochs_spin, self.batch_combo, self.lr_spin, self.patience_spin,
                  self.augment_check, self.pretrained_check):
            w.setEnabled(enabled and not self._closed_form)
        if self._pretrained_reason:
            self.pretrained_check.setEnabled(False)


def pretrained_reason(choices: dict[str, Any], width: Any) -> str:
    """Why the ImageNet box cannot be ticked on this machine ("" when it can): no weights for this width."""
    available = choices.get("imagenet") or {}
    if not available:
        return ""
    key = str(float(width)) if width is not None else None
    if key in available and available[key]:
        return ""
    if key is None and any(available.values()):
        return ""
    return ("Not available: no ImageNet weights for this width are on this computer (Studio looks in "
            "~/.keras/models and its own weights folder). Pick a width on the Model page that has them.")
