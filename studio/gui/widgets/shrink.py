"""The Optimize page's shrinking choices in plain words: which pruning kind (what each one shrinks), whether
fine-tuning learns from the trained model, and each variant's effect against the unpruned int8 model.

Plain data in, plain data out: the page saves :meth:`PruneKindBox.values` and sends them in its ``optimize``
request; :func:`effect_text` reads a row of ``list_variants`` (``vs_int8``: ratios to the unpruned int8 model
of the same run, measured with it).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QButtonGroup, QCheckBox, QLabel, QRadioButton, QVBoxLayout, QWidget

KINDS = (
    ("channels", "Remove whole channels",
     "Builds a genuinely narrower model: the file you flash, the RAM it needs (arena) and the time per sample "
     "all shrink. It is fine-tuned afterwards, the last round twice to keep the more accurate of the two "
     "(several minutes)."),
    ("weights", "Set weights to zero",
     "Keeps the model's shape: only the zipped file shrinks. The file a microcontroller flashes, its RAM and "
     "its speed stay the same (TensorFlow Lite Micro cannot skip zeros)."),
)
# the core's measured default (studio.core.optimize.config.DISTILL_BY_DEFAULT, which the window cannot import
# without TensorFlow's package): off for both kinds, distillation did not beat plain fine-tuning on our data
DISTILL_DEFAULT = {"channels": False, "weights": False}


class PruneKindBox(QWidget):
    """Two choices with what each shrinks, and "learn from the trained model" (distillation)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.group = QButtonGroup(self)
        self.buttons: dict[str, QRadioButton] = {}
        self.explain: dict[str, QLabel] = {}
        for key, title, text in KINDS:
            button = QRadioButton(title)
            button.setObjectName(f"pruneKind_{key}")
            self.group.addButton(button)
            self.buttons[key] = button
            label = QLabel(text)
            label.setObjectName("note")
            label.setWordWrap(True)
            label.setContentsMargins(24, 0, 0, 4)
            self.explain[key] = label
            layout.addWidget(button)
            layout.addWidget(label)
            button.toggled.connect(self._kind_toggled)
        self.distill_check = QCheckBox("Learn from the trained model while fine-tuning (distillation)")
        self.distill_check.setObjectName("distillCheck")
        self.distill_check.setToolTip("The pruned model also copies the trained model's softened answers, not "
                                      "only the labels. Off by default: on our data it did not beat plain "
                                      "fine-tuning at the same budget; try it.")
        self.distill_check.toggled.connect(self.changed)
        layout.addWidget(self.distill_check)
        self.buttons["channels"].setChecked(True)

    def kind(self) -> str:
        return next((k for k, b in self.buttons.items() if b.isChecked()), "channels")

    def values(self) -> dict[str, Any]:
        return {"prune_kind": self.kind(), "distill": self.distill_check.isChecked()}

    def set_values(self, kind: str | None, distill: bool | None) -> None:
        kind = kind if kind in self.buttons else "channels"
        self.blockSignals(True)
        try:
            self.buttons[kind].setChecked(True)
            self.distill_check.setChecked(DISTILL_DEFAULT[kind] if distill is None else bool(distill))
        finally:
            self.blockSignals(False)

    def set_pruning(self, on: bool) -> None:
        """Pruning off: the choices do not apply (shown, greyed)."""
        for widget in (*self.buttons.values(), *self.explain.values(), self.distill_check):
            widget.setEnabled(on)

    @Slot(bool)
    def _kind_toggled(self, checked: bool) -> None:
        if checked:  # a new kind starts from its own measured default
            self.distill_check.blockSignals(True)
            self.distill_check.setChecked(DISTILL_DEFAULT[self.kind()])
            self.distill_check.blockSignals(False)
            self.changed.emit()


def pct(x: Any) -> str:
    return "—" if x is None else f"{100 * float(x):.1f} %"


def shown_accuracy(v: dict[str, Any]) -> tuple[float | None, str, str]:
    """(value, cell text, tooltip) of a variant's Accuracy on the Optimize and Export pages ("" tooltip: the
    column's own): measured on validation, unless the model was refitted
    on the validation examples (a closed-form model): then on the test split when there is one, else the
    validation figure marked as seen in training."""
    seen = v.get("val_seen_in_training")
    # sensors: per recording, the Evaluate page's headline (the mean of each recording's window answers)
    per_rec = v.get("recording_accuracy") is not None
    acc = v.get("recording_accuracy") if per_rec else v.get("accuracy")
    test = v.get("test_recording_accuracy") if per_rec and v.get("test_recording_accuracy") is not None \
        else v.get("test_accuracy")
    if not seen:
        return acc, pct(acc), ""
    if test is not None:
        return (test, f"{pct(test)} (test)",
                f"Measured on the test examples: the validation ones are no fair test here ({seen}).")
    return (acc, f"{pct(acc)} (seen)",
            f"Not a fair test: {seen}. Import a test folder (or evaluate on new data) for a fair figure.")


def effect_text(variant: dict[str, Any]) -> str:
    """What a variant changed against the unpruned int8 model of the same run, e.g. "flash 0.42×, RAM 0.52×,
    zipped 0.40×, −1.0 points"; "" without a reference."""
    vs = variant.get("vs_int8") or {}
    if not vs:
        return ""
    parts = []
    for key, word in (("flash_bytes", "flash"), ("arena_bytes", "RAM"), ("gzip_bytes", "zipped")):
        if vs.get(key) is not None:
            parts.append(f"{word} {vs[key]:.2f}×")
    # the same accuracy as the table's column: per recording for sensor projects
    points = vs.get("recording_accuracy_points") if vs.get("recording_accuracy_points") is not None else \
        vs.get("accuracy_points")
    if points is not None:
        parts.append(f"{points:+.1f} points".replace("-", "−"))
    return ", ".join(parts)


__all__ = ["DISTILL_DEFAULT", "KINDS", "PruneKindBox", "effect_text", "pct", "shown_accuracy"]
