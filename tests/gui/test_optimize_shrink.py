"""The Optimize page's shrinking choices and "fit my device" panel, with the session's worker answering the
page's queries (no training: the last search is a record on disk, the variant rows are plain dicts)."""

from __future__ import annotations

import json
from pathlib import Path


def _pt(i: int, kb: float, acc: float, fits: bool, kind: str = "searched", **settings) -> dict:
    return {"id": i, "kind": kind, "name": None, "bytes": int(kb * 1024), "arena_bytes": 12_000, "accuracy": acc,
            "test_accuracy": acc, "fits": fits, "on_frontier": False,
            "settings": {"arch": "compact_cnn", "width": 0.5, "input_size": 16, "channels": 0.0, "quantize": "int8",
                         **settings}}


def test_prune_kinds_say_what_they_shrink_and_the_request_follows(window, qtbot, tmp_path: Path) -> None:
    from studio.core.project import Project
    from studio.gui.pages.optimize_page import variant_row

    window.state.set_project(Project.create(tmp_path / "p", "image"))
    page = window.page("optimize")
    page.reload()
    box = page.kind_box
    assert box.kind() == "channels" and not box.distill_check.isChecked()  # the measured default: off
    box.distill_check.setChecked(True)
    assert "flash" in box.explain["channels"].text() and "only the zipped file" in box.explain["weights"].text()
    page.prune_slider.setValue(50)
    assert page.prune_label.text() == "50 % of the channels removed" and "RAM" in page.hint.text()
    values = page.config_values()
    assert values["prune_kind"] == "channels" and values["distill"] is True and values["prune"] == 0.5
    box.buttons["weights"].setChecked(True)
    assert page.prune_label.text() == "50 % of the weights set to zero" and not box.distill_check.isChecked()
    assert page.config_values()["prune_kind"] == "weights" and "only when zipped" in page.hint.text()
    page.prune_slider.setValue(0)
    assert page.config_values()["distill"] is None and not box.distill_check.isEnabled()
    # both kinds' effect, side by side with the unpruned int8 model
    c50 = {"name": "c50-int8", "bytes": 43_000, "gzip_bytes": 30_000, "arena": {"min_bytes": 18_000},
           "accuracy": 0.98, "vs_int8": {"flash_bytes": 0.418, "arena_bytes": 0.588, "gzip_bytes": 0.4,
                                         "accuracy_points": -1.0}}
    p50 = {"name": "p50-int8", "bytes": 103_000, "gzip_bytes": 60_000, "arena": {"min_bytes": 30_000},
           "accuracy": 0.99, "vs_int8": {"flash_bytes": 1.0, "arena_bytes": 1.0, "gzip_bytes": 0.78,
                                         "accuracy_points": 0.0}}
    assert variant_row(c50)[3] == "18 KB" and variant_row(c50)[6] == "flash 0.42×, RAM 0.59×, zipped 0.40×, −1.0 points"
    assert variant_row(p50)[6].startswith("flash 1.00×, RAM 1.00×, zipped 0.78×")
    # a sensor variant: accuracy and its change per recording, as the Evaluate page's headline
    sensor = dict(c50, recording_accuracy=0.875, vs_int8=dict(c50["vs_int8"], recording_accuracy_points=-6.25))
    assert variant_row(sensor)[5] == "87.5 %" and variant_row(sensor)[6].endswith("−6.2 points")


