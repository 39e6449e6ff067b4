"""The Try-it page: a file answered by the 96 px int8 variant through LiteRT (in the worker) beside the float
model, fake camera frames answered in the window at >= 10 frames/s without stalling it, a frozen frame
explained and saved into the dataset, and the plain "no camera" message."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from PySide6.QtCore import QTimer

from studio.core.project import Project

pytestmark = pytest.mark.slow
SIZE = 96


def _int8_project(root: Path) -> Project:
    """Two classes of 96 px photos, an untrained compact CNN at 96 px and its real int8 LiteRT conversion."""
    spec = importlib.util.spec_from_file_location("trust_fakeproject", Path(__file__).parents[1] / "core" /
                                                  "fakeproject.py")
    fakeproject = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fakeproject)  # a run without training (tests/core/fakeproject.py)
    from studio.core.convert import convert_model
    from studio.core.data import import_data
    from studio.core.data.synth import make_image_folder
    from studio.core.measure import gzip_size
    from studio.core.optimize import write_variant
    from studio.core.train import load_run_model

    src = make_image_folder(root / "images", {"dark": 6, "light": 6}, size=(120, 100), seed=4)
    project = Project.create(root / "project", "image")
    import_data(project, src, val_split=0.3, seed=1)
    fakeproject.fake_run(project, "compact_cnn", input_size=SIZE)
    model, info = load_run_model(project)
    rng = np.random.default_rng(0)
    rep = info.spec.preprocess(rng.integers(0, 255, (8, SIZE, SIZE, 3), dtype=np.uint8))
    model_bytes = convert_model(model, "int8", rep, io_dtype="int8")
    write_variant(project.variants_dir, "int8", model_bytes, {
        "name": "int8", "run_id": info.run_id, "arch": info.arch, "arch_params": info.params,
        "input_spec": info.spec.to_json(), "classes": info.classes, "quantize": "int8", "prune": 0.0, "qat": False,
        "io_dtype": "int8", "bytes": len(model_bytes), "gzip_bytes": gzip_size(model_bytes), "accuracy": 0.5,
        "keras_accuracy": 0.5, "agreement": 1.0, "arena": None, "notes": [], "created": "2026-01-01T00:00:00+00:00"})
    project.data["active_variant"] = "int8"
    project.save()
    return Project.open(project.path)


def _gaps(qtbot, ms: int) -> tuple[float, float]:
    """(95th percentile, largest) gap between the ticks of a 20 ms timer over ``ms`` milliseconds."""
    ticks = [time.perf_counter()]
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    qtbot.wait(ms)
    timer.stop()
    gaps = sorted(b - a for a, b in zip(ticks, ticks[1:]))
    return gaps[int(0.95 * (len(gaps) - 1))], gaps[-1]


def _wait_job(qtbot, page, timeout: int = 180_000) -> None:
    qtbot.waitUntil(lambda: page.job is not None and page.job.isFinished(), timeout=timeout)
    qtbot.wait(100)  # the result's slots


def test_try_it_answers_a_file_and_fake_camera_frames_with_the_int8_variant(window, qtbot, tmp_path: Path) -> None:
    from studio.core.live import FakeFrameSource

    project = _int8_project(tmp_path)
    window.state.set_project(project)
    window.show_step("tryit")
    page = window.page("tryit")
    assert window.stack.currentWidget() is page and page.camera_box.isVisibleTo(page)
    qtbot.waitUntil(lambda: page.variant_combo.findData("int8") >= 0, timeout=30_000)
    assert page.variant() == "int8"  # the active (exported) variant answers by default

    # a file: the device's (LiteRT int8) answer, its why-map, and the float model's answer beside it
    photo = sorted((tmp_path / "images").rglob("*.png"))[0]
    page.try_paths([str(photo)])
    _wait_job(qtbot, page)
    out = page.last_result
    assert out["model"]["kind"] == "litert" and out["model"]["quantize"] == "int8"
    assert out["float_model"]["kind"] == "keras"
    item = out["items"][0]
    assert item["label"] in ("dark", "light") and np.asarray(item["why"]["heatmap"]).shape == (SIZE, SIZE)
    assert "Device model:" in page.findChildren(type(page.files_note), "tryAnswer")[0].text()
    assert "1 file(s) answered by int8" in page.files_note.text()

    # the camera: fake 640x480 frames at a camera's 30 frames/s, answered in the window's process; the event
    # loop's 20 ms ticks measured idle first, then while the camera runs (same test, same machine load)
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (480, 640, 3), dtype=np.uint8) for _ in range(6)]
    page.source_factory = lambda _camera: FakeFrameSource(frames, loop=True, interval=1 / 30)
    page.refresh_cameras()
    assert page.start_button.isEnabled()
    idle = _gaps(qtbot, 2000)
    page.start_button.click()
    qtbot.waitUntil(lambda: page.live_thread is not None and page.live_view.last is not None, timeout=30_000)
    t0, n0 = time.perf_counter(), page.live_thread.live.count
    live = _gaps(qtbot, 3000)
    fps = (page.live_thread.live.count - n0) / (time.perf_counter() - t0)
    shown_fps = page.live_view.last.fps
    print(f"\nlive: {fps:.1f} frames/s answered ({shown_fps:.1f} shown); event-loop gap p95 {1000 * live[0]:.0f} ms, "
          f"max {1000 * live[1]:.0f} ms (idle: p95 {1000 * idle[0]:.0f} ms, max {1000 * idle[1]:.0f} ms)")
    assert fps >= 10 and shown_fps >= 10, f"{fps:.1f} frames/s"
    assert "frames/s" in page.live_view.fps.text()
    assert live[0] < 2 * idle[0] + 0.05, "the window stalled while the camera ran"

    # freeze: explain the frozen frame (worker, same variant) and save it into the dataset under a label
    page.live_view.freeze_button.click()
    assert page.why_frame_button.isEnabled()
    page.why_frame_button.click()
    qtbot.waitUntil(lambda: page.frame_why.result is not None, timeout=60_000)
    assert page.frame_why.result["image_size"] == [640, 480]
    n_before = len(project.load_manifest()["samples"])
    page.live_view.save_combo.setCurrentText("light")
    page.live_view.save_button.click()
    qtbot.waitUntil(lambda: "Saved as" in page.camera_note.text(), timeout=30_000)
    m = Project.open(project.path).load_manifest()
    assert len(m["samples"]) == n_before + 1 and m["samples"][-1]["label"] == "light"
    page.stop_camera()
    qtbot.waitUntil(lambda: page.live_thread is None, timeout=10_000)
    assert page.start_button.text() == "Start camera"


def test_try_it_says_so_when_there_is_no_camera(window, qtbot, tmp_path: Path, monkeypatch) -> None:
    from studio.gui import camera
    from studio.gui.pages.tryit_page import TryItPage

    monkeypatch.setattr(camera, "list_cameras", lambda: [])
    monkeypatch.setattr(camera, "camera_status", lambda: (False, "No camera found. Connect one and press Refresh, "
                                                                 "or try files instead."))
    page = TryItPage(window.state)
    qtbot.addWidget(page)
    page.refresh_cameras()
    assert not page.start_button.isEnabled() and "No camera found" in page.camera_note.text()
    try:
        import PySide6.QtMultimedia  # noqa: F401
    except ImportError:  # this installation: the real status names the package to install
        monkeypatch.undo()
        page.refresh_cameras()
        assert not page.start_button.isEnabled() and "pyside6-addons" in page.camera_note.text()


def test_camera_status_names_what_is_missing() -> None:
    from studio.gui.camera import INSTALL_HINT, multimedia_problem

    assert multimedia_problem(ImportError("No module named 'PySide6.QtMultimedia'"), installed=False) == INSTALL_HINT
    text = multimedia_problem(ImportError("libpulse.so.0: cannot open shared object file: No such file"), True)
    assert "libpulse.so.0 is missing" in text and "apt install libpulse0" in text


def test_try_it_speaks_of_recordings_on_a_sensor_project(window, qtbot, tmp_path: Path) -> None:
    """A sensor project's Try it page offers CSV files, hides the camera and its header names neither photos
    nor a camera; on an image project both return."""
    from studio.gui.pages.tryit_page import TryItPage

    page = TryItPage(window.state)
    qtbot.addWidget(page)
    window.state.set_project(Project.create(tmp_path / "sensors", "sensor"))
    page.entered()
    assert "recordings" in page.subtitle and "photo" not in page.subtitle and "camera" not in page.subtitle
    assert page.files_button.text() == "Choose CSV files…" and page.camera_box.isHidden()
    window.state.set_project(Project.create(tmp_path / "images", "image"))
    page.entered()
    assert "photos" in page.subtitle and "camera" in page.subtitle and not page.camera_box.isHidden()


def test_tried_files_with_the_same_name_are_told_apart_by_their_folder() -> None:
    from studio.gui.pages.tryit_page import shown_names

    assert shown_names(["/n/good/000.png", "/n/hole/000.png", "/n/hole/001.png"]) == \
        ["good/000.png", "hole/000.png", "001.png"]


def test_try_it_answers_new_photos_ok_or_not_ok_on_an_anomaly_project(window, qtbot, tmp_path: Path) -> None:
    """On an anomaly project Try it used to refuse every file (a classifier's answer was expected). Now the
    fitted detector answers each photo OK / NOT OK with its score, the threshold and the anomaly map drawn over
    it; the page says what NOT OK means and offers no camera (a live view answers with classes); a classifier
    project gets the camera back."""
    from studio.core.anomaly.config import default_config
    from studio.core.anomaly.train import train_anomaly
    from studio.core.data import import_data
    from studio.core.data.synth import make_anomaly_image_folder
    from studio.gui.pages.tryit_page import TryItPage

    data = make_anomaly_image_folder(tmp_path / "data", good=24, defects={"hole": 4}, size=(32, 32))
    fresh = make_anomaly_image_folder(tmp_path / "fresh", good=2, defects={"hole": 2}, size=(32, 32), seed=9)
    (fresh / "broken.png").write_bytes(b"not a picture")  # its error is said in full under its cell
    project = Project.create(tmp_path / "detector", "image-anomaly")
    import_data(project, data, val_split=0.3, seed=1)
    train_anomaly(project, default_config(project))
    project = Project.open(project.path)

    page = TryItPage(window.state)
    qtbot.addWidget(page)
    window.state.set_project(project)
    page.entered()
    assert not page.anomaly_note.isHidden() and "OK / NOT OK" in page.anomaly_note.text()
    assert not page.files_box.isHidden() and not page.model_box.isHidden() and page.camera_box.isHidden()
    assert page.variant() is None and "fitted detector" in page.variant_combo.currentText()  # no variant yet
    assert "OK / NOT OK" in page.subtitle and "no variant is built yet" in page.subtitle  # the float one answers
    page.try_paths([str(fresh)])
    _wait_job(qtbot, page)
    out = page.last_result
    assert out["anomaly"] and out["model"]["kind"] == "keras" and len(out["items"]) == 5
    holes = [i for i in out["items"] if "/hole/" in i["path"]]
    assert all(i["verdict"] == "NOT OK" and i["score"] > i["threshold"] for i in holes)
    captions = [c.text() for c in page.findChildren(type(page.files_note), "tryAnswer")]
    broken = [c for c in captions if c.startswith("broken.png")]
    assert len(broken) == 1 and "broken.png" in broken[0] and len(broken[0]) > 40  # the error itself, in full
    captions = [c for c in captions if c not in broken]
    assert len(captions) == 4 and all("score" in c and "threshold" in c for c in captions)
    assert any("Fitted detector: NOT OK" in c for c in captions)
    assert f"{out['n_not_ok']} of them NOT OK" in page.files_note.text()
    views = [v for v in page.results_box.findChildren(type(page.frame_why)) if v.result is not None]
    assert len(views) == 4 and all(not v.picture.pixmap().isNull() for v in views)
    message = [v for v in page.results_box.findChildren(type(page.frame_why)) if v.result is None]
    assert [v.picture.text() for v in message] == ["Could not read this file."] and message[0].picture.wordWrap()

    window.state.set_project(Project.create(tmp_path / "classifier", "image"))
    page.entered()
    assert page.anomaly_note.isHidden() and not page.files_box.isHidden() and not page.camera_box.isHidden()
