"""GUI responsiveness: how fast the window appears, and how long the event loop stalls while training.

    python -m bench.gui_responsiveness        (or: python bench/gui_responsiveness.py)

1. **Window shown**: wall time from launching ``python -m studio gui`` (offscreen) until the main window is
   shown, against a bare PySide6 window launched the same way. Median of a few runs. The app prints a marker
   when ``STUDIO_GUI_EXIT_WHEN_SHOWN`` is set and quits.
2. **Event-loop stall while training**: in a child process, the real Train page trains a 1-D CNN on synthetic
   sensor data in its worker thread while a 20 ms QTimer ticks in the GUI thread; a stall is a tick gap minus
   the 20 ms interval. Reports p50/p99/max stall during training and, as the baseline, while idle.

``run() -> dict`` is what ``bench/run.py`` calls; run as a script it prints the dict as JSON and the ratios.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TICK_MS = 20


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = env.get("QT_QPA_PLATFORM") or "offscreen"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


BARE_WINDOW = (
    "import sys\n"
    "from PySide6.QtCore import QTimer\n"
    "from PySide6.QtWidgets import QApplication, QMainWindow\n"
    "app = QApplication(sys.argv); w = QMainWindow(); w.resize(1240, 820); w.show()\n"
    "print('STUDIO_WINDOW_SHOWN tensorflow=False', flush=True)\n"
    "QTimer.singleShot(0, app.quit); app.exec()\n"
)


def _time_to_marker(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    marker = ""
    for line in proc.stdout:
        if line.startswith("STUDIO_WINDOW_SHOWN"):
            marker = line.strip()
            break
    shown = time.perf_counter() - start
    proc.wait(timeout=60)
    if not marker:
        raise RuntimeError(f"{argv} never showed a window (exit {proc.returncode})")
    return shown, marker


def measure_window_shown(runs: int = 3, home: str | None = None) -> dict[str, Any]:
    import tempfile

    home = home or tempfile.mkdtemp(prefix="studio-bench-home-")
    env = _env(STUDIO_HOME=home, STUDIO_GUI_EXIT_WHEN_SHOWN="1")
    studio, bare, tf_flags = [], [], []
    for _ in range(runs):
        seconds, marker = _time_to_marker([sys.executable, "-m", "studio", "gui"], env)
        studio.append(seconds)
        tf_flags.append("tensorflow=True" in marker)
        bare.append(_time_to_marker([sys.executable, "-c", BARE_WINDOW], env)[0])
    s, b = statistics.median(studio), statistics.median(bare)
    return {
        "window_shown_s": round(s, 3),
        "bare_window_shown_s": round(b, 3),
        "window_shown_ratio": round(s / b, 2),
        "tensorflow_imported_before_shown": any(tf_flags),
        "runs": runs,
    }


# ------------------------------------------------------------------------------------------------ stall child
def _stall_child(seconds: float) -> dict[str, Any]:
    """Runs in a child process: train through the Train page and measure timer gaps in the GUI thread."""
    import tempfile

    os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="studio-bench-home-"))
    from PySide6.QtCore import QEventLoop, QObject, QTimer, Slot

    from studio.core.data import import_data
    from studio.core.data.synth import make_sensor_folder
    from studio.core.project import Project
    from studio.gui.app import TensorFlowLoader, create_application
    from studio.gui.main_window import MainWindow
    from studio.gui.state import AppState

    class Meter(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.timer = QTimer(self)
            self.timer.setInterval(TICK_MS)
            self.timer.timeout.connect(self.tick)
            self.gaps: list[float] = []
            self.last = 0.0

        def start(self) -> None:
            self.gaps = []
            self.last = time.perf_counter()
            self.timer.start()

        @Slot()
        def tick(self) -> None:
            now = time.perf_counter()
            self.gaps.append((now - self.last) * 1000.0)
            self.last = now

    def run_loop(ms: int) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def stats(gaps: list[float]) -> dict[str, float]:
        stalls = sorted(max(0.0, g - TICK_MS) for g in gaps)
        if not stalls:
            return {"p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0, "ticks": 0}
        return {
            "p50_ms": round(stalls[len(stalls) // 2], 1),
            "p99_ms": round(stalls[min(len(stalls) - 1, int(0.99 * len(stalls)))], 1),
            "max_ms": round(stalls[-1], 1),
            "ticks": len(stalls),
        }

    tmp = Path(tempfile.mkdtemp(prefix="studio-bench-"))
    source = make_sensor_folder(tmp / "sensors", ("idle", "shake", "tap"), recordings=12, length=1024)
    project = Project.create(tmp / "project", "sensor")
    import_data(project, source, window=128, stride=16)
    app = create_application()
    state = AppState()
    # as in the app: TensorFlow is loaded by the background loader (which yields to the GUI thread)
    loader = TensorFlowLoader(state)
    loader.start()
    loader.thread.join()
    state.set_tf_ready(True)
    window = MainWindow(state)
    window.show()
    state.set_project(project)
    state.save_settings("train", {"arch": "cnn1d", "epochs": 500, "batch_size": 16, "patience": 0})
    window.show_step("train")
    page = window.page("train")
    meter = Meter()

    meter.start()
    run_loop(2000)
    idle = stats(meter.gaps)

    page.start_button.click()
    started = time.perf_counter()
    while page.curves.completed_epochs < 1 and time.perf_counter() - started < 300:
        run_loop(100)  # let the first epoch (graph tracing, dataset set-up) pass
    meter.start()
    run_loop(int(seconds * 1000))
    meter.timer.stop()
    training = stats(meter.gaps)
    epochs_seen = page.curves.completed_epochs
    page.stop_button.click()
    t0 = time.perf_counter()
    if page.job is not None and not page.job.isFinished():
        loop = QEventLoop()
        page.job.done.connect(loop.quit)
        QTimer.singleShot(60_000, loop.quit)
        loop.exec()
    stop_s = time.perf_counter() - t0
    window.close()
    del app
    return {"idle": idle, "training": training, "stop_seconds": round(stop_s, 2), "epochs_during_measure": epochs_seen}


def measure_stalls(seconds: float = 10.0) -> dict[str, Any]:
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from bench.gui_responsiveness import _stall_child\n"
        f"print(json.dumps(_stall_child({seconds!r})))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"stall benchmark failed:\n{proc.stderr[-3000:]}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    idle, training = data["idle"], data["training"]
    return {
        "stall_idle_p99_ms": idle["p99_ms"],
        "stall_idle_max_ms": idle["max_ms"],
        "stall_training_p50_ms": training["p50_ms"],
        "stall_training_p99_ms": training["p99_ms"],
        "stall_training_max_ms": training["max_ms"],
        "stall_training_ticks": training["ticks"],
        "stop_seconds": data["stop_seconds"],
    }


def run(runs: int = 3, seconds: float = 10.0) -> dict[str, Any]:
    """Both measurements as one flat dict (times in seconds, stalls in milliseconds)."""
    out = measure_window_shown(runs=runs)
    out.update(measure_stalls(seconds=seconds))
    return out


def main() -> int:
    result = run()
    print(json.dumps(result, indent=2))
    print(
        f"window shown in {result['window_shown_s']:.2f} s = {result['window_shown_ratio']:.2f}x a bare PySide6 "
        f"window ({result['bare_window_shown_s']:.2f} s); TensorFlow before shown: "
        f"{result['tensorflow_imported_before_shown']}"
    )
    print(
        f"event-loop stall while training: p99 {result['stall_training_p99_ms']:.0f} ms, max "
        f"{result['stall_training_max_ms']:.0f} ms (idle p99 {result['stall_idle_p99_ms']:.0f} ms); "
        f"Stop took {result['stop_seconds']:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
