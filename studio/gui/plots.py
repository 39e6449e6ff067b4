"""pyqtgraph plots used by the pages. Each plot creates its items once and then only calls ``setData``.

Colours follow the style sheet: calm blue for training, warm orange for validation.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QGraphicsItem, QSizePolicy

from studio.core.units import linear_ticks, size_axis, tick_text

pg.setConfigOptions(antialias=True, background="w", foreground="#3d4d58")

BLUE = "#2f6f8f"
ORANGE = "#e08a2c"
GREEN = "#3c9a6b"
RED = "#c0392b"
GREY = "#9aa7b0"
PALETTE = ["#2f6f8f", "#e08a2c", "#3c9a6b", "#8e5ea2", "#c0392b", "#7f8c8d", "#d4a017", "#1f9bb5"]


# ---------------------------------------------------------------------------------------------- axes, legends
class IntegerAxis(pg.AxisItem):
    """Whole-number ticks only (epochs, rows, counts): never "1.5 epoch"."""

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:  # noqa: N802, N803 - pyqtgraph API
        return [(1.0, linear_ticks(minVal, maxVal, max(2, int(size // 55)), integer=True))]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        return [str(int(round(v))) for v in values]


class PercentAxis(pg.AxisItem):
    """A percent axis (values 0..100): round ticks written "80 %" (0 % and 100 % included at the ends)."""

    def __init__(self, orientation: str = "left", **kwargs: object) -> None:
        super().__init__(orientation, **kwargs)
        self.setStyle(hideOverlappingLabels=False)

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:  # noqa: N802, N803
        # the range may run past 100 so a 100 % point is not drawn on the edge; no share is above 100 %
        ticks = linear_ticks(minVal, maxVal, max(3, int(size // 25)))
        return [(1.0, [v for v in ticks if -1e-9 <= v <= 100 + 1e-9])]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        return [f"{tick_text(v)} %" for v in values]


class LogSizeAxis(pg.AxisItem):
    """A log axis of sizes whose view coordinate is log10(KB): round ticks, all in KB or all in MB, spaced so
    labels never overlap (:func:`studio.core.units.size_axis`)."""

    def __init__(self, orientation: str = "bottom", **kwargs: object) -> None:
        super().__init__(orientation, **kwargs)
        self._labels: dict[float, str] = {}
        self.unit = "KB"

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:  # noqa: N802, N803
        lo, hi = sorted((minVal, maxVal))
        self.unit, ticks = size_axis(10.0 ** lo, 10.0 ** hi, max(2, int(size // 80)))
        self._labels = {round(math.log10(kb), 6): label for kb, label in ticks}
        return [(1.0, [math.log10(kb) for kb, _ in ticks])]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        return [self._labels.get(round(v, 6), "") for v in values]


def legend_below(plot: pg.PlotWidget | pg.PlotItem, columns: int = 3) -> pg.LegendItem:
    """A legend under the plot's bottom axis, outside the data (curves added later with ``name=`` join it)."""
    item = plot.getPlotItem() if isinstance(plot, pg.PlotWidget) else plot
    legend = pg.LegendItem(colCount=max(1, columns), horSpacing=18, labelTextColor="#3d4d58")
    legend.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
    item.layout.addItem(legend, 4, 1)
    item.layout.setAlignment(legend, Qt.AlignmentFlag.AlignHCenter)
    item.legend = legend  # PlotItem.plot(name=...) adds to it
    return legend


def plot_widget(title: str = "", left: str = "", bottom: str = "", height: int = 220) -> pg.PlotWidget:
    w = pg.PlotWidget()
    w.setMinimumHeight(height)
    w.setMenuEnabled(False)
    w.setMouseEnabled(x=False, y=False)
    w.hideButtons()
    if title:
        w.setTitle(title, color="#24313a", size="10pt")
    if left:
        w.setLabel("left", left)
    if bottom:
        w.setLabel("bottom", bottom)
    w.showGrid(x=True, y=True, alpha=0.15)
    return w


