"""Evaluate page: where a mistake is, in the user's words, and how many of them are shown.

A sensor window's id is ``<recording>@<first sample>`` (``r0020@1728``): the user knows the CSV file and a time,
so :func:`place_text` names the recording's source file (from the manifest), the time into it (when the sample
rate is known) and the line of the CSV it starts at (1-based, as a spreadsheet shows it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def recording_index(manifest: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Recording id -> its manifest entry."""
    out: dict[str, dict[str, Any]] = {}
    for entry in (manifest or {}).get("recordings") or []:
        if isinstance(entry, dict) and entry.get("id") is not None:
            out[str(entry["id"])] = entry
    return out


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.2f} s".replace(".00 s", " s")
    minutes, seconds = divmod(value, 60.0)
    return f"{int(minutes)} min {seconds:04.1f} s"


def place_text(item_id: Any, recordings: dict[str, dict[str, Any]], sample_rate: float | None) -> str:
    """"walk/rec_03.csv at 17.28 s (line 1730)" for a window id, "walk/rec_03.csv" for a whole recording, the id
    itself when the recording is not in the manifest (another folder evaluated)."""
    text = str(item_id)
    rec_id, _, start = text.partition("@")
    entry = recordings.get(rec_id)
    if entry is None:
        return text
    source = str(entry.get("source") or rec_id)
    rows = entry.get("rows") or [None, None]
    if not start:
        return source if rows[0] is None else f"{source} (lines {rows[0]}–{rows[1]})"
    try:
        offset = int(start)
    except ValueError:
        return f"{source} @ {start}"
    where = f"{source} at {_seconds(offset / sample_rate)}" if sample_rate else f"{source}, sample {offset + 1}"
    if rows[0] is not None:
        where += f" (line {int(rows[0]) + offset})"
    return where


def file_name(path: Any) -> str:
    return Path(str(path)).name


def count_title(shown: int, total: int, noun: str = "Mistakes") -> str:
    """"Mistakes: none", "Mistakes (12)", "Mistakes: showing 24 of 50"."""
    if total <= 0:
        return f"{noun}: none"
    if shown < total:
        return f"{noun}: showing {shown} of {total}"
    return f"{noun} ({total})"

