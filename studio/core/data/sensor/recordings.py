"""Sensor recordings: read either layout into :class:`Recording` objects, and store / load them.

Layout (a): a folder of class sub-folders, one CSV recording per file.
Layout (b): one CSV with a label column and, optionally, a recording-id column; without one, consecutive rows
of the same label form one recording (a "segment").

The parsed recordings are stored whole in ``P/data/recordings.npz`` (float32 ``[length, channels]`` per id,
loaded with ``allow_pickle=False``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from studio.core.errors import DatasetError
from studio.core.cescape import class_name_problem
from studio.core.reporter import Reporter, check_cancel
from studio.core.untrusted import regular_file_problem

from ..common import hidden_reason, posix_rel
from .columns import ColumnPlan, plan_columns, sample_rate
from .csvfile import CSV_EXTENSIONS, numeric_matrix, read_csv_table
from .storage import RECORDINGS_FILE, load_recordings, write_recordings  # noqa: F401 - their old home



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
    checked: set[str] = set()
    for i, lab in enumerate(labels):
        if not lab:
            raise DatasetError(f"missing label in column '{plan.label}'", path=path, line=table.lines[i])
        if lab not in checked:
            problem = class_name_problem(lab)
            if problem:
                raise DatasetError(f"label {lab[:40]!r} in column '{plan.label}': {problem}", path=path,
                                   line=table.lines[i], hint="fix the label in the file")
            checked.add(lab)
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
    return ParsedSensors(recordings, list(plan.channels), plan, "table", [], [], sample_rate(table, plan))


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
    if not source.is_dir() and regular_file_problem(source):
        raise DatasetError(f"cannot import this: {regular_file_problem(source)}", path=source,
                           hint="give a CSV file or a folder of class sub-folders")
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



def has_class_dirs(path: Path) -> bool:
    return path.is_dir() and any(p.is_dir() and not hidden_reason(p.name) for p in path.iterdir())
