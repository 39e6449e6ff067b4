"""Start page: new project, open a project, recent projects, or the bundled sample projects."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QStandardPaths, Qt, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.project import Project
from studio.gui.pages.base import Page
from studio.gui.widgets import dialogs
from studio.gui.widgets.taskbar import TaskBar
from studio.resources import user_data_dir


def default_projects_folder() -> Path:
    """Where new projects go unless the user picks another place."""
    if os.environ.get("STUDIO_HOME"):
        return user_data_dir() / "projects"
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(docs or Path.home()) / "Small Model Studio"


def card(title: str, text: str = "") -> tuple[QFrame, QVBoxLayout]:
    frame = QFrame()
    frame.setObjectName("card")
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(18, 16, 18, 16)
    layout.setSpacing(10)
    heading = QLabel(title)
    heading.setObjectName("cardTitle")
    layout.addWidget(heading)
    if text:
        note = QLabel(text)
        note.setObjectName("note")
        note.setWordWrap(True)
        layout.addWidget(note)
    return frame, layout


class StartPage(Page):
    step = ""
    title = "Welcome"
    subtitle = "Create a project, open one you made before, or try a sample."

    def __init__(self, state: Any, parent: QWidget | None = None) -> None:
        super().__init__(state, parent)
        grid = QGridLayout()
        grid.setSpacing(16)

        # --- new project
        new_card, new = card("New project", "A project is a folder that keeps your data list, models and exports.")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("Name, e.g. Bracket inspection")
        self.name_edit.textChanged.connect(self._update_location)
        new.addWidget(self.name_edit)
        task_row = QHBoxLayout()
        self.image_radio = QRadioButton("Images (camera pictures)")
        self.sensor_radio = QRadioButton("Sensor recordings (CSV)")
        self.image_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.image_radio)
        group.addButton(self.sensor_radio)
        task_row.addWidget(self.image_radio)
        task_row.addWidget(self.sensor_radio)
        task_row.addStretch(1)
        new.addLayout(task_row)
        # a check box never wraps its text: the short choice here, the explanation in a wrapping note below
        self.anomaly_check = QCheckBox("Anomaly detection: learn what 'good' looks like")
        self.anomaly_check.setObjectName("anomalyCheck")
        new.addWidget(self.anomaly_check)
        new.addWidget(self.note("From good examples only; anything else is flagged. Few or no defect examples "
                                "are needed."))
        loc_row = QHBoxLayout()
        self.location_edit = QLineEdit()
        self.location_edit.setPlaceholderText("Project folder")
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._choose_location)
        loc_row.addWidget(self.location_edit, 1)
        loc_row.addWidget(browse)
        new.addLayout(loc_row)
        self.create_button = QPushButton("Create project")
        self.create_button.setObjectName("primaryButton")
        self.create_button.clicked.connect(self.create_project)
        box, actions = self.guarded_row(add=False)  # no other project while a job runs on this one
        actions.addWidget(self.create_button)
        actions.addStretch(1)
        new.addWidget(box)
        new.addWidget(self._busy_notes[-1])
        grid.addWidget(new_card, 0, 0)

        # --- samples
        sample_card, sample = card(
            "Try a sample",
            "Ready-made projects: pictures of parts on a conveyor (ok / defects), or vibration recordings of a "
            "motor. It is copied into your Studio folder the first time and reopens as you left it (your own data is never touched).",
        )
        box, row = self.guarded_row(add=False)
        self.sample_image_button = QPushButton("Open the image sample")
        self.sample_image_button.setObjectName("primaryButton")
        self.sample_image_button.clicked.connect(self.open_image_sample)
        self.sample_sensor_button = QPushButton("Open the sensor sample")
        self.sample_sensor_button.clicked.connect(self.open_sensor_sample)
        row.addWidget(self.sample_image_button)
        row.addWidget(self.sample_sensor_button)
        row.addStretch(1)
        sample.addWidget(box)
        sample.addWidget(self._busy_notes[-1])
        box, row = self.guarded_row(add=False)  # the same data as anomaly projects: good = ok / normal
        row.addWidget(QLabel("As anomaly detection:"))
        for kind, text in (("image-anomaly", "Parts: learn 'ok'"), ("sensor-anomaly", "Motor: learn 'normal'")):
            button = QPushButton(text)
            button.setObjectName(f"sample_{kind}")
            button.clicked.connect(lambda _=False, kind=kind: self.open_sample(kind))
            row.addWidget(button)
        row.addStretch(1)
        sample.addWidget(box)
        sample.addWidget(self._busy_notes[-1])
        self.sample_task = TaskBar()
        sample.addWidget(self.sample_task)
        grid.addWidget(sample_card, 1, 0)

        # --- open / recent
        open_card, opened = card("Open a project")
        self.recent_list = QListWidget()
        self.recent_list.setObjectName("recentList")
        self.recent_list.itemActivated.connect(self._open_recent_item)
        self.recent_list.setMinimumHeight(160)
        self.recent_list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.recent_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.recent_list.setWordWrap(False)
        self.recent_list.setSpacing(3)
        opened.addWidget(QLabel("Recent projects"))
        opened.addWidget(self.recent_list, 1)
        box, row = self.guarded_row(add=False)
        self.open_recent_button = QPushButton("Open selected")
        self.open_recent_button.clicked.connect(self._open_selected_recent)
        self.open_button = QPushButton("Open a folder…")
        self.open_button.clicked.connect(self._choose_project)
        row.addWidget(self.open_recent_button)
        row.addWidget(self.open_button)
        row.addStretch(1)
        opened.addWidget(box)
        opened.addWidget(self._busy_notes[-1])
        grid.addWidget(open_card, 0, 1, 2, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        self.body.addLayout(grid)
        self.body.addStretch(1)
        self._location_touched = False
        self.location_edit.textEdited.connect(self._mark_location_touched)
        self._update_location()

    # ------------------------------------------------------------------------------------------ state
    def reload(self) -> None:
        self.recent_list.clear()
        for path in self.state.recent_projects():
            missing = not (Path(path) / "project.json").exists()
            item = QListWidgetItem(f"{Path(path).name}{'  (missing)' if missing else ''}\n{path}")
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setToolTip(path)
            if missing:
                item.setForeground(Qt.GlobalColor.gray)
            self.recent_list.addItem(item)
        if self.recent_list.count():
            self.recent_list.setCurrentRow(0)
        self.open_recent_button.setEnabled(self.recent_list.count() > 0)

    @Slot()
    def _mark_location_touched(self) -> None:
        self._location_touched = True

    @Slot()
    def _update_location(self) -> None:
        if self._location_touched:
            return
        name = Project.safe_name(self.name_edit.text().strip() or "My project")
        self.location_edit.setText(str(default_projects_folder() / name))

    # ------------------------------------------------------------------------------------------ actions
    @Slot()
    def _choose_location(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Where should the project folder go?")
        if folder:
            name = Project.safe_name(self.name_edit.text().strip() or "My project")
            self.location_edit.setText(str(Path(folder) / name))
            self._location_touched = True

    @Slot()
    def create_project(self) -> None:
        location = self.location_edit.text().strip()
        if not location:
            dialogs.info(self, "New project", "Choose a folder for the project first.")
            return
        task = "image" if self.image_radio.isChecked() else "sensor"
        if self.anomaly_check.isChecked():
            task += "-anomaly"
        try:
            project = Project.create(location, task, name=self.name_edit.text().strip() or None)
        except Exception as exc:  # noqa: BLE001 - shown as a dialog
            dialogs.show_error(self, exc, "Could not create the project")
            return
        self._location_touched = False
        self.state.set_project(project)

    @Slot()
    def _choose_project(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a project folder")
        if folder:
            self.open_path(folder)

    @Slot(QListWidgetItem)
    def _open_recent_item(self, item: QListWidgetItem) -> None:
        self.open_path(item.data(Qt.ItemDataRole.UserRole))

    @Slot()
    def _open_selected_recent(self) -> None:
        item = self.recent_list.currentItem()
        if item is not None:
            self.open_path(item.data(Qt.ItemDataRole.UserRole))

    def open_path(self, path: str) -> bool:
        if self.state.busy.busy:
            dialogs.info(self, "Open a project", self.state.busy.reason())
            return False
        try:
            self.state.open_project(path)
        except Exception as exc:  # noqa: BLE001
            from studio.gui.widgets.open_data import offer_project_for_data

            if not offer_project_for_data(self, self.state, path):  # a data folder: offer a project for it
                dialogs.show_error(self, exc, "Could not open the project")
            return False
        return True

    # ------------------------------------------------------------------------------------------ samples
    @Slot()
    def open_image_sample(self) -> None:
        self.open_sample("image")

    @Slot()
    def open_sensor_sample(self) -> None:
        self.open_sample("sensor")

    def open_sample(self, kind: str) -> None:
        """Copy and import a bundled sample project in a worker (it reads a few hundred files)."""
        if self.is_busy():
            return

        self.job = self.state.run("open_sample", {"kind": kind}, project=False, succeeded=self._sample_ready,
                                  failed=self._sample_failed, task=self.sample_task, owner=self)

    @Slot(object)
    def _sample_ready(self, result: dict[str, Any]) -> None:
        self.sample_task.set_idle("")
        self.open_path(str(result["path"]))

    @Slot(object)
    def _sample_failed(self, exc: BaseException) -> None:
        self.sample_task.set_idle("")
        dialogs.show_error(self, exc, "Could not open the sample project")


