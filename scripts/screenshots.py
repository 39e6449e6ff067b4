#!/usr/bin/env python3
"""Take a screenshot of every wizard page, offscreen, on the bundled sample data, into docs/screenshots/.

    QT_QPA_PLATFORM=offscreen python scripts/screenshots.py [--out docs/screenshots] [--epochs 8]

Drives the real app the way a user would (the same buttons the tests click) on the image sample: open the
sample, look at the data, pick a model, train a few epochs, evaluate, build two variants, export and run the
self-test; then the sensor sample's data and training pages; then anomaly projects (17-22: a generated
texture, then the vibration sample; ``--only-anomaly`` for these alone). Falls back to small generated data when the
samples are missing. Takes a few minutes (it really trains). Waiting uses a local QEventLoop that quits on the
worker's ``done`` signal — no processEvents polling.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def wait(signal=None, ms: int = 600_000) -> None:  # noqa: ANN001 - a Qt signal
    """Run the event loop until ``signal`` fires (or ``ms`` pass)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    if signal is not None:
        signal.connect(loop.quit)
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_job(page, ms: int = 900_000) -> None:  # noqa: ANN001
    job = page.job
    if job is not None and not job.isFinished():
        wait(job.done, ms)
    wait(None, 300)  # let queued slots (previews, tables) run


def wait_until(predicate, ms: int = 300_000, step: int = 100) -> None:  # noqa: ANN001
    deadline = time.monotonic() + ms / 1000
    while not predicate() and time.monotonic() < deadline:
        wait(None, step)


def fallback_data(tmp: Path, kind: str) -> Path:
    from studio.core.data.synth import make_image_folder, make_sensor_folder

    if kind == "image":
        return make_image_folder(tmp / "images", {"crack": 30, "ok": 40, "scratch": 30}, size=(64, 64))
    return make_sensor_folder(tmp / "sensors", ("idle", "shake", "tap"), recordings=10, length=512)


def open_project(window, kind: str, tmp: Path):  # noqa: ANN001
    """Open the bundled sample through the start page (or import generated data when samples are missing)."""
    from studio.core.project import Project
    from studio.core.samples import get_sample

    start = window.page("")
    if get_sample(kind).data_dir.is_dir():
        start.open_sample(kind)
        wait_job(start)
        return window.state.project
    project = Project.create(tmp / f"{kind}-project", kind, name=f"{kind} demo")
    window.state.set_project(project)
    data = window.page("data")
    data.source_edit.setText(str(fallback_data(tmp, kind)))
    data.import_button.click()
    wait_job(data)
    return project


def export_and_selftest(window) -> None:  # noqa: ANN001
    """Export the page's current variant, then run the bundle's self-test when it has a harness."""
    window.show_step("export")
    export = window.page("export")
    wait_until(lambda: export.variant_combo.count() > 0, ms=30_000)
    export.export_button.click()
    wait_job(export)
    if export.harness() is not None:
        export.selftest_button.click()
        wait(export.selftest_finished, 180_000)


def scroll_to(page, widget, above: int = 40) -> None:  # noqa: ANN001
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QScrollArea

    scroll = page.findChild(QScrollArea)
    scroll.verticalScrollBar().setValue(widget.mapTo(scroll.widget(), QPoint(0, 0)).y() - above)


