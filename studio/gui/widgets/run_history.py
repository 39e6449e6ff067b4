"""Train page: every training run of the project, newest first, and which one is the project's model.

Plain data from the worker's ``runs`` query (:func:`studio.core.run_history.run_history`); **Use this run**
asks the worker's ``use_run`` job. The run contract holds here as in the core: a stopped run, or one worse on
validation than the current model, becomes the model only after the user said yes to a question that names
both figures (:func:`replace_question`).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.gui.widgets import dialogs

COLUMNS = ("Started", "Model", "Settings", "Best validation", "How it ended")
TIPS = (
    "When the run started.",
    "The network that was trained.",
    "The training choices this run used.",
    "The best accuracy on the validation examples (held back from training); for sensor projects per "
    "recording when recordings hold several windows. The weights of that epoch are the ones kept.",
    "finished: ran to the end or stopped early when validation stopped improving; stopped: you stopped it "
    "(or closed the window); failed: it broke off and cannot be used.",
)
STATE_WORDS = {"finished": "finished", "stopped": "stopped by you", "running": "still running",
               "interrupted": "interrupted", "failed": "failed"}


def score(run: dict[str, Any]) -> float | None:
    """The run's best validation figure (per recording when the core measured one)."""
    value = run.get("best_val_recording_accuracy")
    if value is None:
        value = run.get("best_val_accuracy")
    return None if value is None else float(value)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def state_text(run: dict[str, Any]) -> str:
    text = STATE_WORDS.get(str(run.get("state")), str(run.get("state") or "?"))
    if run.get("state") == "finished" and run.get("stop_reason") == "early_stopping":
        text = "finished (stopped early: no more progress)"
    epochs = run.get("epochs_run")
    if epochs:
        text += f", {epochs} epoch" + ("" if epochs == 1 else "s")
    return text


def replace_question(candidate: dict[str, Any], current: dict[str, Any] | None) -> str | None:
    """The question to ask before ``candidate`` replaces the project's model ``current``, or None when no
    question is needed (it finished and is at least as good, or there is no usable model)."""
    if current is None or current.get("id") == candidate.get("id"):
        return None
    new, old = score(candidate), score(current)
    if candidate.get("state") != "finished":
        return (f"Run {candidate['id']} did not finish ({state_text(candidate)}; {_pct(new)} on validation). "
                f"The project's model is {current['id']} ({_pct(old)}). Make the unfinished run the model?")
    if new is not None and old is not None and new < old:
        return (f"Run {candidate['id']} reached {_pct(new)} on validation, below the project's model "
                f"{current['id']} ({_pct(old)}). Make the worse run the model anyway?")
    return None


