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


def split_id(item_id: Any) -> tuple[str, int | None]:
    """(recording id, first sample of the window or None for a whole recording) of a mistake's id."""
    rec_id, _, start = str(item_id).partition("@")
    try:
        return rec_id, (int(start) if start else None)
    except ValueError:
        return rec_id, None


def show_signal(parent: Any, title: str, signal: Any, channels: list[str], span: tuple[int, int] | None,
                sample_rate: float | None = None) -> Any:
    """A dialog with a recording's channels and the window the model judged shaded; returns the dialog."""
    import pyqtgraph as pg
    from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout

    from studio.gui.plots import PALETTE, legend_below, plot_widget

    dialog = QDialog(parent)
    dialog.setObjectName("signalViewer")
    dialog.setWindowTitle(title)
    dialog.resize(820, 420)
    layout = QVBoxLayout(dialog)
    label = QLabel(title)
    label.setWordWrap(True)
    layout.addWidget(label)
    rate = float(sample_rate) if sample_rate else None
    plot = plot_widget(bottom="time (s)" if rate else "sample", height=320)
    legend_below(plot, max(1, min(6, signal.shape[1])))  # outside the data
    import numpy as np

    x = np.arange(signal.shape[0]) / rate if rate else np.arange(signal.shape[0])
    for c in range(signal.shape[1]):
        name = channels[c] if c < len(channels) else f"ch{c}"
        plot.plot(x, signal[:, c], pen=PALETTE[c % len(PALETTE)], name=name)
    if span is not None:
        lo, hi = span
        region = pg.LinearRegionItem(values=(lo / rate if rate else lo, hi / rate if rate else hi), movable=False,
                                     brush=pg.mkBrush(214, 69, 65, 40))
        plot.addItem(region)
    layout.addWidget(plot)
    dialog.open()
    return dialog
