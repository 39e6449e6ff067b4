"""The task bar's status line: a long status must not widen the page it sits on."""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

from studio.gui.widgets.taskbar import TaskBar, format_duration


def test_a_long_status_is_elided_not_widening_the_page(qtbot) -> None:
    page = QWidget()
    layout = QVBoxLayout(page)
    bar = TaskBar()
    layout.addWidget(bar)
    qtbot.addWidget(page)
    page.resize(500, 80)
    page.show()
    before = page.minimumSizeHint().width()
    long = "Candidate: 1-D CNN (trained 30 epochs per fold) on windows of 128 rows every 64 rows " * 4
    bar.set_idle(long)
    assert bar.label.text() == long  # the whole text is kept (and read by tests and the tooltip)
    assert page.minimumSizeHint().width() == before < 500
    qtbot.waitUntil(lambda: bar.label.toolTip() == long)
    bar.set_idle("Done.")
    assert bar.label.toolTip() == ""


def test_durations_read_as_minutes_and_hours() -> None:
    assert (format_duration(5), format_duration(66), format_duration(3725)) == ("5 s", "1 min 06 s", "1 h 02 min")
