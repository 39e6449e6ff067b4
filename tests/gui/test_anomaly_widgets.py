"""Anomaly Evaluate widgets fed with plain data: a dragged threshold updates false alarms, misses and the ROC
point live; the gallery shows the most anomalous images with their maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from studio.core.anomaly.evaluate import figures
from studio.core.anomaly.scoring import Scored
from studio.core.data.synth import make_anomaly_image_folder


def _result(tmp_path: Path) -> dict:
    folder = make_anomaly_image_folder(tmp_path / "img", good=6, defects={"hole": 4}, size=(24, 24))
    paths = sorted(str(p) for p in folder.rglob("*.png"))
    labels = [Path(p).parent.name for p in paths]
    rng = np.random.default_rng(0)
    scores = np.array([rng.normal(4 if lab == "hole" else 0, 1) for lab in labels])
    maps = np.stack([np.full((8, 8), s - 1.0) for s in scores])
    maps[:, 3, 3] = scores
    result = figures(Scored(scores, maps, labels, paths, paths, "good"), threshold=2.0)
    result["threshold"] = 2.0
    return result


def test_dragging_the_threshold_updates_the_figures(qtbot, tmp_path: Path) -> None:
    from studio.gui.widgets.anomaly import AnomalyEvaluateView

    view = AnomalyEvaluateView()
    qtbot.addWidget(view)
    result = _result(tmp_path)
    with qtbot.assertNotEmitted(view.threshold_changed):  # showing a result is not a user's move
        view.set_result(result)
    assert view.histogram.line.label.format.format(value=result["threshold"]) in view.histogram.line.label.toPlainText()
    f = view.histogram.figures
    assert (f["false_alarms"], f["misses"]) == (result["confusion_matrix"][0][1], result["confusion_matrix"][1][0])
    with qtbot.waitSignal(view.threshold_changed, timeout=2000) as sig:
        view.histogram.set_threshold(-10.0)  # everything flagged: every good is a false alarm, nothing missed
    assert sig.args == [-10.0]
    assert view.histogram.figures["false_alarms"] == 6 and view.histogram.figures["misses"] == 0
    assert "6 of 6 good images flagged" in view.histogram.summary.text()
    x, y = view.roc.point.getData()
    assert (float(x[0]), float(y[0])) == (1.0, 1.0)
    view.histogram.set_threshold(100.0)
    assert view.histogram.figures["misses"] == 4 and "threshold 100" in view.headline.text()
    assert len(view.gallery.thumbs) == len([i for i in result["most_anomalous"] if "heatmap" in i]) > 0


@pytest.mark.parametrize("defects", [0, 3])
def test_histogram_without_or_with_defects(qtbot, defects: int) -> None:
    from studio.gui.widgets.anomaly import ThresholdHistogram

    w = ThresholdHistogram()
    qtbot.addWidget(w)
    w.set_scores([0.1, 0.2, 0.3], [5.0] * defects, 0.25)
    text = w.summary.text()
    assert "1 of 3 good images flagged" in text
    assert ("No defect examples" in text) == (defects == 0)


def test_roc_without_defects_draws_no_curve(qtbot) -> None:
    from studio.gui.widgets.anomaly import RocPlot

    w = RocPlot()
    qtbot.addWidget(w)
    w.set_curve({"false_alarm_rate": [0.0, 0.5, 1.0], "detection_rate": [0.0, 0.8, 1.0]}, 0.9)
    assert len(w.curve.getData()[0]) == 3 and "AUROC 0.900" in w.title.text()
    # good examples only: what figures() gives (no detection rate to draw): no flat line at 0 caught
    w.set_curve({"false_alarm_rate": [0.0, 0.5, 1.0], "detection_rate": [0.0, 0.0, 0.0]}, None)
    x, _ = w.curve.getData()
    assert x is None or len(x) == 0
    assert "needs good and defect examples" in w.title.text()


def test_optimize_row_of_an_anomaly_variant_shows_its_auroc() -> None:
    from studio.gui.pages.optimize_page import variant_row

    v = {"name": "int8", "bytes": 20480, "accuracy": 0.93, "anomaly": {"auroc": 0.951, "keras_auroc": 0.954}}
    assert variant_row(v)[5] == "93.0 % · AUROC 0.951 (float 0.954)"
    assert variant_row({"name": "c", "bytes": 1, "accuracy": 0.5})[5] == "50.0 %"  # classifiers unchanged


def test_score_distributions_draw_no_threshold_before_a_fit(qtbot) -> None:
    """Before a detector is fitted the Train chart shows no threshold line (it drew 'threshold 0'); a fitted
    run's scores bring the line at its threshold and each group's histogram as a share of the group; a project without a run hides it again."""
    from studio.gui.widgets.anomaly_panels import ScoreDistributions

    chart = ScoreDistributions()
    qtbot.addWidget(chart)
    assert not chart.line.isVisible() and chart.plot.isHidden()  # no empty axes before a fit
    chart.set_scores({"train_good": [0.1, 0.2, 0.4], "val_good": [0.3], "val_defect": [2.0, 3.0]}, 1.5)
    assert chart.line.isVisible() and chart.line.value() == 1.5 and not chart.plot.isHidden()
    # each group is drawn as a share of itself: 3 training windows and 1 validation good both sum to 100 %
    for key in ("train_good", "val_good", "val_defect"):
        assert abs(float(np.sum(chart.curves[key].getData()[1])) - 100.0) < 1e-6
    chart.set_scores({}, None)
    assert not chart.line.isVisible() and chart.plot.isHidden()


def test_training_goods_are_drawn_from_their_held_out_scores_when_the_run_kept_them(qtbot) -> None:
    """A training example scored by the detector that holds it sits near 0 (its own nearest neighbour); the
    chart draws each one's score from a detector fitted without it when the run kept those, and says so."""
    from studio.gui.widgets.anomaly_panels import ScoreDistributions

    chart = ScoreDistributions()
    qtbot.addWidget(chart)
    in_bank, held = [0.01, 0.02, 0.03], [1.1, 1.2, 1.3, 1.4]
    chart.set_scores({"train_good": in_bank, "held_out_good": held, "val_good": [1.2], "val_defect": [3.0]}, 2.0)
    edges, share = chart.curves["train_good"].getData()
    drawn = float(np.sum(share * (edges[:-1] + edges[1:]) / 2) / 100)  # the curve's mean
    assert 1.0 < drawn < 1.5 and chart.train_label() == "good (training, each scored without itself)"
    chart.set_scores({"train_good": in_bank, "val_good": [1.2], "val_defect": [3.0]}, 2.0)  # an older run
    edges, share = chart.curves["train_good"].getData()
    assert float(np.sum(share * (edges[:-1] + edges[1:]) / 2) / 100) < 0.5
    assert chart.train_label() == "good (training)"


