"""MiniRocket as a Keras/TFLite model, the closed-form ridge head, and the new 1-D architectures on device."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core import models
from studio.core.models import minirocket
from studio.core.models.ridge import fit_ridge


def _two_classes(n: int, length: int, channels: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sine bursts vs square bursts at a random place, with noise: learnable, not trivially by the mean."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.3, (n, length, channels)).astype(np.float32)
    y = np.arange(n) % 2
    t = np.arange(12)
    for i in range(n):
        p = int(rng.integers(0, length - 12))
        burst = np.sin(t) if y[i] == 0 else np.sign(np.sin(t))
        x[i, p:p + 12, :] += 2 * burst[:, None]
    return x, y


def test_ridge_leave_one_out_matches_refitting_without_each_sample() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 12))
    y = (x[:, 0] + 0.5 * rng.normal(size=30) > 0).astype(int)
    fit = fit_ridge(x, y, 2, alphas=(3.0,))
    for i in (0, 7, 29):
        keep = np.arange(30) != i
        # refit by hand with the same standardization (from all samples) and alpha
        a = (x - fit.mean) / fit.scale
        t = np.where(np.eye(2)[y] > 0, 1.0, -1.0)
        a_k, t_k = a[keep], t[keep]
        a_m, t_m = a_k.mean(0), t_k.mean(0)
        w = np.linalg.solve((a_k - a_m).T @ (a_k - a_m) + 3.0 * np.eye(12), (a_k - a_m).T @ (t_k - t_m))
        expect = (a[i] - a_m) @ w + t_m
        assert np.allclose(fit.loo_scores[i], expect, atol=0.05), (fit.loo_scores[i], expect)


def test_dilations_follow_the_paper() -> None:
    ds, counts = minirocket.dilations(150, 10000)
    assert ds[0] == 1 and ds[-1] <= (150 - 1) // 8 and sum(counts) == 10000 // 84
    assert minirocket.dilations(5, 840) == ([1], [10])  # shorter than the kernel: dilation 1, "same" padding


def test_graph_features_are_the_soft_ppv_of_the_numpy_convolution() -> None:
    x, y = _two_classes(8, 40, channels=2)
    model = models.build_model("minirocket", (40, 2), 2, features=840)
    minirocket.fit_biases(model, x, step=0.25)
    feats = minirocket.transform(model, x[:1])[0]
    groups, masks = minirocket.plan(40, 2, 840)
    conv = model.get_layer(f"mr0_d{groups[0].dilation}_{groups[0].padding}")
    kernel, bias = conv.get_weights()
    k0 = groups[0].kernels[0]
    c = minirocket._conv_same(x[0], minirocket.KERNELS[k0] * 1.0, masks[0, k0], groups[0].dilation)
    s = np.abs(kernel[:, 0, :, 0]).max() / 2.0  # the kernel is (-1 | 2) x mask x s
    expect = np.clip(s * c + bias[0], 0, 6).mean()
    assert feats[0] == pytest.approx(expect, rel=1e-4, abs=1e-4)


def test_fitted_kernels_are_zero_sum_on_the_int8_grid() -> None:
    """Per-channel int8 maps each conv's largest weight to 127: every weight must land on an integer and each
    kernel must still sum to zero there (MiniRocket's -1 would be -63.5, rounded to -64: the int8 kernel then
    answers the signal's level; OSULeaf int8 lost 1.24 points per recording with it, 0.83 without)."""
    x, _ = _two_classes(6, 40, channels=2)
    model = models.build_model("minirocket", (40, 2), 2, features=840)
    minirocket.fit_biases(model, x, step=0.25)
    for conv in minirocket._groups(model):
        kernel = conv.get_weights()[0][:, 0]  # [taps, in, out]
        q = kernel / (np.abs(kernel).max(axis=(0, 1)) / 127.0)
        assert np.abs(q - np.round(q)).max() < 1e-3
        assert np.abs(np.round(q).sum(axis=0)).max() == 0  # zero-sum for every input channel and output channel


def test_int8_calibration_inputs_cover_the_bulk_of_the_signal_not_its_spikes() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (20, 500, 1)).astype(np.float32)
    x[3, 100, 0], x[7, 200, 0] = 40.0, -25.0  # two switching spikes
    rep = minirocket.calibration_inputs(x)
    assert rep.shape == x.shape and -3.5 < rep.min() < -2 and 2 < rep.max() < 3.5
    assert np.array_equal(rep[x == np.clip(x, rep.min(), rep.max())], x[x == np.clip(x, rep.min(), rep.max())])
    pos = np.abs(x)  # the range always holds 0 (zero padding): the low end of a positive signal is kept
    assert minirocket.calibration_inputs(pos).min() == pos.min()


