"""The quality verdict: what an evaluation means for the person who acts on it, in counts and plain words.

Accuracy answers "how often is it right"; a quality engineer asks "how many bad parts get through, how many good
parts do I throw away, and can I use it yet?". :func:`quality_verdict` answers that from a confusion matrix
(rows = true class, columns = predicted, as :func:`studio.core.metrics.classification_metrics` makes it), or from
the per-sample predictions ``(true, predicted, confidence)`` when a confidence threshold is asked for: a sample
whose confidence is below the threshold goes to *check by hand* instead of being passed or rejected, so its
effect can be computed for any threshold, live, without the model.

- Per class: how many there were, how many were found, how many missed and what they were taken for.
- A project with a good class (one named ``ok`` / ``good`` / ``normal``, any case): *defects passed as good*
  (a defect predicted as the good class) and *good parts rejected* (a good one predicted as any defect), each as
  a count and a rate. A defect taken for another defect is still rejected: it counts as missed for its class but
  is not passed as good.
- *Not ready yet*, with the reason, when a defect class (every class but the good one; every class when there
  is none) is found in fewer than ``READY_RECALL`` of its cases. A case sent to check by hand is not missed: a
  person looks at it.

Pure numpy, no TensorFlow: the GUI recomputes it as the threshold slider moves.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

GOOD_NAMES = ("ok", "good", "normal")
READY_RECALL = 0.8  # a defect class found in fewer of its cases than this: "not ready yet"
FEW_EXAMPLES = 5  # fewer cases of a class than this: say the figure is too uncertain to trust


def good_class(labels: Sequence[str]) -> str | None:
    """The class that means "nothing wrong" (``ok``, ``good`` or ``normal``, any case), or None."""
    lower = {str(label).strip().lower(): str(label) for label in labels}
    for name in GOOD_NAMES:
        if name in lower:
            return lower[name]
    return None


def _pct(count: int, total: int) -> str:
    return f"{100.0 * count / total:.0f} %" if total else "—"


def _rate(count: int, total: int) -> dict[str, Any]:
    return {"count": int(count), "of": int(total), "rate": (float(count) / total) if total else None}


def _counts(labels: Sequence[str], confusion_matrix: Any, predictions: Any,
            threshold: float | None) -> tuple[np.ndarray, np.ndarray]:
    """(confident confusion matrix, per-true-class count sent to check by hand)."""
    k = len(labels)
    if predictions is None:
        if threshold is not None:
            raise ValueError("a confidence threshold needs the per-sample predictions, not only a confusion matrix")
        cm = np.asarray(confusion_matrix if confusion_matrix is not None else np.zeros((k, k)), dtype=np.int64)
        if cm.shape != (k, k):
            raise ValueError(f"the confusion matrix is {cm.shape}, not {k} x {k} for {k} classes")
        return cm, np.zeros(k, dtype=np.int64)
    rows = np.asarray(predictions, dtype=np.float64).reshape(-1, 3)
    true, pred, conf = rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64), rows[:, 2]
    if len(true) and (min(true.min(), pred.min()) < 0 or max(true.max(), pred.max()) >= k):
        raise ValueError(f"class indices must be in [0, {k})")
    sure = conf >= float(threshold) if threshold is not None else np.ones(len(true), dtype=bool)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (true[sure], pred[sure]), 1)
    return cm, np.bincount(true[~sure], minlength=k).astype(np.int64)


def quality_verdict(labels: Sequence[str], confusion_matrix: Any = None, *, predictions: Any = None,
                    threshold: float | None = None, unit: str = "examples", good: str | None | bool = True,
                    recall_floor: float = READY_RECALL) -> dict[str, Any]:
    """The verdict of one evaluation (see the module docstring); plain data.

    ``predictions``: rows ``(true index, predicted index, confidence)``; needed for ``threshold`` (0..1: below
    it a sample goes to check by hand). ``good``: True finds the good class by name, a class name names it,
    False / None means there is none. ``unit`` is the plural noun of the counts ("images", "recordings").
    """
    labels = [str(c) for c in labels]
    cm, to_check = _counts(labels, confusion_matrix, predictions, threshold)
    good_name = good_class(labels) if good is True else (str(good) if good else None)
    if good_name is not None and good_name not in labels:
        raise ValueError(f"the good class {good_name!r} is not one of the classes")
    g = labels.index(good_name) if good_name is not None else None
    support = cm.sum(axis=1) + to_check
    n = int(support.sum())
    classes = [_class_row(labels, cm, to_check, i, i != g) for i in range(len(labels))]
    out: dict[str, Any] = {
        "unit": unit,
        "n": n,
        "threshold": None if threshold is None else float(threshold),
        "good_class": good_name,
        "classes": classes,
        "passed_as_good": None,
        "good_rejected": None,
        "to_check": _rate(int(to_check.sum()), n),
        "recall_floor": float(recall_floor),
    }
    if predictions is not None and threshold is not None:
        rows = np.asarray(predictions, dtype=np.float64).reshape(-1, 3)
        unsure = rows[:, 2] < float(threshold)
        out["to_check"]["wrong_caught"] = int((rows[unsure, 0] != rows[unsure, 1]).sum())
    if g is not None:
        defects = [i for i in range(len(labels)) if i != g]
        out["passed_as_good"] = _rate(int(cm[defects, g].sum()), int(support[defects].sum()))
        out["good_rejected"] = _rate(int(cm[g].sum() - cm[g, g]), int(support[g]))
    out["not_ready"] = _not_ready(classes, recall_floor, labels[g] if g is not None else None, unit)
    out["ready"] = None if n == 0 else not out["not_ready"]
    out["notes"] = [f"Only {c['support']} {unit} of {c['name']}: too few to trust its figures."
                    for c in classes if 0 < c["support"] < FEW_EXAMPLES]
    out["lines"] = verdict_lines(out)
    out["headline"] = out["lines"][0] if out["lines"] else ""
    return out


def _class_row(labels: list[str], cm: np.ndarray, to_check: np.ndarray, i: int, defect: bool) -> dict[str, Any]:
    confident = int(cm[i].sum())
    support = confident + int(to_check[i])
    correct = int(cm[i, i])
    missed = confident - correct
    taken = [{"class": labels[j], "count": int(cm[i, j])} for j in np.argsort(-cm[i], kind="stable")
             if j != i and cm[i, j] > 0]
    return {
        "name": labels[i],
        "defect": bool(defect),
        "support": support,
        "correct": correct,
        "missed": missed,
        "to_check": int(to_check[i]),
        "recall": (correct / support) if support else None,
        "caught": (1.0 - missed / support) if support else None,  # found or sent to a person
        "taken_for": taken,
    }


def _taken_text(row: dict[str, Any]) -> str:
    """"12 taken for ok, 2 for crack"."""
    return ", ".join(f"{t['count']} " + ("taken for " if k == 0 else "for ") + t["class"]
                     for k, t in enumerate(row["taken_for"]))


def _not_ready(classes: list[dict[str, Any]], floor: float, good_name: str | None, unit: str) -> list[str]:
    reasons = []
    for c in classes:
        if not c["defect"] or not c["support"] or c["caught"] >= floor:
            continue
        found = c["correct"] + c["to_check"]
        text = f"{c['name']} found in only {found} of {c['support']} ({_pct(found, c['support'])})"
        passed = next((t["count"] for t in c["taken_for"] if t["class"] == good_name), 0)
        others = [t for t in c["taken_for"] if t["class"] != good_name]
        parts = [f"{passed} passed as {good_name}"] if passed else []
        if others:
            parts.append(_taken_text({"taken_for": others}))
        reasons.append(text + (" — " + ", ".join(parts) if parts else ""))
    return reasons


def verdict_lines(v: dict[str, Any]) -> list[str]:
    """The verdict in sentences, most important first (the first one is the headline)."""
    unit, n = v["unit"], v["n"]
    if not n:
        return [f"No {unit} to judge."]
    lines = []
    if v["not_ready"]:
        lines.append("Not ready yet: " + ". ".join(v["not_ready"]) + ".")
    elif v["good_class"] is not None:
        lines.append(f"Ready to try: every defect class is found in at least {v['recall_floor'] * 100:.0f} % of "
                     "its cases.")
    else:
        lines.append(f"Ready to try: every class is found in at least {v['recall_floor'] * 100:.0f} % of its "
                     "cases.")
    if v["passed_as_good"] is not None:
        p, r = v["passed_as_good"], v["good_rejected"]
        lines.append(f"Defects passed as good ({v['good_class']}): {p['count']} of {p['of']} "
                     f"({_pct(p['count'], p['of'])}).")
        lines.append(f"Good parts rejected: {r['count']} of {r['of']} ({_pct(r['count'], r['of'])}).")
    check = v["to_check"]
    if v["threshold"] is not None:
        caught = check.get("wrong_caught")
        lines.append(f"Sent to check by hand (less than {v['threshold'] * 100:.0f} % sure): {check['count']} of "
                     f"{n} ({_pct(check['count'], n)})"
                     + (f", {caught} of them would have been wrong." if caught is not None else "."))
    for c in v["classes"]:
        if not c["support"]:
            continue
        text = f"{c['name']}: {c['correct']} of {c['support']} right"
        if c["missed"]:
            text += f"; missed {c['missed']}: {_taken_text(c)}"
        if c["to_check"]:
            text += f"; {c['to_check']} to check by hand"
        lines.append(text + ".")
    return lines + list(v.get("notes") or [])


def prediction_rows(y_true: Any, probs: Any) -> list[list[float]]:
    """Compact per-sample predictions for the evaluation JSON: ``[true, predicted, confidence]`` per sample."""
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y_true, dtype=np.int64).ravel()
    if not len(y):
        return []
    pred = probs.argmax(axis=1)
    conf = probs[np.arange(len(y)), pred]
    return [[int(t), int(p), round(float(c), 4)] for t, p, c in zip(y, pred, conf)]


def verdict_of(result: dict[str, Any], modality: str = "image", threshold: float | None = None) -> dict[str, Any]:
    """The verdict of an evaluation JSON (``studio evaluate --json``) at ``threshold`` (None: no threshold).

    Sensor evaluations are judged per recording (``recording_predictions``: the user's question is about
    recordings); images per image. Without per-sample predictions (an older result) it uses the confusion
    matrix and ignores the threshold.
    """
    labels = list(result.get("labels") or [])
    per_recording = result.get("recording_predictions") is not None
    rows = result.get("recording_predictions") if per_recording else result.get("predictions")
    matrix = result.get("recording_confusion_matrix") if per_recording else result.get("confusion_matrix")
    unit = "recordings" if per_recording else ("images" if modality == "image" else "windows")
    if rows is None:
        v = quality_verdict(labels, matrix, unit=unit)
    else:
        v = quality_verdict(labels, predictions=rows if rows else np.zeros((0, 3)), threshold=threshold, unit=unit)
    seen = result.get("seen_in_training")
    if seen and v.get("lines"):  # figures on data the model learned from say nothing about new parts
        v["seen_in_training"] = seen
        v["lines"] = [f"Not a fair test: {seen}. Check on the test examples or on a folder of new "
                      f"{unit if unit != 'windows' else 'recordings'}."] + list(v["lines"])
        v["headline"] = v["lines"][0]
    elif result.get("chosen_on") and v.get("lines"):
        v["chosen_on"] = result["chosen_on"]
        v["lines"] = list(v["lines"]) + [f"Note: {result['chosen_on']}. A test split or a folder of new recordings "
                                         "gives the fair figure."]
    return v
