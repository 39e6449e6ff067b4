"""The PySide6 wizard: a thin layer over :mod:`studio.core` (one page per step, work in worker threads)."""
