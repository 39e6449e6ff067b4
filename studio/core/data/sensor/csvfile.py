"""Sensor CSV files: read one into a :class:`CsvTable` and turn columns into numbers.

The CSV reader is our own (on top of :mod:`csv`) rather than pandas or ``np.loadtxt`` because every problem
must be reported with the file and line a user can open in a spreadsheet and fix.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from studio.core.errors import DatasetError
from studio.core.untrusted import open_regular

CSV_EXTENSIONS = frozenset({".csv", ".tsv", ".txt"})
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "?"})


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


def _encodings(path: Path, shown: str) -> list[str]:
    """The encodings to try, in order: UTF-16 when the file starts with its byte-order mark, else UTF-8 (a
    UTF-8 byte-order mark removed); Windows-1252 when those fail (never an error: odd bytes become '?')."""
    try:
        with open_regular(path) as fh:  # never a FIFO or device: those would block or never end
            head = fh.read(4)
    except OSError as exc:
        raise DatasetError(f"cannot read the file ({exc.strerror or exc})", path=shown) from exc
    first = "utf-16" if head.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    return [first, "cp1252"]


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def is_number(text: str) -> bool:
    """A cell the reader takes as a number (a decimal comma counts)."""
    try:
        float(text.replace(",", "."))
        return True
    except ValueError:
        return False


class CsvReader:
    """The one CSV parser: a file decoded as it is read (never whole in memory), its header found and checked,
    and its data rows with their file line numbers.

    Delimiter (comma, semicolon, tab, pipe) is detected from the first non-blank line; blank lines are
    ignored; a trailing delimiter at the end of every line is tolerated; a ragged row, a header of numbers or
    a repeated column name raises DatasetError naming the file and line. Use as a context manager; a
    ``UnicodeDecodeError`` while reading means: try the next of :func:`_encodings`.
    """

    def __init__(self, path: Path, shown: str, encoding: str) -> None:
        self.shown = shown
        self.fh = open_regular(path)
        try:
            self.size = max(1, os.fstat(self.fh.fileno()).st_size)
            self.text = io.TextIOWrapper(self.fh, encoding=encoding, newline="",
                                         errors="replace" if encoding == "cp1252" else "strict")
            self._read_header()
        except BaseException:
            self.fh.close()
            raise

    def _read_header(self) -> None:
        skipped, first = 0, ""
        for line in self.text:
            if line.strip():
                first = line
                break
            skipped += 1
        if not first:
            raise DatasetError("the file is empty", path=self.shown)
        self.delimiter = _sniff_delimiter(first.splitlines()[0])
        self.reader = csv.reader(itertools.chain([first], self.text), delimiter=self.delimiter)
        self._skipped = skipped
        try:
            header = [c.strip() for c in next(self.reader)]
        except csv.Error as exc:
            raise DatasetError(f"malformed CSV ({exc})", path=self.shown, line=skipped + 1) from exc
        self.header_line = skipped + self.reader.line_num
        while len(header) > 1 and header[-1] == "":
            header.pop()
        if all(is_number(c) for c in header if c):
            raise DatasetError(
                "no header row: the first line holds numbers, not column names",
                path=self.shown,
                line=self.header_line,
                hint="add a first line naming the columns, e.g. time,ax,ay,az,label",
            )
        seen: set[str] = set()
        for h in header:
            if h and h.lower() in seen:
                raise DatasetError(f"column name '{h}' appears twice in the header", path=self.shown,
                                   line=self.header_line)
            seen.add(h.lower())
        self.header = header

    def rows(self) -> Iterator[tuple[list[str], int]]:
        """(cells, file line) of every data row. The hot loop: a length check and a yield per row."""
        width, skipped, reader = len(self.header), self._skipped, self.reader
        try:
            for row in reader:
                if len(row) != width:
                    if not row or (len(row) == 1 and not row[0].strip()):
                        continue  # blank line
                    if len(row) > width and all(not c.strip() for c in row[width:]):
                        row = row[:width]
                    else:
                        raise DatasetError(
                            f"ragged row: {len(row)} field(s) but the header has {width}",
                            path=self.shown,
                            line=skipped + reader.line_num,
                            hint=(f"every line needs exactly {width} values separated by '{_show(self.delimiter)}'" if width > 1
                                  else "every line needs exactly one value (the header names one column)"),
                        )
                yield row, skipped + reader.line_num
        except csv.Error as exc:
            raise DatasetError(f"malformed CSV ({exc})", path=self.shown, line=skipped + reader.line_num) from exc

    def fraction(self) -> float:
        """How far through the file the reader is (0..1), for progress."""
        try:
            return min(1.0, self.fh.tell() / self.size)
        except (OSError, ValueError):
            return 0.0

    def __enter__(self) -> "CsvReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.text.close()


def read_csv_table(path: Path, *, display: str | None = None, max_rows: int | None = None) -> CsvTable:
    """Parse ``path`` into a :class:`CsvTable` (every row, or the first ``max_rows``: enough to plan the
    columns of a big file, which :func:`studio.core.data.sensor.csvstream.read_columns` then streams).

    Malformed structure raises DatasetError naming file and line (see :class:`CsvReader`)."""
    shown = display or str(path)
    for encoding in _encodings(path, shown):
        try:
            with CsvReader(path, shown, encoding) as reader:
                rows: list[list[str]] = []
                lines: list[int] = []
                append_row, append_line = rows.append, lines.append
                for row, line in itertools.islice(reader.rows(), max_rows):
                    append_row(row)
                    append_line(line)
                return CsvTable(path, reader.header, rows, lines, reader.header_line, reader.delimiter)
        except UnicodeDecodeError:
            continue
    raise AssertionError("cp1252 decodes every byte")  # pragma: no cover


def _show(delimiter: str) -> str:
    return "tab" if delimiter == "\t" else delimiter


def parse_numbers(values: list[str], delimiter: str) -> np.ndarray:
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
    ok = sum(1 for v in sample if is_number(v if delimiter != "," else v.replace(",", "#")))
    return ok >= 0.5 * len(sample)


def numeric_matrix(table: CsvTable, columns: Sequence[int], display: str) -> np.ndarray:
    """The chosen columns as float32 ``[rows, len(columns)]``; a bad cell raises naming file, line, column."""
    out = np.empty((len(table.rows), len(columns)), dtype=np.float32)
    worst: tuple[int, str, str] | None = None
    for j, c in enumerate(columns):
        values = table.column(c)
        try:
            arr = parse_numbers(values, table.delimiter)
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
