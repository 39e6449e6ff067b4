"""Fixing labels after import: relabel or exclude samples (images) or recordings (sensors), reversibly.

Every change is recorded in the manifest itself, never in the user's folders:

* a relabelled entry keeps its imported label in ``original_label`` and gets the new ``label``;
* an excluded entry gets ``"excluded": true`` and is skipped by every reader of a split (training,
  evaluation, variants, suspects);
* ``manifest["curation"]`` lists what was done, when (a log the Data page and the report can show);
* :func:`restore` undoes both. The ``split`` of an entry never changes, and ``counts`` / ``split_counts`` /
  ``recording_counts`` are kept in step, so the frozen split stays frozen.

Entries are named the way ``studio suspects`` names them: an image's absolute path or its manifest path
("ok/img 001.png", "[test] ..." for the separate test folder), a recording's id ("r0007") or source file.
Writes happen under the project lock, through :meth:`Project.save_manifest` (atomic).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from studio.core.errors import DatasetError

from .common import now_iso

ACTIONS = ("relabel", "exclude", "restore")
LOG_LIMIT = 5000


def is_excluded(entry: dict[str, Any]) -> bool:
    """Whether a manifest sample / recording was excluded by the user (readers of a split skip it)."""
    return bool(entry.get("excluded"))


def entries(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The manifest's samples (images) or recordings (sensors)."""
    return manifest["samples"] if manifest.get("task") == "image" else manifest["recordings"]


def entry_name(manifest: dict[str, Any], entry: dict[str, Any]) -> str:
    """How an entry is named in lists and logs: the image's manifest path, or the recording's source (and id
    when a file holds several recordings)."""
    if manifest.get("task") == "image":
        return entry["path"] if int(entry.get("root", 0)) == 0 else f"[test] {entry['path']}"
    return f"{entry['source']}#{entry['id']}"


def _index(project: Any, manifest: dict[str, Any]) -> dict[str, int]:
    """Every accepted name of every entry -> its position."""
    out: dict[str, int] = {}
    if manifest.get("task") == "image":
        from . import sample_path

        for i, s in enumerate(manifest["samples"]):
            out[entry_name(manifest, s)] = i
            out[str(sample_path(project, manifest, s))] = i
        return out
    by_source: dict[str, list[int]] = {}
    for i, r in enumerate(manifest["recordings"]):
        out[r["id"]] = i
        out[entry_name(manifest, r)] = i
        by_source.setdefault(r["source"], []).append(i)
    for source, idx in by_source.items():
        if len(idx) == 1:  # a file name stands for its recording only when it holds one
            out[source] = idx[0]
    return out


def _find(project: Any, manifest: dict[str, Any], names: Iterable[str]) -> list[int]:
    index = _index(project, manifest)
    found = []
    for name in names:
        key = str(name)
        if key not in index:
            resolved = str(Path(key).expanduser().absolute())
            if resolved not in index:
                raise DatasetError(f"'{name}' is not a sample of this project", path=project.manifest_path,
                                   hint="use a path as 'studio suspects' lists it")
            key = resolved
        found.append(index[key])
    return found


def _counted(manifest: dict[str, Any], entry: dict[str, Any]) -> bool:
    """Whether ``counts`` includes this entry (a separate test folder's entries are only in split_counts)."""
    if manifest.get("task") == "image":
        return int(entry.get("root", 0)) == 0
    return not str(entry.get("source", "")).startswith("[test] ")


def _weight(manifest: dict[str, Any], entry: dict[str, Any]) -> int:
    return 1 if manifest.get("task") == "image" else int(entry.get("windows", 0))


def _tally(manifest: dict[str, Any], entry: dict[str, Any], sign: int) -> None:
    """Add (sign=+1) or remove (-1) an entry's weight under its current label."""
    if is_excluded(entry):
        return
    label, w = entry["label"], _weight(manifest, entry)
    split_counts = manifest["split_counts"].setdefault(entry["split"], {})
    split_counts[label] = split_counts.get(label, 0) + sign * w
    if _counted(manifest, entry):
        manifest["counts"][label] = manifest["counts"].get(label, 0) + sign * w
        if "recording_counts" in manifest:
            manifest["recording_counts"][label] = manifest["recording_counts"].get(label, 0) + sign


def _apply(manifest: dict[str, Any], entry: dict[str, Any], action: str, label: str | None) -> dict[str, Any] | None:
    """Change one entry; returns the log record, or None when nothing changed."""
    before = (entry["label"], is_excluded(entry))
    _tally(manifest, entry, -1)
    if action == "relabel":
        if label != entry.get("original_label", entry["label"]):
            entry.setdefault("original_label", entry["label"])
        else:
            entry.pop("original_label", None)
        entry["label"] = label
    elif action == "exclude":
        entry["excluded"] = True
    else:  # restore
        entry["label"] = entry.pop("original_label", entry["label"])
        entry.pop("excluded", None)
    _tally(manifest, entry, +1)
    after = (entry["label"], is_excluded(entry))
    if after == before:
        return None
    return {"name": entry_name(manifest, entry), "action": action, "from": before[0], "to": after[0],
            "excluded": after[1], "at": now_iso()}


