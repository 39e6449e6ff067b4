"""A project is a folder; this module owns its layout and its project.json.

Layout::

    P/project.json            schema_version, name, task, settings, active run (written atomically)
    P/data/manifest.json      the imported data and its frozen split (see studio.core.data.manifest)
    P/data/recordings.npz     sensor projects: the parsed recordings (float32), keyed by recording id
    P/runs/<run-id>/          one training run: config.json, model.json, metrics.json, weights.h5 (best)
    P/variants/<name>/        one optimized variant: variant.json, model.tflite
    P/exports/<name>/         export bundles

A project folder received from someone else is safe to open: it holds JSON, NumPy arrays (loaded with
``allow_pickle=False``) and HDF5 *weights* only. Models are rebuilt from the registry id and parameters in
``model.json``; no code, pickle or full-model file is ever loaded from a project.
"""

from __future__ import annotations

import copy
import datetime as _dt
from pathlib import Path
from typing import Any

from studio import __version__
from studio.core import lock
from studio.core.errors import ProjectError
from studio.core.formats import FORMATS, read_versioned, stamp, upgrade
from studio.core.fsutil import atomic_write_json, read_json, safe_name

SCHEMA_VERSION = FORMATS["project"].current
PROJECT_FILE = "project.json"
TASKS = ("image", "sensor", "image-anomaly", "sensor-anomaly")
# What the data is, whatever the task does with it: every image-vs-sensor decision asks for this.
MODALITIES = ("image", "sensor")
SPLITS = ("train", "val", "test")


def modality_of(task: str | None) -> str:
    """The data modality of a task: "image" for "image" and "image-anomaly", "sensor" likewise."""
    return str(task or "").split("-")[0]


def is_anomaly_task(task: str | None) -> bool:
    """Whether ``task`` learns what is normal (``"<modality>-anomaly"``) rather than named classes."""
    return str(task or "").endswith("-anomaly")

# Top-level keys of project.json whose value is merged key by key by Project.update (others are replaced).
MERGED_KEYS = ("settings", "wizard")
UPDATE_TIMEOUT_S = 10.0



# The type each top-level key of project.json must have when present (None is always allowed).
_KEY_TYPES: dict[str, type | tuple[type, ...]] = {
    "name": str, "settings": dict, "data": dict, "active_run": str, "active_variant": str, "wizard": dict,
}


