""""Fit my device" on the Optimize page: a time budget, an optional size limit, Start, live progress, Stop
(every point measured so far is kept), the live frontier, and "Keep as variant".

The panel builds the worker's ``search`` request and renders what comes back: ``metrics("search_point", p)``
as each model is measured, the result (also after a stop), ``keep_point`` answers, and on reload the last
search (``last_search``, also one that was interrupted). It runs nothing itself and never imports TensorFlow.
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.gui.widgets import dialogs
from studio.gui.widgets.frontier import FrontierView

EXPLAIN = ("Studio tries smaller architectures, widths and input sizes, and removes channels from your trained "
           "model; it measures every model the way the device runs it (int8 accuracy through LiteRT, RAM through "
           "TensorFlow Lite Micro) and draws the best trade-offs: no other model is both smaller and more accurate. "
           "Click a large dot, then keep it as a variant to export it.")


class SearchPanel(QWidget):
    """Owned by a page (``page.state`` runs jobs, ``page.guarded_row`` guards Start, the page is the owner)."""

    variants_changed = Signal()  # frontier points became variants (after a search or a click)
    search_finished = Signal(dict)

    def __init__(self, page: Any, target: Callable[[], Any], parent: QWidget | None = None) -> None:
        from studio.gui.widgets.taskbar import TaskBar

        super().__init__(parent)
        self.setObjectName("searchPanel")
        self.page, self.state, self.target = page, page.state, target
        self.job: Any = None
        self._last_job: Any = None
        self._keeping: dict[int, Any] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        intro = QLabel(EXPLAIN)
        intro.setObjectName("note")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        row = QHBoxLayout()
        row.addWidget(QLabel("Time budget:"))
        self.budget_spin = QSpinBox()
        self.budget_spin.setObjectName("searchBudget")
        self.budget_spin.setRange(1, 24 * 60)
        self.budget_spin.setValue(10)
        self.budget_spin.setSuffix(" min")
        row.addWidget(self.budget_spin)
        row.addSpacing(16)
        row.addWidget(QLabel("Largest model file:"))
        self.max_kb_spin = QSpinBox()
        self.max_kb_spin.setObjectName("searchMaxKb")
        self.max_kb_spin.setRange(0, 1024 * 1024)
        self.max_kb_spin.setSingleStep(16)
        self.max_kb_spin.setSpecialValueText("what the device leaves")
        self.max_kb_spin.setSuffix(" KB")
        self.max_kb_spin.setMinimumWidth(180)
        row.addWidget(self.max_kb_spin)
        row.addSpacing(16)
        row.addWidget(QLabel("Slowest answer:"))
        self.max_ms_spin = QDoubleSpinBox()
        self.max_ms_spin.setObjectName("searchMaxMs")
        self.max_ms_spin.setRange(0.0, 10_000.0)
        self.max_ms_spin.setDecimals(1)
        self.max_ms_spin.setSingleStep(1.0)
        self.max_ms_spin.setSpecialValueText("any")
        self.max_ms_spin.setSuffix(" ms")
        self.max_ms_spin.setMinimumWidth(90)
        self.max_ms_spin.setToolTip("Models slower than this on this computer (one answer at a time) do not fit. "
                                    "A microcontroller is much slower than this computer: use it to compare models.")
        row.addWidget(self.max_ms_spin)
        row.addStretch(1)
        layout.addLayout(row)
        row = QHBoxLayout()  # a second row: the first one fits the page's 1,000 px with its three limits
        self.distill_check = QCheckBox("Learn from the trained model")
        self.distill_check.setObjectName("searchDistill")
        self.distill_check.setChecked(False)
        self.distill_check.setToolTip("Candidates also copy the trained model's softened answers while they train "
                                      "(distillation; off by default: on our data it did not beat plain training)")
        row.addWidget(self.distill_check)
        row.addStretch(1)
        layout.addLayout(row)
        actions = QHBoxLayout()
        box, guarded = page.guarded_row(add=False)
        self.start_button = QPushButton("Find models that fit")
        self.start_button.setObjectName("searchButton")
        self.start_button.clicked.connect(self.start)
        guarded.addWidget(self.start_button)
        actions.addWidget(box)
        self.task = TaskBar(cancel_text="Stop (keep what was found)")
        actions.addWidget(self.task, 1)
        layout.addLayout(actions)
        layout.addWidget(page._busy_notes[-1])
        self.result_label = QLabel("")
        self.result_label.setObjectName("note")
        self.result_label.setWordWrap(True)
        layout.addWidget(self.result_label)
        self.frontier = FrontierView()
        self.frontier.stop_button.setVisible(False)  # the task bar's Stop is the one Stop
        self.frontier.keep_requested.connect(self.keep)
        layout.addWidget(self.frontier)

    # ------------------------------------------------------------------ requests
    def request(self) -> dict[str, Any]:
        kb, ms = self.max_kb_spin.value(), self.max_ms_spin.value()
        return {"target": self.target().id, "budget_min": float(self.budget_spin.value()),
                "max_bytes": kb * 1024 if kb else None, "max_latency_ms": float(ms) if ms > 0 else None,
                "distill": self.distill_check.isChecked(),
                "keep": False}  # the user keeps the points they want, one click each

    def values(self) -> dict[str, Any]:
        """What the page saves in ``settings["search"]``."""
        return {"budget_min": self.budget_spin.value(), "max_kb": self.max_kb_spin.value() or None,
                "max_ms": self.max_ms_spin.value() or None, "distill": self.distill_check.isChecked()}

    def set_values(self, saved: dict[str, Any]) -> None:
        self.budget_spin.setValue(int(saved.get("budget_min") or 10))
        self.max_kb_spin.setValue(int(saved.get("max_kb") or 0))
        self.max_ms_spin.setValue(float(saved.get("max_ms") or 0.0))
        self.distill_check.setChecked(bool(saved.get("distill", False)))

    def set_target(self, target: Any) -> None:
        from studio.core.targets import MCU_CODE_RESERVE

        limit = target.flash_bytes - (MCU_CODE_RESERVE if target.mcu else 0)
        self.frontier.set_limit(limit / 1024, f"{target.id} flash for the model")

    @Slot()
    def start(self) -> None:
        if self.state.project is None or self.page.is_busy():
            return
        self.state.save_settings("search", self.values())
        self.frontier.set_points([])
        self.result_label.setText("")
        self.job = self.page.job = self.state.run(
            "search", self.request(), succeeded=self._finished, failed=self._failed, metrics=self.on_metrics,
            done=self._done, task=self.task, owner=self.page)
        self.frontier.set_running(True)
        self.task.on_status("Measuring the trained model first…" if self.state.tf_ready else "Loading TensorFlow…")

    def reload(self) -> None:
        """Show the project's last search (the worker reads it from disk; instant)."""
        if self.state.project is None or (self.job is not None and self.job.isRunning()):
            return
        self._last_job = self.state.query("last_search", {}, succeeded=self._show_last)

    @Slot(int)
    def keep(self, point_id: int) -> None:
        if self.state.project is None or point_id in self._keeping:
            return
        if self.job is not None and self.job.isRunning():
            self.result_label.setText("Keep it when the search has ended (or stop the search: what it found stays).")
            return
        self._keeping[point_id] = self.state.run("keep_point", {"id": point_id}, succeeded=self._kept,
                                                 failed=self._failed_keep, owner=self.page)

    # ------------------------------------------------------------------ answers
    @Slot(str, dict)
    def on_metrics(self, kind: str, values: dict) -> None:
        if kind == "search_point":
            self.frontier.add_point(values)

    @Slot(object)
    def _finished(self, result: dict[str, Any]) -> None:
        self.show_result(result)
        self.variants_changed.emit()
        self.search_finished.emit(dict(result))

    def show_result(self, result: dict[str, Any]) -> None:
        """A finished (or stopped) search's JSON, or the last one read back."""
        self.frontier.set_points(list(result.get("points") or []))  # its summary names the best that fits
        text = "The search was stopped; every model measured so far is kept." if result.get("stopped") else ""
        if result.get("complete") is False:
            text = "The last search was interrupted; these models were measured before it stopped."
        base = result.get("baseline") or {}
        if base.get("bytes"):
            text += (f" Your trained model as int8: {base['bytes'] / 1024:.1f} KB, "
                     f"{(base.get('arena_bytes') or 0) / 1024:.1f} KB RAM, accuracy "
                     f"{(base.get('accuracy') or 0) * 100:.1f} %.")
        notes = [str(n) for n in result.get("notes") or []]
        if notes:
            text += " Note: " + "; ".join(notes) + "."
        kept = [p["name"] for p in result.get("frontier") or [] if p.get("name")]
        if kept:
            text += f" Kept as variants: {', '.join(kept)}."
        self.result_label.setText(text.strip())

    @Slot(object)
    def _show_last(self, result: dict[str, Any]) -> None:
        if self.sender() is self._last_job and result and not (self.job is not None and self.job.isRunning()):
            self.show_result(result)

    @Slot(object)
    def _failed(self, exc: BaseException) -> None:
        self.task.set_idle("The search did not run.")
        dialogs.show_error(self, exc, "Could not search")

    @Slot()
    def _done(self) -> None:
        self.frontier.set_running(False)

    @Slot(object)
    def _kept(self, result: dict[str, Any]) -> None:
        self._keeping.pop(int(result["id"]), None)
        self.frontier.mark_kept(int(result["id"]), str(result["name"]))
        self.frontier.select(int(result["id"]))
        self.variants_changed.emit()

    @Slot(object)
    def _failed_keep(self, exc: BaseException) -> None:
        self._keeping.clear()
        dialogs.show_error(self, exc, "Could not keep the model as a variant")


__all__ = ["SearchPanel"]
