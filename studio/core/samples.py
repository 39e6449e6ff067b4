"""The bundled sample datasets and the ready-made sample projects the app offers on first run.

A sample project is an ordinary project folder under ``user_data_dir()/samples/<name>`` whose data manifest
points at the read-only sample data shipped with Studio (``samples/<dataset>/data``, found through
:func:`studio.resources.samples_root`, so it works from source and from a frozen bundle). Nothing is copied:
opening a sample costs one import (well under a second for images; a few seconds for the sensor CSVs).

:func:`open_sample` is idempotent: a valid existing sample project is reopened as is (with the user's runs and
variants), a stale one (the app moved, so the data path changed) is re-imported in place, and a broken one is
moved aside, never deleted.
"""

from __future__ import annotations

import datetime as _dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.errors import DatasetError, ProjectError, StudioError
from studio.core.project import PROJECT_FILE, Project, modality_of
from studio.core.reporter import Reporter
from studio.resources import samples_root, user_data_dir


@dataclass(frozen=True)
class SampleInfo:
    """One bundled sample: where its data lives and how the sample project is set up."""

    id: str  # the kind the GUI and CLI ask for: "image" or "sensor"
    task: str  # project task
    name: str  # folder name of the sample project under user_data_dir()/samples
    title: str
    description: str
    data: str  # data folder relative to samples_root()
    classes: tuple[str, ...]
    import_options: dict[str, Any] = field(default_factory=dict)  # extra keyword arguments for import_data
    train: dict[str, Any] = field(default_factory=dict)  # suggested settings stored in settings["train"]

    @property
    def data_dir(self) -> Path:
        return samples_root().joinpath(*self.data.split("/"))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "task": self.task,
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "data": str(self.data_dir),
            "classes": list(self.classes),
        }


SAMPLES: dict[str, SampleInfo] = {
    "image": SampleInfo(
        id="image",
        task="image",
        name="inspection-sample",
        title="Inspection camera: metal brackets",
        description=(
            "480 photos (128x128) of punched metal brackets on a conveyor belt, taken by an inspection camera. "
            "Sort good parts from three defects: a scratch, a hole that was never punched, and a crack. "
            "Lighting, position, rotation, dust and blur vary as they do on a real line."
        ),
        data="inspection/data",
        classes=("crack", "missing_hole", "ok", "scratch"),
    ),
    "sensor": SampleInfo(
        id="sensor",
        task="sensor",
        name="vibration-sample",
        title="Motor vibration: four machine states",
        description=(
            "80 recordings (2 s at 1 kHz, 3-axis accelerometer, one CSV each) of an electric motor that runs "
            "normally, is out of balance, has a worn bearing, or sits on a loose mount. Speed, noise and "
            "background knocks vary between recordings."
        ),
        data="vibration/data",
        classes=("bearing_fault", "imbalance", "loose_mount", "normal"),
    ),
    # The same data as anomaly projects: learn 'ok' / 'normal' from good examples only; the other folders are
    # defect types that only calibrate the threshold and show what it catches.
    "image-anomaly": SampleInfo(
        id="image-anomaly",
        task="image-anomaly",
        name="inspection-anomaly-sample",
        title="Inspection camera: learn 'ok' brackets, flag the rest",
        description=(
            "The inspection photos as an anomaly project: the detector learns from the 'ok' brackets only; "
            "scratches, missing holes and cracks are used to set and check the threshold."
        ),
        data="inspection/data",
        classes=("crack", "missing_hole", "ok", "scratch"),
        import_options={"normal": "ok"},
    ),
    "sensor-anomaly": SampleInfo(
        id="sensor-anomaly",
        task="sensor-anomaly",
        name="vibration-anomaly-sample",
        title="Motor vibration: learn 'normal', flag faults",
        description=(
            "The vibration recordings as an anomaly project: the detector learns the motor's normal running "
            "only; imbalance, bearing faults and a loose mount set and check the threshold."
        ),
        data="vibration/data",
        classes=("bearing_fault", "imbalance", "loose_mount", "normal"),
        import_options={"normal": "normal"},
    ),
}

