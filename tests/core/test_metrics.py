"""classification_metrics against scikit-learn (a test dependency only) on random and edge-case labels."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.metrics import classification_metrics

sk = pytest.importorskip("sklearn.metrics")


def _check(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> None:
    labels = [f"c{i}" for i in range(k)]
    m = classification_metrics(y_true, y_pred, labels)
    idx = list(range(k))
    assert m["n"] == len(y_true)
    assert m["accuracy"] == pytest.approx(sk.accuracy_score(y_true, y_pred))
    assert m["confusion_matrix"] == sk.confusion_matrix(y_true, y_pred, labels=idx).tolist()
    p, r, f, s = sk.precision_recall_fscore_support(y_true, y_pred, labels=idx, zero_division=0)
    for i, name in enumerate(labels):
        row = m["per_class"][name]
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((p[i], r[i], f[i]))
        assert row["support"] == s[i]
    present = sorted(set(y_true.tolist()))
    assert m["macro_f1"] == pytest.approx(sk.f1_score(y_true, y_pred, labels=present, average="macro",
                                                      zero_division=0))
    assert m["balanced_accuracy"] == pytest.approx(sk.recall_score(y_true, y_pred, labels=present,
                                                                   average="macro", zero_division=0))


@pytest.mark.parametrize("seed", range(6))
def test_matches_sklearn_on_random_labels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 9))
    n = int(rng.integers(1, 400))
    y_true = rng.integers(0, k, n)
    # mostly right, some wrong: like a real classifier
    y_pred = np.where(rng.random(n) < 0.7, y_true, rng.integers(0, k, n))
    _check(y_true, y_pred, k)


def test_matches_sklearn_on_edge_cases() -> None:
    _check(np.array([0, 0, 0]), np.array([0, 0, 0]), 3)  # classes never seen nor predicted
    _check(np.array([0, 1, 1]), np.array([2, 2, 2]), 3)  # a class predicted but absent from y_true
    _check(np.array([1, 1]), np.array([0, 0]), 2)  # all wrong


def test_balanced_accuracy_is_sklearns() -> None:
    y_true = np.array([0, 0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 0, 1, 1, 0, 2])
    m = classification_metrics(y_true, y_pred, ["a", "b", "c"])
    assert m["balanced_accuracy"] == pytest.approx(sk.balanced_accuracy_score(y_true, y_pred))


def test_no_samples_and_bad_indices() -> None:
    empty = classification_metrics(np.array([], int), np.array([], int), ["a", "b"])
    assert empty["n"] == 0 and empty["accuracy"] is None and empty["macro_f1"] is None
    assert empty["confusion_matrix"] == [[0, 0], [0, 0]]
    with pytest.raises(ValueError, match="differ"):
        classification_metrics(np.array([0, 1]), np.array([0]), ["a", "b"])
    with pytest.raises(ValueError, match="label indices"):
        classification_metrics(np.array([0, 2]), np.array([0, 1]), ["a", "b"])