def test_data_text_names_a_folder_or_a_class_by_layout() -> None:
    from studio.gui.widgets.anomaly_panels import data_text

    manifest = {"anomaly": True, "normal_class": "normal", "classes": ["normal", "spike"],
                "counts": {"normal": 90, "spike": 3}, "recording_counts": {"normal": 4, "spike": 3},
                "split_counts": {"train": {"normal": 70, "spike": 0}, "val": {"normal": 20, "spike": 3},
                                 "test": {"normal": 0, "spike": 0}}}
    assert "good = the folder <b>normal</b>" in data_text({**manifest, "layout": "folders"})
    # one CSV with a label column has no folders: its good examples are the rows labelled 'normal'
    assert "good = the class <b>normal</b>" in data_text({**manifest, "layout": "table"})


def test_score_charts_keep_their_legends_off_the_data(qtbot) -> None:
    """The legends sat inside the plot's top-right corner, over the highest (defect) scores and the threshold's
    label; they are under the axis now. The Train chart with nothing fitted is not drawn at all (it showed empty
axes)."""
    from studio.gui.widgets.anomaly import ThresholdHistogram
    from studio.gui.widgets.anomaly_panels import ScoreDistributions

    chart = ScoreDistributions()
    hist = ThresholdHistogram()
    for w in (chart, hist):
        qtbot.addWidget(w)
        item = w.plot.getPlotItem()
        assert item.legend is not None and item.legend.parentItem() is not item.vb
    assert chart.plot.isHidden()
    # a handful of examples: whole-number count ticks (it wrote 0.5 and 1.5 examples)
    ticks = hist.plot.getPlotItem().getAxis("left").tickValues(0.0, 2.1, 400)
    assert all(float(v).is_integer() for _, vs in ticks for v in vs)
    chart.set_scores({"train_good": [0.1, 0.2], "val_good": [0.3], "val_defect": [2.0]}, 1.0)
    assert not chart.plot.isHidden()
    chart.set_scores({}, None)
    assert chart.plot.isHidden()


def test_a_long_series_is_shown_per_window_with_its_anomalous_stretches(window) -> None:
    from studio.gui.widgets import anomaly_panels

    scores = np.array([0.5, 0.7, 5.0, 0.6, 1.9, 0.4])
    labels = ["normal", "normal", "spike", "normal", "flat", "normal"]
    ids = [f"test.csv:{2 + 32 * i}" for i in range(6)]
    events = [{"label": "spike", "lines": [70, 81], "rows": 12, "window_index": [2]},
              {"label": "flat", "lines": [134, 160], "rows": 27, "window_index": [4]}]
    scored = Scored(scores, None, labels, ids, None, "normal", ["r0001"] * 6, {"r0001": "test.csv (lines 2-200)"},
                    per_window=True, events=events)
    result = figures(scored, threshold=1.0)
    result.update(threshold=1.0, policy_text="at most 1 % false alarms")
    page = window.page("evaluate")
    assert anomaly_panels.show_evaluation(page, result)
    panel = page._anomaly_panel
    assert "Anomalous stretches caught (a window over them flagged): 2 of 2" in panel.per_defect.text()
    assert "lines 70-81 caught (highest window 5)" in panel.per_defect.text()
    table = panel.table
    assert table.horizontalHeaderItem(0).text() == "Window" and table.isColumnHidden(4)
    assert table.item(0, 0).text() == "test.csv, from line 66" and table.item(0, 3).text() == "NOT OK"
    assert table.columnWidth(0) >= table.fontMetrics().horizontalAdvance("test.csv, from line 66")
    assert "(per window)" in panel.saved_label.text()
    result = figures(Scored(np.array([0.5, 0.9]), None, ["normal", "spike"], ids[:2], None, "normal",
                            ["r0001"] * 2, {}, per_window=True, events=[{**events[0], "window_index": [1]}]), 1.0)
    result.update(threshold=1.0)
    anomaly_panels.show_evaluation(page, result)
    assert "0 of 1: lines 70-81 missed (highest window 0.9)" in panel.per_defect.text()
