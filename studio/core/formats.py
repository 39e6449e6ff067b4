"""Format versions of Studio's JSON files: stamped on write, checked on load, upgraded by migrators.

Every file kind has a version field and a current version (:data:`FORMATS`). Loading a file
(:func:`upgrade`, or :func:`read_versioned` which also reads it) checks its version:

- newer than this Studio knows: :class:`~studio.core.errors.ProjectError` "made by a newer Studio: update";
- older: the migrators registered with ``@migrator(kind, n)`` (each turns version ``n`` into ``n + 1``) run
  in order, in memory; the next save writes the current version;
- missing: version 0, the files Studio wrote before it versioned them (all but ``project.json``, which always
  had ``schema_version`` and without one is not a Studio project).

Writers call :func:`stamp`. Every migrator lives in this module, and the chain is checked when it loads: each
kind has a migrator for every version below its current one, so a forgotten migrator fails at import, not at
a user's desk. To change a format: raise its ``current`` and add ``@migrator(kind, old_current)`` below.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from studio.core.errors import ProjectError

Migrator = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class FileFormat:
    kind: str
    key: str  # the version field in the file
    current: int
    title: str  # how messages name the file
    required: bool = False  # a file without the field is not one of ours (else it is version 0)


FORMATS: dict[str, FileFormat] = {
    f.kind: f
    for f in (
        FileFormat("project", "schema_version", 1, "project.json", required=True),
        FileFormat("manifest", "schema_version", 1, "the data manifest (data/manifest.json)"),
        FileFormat("model", "format", 1, "model.json"),
        FileFormat("variant", "schema_version", 1, "variant.json"),
        FileFormat("bundle", "schema_version", 1, "bundle.json"),
    )
}

_MIGRATORS: dict[str, dict[int, Migrator]] = {kind: {} for kind in FORMATS}


def migrator(kind: str, from_version: int) -> Callable[[Migrator], Migrator]:
    """Register ``fn(data) -> data`` as the upgrade of a ``kind`` file from ``from_version`` to the next.

    A migrator may change ``data`` in place and return it; it does not set the version field (the chain does).
    """
    if kind not in FORMATS:
        raise ValueError(f"unknown file kind {kind!r}")

    def register(fn: Migrator) -> Migrator:
        if from_version in _MIGRATORS[kind]:
            raise ValueError(f"two migrators for {kind} version {from_version}")
        _MIGRATORS[kind][from_version] = fn
        return fn

    return register


def stamp(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with the current version of ``kind`` set (in place; returned for convenience)."""
    fmt = FORMATS[kind]
    data[fmt.key] = fmt.current
    return data


def version_of(kind: str, data: dict[str, Any], path: str | Path | None = None) -> int:
    fmt = FORMATS[kind]
    if fmt.key not in data:
        if fmt.required:
            raise ProjectError(f"{fmt.title} has no {fmt.key}: not a Studio file", path=path)
        return 0
    version = data[fmt.key]
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ProjectError(f"{fmt.title} has an invalid {fmt.key} {version!r}", path=path)
    return version


def upgrade(kind: str, data: Any, path: str | Path | None = None) -> dict[str, Any]:
    """``data`` (a parsed ``kind`` file) at the current version: checked, migrated forward if older."""
    fmt = FORMATS[kind]
    if not isinstance(data, dict):
        raise ProjectError(f"{fmt.title} is not a JSON object", path=path)
    version = version_of(kind, data, path)
    if version > fmt.current:
        raise ProjectError(
            f"{fmt.title} was made by a newer Studio (format {version}; this Studio reads up to "
            f"{fmt.current}): update Small Model Studio",
            path=path,
            hint="update Small Model Studio to open it",
        )
    while version < fmt.current:
        step = _MIGRATORS[kind].get(version)
        if step is None:  # e.g. project.json's schema_version 0: versions of that file start above it
            raise ProjectError(f"{fmt.title} has {fmt.key} {version}, which no Studio ever wrote", path=path,
                               hint=f"restore it from a backup, or set {fmt.key} to {fmt.current}")
        data = step(data)
        version += 1
        data[fmt.key] = version
    return data


def read_versioned(kind: str, path: str | Path) -> dict[str, Any]:
    """Read a ``kind`` JSON file and :func:`upgrade` it. Unreadable JSON raises OSError / ValueError as
    :func:`studio.core.fsutil.read_json` does (callers word those errors for their file)."""
    from studio.core.fsutil import read_json

    return upgrade(kind, read_json(path), path)


# ---------------------------------------------------------------------------------------------- migrators
# Version 0 is what Studio wrote before files were versioned: the same content, so the upgrades only add the
# keys later readers rely on, with the values those files meant.


@migrator("manifest", 0)
def _manifest_0(d: dict[str, Any]) -> dict[str, Any]:
    d.setdefault("test_source", None)
    d.setdefault("skipped", [])
    d.setdefault("warnings", [])
    if str(d.get("task", "")).startswith("sensor"):
        d.setdefault("sample_rate_hz", None)
        for key in ("label_column", "recording_column", "time_column"):
            d.setdefault(key, None)
        d.setdefault("ignored_columns", [])
        if "recording_counts" not in d and "recordings" in d:
            counts = {c: 0 for c in d.get("classes", [])}
            for r in d["recordings"]:
                if not str(r.get("id", "")).startswith("t"):  # "t0001"...: from a separate test source
                    counts[r["label"]] = counts.get(r["label"], 0) + 1
            d["recording_counts"] = counts
    return d


@migrator("model", 0)
def _model_0(d: dict[str, Any]) -> dict[str, Any]:
    if "task" not in d and isinstance(d.get("input_spec"), dict):
        d["task"] = d["input_spec"].get("kind")
    if "n_classes" not in d and isinstance(d.get("classes"), list):
        d["n_classes"] = len(d["classes"])
    return d


@migrator("variant", 0)
def _variant_0(d: dict[str, Any]) -> dict[str, Any]:
    d.setdefault("run_id", None)
    return d


@migrator("bundle", 0)
def _bundle_0(d: dict[str, Any]) -> dict[str, Any]:
    d.setdefault("run_id", None)
    return d


def _check_chains() -> None:
    for kind, fmt in FORMATS.items():
        missing = [v for v in range(0 if not fmt.required else 1, fmt.current) if v not in _MIGRATORS[kind]]
        if missing:
            raise RuntimeError(f"no migrator for {kind} version(s) {missing}")


_check_chains()
