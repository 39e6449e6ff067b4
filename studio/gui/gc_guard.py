"""Run Python's cyclic garbage collector only in the GUI thread.

The collector runs in whichever thread happens to allocate when a threshold is crossed. If that is a worker
thread (an import or a training) and the garbage holds Qt objects created in the GUI thread, Qt deletes them
from the wrong thread and the process can crash: seen here as a segmentation fault "Garbage-collecting" inside
a sensor import worker. So automatic collection is turned off and a GUI-thread timer collects with the same
generation thresholds (the pattern of pyqtgraph's GarbageCollector). Reference counting still frees almost
everything immediately; only cycles wait for the timer.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class GuiThreadGarbageCollector(QObject):
    def __init__(self, interval_ms: int = 500, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(interval_ms)

    def check(self) -> None:
        l0, l1, l2 = gc.get_count()
        if l0 > self.threshold[0]:
            gc.collect(0)
            if l1 > self.threshold[1]:
                gc.collect(1)
                if l2 > self.threshold[2]:
                    gc.collect(2)

    @staticmethod
    def freeze_current_objects() -> None:
        """Move everything alive now (e.g. TensorFlow's ~1 M module objects) out of future full collections,
        so a GUI-thread collection stays short. Freezing is instant (no collection runs here)."""
        gc.freeze()


def install(app: QObject) -> GuiThreadGarbageCollector:
    """Install once per QApplication (idempotent)."""
    existing = app.findChild(GuiThreadGarbageCollector)
    return existing if existing is not None else GuiThreadGarbageCollector(parent=app)