def _check_types(data: dict[str, Any], file: Path) -> None:
    """Refuse, in one line, a project.json whose keys have the wrong type (``"settings": "x"`` would otherwise
    fail later, after a long step finished, when its result is saved)."""
    for key, kind in _KEY_TYPES.items():
        value = data.get(key)
        if value is not None and not isinstance(value, kind):
            raise ProjectError(
                f"project.json is damaged: {key!r} holds {type(value).__name__} {str(value)[:40]!r}",
                path=file,
                hint=f"fix or delete the {key!r} entry (or restore project.json from a backup)",
            )


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def merge_changes(data: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``data`` with ``changes`` applied: a copy; the one merge rule of :meth:`Project.update`.

    Keys in :data:`MERGED_KEYS` are merged one level down: ``settings`` by section, and within a section whose
    new value is a dict, key by key (a non-dict value such as ``"target": "linux"`` replaces the section);
    ``wizard`` step by step. Every other top-level key is replaced.
    """
    out = copy.deepcopy(data)
    for key, value in changes.items():
        if key in MERGED_KEYS and isinstance(value, dict):
            target = out.get(key)
            if not isinstance(target, dict):
                target = out[key] = {}
            for sub, sub_value in value.items():
                old = target.get(sub)
                if key == "settings" and isinstance(sub_value, dict) and isinstance(old, dict):
                    old.update(copy.deepcopy(sub_value))
                else:
                    target[sub] = copy.deepcopy(sub_value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class Project:
    """An open project folder. Cheap to create; nothing heavy is loaded until asked for."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = Path(path)
        self.data = data

    # ----------------------------------------------------------------- create / open / save
    @classmethod
    def create(cls, path: str | Path, task: str, name: str | None = None) -> "Project":
        path = Path(path).expanduser().absolute()
        if task not in TASKS:
            raise ProjectError(f"unknown task {task!r}", hint="use one of: " + ", ".join(TASKS))
        if (path / PROJECT_FILE).exists():
            raise ProjectError("a project already exists here", path=path, hint="open it, or choose another folder")
        if path.exists() and not path.is_dir():
            raise ProjectError("this is a file, not a folder", path=path, hint="choose a folder for the project")
        if path.exists() and any(path.iterdir()):
            raise ProjectError(
                "the folder is not empty", path=path, hint="choose a new or empty folder for the project"
            )
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProjectError(f"cannot create the folder ({exc.strerror})", path=path) from exc
        data = {
            "schema_version": SCHEMA_VERSION,
            "name": name or path.name,
            "task": task,
            "created": _now(),
            "modified": _now(),
            "studio_version": __version__,
            "data": None,  # summary of the imported data, set by the import step
            "settings": {},  # last choices per wizard step: {"train": {...}, "optimize": {...}, "target": id}
            "active_run": None,
            "active_variant": None,
        }
        project = cls(path, data)
        project.save()
        return project

    @classmethod
    def open(cls, path: str | Path) -> "Project":
        path = Path(path).expanduser().absolute()
        file = path / PROJECT_FILE if path.is_dir() or not path.name.endswith(".json") else path
        if file.name == PROJECT_FILE and file.parent != path:
            path = file.parent
        if not file.exists():
            raise ProjectError(
                "no project here (project.json is missing)",
                path=path,
                hint="create one with 'studio new', or choose the project folder",
            )
        try:
            data = read_json(file)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ProjectError(
                f"project.json is unreadable or corrupt ({exc})",
                path=file,
                hint="restore it from a backup; the data, runs and variants beside it are untouched",
            ) from exc
        if not isinstance(data, dict) or not isinstance(data.get("schema_version"), int):
            raise ProjectError("project.json has no schema_version: not a Studio project", path=file)
        data = upgrade("project", data, file)  # newer: "made by a newer Studio: update"; older: migrated
        if data.get("task") not in TASKS:
            raise ProjectError(f"project.json names an unknown task {data.get('task')!r}", path=file)
        _check_types(data, file)
        project = cls(path, data)
        project.recover()
        return project

    def recover(self) -> list[str]:
        """Finish or undo what an interrupted commit or atomic write left (in the project folder, data, variants
        and run folders), if anything: see :func:`studio.core.commit.recover`. Cheap when there is nothing to do
        (a few folder listings); skipped while another process holds the project's lock (it cleans up after
        itself); never raises."""
        from studio.core import commit
        from studio.core.errors import ProjectBusyError

        runs = [p for p in self.runs_dir.iterdir() if p.is_dir()] if self.runs_dir.is_dir() else []
        folders = [f for f in (self.path, self.variants_dir, self.data_dir, *runs) if commit.needs_recovery(f)]
        if not folders:
            return []
        done: list[str] = []
        try:
            with lock.project_lock(self.path, "cleaning up after an interrupted step"):
                for folder in folders:
                    done += commit.recover(folder)
        except (ProjectBusyError, OSError, ProjectError):
            pass
        return done

    def save(self) -> None:
        """Write the whole in-memory state. Only for a project just created: every later change goes through
        :meth:`update`, which writes only the keys it changes (so two writers never revert each other)."""
        self.data["modified"] = _now()
        with lock.write_guard(self.path):
            atomic_write_json(self.path / PROJECT_FILE, self.data)

    def update(self, changes: dict[str, Any] | None = None, *, timeout: float = UPDATE_TIMEOUT_S,
               **fields: Any) -> "Project":
        """Change only the given keys of project.json and adopt what is on disk.

        Under the project lock (:mod:`studio.core.lock`; re-entrant for the process holding it, e.g. a job),
        project.json is read again, ``changes`` (and keyword ``fields``) are merged in by :func:`merge_changes`
        and the file is written atomically. ``settings={"train": {"epochs": 5}}`` changes one key of one
        section and leaves every other setting as the file has it; ``active_run="run-1"`` replaces one key.
        Raises :class:`~studio.core.errors.ProjectBusyError` if another process holds the lock for longer
        than ``timeout`` seconds.
        """
        all_changes = {**(changes or {}), **fields}
        with lock.project_lock(self.path, "saving the project", timeout=timeout), lock.write_guard(self.path):
            file = self.path / PROJECT_FILE
            current = type(self).open(self.path).data if file.exists() else dict(self.data)
            merged = merge_changes(current, all_changes)
            merged["modified"] = _now()
            atomic_write_json(file, merged)
        self.data = merged
        return self

    def reload(self) -> "Project":
        """Re-read project.json (after another process, e.g. the worker, changed it)."""
        self.data = type(self).open(self.path).data
        return self

    # ----------------------------------------------------------------- simple properties
    @property
    def name(self) -> str:
        return str(self.data.get("name") or self.path.name)

    @property
    def task(self) -> str:
        return str(self.data["task"])

    @property
    def modality(self) -> str:
        """"image" or "sensor": what the data is (see :func:`modality_of`)."""
        return modality_of(self.task)

    @property
    def is_anomaly(self) -> bool:
        return is_anomaly_task(self.task)

    @property
    def settings(self) -> dict[str, Any]:
        return self.data.setdefault("settings", {})

    @property
    def data_dir(self) -> Path:
        return self.path / "data"

    @property
    def manifest_path(self) -> Path:
        return self.data_dir / "manifest.json"

    @property
    def runs_dir(self) -> Path:
        return self.path / "runs"

    @property
    def variants_dir(self) -> Path:
        return self.path / "variants"

    @property
    def exports_dir(self) -> Path:
        return self.path / "exports"

    # ----------------------------------------------------------------- data manifest
    def has_data(self) -> bool:
        return self.manifest_path.exists()

    def load_manifest(self) -> dict[str, Any]:
        if not self.manifest_path.exists():
            raise ProjectError(
                "no data imported yet", path=self.path, hint="import a data folder first ('studio import')"
            )
        from studio.core.untrusted import check_manifest

        try:
            manifest = read_versioned("manifest", self.manifest_path)
        except (OSError, ValueError) as exc:
            raise ProjectError(
                f"the data manifest is corrupt ({exc})", path=self.manifest_path, hint="import the data again"
            ) from exc
        return check_manifest(manifest, self.manifest_path)

    def save_manifest(self, manifest: dict[str, Any]) -> None:
        atomic_write_json(self.manifest_path, stamp("manifest", dict(manifest)))

    # ----------------------------------------------------------------- runs and variants
    def list_runs(self) -> list[str]:
        """Run ids of finished runs (those with a model.json and weights), oldest first."""
        if not self.runs_dir.exists():
            return []
        return sorted(
            p.name
            for p in self.runs_dir.iterdir()
            if not p.name.startswith(".") and p.is_dir() and (p / "model.json").exists()
            and (p / "weights.h5").exists()
        )

    def new_run_dir(self) -> tuple[str, Path]:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        n = 1
        while True:
            run_id = f"run-{stamp}" + (f"-{n}" if n > 1 else "")
            path = self.runs_dir / run_id
            try:
                path.mkdir()
                return run_id, path
            except FileExistsError:
                n += 1

    def run_dir(self, run_id: str | None = None) -> Path:
        """The folder of ``run_id``, or of the active (else latest) run."""
        runs = self.list_runs()
        if run_id is None:
            run_id = self.data.get("active_run") if self.data.get("active_run") in runs else None
            if run_id is None and runs:
                run_id = runs[-1]
        if run_id is None:
            raise ProjectError("no trained model yet", path=self.path, hint="train one first ('studio train')")
        if run_id not in runs:
            raise ProjectError(f"no finished run named {run_id!r}", path=self.runs_dir)
        return self.runs_dir / run_id

    def list_variants(self) -> list[str]:
        if not self.variants_dir.exists():
            return []
        # Hidden names are staging or set-aside folders of a commit (studio.core.commit), never variants.
        return sorted(
            p.name for p in self.variants_dir.iterdir() if not p.name.startswith(".") and (p / "variant.json").exists()
        )

    # The one implementation is studio.core.fsutil.safe_name; kept here because pages and stages call it so.
    safe_name = staticmethod(safe_name)
