"""Sensor recordings: read either layout into :class:`Recording` objects, and store / load them.

Layout (a): a folder of class sub-folders, one CSV recording per file.
Layout (b): one CSV with a label column and, optionally, a recording-id column; without one, consecutive rows
of the same label form one recording (a "segment").

The parsed recordings are stored whole in ``P/data/recordings.npz`` (float32 ``[length, channels]`` per id,
loaded with ``allow_pickle=False``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from studio.core.cescape import class_name_problem
from studio.core.errors import DatasetError
from studio.core.reporter import Reporter, check_cancel
from studio.core.untrusted import regular_file_problem

from ..common import hidden_reason, posix_rel
from .columns import ColumnPlan, found_label_column, plan_columns, sample_rate
from .csvfile import CSV_EXTENSIONS, is_number, read_csv_table
from .csvstream import TableColumns, read_columns
from .storage import RECORDINGS_FILE, load_recordings, write_recordings  # noqa: F401 - their old home

# Rows a table's columns are planned on (numeric detection looks at 2,000 values, as does the sample rate); the
# file itself is then streamed.
SAMPLE_ROWS = 2000



@dataclass
class Recording:
    id: str
    label: str
    source: str
    rows: tuple[int, int]  # first and last line in the source file (1-based, as a spreadsheet shows them)
    signal: np.ndarray  # float32 [length, channels]
    origin: str | None = None  # the id given in the recording column, if any

    @property
    def length(self) -> int:
        return int(self.signal.shape[0])


@dataclass
class ParsedSensors:
    recordings: list[Recording]
    channels: list[str]
    plan: ColumnPlan
    layout: str
    skipped: list[dict[str, str]]
    warnings: list[str]
    sample_rate_hz: float | None = None


def parse_table_recordings(
    path: Path,
    *,
    label_column: str | None,
    recording_column: str | None,
    channels: Sequence[str] | None,
    display: str | None = None,
    reporter: Reporter | None = None,
    progress: Callable[[float], None] | None = None,
    unlabelled: str | None = None,
) -> ParsedSensors:
    """Layout (b): one CSV with a label column (and optional recording id) -> recordings.

    ``unlabelled``: the label of every row when the file has no label column and none was named (an anomaly
    project's training series of normal running: all good), instead of an error.

    The columns are planned on the first :data:`SAMPLE_ROWS` rows, then the file is streamed
    (:func:`~.csvstream.read_columns`): memory stays near the float32 data however big the file is, and
    ``progress`` hears how far the reading got. A recording whose rows are consecutive (the usual layout) is a
    view of the parsed array, not a copy."""
    shown = display or path.name
    sample = read_csv_table(path, display=str(path), max_rows=SAMPLE_ROWS)
    if not sample.rows:
        raise DatasetError("the CSV has a header but no data rows", path=path)
    if unlabelled is not None and not label_column and not recording_column and found_label_column(sample) is None:
        return _unlabelled_table(path, shown, sample, unlabelled, channels, reporter, progress)
    plan = plan_columns(sample, str(path), want_label=True, label_column=label_column,
                        recording_column=recording_column, channels=channels)
    assert plan.label is not None
    text = [plan.label] + ([plan.recording] if plan.recording else [])
    cols = read_columns(path, display=str(path), numeric=plan.channels, text=text, reporter=reporter,
                        progress=progress)
    _check_text_column(cols, plan.label, "label", path)
    if plan.recording:
        _check_text_column(cols, plan.recording, "recording id", path)
    recordings = []
    for n, (label, origin, rows) in enumerate(_table_groups(cols, plan, path), start=1):
        first, last = (rows.start, rows.stop - 1) if isinstance(rows, slice) else (rows[0], rows[-1])
        recordings.append(Recording(f"r{n:04d}", label, shown, (int(cols.lines[first]), int(cols.lines[last])),
                                    cols.values[rows], origin))
    return ParsedSensors(recordings, list(plan.channels), plan, "table", [], [], sample_rate(sample, plan))


def _unlabelled_table(path: Path, shown: str, sample: Any, label: str, channels: Sequence[str] | None,
                      reporter: Reporter | None, progress: Callable[[float], None] | None) -> ParsedSensors:
    """A CSV without a label column as one recording labelled ``label`` (every row), and a warning saying so."""
    plan = plan_columns(sample, str(path), want_label=False, label_column=None, recording_column=None,
                        channels=channels)
    cols = read_columns(path, display=str(path), numeric=plan.channels, reporter=reporter, progress=progress)
    rec = Recording("r0001", label, shown, (int(cols.lines[0]), int(cols.lines[-1])), cols.values)
    note = (f"No label column: every row is taken as a good example ('{label}'). To import known anomalies "
            "too, add a label column (or name it with --label-column).")
    return ParsedSensors([rec], list(plan.channels), plan, "table", [], [note], sample_rate(sample, plan))


def _check_text_column(cols: TableColumns, column: str, what: str, path: Path) -> None:
    """No empty cell, and for labels no name that cannot be a class name (each with its line)."""
    for code, value in enumerate(cols.vocab[column]):
        problem = "" if not value else (class_name_problem(value) if what == "label" else None)
        if problem is None:
            continue
        line = int(cols.lines[cols.first_row_with(column, code)])
        if not value:
            raise DatasetError(f"missing {what} in column '{column}'", path=path, line=line)
        raise DatasetError(f"label {value[:40]!r} in column '{column}': {problem}", path=path, line=line,
                           hint="fix the label in the file")


def _runs(codes: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of every run of equal consecutive codes."""
    cuts = np.flatnonzero(np.diff(codes)) + 1
    starts = np.concatenate([[0], cuts]).astype(np.int64)
    stops = np.concatenate([cuts, [len(codes)]]).astype(np.int64)
    return list(zip(starts.tolist(), stops.tolist()))


def _table_groups(cols: TableColumns, plan: ColumnPlan, path: Path) -> list[tuple[str, str | None, Any]]:
    """(label, recording id, rows) per recording, in order of first appearance; rows is a slice when the
    recording's rows are consecutive, else an index array. Without a recording column, consecutive rows of
    one label are one recording."""
    labels, label_names = cols.codes[plan.label], cols.vocab[plan.label]
    if not plan.recording:
        return [(label_names[int(labels[a])], None, slice(a, b)) for a, b in _runs(labels)]
    recs, rec_names = cols.codes[plan.recording], cols.vocab[plan.recording]
    first = np.full(len(rec_names), len(recs), dtype=np.int64)
    np.minimum.at(first, recs, np.arange(len(recs)))
    expected = labels[first[recs]]
    mixed = np.flatnonzero(labels != expected)
    if len(mixed):
        i = int(mixed[0])
        rid = rec_names[int(recs[i])]
        raise DatasetError(
            f"recording '{rid}' has rows labelled '{label_names[int(expected[i])]}' and "
            f"'{label_names[int(labels[i])]}'",
            path=path, line=int(cols.lines[i]),
            hint="each recording must have one label; give the parts different recording ids",
        )
    runs = _runs(recs)
    if len(runs) == len(rec_names):  # every recording's rows are consecutive: views
        spans = {int(recs[a]): slice(a, b) for a, b in runs}
    else:
        order = np.argsort(recs, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(recs, minlength=len(rec_names)))])
        spans = {code: order[bounds[code]: bounds[code + 1]] for code in range(len(rec_names))}
    by_first = np.argsort(first, kind="stable")
    return [(label_names[int(labels[first[code]])], rec_names[code], spans[int(code)]) for code in by_first]


