"""Classification metrics: the one function behind every accuracy, confusion matrix and per-class table.

Pure numpy (no TensorFlow, no scikit-learn at run time); tests check it against scikit-learn. Used by
evaluation (Keras predictions) and by the optimize step's LiteRT measurements of each variant.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> dict[str, Any]:
    """Accuracy, confusion matrix (rows = true class, columns = predicted) and per-class P/R/F1/support.

    ``y_true`` and ``y_pred`` are label indices into ``labels``. A class never predicted has precision 0 (not
    NaN); a class absent from ``y_true`` has recall 0 and support 0. Macro F1 and balanced accuracy (mean
    recall) are over the classes with support > 0. With no samples, ``accuracy``, ``macro_f1`` and
    ``balanced_accuracy`` are None: there is nothing to measure.
    """
    k = len(labels)
    y_true = np.asarray(y_true, dtype=np.int64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.int64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError("y_true and y_pred differ in length")
    if len(y_true) and (min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= k):
        raise ValueError(f"label indices must be in [0, {k})")
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    n = int(len(y_true))
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(k), where=denom > 0)
    present = support > 0
    per_class = {
        labels[i]: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i in range(k)
    }
    return {
        "accuracy": float(tp.sum() / n) if n else None,
        "n": n,
        "labels": list(labels),
        "confusion_matrix": cm.tolist(),
        "per_class": per_class,
        "macro_f1": float(f1[present].mean()) if present.any() else None,
        "balanced_accuracy": float(recall[present].mean()) if present.any() else None,
    }
