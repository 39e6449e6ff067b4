"""Evaluate widgets for anomaly projects, fed with plain data (an ``evaluate --json`` result):

* :class:`ThresholdHistogram` — good vs defect score histograms with a draggable threshold line; false alarms
  and misses update live as it moves (``threshold_changed`` tells the page, which may save it with
  ``studio threshold --value``);
* :class:`RocPlot` — the ROC curve with the current operating point;
* :class:`HeatmapGallery` — the most anomalous images with their anomaly maps over them;
* :class:`AnomalyEvaluateView` — the three together with the headline figures, ``set_result(result)``.

They only render: a page builds the evaluation request, runs it wherever jobs run, and hands the result here.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from studio.core.anomaly.metrics import anomaly_metrics
from studio.gui.plots import BLUE, GREY, ORANGE, RED, IntegerAxis, legend_below, plot_widget
from studio.gui.widgets.gallery import Thumbnail, pixmap_from_array


def live_figures(good: Sequence[float], defect: Sequence[float], threshold: float) -> dict[str, Any]:
    """False alarms and misses at ``threshold`` (counts and rates), from the raw scores."""
    g = np.asarray(good, dtype=np.float64)
    d = np.asarray(defect, dtype=np.float64)
    m = anomaly_metrics(np.r_[g, d], np.r_[np.zeros(len(g), bool), np.ones(len(d), bool)], threshold)
    (tn, fp), (fn, tp) = m["confusion_matrix"]
    return {"false_alarms": fp, "n_good": tn + fp, "misses": fn, "n_defect": fn + tp,
            "false_alarm_rate": m["false_alarm_rate"], "miss_rate": (fn / (fn + tp)) if fn + tp else None,
            "detection_rate": m["detection_rate"], "accuracy": m["accuracy"]}


def figures_text(f: dict[str, Any], unit: str = "image") -> str:
    far = f"{f['false_alarms']} of {f['n_good']} good {unit}s flagged ({(f['false_alarm_rate'] or 0) * 100:.1f} %)"
    if not f["n_defect"]:
        return f"False alarms: {far}. No defect examples to count misses on."
    return (f"False alarms: {far}.  Missed defects: {f['misses']} of {f['n_defect']} "
            f"({(f['miss_rate'] or 0) * 100:.1f} %).")


class ThresholdHistogram(QWidget):
    """Score histograms of good and defect examples and a threshold the user drags."""

    threshold_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plot = plot_widget("Scores: good vs defect", left="examples", bottom="anomaly score", height=230)
        self.plot.setAxisItems({"left": IntegerAxis("left")})  # counts of examples: never "1.5"
        self.plot.setLabel("left", "examples")
        legend_below(self.plot, columns=2)  # inside, it covered the highest scores and the threshold's label
        self.good_curve = self.plot.plot([], [], stepMode="center", fillLevel=0, brush=(47, 111, 143, 90),
                                         pen=pg.mkPen(BLUE, width=1.5), name="good")
        self.defect_curve = self.plot.plot([], [], stepMode="center", fillLevel=0, brush=(224, 138, 44, 90),
                                           pen=pg.mkPen(ORANGE, width=1.5), name="defect")
        self.line = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen(RED, width=2),
                                    label="threshold {value:.3g}", labelOpts={"position": 0.9, "color": RED})
        self.plot.addItem(self.line)
        self.line.sigPositionChanged.connect(self._moved)
        self.summary = QLabel("")
        self.summary.setObjectName("anomalyFigures")
        self.summary.setWordWrap(True)
        layout.addWidget(self.plot)
        layout.addWidget(self.summary)
        self._good = np.zeros(0)
        self._defect = np.zeros(0)
        self._quiet = False
        self.unit = "image"

    def set_scores(self, good: Sequence[float], defect: Sequence[float], threshold: float, unit: str = "image") -> None:
        self._good = np.asarray(good, dtype=np.float64)
        self._defect = np.asarray(defect, dtype=np.float64)
        self.unit = unit
        allv = np.r_[self._good, self._defect, [threshold]]
        lo, hi = float(allv.min()), float(allv.max())
        hi = hi if hi > lo else lo + 1.0
        edges = np.linspace(lo, hi, 41)
        self.good_curve.setData(edges, np.histogram(self._good, edges)[0])
        self.defect_curve.setData(edges, np.histogram(self._defect, edges)[0])
        self._quiet = True  # the label follows the line; the page hears only the user's moves
        try:
            self.line.setValue(float(threshold))
        finally:
            self._quiet = False
        self._update_text(float(threshold))

    @property
    def threshold(self) -> float:
        return float(self.line.value())

    def set_threshold(self, value: float) -> None:
        self.line.setValue(float(value))  # emits through _moved

    @Slot(object)
    def _moved(self, _line: Any = None) -> None:
        if self._quiet:
            return
        t = self.threshold
        self._update_text(t)
        self.threshold_changed.emit(t)

    def _update_text(self, t: float) -> None:
        self.figures = live_figures(self._good, self._defect, t)
        self.summary.setText(figures_text(self.figures, self.unit))


class RocPlot(QWidget):
    """ROC curve (false-alarm rate vs detection rate) with the current threshold's point."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plot = plot_widget("ROC", left="defects caught", bottom="good flagged (false alarms)", height=230)
        self.plot.setXRange(0, 1, padding=0.02)
        self.plot.setYRange(0, 1, padding=0.02)
        self.plot.plot([0, 1], [0, 1], pen=pg.mkPen(GREY, style=Qt.PenStyle.DashLine))
        self.curve = self.plot.plot([], [], pen=pg.mkPen(BLUE, width=2))
        self.point = self.plot.plot([], [], pen=None, symbol="o", symbolBrush=RED, symbolSize=9)
        self.title = QLabel("")
        layout.addWidget(self.plot)
        layout.addWidget(self.title)

    def set_curve(self, roc: dict[str, list[float]], auroc: float | None) -> None:
        # no AUROC (no defect or no good examples): no curve either, rather than a flat line at 0 caught
        self.curve.setData(*((roc.get("false_alarm_rate", []), roc.get("detection_rate", []))
                             if auroc is not None else ([], [])))
        self.title.setText(f"AUROC {auroc:.3f}" if auroc is not None else "AUROC needs good and defect examples")

    def set_point(self, false_alarm_rate: float | None, detection_rate: float | None) -> None:
        if false_alarm_rate is None or detection_rate is None:
            self.point.setData([], [])
        else:
            self.point.setData([false_alarm_rate], [detection_rate])


