"""Data import: a folder of images or CSV recordings becomes a manifest with a frozen split.

``import_data`` is the only writer of ``P/data/``. It reads and checks everything first and writes only when
the whole import succeeded, so a failed or cancelled import leaves the previous data (and every run)
as it was.

Manifest format: see docs/ARCHITECTURE.md ("Data manifest").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from studio.core.errors import ConfigError, DatasetError, ProjectError
from studio.core.formats import stamp
from studio.core.project import SPLITS, modality_of
from studio.core.reporter import Reporter, check_cancel

from .common import ImportResult, check_fractions, summary_from_manifest

__all__ = [
    "ImportResult",
    "import_data",
    "read_labelled",
    "sample_path",
    "split_samples",
    "resolve_root",
]


def import_data(
    project: Any,
    source: str | Path,
    *,
    test_source: str | Path | None = None,
    val_split: float = 0.2,
    test_split: float = 0.0,
    seed: int = 1234,
    window: int | None = None,
    stride: int | None = None,
    label_column: str | None = None,
    recording_column: str | None = None,
    channels: Sequence[str] | None = None,
    reporter: Reporter | None = None,
    normal: str | None = None,
) -> ImportResult:
    """Import ``source`` into ``project`` (replacing earlier data; runs are kept) and return what was found.

    Anomaly projects: ``normal`` names the class folder of good examples (default: the one called good, ok or
    normal); the other folders are defect types, kept out of training (:mod:`studio.core.anomaly.importing`).

    Raises DatasetError (unusable data), ConfigError (bad fractions) or Cancelled; in every such case nothing
    in the project changes.
    """
    check_fractions(val_split, test_split)
    if normal is not None and not project.is_anomaly:
        raise ConfigError("--normal applies to anomaly projects only",
                          hint="create the project with --task image-anomaly or sensor-anomaly")
    anomaly = {"anomaly": True, "normal": normal} if project.is_anomaly else {}
    if project.modality == "image":
        if any(v is not None for v in (window, stride, label_column, recording_column, channels)):
            raise DatasetError(
                "window, stride, label/recording column and channels apply to sensor projects only",
                hint="this is an image project",
            )
        from .image import import_images

        manifest = import_images(
            project.path,
            source,
            test_source=test_source,
            val_split=val_split,
            test_split=test_split,
            seed=seed,
            reporter=reporter,
            **anomaly,
        )
        arrays = None
    else:
        from .sensor.manifest import import_sensors

        manifest, arrays = import_sensors(
            source,
            test_source=test_source,
            val_split=val_split,
            test_split=test_split,
            seed=seed,
            window=window,
            stride=stride,
            label_column=label_column,
            recording_column=recording_column,
            channels=channels,
            reporter=reporter,
            **anomaly,
        )
    if project.list_runs():
        manifest["warnings"].append(
            "The project already has trained models; they were trained on the previous data. Train again to "
            "use the new data."
        )
    check_cancel(reporter)
    _commit(project, manifest, arrays)
    if reporter:
        reporter.progress(1.0, "imported")
    return result_from_manifest(manifest)


def _commit(project: Any, manifest: dict[str, Any], arrays: dict | None) -> None:
    """Replace ``P/data`` (manifest and recordings) in one swap, then the project summary.

    Both files are written into a staged folder stamped with one generation id (manifest key ``generation``,
    the recordings' ``__generation__``) and swapped in (:func:`studio.core.commit.swap_dir`): a crash leaves
    the old data or the new, and loading refuses recordings of another generation than the manifest's.
    """
    from studio.core import commit
    from studio.core.fsutil import atomic_write_json

    generation = commit.new_generation()
    manifest["generation"] = generation
    staged = commit.staging_dir(project.path, project.data_dir.name)
    try:
        if arrays is not None:
            from .sensor.recordings import RECORDINGS_FILE, write_recordings

            write_recordings(staged / RECORDINGS_FILE, arrays, generation)
        atomic_write_json(staged / project.manifest_path.name, stamp("manifest", dict(manifest)))
    except BaseException:
        commit.discard(staged)
        raise
    commit.swap_dir(staged, project.data_dir)
    project.update(data=dict(summary_from_manifest(manifest), generation=generation))


def result_from_manifest(manifest: dict[str, Any]) -> ImportResult:
    extra: dict[str, Any] = {"channels": manifest.get("channels"), "source": manifest.get("source")}
    if modality_of(manifest.get("task")) == "sensor":
        extra.update(
            window=manifest["window"],
            stride=manifest["stride"],
            recordings=dict(manifest.get("recording_counts", {})),
            layout=manifest.get("layout"),
            label_column=manifest.get("label_column"),
            recording_column=manifest.get("recording_column"),
            time_column=manifest.get("time_column"),
            ignored_columns=manifest.get("ignored_columns", []),
            sample_rate_hz=manifest.get("sample_rate_hz"),
        )
    else:
        extra["image_size"] = manifest.get("image_size")
    if manifest.get("anomaly"):
        from studio.core.anomaly.data import good_and_defect_counts

        extra.update(normal_class=manifest.get("normal_class"), good_vs_defect=good_and_defect_counts(manifest))
    return ImportResult(
        task=manifest["task"],
        classes=dict(manifest["counts"]),
        skipped=list(manifest["skipped"]),
        warnings=list(manifest["warnings"]),
        splits=manifest["split_counts"],
        manifest=manifest,
        extra=extra,
    )


# ---------------------------------------------------------------------------------------------- reading back
def resolve_root(project: Any, manifest: dict[str, Any], index: int) -> Path:
    """The folder of root ``index``: its absolute path if it exists, else its path relative to the project."""
    root = manifest["roots"][index]
    primary = Path(root["path"])
    if primary.is_dir():
        return primary
    if root.get("rel"):
        moved = (Path(project.path) / root["rel"]).resolve()
        if moved.is_dir():
            return moved
    return primary


def sample_path(project: Any, manifest: dict[str, Any], sample: dict[str, Any],
                roots: list[Path] | None = None) -> Path:
    """Absolute path of one image sample of the manifest, confined to its root (a ProjectError for a path that
    is absolute, climbs out with ``..`` or leaves through a link: the manifest may come from someone else).
    ``roots`` are the resolved roots, when the caller resolves many samples."""
    from studio.core.untrusted import confined

    index = sample.get("root", 0) if isinstance(sample, dict) else None
    count = len(manifest.get("roots") or [])
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < count:
        raise ProjectError(f"a sample names data folder {index!r}, but the manifest has {count}",
                           path=project.manifest_path, hint="import the data again")
    root = roots[index] if roots is not None else resolve_root(project, manifest, index)
    return confined(root, sample.get("path"), source=project.manifest_path)


def split_samples(
    project: Any, split: str, manifest: dict[str, Any] | None = None
) -> tuple[list[str], np.ndarray, list[str]]:
    """(absolute paths, label indices int64, ids) of the image samples in ``split``, in manifest order.

    The image counterpart of ``sensor.split_windows(project, split, manifest)`` (same argument order, same
    ``(x, labels, ids)`` shape). Ids are the paths relative to their root, ``[test] ...`` for a separate test
    folder.
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}", hint="use train, val or test")
    manifest = manifest or project.load_manifest()
    if modality_of(manifest.get("task")) != "image":
        raise ProjectError("split_samples is for image projects; use sensor.split_windows for sensors")
    roots = [resolve_root(project, manifest, i) for i in range(len(manifest["roots"]))]
    index = {c: i for i, c in enumerate(manifest["classes"])}
    paths, labels, ids = [], [], []
    for s in manifest["samples"]:
        if s["split"] != split or s.get("excluded"):  # excluded by the user (curation.py)
            continue
        paths.append(str(sample_path(project, manifest, s, roots)))
        labels.append(index[s["label"]])
        ids.append(s["path"] if s.get("root", 0) == 0 else f"[test] {s['path']}")
    return paths, np.asarray(labels, dtype=np.int64), ids


def read_labelled(project: Any, path: str | Path, *, normalized: bool = True) -> Any:
    """Read an external labelled folder / CSV with the project's classes (for ``evaluate --data``).

    Images: list of (absolute path, label index). Sensors: (windows float32 normalized with the project's
    statistics, labels int64, ids). A class the project does not know is a DatasetError naming it.
    ``normalized=False`` returns raw sensor windows, for callers that normalize with a run's own statistics
    (which differ from the manifest's if the data was re-imported after training).
    """
    manifest = project.load_manifest()
    if project.modality == "image":
        from .image import read_labelled_images

        return read_labelled_images(Path(path), list(manifest["classes"]))
    from .sensor.windows import read_labelled_sensors

    return read_labelled_sensors(manifest, path, normalized=normalized)