class BarChart(pg.PlotWidget):
    """Counts per class (one bar per class, stacked by split when given)."""

    def __init__(self, title: str = "", height: int = 220) -> None:
        super().__init__()
        self.setMinimumHeight(height)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        if title:
            self.setTitle(title, color="#24313a", size="10pt")
        self.showGrid(y=True, alpha=0.15)
        self._bars: list[pg.BarGraphItem] = []
        self._legend = legend_below(self, columns=3)

    def set_counts(self, classes: Sequence[str], stacks: dict[str, Sequence[int]]) -> None:
        """``stacks`` maps a series name ("train", "val"...) to one count per class; bars are stacked."""
        for bar in self._bars:
            self.removeItem(bar)
        self._bars = []
        self._legend.clear()
        x = np.arange(len(classes), dtype=float)
        bottom = np.zeros(len(classes))
        colours = {"train": BLUE, "val": ORANGE, "test": GREEN}
        for i, (name, values) in enumerate(stacks.items()):
            values = np.asarray(values, dtype=float)
            if not values.any():
                continue
            colour = colours.get(name, PALETTE[i % len(PALETTE)])
            bar = pg.BarGraphItem(x=x, height=values, y0=bottom, width=0.6, brush=colour, pen=pg.mkPen(None))
            self.addItem(bar)
            self._legend.addItem(bar, name)
            self._bars.append(bar)
            bottom = bottom + values
        axis = self.getAxis("bottom")
        axis.setTicks([[(float(i), str(c)) for i, c in enumerate(classes)]])
        self.setXRange(-0.6, max(len(classes) - 0.4, 0.6), padding=0)
        self.setYRange(0, max(float(bottom.max()) if len(bottom) else 1.0, 1.0) * 1.15, padding=0)


