"""Sensor data: CSV recordings in two layouts, windows, and per-channel normalization.

Layout (a): a folder of class sub-folders, one CSV recording per file.
Layout (b): one CSV with a label column and, optionally, a recording-id column; without one, consecutive rows
of the same label form one recording (a "segment").

Recordings are stored whole in ``P/data/recordings.npz`` and windows are cut at training time, so the
train/validation split is by recording and a window never straddles the split (no leakage).

The CSV reader is our own (on top of :mod:`csv`) rather than pandas or ``np.loadtxt`` because every problem
must be reported with the file and line a user can open in a spreadsheet and fix.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from studio.core.errors import DatasetError, ProjectError
from studio.core.project import SPLITS
from studio.core.reporter import Reporter, check_cancel

from .common import (
    balance_warnings,
    count_by,
    hidden_reason,
    now_iso,
    posix_rel,
    stratified_split,
)

CSV_EXTENSIONS = frozenset({".csv", ".tsv", ".txt"})
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
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "?"})

DEFAULT_WINDOW = 128
POW2_FROM = 16  # from this length on, windows are rounded down to a power of two
MIN_WINDOW = 4  # the smallest window the sensor architectures accept
WHOLE_RECORDING_MAX = 1024
SINGLE_RECORDING_CHUNKS = 5
RECORDINGS_FILE = "recordings.npz"


# ---------------------------------------------------------------------------------------------- CSV reading
@dataclass
class CsvTable:
    """A parsed CSV: header, raw cell strings per row, and the file line of every row (for error messages)."""

    path: Path
    header: list[str]
    rows: list[list[str]]
    lines: list[int]
    header_line: int
    delimiter: str

    _columns: list[list[str]] | None = field(default=None, repr=False)

    def column(self, index: int) -> list[str]:
        if self._columns is None:
            self._columns = [list(c) for c in zip(*self.rows)] if self.rows else [[] for _ in self.header]
        return self._columns[index]

    def find(self, name: str) -> int | None:
        """Index of the column called ``name`` (exact, else case-insensitive), or None."""
        if name in self.header:
            return self.header.index(name)
        low = [h.lower() for h in self.header]
        return low.index(name.lower()) if name.lower() in low else None


def _decode(raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "."))
        return True
    except ValueError:
        return False


def read_csv_table(path: Path, *, display: str | None = None) -> CsvTable:
    """Parse ``path`` into a :class:`CsvTable`; malformed structure raises DatasetError naming file and line.

    Delimiter (comma, semicolon, tab, pipe) is detected from the header line; a UTF-8/UTF-16 byte-order mark
    is removed; blank lines are ignored; a trailing delimiter at the end of every line is tolerated.
    """
    shown = display or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"cannot read the file ({exc.strerror or exc})", path=shown) from exc
    text = _decode(raw)
    if not text.strip():
        raise DatasetError("the file is empty", path=shown)
    first = next(line for line in text.splitlines() if line.strip())
    delimiter = _sniff_delimiter(first)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    header_line = 0
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for row in reader:
            if row and any(c.strip() for c in row):
                header = [c.strip() for c in row]
                header_line = reader.line_num
                break
        assert header is not None  # the text is not blank
        while len(header) > 1 and header[-1] == "":
            header.pop()
        width = len(header)
        if all(_is_number(c) for c in header if c):
            raise DatasetError(
                "no header row: the first line holds numbers, not column names",
                path=shown,
                line=header_line,
                hint="add a first line naming the columns, e.g. time,ax,ay,az,label",
            )
        seen: set[str] = set()
        for h in header:
            if h and h.lower() in seen:
                raise DatasetError(
                    f"column name '{h}' appears twice in the header", path=shown, line=header_line
                )
            seen.add(h.lower())
        # The hot loop: keep it to a length check and two appends (200,000 rows parse in about a second).
        append_row, append_line = rows.append, lines.append
        for row in reader:
            if len(row) != width:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                if len(row) > width and all(not c.strip() for c in row[width:]):
                    row = row[:width]
                else:
                    raise DatasetError(
                        f"ragged row: {len(row)} field(s) but the header has {width}",
                        path=shown,
                        line=reader.line_num,
                        hint=f"every line needs exactly {width} values separated by '{_show(delimiter)}'",
                    )
            append_row(row)
            append_line(reader.line_num)
    except csv.Error as exc:
        raise DatasetError(f"malformed CSV ({exc})", path=shown, line=reader.line_num) from exc
    return CsvTable(path, header, rows, lines, header_line, delimiter)


def _show(delimiter: str) -> str:
    return "tab" if delimiter == "\t" else delimiter


def _parse_numbers(values: list[str], delimiter: str) -> np.ndarray:
    """Fast path: the whole column at once; callers fall back to :func:`_first_bad` for the error."""
    if delimiter != ",":
        values = [v.replace(",", ".") for v in values]
    return np.array(values, dtype=np.float64)


def _first_bad(values: list[str], delimiter: str) -> tuple[int, str] | None:
    """Index and description of the first cell that is not a finite number."""
    for i, v in enumerate(values):
        s = v.strip()
        if s.lower() in MISSING_TOKENS:
            return i, "missing value" if not s else f"missing value ('{s}')"
        try:
            x = float(s.replace(",", ".") if delimiter != "," else s)
        except ValueError:
            return i, f"text '{s[:30]}' in a numeric column"
        if not np.isfinite(x):
            return i, f"value '{s}' is not a finite number"
    return None


def column_is_numeric(values: list[str], delimiter: str) -> bool:
    """A column is numeric when most of its non-empty cells are numbers (then the rest are errors)."""
    sample = [v.strip() for v in values[:2000] if v.strip() and v.strip().lower() not in MISSING_TOKENS]
    if not sample:
        return False
    ok = sum(1 for v in sample if _is_number(v if delimiter != "," else v.replace(",", "#")))
    return ok >= 0.5 * len(sample)


def numeric_matrix(table: CsvTable, columns: Sequence[int], display: str) -> np.ndarray:
    """The chosen columns as float32 ``[rows, len(columns)]``; a bad cell raises naming file, line, column."""
    out = np.empty((len(table.rows), len(columns)), dtype=np.float32)
    worst: tuple[int, str, str] | None = None
    for j, c in enumerate(columns):
        values = table.column(c)
        try:
            arr = _parse_numbers(values, table.delimiter)
            if np.isfinite(arr).all():
                out[:, j] = arr
                continue
        except ValueError:
            pass
        bad = _first_bad(values, table.delimiter)
        if bad is not None and (worst is None or bad[0] < worst[0]):
            worst = (bad[0], bad[1], table.header[c])
    if worst is not None:
        i, what, name = worst
        raise DatasetError(
            f"{what} in column '{name}'",
            path=display,
            line=table.lines[i],
            hint="every channel needs a number on every row; fix or delete the line",
        )
    return out


# ---------------------------------------------------------------------------------------------- columns
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
        if label_column:
            idx = table.find(label_column)
            if idx is None:
                raise DatasetError(
                    f"no column named '{label_column}'; the columns are {_columns_text(table)}",
                    path=display,
                    line=table.header_line,
                )
        else:
            idx = next((table.find(n) for n in LABEL_NAMES if table.find(n) is not None), None)
            if idx is None:
                raise DatasetError(
                    f"no label column found; the columns are {_columns_text(table)}",
                    path=display,
                    line=table.header_line,
                    hint="name the column holding the class with --label-column (or call it 'label')",
                )
        label = header[idx]
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
        if ridx is not None:
            if ridx == idx:
                raise DatasetError("the label and recording columns must differ", path=display)
            recording = header[ridx]
            used.add(ridx)
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
        chosen: list[str] = []
        for name in channels:
            idx = table.find(name)
            if idx is None:
                raise DatasetError(
                    f"no channel column named '{name}'; the columns are {_columns_text(table)}",
                    path=display,
                    line=table.header_line,
                )
            if header[idx] in (label, recording):
                raise DatasetError(f"'{name}' is the label/recording column, not a channel", path=display)
            chosen.append(header[idx])
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


# ---------------------------------------------------------------------------------------------- recordings
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


def _sample_rate(table: CsvTable, plan: ColumnPlan) -> float | None:
    """Sampling rate from a time column whose unit its name tells (seconds or milliseconds), else None."""
    if plan.time is None or plan.time.lower() not in SECONDS_NAMES | MS_NAMES or len(table.rows) < 3:
        return None
    try:
        t = _parse_numbers(table.column(table.header.index(plan.time)), table.delimiter)
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


def parse_table_recordings(
    path: Path,
    *,
    label_column: str | None,
    recording_column: str | None,
    channels: Sequence[str] | None,
    display: str | None = None,
) -> ParsedSensors:
    """Layout (b): one CSV with a label column (and optional recording id) -> recordings."""
    shown = display or path.name
    table = read_csv_table(path, display=str(path))
    if not table.rows:
        raise DatasetError("the CSV has a header but no data rows", path=path)
    plan = plan_columns(
        table,
        str(path),
        want_label=True,
        label_column=label_column,
        recording_column=recording_column,
        channels=channels,
    )
    matrix = numeric_matrix(table, [table.header.index(c) for c in plan.channels], str(path))
    labels = [v.strip() for v in table.column(table.header.index(plan.label))]
    for i, lab in enumerate(labels):
        if not lab:
            raise DatasetError(f"missing label in column '{plan.label}'", path=path, line=table.lines[i])
    groups: list[tuple[str, str | None, list[int]]] = []  # (label, origin id, row indices)
    if plan.recording:
        rec_values = [v.strip() for v in table.column(table.header.index(plan.recording))]
        by_id: dict[str, int] = {}
        for i, rid in enumerate(rec_values):
            if not rid:
                raise DatasetError(
                    f"missing recording id in column '{plan.recording}'", path=path, line=table.lines[i]
                )
            if rid not in by_id:
                by_id[rid] = len(groups)
                groups.append((labels[i], rid, []))
            g = groups[by_id[rid]]
            if g[0] != labels[i]:
                raise DatasetError(
                    f"recording '{rid}' has rows labelled '{g[0]}' and '{labels[i]}'",
                    path=path,
                    line=table.lines[i],
                    hint="each recording must have one label; give the parts different recording ids",
                )
            g[2].append(i)
    else:
        start = 0
        for i in range(1, len(labels) + 1):
            if i == len(labels) or labels[i] != labels[start]:
                groups.append((labels[start], None, list(range(start, i))))
                start = i
    recordings = []
    for n, (label, origin, idx) in enumerate(groups, start=1):
        sel = np.asarray(idx)
        recordings.append(
            Recording(
                f"r{n:04d}", label, shown, (table.lines[idx[0]], table.lines[idx[-1]]), matrix[sel], origin
            )
        )
    return ParsedSensors(recordings, list(plan.channels), plan, "table", [], [], _sample_rate(table, plan))


def parse_folder_recordings(
    root: Path,
    *,
    channels: Sequence[str] | None,
    reporter: Reporter | None,
    progress: Callable[[float], None] | None = None,
) -> ParsedSensors:
    """Layout (a): class sub-folders, one CSV recording per file -> recordings (all with equal channels)."""
    from .image import scan_class_folders

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
        table = read_csv_table(path, display=str(path))
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
            rate = _sample_rate(table, plan)
        missing = [c for c in plan.channels if c not in table.header]
        if missing:
            raise DatasetError(
                f"missing channel column(s) {', '.join(repr(m) for m in missing)} (the first recording, "
                f"'{ref_file}', has {', '.join(plan.channels)})",
                path=path,
                line=table.header_line,
                hint="all recordings need the same channel columns",
            )
        matrix = numeric_matrix(table, [table.header.index(c) for c in plan.channels], str(path))
        recordings.append(
            Recording(f"r{len(recordings) + 1:04d}", label, rel, (table.lines[0], table.lines[-1]), matrix)
        )
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
) -> ParsedSensors:
    """Either layout, chosen by what ``source`` is: a CSV file, or a folder of class sub-folders."""
    if not source.exists():
        raise DatasetError("the data file or folder does not exist", path=source)
    if source.is_file():
        return parse_table_recordings(
            source, label_column=label_column, recording_column=recording_column, channels=channels
        )
    has_class_dirs = any(p.is_dir() and not hidden_reason(p.name) for p in source.iterdir())
    csvs = sorted(
        p
        for p in source.iterdir()
        if p.is_file() and p.suffix.lower() in CSV_EXTENSIONS and not hidden_reason(p.name)
    )
    if not has_class_dirs and len(csvs) == 1:
        return parse_table_recordings(
            csvs[0], label_column=label_column, recording_column=recording_column, channels=channels
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


# ---------------------------------------------------------------------------------------------- windows
def n_windows(length: int, window: int, stride: int) -> int:
    return 0 if length < window else 1 + (length - window) // stride


def cut_windows(signal: np.ndarray, window: int, stride: int) -> np.ndarray:
    """Windows of ``signal`` ``[length, channels]`` as float32 ``[n, window, channels]`` (n may be 0)."""
    signal = np.asarray(signal, dtype=np.float32)
    if signal.ndim == 1:
        signal = signal[:, None]
    length, chans = signal.shape
    if length < window:
        return np.empty((0, window, chans), dtype=np.float32)
    view = np.lib.stride_tricks.sliding_window_view(signal, window, axis=0)[::stride]  # [n, chans, window]
    return np.ascontiguousarray(view.transpose(0, 2, 1), dtype=np.float32)


def normalize(windows: np.ndarray, manifest: dict[str, Any]) -> np.ndarray:
    """(x - mean) / std per channel with the project's statistics (computed on training recordings)."""
    norm = manifest["normalization"]
    mean = np.asarray(norm["mean"], dtype=np.float32)
    std = np.asarray(norm["std"], dtype=np.float32)
    return ((np.asarray(windows, dtype=np.float32) - mean) / std).astype(np.float32)


