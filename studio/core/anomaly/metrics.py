"""Anomaly-detection figures from scores: AUROC, ROC curve, thresholds a user understands, the 2x2 matrix.

Plain numpy and no Studio state, so the evaluation, the optimize step (each variant's LiteRT scores), the GUI
(a threshold dragged on the histogram) and the tests all compute the same numbers the same way.

Conventions: a higher score is more anomalous; a sample is flagged ("NOT OK") when ``score > threshold``;
the confusion matrix has rows = truth (good, defect) and columns = verdict (OK, NOT OK).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from studio.core.errors import ConfigError

DEFAULT_FALSE_ALARMS = 0.01
LABELS = ["good", "defect"]
ROC_POINTS = 200


def auroc(scores: np.ndarray, is_defect: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney U with ties counted half); None without both kinds."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(is_defect, dtype=bool).ravel()
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    ranks[order] = np.arange(1, len(s) + 1)
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    sums = np.zeros(len(counts))
    np.add.at(sums, inverse, ranks)
    ranks = (sums / counts)[inverse]
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def roc_curve(scores: np.ndarray, is_defect: np.ndarray, max_points: int = ROC_POINTS) -> dict[str, list[float]]:
    """False-alarm rate, detection rate and threshold at every distinct score (thinned to ``max_points``).

    Point ``i`` is the verdict ``score > threshold[i]``; the first point flags nothing (0, 0).
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(is_defect, dtype=bool).ravel()
    n_pos, n_neg = max(1, int(y.sum())), max(1, int((~y).sum()))
    cuts = np.unique(s)[::-1]
    thresholds = np.concatenate([[cuts[0] if len(cuts) else 0.0], cuts[1:], [-np.inf]]) if len(cuts) else np.array([0.0])
    fpr, tpr = [], []
    for t in thresholds:
        flagged = s > t
        fpr.append(float((flagged & ~y).sum() / n_neg))
        tpr.append(float((flagged & y).sum() / n_pos))
    if len(thresholds) > max_points:
        keep = np.unique(np.linspace(0, len(thresholds) - 1, max_points).round().astype(int))
        thresholds = thresholds[keep]
        fpr = [fpr[i] for i in keep]
        tpr = [tpr[i] for i in keep]
    finite = [float(t) if math.isfinite(t) else float(s.min() - 1.0 if len(s) else -1.0) for t in thresholds]
    return {"false_alarm_rate": fpr, "detection_rate": tpr, "threshold": finite}


# ---------------------------------------------------------------------------------------------- thresholds
@dataclass(frozen=True)
class ThresholdPolicy:
    """How the threshold is chosen: a false-alarm budget (default), a detection target, balanced, or a value."""

    kind: str = "false_alarms"  # false_alarms | detection | balanced | value
    rate: float | None = DEFAULT_FALSE_ALARMS
    value: float | None = None

    KINDS = ("false_alarms", "detection", "balanced", "value")

    def validated(self) -> "ThresholdPolicy":
        if self.kind not in self.KINDS:
            raise ConfigError(f"unknown threshold policy {self.kind!r}", hint="use " + ", ".join(self.KINDS))
        if self.kind in ("false_alarms", "detection"):
            if self.rate is None or not 0.0 <= float(self.rate) <= 1.0:
                raise ConfigError(f"the {self.kind.replace('_', ' ')} rate must be between 0 and 1 (got {self.rate})")
        if self.kind == "value" and (self.value is None or not math.isfinite(float(self.value))):
            raise ConfigError("a threshold value is needed", hint="give a number, e.g. --value 1.5")
        return self

    def needs_defects(self) -> bool:
        return self.kind in ("detection", "balanced")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind in ("false_alarms", "detection"):
            out["rate"] = float(self.rate)  # type: ignore[arg-type]
        if self.kind == "value":
            out["value"] = float(self.value)  # type: ignore[arg-type]
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> "ThresholdPolicy":
        d = d or {}
        return cls(kind=str(d.get("kind", "false_alarms")), rate=d.get("rate", DEFAULT_FALSE_ALARMS),
                   value=d.get("value")).validated()

    def describe(self) -> str:
        if self.kind == "false_alarms":
            return f"at most {float(self.rate) * 100:g} % false alarms on good examples the detector was not fitted on"
        if self.kind == "detection":
            return f"catch at least {float(self.rate) * 100:g} % of the validation defects, fewest false alarms"
        if self.kind == "balanced":
            return "best balance of detection and false alarms on validation (Youden's J)"
        return f"set by hand to {float(self.value):g}"


