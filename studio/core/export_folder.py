"""Where an export may write, and how it replaces an earlier bundle without touching anything else.

An export folder is the user's: they build firmware in it, keep notes beside the bundle. So an export

- refuses a folder that holds the project or one of its data folders, or lies inside them (outside
  ``P/exports``): replacing such a folder would delete the project's data, runs and variants;
- writes a new or empty folder in one swap (:func:`studio.core.commit.swap_dir`);
- re-exports into an earlier export by replacing only the files that export wrote (``bundle.json`` lists
  them with their SHA-256): a listed file the user changed since is kept when the new bundle has no file of
  that name; files the bundle never listed are never touched (:func:`studio.core.commit.apply_staged`);
- refuses any other non-empty folder.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from studio.core import commit
from studio.core.errors import ConfigError, ProjectError
from studio.core.formats import read_versioned
from studio.core.fsutil import read_json
from studio.core.untrusted import is_within, relative_problem

RECORD = "bundle.json"


def data_roots(project: Any) -> list[Path]:
    """The folders (or CSV files) the project's data was imported from, as far as the manifest names them."""
    try:
        manifest = project.load_manifest()
    except Exception:  # noqa: BLE001 - no or damaged data: nothing to protect beyond the project itself
        return []
    out = [Path(r["path"]) for r in manifest.get("roots") or [] if isinstance(r, dict) and r.get("path")]
    for key in ("source", "test_source"):
        if isinstance(manifest.get(key), str) and manifest[key]:
            out.append(Path(manifest[key]))
    return out


def check_output_folder(project: Any, out: Path) -> None:
    """ConfigError when ``out`` contains the project or a data root, or lies inside one (see module doc)."""
    project_dir = Path(project.path)
    hint = "choose a new folder outside the project and its data, e.g. " + str(project.exports_dir / "bundle")
    if is_within(project_dir, out):
        raise ConfigError("the output folder contains the project; exporting there could overwrite it",
                          path=out, hint=hint)
    if is_within(out, project_dir) and not (is_within(out, project.exports_dir)
                                            and not is_within(project.exports_dir, out)):
        raise ConfigError("the output folder is inside the project (only its exports/ folder takes bundles)",
                          path=out, hint=hint)
    for root in data_roots(project):
        if is_within(root, out):
            raise ConfigError(f"the output folder contains the project's data ({root})", path=out, hint=hint)
        if root.is_dir() and is_within(out, root):
            raise ConfigError(f"the output folder is inside the project's data folder ({root}); a re-import "
                              "would read the bundle as data", path=out, hint=hint)


def previous_bundle(out: Path) -> dict[str, str | None] | None:
    """The files an earlier export wrote into ``out`` ({name: sha256 or None}), {} for a new or empty folder,
    None when ``out`` is a folder of other files (the caller refuses it). An interrupted earlier export to
    ``out`` is finished or undone first (:func:`studio.core.commit.recover`)."""
    commit.recover(out.parent, only=out.name)  # a new folder's swap that was interrupted: undone
    if not out.exists():
        return {}
    if not out.is_dir():
        raise ConfigError("the output path is a file, not a folder", path=out, hint="choose a folder")
    if (out / RECORD).is_file() or (out / commit.JOURNAL).is_file():
        commit.recover(out)  # an interrupted re-export is finished first; a foreign folder is never touched
    entries = [p for p in out.iterdir() if p.name != commit.JOURNAL]
    if not entries:
        return {}
    if not (out / RECORD).is_file():
        return None
    try:
        record = read_versioned("bundle", out / RECORD)
        listed = record.get("files") or []
        hashes = record.get("sha256") or {}
    except (OSError, ValueError, AttributeError, ProjectError):
        return None  # unreadable, or from a newer Studio: not an export this one may replace files of
    files: dict[str, str | None] = {}
    for name in listed:
        if isinstance(name, str) and not relative_problem(name) and not name.startswith(".") and name != RECORD:
            files[name] = hashes.get(name) if isinstance(hashes, dict) else None
    return files


def file_hashes(folder: Path, names: list[str]) -> dict[str, str]:
    return {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in names if (folder / n).is_file()}


def commit_bundle(out: Path, staged: Path, files: list[str], previous: dict[str, str | None],
                  generation: str) -> None:
    """Put the staged bundle at ``out``: one swap for a new folder, else file by file (see module doc)."""
    if not out.exists() or not any(out.iterdir()):
        commit.swap_dir(staged, out)
        return
    remove = []
    for name, digest in previous.items():
        if name in files:
            continue
        path = out / name
        # Only what that export wrote and nobody changed since (legacy bundles without hashes: keep all).
        if digest and path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == digest:
            remove.append(name)
    commit.apply_staged(out, staged, files, remove, RECORD, generation)


def verify_bundle(out: Path) -> list[str]:
    """Problems of the bundle in ``out``: files ``bundle.json`` lists that are missing or differ (empty: ok)."""
    record = read_json(out / RECORD)
    problems = []
    for name, digest in (record.get("sha256") or {}).items():
        path = out / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            problems.append(f"{name} differs from the export")
    return problems


__all__ = ["check_output_folder", "previous_bundle", "commit_bundle", "verify_bundle", "file_hashes", "data_roots"]
