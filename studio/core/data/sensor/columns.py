"""Column planning: which columns of a sensor CSV are the label, the recording id, the time, the channels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from studio.core.errors import DatasetError

from .csvfile import CsvTable, column_is_numeric, parse_numbers

LABEL_NAMES = ("label", "class", "target", "activity", "state")
RECORDING_NAMES = (
    "recording",
    "recording_id",
    "recordingid",
    "session",
    "session_id",
    "sequence_id",
    "series_id",
)
TIME_NAMES = frozenset(
    {
        "time",
        "timestamp",
        "t",
        "time_s",
        "time_ms",
        "ms",
        "seconds",
        "sec",
        "secs",
        "s",
        "datetime",
        "date",
        "timestamp_ms",
        "timestamp_s",
        "elapsed",
        "elapsed_s",
        "elapsed_ms",
    }
)
INDEX_NAMES = frozenset({"", "index", "unnamed: 0", "idx"})
SECONDS_NAMES = frozenset({"time_s", "seconds", "sec", "secs", "s", "timestamp_s", "elapsed_s"})
MS_NAMES = frozenset({"ms", "time_ms", "timestamp_ms", "elapsed_ms"})


@dataclass
class ColumnPlan:
    """Which columns of a table are the label, recording id, time, channels, and which are ignored (why)."""

    channels: list[str]
    label: str | None = None
    recording: str | None = None
    time: str | None = None
    ignored: list[tuple[str, str]] = field(default_factory=list)


def _columns_text(table: CsvTable) -> str:
    return ", ".join(repr(h) for h in table.header)


def plan_columns(
    table: CsvTable,
    display: str,
    *,
    want_label: bool,
    label_column: str | None,
    recording_column: str | None,
    channels: Sequence[str] | None,
) -> ColumnPlan:
    """Decide the role of every column. Name-based for label/recording/time; content-based for channels."""
    header = table.header
    used: set[int] = set()
    label = recording = time = None
    if want_label:
        label, recording = _label_and_recording(table, display, label_column, recording_column, used)
    ignored: list[tuple[str, str]] = []
    for i, h in enumerate(header):
        if i in used:
            continue
        if h.lower() in TIME_NAMES and time is None:
            time = h
            used.add(i)
            ignored.append((h, "time column"))
        elif h.lower() in INDEX_NAMES:
            used.add(i)
            ignored.append((h or f"column {i + 1}", "row index"))
        elif not want_label and h.lower() in LABEL_NAMES:
            used.add(i)
            ignored.append((h, "label column (the class comes from the folder name)"))
    if channels:
        chosen = _named_channels(table, display, channels, (label, recording))
        for i, h in enumerate(header):
            if i not in used and h not in chosen:
                ignored.append((h, "not among the chosen channels"))
        return ColumnPlan(chosen, label, recording, time, ignored)
    chosen = []
    for i, h in enumerate(header):
        if i in used:
            continue
        if column_is_numeric(table.column(i), table.delimiter):
            chosen.append(h)
        else:
            ignored.append((h, "not numeric"))
    if not chosen:
        raise DatasetError(
            f"no numeric channel columns found; the columns are {_columns_text(table)}",
            path=display,
            line=table.header_line,
            hint="channels are columns of numbers (time and label columns do not count)",
        )
    return ColumnPlan(chosen, label, recording, time, ignored)


def found_label_column(table: CsvTable) -> int | None:
    """The index of the column named like a label column (:data:`LABEL_NAMES`), else None."""
    return next((table.find(n) for n in LABEL_NAMES if table.find(n) is not None), None)


def _label_and_recording(
    table: CsvTable, display: str, label_column: str | None, recording_column: str | None, used: set[int]
) -> tuple[str, str | None]:
    """The label column (named, else found by name) and the optional recording column; both join ``used``."""
    header = table.header
    if label_column:
        idx = table.find(label_column)
        if idx is None:
            raise DatasetError(
                f"no column named '{label_column}'; the columns are {_columns_text(table)}",
                path=display,
                line=table.header_line,
            )
    else:
        idx = found_label_column(table)
        if idx is None:
            raise DatasetError(
                f"no label column found; the columns are {_columns_text(table)}",
                path=display,
                line=table.header_line,
                hint="name the column holding the class with --label-column (or call it 'label')",
            )
    used.add(idx)
    if recording_column:
        ridx = table.find(recording_column)
        if ridx is None:
            raise DatasetError(
                f"no column named '{recording_column}'; the columns are {_columns_text(table)}",
                path=display,
                line=table.header_line,
            )
    else:
        ridx = next((table.find(n) for n in RECORDING_NAMES if table.find(n) is not None), None)
    if ridx is None:
        return header[idx], None
    if ridx == idx:
        raise DatasetError("the label and recording columns must differ", path=display)
    used.add(ridx)
    return header[idx], header[ridx]


def _named_channels(table: CsvTable, display: str, channels: Sequence[str], taken: tuple[str | None, ...]
                    ) -> list[str]:
    """The channel columns the user named, as the header spells them."""
    chosen: list[str] = []
    for name in channels:
        idx = table.find(name)
        if idx is None:
            raise DatasetError(
                f"no channel column named '{name}'; the columns are {_columns_text(table)}",
                path=display,
                line=table.header_line,
                hint=f"the file needs the channel column(s) {', '.join(repr(c) for c in channels)}: give it those "
                     "column names, or choose recordings made like the ones this data was imported from",
            )
        if table.header[idx] in taken:
            raise DatasetError(f"'{name}' is the label/recording column, not a channel", path=display)
        chosen.append(table.header[idx])
    return chosen


def sample_rate(table: CsvTable, plan: ColumnPlan) -> float | None:
    """Sampling rate from a time column whose unit its name tells (seconds or milliseconds), else None."""
    if plan.time is None or plan.time.lower() not in SECONDS_NAMES | MS_NAMES or len(table.rows) < 3:
        return None
    try:
        t = parse_numbers(table.column(table.header.index(plan.time)), table.delimiter)
    except ValueError:
        return None
    d = np.diff(t)
    d = d[d > 0]
    if not d.size:
        return None
    step = float(np.median(d))
    if plan.time.lower() in MS_NAMES:
        step /= 1000.0
    return round(1.0 / step, 6) if step > 0 else None