def parse_folder_recordings(
    root: Path,
    *,
    channels: Sequence[str] | None,
    reporter: Reporter | None,
    progress: Callable[[float], None] | None = None,
) -> ParsedSensors:
    """Layout (a): class sub-folders, one CSV recording per file -> recordings (all with equal channels)."""
    from ..image import scan_class_folders

    scan = scan_class_folders(root, CSV_EXTENSIONS, "a CSV")
    skipped = list(scan.skipped)
    recordings: list[Recording] = []
    plan: ColumnPlan | None = None
    ref_file = ""
    rate: float | None = None
    total = max(1, len(scan.files))
    for k, (label, path) in enumerate(scan.files):
        check_cancel(reporter)
        rel = posix_rel(path, root)
        if path.stat().st_size == 0:
            skipped.append({"path": rel, "reason": "empty file (0 bytes)"})
            continue
        table = read_csv_table(path, display=str(path), max_rows=SAMPLE_ROWS)
        if not table.rows:
            skipped.append({"path": rel, "reason": "no data rows (header only)"})
            continue
        if plan is None:
            plan = plan_columns(
                table,
                str(path),
                want_label=False,
                label_column=None,
                recording_column=None,
                channels=channels,
            )
            ref_file = rel
            rate = sample_rate(table, plan)
        missing = [c for c in plan.channels if c not in table.header]
        if missing:
            raise DatasetError(
                f"missing channel column(s) {', '.join(repr(m) for m in missing)} (the first recording, "
                f"'{ref_file}', has {', '.join(plan.channels)})",
                path=path,
                line=table.header_line,
                hint="all recordings need the same channel columns",
            )
        cols = read_columns(path, display=str(path), numeric=plan.channels, reporter=reporter)
        recordings.append(Recording(f"r{len(recordings) + 1:04d}", label, rel,
                                    (int(cols.lines[0]), int(cols.lines[-1])), cols.values))
        if progress is not None and (k % 16 == 0 or k == total - 1):
            progress((k + 1) / total)
    if plan is None:
        raise DatasetError(
            "found no CSV recordings in class sub-folders",
            path=root,
            hint="put one CSV file per recording into a sub-folder per class, e.g. normal/r1.csv, "
            "fault/r2.csv",
        )
    return ParsedSensors(recordings, list(plan.channels), plan, "folders", skipped, [], rate)


