"""Issue 9, GUI: the Train page of a sensor project shows the candidates Studio measured and why it chose.

No training: the run folder carries a ``selection.json`` as :func:`studio.core.selection.select_sensor` writes
it, and live rows arrive as the worker's ``candidate`` metrics do.
"""

from __future__ import annotations

from pathlib import Path

from studio.core.fsutil import atomic_write_json
from studio.gui.widgets.selection_table import SelectionTable

from test_truth_pages import _project, _run

SELECTION = {
    "format": 1,
    "method": "5-fold cross-validation over training + validation recordings, grouped by recording, scored per "
              "recording",
    "folds": 5,
    "candidates": [
        {"arch": "minirocket", "shaping": {"length_policy": "resample", "window": 256, "stride": 1,
                                           "norm": "global"},
         "what": "whole recordings resampled to 256 samples, training statistics", "status": "scored",
         "score": 0.925, "correct": 37, "recordings": 40, "cpu_seconds": 4.2},
        {"arch": "minirocket", "shaping": {"length_policy": "windows", "window": 128, "stride": 64,
                                           "norm": "recording"},
         "what": "windows of 128 samples, per-recording scaling", "status": "scored",
         "score": 0.85, "correct": 34, "recordings": 40, "cpu_seconds": 6.0},
        {"arch": "minirocket", "shaping": {"length_policy": "windows", "window": 64, "stride": 32, "norm": "global"},
         "what": "windows of 64 samples, training statistics", "status": "skipped",
         "reason": "search budget of 120 CPU s spent"},
        {"arch": "cnn1d", "shaping": {"length_policy": "resample", "window": 256, "stride": 1, "norm": "global"},
         "what": "whole recordings resampled to 256 samples, training statistics", "status": "scored",
         "score": 0.875, "correct": 35, "recordings": 40, "cpu_seconds": 30.0, "wins": False},
    ],
    "winner": {"arch": "minirocket", "shaping": {"length_policy": "resample", "window": 256, "stride": 1,
                                                 "norm": "global"}, "score": 0.925},
    "why": "MiniRocket on whole recordings resampled to 256 samples classified 37 of 40 recordings correctly",
}


def _texts(table: SelectionTable, row: int) -> list[str]:
    return [table.table.item(row, c).text() for c in range(table.table.columnCount())]


def test_selection_rows_name_the_winner_the_skipped_and_the_network(qtbot) -> None:
    table = SelectionTable()
    qtbot.addWidget(table)
    table.show_selection(SELECTION)
    assert table.table.rowCount() == 4
    first, _second, skipped, network = (_texts(table, r) for r in range(4))
    assert first[0] == "MiniRocket" and first[2] == "37 of 40" and first[3] == "92.5 %" and first[5] == "chosen"
    assert table.table.item(0, 0).font().bold() and not table.table.item(1, 0).font().bold()
    assert skipped[5].startswith("skipped: search budget") and skipped[3] == ""
    assert network[0] == "1-D CNN" and network[5] == "not clearly better"
    assert "37 of 40" in table.why.text() and "cross-validation" in table.why.text()
    table.show_selection(None)
    assert table.table.rowCount() == 0 and not table.isVisibleTo(None)


def test_live_candidates_then_the_run_s_table(window, qtbot, tmp_path: Path) -> None:
    project = _project(tmp_path, "sens")
    run = _run(project, "run-20260301-100000", 0.9, active=True)
    window.state.set_project(project)
    window.show_step("train")
    train = window.page("train")
    assert not train.selection.isVisible()  # a run without a search: no table
    train._on_metrics("candidate", SELECTION["candidates"][0])
    assert train.selection.isVisible() and train.selection.table.rowCount() == 1
    assert "Measuring" in train.selection.why.text()
    atomic_write_json(project.runs_dir / run / "selection.json", SELECTION)
    train.reload()
    assert train.selection.isVisible() and train.selection.table.rowCount() == 4
    assert _texts(train.selection, 0)[5] == "chosen"
    other = _project(tmp_path, "other")
    window.state.set_project(other)
    assert not train.selection.isVisible()


def test_the_model_page_keeps_the_sensor_default_choose_by_measurement(window, qtbot, tmp_path: Path) -> None:
    """Opening the Model page stores the default card; for sensors the default is the measured choice, so the
    Train button must still run the selection (it did not: the page stored select=False)."""
    from studio.core.data import import_data
    from studio.core.data.synth import make_sensor_folder
    from studio.core.project import Project

    data = make_sensor_folder(tmp_path / "rec", ("idle", "shake"), recordings=4, length=64)
    project = Project.create(tmp_path / "sproj", "sensor")
    import_data(project, data, val_split=0.25, seed=1)
    window.state.set_project(project)
    window.show_step("model")
    qtbot.waitUntil(lambda: window.state.page_settings("train").get("arch") is not None, timeout=120_000)
    saved = window.state.page_settings("train")
    assert saved["arch"] == "minirocket" and saved["select"] is True
    page = window.page("model")
    qtbot.waitUntil(lambda: "recordings of 64 rows" in page.input_note.text(), timeout=60_000)
    assert page.choose_check.isChecked() and "Studio scores" in page.input_note.text()
    assert not any(c.property("selected") for c in page.cards)  # Studio chooses: no card is "Selected"
    rocket = next(c for c in page.cards if c.spec.id == "minirocket")
    assert rocket.knob == "features" and rocket.width_combo.count() > 1  # its size control is not an empty Width
    rocket.width_combo.setCurrentIndex(0)
    page.select("minirocket")
    saved = window.state.page_settings("train")
    assert saved["select"] is False and saved["features"] == rocket.width_combo.itemData(0)
    assert saved.get("width") is None and not page.choose_check.isChecked()
    qtbot.waitUntil(lambda: "the model reads whole recordings" in page.input_note.text(), timeout=60_000)
    page.select("cnn1d")  # picking a card is the user's choice: no search
    saved = window.state.page_settings("train")
    assert saved["select"] is False and saved.get("features") is None and saved["width"] is not None
    page.choose_check.setChecked(True)  # and back to the measured choice
    assert window.state.page_settings("train")["select"] is True
