"""The wizard's shared state: the open project, which steps are done, recent projects, the worker and the busy
policy.

Pages talk to each other only through this object (signals), never by reaching into one another, which keeps
the main window thin. User preferences (recent projects) live in an INI file in ``user_data_dir()`` — apart
from any project, and redirected by ``STUDIO_HOME`` in tests.

**One writer.** The window never writes a project (except creating an empty one): it *reads* project.json
and the files beside it, and asks the worker to write. :meth:`AppState.save_settings` and
:meth:`AppState.mark_done` apply the change to the window's copy at once (pages read it back immediately) and
send it to the worker's ``update`` job, which merges it key by key under the project lock. After a job that
writes, :meth:`AppState.reload_project` re-reads the project (and re-applies changes still on their way).
Pages start work with :meth:`AppState.run` (a job in the worker) and :meth:`AppState.query` (an instant read
beside a running job): they build a request and render the result, nothing more.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QSettings, Signal, Slot

from studio.core.errors import ProjectError
from studio.core.project import Project, merge_changes
from studio.gui.busy import BusyPolicy
from studio.gui.worker_client import RemoteJob, client
from studio.resources import user_data_dir

STEPS: tuple[tuple[str, str], ...] = (
    ("data", "Data"),
    ("model", "Model"),
    ("train", "Train"),
    ("evaluate", "Evaluate"),
    ("optimize", "Optimize"),
    ("export", "Export"),
    ("tryit", "Try it"),
)
STEP_IDS = tuple(step for step, _ in STEPS)
MAX_RECENT = 8


def variant_runs(project: Project) -> list[str | None]:
    """The run each variant was built from (``variant.json``'s ``run_id``), read without the worker."""
    import json

    out: list[str | None] = []
    for name in project.list_variants():
        try:
            data = json.loads((project.variants_dir / name / "variant.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        out.append(data.get("run_id") if isinstance(data, dict) else None)
    return out


def gui_settings() -> QSettings:
    """The app's own preferences file (never inside a project)."""
    folder = user_data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return QSettings(str(folder / "gui.ini"), QSettings.Format.IniFormat)


class AppState(QObject):
    """Holds the open project and tells pages when it, the step completion, or TensorFlow changes."""

    project_changed = Signal()  # another project was opened (or closed)
    project_updated = Signal()  # the same project was re-read after a job changed it
    steps_changed = Signal()
    tf_ready_changed = Signal(bool)
    message = Signal(str)  # a status-bar line

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.settings = gui_settings()
        self.worker = client()
        self.busy = BusyPolicy(self.worker)  # no Qt parent: it lives exactly as long as this state
        self._pending: dict[int, tuple[str, dict[str, Any]]] = {}  # update job id -> (project path, changes)
        self.worker.state_changed.connect(self._worker_state_changed)

    @property
    def tf_ready(self) -> bool:
        return self.worker.tf_ready

    @property
    def tf_error(self) -> str:
        return self.worker.tf_error

    @Slot()
    def _worker_state_changed(self) -> None:
        if shiboken6.isValid(self):  # the worker outlives states and windows (tests make several)
            self.tf_ready_changed.emit(self.worker.tf_ready)

    # ----------------------------------------------------------------------------- jobs
    def run(self, job: str, request: dict[str, Any] | None = None, *, succeeded: Any = None, failed: Any = None,
            progress: Any = None, status: Any = None, metrics: Any = None, batch_metrics: Any = None,
            done: Any = None, task: Any = None, owner: QObject | None = None, exclusive: bool = True,
            lane: str = "job", project: bool = True) -> RemoteJob:
        """Start worker job ``job`` on the open project with ``request``; returns its :class:`RemoteJob`.

        Every slot (bound ``@Slot`` methods) and ``task`` (a TaskBar to follow it) is connected before the
        request is sent, so nothing can be missed. A job that writes the project makes the state re-read it
        before the page's ``succeeded`` / ``failed`` slot runs. ``exclusive=False``: a quick background job
        that the busy policy ignores (size estimates). ``project=False``: a job that needs no project.
        """
        path = str(self.project.path) if project and self.project is not None else None
        remote = self.worker.create(job, path, request, lane=lane, exclusive=exclusive and lane == "job",
                                    owner=owner)
        remote.succeeded.connect(self._job_ended)
        remote.failed.connect(self._job_ended)
        for signal, slot in ((remote.succeeded, succeeded), (remote.failed, failed), (remote.progress, progress),
                             (remote.status, status), (remote.metrics, metrics),
                             (remote.batch_metrics, batch_metrics), (remote.done, done)):
            if slot is not None:
                signal.connect(slot)
        if task is not None:
            task.follow(remote)
        return self.worker.submit(remote)

    def query(self, job: str, request: dict[str, Any] | None = None, *, succeeded: Any = None,
              failed: Any = None) -> RemoteJob:
        """An instant read in the worker (answered even while a long job runs)."""
        return self.run(job, request, succeeded=succeeded, failed=failed, lane="query")

    @Slot(object)
    def _job_ended(self, _result: object) -> None:
        job = self.sender()
        if isinstance(job, RemoteJob) and job.writes and job.lane == "job" and self.project is not None \
                and job.project == str(self.project.path):
            self.reload_project()

    def reload_project(self) -> None:
        """Re-read the open project from disk (a job changed it), keeping changes still on their way."""
        project = self.project
        if project is None:
            return
        try:
            project.reload()
        except ProjectError as exc:
            self.message.emit(f"Could not re-read the project: {exc}")
            return
        for path, changes in self._pending.values():
            if path == str(project.path):
                project.data = merge_changes(project.data, changes)
        self.project_updated.emit()
        self.steps_changed.emit()

    def _send_update(self, changes: dict[str, Any]) -> None:
        project = self.project
        if project is None:
            return
        project.data = merge_changes(project.data, changes)
        job = self.query("update", {"changes": changes}, succeeded=self._update_saved, failed=self._update_failed)
        if not job.isFinished():
            self._pending[job.id] = (str(project.path), changes)

    @Slot(object)
    def _update_saved(self, _result: object) -> None:
        job = self.sender()
        if isinstance(job, RemoteJob):
            self._pending.pop(job.id, None)

    @Slot(object)
    def _update_failed(self, exc: BaseException) -> None:
        job = self.sender()
        if isinstance(job, RemoteJob):
            self._pending.pop(job.id, None)
        self.message.emit(f"Your last choice was not saved: {exc}")

    def pending_updates(self) -> int:
        return len(self._pending)

    # ----------------------------------------------------------------------------- project
    def set_project(self, project: Project | None) -> None:
        """Make ``project`` current (a Project object the window only reads; the worker writes it)."""
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
        self._send_update({"settings": {section: values}})  # only this section's keys: merged, never replaced

    def page_settings(self, section: str) -> dict[str, Any]:
        if self.project is None:
            return {}
        value = self.project.settings.get(section)
        return dict(value) if isinstance(value, dict) else {}

    # ----------------------------------------------------------------------------- steps
    def mark_done(self, step: str, done: bool = True) -> None:
        """Record that a step was completed (only for steps whose result is not a file we can look at), for
        the project's current model: the record holds its run id, so a new model un-ticks the step."""
        if self.project is None:
            return
        self._send_update({"wizard": {step: (self.project.data.get("active_run") or True) if done else False}})
        self.steps_changed.emit()

    def refresh_steps(self) -> None:
        self.steps_changed.emit()

    def is_done(self, step: str) -> bool:
        """Whether ``step`` is complete, judged from what exists in the project folder where possible."""
        project = self.project
        if project is None:
            return False
        wizard = project.data.get("wizard") or {}
        active = project.data.get("active_run")
        if step == "data":
            return project.has_data()
        if step == "model":  # an anomaly detector has no architecture to pick
            return (project.is_anomaly or bool(self.page_settings("train").get("arch"))) and project.has_data()
        if step == "train":
            return bool(active) and active in project.list_runs()
        if step == "optimize":
            return bool(active) and any(run == active for run in variant_runs(project))
        # evaluate / export: done for the model they were done with (the wizard records its run id)
        return self.is_done("train") and wizard.get(step) == active

    def is_reachable(self, step: str) -> bool:
        """A step can be opened once what it needs exists (data before training, a run before evaluating...)."""
        project = self.project
        if project is None:
            return False
        if step == "data":
            return True
        if step in ("model", "train"):
            return project.has_data()
        if step in ("evaluate", "optimize", "tryit"):
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