def curate(project: Any, names: Iterable[str], action: str, label: str | None = None) -> dict[str, Any]:
    """Relabel, exclude or restore entries of the project's manifest (see the module docstring).

    Returns ``{"changed": [log records], "unchanged": n}``. The project summary in project.json follows.
    """
    from studio.core.lock import project_lock

    if action not in ACTIONS:
        raise DatasetError(f"unknown action {action!r}", hint="use relabel, exclude or restore")
    names = list(names)
    if not names:
        raise DatasetError("no samples named", hint="name at least one sample")
    with project_lock(project.path, f"{action} samples", timeout=10.0):
        manifest = project.load_manifest()
        if action == "relabel" and label not in manifest["classes"]:
            raise DatasetError(f"'{label}' is not one of the project's classes",
                               hint="the classes are " + ", ".join(manifest["classes"]))
        items = entries(manifest)
        changed = []
        for i in dict.fromkeys(_find(project, manifest, names)):
            record = _apply(manifest, items[i], action, label)
            if record is not None:
                changed.append(record)
        if changed:
            log = manifest.setdefault("curation", [])
            log.extend(changed)
            del log[: max(0, len(log) - LOG_LIMIT)]
            project.save_manifest(manifest)
            from .common import summary_from_manifest

            project.update(data=summary_from_manifest(manifest))
    return {"changed": changed, "unchanged": len(names) - len(changed)}


def curated(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The entries that differ from the import: relabelled or excluded (for the Data page and the report)."""
    out = []
    for e in entries(manifest):
        if is_excluded(e) or "original_label" in e:
            out.append({"name": entry_name(manifest, e), "label": e["label"],
                        "original_label": e.get("original_label", e["label"]), "excluded": is_excluded(e),
                        "split": e["split"]})
    return out



CAPTURES_DIR = "captures"  # under P/data/: camera frames saved from Try it


def _capture_split(name: str, val_split: float) -> str:
    """A new sample's split, fixed by its name (the split of every earlier sample never moves)."""
    import hashlib

    u = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little") / 2.0**64
    return "val" if u < float(val_split) else "train"


def add_capture(project: Any, frame: Any, label: str) -> dict[str, Any]:
    """Save a camera frame (uint8 ``[h, w, 3]``) as a PNG in ``P/data/captures/<label>/`` and add it to the
    image manifest under ``label`` (train, or validation for a share ``val_split`` of captures, by name).

    Returns the new sample entry with its absolute ``file``. Train again to use it.
    """
    import io

    import numpy as np
    from PIL import Image

    from studio.core.fsutil import atomic_write_bytes
    from studio.core.lock import project_lock

    from .common import count_by, rel_from_project, summary_from_manifest

    with project_lock(project.path, "saving a camera frame", timeout=10.0):
        manifest = project.load_manifest()
        if manifest.get("task") != "image":
            raise DatasetError("camera frames can only be added to an image project")
        if label not in manifest["classes"]:
            raise DatasetError(f"'{label}' is not one of the project's classes",
                               hint="the classes are " + ", ".join(manifest["classes"]))
        folder = Path(project.data_dir) / CAPTURES_DIR
        roots = manifest["roots"]
        root = next((i for i, r in enumerate(roots) if Path(r["path"]) == folder), None)
        if root is None:
            roots.append({"path": str(folder), "rel": rel_from_project(Path(project.path), folder)})
            root = len(roots) - 1
        stamp = now_iso().replace(":", "").replace("+", "_")
        taken = {s["path"] for s in manifest["samples"] if int(s.get("root", 0)) == root}
        n = 1
        while f"{label}/capture-{stamp}-{n}.png" in taken:
            n += 1
        rel = f"{label}/capture-{stamp}-{n}.png"
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8)).convert("RGB").save(buf, "PNG")
        atomic_write_bytes(folder / rel, buf.getvalue())
        entry = {"root": root, "path": rel, "label": label, "split": _capture_split(rel, manifest.get("val_split", 0.2)),
                 "captured": now_iso()}
        manifest["samples"].append(entry)
        manifest["split_counts"] = {sp: count_by([s["label"] for s in manifest["samples"] if s["split"] == sp
                                                  and not is_excluded(s)], manifest["classes"])
                                    for sp in ("train", "val", "test")}
        manifest["counts"][label] = manifest["counts"].get(label, 0) + 1
        project.save_manifest(manifest)
        project.update(data=summary_from_manifest(manifest))
    return dict(entry, file=str(folder / rel))