def choose_window(lengths: Sequence[int], labels: Sequence[str] | None = None) -> tuple[int, int]:
    """Default (window, stride) for recordings of these lengths (and labels).

    Short recordings of one length (<= 1024 rows, e.g. one gesture each) are classified whole: one window per
    recording, provided every class has at least two recordings (else nothing could be validated).
    Otherwise the window is 128 rows when the typical recording allows, else the largest power of two that
    fits, with a half-window stride; recordings shorter than 16 rows are used nearly whole (window = their
    length, at least 4). "Typical" is the 10th percentile of the lengths, not the minimum, so one stray short
    file does not shrink every window; recordings shorter than the window are skipped and listed.
    """
    per_class_ok = True
    if labels is not None:
        per_label: dict[str, int] = {}
        for lab in labels:
            per_label[lab] = per_label.get(lab, 0) + 1
        per_class_ok = min(per_label.values(), default=0) >= 2
    lengths = sorted(int(n) for n in lengths)
    if per_class_ok and lengths and lengths[0] == lengths[-1] and lengths[0] <= WHOLE_RECORDING_MAX:
        return lengths[0], lengths[0]
    ref = int(np.percentile(lengths, 10, method="lower")) if lengths else DEFAULT_WINDOW
    if ref >= DEFAULT_WINDOW:
        window = DEFAULT_WINDOW
    elif ref >= POW2_FROM:
        window = 1 << (ref.bit_length() - 1)
    else:
        # Very short recordings (e.g. spoken vowels, 7-29 frames): use them nearly whole, not skip most.
        window = max(MIN_WINDOW, ref)
    return window, max(1, window // 2)


def _chunk(rec: Recording, parts: int) -> list[Recording]:
    bounds = np.linspace(0, rec.length, parts + 1).astype(int)
    out = []
    first = rec.rows[0]
    for k in range(parts):
        a, b = int(bounds[k]), int(bounds[k + 1])
        out.append(
            Recording(
                f"{rec.id}-{k + 1}",
                rec.label,
                rec.source,
                (first + a, first + b - 1),
                rec.signal[a:b],
                rec.origin,
            )
        )
    return out


def finish_sensor_manifest(
    parsed: ParsedSensors,
    source: Path,
    *,
    window: int | None,
    stride: int | None,
    val_split: float,
    test_split: float,
    seed: int,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Window choice, short-recording skips, the split by recording and the normalization statistics."""
    recs = parsed.recordings
    skipped = list(parsed.skipped)
    warnings_ = list(parsed.warnings)
    if not recs:
        raise DatasetError("no recordings found", path=source)
    lengths = [r.length for r in recs]
    if window is None:
        window, auto_stride = choose_window(lengths, [r.label for r in recs])
        stride = stride or auto_stride
    else:
        if window < 2:
            raise DatasetError(f"the window must be at least 2 rows (got {window})")
        stride = stride or max(1, window // 2)
        if window > max(lengths):
            raise DatasetError(
                f"the window ({window} rows) is longer than every recording "
                f"(the longest has {max(lengths)} rows)",
                path=source,
                hint=f"choose a window of at most {max(lengths)} rows",
            )
    if stride < 1:
        raise DatasetError(f"the stride must be at least 1 row (got {stride})")
    usable: list[Recording] = []
    short = 0
    for r in recs:
        if r.length < window:
            short += 1
            skipped.append(
                {
                    "path": f"{r.source} (lines {r.rows[0]}-{r.rows[1]})",
                    "reason": f"recording has {r.length} rows, shorter than the window ({window} rows)",
                }
            )
        else:
            usable.append(r)
    if short:
        warnings_.append(
            f"{short} recording(s) shorter than the window ({window} rows) were skipped; "
            "see the skipped list."
        )
    classes = sorted({r.label for r in usable})
    if len(classes) < 2:
        found = f"only 1 class with usable recordings: '{classes[0]}'" if classes else "no usable recordings"
        raise DatasetError(
            f"found {found}; at least 2 classes are needed",
            path=source,
            hint="a class is a sub-folder of CSV files, or a value of the label column",
        )
    all_labels = sorted({r.label for r in recs})
    for lab in all_labels:
        if lab not in classes:
            warnings_.append(f"Class '{lab}' has no recording as long as the window, so it is not used.")
    # A class with a single long recording is cut into contiguous parts so it can be validated at all.
    final: list[Recording] = []
    for lab in classes:
        mine = [r for r in usable if r.label == lab]
        if len(mine) == 1 and (val_split > 0 or test_split > 0):
            parts = min(SINGLE_RECORDING_CHUNKS, mine[0].length // window)
            if parts >= 2:
                final += _chunk(mine[0], parts)
                warnings_.append(
                    f"Class '{lab}' has only one recording; it was cut into {parts} consecutive parts so "
                    "some can be used for validation. Neighbouring parts are alike, so validation accuracy "
                    "may look better than it will be on new recordings: record more sessions of this class "
                    "if you can."
                )
                continue
            warnings_.append(
                f"Class '{lab}' has only one recording, too short to split; it is used for training only and "
                "is not validated."
            )
        final += mine
    final.sort(key=lambda r: (int(re.sub(r"\D", "", r.id.split("-")[0]) or 0), r.id))
    splits = stratified_split([r.label for r in final], [r.id for r in final], val_split, test_split, seed)
    wins = [n_windows(r.length, window, stride) for r in final]
    labels = [r.label for r in final]
    counts = count_by(labels, classes, wins)
    split_counts = {
        sp: count_by(
            [lab for lab, s in zip(labels, splits) if s == sp],
            classes,
            [w for w, s in zip(wins, splits) if s == sp],
        )
        for sp in SPLITS
    }
    rec_counts = count_by(labels, classes)
    warnings_ += balance_warnings(
        counts, "recording" if stride >= window and max(lengths) == window else "window"
    )
    train = [r.signal for r, s in zip(final, splits) if s == "train"]
    stacked = np.concatenate(train, axis=0).astype(np.float64)
    mean = stacked.mean(axis=0)
    std = stacked.std(axis=0)
    for name, s in zip(parsed.channels, std):
        if s < 1e-8:
            warnings_.append(
                f"Channel '{name}' is constant in the training recordings; it carries no information."
            )
    std = np.where(std < 1e-8, 1.0, std)
    records = []
    for r, sp, w in zip(final, splits, wins):
        entry: dict[str, Any] = {
            "id": r.id,
            "label": r.label,
            "split": sp,
            "source": r.source,
            "rows": [r.rows[0], r.rows[1]],
            "length": r.length,
            "windows": w,
        }
        if r.origin is not None:
            entry["recording"] = r.origin
        records.append(entry)
    plan = parsed.plan
    manifest = {
        "task": "sensor",
        "source": str(source),
        "test_source": None,
        "classes": classes,
        "counts": counts,
        "split_counts": split_counts,
        "recording_counts": rec_counts,
        "skipped": skipped,
        "warnings": warnings_,
        "seed": int(seed),
        "val_split": float(val_split),
        "test_split": float(test_split),
        "imported": now_iso(),
        "layout": parsed.layout,
        "label_column": plan.label,
        "recording_column": plan.recording,
        "time_column": plan.time,
        "ignored_columns": [{"column": c, "reason": why} for c, why in plan.ignored],
        "channels": list(parsed.channels),
        "window": int(window),
        "stride": int(stride),
        "sample_rate_hz": parsed.sample_rate_hz,
        "normalization": {"mean": [float(x) for x in mean], "std": [float(x) for x in std]},
        "recordings": records,
    }
    arrays = {r.id: np.ascontiguousarray(r.signal, dtype=np.float32) for r in final}
    return manifest, arrays


def import_sensors(
    source: str | Path,
    *,
    test_source: str | Path | None,
    val_split: float,
    test_split: float,
    seed: int,
    window: int | None,
    stride: int | None,
    label_column: str | None,
    recording_column: str | None,
    channels: Sequence[str] | None,
    reporter: Reporter | None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Parse, window, split and normalize; return (manifest, recordings). Nothing is written here."""
    src = Path(source).expanduser().absolute()

    def prog(lo: float, hi: float) -> Callable[[float], None]:
        return lambda f: reporter.progress(lo + (hi - lo) * f, "reading recordings") if reporter else None

    if reporter:
        reporter.status(f"Reading sensor recordings from {src}")
    parsed = parse_sensor_source(
        src,
        label_column=label_column,
        recording_column=recording_column,
        channels=channels,
        reporter=reporter,
        progress=prog(0.0, 0.7 if test_source else 0.9),
    )
    manifest, arrays = finish_sensor_manifest(
        parsed, src, window=window, stride=stride, val_split=val_split, test_split=test_split, seed=seed
    )
    if test_source:
        check_cancel(reporter)
        tsrc = Path(test_source).expanduser().absolute()
        tparsed = parse_sensor_source(
            tsrc,
            label_column=manifest["label_column"] if tsrc.is_file() or not _has_dirs(tsrc) else None,
            recording_column=manifest["recording_column"] if tsrc.is_file() else None,
            channels=manifest["channels"],
            reporter=reporter,
            progress=prog(0.7, 0.9),
        )
        _add_test_recordings(manifest, arrays, tparsed, tsrc)
    return manifest, arrays


def _has_dirs(path: Path) -> bool:
    return path.is_dir() and any(p.is_dir() and not hidden_reason(p.name) for p in path.iterdir())


def _add_test_recordings(
    manifest: dict[str, Any], arrays: dict[str, np.ndarray], tparsed: ParsedSensors, tsrc: Path
) -> None:
    classes = manifest["classes"]
    unknown = sorted({r.label for r in tparsed.recordings} - set(classes))
    if unknown:
        raise DatasetError(
            f"the test data has class(es) not in the training data: {', '.join(repr(u) for u in unknown)}",
            path=tsrc,
            hint=f"the classes are {', '.join(classes)}",
        )
    window, stride = manifest["window"], manifest["stride"]
    added = 0
    for r in tparsed.recordings:
        w = n_windows(r.length, window, stride)
        if w == 0:
            manifest["skipped"].append(
                {
                    "path": f"[test] {r.source} (lines {r.rows[0]}-{r.rows[1]})",
                    "reason": f"recording has {r.length} rows, shorter than the window ({window} rows)",
                }
            )
            continue
        rid = f"t{added + 1:04d}"
        added += 1
        arrays[rid] = np.ascontiguousarray(r.signal, dtype=np.float32)
        manifest["recordings"].append(
            {
                "id": rid,
                "label": r.label,
                "split": "test",
                "source": f"[test] {r.source}",
                "rows": [r.rows[0], r.rows[1]],
                "length": r.length,
                "windows": w,
            }
        )
        manifest["split_counts"]["test"][r.label] += w
    if not added:
        raise DatasetError("the test data has no recording as long as the window", path=tsrc)
    manifest["test_source"] = str(tsrc)
    manifest["skipped"] += [{"path": f"[test] {s['path']}", "reason": s["reason"]} for s in tparsed.skipped]


# ---------------------------------------------------------------------------------------------- storage
def write_recordings(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write the recordings to a temporary file beside ``path``; the caller renames it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def load_recordings(project: Any) -> dict[str, np.ndarray]:
    """The project's recordings, id -> float32 ``[length, channels]`` (no pickle: safe to open)."""
    path = project.data_dir / RECORDINGS_FILE
    if not path.exists():
        raise ProjectError("the sensor recordings are missing", path=path, hint="import the data again")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: np.asarray(data[k], dtype=np.float32) for k in data.files}
    except (OSError, ValueError) as exc:
        raise ProjectError(
            f"the sensor recordings are unreadable ({exc})", path=path, hint="import the data again"
        ) from exc


def split_windows(
    project: Any,
    split: str,
    manifest: dict[str, Any] | None = None,
    *,
    normalized: bool = True,
    recordings: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """All windows of one split: (float32 ``[n, window, channels]``, int labels ``[n]``, ids "rec@start")."""
    manifest = manifest or project.load_manifest()
    recordings = recordings if recordings is not None else load_recordings(project)
    window, stride = int(manifest["window"]), int(manifest["stride"])
    index = {c: i for i, c in enumerate(manifest["classes"])}
    parts, labels, ids = [], [], []
    for rec in manifest["recordings"]:
        if rec["split"] != split:
            continue
        w = cut_windows(recordings[rec["id"]], window, stride)
        parts.append(w)
        labels += [index[rec["label"]]] * len(w)
        ids += [f"{rec['id']}@{k * stride}" for k in range(len(w))]
    chans = len(manifest["channels"])
    x = np.concatenate(parts) if parts else np.empty((0, window, chans), dtype=np.float32)
    if normalized:
        x = normalize(x, manifest)
    return x, np.asarray(labels, dtype=np.int64), ids


def read_labelled_sensors(
    manifest: dict[str, Any], path: str | Path, *, normalized: bool = True
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """An external labelled folder / CSV as normalized windows with the project's classes and channels."""
    src = Path(path).expanduser().absolute()
    is_table = src.is_file() or (src.is_dir() and not _has_dirs(src))
    parsed = parse_sensor_source(
        src,
        label_column=manifest.get("label_column") if is_table else None,
        recording_column=manifest.get("recording_column") if is_table else None,
        channels=manifest["channels"],
    )
    classes = manifest["classes"]
    unknown = sorted({r.label for r in parsed.recordings} - set(classes))
    if unknown:
        raise DatasetError(
            f"class(es) not in the project: {', '.join(repr(u) for u in unknown)}",
            path=src,
            hint=f"the project's classes are {', '.join(classes)}",
        )
    window, stride = int(manifest["window"]), int(manifest["stride"])
    index = {c: i for i, c in enumerate(classes)}
    parts, labels, ids = [], [], []
    for r in parsed.recordings:
        w = cut_windows(r.signal, window, stride)
        if not len(w):
            continue
        parts.append(w)
        labels += [index[r.label]] * len(w)
        ids += [f"{r.source}:{r.rows[0]}+{k * stride}" for k in range(len(w))]
    if not parts:
        raise DatasetError(f"no recording is as long as the project's window ({window} rows)", path=src)
    x = np.concatenate(parts)
    if normalized:
        x = normalize(x, manifest)
    return x, np.asarray(labels, dtype=np.int64), ids