class RunHistory(QWidget):
    """The list of runs with **Use this run**; ``state``: the app state, ``page``: the owning page (busy
    policy). Emits :attr:`model_changed` after the project's model changed."""

    model_changed = Signal()
    shown = Signal()  # the list shows the worker's answer

    def __init__(self, state: Any, page: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runHistory")
        self.state = state
        self.runs: list[dict[str, Any]] = []
        self._job: Any = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        title = QLabel("Training runs")
        title.setObjectName("sectionTitle")
        layout.addWidget(title)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("runsTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for i, tip in enumerate(TIPS):
            self.table.horizontalHeaderItem(i).setToolTip(tip)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setMaximumHeight(190)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        layout.addWidget(self.table)
        row = QHBoxLayout()
        box, actions = page.guarded_row(add=False)
        self.use_button = QPushButton("Use this run as the model")
        self.use_button.setObjectName("useRunButton")
        self.use_button.clicked.connect(self.use_selected)
        actions.addWidget(self.use_button)
        row.addWidget(box)
        self.note = QLabel()
        self.note.setObjectName("note")
        self.note.setWordWrap(True)
        row.addWidget(self.note, 1)
        layout.addLayout(row)
        layout.addWidget(page._busy_notes[-1])
        self._selection_changed()

    # ------------------------------------------------------------------------------------------ data
    def clear(self) -> None:
        self.runs = []
        self._job = None
        self.table.setRowCount(0)
        self.note.setText("")
        self._selection_changed()

    def refresh(self) -> None:
        """Ask the worker for the runs (instant, even while a model trains)."""
        if self.state.project is None:
            self.clear()
            return
        self._job = self.state.query("runs", {}, succeeded=self._show, failed=self._failed)

    @Slot(object)
    def _failed(self, exc: BaseException) -> None:
        if self.sender() is self._job:
            self.note.setText(f"Could not read the training runs: {exc}")

    @Slot(object)
    def _show(self, result: dict[str, Any]) -> None:
        if self.sender() is not self._job:
            return  # an older request, or another project's
        self.runs = list(result.get("runs") or [])
        self.table.setRowCount(len(self.runs))
        for i, run in enumerate(self.runs):
            model = run.get("title") or run.get("arch") or "?"
            if run.get("active"):
                model = "★ " + model
            values = ((run.get("started") or "")[:16].replace("T", " "), model, run.get("settings_text") or "",
                      _pct(score(run)), state_text(run) + (f" — cannot be used: {run['problem']}"
                                                           if run.get("problem") else ""))
            for j, text in enumerate(values):
                item = QTableWidgetItem(str(text))
                item.setData(Qt.ItemDataRole.UserRole, run.get("id"))
                item.setToolTip(f"Run {run.get('id')}" + (" — the project's model" if run.get("active") else ""))
                if run.get("active"):
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(i, j, item)
        active = next((r for r in self.runs if r.get("active")), None)
        if not self.runs:
            self.note.setText("No runs yet.")
        elif active is None:
            self.note.setText("No run is the project's model yet: pick one and press Use this run.")
        else:
            self.note.setText(f"★ = the project's model (run {active['id']}). Evaluate, Optimize and Export use it.")
        self._selection_changed()
        self.shown.emit()

    def selected(self) -> dict[str, Any] | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        index = rows[0].row()
        return self.runs[index] if 0 <= index < len(self.runs) else None

    def select(self, run_id: str) -> None:
        for i, run in enumerate(self.runs):
            if run.get("id") == run_id:
                self.table.selectRow(i)
                return

    @Slot()
    def _selection_changed(self) -> None:
        run = self.selected()
        if run is None:
            self.use_button.setEnabled(False)
            self.use_button.setToolTip("Pick a run in the list first.")
        elif run.get("active"):
            self.use_button.setEnabled(False)
            self.use_button.setToolTip("This run is already the project's model.")
        elif not run.get("usable", True):
            self.use_button.setEnabled(False)
            self.use_button.setToolTip(f"This run cannot be the model: {run.get('problem')}.")
        else:
            self.use_button.setEnabled(True)
            self.use_button.setToolTip("Make this run the model that Evaluate, Optimize and Export use.")

    # ------------------------------------------------------------------------------------------ use
    @Slot()
    def use_selected(self) -> None:
        run = self.selected()
        if run is not None:
            self.use(run)

    def use(self, run: dict[str, Any], asked: bool = False) -> bool:
        """Make ``run`` the model, asking first when it is stopped or worse (unless ``asked`` already).
        Returns False when the user said no."""
        current = next((r for r in self.runs if r.get("active") and r.get("usable", True)), None)
        question = None if asked else replace_question(run, current)
        if question is not None and not dialogs.ask(self, "Change the model?", question,
                                                    yes="Use this run", no="Keep the current model"):
            return False
        self._use_job = self.state.query("use_run", {"run": run["id"]}, succeeded=self._used,
                                         failed=self._use_failed)
        return True

    @Slot(object)
    def _used(self, result: dict[str, Any]) -> None:
        self.state.reload_project()
        self.refresh()
        self.model_changed.emit()

    @Slot(object)
    def _use_failed(self, exc: BaseException) -> None:
        dialogs.show_error(self, exc, "Could not change the model")
