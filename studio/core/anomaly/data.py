"""Anomaly projects' data rules: which class folder is "good", and how good and defect examples are split.

The folder named ``good``, ``ok`` or ``normal`` (any case; ``--normal NAME`` overrides) holds the normal
examples. Every other class folder is a known defect type: used to calibrate the threshold and to evaluate,
never to fit the normal model. So good examples get train / validation (/ test) splits as usual, and defect
examples only validation / test. A project with good examples only is fine.
"""

from __future__ import annotations

from typing import Any, Sequence

from studio.core.errors import DatasetError

NORMAL_NAMES = ("good", "ok", "normal")


def numeric_normal(classes: Sequence[str]) -> str | None:
    """'0' when the classes are numbers and one is 0 (anomaly labels as datasets give them: 0 normal, 1 anomaly),
    else None."""
    def number(c: str) -> float | None:
        try:
            return float(c)
        except ValueError:
            return None

    zeros = [c for c in classes if number(c) == 0]
    return zeros[0] if len(zeros) == 1 and all(number(c) is not None for c in classes) else None


def find_normal_class(classes: Sequence[str], normal: str | None = None, *, path: Any = None,
                      warnings: list[str] | None = None) -> str:
    """The class holding the good examples: ``normal`` if given (case-insensitive), else good/ok/normal, else
    the only class there is, else 0 among numbered classes (0 normal, 1 anomaly); the last two add a line to
    ``warnings`` saying so."""
    by_lower: dict[str, list[str]] = {}
    for c in classes:
        by_lower.setdefault(c.lower(), []).append(c)
    if normal:
        if normal in classes:
            return normal
        hits = by_lower.get(normal.lower(), [])
        if len(hits) == 1:
            return hits[0]
        raise DatasetError(
            f"no class folder named '{normal}' (the folders are {', '.join(repr(c) for c in classes) or 'none'})",
            path=path,
            hint="pass the name of the folder that holds the good examples with --normal",
        )
    found = [c for name in NORMAL_NAMES for c in by_lower.get(name, [])]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise DatasetError(
            f"more than one folder could hold the good examples: {', '.join(repr(c) for c in found)}",
            path=path,
            hint="say which one with --normal NAME",
        )
    guess, why = (classes[0], "the only class") if len(classes) == 1 else (numeric_normal(classes), "0 among numbered classes")
    if guess is not None:
        if warnings is not None:
            warnings.append(f"The good examples are taken to be class '{guess}' ({why}: none is named good, ok or "
                            "normal); if they are another class, import again with --normal NAME.")
        return guess
    raise DatasetError(
        "no class of good examples: an anomaly project needs a class folder (or label value) named good, ok or "
        f"normal (the classes are {', '.join(repr(c) for c in classes) or 'none'})",
        path=path,
        hint="rename the folder (or label) of good examples, or name it with --normal NAME",
    )


def defect_split_fractions(val_split: float, test_split: float) -> float:
    """The share of each defect type that goes to validation (the rest to test)."""
    if test_split <= 0:
        return 1.0
    if val_split <= 0:
        return 0.0
    return val_split / (val_split + test_split)


def assign_defect_splits(labels: Sequence[str], keys: Sequence[str], splits: list[str], normal: str,
                         val_split: float, test_split: float, seed: int, *, has_test_source: bool = False) -> list[str]:
    """Move every defect example out of "train": into validation and test, stratified per defect type.

    ``splits`` is the stratified split of all examples; good examples keep theirs. With a separate test folder
    (or no test split) every defect of the main data goes to validation, where it calibrates the threshold.
    """
    from studio.core.data.common import _class_rng

    share = 1.0 if has_test_source else defect_split_fractions(val_split, test_split)
    out = list(splits)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        if label != normal:
            by_label.setdefault(label, []).append(i)
    for label, idx in by_label.items():
        idx = sorted(idx, key=lambda i: keys[i])
        order = _class_rng(seed, label).permutation(len(idx))
        n_val = len(idx) if share >= 1.0 else int(round(len(idx) * share))
        if 0.0 < share < 1.0 and len(idx) >= 2:
            n_val = min(max(n_val, 1), len(idx) - 1)
        for rank, j in enumerate(order):
            out[idx[j]] = "val" if rank < n_val else "test"
    return out


def anomaly_manifest_fields(classes: Sequence[str], normal: str) -> dict[str, Any]:
    """Manifest keys every anomaly import adds: the normal class and the defect types."""
    return {"anomaly": True, "normal_class": normal, "defect_classes": [c for c in classes if c != normal]}


def is_defect_label(manifest: dict[str, Any], label: str) -> bool:
    return label != manifest.get("normal_class")


def good_and_defect_counts(manifest: dict[str, Any]) -> dict[str, Any]:
    """What the Data page shows: good vs defect counts overall and per split."""
    normal = manifest.get("normal_class")
    counts = manifest.get("counts") or {}
    out: dict[str, Any] = {
        "good": int(counts.get(normal, 0)),
        "defect": int(sum(v for k, v in counts.items() if k != normal)),
        "defect_types": {k: int(v) for k, v in counts.items() if k != normal},
        "splits": {},
    }
    for split, per in (manifest.get("split_counts") or {}).items():
        out["splits"][split] = {
            "good": int(per.get(normal, 0)),
            "defect": int(sum(v for k, v in per.items() if k != normal)),
        }
    if manifest.get("recordings") is not None:  # sensors: the counts above are windows; verdicts are per recording
        recs = manifest["recordings"]
        out["unit"] = "window"
        out["recordings"] = {"good": sum(1 for r in recs if r["label"] == normal),
                             "defect": sum(1 for r in recs if r["label"] != normal)}
    else:
        out["unit"] = "image"
    return out