def test_search_panel_shows_the_last_search_live_points_and_builds_its_request(window, qtbot, tmp_path: Path) -> None:
    from studio.core.project import Project

    project = Project.create(tmp_path / "p", "image")
    points = [_pt(0, 100, 0.95, False, "run"), _pt(1, 25, 0.93, True), _pt(2, 60, 0.90, False),
              _pt(3, 44, 0.94, True, "channels", channels=0.5)]
    record = {"format": 1, "points": points, "frontier": [points[1], points[3], points[0]], "baseline": points[0]}
    (project.path / "search").mkdir()
    (project.path / "search" / "search.json").write_text(json.dumps(record))
    window.state.set_project(project)
    page = window.page("optimize")
    page.reload()
    page.target_combo.setCurrentIndex(page.target_combo.findData("cortex-m4"))  # the frontier's limit follows
    panel = page.search_panel
    qtbot.waitUntil(lambda: len(panel.frontier.points) == 4, timeout=60_000)
    assert [p["id"] for p in panel.frontier.frontier()] == [1, 3, 0]
    assert "Best that fits" in panel.frontier.summary.text() and "44.0 KB" in panel.frontier.summary.text()
    assert "Your trained model as int8: 100.0 KB, 11.7 KB RAM" in panel.result_label.text()
    assert panel.frontier.limit.isVisible()
    panel.budget_spin.setValue(3)
    panel.max_kb_spin.setValue(30)
    req = panel.request()
    assert req == {"target": "cortex-m4", "budget_min": 3.0, "max_bytes": 30 * 1024, "max_latency_ms": None,
                   "distill": False, "keep": False}
    panel.max_ms_spin.setValue(2.5)
    assert panel.request()["max_latency_ms"] == 2.5 and panel.values()["max_ms"] == 2.5
    from studio.jobs.search import search_config

    assert search_config(panel.request()).max_latency_ms == 2.5  # the worker's job takes the field
    panel.max_ms_spin.setValue(0)
    # live: points arrive one by one while a search runs
    panel.frontier.set_points([])
    for p in points[:2]:
        panel.on_metrics("search_point", p)
    panel.on_metrics("search_frontier", {"frontier": points[:2]})
    assert len(panel.frontier.points) == 2
    panel.show_result({"stopped": True, "points": points, "frontier": record["frontier"], "baseline": points[0]})
    assert panel.result_label.text().startswith("The search was stopped; every model measured so far is kept.")
    window.grab().save(str(tmp_path / "optimize.png"))


def test_accuracy_on_validation_a_refitted_model_has_seen_is_not_shown_as_a_test() -> None:
    from studio.gui.pages.optimize_page import shown_accuracy, variant_row

    v = {"name": "int8", "bytes": 1000, "accuracy": 1.0, "test_accuracy": 0.9,
         "val_seen_in_training": "the model was refitted on the validation examples"}
    assert variant_row(v)[5] == "90.0 % (test)" and "refitted" in shown_accuracy(v)[2]
    assert variant_row({**v, "test_accuracy": None})[5] == "100.0 % (seen)"
    assert shown_accuracy({**v, "test_accuracy": None})[2].startswith("Not a fair test")
    assert variant_row({**v, "val_seen_in_training": None})[5] == "100.0 %"


def test_size_chart_appears_with_the_first_variant_and_says_what_an_anomaly_accuracy_is(window, qtbot,
                                                                                         tmp_path: Path) -> None:
    from studio.core.project import Project

    window.state.set_project(Project.create(tmp_path / "a", "image-anomaly"))
    page = window.page("optimize")
    with qtbot.waitSignal(page.variants_shown, timeout=20_000):
        page.reload()
    # no variant: a sentence, not empty axes around a Linux board's gigabytes of flash
    assert page.scatter.isHidden() and not page.scatter_empty.isHidden()
    assert "Each variant you build appears here" in page.scatter_empty.text()
    assert page.scatter.getAxis("left").labelText == "accuracy (good / not good)"
    page._variants_job = None  # answer as the worker would, with one variant
    page._show_variants({"variants": [{"name": "int8", "bytes": 60_000, "accuracy": 0.9, "auroc": 0.95}]})
    assert not page.scatter.isHidden() and page.scatter_empty.isHidden()
    window.state.set_project(Project.create(tmp_path / "c", "image"))
    with qtbot.waitSignal(page.variants_shown, timeout=20_000):
        page.reload()
    assert page.scatter.isHidden() and page.scatter.getAxis("left").labelText == "accuracy"
