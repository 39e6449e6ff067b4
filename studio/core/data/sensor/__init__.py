"""Sensor data: CSV recordings in two layouts, windows, and per-channel normalization.

One module per topic:

- :mod:`.csvfile` — the one CSV parser (:class:`~.csvfile.CsvReader`: delimiter, encoding, ragged rows), a
  (small, or sampled) CSV as a :class:`~.csvfile.CsvTable`, numbers out of its columns; every problem names the
  file and the line.
- :mod:`.csvstream` — a big CSV's chosen columns streamed into arrays in bounded memory, with progress.
- :mod:`.storage` — ``recordings.npz``, stamped with its import's generation and checked before loading.
- :mod:`.columns` — which columns are the label, recording id, time and channels
  (:func:`~.columns.plan_columns`).
- :mod:`.recordings` — the two layouts into :class:`~.recordings.Recording` objects; ``recordings.npz``.
- :mod:`.windows` — window length, cutting, normalization, a split's windows, external labelled data.
- :mod:`.manifest` — the import: window choice, skips, split by recording, statistics, manifest.

The names below are the package's public API (documented in docs/ARCHITECTURE.md); anything else is imported
from its module.
"""

from __future__ import annotations

from .manifest import import_sensors
from .recordings import RECORDINGS_FILE, load_recordings
from .windows import (
    choose_window,
    cut_windows,
    n_windows,
    normalize_windows,
    read_labelled_sensors,
    split_windows,
)

__all__ = [
    "RECORDINGS_FILE",
    "choose_window",
    "cut_windows",
    "import_sensors",
    "load_recordings",
    "n_windows",
    "normalize_windows",
    "read_labelled_sensors",
    "split_windows",
]
