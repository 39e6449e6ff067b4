"""Click through whole projects, import to export, and check training from the GUI can be stopped and keeps
the window responsive. Tiny data, one epoch, tiny models: these still load TensorFlow (in the worker), hence
``slow``.

The two walkthroughs run in a fresh GUI process (:func:`test_walkthroughs_never_import_tensorflow_in_the_gui`),
because this test process may have imported TensorFlow for the core tests: there they must end with no
``tensorflow`` in the GUI process's ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt, QTimer, Slot

from conftest import wait_job  # type: ignore[import-not-found]

from studio.core.project import Project

pytestmark = pytest.mark.slow
CHILD = os.environ.get("STUDIO_WALKTHROUGH_CHILD") == "1"
in_child = pytest.mark.skipif(not CHILD, reason="runs in a fresh GUI process (test_walkthroughs_never_import_...)")


class GapMeter(QObject):
    """A 20 ms QTimer; records the largest gap between ticks (an event-loop stall)."""

    def __init__(self) -> None:
        super().__init__()
        self.timer = QTimer(self)
        self.timer.setInterval(20)
        self.timer.timeout.connect(self.tick)
        self.gaps: list[float] = []
        self.last = 0.0

    def start(self) -> None:
        self.last = time.perf_counter()
        self.timer.start()

    @Slot()
    def tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self.last)
        self.last = now

    def stop(self) -> None:
        self.timer.stop()


def import_data(win, qtbot, project: Project, source: Path, **sensor: int) -> None:
    win.state.set_project(project)
    data = win.page("data")
    data.source_edit.setText(str(source))
    if sensor:
        data.window_spin.setValue(sensor["window"])
        data.stride_spin.setValue(sensor["stride"])
    data.import_button.click()
    wait_job(qtbot, data, timeout=60_000)
    assert project.has_data()


def choose_model(window, qtbot, arch: str, size: int | None = None) -> None:
    window.next_button.click()
    model = window.page("model")
    assert window.stack.currentWidget() is model
    qtbot.waitUntil(lambda: bool(model.cards), timeout=30_000)  # the worker describes the architectures
    if size is not None:
        model.size_spin.setValue(size)
    card = next(c for c in model.cards if c.spec.id == arch)
    card.width_combo.setCurrentIndex(0)  # the narrowest width
    card.use_button.click()
    assert window.state.project.settings["train"]["arch"] == arch
    # estimates arrive (TensorFlow loads in the worker) and give a verdict for the device
    qtbot.waitUntil(lambda: arch in model.estimates, timeout=120_000)
    assert "error" not in model.estimates[arch]
    assert card.fits.text().startswith("✔")


def train_one_epoch(window, qtbot) -> dict:
    window.next_button.click()
    train = window.page("train")
    assert window.stack.currentWidget() is train
    qtbot.waitUntil(lambda: train.ready, timeout=30_000)  # the controls show the project's settings
    train.epochs_spin.setValue(1)
    train.batch_combo.setCurrentIndex(train.batch_combo.findData(8))
    train.start_button.click()
    wait_job(qtbot, train, timeout=180_000)
    assert train.last_result is not None, "training failed"
    assert train.last_result["config"]["learning_rate"] >= 1e-3  # the core's default, not a widget's minimum
    assert window.state.project.list_runs()
    # curves were drawn: one epoch point for train and validation
    xs, ys = train.acc_plot.curves["val"].getData()
    assert len(xs) == 1
    return train.last_result


def evaluate(window, qtbot, other_folder: Path | None = None) -> None:
    window.next_button.click()
    page = window.page("evaluate")
    page.evaluate_button.click()
    wait_job(qtbot, page, timeout=120_000)
    assert page.results.isVisible()
    assert page.table.rowCount() == 2
    assert "% right" in page.accuracy_label.text()
    assert window.state.is_done("evaluate")
    if other_folder is not None:
        page.folder_edit.setText(str(other_folder))
        page.folder_button.click()
        wait_job(qtbot, page, timeout=120_000)
        result = page.last_result
        assert result is not None and result["n"] == 20  # every image of the folder
        assert f" of the 20 examples in {other_folder} classified correctly" in page.accuracy_note.text()
        if result["misclassified"]:
            from PySide6.QtWidgets import QDialog

            from studio.gui.widgets.gallery import Thumbnail

            qtbot.waitUntil(lambda: bool(page.gallery.findChildren(Thumbnail)), timeout=30_000)
            thumb = page.gallery.findChildren(Thumbnail)[0]
            qtbot.mouseClick(thumb, Qt.MouseButton.LeftButton)
            viewers = [d for d in page.findChildren(QDialog) if d.objectName() == "imageViewer"]
            assert viewers and viewers[-1].isVisible()
            viewers[-1].close()


def optimize_and_export(window, qtbot, tmp_path: Path, target: str = "linux") -> None:
    """Build an int8 variant, export it for ``target`` and run the self-test (for a microcontroller: the worker's
    TFLite-Micro check, and main.cc compiled when this machine has the TFLite-Micro kit and a compiler)."""
    pytest.importorskip("studio.core.export")
    window.next_button.click()
    page = window.page("optimize")
    page.quant_combo.setCurrentIndex(page.quant_combo.findData("int8"))
    page.prune_slider.setValue(0)
    page.build_button.click()
    wait_job(qtbot, page, timeout=180_000)
    # the table follows the worker's answer to the page's "variants" query
    qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=30_000)
    assert window.state.is_done("optimize")
    window.next_button.click()
    export = window.page("export")
    qtbot.waitUntil(lambda: export.variant_combo.count() == 1, timeout=30_000)
    export.target_combo.setCurrentIndex(export.target_combo.findData(target))
    export.out_edit.setText(str(tmp_path / "bundle"))
    export.export_button.click()
    wait_job(qtbot, export, timeout=180_000)
    assert (tmp_path / "bundle" / "model.tflite").exists()
    assert export.files.count() >= 3
    assert window.state.is_done("export")
    if export.harness() is not None:
        with qtbot.waitSignal(export.selftest_finished, timeout=120_000) as blocker:
            export.selftest_button.click()
        assert blocker.args == [True], export.output.toPlainText()
        result = export.selftest_result
        n, k = result["reproduces"]["total"], result["correct"]["n"]
        assert "Reproduces Studio's answers" in export.selftest_label.text()
        assert f"Correct on {k} of {result['correct']['total']}" in export.correct_label.text()
        checks = {c["id"]: c for c in result["checks"]}  # the page says which checks ran
        if target == "linux":
            assert list(checks) == ["litert"] and checks["litert"]["ran"]
        else:
            from studio.core.tflm_build import find_compiler, find_kit, why_not_available

            assert result["mcu"] and checks["tflite-micro"]["ran"] and checks["tflite-micro"]["ok"]
            assert "TFLite-Micro interpreter on this PC: passed" in export.output.toPlainText()
            reason = why_not_available(find_kit(), find_compiler())
            assert checks["compiled"]["ran"] == (reason is None) and checks["compiled"].get("reason") == reason
            if reason is None:
                assert checks["compiled"]["ok"] and "main.cc compiled" in export.selftest_label.text()
                assert "arena used" in export.output.toPlainText()
            else:
                assert f"not run ({reason})" in export.output.toPlainText()
        # a model wrong on every golden example: still reproduced, but never shown as a plain pass
        golden_json = tmp_path / "bundle" / "golden" / "golden.json"
        golden = json.loads(golden_json.read_text())
        pre = json.loads((tmp_path / "bundle" / "preprocess.json").read_text())
        classes, anomaly = pre["classes"], pre.get("anomaly")
        for item, row in zip(golden["items"], result["items"]):
            if anomaly:  # a detector's answer is OK / NOT OK: make every golden's truth the other one
                item["defect"] = row["predicted"] == "OK"
                item["label"] = next(c for c in classes if (c != anomaly["normal_class"]) == item["defect"])
            else:
                item["label"] = next(c for c in classes if c != row["predicted"])
        golden_json.write_text(json.dumps(golden))
        qtbot.waitUntil(export.selftest_button.isEnabled, timeout=30_000)  # the first job has ended
        with qtbot.waitSignal(export.selftest_finished, timeout=120_000):
            export.selftest_button.click()
        assert f"Correct on 0 of {n}" in export.correct_label.text()
        assert export.correct_label.objectName() == "badText"


def try_it(window, qtbot, folder: Path) -> None:
    """Issue 14 in the window's process: why-maps on Evaluate (worker), Try it answering a photo with the int8
    variant (worker) and fake camera frames with LiteRT in a thread of this process (never TensorFlow)."""
    import numpy as np

    from studio.core.live import FakeFrameSource

    photos = sorted(str(p) for p in folder.rglob("*.png"))[:2]
    why = window.page("evaluate").why
    why.explain_many({"paths": photos})
    wait_job(qtbot, why)
    assert len(why.results) == 2 and all(not r.get("error") for r in why.results)
    window.next_button.click()  # Export -> Try it
    page = window.page("tryit")
    assert window.stack.currentWidget() is page
    qtbot.waitUntil(lambda: page.variant() is not None, timeout=30_000)
    page.try_paths(photos[:1])
    wait_job(qtbot, page)
    assert page.last_result["model"]["kind"] == "litert" and page.last_result["items"][0]["label"]
    page.source_factory = lambda _camera: FakeFrameSource([np.full((48, 64, 3), 90, np.uint8)], loop=True,
                                                          interval=1 / 30)
    page.refresh_cameras()
    page.start_button.click()
    qtbot.waitUntil(lambda: page.live_view.last is not None and page.live_view.last.index >= 5, timeout=30_000)
    page.stop_camera()
    qtbot.waitUntil(lambda: page.live_thread is None, timeout=10_000)


@in_child
def test_image_project_from_import_to_export(window, qtbot, dialog_log, tiny_images: Path, tmp_path: Path) -> None:
    import_data(window, qtbot, Project.create(tmp_path / "img", "image"), tiny_images)
    choose_model(window, qtbot, "compact_cnn", size=16)
    train_one_epoch(window, qtbot)
    evaluate(window, qtbot, other_folder=tiny_images)
    optimize_and_export(window, qtbot, tmp_path)
    try_it(window, qtbot, tiny_images)
    assert_pages_fit(window)
    assert dialog_log.errors() == []
    assert "tensorflow" not in sys.modules and "tf_keras" not in sys.modules


def assert_pages_fit(window, width: int = 1000) -> None:
    """Every page, with this project's results on it, fits the default window (1240 px, ~1015 px beside the
    steps) without being cut off: pages have no horizontal scroll bar, so anything wider is clipped (a long
    status line and a check box's text did that)."""
    from PySide6.QtWidgets import QWidget

    wide = {}
    for page in window.pages:
        body = page.findChild(QWidget, "pageBody")
        if body is not None and body.minimumSizeHint().width() > width:
            wide[type(page).__name__] = body.minimumSizeHint().width()
    assert wide == {}


@in_child
def test_sensor_project_from_import_to_export(window, qtbot, dialog_log, tiny_sensors: Path, tmp_path: Path) -> None:
    import_data(window, qtbot, Project.create(tmp_path / "sen", "sensor"), tiny_sensors, window=32, stride=32)
    choose_model(window, qtbot, "dense")
    train_one_epoch(window, qtbot)
    evaluate(window, qtbot)
    optimize_and_export(window, qtbot, tmp_path, target="cortex-m7")
    assert_pages_fit(window)
    assert dialog_log.errors() == []
    assert "tensorflow" not in sys.modules and "tf_keras" not in sys.modules


def fit_and_evaluate_anomaly(window, qtbot) -> None:
    """Model (nothing to pick) -> Train (fit the detector) -> Evaluate (AUROC, threshold drag, heat maps)."""
    from studio.core.fsutil import read_json
    from studio.gui.widgets.anomaly_panels import AnomalyEvaluatePanel, AnomalyTrainPanel

    window.next_button.click()
    assert window.state.is_done("model")  # a detector has no architecture to choose
    window.next_button.click()
    train = window.page("train")
    panel = train._anomaly_panel
    assert isinstance(panel, AnomalyTrainPanel) and panel.isVisible() and not train.epochs_spin.isVisible()
    qtbot.waitUntil(lambda: panel.fit_button.isEnabled(), timeout=30_000)  # the worker's choices arrived
    assert panel.size_spin.value() == 32  # the default for tiny images, from the core
    panel.fit_button.click()
    wait_job(qtbot, train, timeout=180_000)
    project = window.state.project
    run = project.run_dir()
    assert "scores" in read_json(run / "metrics.json") and "threshold" in panel.result_label.text()
    window.next_button.click()
    page = window.page("evaluate")
    page.evaluate_button.click()
    wait_job(qtbot, page, timeout=120_000)
    ev = page._anomaly_panel
    assert isinstance(ev, AnomalyEvaluatePanel) and ev.isVisible() and not page.results.isVisible()
    assert page.task.label.text() == "Results on the validation examples."  # which data the figures are about
    result = page.last_result
    assert result["auroc"] is not None and result["auroc"] > 0.8
    assert ev.view.gallery.thumbs, "the most anomalous images are shown with their heat maps"
    n_good = result["threshold_good_examples"]  # validation goods + held-out training goods
    assert n_good >= result["threshold_val_good"] > 0
    assert ev.threshold_warning.isVisible() == (n_good < 20)  # few: said in plain words above the figures
    assert n_good >= 20 or f"The threshold rests on {n_good} good examples" in ev.threshold_warning.text()
    hist = ev.view.histogram
    hist.set_threshold(max(result["scores"]["defect"]) + 1.0)  # above every defect: all of them missed
    assert hist.figures["misses"] == hist.figures["n_defect"] > 0 and "Missed defects" in hist.summary.text()
    hist.set_threshold(min(result["scores"]["good"]) - 1.0)  # below every good example: all flagged
    assert hist.figures["false_alarm_rate"] == 1.0
    ev.save_button.click()
    wait_job(qtbot, ev, timeout=60_000)
    assert read_json(run / "calibration.json")["threshold"] == pytest.approx(hist.threshold)


@in_child
def test_image_anomaly_project_from_import_to_export(window, qtbot, dialog_log, tmp_path: Path) -> None:
    from studio.core.data.synth import make_anomaly_image_folder

    data = make_anomaly_image_folder(tmp_path / "data", good=30, defects={"hole": 4, "scratch": 4}, size=(32, 32))
    qtbot.waitUntil(lambda: window.state.worker.state == "ready", timeout=300_000)  # run alone on a busy host
    import_data(window, qtbot, Project.create(tmp_path / "anom", "image-anomaly"), data)
    assert "Anomaly project" in window.page("data").summary.text()
    fit_and_evaluate_anomaly(window, qtbot)
    optimize_and_export(window, qtbot, tmp_path)
    assert dialog_log.errors() == []
    assert "tensorflow" not in sys.modules and "tf_keras" not in sys.modules


@pytest.mark.skipif(CHILD, reason="the parent of the walkthroughs")
def test_walkthroughs_never_import_tensorflow_in_the_gui(tmp_path: Path) -> None:
    """The walkthroughs (image, sensor and image anomaly: import → train → evaluate → optimize → export →
    self-test; the image one then why-maps and Try it with a fake camera, LiteRT in the window's process) in a
    GUI process of their own, through its worker; that process never imports TensorFlow."""
    here = Path(__file__)
    names = ["test_image_project_from_import_to_export", "test_sensor_project_from_import_to_export",
             "test_image_anomaly_project_from_import_to_export"]
    env = dict(os.environ, STUDIO_WALKTHROUGH_CHILD="1", QT_QPA_PLATFORM="offscreen")
    code = ("import sys, pytest\n"
            "rc = pytest.main(sys.argv[1:])\n"
            "bad = sorted(m for m in ('tensorflow', 'tf_keras', 'tensorflow_model_optimization') if m in sys.modules)\n"
            "print('GUI_PROCESS_TF_MODULES', bad)\n"
            "sys.exit(rc or (3 if bad else 0))\n")
    args = [sys.executable, "-c", code, "-q", "-p", "no:cacheprovider", "--rootdir", str(here.parents[2]),
            *[f"{here}::{n}" for n in names]]
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=1500, cwd=str(here.parents[2]))
    assert "GUI_PROCESS_TF_MODULES []" in proc.stdout, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert proc.returncode == 0 and "3 passed" in proc.stdout, proc.stdout[-4000:] + proc.stderr[-2000:]


