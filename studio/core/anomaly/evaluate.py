"""Evaluate an anomaly detector: the figures a quality engineer reads, on a split or on a fresh labelled folder.

``studio evaluate P [--data DIR] --json`` gives ``auroc``, ``threshold``, ``detection_rate`` (defects caught),
``false_alarm_rate`` (good flagged), ``accuracy`` (good / not good), the 2x2 ``confusion_matrix`` (rows: truth
good, defect; columns: verdict OK, NOT OK), ``per_defect`` detection rates and the ``most_anomalous`` examples
(images with their heat maps). Sensor projects are judged per recording (its score is its highest window's):
``recordings`` counts them (as for a sensor classifier), ``recording_items`` lists each one's score and verdict,
and ``windows`` holds the same figures per window. One long labelled series (a CSV with a label column and no
recording column) is judged per window (``unit`` "window"): windows are cut over the whole series, a window
overlapping an anomalous row is a defect window, and ``events`` says for each anomalous stretch whether a
window over it was flagged (``event_detection_rate``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from studio.core.errors import ConfigError
from studio.core.reporter import NullReporter, Reporter

from .metrics import anomaly_metrics, roc_curve, score_histogram
from .runs import load_detector, read_calibration
from .scoring import Scored, require_examples, score_external, score_split

MOST_ANOMALOUS = 24
HEATMAPS = 12
MAX_SCORES = 20000


@dataclass
class AnomalyEvalResult:
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.data)

    @property
    def auroc(self) -> float | None:
        return self.data.get("auroc")

    @property
    def accuracy(self) -> float | None:
        return self.data.get("accuracy")


def evaluate_anomaly(project: Any, run_id: str | None = None, split: str | None = None,
                     data_path: str | None = None, reporter: Reporter | None = None,
                     threshold: float | None = None) -> AnomalyEvalResult:
    """Figures of a run (the active one by default) on a split (test if any, else validation) or a folder."""
    from studio.core.evaluate import default_split

    reporter = reporter or NullReporter()
    model, info = load_detector(project, run_id)
    calibration = read_calibration(info.path)
    t = float(calibration["threshold"] if threshold is None else threshold)
    reporter.status("Scoring the evaluation examples")
    if data_path is not None:
        scored = score_external(project, model, info.spec, info.normal_class, data_path, reporter, (0.0, 0.95))
        split_name, source = None, str(data_path)
    else:
        manifest = project.load_manifest()
        split_name = split or default_split(manifest)
        if split_name not in ("train", "val", "test"):
            raise ConfigError(f"unknown split {split_name!r}", hint="use train, val or test")
        scored = score_split(project, model, info.spec, info.normal_class, split_name, reporter, (0.0, 0.95))
        source = split_name
    require_examples(scored, f"{source} data", project.manifest_path if data_path is None else data_path)
    out = figures(scored, t)
    out.update(
        split=split_name, source=source, run=info.run_id, detector=info.detector.kind,
        policy=calibration.get("policy"), policy_text=calibration.get("policy_text"),
        normal_class=info.normal_class, **threshold_basis(calibration),
    )
    if split_name == "train":
        out["note"] = "training examples are in the detector's memory: their scores are optimistic"
    reporter.progress(1.0, "evaluation finished")
    return AnomalyEvalResult(out)


def threshold_basis(calibration: dict[str, Any]) -> dict[str, Any]:
    """How many good examples the threshold rests on (validation + held-out training ones) and, when they are
    few, the plain-words warning (runs calibrated before 2026-12-02: validation only)."""
    from .runs import few_good_warning

    n_val = len((calibration.get("val") or {}).get("good") or [])
    n_held = len((calibration.get("held_out") or {}).get("good") or [])
    n = int(calibration.get("n_good", n_val + n_held))
    unit = calibration.get("unit", "image")
    return {"threshold_good_examples": n, "threshold_val_good": n_val, "threshold_held_out_good": n_held,
            "threshold_unit": unit, "threshold_warning": few_good_warning(n, unit)}


def figures(scored: Scored, threshold: float) -> dict[str, Any]:
    """All the evaluation figures of scored examples at ``threshold`` (pure: the GUI's threshold drag uses it)."""
    units = scored.units()
    scores = units["scores"]
    labels = units["labels"]
    is_defect = np.array([lab != scored.normal for lab in labels], dtype=bool)
    m = anomaly_metrics(scores, is_defect, threshold, labels)
    m["unit"] = scored.unit
    m["roc"] = roc_curve(scores, is_defect)
    m["histogram"] = score_histogram(scores[~is_defect], scores[is_defect])
    m["scores"] = {"good": [round(float(v), 5) for v in scores[~is_defect][:MAX_SCORES]],
                   "defect": [round(float(v), 5) for v in scores[is_defect][:MAX_SCORES]],
                   "defect_types": [lab for lab, d in zip(labels, is_defect) if d][:MAX_SCORES]}
    order = np.argsort(-scores, kind="stable")
    m["most_anomalous"] = [_item(units, scored, int(i), threshold, rank < HEATMAPS) for rank, i in
                           enumerate(order[:MOST_ANOMALOUS])]
    wrong = [int(i) for i in order if (scores[i] > threshold) != is_defect[i]]
    m["misclassified"] = [_item(units, scored, i, threshold, False) for i in wrong[:200]]
    m["n_misclassified"] = len(wrong)
    if scored.per_window:
        w = anomaly_metrics(scored.scores, scored.is_defect(), threshold, scored.labels)
        w.pop("labels", None)
        m["windows"] = w  # the same figures: the window is the unit here
        m["window_accuracy"] = w["accuracy"]
        m["recordings"] = len(set(scored.recordings or []))
        if scored.events is not None:
            m.update(event_figures(scored, threshold))
    elif scored.recordings is not None:
        m["recording_accuracy"] = m["accuracy"]
        m["recording_confusion_matrix"] = m["confusion_matrix"]
        m["recordings"] = int(len(scores))  # a count, as a sensor classifier's evaluation gives it
        m["recording_items"] = [_item(units, scored, i, threshold, False) for i in range(len(scores))]
        win_defect = scored.is_defect()
        w = anomaly_metrics(scored.scores, win_defect, threshold, scored.labels)
        w.pop("labels", None)
        m["windows"] = w
        m["window_accuracy"] = w["accuracy"]
    return m


def event_figures(scored: Scored, threshold: float) -> dict[str, Any]:
    """A labelled series' anomalies, each caught when a window overlapping it scores above the threshold:
    ``events`` (its label, file lines, rows, score = its highest overlapping window's, verdict, that window)
    and ``event_detection_rate``."""
    events = []
    for e in scored.events or []:
        idx = list(e["window_index"])
        worst = max(idx, key=lambda i: scored.scores[i]) if idx else None
        score = float(scored.scores[worst]) if worst is not None else float("nan")
        events.append({"label": e["label"], "lines": e["lines"], "rows": e["rows"], "windows": len(idx),
                       "score": round(score, 5), "verdict": "NOT OK" if score > threshold else "OK",
                       "worst_window": scored.ids[worst] if worst is not None else None})
    caught = sum(e["verdict"] == "NOT OK" for e in events)
    return {"events": events, "event_detection_rate": caught / len(events) if events else None}


def _item(units: dict[str, Any], scored: Scored, i: int, threshold: float, with_map: bool) -> dict[str, Any]:
    score = float(units["scores"][i])
    label = units["labels"][i]
    item: dict[str, Any] = {
        "id": units["ids"][i],
        "label": label,
        "defect": label != scored.normal,
        "score": round(score, 5),
        "verdict": "NOT OK" if score > threshold else "OK",
    }
    if units.get("paths"):
        item["path"] = units["paths"][i]
    if scored.recordings is not None:
        item["source"] = units["sources"][i]
        item["windows"] = units["windows"][i]
        item["worst_window"] = units["worst_window"][i]
    if with_map and scored.maps is not None:
        item["heatmap"] = np.round(scored.maps[i], 3).tolist()
    return item