class CurvePlot(pg.PlotWidget):
    """Named curves created once; :meth:`set` replaces a curve's data. Epochs on whole-number ticks, the legend
    under the plot; ``percent``: the left axis is 0..100 % (values must already be in percent)."""

    def __init__(self, title: str, left: str, bottom: str = "epoch", height: int = 240,
                 legend_offset: tuple[int, int] | None = None, percent: bool | None = None,
                 legend_columns: int = 3) -> None:
        percent = left.strip() == "%" if percent is None else percent
        axes = {"bottom": IntegerAxis("bottom")} if bottom == "epoch" else {}
        if percent:
            axes["left"] = PercentAxis("left")
        super().__init__(axisItems=axes)
        self.percent = percent
        self.setMinimumHeight(height)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)  # the wheel scrolls the page; it zoomed the chart out
        self.hideButtons()
        self.setTitle(title, color="#24313a", size="10pt")
        self.setLabel("left", "accuracy" if percent and left.strip() == "%" else left)
        self.setLabel("bottom", bottom)
        self.getAxis("left").enableAutoSIPrefix(False)
        self.showGrid(x=True, y=True, alpha=0.15)
        # room on the right for half of the last tick label (the "40" of an epoch axis was cut in half)
        self.getPlotItem().layout.setContentsMargins(2, 2, 14, 2)
        if percent:  # 0 % and 100 % ticks need half a label of room inside the view to be drawn
            self.setYRange(0, 100, padding=0.07)
        self.legend = legend_below(self, legend_columns)  # legend_offset: kept for callers, unused (outside)
        self.curves: dict[str, pg.PlotDataItem] = {}
        # Live plots repaint a few times a second: keep each axis (ticks, labels, grid) as a cached pixmap that
        # is re-rendered only when its range changes (replaying the axis' text was half of a repaint's cost).
        for name in ("left", "bottom"):
            self.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def add_curve(self, name: str, colour: str, width: float = 2.0, dashed: bool = False,
                  symbol: str | None = None, label: str | None = None) -> pg.PlotDataItem:
        pen = pg.mkPen(colour, width=width, style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
        kwargs = {"symbol": symbol, "symbolSize": 7, "symbolBrush": colour, "symbolPen": None} if symbol else {}
        curve = self.plot([], [], pen=pen, name=label, **kwargs)
        self.curves[name] = curve
        return curve

    def set(self, name: str, x: Sequence[float], y: Sequence[float]) -> None:
        self.curves[name].setData(np.asarray(x, dtype=float), np.asarray(y, dtype=float))

    def clear_data(self) -> None:
        for curve in self.curves.values():
            curve.setData([], [])


class HeatMap(pg.PlotWidget):
    """A confusion matrix: rows = true class, columns = predicted class, counts written in the cells."""

    def __init__(self, height: int = 320) -> None:
        super().__init__()
        self.setMinimumHeight(height)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setAspectLocked(False)
        self.invertY(True)
        self.setLabel("left", "true class")
        self.setLabel("bottom", "predicted class")
        self.image = pg.ImageItem()
        self.addItem(self.image)
        self.image.setLookupTable(_blue_lut())
        self._texts: list[pg.TextItem] = []

    def set_matrix(self, labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> None:
        m = np.asarray(matrix, dtype=float)
        n = len(labels)
        for t in self._texts:
            self.removeItem(t)
        self._texts = []
        if n == 0:
            self.image.clear()
            return
        # colour by row share (recall), so a small class is as visible as a big one
        rows = m.sum(axis=1, keepdims=True)
        share = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
        self.image.setImage(share.T, levels=(0.0, 1.0))  # ImageItem is column-major (x, y)
        self.image.setRect(QRectF(0, 0, n, n))
        font = QFont()
        font.setPointSize(10 if n <= 8 else 8)
        font.setBold(True)
        for i in range(n):
            for j in range(n):
                colour = "#ffffff" if share[i, j] > 0.55 else "#24313a"
                text = pg.TextItem(str(int(m[i, j])), color=colour, anchor=(0.5, 0.5))
                text.setFont(font)
                text.setPos(j + 0.5, i + 0.5)
                self.addItem(text)
                self._texts.append(text)
        ticks = [(i + 0.5, str(label)) for i, label in enumerate(labels)]
        self.getAxis("bottom").setTicks([ticks])
        self.getAxis("left").setTicks([ticks])
        self.setXRange(0, n, padding=0.02)
        self.setYRange(0, n, padding=0.02)


def _blue_lut() -> np.ndarray:
    lo = np.array([244, 248, 250], dtype=float)
    hi = np.array([31, 84, 112], dtype=float)
    t = np.linspace(0, 1, 256)[:, None]
    return (lo + (hi - lo) * t).astype(np.uint8)


def size_ticks(lo: float, hi: float, max_ticks: int = 6) -> list[tuple[float, str]]:
    """Ticks for a log10(KB) axis, all in one unit (KB, or MB from 1 MB up): [(log10 KB, label)]. Prefer
    :class:`LogSizeAxis`, which also spaces them by the axis's width."""
    _unit, ticks = size_axis(10.0 ** lo, 10.0 ** hi, max_ticks)
    return [(math.log10(kb), label) for kb, label in ticks]


class ScatterPlot(pg.PlotWidget):
    """Size vs accuracy of the variants on a log size axis, with the target's flash limit as a vertical line.

    A log axis keeps a 20 KB variant, a 90 KB one and a 1 MB flash limit readable on one plot.
    """

    def __init__(self, height: int = 280) -> None:
        super().__init__(axisItems={"bottom": LogSizeAxis("bottom"), "left": PercentAxis("left")})
        self.setMinimumHeight(height)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)  # the wheel scrolls the page (it zoomed to "-3000 %" accuracy)
        self.hideButtons()
        self.setLogMode(x=True, y=False)
        self.setLabel("bottom", "model file size (log scale)")
        self.setLabel("left", "accuracy")
        self.getAxis("bottom").enableAutoSIPrefix(False)
        self.showGrid(x=True, y=True, alpha=0.15)
        legend_below(self, columns=2)
        self.fits_points = self.plot([], [], pen=None, symbol="o", symbolSize=13, symbolBrush=GREEN,
                                     symbolPen=pg.mkPen("#ffffff", width=1.2), name="fits the device")
        self.nofit_points = self.plot([], [], pen=None, symbol="o", symbolSize=13, symbolBrush=RED,
                                      symbolPen=pg.mkPen("#ffffff", width=1.2), name="does not fit")
        self.limit = pg.InfiniteLine(angle=90, movable=False,
                                     pen=pg.mkPen(RED, width=1.5, style=Qt.PenStyle.DashLine),
                                     label="", labelOpts={"position": 0.92, "color": RED, "anchors": [(1, 0), (1, 0)]})
        self.addItem(self.limit, ignoreBounds=True)
        self.limit.setVisible(False)
        self._labels: list[pg.TextItem] = []

    def set_points(self, points: list[tuple[str, float, float, bool]], limit_kb: float | None,
                   limit_label: str = "") -> None:
        """``points``: (name, size_kb, accuracy_percent, fits)."""
        for t in self._labels:
            self.removeItem(t)
        self._labels = []
        fits = [(x, y) for _n, x, y, ok in points if ok and x > 0]
        nofit = [(x, y) for _n, x, y, ok in points if not ok and x > 0]
        self.fits_points.setData([p[0] for p in fits], [p[1] for p in fits])
        self.nofit_points.setData([p[0] for p in nofit], [p[1] for p in nofit])
        for x, y, text, below in label_places(points):
            label = pg.TextItem(text, color="#3d4d58", anchor=(0, -0.1) if below else (0, 1.1))
            label.setPos(x, y)  # items added by hand live in log coordinates
            self.addItem(label)
            self._labels.append(label)
        xs = [p[1] for p in points if p[1] > 0]
        ys = [p[2] for p in points]
        self.limit.setVisible(limit_kb is not None)
        if limit_kb is not None:
            self.limit.setValue(math.log10(limit_kb))
            self.limit.label.setFormat(limit_label)
            xs = xs + [limit_kb]
        if xs:
            margin = 0.3 if ys else 1.0  # no variant yet: a decade either side of the limit, so ticks show
            lo, hi = math.log10(min(xs)) - margin, math.log10(max(xs)) + margin
            self.setXRange(lo, hi, padding=0)
        if ys:
            self.setYRange(max(0.0, min(ys) - 10), min(100.0, max(ys) + 5) + 2, padding=0)
        else:
            self.setYRange(0.0, 100.0, padding=0.04)  # an empty plot still reads 0-100 %


def label_places(points: list[tuple[str, float, float, bool]]) -> list[tuple[float, float, str, bool]]:
    """(log10 size, accuracy, text, below) of the scatter's labels: variants on the same spot share one label
    ("int8, u8"); a label near the one before it (within 0.15 decades and 1.5 points) goes below its point when
    that one is above, so two close variants' names do not print over each other."""
    groups: dict[tuple[float, float], tuple[float, float, list[str]]] = {}
    for name, size, acc, _ok in points:
        if size <= 0:
            continue
        x = math.log10(size)
        groups.setdefault((round(x, 2), round(acc, 1)), (x, acc, []))[2].append(name)
    placed: list[tuple[float, float, str, bool]] = []
    for x, y, names in sorted(groups.values(), key=lambda g: (g[0], g[1])):
        near = [b for px, py, _t, b in placed if abs(px - x) < 0.15 and abs(py - y) < 1.5]
        placed.append((x, y, ", ".join(names), bool(near) and not near[-1]))
    return placed


__all__ = ["BarChart", "CurvePlot", "HeatMap", "IntegerAxis", "LogSizeAxis", "PercentAxis", "ScatterPlot",
           "legend_below", "plot_widget", "size_ticks", "QColor"]