def trust_shots(window, project, shot) -> None:  # noqa: ANN001
    """Issue 14: why-maps on Evaluate, "possibly mislabelled" on Data, Try it with files and (fake) camera."""
    from studio.core.data import sample_path
    from studio.core.live import FakeFrameSource

    m = project.load_manifest()
    tests = [str(sample_path(project, m, s)) for s in m["samples"] if s["split"] == "test"] or \
        [str(sample_path(project, m, s)) for s in m["samples"] if s["split"] == "val"][::7]
    window.show_step("evaluate")
    evaluate = window.page("evaluate")
    if evaluate.why.items:
        evaluate.why.explain_mistakes()
    else:  # a model with no mistakes: why-maps of a few test photos
        evaluate.why.explain_many({"paths": tests[:3]})
    wait_job(evaluate.why)
    scroll_to(evaluate, evaluate.why)
    shot("12-evaluate-why")
    window.show_step("data")
    data = window.page("data")
    data.suspects.find()
    wait_job(data.suspects)
    wait(None, 1500)  # thumbnails
    scroll_to(data, data.suspects)
    shot("13-data-suspects")
    window.show_step("tryit")
    tryit = window.page("tryit")
    wait_until(lambda: tryit.variant_combo.count() > 1, ms=30_000)
    tryit.try_paths(tests[:3])
    wait_job(tryit)
    shot("14-tryit-files")
    tryit.source_factory = lambda _camera: FakeFrameSource(tests[:8], loop=True, size=(640, 480), interval=1 / 30)
    tryit.refresh_cameras()
    tryit.start_button.click()
    wait_until(lambda: tryit.live_view.last is not None and tryit.live_view.last.index >= 12, ms=60_000)
    tryit.live_view.freeze_button.click()
    tryit.why_frame_button.click()
    wait_until(lambda: tryit.frame_why.result is not None, ms=120_000)
    scroll_to(tryit, tryit.camera_title)
    shot("15-tryit-camera")
    tryit.stop_camera()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--search-min", type=int, default=3, help="budget of the Optimize page's search (0: skip)")
    parser.add_argument("--only-anomaly", action="store_true", help="only the anomaly projects' pages (17-22, 26, 27)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="studio-shots-"))
    os.environ["STUDIO_HOME"] = str(tmp / "home")

    from studio.gui.app import create_application
    from studio.gui.main_window import MainWindow
    from studio.gui.state import AppState
    from studio.gui.widgets import dialogs
    from studio.gui.worker_client import client

    def no_dialogs(box) -> int:  # noqa: ANN001 - never block on a dialog; print it instead
        print(f"dialog: {box.text()} {box.informativeText()}", file=sys.stderr)
        return 0

    dialogs.exec_box = no_dialogs
    app = create_application()
    state = AppState()
    window = MainWindow(state)
    window.resize(args.width, args.height)
    window.show()
    worker = client()
    worker.start()  # as the app does: TensorFlow loads in the worker process while the start page shows

    def shot(name: str) -> None:
        wait(None, 400)
        path = out / f"{name}.png"
        window.grab().save(str(path))
        print(f"saved {path}", flush=True)

    # a couple of recent projects make the start page look lived-in
    from studio.core.project import Project

    for name in ("Bracket inspection", "Pump vibration"):
        Project.create(tmp / "recent" / name, "image" if "Bracket" in name else "sensor", name=name)
        state.add_recent(tmp / "recent" / name)
    window.page("").reload()
    if args.only_anomaly:
        anomaly_shots(window, tmp, shot)
        return finish(window, worker, time.monotonic())
    shot("01-start")

    t0 = time.monotonic()
    project = open_project(window, "image", tmp)
    window.show_step("data")
    wait_until(lambda: window.page("data").preview_layout.count() > 8, ms=60_000)
    shot("02-data-images")

    window.show_step("model")
    model = window.page("model")
    model.target_combo.setCurrentIndex(model.target_combo.findData("cortex-m4"))  # a device that says no
    model.select("compact_cnn")
    # the image size stays at the core default for this data (96 px for the 128 px sample)
    wait_until(lambda: len(model.estimates) == len(model.cards), ms=180_000)
    wait(None, 500)
    shot("03-model")

    window.show_step("train")
    train = window.page("train")
    wait_until(lambda: train.ready, ms=60_000)  # the controls show the project's settings (from the worker)
    train.epochs_spin.setValue(args.epochs)
    train.start_button.click()
    wait_until(lambda: train.curves.completed_epochs >= max(1, args.epochs // 2), ms=600_000)
    shot("04-train-running")
    wait_job(train)
    shot("05-train-done")

    window.show_step("evaluate")
    evaluate = window.page("evaluate")
    evaluate.evaluate_button.click()
    wait_job(evaluate)
    wait(None, 1500)  # gallery thumbnails
    shot("06-evaluate")

    window.show_step("optimize")
    optimize = window.page("optimize")
    optimize.target_combo.setCurrentIndex(optimize.target_combo.findData("esp32-s3"))
    for prune, quant in ((0, "float32"), (0, "int8"), (50, "int8")):
        optimize.prune_slider.setValue(prune)
        optimize.quant_combo.setCurrentIndex(optimize.quant_combo.findData(quant))
        optimize.build_button.click()
        wait_job(optimize, ms=3_600_000)  # removing channels fine-tunes: under load it outlasted 15 minutes
    wait_until(lambda: optimize.table.rowCount() == 3, ms=30_000)  # the worker lists the variants
    shot("07-optimize")
    if args.search_min:  # "fit my device": a short search for a Cortex-M4, the frontier drawn as points arrive
        from PySide6.QtCore import QPoint
        from PySide6.QtWidgets import QScrollArea

        optimize.target_combo.setCurrentIndex(optimize.target_combo.findData("cortex-m4"))
        panel = optimize.search_panel
        panel.budget_spin.setValue(args.search_min)
        panel.start_button.click()
        wait_job(optimize, ms=(args.search_min + 20) * 60_000)
        scroll = optimize.findChild(QScrollArea)
        scroll.verticalScrollBar().setValue(panel.mapTo(scroll.widget(), QPoint(0, 0)).y() - 40)
        wait(None, 500)
        shot("11-search-frontier")

    try:
        import studio.core.export  # noqa: F401

        export_and_selftest(window)
        shot("08-export")
    except ImportError:
        print("export core missing: no export screenshot", file=sys.stderr)

    trust_shots(window, project, shot)

    # the sensor sample: data and a short training
    open_project(window, "sensor", tmp)
    window.show_step("data")
    wait_until(lambda: window.page("data").preview_layout.count() >= 2, ms=60_000)
    wait(None, 800)
    from PySide6.QtWidgets import QScrollArea

    from PySide6.QtCore import QPoint

    data_page = window.page("data")
    scroll = data_page.findChild(QScrollArea)
    top = data_page.preview_title.mapTo(scroll.widget(), QPoint(0, 0)).y()
    scroll.verticalScrollBar().setValue(top - 260)  # the chart's lower part and the signal plots
    shot("09-data-sensors")
    window.show_step("model")  # sensors: "Let Studio choose" on, what the model will read, MiniRocket's features
    model = window.page("model")
    wait_until(lambda: "channels" in model.input_note.text() and len(model.estimates) == len(model.cards),
               ms=180_000)
    shot("25-model-sensors")
    window.show_step("train")
    wait_until(lambda: train.ready, ms=60_000)
    train.epochs_spin.setValue(max(3, args.epochs // 2))
    train.start_button.click()
    wait_job(train)
    shot("10-train-sensors")
    if train.selection.isVisible():  # how Studio chose the sensor model: the measured candidates
        scroll_to(train, train.selection)
        shot("23-train-sensors-candidates")
    window.show_step("evaluate")  # why-maps of a sensor model: the span (and channel) that decided, shaded
    evaluate.evaluate_button.click()
    wait_job(evaluate)
    shot("24-evaluate-sensors")  # the per-recording headline, confusion matrix and mistakes by file and time
    if evaluate.why.items:
        evaluate.why.explain_mistakes()
    else:
        sensor = window.state.project.load_manifest()
        evaluate.why.explain_many({"recordings": [r["id"] for r in sensor["recordings"] if r["split"] != "train"][:3]})
    wait_job(evaluate.why)
    scroll_to(evaluate, evaluate.why)
    shot("16-evaluate-why-sensor")
    anomaly_shots(window, tmp, shot)
    return finish(window, worker, t0)


def finish(window, worker, t0: float) -> int:  # noqa: ANN001
    print(f"done in {time.monotonic() - t0:.0f} s; TensorFlow in the window's process: "
          f"{'tensorflow' in sys.modules}", flush=True)
    window.close()
    worker.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def texture_folder(tmp: Path) -> Path:
    """A leather texture photographed under small jitter and light changes: 100 good photos and 8 of each
    defect (scratch, hole, stain, crack) in one folder per class (bench/anomaly_data.py's generator)."""
    import shutil

    from bench.anomaly_data import write_texture

    train, test = write_texture(tmp / "texture", "leather", size=96, n_train=100, n_test_good=0, n_defect=8)
    root = tmp / "leather"
    root.mkdir()
    shutil.move(str(train / "good"), str(root / "good"))
    for folder in test.iterdir():
        if any(folder.iterdir()):
            shutil.move(str(folder), str(root / folder.name))
    return root


def anomaly_shots(window, tmp: Path, shot) -> None:  # noqa: ANN001
    """An image-anomaly project on a generated texture (good photos only in training; defects set the threshold):
    data, fitting, the Evaluate page's threshold and heat maps, export with the OK / NOT OK self-test; then the
    vibration sample as a sensor-anomaly project (good = normal), judged per recording."""
    from studio.core.project import Project
    from studio.core.samples import get_sample

    project = Project.create(tmp / "leather-project", "image-anomaly", name="Leather surface: learn good")
    window.state.set_project(project)
    data = window.page("data")
    data.source_edit.setText(str(texture_folder(tmp)))
    data.import_button.click()
    wait_job(data)
    window.show_step("data")
    wait_until(lambda: window.page("data").preview_layout.count() > 8, ms=60_000)
    shot("17-data-anomaly")
    window.show_step("train")
    panel = window.page("train")._anomaly_panel
    wait_until(lambda: panel.fit_button.isEnabled(), ms=60_000)
    panel.fit_button.click()
    wait_job(window.page("train"))
    shot("18-train-anomaly")
    window.show_step("evaluate")
    evaluate = window.page("evaluate")
    evaluate.evaluate_button.click()
    wait_job(evaluate)
    view = evaluate._anomaly_panel.view
    wait(None, 1500)
    shot("19-evaluate-anomaly")
    scroll_to(evaluate, view.gallery_title, above=60)
    shot("20-evaluate-anomaly-heatmaps")
    try:
        window.show_step("optimize")
        optimize = window.page("optimize")
        optimize.quant_combo.setCurrentIndex(optimize.quant_combo.findData("int8"))
        optimize.prune_slider.setValue(0)
        optimize.build_button.click()
        wait_job(optimize)
        export_and_selftest(window)
        shot("21-export-anomaly")
    except ImportError:
        print("export core missing: no anomaly export screenshot", file=sys.stderr)
    # Try it: new photos of the same leather (never imported), answered OK / NOT OK by the int8 variant
    from bench.anomaly_data import write_texture

    _, fresh = write_texture(tmp / "texture-new", "leather", size=96, n_train=100, n_test_good=2, n_defect=1)
    window.show_step("tryit")
    tryit = window.page("tryit")
    wait_until(lambda: tryit.variant_combo.count() > 1, ms=30_000)
    tryit.try_paths([str(fresh)])
    wait_job(tryit)
    wait(None, 500)
    shot("26-tryit-anomaly")
    if not get_sample("sensor-anomaly").data_dir.is_dir():
        print("samples missing: no sensor anomaly screenshot", file=sys.stderr)
        return
    start = window.page("")
    start.open_sample("sensor-anomaly")
    wait_job(start)
    window.show_step("train")
    panel = window.page("train")._anomaly_panel
    wait_until(lambda: panel.fit_button.isEnabled(), ms=60_000)
    panel.fit_button.click()
    wait_job(window.page("train"))
    window.show_step("evaluate")
    evaluate.evaluate_button.click()
    wait_job(evaluate)
    shot("22-evaluate-sensor-anomaly")
    # Try it: one new recording of each motor state (another seed of the sample's generator), the fitted
    # detector answering each OK / NOT OK with its least normal window outlined
    import importlib.util

    spec = importlib.util.spec_from_file_location("vibration_generate", ROOT / "samples" / "vibration" / "generate.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    generator.generate(tmp / "vibration-new", per_class=1, seed=7)
    window.show_step("tryit")
    tryit = window.page("tryit")
    wait_until(lambda: tryit.variant_combo.count() > 0, ms=30_000)
    tryit.try_paths([str(tmp / "vibration-new")])
    wait_job(tryit)
    wait(None, 500)
    scroll_to(tryit, tryit.model_title, above=8)  # the model, then the four answers
    shot("27-tryit-sensor-anomaly")


if __name__ == "__main__":
    raise SystemExit(main())