@pytest.mark.skipif(CHILD, reason="in the parent session")
def test_stop_keeps_window_responsive_and_close_asks(window, qtbot, dialog_log, tmp_path: Path) -> None:
    """Closing the window while training asks first; told to stay, training goes on; told to stop, the training
    ends within a batch, keeps the best weights, and the window closes then. The event loop never stalls long.
    (The Stop button cancels the same way: test_worker.py clicks it.)"""
    from studio.core.data.synth import make_sensor_folder

    source = make_sensor_folder(tmp_path / "s", ("idle", "shake"), recordings=8, length=512)
    import_data(window, qtbot, Project.create(tmp_path / "p", "sensor"), source, window=64, stride=8)
    window.state.save_settings("train", {"arch": "cnn1d"})
    window.show_step("train")
    train = window.page("train")
    qtbot.waitUntil(lambda: train.ready, timeout=30_000)
    train.epochs_spin.setValue(200)
    train.batch_combo.setCurrentIndex(train.batch_combo.findData(8))
    train.patience_spin.setValue(0)
    meter = GapMeter()
    train.start_button.click()
    job = train.job
    # wait for the first completed epoch (then Stop keeps a finished run with the best weights)
    qtbot.waitUntil(lambda: train.curves.completed_epochs >= 1, timeout=180_000)
    meter.start()
    qtbot.wait(1500)  # training runs; the GUI thread must keep ticking
    meter.stop()

    dialog_log.answers.append(False)  # "Keep working"
    window.close()
    assert dialog_log.shown[-1]["name"] == "questionDialog"
    assert job.isRunning()

    assert window.isVisible()
    dialog_log.answers.append(True)  # "Stop and close"
    t0 = time.perf_counter()
    window.close()
    assert window.isVisible()  # it closes once the worker has stopped the training
    wait_job(qtbot, train, timeout=60_000)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10_000)
    stop_seconds = time.perf_counter() - t0
    assert train.last_result is not None and train.last_result["stopped"] is True
    assert len(train.last_result["epochs"]) < 200
    run = window.state.project.run_dir()
    assert (run / "weights.h5").exists()
    assert stop_seconds < 20
    gaps = sorted(meter.gaps)
    assert len(gaps) > 20
    # the benchmark reports the real p99/max; here a loose bound on a shared 2-core machine
    assert gaps[int(0.95 * (len(gaps) - 1))] < 0.25, gaps[-10:]
    assert dialog_log.errors() == []
