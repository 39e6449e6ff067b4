"""The live Pareto frontier of a "fit my device" search: size vs accuracy, fits marked, Stop, keep a point.

Fed with plain data only — the dicts ``studio.core.optimize.search`` reports as ``metrics("search_point",
point)`` (and returns in its JSON ``points`` / ``frontier``) — so it works the same whether the search runs in
a worker thread, a worker process, or was loaded from ``search.json``. Each curve is created once and updated
with ``setData`` from slots (no polling, no processEvents).
"""

from __future__ import annotations

import math
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from studio.core.pareto import pareto_front
from studio.gui.plots import BLUE, GREEN, GREY, RED, LogSizeAxis, PercentAxis


def point_text(p: dict[str, Any]) -> str:
    """One line a user reads: what the model is, how big, how accurate, whether it fits."""
    s = p.get("settings") or {}
    what = f"{s.get('arch', '?')} width {s.get('width')}"
    if s.get("input_size"):
        what += f", {s['input_size']} px"
    if s.get("channels"):
        what += f", {s['channels']:.0%} of channels removed"
    arena = p.get("arena_bytes")
    return (f"{what}, {s.get('quantize', '')}: {p['bytes'] / 1024:.1f} KB file"
            + (f", {arena / 1024:.1f} KB RAM (arena)" if arena else "")
            + f", accuracy {(p.get('accuracy') or 0) * 100:.1f} %"
            + (" — fits" if p.get("fits") else " — does not fit")
            + (f" (kept as {p['name']})" if p.get("name") else ""))


