"""The live frontier widget, fed with the plain points a search reports (no TensorFlow, no search run)."""

from __future__ import annotations



def _pt(i: int, kb: float, acc: float, fits: bool, **settings) -> dict:
    return {"id": i, "bytes": int(kb * 1024), "accuracy": acc, "arena_bytes": 20_000, "fits": fits, "name": None,
            "settings": {"arch": "compact_cnn", "width": 0.5, "input_size": 32, "quantize": "int8", **settings}}


def test_points_arrive_the_frontier_follows_and_a_click_keeps_one(qtbot) -> None:
    from studio.gui.widgets.frontier import FrontierView, point_text

    view = FrontierView()
    qtbot.addWidget(view)
    view.set_limit(800.0, "flash 800 KB")
    view.set_running(True)
    assert view.stop_button.isEnabled() and not view.keep_button.isEnabled()
    for p in (_pt(0, 100, 0.90, True), _pt(1, 40, 0.88, True), _pt(2, 60, 0.80, False), _pt(3, 20, 0.70, True)):
        view.add_point(p)
    view.add_point({"id": 9, "bytes": 10, "accuracy": None})  # not measured: ignored
    assert [p["id"] for p in view.frontier()] == [3, 1, 0]
    assert len(view.front.data) == 3 and len(view.others.data) == 1  # point 2 is dominated by point 1
    assert "4 model(s) measured, 3 on the frontier" in view.summary.text() and "100.0 KB" in view.summary.text()
    with qtbot.waitSignal(view.stop_clicked):
        view.stop_button.click()
    view.select(1)
    assert view.keep_button.isEnabled() and "40.0 KB" in view.detail.text()
    with qtbot.waitSignal(view.keep_requested) as sig:
        view.keep_button.click()
    assert sig.args == [1]
    view.mark_kept(1, "search-compact_cnn-w0.5-32px-int8")
    view.select(1)
    assert not view.keep_button.isEnabled() and "kept as" in view.detail.text()
    view.select(2)  # a dominated point is not offered
    assert not view.keep_button.isEnabled()
    assert "25% of channels removed" in point_text(_pt(5, 10, 0.5, False, channels=0.25))


def test_an_empty_frontier_still_reads_0_to_100_percent(qtbot) -> None:
    """Before the first model is measured (or when the search never started) the chart's accuracy axis read
    "0.1 %" .. "0.9 %": pyqtgraph's empty 0-1 range under percent labels."""
    from studio.gui.widgets.frontier import FrontierView

    view = FrontierView()
    qtbot.addWidget(view)
    view.set_limit(800.0, "flash 800 KB")
    lo, hi = view.plot.getViewBox().viewRange()[1]
    assert lo <= 0.0 and 100.0 <= hi <= 110.0
    view.add_point(_pt(0, 100, 0.90, True))
    lo, hi = view.plot.getViewBox().viewRange()[1]
    assert 80.0 <= lo < 90.0 < hi <= 100.0
