"""How a recording becomes model inputs (length policies, normalization), the harness's copy of it, and the
per-recording metrics."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from studio.core.data.sensor import shaping
from studio.core.evaluate import recording_metrics
from studio.core.selection import shaping_candidates, stratified_folds

HARNESS = Path(__file__).resolve().parents[2] / "resources" / "harness" / "run_model.py"


def _harness():
    spec = importlib.util.spec_from_file_location("exported_run_model_shaping", HARNESS)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_policies_give_one_length_and_never_skip_short_recordings() -> None:
    sig = np.arange(10, dtype=np.float32)[:, None] * [1.0, -1.0]
    assert shaping.shape_recording(sig, 20, 20, "resample").shape == (1, 20, 2)
    padded = shaping.shape_recording(sig, 14, 14, "pad")[0]
    assert np.array_equal(padded[:10], sig) and np.all(padded[10:] == sig[-1])
    assert shaping.shape_recording(sig, 5, 5, "pad").shape == (1, 5, 2)  # longer: resampled down
    short = shaping.shape_recording(sig, 16, 8, "windows")
    assert short.shape == (1, 16, 2)  # shorter than one window: padded, not dropped
    w = shaping.shape_recording(np.arange(40, dtype=np.float32)[:, None], 16, 8, "windows")
    assert w.shape == (4, 16, 1) and w[1, 0, 0] == 8 and shaping.count_inputs(40, 16, 8, "windows") == 4
    r = shaping.resample(np.array([[0.0], [10.0]]), 5)
    assert np.allclose(r[:, 0], [0, 2.5, 5, 7.5, 10])


def test_normalization_global_and_per_recording() -> None:
    x = np.stack([np.linspace(0, 1, 8), np.linspace(5, 9, 8)], axis=1)[None].astype(np.float32)
    g = shaping.normalize(x, "global", [1.0, 2.0], [2.0, 0.0])
    assert np.allclose(g[0, :, 0], (x[0, :, 0] - 1) / 2) and np.allclose(g[0, :, 1], x[0, :, 1] - 2)
    r = shaping.normalize(x * 3 + 7, "recording", [0, 0], [1, 1])
    assert np.allclose(r.mean(axis=1), 0, atol=1e-6) and np.allclose(r.std(axis=1), 1, atol=1e-5)
    assert np.allclose(r, shaping.normalize(x, "recording", [0, 0], [1, 1]), atol=1e-5)  # gain/offset free


@pytest.mark.parametrize("policy", ["resample", "pad", "windows"])
@pytest.mark.parametrize("norm", ["global", "recording"])
def test_harness_copy_shapes_and_normalizes_exactly_like_studio(policy: str, norm: str) -> None:
    h = _harness()
    rng = np.random.default_rng(3)
    spec = {"mean": [0.5, -1.0], "std": [2.0, 0.5], "norm": norm}
    for length in (7, 33, 90):
        sig = rng.normal(size=(length, 2)).astype(np.float32)
        ours = shaping.normalize(shaping.shape_recording(sig, 32, 16, policy), norm, spec["mean"], spec["std"])
        theirs = np.stack([h.normalize_window(w, spec) for w in h.shape_recording(sig, 32, 16, policy)])
        assert np.array_equal(ours, theirs)


def test_recording_metrics_average_window_probabilities() -> None:
    # recording 0 (class 0): windows say 0.9/0.1 and 0.4/0.6 -> mean 0.65 for class 0: right, though one
    # window is wrong; recording 1 (class 1): one window 0.8/0.2 -> wrong.
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.8, 0.2]])
    m = recording_metrics(probs, np.array([0, 0, 1]), np.array([0, 0, 1]), ["a", "b"], ["c0", "c1"])
    assert m["recording_accuracy"] == 0.5 and m["recordings"] == 2
    assert m["recording_confusion_matrix"] == [[1, 0], [1, 0]]
    assert m["recording_misclassified"][0]["id"] == "b" and m["windows_per_recording"]["max"] == 2
    assert m["recording_predictions"] == [[0, 0, 0.65], [1, 0, 0.8]]  # what the per-recording verdict uses


def test_candidates_and_folds() -> None:
    rng = np.random.default_rng(0)
    same = shaping_candidates([100] * 6, [rng.normal(size=(100, 1))] * 6)
    assert {c.length_policy for c in same} == {"resample"} and {c.norm for c in same} == {"global", "recording"}
    varied = shaping_candidates([300, 900, 1500], [rng.normal(size=(n, 1)) for n in (300, 900, 1500)])
    assert {"resample", "pad", "windows"} <= {c.length_policy for c in varied}
    labels = np.repeat(np.arange(5), 2)  # two recordings per class: two folds, one of each per fold
    folds = stratified_folds(labels, 2)
    for c in range(5):
        assert sorted(folds[labels == c]) == [0, 1]