def parse_sensor_source(
    source: Path,
    *,
    label_column: str | None,
    recording_column: str | None,
    channels: Sequence[str] | None,
    reporter: Reporter | None = None,
    progress: Callable[[float], None] | None = None,
    unlabelled: str | None = None,
) -> ParsedSensors:
    """Either layout, chosen by what ``source`` is: a CSV file, or a folder of class sub-folders
    (``unlabelled``: see :func:`parse_table_recordings`)."""
    if not source.exists():
        raise DatasetError("the data file or folder does not exist", path=source)
    if not source.is_dir() and regular_file_problem(source):
        raise DatasetError(f"cannot import this: {regular_file_problem(source)}", path=source,
                           hint="give a CSV file or a folder of class sub-folders")
    if source.is_file():
        return parse_table_recordings(
            source, label_column=label_column, recording_column=recording_column, channels=channels,
            reporter=reporter, progress=progress, unlabelled=unlabelled,
        )
    has_class_dirs = any(p.is_dir() and not hidden_reason(p.name) for p in source.iterdir())
    csvs = sorted(
        p
        for p in source.iterdir()
        if p.is_file() and p.suffix.lower() in CSV_EXTENSIONS and not hidden_reason(p.name)
    )
    # a README.txt beside the data is not a recording (nor one more CSV to count)
    no_data = {} if has_class_dirs else {p: why for p in csvs if (why := _no_data_reason(p))}
    notes = [{"path": p.name, "reason": why} for p, why in no_data.items()]
    csvs = [p for p in csvs if p not in no_data]
    if not has_class_dirs and len(csvs) == 1:
        parsed = parse_table_recordings(
            csvs[0], label_column=label_column, recording_column=recording_column, channels=channels,
            reporter=reporter, progress=progress, unlabelled=unlabelled,
        )
        parsed.skipped = notes + list(parsed.skipped)
        return parsed
    if not has_class_dirs and not csvs and notes:
        raise DatasetError(
            "found no data: " + "; ".join(f"{n['path']}: {n['reason']}" for n in notes),
            path=source,
            hint="choose the folder with the recordings: one CSV per recording in a sub-folder per class, or "
            "one CSV file with a label column",
        )
    if not has_class_dirs and len(csvs) > 1:
        raise DatasetError(
            f"found {len(csvs)} CSV files but no class sub-folders",
            path=source,
            hint="put each class's recordings into a sub-folder named after the class, or give one CSV file "
            "with a label column",
        )
    if label_column or recording_column:
        raise DatasetError(
            "--label-column/--recording-column apply to a single CSV file, but this is a folder of class "
            "sub-folders (the folder name is the label)",
            path=source,
        )
    return parse_folder_recordings(source, channels=channels, reporter=reporter, progress=progress)



def _no_data_reason(path: Path) -> str | None:
    """Why a loose file beside the data holds no recording, else None: empty, no rows under its first line, or
    text (under 30 % of the values in its first rows are numbers: notes such as a README.txt)."""
    if path.stat().st_size == 0:
        return "empty file (0 bytes)"
    try:
        table = read_csv_table(path, display=str(path), max_rows=20)
        if not table.rows:
            return "no data rows (header only)"
        cells = [cell for row in table.rows for cell in row]
    except DatasetError:  # ragged or undecodable: notes, or a broken data file (its parse names the line)
        with open(path, "rb") as fh:
            text = fh.read(4096).decode("utf-8", errors="replace")
        cells = re.split(r"[,;\t\s]+", "\n".join(text.splitlines()[1:21]))
    cells = [c for c in cells if c.strip()]
    numbers = sum(is_number(c) for c in cells)
    return None if cells and numbers >= 0.3 * len(cells) else "no numbers (text, not a recording)"


def has_class_dirs(path: Path) -> bool:
    return path.is_dir() and any(p.is_dir() and not hidden_reason(p.name) for p in path.iterdir())
