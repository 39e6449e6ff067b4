"""Pieces shared by the image and sensor importers: the result type, the seeded stratified split, file
filtering, and the atomic write of the manifest and project summary.

Kept free of Pillow and of the CSV parser so that both importers (and the evaluation code) can use it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from studio.core.errors import ConfigError
from studio.core.project import modality_of

# Names that operating systems and archivers leave behind; never data, never worth a warning of their own.
SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini", "ehthumbs.db", "icon\r", ".ds_store"})
SYSTEM_DIRS = frozenset({"__macosx", "$recycle.bin", "system volume information", ".git", "__pycache__"})



def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def hidden_reason(name: str) -> str | None:
    """Why a file or folder called ``name`` is not data (hidden or system file), else None."""
    low = name.lower()
    if low in SYSTEM_DIRS:
        return "system folder (left by an archiver or the operating system)"
    if low in SYSTEM_FILES:
        return "system file (left by the operating system)"
    if name.startswith("."):
        return "hidden file or folder (name starts with a dot)"
    if name.startswith("~$"):
        return "temporary file"
    return None


def posix_rel(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` as a POSIX string (the manifest's portable form)."""
    return path.relative_to(root).as_posix()


def rel_from_project(project_path: Path, target: Path) -> str | None:
    """A relative path from the project folder to ``target``, or None when there is none (other drive)."""
    try:
        return Path(os.path.relpath(target, project_path)).as_posix()
    except ValueError:
        return None


def check_fractions(val_split: float, test_split: float) -> None:
    """Reject split fractions that leave nothing to train on; say which setting to change."""
    for name, value in (("validation split", val_split), ("test split", test_split)):
        if not (0.0 <= float(value) < 1.0):
            raise ConfigError(f"{name} must be between 0 and 1 (got {value})")
    if val_split + test_split >= 0.9:
        raise ConfigError(
            f"validation ({val_split}) and test ({test_split}) splits together leave almost nothing "
            "to train on",
            hint="keep their sum below 0.9 (typical: 0.2 validation)",
        )


def _class_rng(seed: int, label: str) -> np.random.Generator:
    """A generator depending on the seed and the class name only: adding a class never reshuffles another."""
    digest = hashlib.sha256(f"{seed}\0{label}".encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def split_counts_for(n: int, val_split: float, test_split: float) -> tuple[int, int, int]:
    """How many of ``n`` items of one class go to (train, val, test).

    At least one validation item whenever the class has two or more items and validation is asked for,
    so every class is seen by the validation metrics; at least one training item always.
    """
    if n <= 0:
        return 0, 0, 0
    n_test = int(round(n * test_split))
    n_val = int(round(n * val_split))
    if test_split > 0 and n_test == 0 and n >= 3:
        n_test = 1
    if val_split > 0 and n_val == 0 and n >= 2:
        n_val = 1
    # Always keep one item for training: take back from test first, then validation.
    while n_val + n_test > n - 1 and (n_val + n_test) > 0:
        if n_test > 0 and (n_test >= n_val or n_val <= 1):
            n_test -= 1
        else:
            n_val -= 1
    return n - n_val - n_test, n_val, n_test


def stratified_split(
    labels: Sequence[str], keys: Sequence[str], val_split: float, test_split: float, seed: int
) -> list[str]:
    """Assign "train"/"val"/"test" to each item, stratified by label and reproducible from ``seed``.

    ``keys`` (file paths, recording ids) fix the order before shuffling so the result does not depend on the
    order in which the file system listed the files.
    """
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    out = ["train"] * len(labels)
    for label, idx in by_label.items():
        idx = sorted(idx, key=lambda i: keys[i])
        order = _class_rng(seed, label).permutation(len(idx))
        n_train, n_val, n_test = split_counts_for(len(idx), val_split, test_split)
        for rank, j in enumerate(order):
            i = idx[j]
            if rank < n_val:
                out[i] = "val"
            elif rank < n_val + n_test:
                out[i] = "test"
    return out


def count_by(
    labels: Iterable[str], classes: Sequence[str], weights: Iterable[int] | None = None
) -> dict[str, int]:
    counts = {c: 0 for c in classes}
    if weights is None:
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
    else:
        for label, w in zip(labels, weights):
            counts[label] = counts.get(label, 0) + int(w)
    return counts


def balance_warnings(counts: dict[str, int], unit: str, minimum: int = 5, ratio: float = 5.0) -> list[str]:
    """Plain-language warnings about classes that are too small or out of proportion."""
    warnings: list[str] = []
    for name, n in counts.items():
        if 0 < n < minimum:
            warnings.append(
                f"Class '{name}' has only {n} {unit}{'s' if n != 1 else ''}; at least {minimum} are "
                f"needed to "
                f"learn it reliably (20 or more is better)."
            )
    nonzero = {k: v for k, v in counts.items() if v > 0}
    if len(nonzero) >= 2:
        big = max(nonzero, key=lambda k: nonzero[k])
        small = min(nonzero, key=lambda k: nonzero[k])
        if nonzero[big] > ratio * nonzero[small]:
            warnings.append(
                f"The classes are imbalanced: '{big}' has {nonzero[big]} {unit}s but '{small}' only "
                f"{nonzero[small]} ({nonzero[big] / nonzero[small]:.0f}:1). Training weights the classes to "
                f"compensate, but more examples of '{small}' would help most."
            )
    return warnings


@dataclass
class ImportResult:
    """What an import found. ``to_json()`` is the CLI's ``studio import --json`` output."""

    task: str
    classes: dict[str, int]
    skipped: list[dict[str, str]]
    warnings: list[str]
    splits: dict[str, dict[str, int]]
    manifest: dict[str, Any] = field(repr=False, default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "task": self.task,
            "classes": dict(self.classes),
            "skipped": [dict(s) for s in self.skipped],
            "warnings": list(self.warnings),
            "splits": {k: dict(v) for k, v in self.splits.items()},
        }
        out.update(self.extra)
        return out


def summary_from_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """The compact copy of the manifest kept in project.json (shown by the project page and `studio info`)."""
    summary: dict[str, Any] = {
        "task": manifest.get("task"),
        "source": manifest.get("source"),
        "test_source": manifest.get("test_source"),
        "classes": list(manifest.get("classes", [])),
        "counts": dict(manifest.get("counts", {})),
        "split_counts": manifest.get("split_counts", {}),
        "n_samples": int(sum(manifest.get("counts", {}).values())),
        "n_skipped": len(manifest.get("skipped", [])),
        "n_warnings": len(manifest.get("warnings", [])),
        "seed": manifest.get("seed"),
        "val_split": manifest.get("val_split"),
        "test_split": manifest.get("test_split"),
        "imported": manifest.get("imported"),
        "channels": manifest.get("channels"),
    }
    if modality_of(manifest.get("task")) == "sensor":
        summary["window"] = manifest.get("window")
        summary["stride"] = manifest.get("stride")
        summary["n_recordings"] = len(manifest.get("recordings", []))
    else:
        summary["image_size"] = manifest.get("image_size")
    if manifest.get("anomaly"):
        summary["normal_class"] = manifest.get("normal_class")
        summary["defect_classes"] = list(manifest.get("defect_classes") or [])
    return summary