VAL_SPLIT = 0.2
SEED = 1234


def get_sample(kind: str) -> SampleInfo:
    try:
        return SAMPLES[kind]
    except KeyError:
        raise ProjectError(
            f"unknown sample {kind!r}", hint="choose one of: " + ", ".join(sorted(SAMPLES))
        ) from None


def default_sample_dir(kind: str) -> Path:
    """Where :func:`open_sample` keeps the sample project when no destination is given."""
    return user_data_dir() / "samples" / get_sample(kind).name


def _is_valid(project: Project, sample: SampleInfo) -> bool:
    """True when the project holds this sample's data and its first images/recordings still resolve."""
    if project.task != sample.task or not project.has_data():
        return False
    try:
        manifest = project.load_manifest()
    except ProjectError:
        return False
    if list(manifest.get("classes") or []) != sorted(sample.classes):
        return False
    try:
        if Path(manifest.get("source", "")).resolve() != sample.data_dir.resolve():
            return False
    except OSError:
        return False
    if modality_of(sample.task) == "image":
        from studio.core.data import sample_path

        items = manifest.get("samples") or []
        if not items:
            return False
        try:
            return Path(sample_path(project, manifest, items[0])).is_file()
        except StudioError:
            return False
    return (project.data_dir / "recordings.npz").is_file()


def _import(project: Project, sample: SampleInfo, reporter: Reporter | None) -> None:
    from studio.core.data import import_data

    import_data(project, sample.data_dir, val_split=VAL_SPLIT, seed=SEED, reporter=reporter, **sample.import_options)
    project.reload()
    if sample.train and "train" not in project.settings:
        project.update(settings={"train": dict(sample.train)})


def open_sample(kind: str, dest_dir: str | Path | None = None, *, reporter: Reporter | None = None) -> Project:
    """Create, or reopen, the ready-to-train sample project ``kind`` ("image" or "sensor").

    With ``dest_dir`` the project is created there (it must be new or empty unless it already holds this
    sample's project); otherwise under ``user_data_dir()/samples/<name>``. Raises :class:`DatasetError` when
    Studio was installed without its samples.
    """
    sample = get_sample(kind)
    if not sample.data_dir.is_dir():
        raise DatasetError(
            "the sample data is not installed",
            path=sample.data_dir,
            hint="reinstall Small Model Studio, or regenerate it with samples/*/generate.py in a source checkout",
        )
    default = dest_dir is None
    path = Path(dest_dir).expanduser().absolute() if dest_dir is not None else default_sample_dir(kind)

    if (path / PROJECT_FILE).exists():
        try:
            project = Project.open(path)
        except ProjectError:
            if not default:
                raise
            _move_aside(path)
        else:
            if project.task != sample.task:
                raise ProjectError(
                    f"a {project.task} project already exists here, not the {kind} sample",
                    path=path,
                    hint="choose another folder for the sample project",
                )
            if not _is_valid(project, sample):
                # Stale (the app or the project moved) or interrupted: import again, keeping runs and variants.
                _import(project, sample, reporter)
            return project
    elif default and path.exists() and any(path.iterdir()):
        _move_aside(path)  # a half-created sample folder from an interrupted first run

    project = Project.create(path, sample.task, name=sample.title)
    try:
        _import(project, sample, reporter)
    except BaseException:
        # Leave no half-made project behind: the next attempt starts clean.
        shutil.rmtree(path, ignore_errors=True)
        raise
    return project


def _move_aside(path: Path) -> None:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.broken-{stamp}")
    try:
        path.rename(target)
    except OSError as exc:
        raise ProjectError(
            f"the sample project is broken and cannot be moved aside ({exc.strerror})",
            path=path,
            hint="delete the folder and try again",
        ) from exc


def list_samples() -> list[dict[str, Any]]:
    """Every sample with whether its data is installed (for the start page and ``studio`` help)."""
    return [dict(s.to_json(), installed=s.data_dir.is_dir()) for s in SAMPLES.values()]
