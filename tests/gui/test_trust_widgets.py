"""Issue 14's widgets with plain data: why-map view, mislabel list, embedding map, live view over fake frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.core.inference import Backend
from studio.core.pipeline import InputSpec
from studio.core.tryit import FakeFrameSource


def _image_result(tmp_path: Path) -> dict:
    from studio.core.explain import legend_text

    path = tmp_path / "part.png"
    Image.fromarray(np.full((48, 64, 3), 150, np.uint8)).save(path)
    heat = np.zeros((32, 32))
    heat[8:12, 20:24] = 1.0
    r = {"kind": "image", "path": str(path), "label": "crack", "confidence": 0.9, "explained": "crack",
         "method": "occlusion", "heatmap": heat.tolist(), "heatmap_size": [32, 32], "image_size": [64, 48],
         "peak": [43, 15]}
    r["legend"] = legend_text(r)
    return r


def test_why_map_view_draws_the_overlay_with_its_legend(qtbot, tmp_path: Path) -> None:
    from studio.gui.widgets.trust import WhyMapView

    view = WhyMapView()
    qtbot.addWidget(view)
    view.show_result(_image_result(tmp_path))
    pix = view.picture.pixmap()
    assert not pix.isNull() and pix.width() == 384 and pix.height() > 288  # picture + legend strip
    img = pix.toImage()
    red = img.pixelColor(int((43 + 0.5) * 384 / 64), int((15 + 0.5) * 288 / 48) + 12)
    assert red.red() > red.blue() + 60  # heat where the peak is
    view.show_result({"error": "cannot decode this image"})
    assert view.picture.text() == "cannot decode this image"


def test_suspects_table_emits_relabel_exclude_restore(qtbot) -> None:
    from studio.gui.widgets.trust import SuspectsTable

    table = SuspectsTable()
    qtbot.addWidget(table)
    result = {"classes": ["a", "b", "c"], "n_flagged": 2, "n_ranked": 40, "suspects": [
        {"name": "a/1.png", "path": "/x/a/1.png", "label": "a", "suggested": "b", "score": 0.9},
        {"name": "b/2.png", "path": "/x/b/2.png", "label": "b", "suggested": "c", "score": 0.6}]}
    table.set_suspects(result, {"a/1.png": np.zeros((20, 20, 3), np.uint8)})
    assert table.table.rowCount() == 2 and "2 of 40" in table.summary.text()
    assert table.table.cellWidget(0, 0).pixmap() is not None
    table.table.selectAll()
    got: list[tuple] = []
    table.relabel.connect(lambda names, label: got.append((tuple(names), label)))
    table.accept_button.click()
    assert sorted(got) == [(("a/1.png",), "b"), (("b/2.png",), "c")]
    with qtbot.waitSignal(table.exclude) as blocker:
        table.exclude_button.click()
    assert blocker.args == [["a/1.png", "b/2.png"]]
    table.set_suspects({"classes": ["a"], "suspects": []})
    assert not table.exclude_button.isEnabled() and "No example" in table.summary.text()


def test_embedding_map_colours_by_label_and_reports_the_clicked_sample(qtbot) -> None:
    from studio.gui.widgets.trust import EmbeddingMap

    view = EmbeddingMap()
    qtbot.addWidget(view)
    view.set_map({"points": [[0, 0], [1, 1], [2, 0]], "labels": ["a", "b", "a"], "names": ["n0", "n1", "n2"],
                  "paths": ["p0", "p1", "p2"], "score": [0.1, 0.2, 0.9]})
    assert len(view._items) == 2
    item_a = view._items[0]
    spot = item_a.points()[1]  # the second "a" point: sample index 2
    with qtbot.waitSignal(view.picked) as blocker:
        item_a.sigClicked.emit(item_a, [spot], None)
    assert blocker.args[0] == {"names": "n2", "paths": "p2", "labels": "a", "score": 0.9}


def test_live_view_shows_fake_frames_with_fps_freezes_and_saves(qtbot) -> None:
    from studio.gui.camera import LiveThread, camera_status
    from studio.gui.widgets.trust import LiveView

    def predict(x: np.ndarray) -> np.ndarray:  # "bright" when the frame is bright
        m = float(x.mean())
        return np.array([[1 - (m + 1) / 2, (m + 1) / 2]] * len(x), np.float32)

    backend = Backend("litert", "fake", InputSpec(kind="image", channels=3, size=32), ["dark", "bright"], predict, "f")
    frames = [np.full((240, 320, 3), v, np.uint8) for v in (20, 230)]
    view = LiveView()
    qtbot.addWidget(view)
    view.set_classes(backend.classes)
    thread = LiveThread(backend, FakeFrameSource(frames, loop=True))
    thread.answered.connect(view.show_frame)
    thread.start()
    qtbot.waitUntil(lambda: view.last is not None and view.last.index >= 30, timeout=10000)
    view.freeze_button.click()
    shown = view.answer.text()
    assert view.frozen and view.save_button.isEnabled() and "frames/s" in view.fps.text()
    qtbot.wait(100)
    assert view.answer.text() == shown  # frozen: newer frames are not shown
    with qtbot.waitSignal(thread.ended, timeout=5000):
        thread.stop()
    with qtbot.waitSignal(view.save_requested) as blocker:
        view.save_combo.setCurrentText("bright")
        view.save_button.click()
    assert blocker.args == ["bright"]
    usable, reason = camera_status()
    try:
        import PySide6.QtMultimedia  # noqa: F401
    except ImportError:
        assert not usable and "pyside6-addons" in reason
