"""What the wizard pages show for anomaly projects (``image-anomaly`` / ``sensor-anomaly``).

A page calls one hook and stays otherwise as it is:

* :func:`take_over` (Model, Train): for an anomaly project the page's own content is hidden and a panel shown
  in its place (restored exactly for a classifier project);
* :func:`show_evaluation` / :func:`clear_evaluation` (Evaluate): an ``evaluate`` result with an ``auroc`` field
  goes to :class:`~studio.gui.widgets.anomaly.AnomalyEvaluateView` instead of the classifier's tables;
* :func:`data_text` (Data): good vs defect counts.

Panels build requests for the worker (``anomaly_choices``, ``anomaly_train``, ``anomaly_threshold``) and
render plain results; nothing here imports TensorFlow.
"""

from __future__ import annotations

import html

from typing import Any, Callable

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.gui.plots import BLUE, GREEN, ORANGE, RED, legend_below, plot_widget
from studio.gui.widgets import dialogs
from studio.gui.widgets.anomaly import AnomalyEvaluateView
from studio.gui.widgets.taskbar import TaskBar

DETECTOR_TITLES = {
    "auto": "Automatic (chosen from your images)",
    "patch": "Patch statistics: textures, defects anywhere",
    "global": "Whole-image neighbours: aligned parts, missing or wrong pieces",
    "window": "Window neighbours: spectrum + shape of each window",
}
SUBTITLES = {
    "model": "Anomaly projects learn what 'good' looks like: there is no architecture to pick.",
    "train": "Studio learns what your good examples look like, then flags anything unlike them.",
    "evaluate": "How well are defects told apart from good examples, and where should the threshold be?",
}


def adapt_subtitle(page: Any, step: str) -> None:
    """The page's subtitle for an anomaly project (the class's own otherwise)."""
    page.subtitle = SUBTITLES[step] if _is_anomaly(page) else type(page).subtitle


def _is_anomaly(page: Any) -> bool:
    project = page.state.project
    return project is not None and bool(getattr(project, "is_anomaly", False))


def _widgets_of(layout: QLayout) -> list[QWidget]:
    out: list[QWidget] = []
    for i in range(layout.count()):
        item = layout.itemAt(i)
        if item.widget() is not None:
            out.append(item.widget())
        elif item.layout() is not None:
            out += _widgets_of(item.layout())
    return out


def _after(body: QLayout, keep: tuple[QLayout, ...]) -> int:
    """Where the panel goes in the page's body: right after the last kept row (the Model page's device row),
    else before the page's closing stretch; never below it (the panel sat at the foot of an empty page, or
    under a blank band the stretch took)."""
    index = -1
    for i in range(body.count()):
        item = body.itemAt(i)
        if item.layout() is not None and any(item.layout() is k for k in keep):
            index = i + 1
    if index < 0:
        index = body.count()
        while index > 0 and body.itemAt(index - 1).spacerItem() is not None:
            index -= 1
    return index


def take_over(page: Any, step: str, keep: tuple[QLayout, ...] = ()) -> bool:
    """Show the anomaly panel of ``step`` in ``page`` instead of its content when the project is an anomaly
    project (returns True: the page's own reload should stop); restore the page otherwise (returns False).
    The widgets of the ``keep`` layouts stay as they are (e.g. the Model page's device row)."""
    panel = getattr(page, "_anomaly_panel", None)
    if not _is_anomaly(page):
        if panel is not None and panel.isVisible():
            panel.setVisible(False)
            for w, visible in page._anomaly_hidden:
                if shiboken6.isValid(w):
                    w.setVisible(visible)
            page.subtitle = type(page).subtitle
        return False
    if panel is None:
        panel = PANELS[step](page)
        page._anomaly_panel = panel
        page.body.insertWidget(_after(page.body, keep), panel)
    if not panel.isVisible() or not getattr(page, "_anomaly_hidden", None):
        kept = {id(w) for lay in keep for w in _widgets_of(lay)}
        page._anomaly_hidden = [(w, w.isVisibleTo(page)) for w in _widgets_of(page.body)
                                if w is not panel and id(w) not in kept]
        for w, _ in page._anomaly_hidden:
            w.setVisible(False)
        panel.setVisible(True)
    page.subtitle = SUBTITLES.get(step, page.subtitle)
    panel.reload()
    return True


