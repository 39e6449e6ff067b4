"""Guard against a Qt binding that leaks references on signal emission.

PySide6 6.12.0 drops a reference to the emit's result on every ``Signal.emit``: after a few thousand emits
(a training run's progress signals) Python aborts with "deallocating True or False" / "deallocating None".
pyproject.toml excludes it; this test fails if such a binding is installed again. It runs in a child process
because the failure mode is a fatal abort, not an exception.
"""

from __future__ import annotations

import os
import subprocess
import sys

CHILD = r"""
import sys
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QApplication

app = QApplication([])

class Source(QObject):
    values = Signal(object)
    progress = Signal(float, str)

class Sink(QObject):
    @Slot(object)
    def on_values(self, v): pass
    @Slot(float, str)
    def on_progress(self, f, m): pass

src, sink = Source(), Sink()
src.values.connect(sink.on_values)
src.progress.connect(sink.on_progress)
before = sys.getrefcount(True), sys.getrefcount(False), sys.getrefcount(None)
for _ in range(3000):
    src.values.emit({"loss": 0.5})
    src.progress.emit(0.5, "epoch")
after = sys.getrefcount(True), sys.getrefcount(False), sys.getrefcount(None)
drops = [b - a for b, a in zip(before, after)]
print(drops)
sys.exit(0 if max(drops) < 100 else 3)
"""


def test_signal_emission_does_not_leak_references() -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, f"Qt binding loses references on emit: {proc.stdout} {proc.stderr[-500:]}"
