"""The importers' anomaly hooks: one good class, defect types kept out of training, test folders with new types.

``studio.core.data`` calls these when the project is an anomaly project (``Project.is_anomaly``); everything
else about reading images and recordings is shared with classifier projects.
"""

from __future__ import annotations

from typing import Any, Sequence

from studio.core.errors import DatasetError

from .data import NORMAL_NAMES, anomaly_manifest_fields, assign_defect_splits, find_normal_class, numeric_normal


def normal_for(found: Sequence[str], normal: str | None, path: Any, warnings: list[str] | None = None) -> str:
    """The good class among the class folders found (``normal`` overrides), or a DatasetError saying what to do;
    a guess (the only class, or 0 among numbers) is said in ``warnings``."""
    if not found:
        raise DatasetError("found no class folders with usable examples", path=path,
                           hint="put the good examples in a sub-folder named good, ok or normal")
    return find_normal_class(found, normal, path=path, warnings=warnings)


def split(labels: Sequence[str], keys: Sequence[str], splits: list[str], normal: str, val_split: float,
          test_split: float, seed: int, has_test_source: bool) -> list[str]:
    """The stratified split with every defect example moved to validation / test."""
    return assign_defect_splits(labels, keys, splits, normal, val_split, test_split, seed,
                                has_test_source=has_test_source)


def test_label_map(test_labels: Sequence[str], normal: str) -> dict[str, str]:
    """Test folder classes -> project classes: its good folder (the normal name, or good/ok/normal, or 0 among
    numbered classes) is the normal class; every other folder is a defect type, known or new (new types are
    evaluated, not refused). Also maps an external folder's classes for ``evaluate --data``."""
    found = sorted(set(test_labels))
    low = {c.lower(): c for c in found}
    good = normal if normal in found else low.get(normal.lower())
    if good is None:
        cands = [low[n] for n in NORMAL_NAMES if n in low]
        good = cands[0] if len(cands) == 1 else numeric_normal(found)
    return {c: (normal if c == good else c) for c in found}


def with_new_classes(classes: Sequence[str], mapped: Sequence[str]) -> list[str]:
    return sorted(set(classes) | set(mapped))


def warnings_for(counts: dict[str, int], split_counts: dict[str, dict[str, int]], normal: str, unit: str,
                 train_windows: int | None = None, val_windows: int | None = None) -> list[str]:
    """What will hurt an anomaly project: too few good examples to learn from or to calibrate on.

    ``train_windows``: the good training windows of one long labelled series (a CSV with a label column and no
    recording column). Its "recordings" are only the stretches between label changes, so what the detector
    learns from, and ``val_windows`` what its threshold is set on (with the training windows' held-out scores),
    are counted in windows there.
    """
    out: list[str] = []
    n_train = int((split_counts.get("train") or {}).get(normal, 0))
    n_val = int((split_counts.get("val") or {}).get(normal, 0))
    if train_windows is not None:
        if train_windows < 50:
            out.append(f"Only {train_windows} good window(s) to learn from: 50 or more make a dependable "
                       "detector (a longer recording of normal running gives more).")
    elif n_train < 10:
        out.append(f"Only {n_train} good {unit}(s) to learn from: 50 or more make a dependable detector.")
    if val_windows is not None:
        if val_windows < 20:
            out.append(f"Only {val_windows} good window(s) in validation: the threshold is set on them and on "
                       "the training windows' held-out scores; a longer recording of normal running makes the "
                       "false-alarm rate on new data more dependable.")
    elif n_val < 20:
        out.append(
            f"Only {n_val} good {unit}(s) in validation to set the threshold on: the false-alarm rate on new "
            "data can be higher than the target (aim for 20 or more)."
        )
    defects = {k: v for k, v in counts.items() if k != normal and v > 0}
    if not defects:
        out.append("No defect examples: the threshold is set from the good examples alone (at most 1 % of "
                   "them flagged). Add a few defect examples to see how many defects it catches.")
    return out


def window_count(length: int, window: int, stride: int) -> int:
    """Windows of a recording as an anomaly detector cuts and scores them (:func:`.scoring.window_starts`: the
    stride's windows plus one ending at the last row), for the import's counts; 0 for an empty recording."""
    from .scoring import window_starts

    return len(window_starts(length, window, stride))


def manifest_fields(classes: Sequence[str], normal: str) -> dict[str, Any]:
    return anomaly_manifest_fields(classes, normal)