class FrontierView(QWidget):
    """Every measured point (small grey dots), the frontier (large, green when it fits the device, red when
    not, joined by a step line), the device's flash limit, a Stop button and "Keep as variant"."""

    stop_clicked = Signal()
    keep_requested = Signal(int)  # the id of a frontier point to keep as a variant

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.points: dict[int, dict[str, Any]] = {}
        self.selected: int | None = None
        self.plot = pg.PlotWidget(axisItems={"bottom": LogSizeAxis("bottom"), "left": PercentAxis("left")})
        self.plot.setMinimumHeight(300)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)  # the wheel scrolls the page; points are still clicked
        self.plot.hideButtons()
        self.plot.setLogMode(x=True, y=False)
        self.plot.setLabel("bottom", "model file size (log scale)")
        self.plot.setLabel("left", "validation accuracy through LiteRT")
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.line = self.plot.plot([], [], pen=pg.mkPen(BLUE, width=1.5), stepMode=None)
        self.others = pg.ScatterPlotItem(size=7, brush=pg.mkBrush(GREY), pen=pg.mkPen(None))
        self.front = pg.ScatterPlotItem(size=14, pen=pg.mkPen("#ffffff", width=1.2), hoverable=True)
        self.front.sigClicked.connect(self._clicked)
        self.plot.addItem(self.others)
        self.plot.addItem(self.front)
        self.limit = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(RED, width=1.5, style=Qt.PenStyle.DashLine),
                                     label="", labelOpts={"position": 0.92, "color": RED, "anchors": [(1, 0), (1, 0)]})
        self.plot.addItem(self.limit, ignoreBounds=True)
        self.limit.setVisible(False)
        self.limit_kb: float | None = None
        self.summary = QLabel("No points yet.")
        self.summary.setWordWrap(True)
        self.detail = QLabel("Click a large dot to see it; keep it as a variant to export it.")
        self.detail.setWordWrap(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the search: every point measured so far is kept")
        self.stop_button.clicked.connect(self.stop_clicked)
        self.stop_button.setEnabled(False)
        self.keep_button = QPushButton("Keep as variant")
        self.keep_button.setEnabled(False)
        self.keep_button.clicked.connect(self._keep)
        buttons = QHBoxLayout()
        buttons.addWidget(self.detail, 1)
        buttons.addWidget(self.keep_button)
        buttons.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.plot, 1)
        layout.addLayout(buttons)

    # ------------------------------------------------------------------ data in
    @Slot(dict)
    def add_point(self, point: dict[str, Any]) -> None:
        """One measured point (``metrics("search_point", ...)``); the frontier is recomputed from all points."""
        if point.get("bytes") and point.get("accuracy") is not None:
            self.points[int(point["id"])] = dict(point)
            self._redraw()

    def set_points(self, points: list[dict[str, Any]]) -> None:
        """Replace everything (a finished search's JSON, or ``search.json`` read back)."""
        self.points = {int(p["id"]): dict(p) for p in points if p.get("bytes") and p.get("accuracy") is not None}
        self.selected = None
        self._redraw()

    def set_limit(self, limit_kb: float | None, label: str = "") -> None:
        self.limit_kb = limit_kb
        self.limit.setVisible(limit_kb is not None)
        if limit_kb is not None:
            self.limit.setValue(math.log10(limit_kb))
            self.limit.label.setFormat(label)
        self._redraw()

    @Slot(bool)
    def set_running(self, running: bool) -> None:
        self.stop_button.setEnabled(running)

    def mark_kept(self, point_id: int, name: str) -> None:
        if point_id in self.points:
            self.points[point_id]["name"] = name
            self._redraw()

    # ------------------------------------------------------------------ drawing
    def frontier(self) -> list[dict[str, Any]]:
        return pareto_front(list(self.points.values()))

    def _redraw(self) -> None:
        front = self.frontier()
        on = {p["id"] for p in front}
        rest = [p for p in self.points.values() if p["id"] not in on]
        self.others.setData([math.log10(p["bytes"] / 1024) for p in rest], [p["accuracy"] * 100 for p in rest])
        spots = [{"pos": (math.log10(p["bytes"] / 1024), p["accuracy"] * 100), "data": p["id"],
                  "brush": pg.mkBrush(GREEN if p.get("fits") else RED),
                  "symbol": "s" if p.get("name") else "o",
                  "pen": pg.mkPen("#24313a", width=2.5) if p["id"] == self.selected else pg.mkPen("#ffffff", width=1.2)}
                 for p in front]
        self.front.setData(spots)
        self.line.setData([p["bytes"] / 1024 for p in front], [p["accuracy"] * 100 for p in front])
        xs = [p["bytes"] / 1024 for p in self.points.values()] + ([self.limit_kb] if self.limit_kb else [])
        if xs:
            lo, hi = math.log10(min(xs)) - 0.2, math.log10(max(xs)) + 0.2
            self.plot.setXRange(lo, hi, padding=0)
        ys = [p["accuracy"] * 100 for p in self.points.values()]
        if ys:
            self.plot.setYRange(max(0.0, min(ys) - 5), min(100.0, max(ys) + 2) + 1, padding=0)
        else:  # no model measured yet: still a 0-100 % axis (pyqtgraph's empty 0-1 read "0.1 %" .. "0.9 %")
            self.plot.setYRange(0.0, 100.0, padding=0.04)
        fitting = [p for p in front if p.get("fits")]
        best = max(fitting, key=lambda p: p["accuracy"]) if fitting else None
        self.summary.setText(
            f"{len(self.points)} model(s) measured, {len(front)} on the frontier (no other model is both smaller "
            "and more accurate). " + (f"Best that fits: {point_text(best)}." if best else "None fits the device yet."))

    # ------------------------------------------------------------------ interaction
    @Slot(object, object)
    def _clicked(self, _item: Any, spots: Any) -> None:
        if len(spots):
            self.select(int(spots[0].data()))

    def select(self, point_id: int) -> None:
        self.selected = point_id if point_id in self.points else None
        p = self.points.get(point_id)
        self.detail.setText(point_text(p) if p else "")
        self.keep_button.setEnabled(bool(p) and not p.get("name") and point_id in {q["id"] for q in self.frontier()})
        self._redraw()

    @Slot()
    def _keep(self) -> None:
        if self.selected is not None:
            self.keep_requested.emit(self.selected)


__all__ = ["FrontierView", "point_text"]
