"""The threshold keeps its promise on new data: it rests on the validation goods pooled with the good training
examples' held-out scores (each scored by a detector that did not see it), and says how many good examples it
rests on, in plain words when they are few."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from studio.core.anomaly import detector as D
from studio.core.anomaly.fitting import FITTERS, HELD_OUT, predict
from studio.core.anomaly.metrics import ThresholdPolicy, choose_threshold
from studio.core.anomaly.runs import calibration_record, recalibrate, write_calibration


def test_threshold_rests_on_validation_and_held_out_goods(tmp_path: Path) -> None:
    val, bad = np.array([0.1, 0.2]), np.array([5.0, 6.0])
    held = np.linspace(0.0, 3.0, 30)
    rec = calibration_record(ThresholdPolicy(), val, bad, ["rattle", "rattle"], "recording", None, held)
    # 32 goods at a 1 % budget: the highest of them all (a held-out training one), not the validation's 0.2
    assert rec["threshold"] == pytest.approx(3.0) == choose_threshold(ThresholdPolicy(), np.r_[val, held])
    assert (rec["n_good"], rec["n_held_out_good"], rec["warning"]) == (32, 30, None)
    assert rec["metrics"]["n_good"] == 2  # the figures stay the validation's
    few = calibration_record(ThresholdPolicy(), val, bad, ["rattle", "rattle"], "recording", None, held[:3])
    assert few["warning"] == ("The threshold rests on 5 good recordings; add more good examples for a dependable "
                              "false-alarm rate.")
    assert calibration_record(ThresholdPolicy(), val, bad, ["r", "r"], "image")["warning"].startswith(
        "The threshold rests on 2 good examples;")
    # `studio threshold` / the Evaluate page re-choose from the same pooled goods (no refit)
    write_calibration(tmp_path, rec)
    moved = recalibrate(tmp_path, ThresholdPolicy("false_alarms", 0.1))
    assert moved["threshold"] == pytest.approx(choose_threshold(ThresholdPolicy("false_alarms", 0.1), np.r_[val, held]))
    assert moved["n_good"] == 32 and moved["held_out"]["good"] == rec["held_out"]["good"]
    balanced = recalibrate(tmp_path, ThresholdPolicy("balanced", None))
    assert balanced["threshold"] >= 3.0 and balanced["n_good"] == 32  # the goods' false alarms count all 32


def test_global_detector_gives_each_training_image_its_score_without_it() -> None:
    """The held-out score of a training image is the graph's score with that image's bank rows (itself and its
    shifted copies) taken out: here with one neighbour, by replacing them with a copy of another image's row."""
    digits = pytest.importorskip("sklearn.datasets").load_digits()
    imgs = np.repeat(np.repeat(digits.images, 2, 1), 2, 2)[..., None].astype(np.float32) / 8.0 - 1
    x = imgs[np.flatnonzero(digits.target == 3)[:30]]
    base = D.global_spec(16, 1, 4096)
    spec = D.DetectorSpec(base.kind, base.input_shape, dict(base.params, neighbours=1))
    model, info = FITTERS["global"](x, spec)
    held = info[HELD_OUT]
    assert len(held) == len(x) and not info["coreset"]  # every row kept: row j is image j % 30 (or a copy)
    in_sample = predict(model, x)[0].ravel()
    assert (held > in_sample + 1e-3).all()  # in the bank an image finds itself
    near = model.get_layer("nearest")
    bank = {w.name.split("/")[-1].split(":")[0]: np.asarray(w) for w in near.weights}["bank"]
    source = np.arange(len(bank)) % len(x)
    for i in (0, 7, 29):
        masked = bank.copy()
        masked[source == i] = bank[(i + 1) % len(x)]
        D.set_consts(near, bank=masked)
        assert float(predict(model, x[i : i + 1])[0].ravel()[0]) == pytest.approx(held[i], abs=2e-3)
    D.set_consts(near, bank=bank)


def test_window_detector_scores_each_training_recording_with_a_detector_fitted_without_it() -> None:
    """With at most HELD_OUT_FOLDS recordings each is left out in turn: its held-out score is the highest window
    score of the detector fitted (same spec, same scorer) on the other recordings' windows."""
    from studio.core.anomaly.config import AnomalyConfig
    from studio.core.anomaly.train import _refit_held_out
    from studio.core.reporter import NullReporter

    rng = np.random.default_rng(0)
    t = np.arange(96) / 50.0
    recs = [np.stack([np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for _ in range(2)], -1)
            + rng.normal(0, 0.05, (96, 2)) for f in (3, 3, 3, 3, 5)]  # the last one hums at another pitch
    x = np.concatenate([np.stack([r[s : s + 32] for s in (0, 32, 64)]) for r in recs]).astype(np.float32)
    groups = [f"r{k}" for k in range(len(recs)) for _ in range(3)]
    spec = D.window_spec(32, 2, 64, False)
    held = _refit_held_out(x, groups, spec, AnomalyConfig(), {}, None, NullReporter())
    assert len(held) == len(recs)
    g = np.asarray(groups)
    model_all, _ = FITTERS["window"](x, spec)
    in_sample = predict(model_all, x).ravel()
    for k in (0, 4):
        model, _ = FITTERS["window"](x[g != f"r{k}"], spec, seed=AnomalyConfig().seed)
        assert held[k] == pytest.approx(float(predict(model, x[g == f"r{k}"]).max()), rel=1e-4)
    assert held[4] > float(in_sample[g == "r4"].max()) + 1.0  # in the bank, the odd recording found itself
