"""Readable numbers: one size unit per axis / column, round ticks that never crowd (studio.core.units)."""

from __future__ import annotations

import pytest

from studio.core.units import MB, format_size, linear_ticks, log_ticks, size_axis, size_unit, tick_text


@pytest.mark.parametrize("lo, hi", [(20, 90), (20, 500), (50, 20480), (0.5, 3), (100, 8 * 1024), (3, 300_000)])
def test_size_axis_uses_one_unit_and_few_ticks(lo: float, hi: float) -> None:
    for max_ticks in (3, 6, 10):
        unit, ticks = size_axis(lo, hi, max_ticks)
        assert 1 <= len(ticks) <= max_ticks
        assert {label.split()[1] for _, label in ticks} == {unit}  # never "500 KB" beside "1 MB"
        assert unit == ("MB" if hi * 1024 >= MB else "KB")
        assert all(lo * 0.999 <= kb <= hi * 1.001 for kb, _ in ticks)
        assert "e" not in "".join(label for _, label in ticks)  # no scientific notation


def test_tick_values_are_round() -> None:
    assert linear_ticks(-7, 107, 7) == [0, 20, 40, 60, 80, 100]
    assert linear_ticks(1, 3, 8, integer=True) == [1, 2, 3]  # never 1.5 epochs
    assert linear_ticks(1, 60, 7, integer=True) == [10, 20, 30, 40, 50, 60]
    assert log_ticks(20, 500, 6) == [20, 50, 100, 200, 500]
    assert [tick_text(v) for v in (0, 0.1, 0.25, 2.0, 100.0, 1000.0, 12.5)] == \
        ["0", "0.1", "0.25", "2", "100", "1000", "12.5"]


@pytest.mark.parametrize("lo, hi", [(99.8, 100.02), (99.0, 100.0), (97.5, 100.0), (0.1, 0.3), (12.3, 12.9)])
def test_narrow_percent_range_never_repeats_a_label(lo: float, hi: float) -> None:
    """The frontier's accuracy axis on a narrow range showed "100 %" twice (99.95 written with 3 digits)."""
    for max_ticks in (3, 6, 10):
        ticks = linear_ticks(lo, hi, max_ticks)
        labels = [tick_text(v) for v in ticks]
        assert len(set(labels)) == len(labels), labels
        assert all(abs(float(t) - v) < 1e-9 for t, v in zip(labels, ticks))  # each label is its value
    assert tick_text(0.1 + 0.2) == "0.3" and tick_text(99.95) == "99.95" and tick_text(0.005) == "0.005"


def test_size_columns_read_in_one_unit() -> None:
    unit = size_unit([103 * 1024, 2.5 * MB, None])
    assert unit == ("MB", MB)
    assert [format_size(v, unit) for v in (103 * 1024, 2.5 * MB)] == ["0.10 MB", "2.50 MB"]
    assert format_size(258 * 1024) == "258 KB" and format_size(None) == "—"