# ---------------------------------------------------------------------------------------------- Data page
def data_text(manifest: dict[str, Any]) -> str:
    """Good vs defect counts of an anomaly project's data, in words ("" for a classifier's manifest)."""
    if not manifest.get("anomaly"):
        return ""
    from studio.core.anomaly.data import good_and_defect_counts

    c = good_and_defect_counts(manifest)
    normal = manifest.get("normal_class")
    recs = c.get("recordings")
    what = (f"{recs['good']} good and {recs['defect']} defect recordings ({c['good']} / {c['defect']} windows)"
            if recs else f"{c['good']} good and {c['defect']} defect images")
    types = ", ".join(f"{k} {v}" for k, v in sorted(c["defect_types"].items())) or "none"
    splits = c.get("splits") or {}
    train = splits.get("train") or {}
    val = splits.get("val") or {}
    where = "the class" if manifest.get("layout") == "table" else "the folder"
    text = (f"<b>Anomaly project:</b> good = {where} <b>{normal}</b>; {what}. Defect types: {types}.<br>"
            f"The detector learns from the {train.get('good', 0)} good training {c['unit']}s only; validation "
            f"({val.get('good', 0)} good, {val.get('defect', 0)} defect) sets the threshold; defects never "
            "reach the training.")
    if not c["defect"]:
        text += " No defect examples: the threshold allows 1 % false alarms on good examples the detector was not fitted on."
    return text


# ---------------------------------------------------------------------------------------------- Model page
class AnomalyModelPanel(QWidget):
    def __init__(self, page: Any) -> None:
        super().__init__()
        self.page = page
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.text = QLabel()
        self.text.setObjectName("note")
        self.text.setWordWrap(True)
        layout.addWidget(self.text)

    def reload(self) -> None:
        project = self.page.state.project
        image = project is not None and project.modality == "image"
        self.text.setText(
            "An anomaly detector is fitted, not trained for many rounds: it measures how each new example "
            "differs from your good ones. "
            + ("For images Studio chooses between <b>patch statistics</b> (textures, surfaces, defects anywhere: "
               "a Gaussian model of small patches at each position and scale, with a heat map) and "
               "<b>whole-image neighbours</b> (aligned parts: nearest good images in oriented-gradient features), "
               "from how aligned your images are. You can override it on the Train page."
               if image else
               "For sensors each window is described by its spectrum and shape and compared with the nearest "
               "good windows; a recording's score is its highest window's.")
            + "<br><br>Go on to <b>Train</b> to fit it.")


