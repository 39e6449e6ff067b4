"""Train page, sensor projects: the candidates Studio measured before choosing the model, and why it chose.

Sensor training without a chosen architecture scores input shapings x normalizations with MiniRocket (and,
with enough recordings, a 1-D CNN) by cross-validation over the recordings (:mod:`studio.core.selection`).
Rows arrive live as ``candidate`` metrics from the worker and are read back from the run's
``selection.json`` afterwards, so the user sees the same table for a finished run as while it ran.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

COLUMNS = ("Model", "Input", "Recordings right", "Score", "CPU time", "Result")
TIPS = (
    "The kind of model tried.",
    "How each recording is shaped for the model: whole (resampled or padded to one length) or cut into "
    "windows; and whether each channel is scaled with the training statistics or per recording.",
    "Recordings classified correctly in cross-validation: each recording is predicted by a model that did not "
    "see it during fitting.",
    "The share of recordings classified correctly in cross-validation.",
    "Processor time this candidate took.",
    "chosen: the model Studio trained; skipped: the search's time budget was spent before this one.",
)


def _title(arch: str) -> str:
    from studio.core.models.registry import REGISTRY

    spec = REGISTRY.get(arch)
    return spec.title if spec is not None else arch


def _is_winner(row: dict[str, Any], winner: dict[str, Any] | None) -> bool:
    return bool(winner) and row.get("arch") == winner.get("arch") and row.get("shaping") == winner.get("shaping") \
        and row.get("status") == "scored"


def _result_text(row: dict[str, Any], chosen: bool) -> str:
    if row.get("status") == "skipped":
        return "skipped: " + str(row.get("reason", "time budget spent"))
    if chosen:
        return "chosen"
    if "wins" in row and not row["wins"]:
        return "not clearly better"
    return ""


class SelectionTable(QWidget):
    """The candidate table plus one line saying why the winner was chosen; hidden when there is nothing."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        self.heading = QLabel("<b>How Studio chose the model</b>")
        layout.addWidget(self.heading)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("selectionTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for i, tip in enumerate(TIPS):
            self.table.horizontalHeaderItem(i).setToolTip(tip)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setMaximumHeight(190)
        layout.addWidget(self.table)
        self.why = QLabel()
        self.why.setObjectName("selectionWhy")
        self.why.setWordWrap(True)
        layout.addWidget(self.why)
        self.rows: list[dict[str, Any]] = []
        self.clear()

    def clear(self) -> None:
        self.rows = []
        self.table.setRowCount(0)
        self.why.setText("")
        self.setVisible(False)

    def add_candidate(self, row: dict[str, Any]) -> None:
        """One candidate as it is measured (live, during training)."""
        self.rows.append(dict(row))
        self._render(None)
        self.why.setText("Measuring the candidates…")

    def show_selection(self, selection: dict[str, Any] | None) -> None:
        """The run's ``selection.json`` (None or empty: the run chose nothing, so the table hides)."""
        if not selection or not selection.get("candidates"):
            self.clear()
            return
        self.rows = [dict(r) for r in selection["candidates"]]
        winner = selection.get("winner") or {}
        self._render(winner)
        method = selection.get("method", "cross-validation")
        self.why.setText(f"Chosen because {selection.get('why', '')}. Scored by {method}.")

    def _render(self, winner: dict[str, Any] | None) -> None:
        self.table.setRowCount(len(self.rows))
        bold = QFont()
        bold.setBold(True)
        for r, row in enumerate(self.rows):
            chosen = _is_winner(row, winner)
            scored = row.get("status") == "scored"
            cells = (
                _title(str(row.get("arch", ""))),
                str(row.get("what", "")),
                f"{row.get('correct', '')} of {row.get('recordings', '')}" if scored else "",
                f"{100 * float(row['score']):.1f} %" if scored and row.get("score") is not None else "",
                f"{float(row.get('cpu_seconds', 0)):.0f} s" if scored else "",
                _result_text(row, chosen),
            )
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if chosen:
                    item.setFont(bold)
                self.table.setItem(r, c, item)
        for column in (0, 2, 3, 4, 5):  # the Input column stretches; the others fit their header and cells
            self.table.resizeColumnToContents(column)
        self.setVisible(bool(self.rows))
