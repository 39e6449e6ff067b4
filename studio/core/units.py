"""Numbers for people: one size unit per axis or column, and readable chart ticks.

Shared by the GUI's plots (:mod:`studio.gui.plots`) and the HTML report, so a chart never mixes KB and MB on one
axis, never crowds its ticks, and a percent axis is in percent. Pure Python.
"""

from __future__ import annotations

import math
from typing import Iterable

KB = 1024
MB = 1024 * 1024


def size_unit(values: Iterable[float | None]) -> tuple[str, int]:
    """("KB", 1024) or ("MB", 1048576): MB once the largest value reaches 1 MB, so one column reads in one unit."""
    largest = max((float(v) for v in values if v is not None), default=0.0)
    return ("MB", MB) if largest >= MB else ("KB", KB)


def format_size(n: float | None, unit: tuple[str, int] | None = None) -> str:
    """``n`` bytes in ``unit`` (default: its own): "103 KB", "1.25 MB", "—" for None."""
    if n is None:
        return "—"
    name, div = unit or size_unit([n])
    value = float(n) / div
    digits = 0 if value >= 100 else (1 if value >= 10 else (2 if value >= 0.1 else 3))
    return f"{value:.{digits}f} {name}"


def tick_text(value: float) -> str:
    """A tick label without scientific notation or float noise: 0.1, 0.25, 2, 1000, 0.005, 99.85.

    As many digits as the value needs to be written exactly (up to 12 significant), never fewer: ticks of a
    narrow range (99.85, 99.9, 99.95, 100 %) each keep their own label (three significant digits wrote both
    99.95 and 100 as "100")."""
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    for significant in range(1, 13):
        text = f"{value:.{max(0, significant - 1 - magnitude)}f}"
        if abs(float(text) - value) <= 1e-9 * abs(value):
            break
    return text.rstrip("0").rstrip(".") if "." in text else text


def nice_step(span: float, max_ticks: int) -> float:
    """The smallest 1 / 2 / 2.5 / 5 x 10^k step that puts at most ``max_ticks`` ticks over ``span``."""
    if span <= 0 or max_ticks < 2:
        return 1.0
    raw = span / (max_ticks - 1)
    base = 10.0 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * base >= raw * (1 - 1e-9):
            return m * base
    return 10 * base


def linear_ticks(lo: float, hi: float, max_ticks: int = 6, integer: bool = False) -> list[float]:
    """Evenly spaced round ticks within [lo, hi]; ``integer``: whole numbers only (epochs, counts)."""
    if hi < lo:
        lo, hi = hi, lo
    step = nice_step(hi - lo, max_ticks)
    if integer:
        step = max(1.0, float(math.ceil(step)))
    first = math.ceil(lo / step - 1e-9) * step
    ticks, v = [], first
    while v <= hi + 1e-9 * max(1.0, abs(hi)):
        ticks.append(round(v, 10))
        v += step
    return ticks


def log_ticks(lo: float, hi: float, max_ticks: int = 6) -> list[float]:
    """Round values (1, 2, 5 x 10^k, thinned to 1 x 10^k, then every other decade) within [lo, hi] (lo > 0)
    with at most ``max_ticks`` of them."""
    if lo <= 0 or hi <= 0:
        raise ValueError("log ticks need positive bounds")
    if hi < lo:
        lo, hi = hi, lo
    decades = range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
    for mantissas, every in (((1, 2, 5), 1), ((1, 3), 1), ((1,), 1), ((1,), 2), ((1,), 3)):
        ticks = [m * 10.0 ** e for e in decades if e % every == 0 for m in mantissas]
        ticks = [t for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]
        if len(ticks) <= max_ticks:
            return ticks
    return ticks[:: math.ceil(len(ticks) / max_ticks)]


def size_axis(lo_kb: float, hi_kb: float, max_ticks: int = 6) -> tuple[str, list[tuple[float, str]]]:
    """Ticks of a log size axis given in KB: (unit, [(KB value, label in that one unit)])."""
    name, div = ("MB", MB) if hi_kb * KB >= MB else ("KB", KB)
    scale = KB / div
    ticks = log_ticks(lo_kb * scale, hi_kb * scale, max_ticks)
    return name, [(t / scale, f"{tick_text(t)} {name}") for t in ticks]
