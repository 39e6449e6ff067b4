"""Charts a person can read: one size unit per axis, % axes in %, whole epochs, legends outside the data."""

from __future__ import annotations

import math

from studio.gui.plots import BLUE, ORANGE, CurvePlot, ScatterPlot


def _drawn_ticks(axis, lo: float, hi: float, pixels: float) -> list[str]:  # noqa: ANN001
    levels = axis.tickValues(lo, hi, pixels)
    return [s for _, values in levels for s in axis.tickStrings(values, 1.0, 1.0)]


def test_size_axis_one_unit_and_percent_axis(qtbot) -> None:  # noqa: ANN001
    plot = ScatterPlot()
    qtbot.addWidget(plot)
    plot.resize(900, 300)
    plot.set_points([("float32", 258.0, 88.5, False), ("int8", 103.0, 89.6, True)], 8 * 1024 - 64, "flash")
    axis = plot.getAxis("bottom")
    lo, hi = plot.getViewBox().viewRange()[0]
    labels = _drawn_ticks(axis, lo, hi, 900)
    assert labels and {label.split()[1] for label in labels} == {"MB"}  # 100 KB .. 8 MB: all in MB
    assert len(labels) <= 900 // 80
    small = _drawn_ticks(axis, math.log10(20), math.log10(500), 300)
    assert {label.split()[1] for label in small} == {"KB"} and len(small) <= 4
    assert all(s.endswith(" %") for s in _drawn_ticks(plot.getAxis("left"), 80, 95, 250))
    # a 100 % point gets headroom above it, never a "101 %" tick (the frontier and variant charts showed one)
    plot.set_points([("int8", 103.0, 100.0, True), ("c50", 44.0, 99.0, True)], None, "flash")
    top = _drawn_ticks(plot.getAxis("left"), *plot.getViewBox().viewRange()[1], 250)
    assert plot.getViewBox().viewRange()[1][1] > 100 and top[-1] == "100 %"
    assert all(float(t.split()[0]) <= 100 for t in top)


def test_close_variants_names_do_not_print_over_each_other(qtbot) -> None:  # noqa: ANN001
    """Two variants on the same spot share one label; a close one's label goes below its point (the Optimize
    page printed "plain" over "int8" over "u8" for 81 / 91 / 91 KB at 100 %)."""
    plot = ScatterPlot()
    qtbot.addWidget(plot)
    plot.resize(900, 300)
    plot.set_points([("int8", 90.7, 100.0, True), ("plain", 81.0, 100.0, True), ("u8", 90.7, 100.0, True),
                     ("c50", 20.0, 96.0, True)], None, "flash")
    plot.show()
    qtbot.waitExposed(plot)
    labels = {t.toPlainText(): t for t in plot._labels}  # noqa: SLF001
    assert set(labels) == {"int8, u8", "plain", "c50"}
    assert not labels["plain"].sceneBoundingRect().intersects(labels["int8, u8"].sceneBoundingRect())


def test_curves_whole_epochs_percent_axis_and_legend_outside(qtbot) -> None:  # noqa: ANN001
    acc = CurvePlot("Accuracy", "%")
    qtbot.addWidget(acc)
    acc.add_curve("train", BLUE, label="training")
    acc.add_curve("val", ORANGE, label="validation")
    acc.set("train", [1, 2, 3], [30.0, 45.0, 60.0])
    acc.resize(500, 300)
    acc.show()
    qtbot.waitExposed(acc)
    assert _drawn_ticks(acc.getAxis("bottom"), 0.9, 3.1, 400) == ["1", "2", "3"]
    left = _drawn_ticks(acc.getAxis("left"), *acc.getViewBox().viewRange()[1], 200)
    assert left[0] == "0 %" and left[-1] == "100 %"  # a percent axis is 0..100 %, never 0.2..0.8
    legend = acc.getPlotItem().legend
    assert [label.text for _, label in legend.items] == ["training", "validation"]
    view = acc.getViewBox().sceneBoundingRect()
    assert not legend.sceneBoundingRect().intersects(view)  # below the axis, never over a curve


def test_training_curves_keep_every_epoch_point_on_the_chart(qtbot) -> None:  # noqa: ANN001
    from studio.gui.pages.train_page import TrainCurves

    loss, acc = CurvePlot("Loss", "loss"), CurvePlot("Accuracy", "%")
    qtbot.addWidget(loss)
    qtbot.addWidget(acc)
    curves = TrainCurves(loss, acc)
    for epoch in range(1, 31):  # a loss that falls from 1.6 to 0.5: the first epochs must stay visible
        curves.add_batches([{"epoch": epoch, "batch": b, "steps": 10, "loss": 1.6 / epoch ** 0.35} for b in
                            range(1, 11)])
        curves.add_epoch({"loss": 1.6 / epoch ** 0.35, "val_loss": 1.5 / epoch ** 0.3, "accuracy": 0.5,
                          "val_accuracy": 0.5})
    curves.flush()
    top = loss.getViewBox().viewRange()[1][1]
    assert top >= max(curves.series["loss"] + curves.series["val_loss"])


def test_the_wheel_over_a_chart_scrolls_the_page_and_never_zooms(qtbot) -> None:  # noqa: ANN001
    """Scrolling a page with the wheel over the Optimize chart zoomed it out to "-3000 %" accuracy."""
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication, QScrollArea, QVBoxLayout, QWidget

    from studio.gui.widgets.frontier import FrontierView
    from studio.gui.widgets.trust import EmbeddingMap

    page = QWidget()
    column = QVBoxLayout(page)
    charts = [ScatterPlot(), CurvePlot("Loss", "loss"), EmbeddingMap(), FrontierView()]
    for chart in charts:
        column.addWidget(chart)
    area = QScrollArea()
    area.setWidget(page)
    area.setWidgetResizable(True)
    area.resize(600, 400)
    qtbot.addWidget(area)
    area.show()
    for chart in charts:
        plot = chart.plot if isinstance(chart, FrontierView) else chart
        view = plot.getViewBox()
        before = [list(r) for r in view.viewRange()]
        viewport = plot.viewport()
        centre = QPointF(viewport.width() / 2, viewport.height() / 2)
        event = QWheelEvent(centre, QPointF(viewport.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, -120),
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                            False)
        QApplication.sendEvent(viewport, event)
        assert [list(r) for r in view.viewRange()] == before, type(chart).__name__