class HeatmapGallery(QWidget):
    """The most anomalous images, each with its anomaly map over it, score and verdict in the tooltip."""

    clicked = Signal(object)

    def __init__(self, columns: int = 6, size: int = 96, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.columns, self.size = columns, size
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.thumbs: list[Thumbnail] = []

    def set_items(self, items: list[dict[str, Any]], threshold: float) -> None:
        from studio.core.anomaly.maps import overlay_file

        for t in self.thumbs:
            t.setParent(None)
        self.thumbs = []
        shown = [it for it in items if it.get("path") and it.get("heatmap") is not None]
        for k, it in enumerate(shown):
            try:
                pic = overlay_file(it["path"], it["heatmap"], threshold, max_side=self.size * 2)
            except Exception:  # noqa: BLE001 - a moved or unreadable file: leave it out of the gallery
                continue
            caption = (f"{it['verdict']}  score {it['score']:.3g} (threshold {threshold:.3g})\n"
                       f"{'defect: ' + it['label'] if it.get('defect') else 'good'}\n{it.get('id', '')}")
            thumb = Thumbnail(pixmap_from_array(pic), caption, payload=it, size=self.size)
            thumb.clicked.connect(self.clicked.emit)
            self.grid.addWidget(thumb, k // self.columns, k % self.columns)
            self.thumbs.append(thumb)


class AnomalyEvaluateView(QWidget):
    """Headline figures, the threshold histogram, the ROC curve and the gallery of one evaluation result."""

    threshold_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.headline = QLabel("")
        self.headline.setObjectName("anomalyHeadline")
        self.headline.setWordWrap(True)
        self.histogram = ThresholdHistogram()
        self.roc = RocPlot()
        row = QHBoxLayout()
        row.addWidget(self.histogram, 3)
        row.addWidget(self.roc, 2)
        self.gallery_title = QLabel("Most anomalous images (red: unlike the good examples)")
        self.gallery = HeatmapGallery()
        layout.addWidget(self.headline)
        layout.addLayout(row)
        layout.addWidget(self.gallery_title)
        layout.addWidget(self.gallery)
        self.histogram.threshold_changed.connect(self._threshold_moved)
        self.result: dict[str, Any] = {}

    def set_result(self, result: dict[str, Any]) -> None:
        self.result = result
        scores = result.get("scores") or {}
        t = float(result["threshold"])
        unit = result.get("unit", "image")
        self.histogram.set_scores(scores.get("good", []), scores.get("defect", []), t, unit)
        self.roc.set_curve(result.get("roc") or {}, result.get("auroc"))
        self.roc.set_point(result.get("false_alarm_rate"), result.get("detection_rate"))
        self._headline(t)
        has_maps = any(it.get("heatmap") is not None for it in result.get("most_anomalous", []))
        self.gallery_title.setVisible(has_maps)
        self.gallery.setVisible(has_maps)
        if has_maps:
            self.gallery.set_items(result.get("most_anomalous", []), t)

    def _headline(self, t: float) -> None:
        r = self.result
        f = self.histogram.figures
        auroc = r.get("auroc")
        caught = (f"{(f['detection_rate'] or 0) * 100:.1f} % of defects caught" if f["n_defect"]
                  else "no defect examples")
        self.headline.setText(
            (f"AUROC {auroc:.3f}  ·  " if auroc is not None else "")
            + f"threshold {t:.3g}: {caught}, {(f['false_alarm_rate'] or 0) * 100:.1f} % false alarms, "
            f"{(f['accuracy'] or 0) * 100:.1f} % of {r.get('n', 0)} {r.get('unit', 'image')}s right (good / not good)")

    @Slot(float)
    def _threshold_moved(self, t: float) -> None:
        f = self.histogram.figures
        self.roc.set_point(f["false_alarm_rate"], f["detection_rate"])
        self._headline(t)
        self.threshold_changed.emit(t)