def test_snapped_head_is_exact_in_int8_and_keeps_the_mean_logits() -> None:
    x, y = _two_classes(16, 48)
    model = models.build_model("minirocket", (48, 1), 2, features=840)
    minirocket.fit(model, x, y, 2, step=0.25)
    w, b = model.get_layer("predictions").get_weights()
    feats = minirocket.transform(model, x)
    minirocket.snap_head(model, x)
    wq, bq = model.get_layer("predictions").get_weights()
    q = wq / (np.abs(wq).max(axis=0) / 127.0)
    assert np.abs(q - np.round(q)).max() < 1e-3 and not np.array_equal(w, wq)
    before, after = feats @ w + b, feats @ wq + bq
    assert np.abs((after - before).mean(0)).max() < 1e-4  # the rounding's mean shift is in the bias
    assert np.abs(after - before).max() < 0.1 * np.abs(before).max()


def test_minirocket_learns_and_its_head_is_a_dense_layer() -> None:
    x, y = _two_classes(40, 64)
    xt, yt = _two_classes(40, 64, seed=5)
    model = models.build_model("minirocket", (64, 1), 2, features=840)
    fit = minirocket.fit(model, x, y, 2, step=0.25)
    probs = model.predict(xt, verbose=0)
    assert np.allclose(probs.sum(1), 1.0, atol=1e-5)
    assert (probs.argmax(1) == yt).mean() >= 0.9
    assert fit.loo_accuracy(y) >= 0.85
    est = models.estimate("minirocket", (64, 1), 2, features=840)
    assert est.params == model.count_params() and est.macs > 9 * 64 * 840 // 2


@pytest.mark.slow
@pytest.mark.parametrize("arch, params", [("minirocket", {"features": 840}), ("fcn", {"width": 0.25}),
                                          ("resnet1d", {"width": 0.25}), ("inception", {"width": 0.5})])
def test_sensor_archs_convert_to_int8_and_run_in_tflite_micro(arch: str, params: dict) -> None:
    from studio.core.convert import convert_model
    from studio.core.measure import op_names, quantize_input, run_litert
    from studio.core.micro import find_arena, run_tflm

    x, y = _two_classes(24, 48, channels=2)
    model = models.build_model(arch, (48, 2), 2, **params)
    if arch == "minirocket":
        minirocket.fit(model, x, y, 2, step=0.25)
    blob = convert_model(model, "int8", x, io_dtype="int8")
    ops = op_names(blob)
    assert "CONV_2D" in ops and "SPACE_TO_BATCH_ND" not in ops and "FULLY_CONNECTED" in ops
    keras_top = model.predict(x, verbose=0).argmax(1)
    lite = run_litert(blob, x)
    assert (lite.probs.argmax(1) == keras_top).mean() >= 0.9
    detail = {"dtype": np.int8, "quantization": _input_quant(blob)}
    xq = quantize_input(x[:3], detail)
    if arch == "minirocket":  # the arena search (child processes) once; a generous arena for the others
        arena = find_arena(blob, xq[:1])
        assert arena.ok and arena.min_bytes > 0, arena.error
        size = arena.recommended_bytes
    else:
        size = 4 * 1024 * 1024
    micro = run_tflm(blob, xq, size)
    assert np.abs(micro.astype(int) - lite.raw[:3].astype(int)).max() <= 1


def _input_quant(blob: bytes) -> tuple[float, int]:
    from studio.core.measure import litert_interpreter

    d = litert_interpreter(blob, delegates=False).get_input_details()[0]
    return d["quantization"]