# ---------------------------------------------------------------------------------------------- Train page
class ScoreDistributions(QWidget):
    """Histograms of training good, validation good and validation defect scores (each as a share of its
    group), with the threshold."""

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plot = plot_widget("Anomaly scores after fitting", left="share of each group (%)", bottom="anomaly score",
                                height=240)
        legend_below(self.plot, columns=3)  # inside, it covered the highest scores and the threshold's label
        self.curves = {
            "train_good": self.plot.plot([], [], stepMode="center", pen=pg.mkPen(GREEN, width=1.5),
                                         name="good (training)"),
            "val_good": self.plot.plot([], [], stepMode="center", fillLevel=0, brush=(47, 111, 143, 80),
                                       pen=pg.mkPen(BLUE, width=1.5), name="good (validation)"),
            "val_defect": self.plot.plot([], [], stepMode="center", fillLevel=0, brush=(224, 138, 44, 80),
                                         pen=pg.mkPen(ORANGE, width=1.5), name="defect (validation)"),
        }
        self.line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(RED, width=2),
                                    label="threshold {value:.3g}", labelOpts={"position": 0.9, "color": RED})
        self.plot.addItem(self.line)
        self.set_scores({}, None)  # nothing to draw until a fitted run gives scores and its threshold
        layout.addWidget(self.plot)

    def set_scores(self, scores: dict[str, list[float]], threshold: float | None) -> None:
        # a training example scored by the detector that holds it sits near 0 (it is its own nearest neighbour):
        # where the run kept each one's score from a detector fitted without it (what the threshold used), show
        # those, as a fair picture of how new good examples score
        held = bool(scores.get("held_out_good"))
        keys = {"train_good": "held_out_good" if held else "train_good"}
        self.set_train_label("good (training, each scored without itself)" if held else "good (training)")
        values = [np.asarray(scores.get(keys.get(k, k)) or [], dtype=np.float64) for k in self.curves]
        pooled = np.concatenate([v for v in values if len(v)] + [np.zeros(0)])
        if threshold is not None:
            pooled = np.r_[pooled, threshold]
        self.line.setVisible(threshold is not None)
        # nothing fitted: no chart (empty 0-1 / 0-100 % axes only puzzled); the panel's sentence says so
        self.plot.setHidden(not len(pooled))
        if not len(pooled):
            for c in self.curves.values():
                c.setData([], [])
            return
        self.plot.enableAutoRange(axis="y")
        lo, hi = float(np.percentile(pooled, 0.5)), float(np.percentile(pooled, 99.5))
        hi = hi if hi > lo else lo + 1.0
        edges = np.linspace(lo, hi, 41)
        for (key, curve), v in zip(self.curves.items(), values):
            # each group as a share of itself: hundreds of training windows would flatten the few validation
            # examples that show where the threshold falls
            share = 100.0 * np.histogram(np.clip(v, lo, hi), edges)[0] / max(1, len(v))
            curve.setData(edges, share) if len(v) else curve.setData([], [])
        if threshold is not None:
            self.line.setValue(float(threshold))


    def set_train_label(self, text: str) -> None:
        label = self.plot.getPlotItem().legend.getLabel(self.curves["train_good"])
        if label is not None and label.text != text:
            label.setText(text)

    def train_label(self) -> str:
        label = self.plot.getPlotItem().legend.getLabel(self.curves["train_good"])
        return label.text if label is not None else ""


