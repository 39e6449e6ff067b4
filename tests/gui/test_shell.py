"""The shell without training: start-up, display check, projects, recent list, errors, import, workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import wait_job  # type: ignore[import-not-found]

from studio.core.errors import DatasetError
from studio.core.project import Project


def test_no_display_prints_one_line_and_exits_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from studio.gui import app

    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(app.sys, "platform", "linux")
    assert app.main([]) == 2
    err = capsys.readouterr().err
    assert err.strip() == app.NO_DISPLAY_MESSAGE


def test_window_opens_without_importing_tensorflow(tmp_path: Path) -> None:
    code = (
        "import sys, time\n"
        "t = time.perf_counter()\n"
        "from studio.gui.app import create_application\n"
        "from studio.gui.main_window import MainWindow\n"
        "app = create_application(); w = MainWindow(); w.show()\n"
        "w.show_step('data')\n"
        "print(time.perf_counter() - t, 'tensorflow' in sys.modules, 'tf_keras' in sys.modules)\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STUDIO_HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    seconds, tf_loaded, keras_loaded = out.stdout.split()
    assert tf_loaded == "False" and keras_loaded == "False"
    assert float(seconds) < 10  # generous: the benchmark measures the real figure


def test_new_project_goes_to_data_page_and_is_remembered(window, qtbot, tmp_path: Path) -> None:
    start = window.page("")
    start.name_edit.setText("Bracket check")
    start.location_edit.setText(str(tmp_path / "bracket"))
    start.sensor_radio.setChecked(True)
    start.create_button.click()
    assert window.state.project is not None
    assert window.state.project.task == "sensor"
    assert window.stack.currentWidget() is window.page("data")
    assert str(tmp_path / "bracket") in window.state.recent_projects()
    # steps after Data are locked until data exists
    assert not window.steps.item(2).flags() & window.steps.item(2).flags().ItemIsEnabled
    window.show_step("train")
    assert window.stack.currentWidget() is window.page("data")

    # a fresh window (same STUDIO_HOME) lists the project as recent and opens it by activation
    from studio.gui.main_window import MainWindow

    other = MainWindow()
    qtbot.addWidget(other)
    start2 = other.page("")
    start2.reload()
    assert start2.recent_list.count() == 1
    start2.open_recent_button.click()
    assert other.state.project is not None and other.state.project.name == "Bracket check"


def test_creating_over_an_existing_project_shows_a_plain_error(window, dialog_log, tmp_path: Path) -> None:
    Project.create(tmp_path / "p", "image")
    start = window.page("")
    start.location_edit.setText(str(tmp_path / "p"))
    start.create_button.click()
    errors = dialog_log.errors()
    assert len(errors) == 1
    assert "A project already exists here" in errors[0]["info"]
    assert "What to do" in errors[0]["info"]
    assert not errors[0]["details"]  # bad input: no traceback
    assert window.state.project is None


def test_broken_folder_shows_error_and_leaves_project_unchanged(window, qtbot, dialog_log, tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p", "image")
    before = (project.path / "project.json").read_bytes()
    broken = tmp_path / "broken"
    (broken / "only_class").mkdir(parents=True)
    (broken / "only_class" / "notes.png").write_text("not an image")
    (broken / "empty_class").mkdir()
    window.state.set_project(project)
    data = window.page("data")
    data.source_edit.setText(str(broken))
    data.import_button.click()
    wait_job(qtbot, data, timeout=60_000)
    qtbot.waitUntil(lambda: data.import_button.isEnabled(), timeout=5000)
    errors = dialog_log.errors()
    assert len(errors) == 1, dialog_log.shown
    assert "broken" in errors[0]["info"]
    assert not errors[0]["details"]
    assert not project.has_data()
    saved = json.loads((project.path / "project.json").read_text())
    assert saved.get("data") is None and json.loads(before).get("data") is None
    assert "unchanged" in data.task.label.text()


def test_import_images_shows_counts_thumbnails_and_unlocks_model(window, qtbot, tiny_images: Path, tmp_path: Path) -> None:
    (tiny_images / "light" / "broken.png").write_text("not a picture")
    project = Project.create(tmp_path / "p", "image")
    window.state.set_project(project)
    data = window.page("data")
    data.source_edit.setText(str(tiny_images))
    data.split_slider.setValue(30)
    data.import_button.click()
    wait_job(qtbot, data, timeout=60_000)
    assert project.has_data()
    manifest = project.load_manifest()
    assert manifest["val_split"] == pytest.approx(0.3)
    assert "2 classes, 20 images" in data.summary.text()
    assert data.skipped_table.rowCount() == 1
    assert "broken.png" in data.skipped_table.item(0, 0).text()
    qtbot.waitUntil(lambda: data.preview_layout.count() >= 2 + 10, timeout=30_000)
    # the choice was saved in the project
    assert Project.open(project.path).settings["data"]["val_split"] == pytest.approx(0.3)
    assert window.state.is_done("data")
    assert window.next_button.isEnabled()
    window.next_button.click()
    assert window.stack.currentWidget() is window.page("model")
    model = window.page("model")
    qtbot.waitUntil(lambda: bool(model.cards), timeout=30_000)  # the worker describes the architectures
    assert [c.spec.id for c in model.cards] == ["mobilenetv2", "compact_cnn"]


def test_import_sensors_shows_window_plots(window, qtbot, tiny_sensors: Path, tmp_path: Path) -> None:
    project = Project.create(tmp_path / "s", "sensor")
    window.state.set_project(project)
    data = window.page("data")
    assert data.window_spin.isVisible()
    data.source_edit.setText(str(tiny_sensors))
    data.window_spin.setValue(32)
    data.stride_spin.setValue(16)
    data.import_button.click()
    wait_job(qtbot, data, timeout=60_000)
    manifest = project.load_manifest()
    assert (manifest["window"], manifest["stride"]) == (32, 16)
    assert "windows of 32 rows every 16 rows" in data.summary.text()
    qtbot.waitUntil(lambda: data.preview_layout.count() == 2, timeout=30_000)


def test_cancel_import_keeps_project_unchanged(window, qtbot, dialog_log, tmp_path: Path) -> None:
    from studio.core.data.synth import make_image_folder

    folder = make_image_folder(tmp_path / "many", {"a": 150, "b": 150}, size=(64, 64))
    project = Project.create(tmp_path / "p", "image")
    window.state.set_project(project)
    data = window.page("data")
    data.source_edit.setText(str(folder))
    data.import_button.click()
    data.task.cancel_button.click()
    wait_job(qtbot, data, timeout=60_000)
    assert not project.has_data()
    assert dialog_log.errors() == []  # cancelling is not an error


# ------------------------------------------------------------------------------------------------ workers
def test_job_reports_throttled_batches_and_failures(qtbot) -> None:
    from PySide6.QtCore import QObject, Slot

    from studio.gui.workers import start_job

    class Sink(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.batches: list[dict] = []
            self.epochs: list[dict] = []
            self.errors: list[BaseException] = []
            self.progress: list[float] = []

        @Slot(list)
        def on_batches(self, items: list) -> None:
            self.batches.extend(items)

        @Slot(str, dict)
        def on_metrics(self, kind: str, values: dict) -> None:
            self.epochs.append(values)

        @Slot(object)
        def on_failed(self, exc: BaseException) -> None:
            self.errors.append(exc)

        @Slot(float, str)
        def on_progress(self, f: float, msg: str) -> None:
            self.progress.append(f)

    sink = Sink()

    elapsed = []

    def work(reporter):
        t0 = time.monotonic()
        for i in range(2000):
            reporter.metrics("batch", {"batch": i, "loss": 1.0 / (i + 1)})
            reporter.progress(i / 2000)
        elapsed.append(time.monotonic() - t0)
        reporter.metrics("epoch", {"epoch": 1})
        raise DatasetError("bad row", path="x.csv", line=3, hint="fix it")

    job = start_job(work, "t", batch_metrics=sink.on_batches, metrics=sink.on_metrics, failed=sink.on_failed,
                    progress=sink.on_progress)
    with qtbot.waitSignal(job.done, timeout=10_000):
        pass
    assert len(sink.batches) == 2000  # nothing lost, only grouped
    assert [b["batch"] for b in sink.batches] == list(range(2000))
    assert sink.epochs == [{"epoch": 1}]
    # throttled to 1 % steps, plus one every 100 ms (a loaded machine makes the loop slow)
    assert len(sink.progress) <= 101 + elapsed[0] / 0.1 + 1
    assert isinstance(sink.errors[0], DatasetError)
    assert "Traceback" in sink.errors[0].traceback_text


def test_error_dialog_words() -> None:
    from studio.gui.widgets.dialogs import error_parts

    headline, text, details = error_parts(DatasetError("no classes found", path="/d", line=4, hint="add folders"))
    assert details is None
    assert "No classes found" in text and "/d, line 4" in text and "What to do: Add folders." in text
    exc = ValueError("boom")
    exc.traceback_text = "Traceback...\nValueError: boom"  # type: ignore[attr-defined]
    headline, text, details = error_parts(exc)
    assert headline == "Something went wrong" and details.startswith("Traceback")


def test_python_m_studio_opens_the_window(tmp_path: Path) -> None:
    """``python -m studio`` with no command opens the main window (and has not needed TensorFlow for it)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STUDIO_HOME=str(tmp_path), STUDIO_GUI_EXIT_WHEN_SHOWN="1")
    out = subprocess.run([sys.executable, "-m", "studio"], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "STUDIO_WINDOW_SHOWN tensorflow=False" in out.stdout


def test_open_sensor_sample_from_start_page(window, qtbot, dialog_log) -> None:
    start = window.page("")
    start.sample_sensor_button.click()
    wait_job(qtbot, start, timeout=120_000)
    qtbot.waitUntil(lambda: window.state.project is not None, timeout=10_000)
    project = window.state.project
    assert project.task == "sensor" and project.has_data()
    assert len(project.load_manifest()["classes"]) == 4
    # the data is imported already: the wizard moves on to choosing (or training) the model
    assert window.stack.currentWidget().step in ("model", "train")
    assert window.state.is_done("data")
    assert dialog_log.errors() == []


def test_fit_verdict_and_variant_rows_in_plain_words() -> None:
    from studio.core.targets import TARGETS
    from studio.gui.pages.model_page import fit_verdict, human_bytes
    from studio.gui.pages.optimize_page import variant_row

    m4 = TARGETS["cortex-m4"]  # 1 MB flash, 256 KB RAM; 160 KB of flash and 64 KB of RAM kept for the rest
    small = {"params": 1000, "macs": 10, "float32_bytes": 40_000, "int8_bytes": 12_000, "activation_bytes": 20_000}
    ok, text = fit_verdict(small, m4)
    assert ok and "flash" in text
    big_flash = dict(small, int8_bytes=900 * 1024)
    ok, text = fit_verdict(big_flash, m4)
    assert not ok and "flash" in text and "RAM" not in text
    big_ram = dict(small, activation_bytes=300 * 1024)
    ok, text = fit_verdict(big_ram, m4)
    assert not ok and "RAM" in text
    ok, text = fit_verdict(dict(small, float32_bytes=300 * 1024**2), TARGETS["android"])  # 200 MB budget
    assert not ok
    assert human_bytes(1536) == "1.5 KB" and human_bytes(3 * 1024**2) == "3.0 MB"

    variant = {"name": "p50-int8", "bytes": 41_000, "gzip_bytes": 22_000, "sparsity": 0.5, "accuracy": 0.875,
               "agreement": 0.99, "latency_ms": 0.72, "fits": {"cortex-m4": False},
               "fit_detail": {"cortex-m4": {"reason": "needs 284 KB RAM, has 256 KB"}}, "arena_bytes": 290_000}
    row = variant_row(variant, "cortex-m4")  # name, file, zipped, RAM, sparsity, accuracy, change, agreement, ...
    assert row == ["p50-int8", "40 KB", "21 KB", "283 KB", "50 %", "87.5 %", "—", "99.0 %", "0.72 ms",
                   "no: needs 284 KB RAM, has 256 KB"]


def test_live_curves_draw_at_most_a_few_frames_a_second_on_set_axes(qtbot) -> None:
    """Metrics arrive ten times a second; the plots are redrawn by one coalescing timer, with axes set from
    the data (epochs 0 to a round number past the newest point, accuracy 0-100 %), not auto-ranged per frame."""
    from studio.gui.app import create_application
    from studio.gui.pages.train_page import TrainCurves, nice_ceiling
    from studio.gui.plots import CurvePlot

    create_application()
    loss, acc = CurvePlot("Loss", "loss"), CurvePlot("Accuracy", "%")
    qtbot.addWidget(loss)
    qtbot.addWidget(acc)
    curves = TrainCurves(loss, acc)
    curves.add_batches([{"epoch": 1, "batch": b, "steps": 10, "loss": 1.7, "accuracy": 0.5} for b in range(1, 6)])
    assert len(loss.curves["batch"].getData()[0] or []) == 0  # not drawn yet: the next frame draws
    curves.add_epoch({"loss": 1.6, "accuracy": 0.55, "val_loss": 1.4, "val_accuracy": 0.6})
    qtbot.waitUntil(lambda: len(acc.curves["val"].getData()[0] or []) == 1, timeout=2000)
    assert len(loss.curves["batch"].getData()[0]) == 5
    (x0, x1), (y0, y1) = acc.viewRange()
    assert x0 <= 0 < 2 <= x1 < 2.5 and y0 <= 0 and 100 <= y1 < 110
    assert 2.0 <= loss.viewRange()[1][1] < 2.2  # loss 0 to 2: the round number above 1.7
    assert [nice_ceiling(v) for v in (0.3, 1.05, 10.5, 151)] == [0.3, 1.2, 12.0, 200.0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for the worker process")
@pytest.mark.parametrize("command", [["gui"], []])
def test_sigterm_closes_the_app_and_its_worker(tmp_path: Path, command: list[str]) -> None:
    """``kill`` (SIGTERM, as at log-out) ends ``studio gui`` and ``python -m studio`` and the worker process
    with them. Before, the command line's Ctrl-C handlers stayed installed during the GUI, caught the signal,
    flagged a cancel nobody read, and the window stayed open."""
    import signal

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STUDIO_HOME=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "studio", *command], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)

    def children() -> list[int]:
        out = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            except OSError:
                continue
            if fields.get("PPid", "").strip() == str(proc.pid):
                out.append(int(status.parent.name))
        return out

    try:
        deadline = time.monotonic() + 60
        while not children() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)  # the worker starts once the window is shown
        workers = children()
        assert workers, "the worker process did not start"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        deadline = time.monotonic() + 20
        while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(Path(f"/proc/{pid}/status").exists() and "zombie" not in
                       Path(f"/proc/{pid}/status").read_text() for pid in workers)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
