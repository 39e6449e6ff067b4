"""The wizard's shared state: the open project, which steps are done, recent projects, TensorFlow readiness.

Pages talk to each other only through this object (signals), never by reaching into one another, which keeps
the main window thin. User preferences (recent projects) live in an INI file in ``user_data_dir()`` — apart
from any project, and redirected by ``STUDIO_HOME`` in tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal, Slot

from studio.core.project import Project
from studio.resources import user_data_dir

STEPS: tuple[tuple[str, str], ...] = (
    ("data", "Data"),
    ("model", "Model"),
    ("train", "Train"),
    ("evaluate", "Evaluate"),
    ("optimize", "Optimize"),
    ("export", "Export"),
)
STEP_IDS = tuple(step for step, _ in STEPS)
MAX_RECENT = 8


def gui_settings() -> QSettings:
    """The app's own preferences file (never inside a project)."""
    folder = user_data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return QSettings(str(folder / "gui.ini"), QSettings.Format.IniFormat)


class AppState(QObject):
    """Holds the open project and tells pages when it, the step completion, or TensorFlow changes."""

    project_changed = Signal()
    steps_changed = Signal()
    tf_ready_changed = Signal(bool)
    message = Signal(str)  # a status-bar line

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.tf_ready = False
        self.tf_error = ""
        self.settings = gui_settings()

    # ----------------------------------------------------------------------------- project
    def set_project(self, project: Project | None) -> None:
        self.project = project
        if project is not None:
            self.add_recent(project.path)
        self.project_changed.emit()
        self.steps_changed.emit()

    def open_project(self, path: str | Path) -> Project:
        """Open the project at ``path`` (raises ProjectError for a bad folder) and make it current."""
        project = Project.open(path)
        self.set_project(project)
        return project

    def save_settings(self, section: str, values: Any) -> None:
        """Remember a page's choices in the project (``project.settings[section]``) and save it now."""
        if self.project is None:
            return
        self.project.update(settings={section: values})  # only this section's keys: merged, never replaced

    def page_settings(self, section: str) -> dict[str, Any]:
        if self.project is None:
            return {}
        value = self.project.settings.get(section)
        return dict(value) if isinstance(value, dict) else {}

    # ----------------------------------------------------------------------------- steps
    def mark_done(self, step: str, done: bool = True) -> None:
        """Record that a step was completed (only for steps whose result is not a file we can look at)."""
        if self.project is None:
            return
        self.project.update(wizard={step: bool(done)})
        self.steps_changed.emit()

    def refresh_steps(self) -> None:
        self.steps_changed.emit()

    def is_done(self, step: str) -> bool:
        """Whether ``step`` is complete, judged from what exists in the project folder where possible."""
        project = self.project
        if project is None:
            return False
        wizard = project.data.get("wizard") or {}
        if step == "data":
            return project.has_data()
        if step == "model":
            return bool(self.page_settings("train").get("arch")) and project.has_data()
        if step == "train":
            return bool(project.list_runs())
        if step == "optimize":
            return bool(project.list_variants())
        return bool(wizard.get(step))

    def is_reachable(self, step: str) -> bool:
        """A step can be opened once what it needs exists (data before training, a run before evaluating...)."""
        project = self.project
        if project is None:
            return False
        if step == "data":
            return True
        if step in ("model", "train"):
            return project.has_data()
        if step in ("evaluate", "optimize"):
            return bool(project.list_runs())
        if step == "export":
            return bool(project.list_variants())
        return False

    # ----------------------------------------------------------------------------- recent projects
    def recent_projects(self) -> list[str]:
        value = self.settings.value("recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or []) if v]

    def add_recent(self, path: str | Path) -> None:
        path = str(Path(path).absolute())
        recent = [p for p in self.recent_projects() if p != path]
        self.settings.setValue("recent", [path, *recent][:MAX_RECENT])
        self.settings.sync()

    def forget_recent(self, path: str) -> None:
        self.settings.setValue("recent", [p for p in self.recent_projects() if p != path])
        self.settings.sync()

    # ----------------------------------------------------------------------------- TensorFlow
    @Slot(bool, str)
    def set_tf_ready_from_loader(self, ready: bool, error: str) -> None:
        self.tf_error = error
        self.set_tf_ready(ready)

    def set_tf_ready(self, ready: bool) -> None:
        self.tf_ready = ready
        self.tf_ready_changed.emit(ready)