class AnomalyTrainPanel(QWidget):
    """Detector, image size and false-alarm budget; Fit; then the score distributions of the fitted run."""

    def __init__(self, page: Any) -> None:
        super().__init__()
        self.page = page
        self.state = page.state
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        form = QFormLayout()
        self.detector_combo = QComboBox()
        self.detector_combo.setObjectName("detectorCombo")
        self.size_spin = QSpinBox()
        self.size_spin.setRange(16, 512)
        self.size_spin.setSingleStep(16)
        self.size_spin.setSuffix(" px")
        self.size_spin.setToolTip("Images are resized to this side. Small defects need enough pixels.")
        self.fa_spin = QDoubleSpinBox()
        self.fa_spin.setObjectName("falseAlarmSpin")
        self.fa_spin.setRange(0.0, 50.0)
        self.fa_spin.setDecimals(1)
        self.fa_spin.setSingleStep(0.5)
        self.fa_spin.setSuffix(" % of good examples")
        self.fa_spin.setToolTip("The threshold flags at most this share of the good examples the detector was not fitted on "
                                "(the validation ones and, where the detector allows, training ones held out of a refit). "
                                "You can move it later on the Evaluate page.")
        for w in (self.detector_combo, self.size_spin, self.fa_spin):
            w.setMaximumWidth(420)
        form.addRow("Detector:", self.detector_combo)
        self.size_label = QLabel("Image size:")
        form.addRow(self.size_label, self.size_spin)
        form.addRow("False alarms allowed:", self.fa_spin)
        layout.addLayout(form)
        row = QHBoxLayout()
        box, actions = page.guarded_row(add=False)
        self.fit_button = QPushButton("Fit the detector")
        self.fit_button.setObjectName("primaryButton")
        self.fit_button.clicked.connect(self.start)
        actions.addWidget(self.fit_button)
        row.addWidget(box)
        self.task = TaskBar(cancel_text="Stop")
        row.addWidget(self.task, 1)
        layout.addLayout(row)
        layout.addWidget(page._busy_notes[-1])
        self.distributions = ScoreDistributions()
        layout.addWidget(self.distributions)
        self.result_label = QLabel()
        self.result_label.setObjectName("resultLine")
        self.result_label.setWordWrap(True)
        layout.addWidget(self.result_label)
        self.job: Any = None
        self._choices_job: Any = None
        self._loading = False
        for signal in (self.detector_combo.currentIndexChanged, self.size_spin.valueChanged,
                       self.fa_spin.valueChanged):
            signal.connect(self._save)

    def is_busy(self) -> bool:
        return self.job is not None and self.job.isRunning()

    def reload(self) -> None:
        if self.state.project is None or self.is_busy():
            return
        self._show_last_run()
        self.fit_button.setEnabled(False)
        self._choices_job = self.state.query("anomaly_choices", {"overrides": self.overrides()},
                                             succeeded=self._show_choices, failed=self._choices_failed)

    def overrides(self) -> dict[str, Any]:
        saved = self.state.page_settings("train")
        return {k: saved.get(k) for k in ("detector", "input_size", "false_alarms") if saved.get(k) is not None}

    @Slot(object)
    def _show_choices(self, choices: dict[str, Any]) -> None:
        if self.sender() is not self._choices_job or self.is_busy():
            return
        project = self.state.project
        image = project is not None and project.modality == "image"
        config = choices.get("config") or choices.get("defaults") or {}
        self._loading = True
        try:
            self.detector_combo.clear()
            for d in choices.get("detectors") or []:
                self.detector_combo.addItem(DETECTOR_TITLES.get(d, d), d)
            self.detector_combo.setCurrentIndex(max(self.detector_combo.findData(config.get("detector")), 0))
            self.detector_combo.setEnabled(image)
            self.size_spin.setVisible(image)
            self.size_label.setVisible(image)
            if image and config.get("input_size"):
                self.size_spin.setValue(int(config["input_size"]))
            self.fa_spin.setValue(100.0 * float(config.get("false_alarms", 0.01)))
        finally:
            self._loading = False
        if choices.get("config_error"):
            self.result_label.setText(f"Check the settings: {choices['config_error']}")
        self.fit_button.setEnabled(True)

    @Slot(object)
    def _choices_failed(self, exc: BaseException) -> None:
        if self.sender() is self._choices_job:
            self.result_label.setText(f"Could not read the detector choices: {exc}")
            self.fit_button.setEnabled(True)

    @Slot()
    def _save(self) -> None:
        if self._loading or self.state.project is None:
            return
        self.state.save_settings("train", self.values())

    def values(self) -> dict[str, Any]:
        project = self.state.project
        out: dict[str, Any] = {"detector": self.detector_combo.currentData() or "auto",
                               "false_alarms": round(self.fa_spin.value() / 100.0, 4)}
        if project is not None and project.modality == "image":
            out["input_size"] = self.size_spin.value()
        else:
            out["detector"] = "auto"
        return out

    @Slot()
    def start(self) -> None:
        if self.state.project is None or self.is_busy() or self.page.is_busy():
            return
        self._save()
        self.result_label.setText("")
        self.job = self.state.run("anomaly_train", {"overrides": self.values()}, succeeded=self._trained,
                                  failed=self._failed, done=self._done, task=self.task, owner=self.page)
        self.page.job = self.job
        self.task.on_status("Fitting…" if self.state.tf_ready else "Loading TensorFlow…")

    @Slot(object)
    def _trained(self, result: dict[str, Any]) -> None:
        self.task.set_idle("Done.")
        self.state.refresh_steps()

    @Slot(object)
    def _failed(self, exc: BaseException) -> None:
        self.task.set_idle("Stopped." if self.job is not None and self.job.cancelled else "Fitting failed.")
        dialogs.show_error(self.page, exc, "The detector was not fitted")

    @Slot()
    def _done(self) -> None:
        self.reload()

    def _show_last_run(self) -> None:
        from studio.core.fsutil import read_json

        project = self.state.project
        try:
            run_dir = project.run_dir()
            metrics = read_json(run_dir / "metrics.json")
        except Exception:  # noqa: BLE001 - no run yet, or not an anomaly run
            self.distributions.set_scores({}, None)
            self.result_label.setText("No detector fitted yet. Once it is, its scores on the good and defect "
                                      "examples appear here, with the threshold between them.")
            return
        if not isinstance(metrics, dict) or "scores" not in metrics:
            self.distributions.set_scores({}, None)
            self.result_label.setText("The active run is not an anomaly detector: fit one.")
            return
        self.distributions.set_scores(metrics.get("scores") or {}, metrics.get("threshold"))
        auroc = metrics.get("val_auroc")
        scores = metrics.get("scores") or {}
        n_good, n_def = len(scores.get("val_good") or []), len(scores.get("val_defect") or [])
        held = len(scores.get("held_out_good") or [])
        chosen_on = (f"{n_good} good validation examples and {held} good training examples each scored by a "
                     "detector fitted without it" if held else f"{n_good} good validation examples")
        text = (f"Detector <b>{metrics.get('detector')}</b> ({run_dir.name}), fitted in "
                f"{float(metrics.get('seconds') or 0):.1f} s on the good training examples. Threshold "
                f"<b>{float(metrics.get('threshold') or 0):.4g}</b>, chosen on {chosen_on}")
        text += (f"; validation AUROC <b>{float(auroc):.3f}</b> with {n_def} defect examples." if auroc is not None
                 else " (no defect examples in validation: no AUROC yet).")
        text += _scorer_text(run_dir)
        warning = metrics.get("threshold_warning")
        text += f" <b>{html.escape(warning)}</b>" if warning else ""
        self.result_label.setText(text + " See Evaluate for the details and to move the threshold.")


