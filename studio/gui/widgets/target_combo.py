"""A combo box of device profiles bound to ``project.settings["target"]``."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QWidget


class TargetCombo(QComboBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from studio.core.targets import TARGETS

        self.setObjectName("targetCombo")
        for target in TARGETS.values():
            self.addItem(target.title, target.id)

    def set_target(self, target_id: str | None) -> None:
        index = self.findData(target_id or "linux")
        self.blockSignals(True)
        self.setCurrentIndex(max(index, 0))
        self.blockSignals(False)

    def target(self):  # -> TargetProfile
        from studio.core.targets import get_target

        return get_target(self.currentData())
