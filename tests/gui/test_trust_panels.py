"""The trust panels the pages embed (why-maps on Evaluate, mislabelled list on Data) build the right worker
requests and render the answers; a fake app state answers instead of the worker (the real worker path is the
walkthrough's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


class FakeProject:
    def __init__(self, modality: str, runs: list[str], is_anomaly: bool = False) -> None:
        self.modality = modality
        self._runs = runs
        self.is_anomaly = is_anomaly

    def list_runs(self) -> list[str]:
        return self._runs


class FakeState:
    """``run(job, request, succeeded=...)`` answers at once with the canned result of that job."""

    def __init__(self, project: FakeProject, answers: dict[str, Any]) -> None:
        self.project = project
        self.answers = answers
        self.requests: list[tuple[str, dict]] = []

    def run(self, job: str, request: dict | None = None, *, succeeded: Any = None, **_: Any) -> None:
        self.requests.append((job, dict(request or {})))
        answer = self.answers[job]
        succeeded(answer(request) if callable(answer) else answer)


def _why(path: Path, label: str) -> dict:
    from studio.core.explain import legend_text

    heat = np.zeros((8, 8))
    heat[2, 5] = 1.0
    r = {"kind": "image", "path": str(path), "label": label, "confidence": 0.8, "explained": label,
         "method": "occlusion", "heatmap": heat.tolist(), "heatmap_size": [8, 8], "image_size": [32, 32],
         "peak": [22, 10]}
    r["legend"] = legend_text(r)
    return r


def test_why_panel_explains_the_mistakes_and_one_sample(qtbot, tmp_path: Path) -> None:
    from studio.gui.pages.why_panel import MAX_MAPS, WhyDialog, WhyPanel, why_requests
    from studio.gui.widgets.trust import WhyMapView

    files = []
    for k in range(3):
        files.append(tmp_path / f"m{k}.png")
        Image.fromarray(np.full((32, 32, 3), 60 * k, np.uint8)).save(files[-1])
    answers = {"explain": lambda req: {"results": [_why(Path(p), "b") for p in req.get("paths", [])]}}
    state = FakeState(FakeProject("image", ["r1"]), answers)
    panel = WhyPanel(state)
    qtbot.addWidget(panel)
    assert not panel.mistakes_button.isEnabled() or not panel.items
    panel.set_mistakes([{"path": str(f), "true": "a", "predicted": "b"} for f in files])
    assert panel.mistakes_button.isEnabled()
    panel.mistakes_button.click()
    assert state.requests[-1] == ("explain", {"paths": [str(f) for f in files]})
    assert len(panel.findChildren(WhyMapView)) == 3 and panel.note.text().startswith("Why-maps of 3 mistakes:")
    from PySide6.QtWidgets import QLabel

    captions = [w.text() for w in panel.findChildren(QLabel) if w.text().startswith("Labelled")]
    assert captions == ["Labelled 'a'; the model said 'b'."] * 3  # the map explains 'b'; the truth is named
    panel.resize(1000, 700)
    panel.show()
    for view in panel.findChildren(WhyMapView):  # each picture fits its cell (a wider one was cut off)
        assert view.picture.pixmap().width() <= view.maximumWidth() <= 320
    panel.explain_one(str(files[0]))
    assert isinstance(panel.dialog, WhyDialog) and not panel.dialog.view.picture.pixmap().isNull()
    # sensor mistakes: recording ids, windows ("rec@start") folded onto their recording, at most MAX_MAPS
    items = [{"where": "r7@0"}, {"where": "r7@64"}, {"where": "r9"}] + [{"where": f"x{k}"} for k in range(20)]
    req = why_requests(items, "sensor")
    assert req["recordings"][:2] == ["r7", "r9"] and len(req["recordings"]) == MAX_MAPS
    assert len(why_requests(items, "sensor", limit=None)["recordings"]) == 22


def test_suspects_panel_finds_lists_and_fixes_through_jobs(qtbot, tmp_path: Path) -> None:
    from studio.gui.pages.suspects_panel import SuspectsPanel, load_thumbnails

    img = tmp_path / "a1.png"
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(img)
    found = {"classes": ["a", "b"], "n_flagged": 1, "n_ranked": 30,
             "suspects": [{"name": "a/a1.png", "path": str(img), "label": "a", "suggested": "b", "score": 0.93}],
             "map": {"points": [[0, 0], [1, 1]], "labels": ["a", "b"], "names": ["a/a1.png", "b/b1.png"],
                     "paths": [str(img), "x"], "score": [0.93, 0.1]}}
    curated = {"changed": [{"name": "a/a1.png", "from": "a", "to": "b", "excluded": False}]}
    state = FakeState(FakeProject("image", []), {"suspects": found, "curate": curated})
    panel = SuspectsPanel(state)
    qtbot.addWidget(panel)
    panel.reload()
    assert not panel.find_button.isEnabled() and "Train a model first" in panel.note.text()
    state.project = FakeProject("image", ["r1"])
    panel.reload()
    assert panel.find_button.isEnabled()
    assert "Train a model first" not in panel.note.text()  # the note followed the trained run (it stayed stale)
    panel.find_button.click()
    assert state.requests[-1][0] == "suspects"
    assert panel.table.table.rowCount() == 1 and "1 of 30" in panel.table.summary.text()
    assert "Most suspicious first" in panel.note.text()
    assert set(load_thumbnails(found["suspects"])) == {"a/a1.png"}
    panel.table.table.selectAll()
    panel.table.accept_button.click()
    assert state.requests[-1] == ("curate", {"names": ["a/a1.png"], "action": "relabel", "label": "b"})
    assert "now b (was a)" in panel.table.table.item(0, 2).text() and "Restore undoes" in panel.note.text()
    state.answers["suspects"] = {**found, "n_flagged": 20}  # a weak model disagrees with most labels: said so
    panel.find_button.click()
    assert "probably not good enough" in panel.note.text()


def test_suspects_panel_on_an_anomaly_project_offers_no_mislabel_search(qtbot) -> None:
    """A detector has no labels to disagree with: the button is hidden (it used to end in an error naming a
    module) and the note says where the least normal examples are listed; a classifier gets it back."""
    from studio.gui.pages.suspects_panel import SuspectsPanel

    state = FakeState(FakeProject("sensor", ["r1"], is_anomaly=True), {})
    panel = SuspectsPanel(state)
    qtbot.addWidget(panel)
    panel.show()
    panel.reload()
    assert not panel.find_button.isVisible() and not panel.find_button.isEnabled()
    assert "Evaluate lists the examples it finds least normal" in panel.note.text()
    assert state.requests == []
    state.project = FakeProject("sensor", ["r1"])
    panel.reload()
    assert panel.find_button.isVisible() and panel.find_button.isEnabled()