def _scorer_text(run_dir: Any) -> str:
    """' Scorer: ...' from the run's model.json (sensor detectors choose theirs on validation), else ''."""
    from studio.core.anomaly.blend import selection_text
    from studio.core.fsutil import read_json

    try:
        fit = (read_json(run_dir / "model.json") or {}).get("fit") or {}
    except Exception:  # noqa: BLE001 - an older or unreadable run: no scorer line
        return ""
    words = selection_text(fit.get("selection") if isinstance(fit, dict) else None)
    return f" {html.escape(words)}" if words else ""


# ---------------------------------------------------------------------------------------------- Evaluate page
class AnomalyEvaluatePanel(QWidget):
    """The evaluation view, per-defect rates, the most anomalous recordings (sensors) and Save threshold."""

    def __init__(self, page: Any) -> None:
        super().__init__()
        self.page = page
        self.state = page.state
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.view = AnomalyEvaluateView()
        self.view.setObjectName("anomalyEvaluateView")
        layout.addWidget(self.view)
        self.threshold_warning = QLabel()  # the threshold rests on few good examples: said in plain words
        self.threshold_warning.setObjectName("warningText")
        self.threshold_warning.setWordWrap(True)
        self.threshold_warning.setVisible(False)
        layout.addWidget(self.threshold_warning)
        self.per_defect = QLabel()
        self.per_defect.setObjectName("note")
        self.per_defect.setWordWrap(True)
        layout.addWidget(self.per_defect)
        self.table = QTableWidget(0, 5)
        self.table.setObjectName("anomalousTable")
        self.table.setHorizontalHeaderLabels(["Example", "Truth", "Score", "Verdict", "Worst window"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setMaximumHeight(240)
        layout.addWidget(self.table)
        row = QHBoxLayout()
        box, actions = page.guarded_row(add=False)
        self.save_button = QPushButton("Use this threshold")
        self.save_button.setObjectName("saveThresholdButton")
        self.save_button.setToolTip("Store the threshold in the run: the variants you build next and their "
                                    "device bundles use it.")
        self.save_button.clicked.connect(self.save_threshold)
        self.save_button.setEnabled(False)
        actions.addWidget(self.save_button)
        row.addWidget(box)
        self.saved_label = QLabel()
        self.saved_label.setObjectName("note")
        self.saved_label.setWordWrap(True)
        row.addWidget(self.saved_label, 1)
        layout.addLayout(row)
        layout.addWidget(page._busy_notes[-1])
        self.view.threshold_changed.connect(self._moved)
        self.result: dict[str, Any] = {}
        self.job: Any = None

    def set_result(self, result: dict[str, Any]) -> None:
        self.result = result
        self.view.set_result(result)
        unit = result.get("unit", "image")
        per = result.get("per_defect") or {}
        self.per_defect.setText(
            "Defects caught per type: " + ", ".join(
                f"{k} {100 * float(v.get('detection_rate') or 0):.0f} % of {v.get('n', '?')}" for k, v in sorted(per.items()))
            if per else "No defect examples here: only the false alarms can be counted.")
        events = result.get("events") or []
        if events:  # one long labelled series: was each labelled anomaly seen by a window over it?
            caught = sum(e.get("verdict") == "NOT OK" for e in events)
            shown = "; ".join(
                f"lines {e['lines'][0]}-{e['lines'][1]} {'caught' if e.get('verdict') == 'NOT OK' else 'missed'} "
                f"(highest window {float(e.get('score', 0)):.3g})" for e in events[:8])
            self.per_defect.setText(self.per_defect.text() + f"\nAnomalous stretches caught (a window over them "
                                    f"flagged): {caught} of {len(events)}: {shown}"
                                    + ("; …" if len(events) > 8 else "") + ".")
        items = result.get("most_anomalous") or []
        show_table = unit in ("recording", "window") or not any(it.get("heatmap") is not None for it in items)
        self.table.setVisible(show_table and bool(items))
        self.table.setRowCount(len(items) if show_table else 0)
        windows = unit == "window"  # one long series: each row is a window, named by its file and first line
        self.table.setColumnHidden(4, windows)
        self.table.horizontalHeaderItem(0).setText("Window" if windows else "Example")
        for i, it in enumerate(items if show_table else []):
            name = (window_name(str(it.get("worst_window") or it.get("id"))) if windows else
                    str(it.get("source") or it.get("id") or it.get("path") or i))
            values = (name, str(it.get("label")),
                      f"{float(it.get('score', 0)):.4g}", str(it.get("verdict")), str(it.get("worst_window", "")))
            for j, text in enumerate(values):
                self.table.setItem(i, j, QTableWidgetItem(text))
        if show_table and items:
            self.table.resizeColumnToContents(0)  # the example's name whole, not "test.csv, fro…"
        warning = result.get("threshold_warning")
        self.threshold_warning.setText(warning or "")
        self.threshold_warning.setVisible(bool(warning))
        self.save_button.setEnabled(False)
        self.saved_label.setText(f"Drag the red line to trade false alarms against missed defects "
                                 f"(per {unit}). The threshold in use: {float(result['threshold']):.4g} "
                                 f"({result.get('policy_text') or 'chosen on validation'}).")

    @Slot(float)
    def _moved(self, t: float) -> None:
        self.save_button.setEnabled(abs(t - float(self.result.get("threshold", t))) > 1e-9)

    @Slot()
    def save_threshold(self) -> None:
        if self.state.project is None or (self.job is not None and self.job.isRunning()):
            return
        t = float(self.view.histogram.threshold)
        self.job = self.state.run("anomaly_threshold", {"kind": "value", "value": t, "run": self.result.get("run")},
                                  succeeded=self._saved, failed=self._save_failed, owner=self.page)

    @Slot(object)
    def _saved(self, record: dict[str, Any]) -> None:
        t = float(record["threshold"])
        self.result = dict(self.result, threshold=t, policy_text=record.get("policy_text"))
        self.save_button.setEnabled(False)
        self.saved_label.setText(f"Threshold {t:.4g} stored in the run. Build a variant again on Optimize to put "
                                 "it in the device bundle.")

    @Slot(object)
    def _save_failed(self, exc: BaseException) -> None:
        dialogs.show_error(self.page, exc, "The threshold was not stored")


def window_name(window_id: str) -> str:
    """'test.csv:2050' (a window's file and first line) as 'test.csv, from line 2050'."""
    source, _, line = window_id.rpartition(":")
    return f"{source}, from line {line}" if source and line.isdigit() else window_id


def show_evaluation(page: Any, result: dict[str, Any]) -> bool:
    """Render an anomaly ``evaluate`` result on the Evaluate page (True), or leave a classifier's to it."""
    if "auroc" not in result or "detection_rate" not in result:
        clear_evaluation(page)
        return False
    panel = getattr(page, "_anomaly_panel", None)
    if panel is None:
        panel = AnomalyEvaluatePanel(page)
        page._anomaly_panel = panel
        page.body.insertWidget(page.body.indexOf(page.results) + 1, panel)
    page.last_result = result
    page.results.setVisible(False)
    panel.setVisible(True)
    panel.set_result(result)
    return True


def clear_evaluation(page: Any) -> None:
    panel = getattr(page, "_anomaly_panel", None)
    if panel is not None:
        panel.setVisible(False)


PANELS: dict[str, Callable[[Any], QWidget]] = {"model": AnomalyModelPanel, "train": AnomalyTrainPanel}
