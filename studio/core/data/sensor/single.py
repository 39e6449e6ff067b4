"""One recording from one CSV file, by the project's channel names (Try-it, why-maps, the window's pictures).

No TensorFlow and no project: the window's why-map view reads a signal through this module.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from studio.core.errors import DatasetError


def read_signal(path: str | Path, channels: tuple[str, ...]) -> np.ndarray:
    """One recording from a CSV file with (at least) the project's channel columns, float32 ``[rows, c]``."""
    from studio.core.data.sensor.columns import plan_columns
    from studio.core.data.sensor.csvfile import numeric_matrix, read_csv_table

    path = Path(path)
    table = read_csv_table(path, display=str(path))
    if not table.rows:
        raise DatasetError("the CSV has a header but no data rows", path=path)
    plan = plan_columns(table, str(path), want_label=False, label_column=None, recording_column=None,
                        channels=list(channels))
    return numeric_matrix(table, [table.header.index(c) for c in plan.channels], str(path))
