"""The quality verdict on the Evaluate page, and its "not ready yet" warning on Optimize and Export.

:class:`VerdictPanel` leads the Evaluate page: a headline (not ready yet, with the reason / ready to try), then
defects passed as good and good parts rejected (counts and rates) when the project has a good class, then per
class how many were missed and what they were taken for. An optional confidence threshold sends uncertain
answers to *check by hand*; moving it recomputes the verdict at once from the evaluation's per-sample
predictions (:func:`studio.core.verdict.verdict_of`, numpy only: no worker round trip).

The last verdict of each (project, model) is remembered (:func:`remember`: in memory, and its "not ready"
reasons in the app's own gui.ini, never in the project), so :class:`NotReadyBanner` carries a "not ready yet" to
Optimize and Export for the same model, also after the app was closed and opened again.
"""

from __future__ import annotations

import html
import json
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from studio.core.verdict import verdict_of

DEFAULT_THRESHOLD = 80  # % sure
READY_STYLE = "color: #2e7d55; font-size: 14pt; font-weight: 600;"
NOT_READY_STYLE = "color: #b03a2e; font-size: 14pt; font-weight: 600;"
BANNER_STYLE = ("QLabel#notReadyBanner { background: #fdecea; color: #8c2a1f; border: 1px solid #f0b8b0; "
                "border-radius: 6px; padding: 8px 10px; }")

_LAST: dict[tuple[str, str], dict[str, Any]] = {}  # (project path, run id) -> verdict shown last


def _settings_key(project: Any, run: str) -> str:
    import hashlib

    return "verdicts/" + hashlib.sha1(f"{project.path}|{run}".encode()).hexdigest()[:16]


def remember(project: Any, run: str | None, verdict: dict[str, Any]) -> None:
    if project is None or not run:
        return
    _LAST[(str(project.path), str(run))] = verdict
    from studio.gui.state import gui_settings

    reasons = [str(r) for r in verdict.get("not_ready") or []]
    gui_settings().setValue(_settings_key(project, str(run)), json.dumps({"not_ready": reasons}))


def last_verdict(project: Any) -> dict[str, Any] | None:
    """The verdict last shown for the project's current model (this session, else the one remembered in
    gui.ini from an earlier one), or None."""
    if project is None:
        return None
    run = project.data.get("active_run")
    if not run:
        return None
    key = (str(project.path), str(run))
    if key not in _LAST:
        from studio.gui.state import gui_settings

        raw = gui_settings().value(_settings_key(project, str(run)))
        try:
            saved = json.loads(str(raw)) if raw else None
        except ValueError:
            saved = None
        if not isinstance(saved, dict):
            return None
        _LAST[key] = saved
    return _LAST[key]


class VerdictPanel(QWidget):
    """Shows :func:`studio.core.verdict.verdict_of` of an evaluation result; ``changed`` after each render."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("verdictPanel")
        self.result: dict[str, Any] | None = None
        self.modality = "image"
        self.verdict: dict[str, Any] | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.headline = QLabel()
        self.headline.setObjectName("verdictHeadline")
        self.headline.setWordWrap(True)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.headline)
        self.details = QLabel()
        self.details.setObjectName("verdictLines")
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.details)
        row = QHBoxLayout()
        self.threshold_check = QCheckBox("Send answers the model is less sure of than")
        self.threshold_check.setObjectName("thresholdCheck")
        self.threshold_check.setToolTip(
            "A part whose answer is below this confidence is neither passed nor rejected: a person checks it. "
            "The counts above change at once, so you can see what a threshold costs (more parts to check) and "
            "what it saves (fewer wrong answers).")
        self.threshold_slider = QSlider(Qt.Orientation.Horizontal)
        self.threshold_slider.setObjectName("thresholdSlider")
        self.threshold_slider.setRange(50, 99)
        self.threshold_slider.setValue(DEFAULT_THRESHOLD)
        self.threshold_slider.setMaximumWidth(220)
        self.threshold_slider.setEnabled(False)
        self.threshold_label = QLabel()
        row.addWidget(self.threshold_check)
        row.addWidget(self.threshold_slider)
        row.addWidget(self.threshold_label)
        row.addStretch(1)
        layout.addLayout(row)
        self.threshold_check.toggled.connect(self._threshold_toggled)
        self.threshold_slider.valueChanged.connect(self._render)
        self._render()

    @property
    def threshold(self) -> float | None:
        return self.threshold_slider.value() / 100.0 if self.threshold_check.isChecked() else None

    def set_result(self, result: dict[str, Any] | None, modality: str = "image") -> None:
        self.result, self.modality = result, modality
        has_rows = bool(result) and (result.get("recording_predictions") is not None
                                     or result.get("predictions") is not None)
        self.threshold_check.setEnabled(has_rows)
        self.threshold_check.setToolTip(self.threshold_check.toolTip() if has_rows else
                                        "Evaluate again: this result has no per-example confidences.")
        self._render()

    @Slot(bool)
    def _threshold_toggled(self, on: bool) -> None:
        self.threshold_slider.setEnabled(on)
        self._render()

    @Slot()
    def _render(self) -> None:
        self.threshold_label.setText(f"{self.threshold_slider.value()} % sure to check by hand")
        if not self.result:
            self.verdict = None
            self.headline.setText("")
            self.details.setText("")
            return
        threshold = self.threshold if self.threshold_check.isEnabled() else None
        self.verdict = verdict_of(self.result, self.modality, threshold=threshold)
        lines = list(self.verdict.get("lines") or [])
        ready = self.verdict.get("ready")
        self.headline.setText(lines[0] if lines else "")
        unfair = bool(self.verdict.get("seen_in_training"))  # figures on data the model learned from
        self.headline.setStyleSheet(NOT_READY_STYLE if ready is False or unfair else READY_STYLE)
        self.details.setText("<ul style='margin-left: -20px'>" + "".join(
            f"<li>{html.escape(line)}</li>" for line in lines[1:]) + "</ul>" if len(lines) > 1 else "")
        self.changed.emit()


class NotReadyBanner(QLabel):
    """"Not ready yet" on Optimize and Export while the last evaluation of the project's model said so."""

    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notReadyBanner")
        self.setStyleSheet(BANNER_STYLE)
        self.setWordWrap(True)
        self.state = state
        self.setVisible(False)
        state.project_changed.connect(self.refresh)
        state.project_updated.connect(self.refresh)

    @Slot()
    def refresh(self) -> None:
        verdict = last_verdict(self.state.project)
        reasons = (verdict or {}).get("not_ready") or []
        if not reasons:
            self.setVisible(False)
            self.setText("")
            return
        self.setText("<b>Not ready yet</b> (the last evaluation of this model): " + html.escape("; ".join(reasons))
                     + ". Making it smaller will not fix that: train with more examples of these classes first.")
        self.setVisible(True)


def report_for_model(project: Any) -> Any:
    """The newest exported bundle's report.html made from the project's current model (``bundle.json``'s
    ``run_id``), or None. Bundles written outside the project's exports folder are not searched."""
    import json

    if project is None or not project.data.get("active_run"):
        return None
    best = None
    try:
        bundles = list(project.exports_dir.glob("*/bundle.json"))
    except OSError:
        return None
    for path in bundles:
        report = path.parent / "report.html"
        try:
            run = json.loads(path.read_text(encoding="utf-8")).get("run_id")
        except (OSError, ValueError, AttributeError):
            continue
        if run == project.data["active_run"] and report.exists():
            if best is None or report.stat().st_mtime > best.stat().st_mtime:
                best = report
    return best