def choose_threshold(policy: ThresholdPolicy, good: np.ndarray, defect: np.ndarray | None = None) -> float:
    """The threshold ``policy`` gives on validation scores (``score > threshold`` is flagged)."""
    policy = policy.validated()
    good = np.sort(np.asarray(good, dtype=np.float64).ravel())
    bad = np.sort(np.asarray(defect if defect is not None else [], dtype=np.float64).ravel())
    if policy.kind == "value":
        return float(policy.value)  # type: ignore[arg-type]
    if policy.needs_defects() and not len(bad):
        raise ConfigError(
            f"the '{policy.kind}' threshold needs defect examples in the validation split",
            hint="import defect folders too, or use a false-alarm budget (the default)",
        )
    if policy.kind == "false_alarms":
        if not len(good):
            raise ConfigError("no good examples to calibrate the threshold on",
                              hint="import with a validation split (--val-split 0.2)")
        allowed = int(math.floor(float(policy.rate) * len(good) + 1e-9))  # type: ignore[arg-type]
        return float(good[len(good) - 1 - allowed]) if allowed < len(good) else float(good[0]) - 1e-6
    if policy.kind == "detection":
        need = int(math.ceil(float(policy.rate) * len(bad) - 1e-9))  # type: ignore[arg-type]
        if need <= 0:
            return float(bad[-1])
        # flag the `need` highest defect scores: the threshold sits just below the need-th highest
        target = bad[len(bad) - need]
        below = np.concatenate([good, bad])
        below = below[below < target]
        return float((below.max() + target) / 2.0) if len(below) else float(target) - 1e-6
    # balanced: maximise detection - false alarms over the candidate cuts
    cand = np.unique(np.concatenate([good, bad]))
    best_t, best_j = float(cand[-1]), -2.0
    for t in cand:
        j = float((bad > t).mean() - ((good > t).mean() if len(good) else 0.0))
        if j > best_j + 1e-12:
            best_t, best_j = float(t), j
    return best_t


# ---------------------------------------------------------------------------------------------- figures
def anomaly_metrics(
    scores: np.ndarray,
    is_defect: np.ndarray,
    threshold: float,
    defect_types: Sequence[str | None] | None = None,
) -> dict[str, Any]:
    """AUROC, detection / false-alarm rates, good-vs-not-good accuracy, the 2x2 matrix and per-defect rates."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(is_defect, dtype=bool).ravel()
    flagged = s > float(threshold)
    tn = int((~flagged & ~y).sum())
    fp = int((flagged & ~y).sum())
    fn = int((~flagged & y).sum())
    tp = int((flagged & y).sum())
    n_good, n_defect = tn + fp, fn + tp
    per_defect: dict[str, dict[str, Any]] = {}
    if defect_types is not None:
        types = [t for t, d in zip(defect_types, y) if d]
        for name in sorted({str(t) for t in types}):
            mask = np.array([str(t) == name for t in defect_types]) & y
            n = int(mask.sum())
            hit = int((flagged & mask).sum())
            per_defect[name] = {"n": n, "detected": hit, "detection_rate": hit / n if n else None}
    return {
        "auroc": auroc(s, y),
        "threshold": float(threshold),
        "detection_rate": tp / n_defect if n_defect else None,
        "false_alarm_rate": fp / n_good if n_good else None,
        "accuracy": (tn + tp) / len(s) if len(s) else None,
        "labels": list(LABELS),
        "confusion_matrix": [[tn, fp], [fn, tp]],
        "per_defect": per_defect,
        "n": int(len(s)),
        "n_good": n_good,
        "n_defect": n_defect,
    }


def score_histogram(good: np.ndarray, defect: np.ndarray, bins: int = 40) -> dict[str, list[float]]:
    """Shared-bin histograms of good and defect scores (for the Train and Evaluate plots)."""
    g = np.asarray(good, dtype=np.float64).ravel()
    d = np.asarray(defect, dtype=np.float64).ravel()
    allv = np.concatenate([g, d])
    if not len(allv):
        return {"edges": [], "good": [], "defect": []}
    lo, hi = float(allv.min()), float(allv.max())
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    return {
        "edges": edges.tolist(),
        "good": np.histogram(g, edges)[0].astype(int).tolist(),
        "defect": np.histogram(d, edges)[0].astype(int).tolist(),
    }
