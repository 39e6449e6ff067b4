"""MiniRocket as a real tf_keras / TFLite model (Dempster, Schmidt & Webb, KDD 2021).

84 fixed kernels of length 9 (weights -1, with 2 at three of the nine taps; placed on the int8 grid, see
:func:`_exact_kernel`) are applied at dilations spread
exponentially up to the input length; each kernel/dilation gets several biases taken from quantiles of its
convolution output on training examples, and every (kernel, dilation, bias) gives one feature: the proportion
of positive values (PPV) of ``conv - bias`` over time. A ridge classifier on those features is the head.

As a Keras graph: one dilated conv (kernel 9, dilation d; see :func:`dilated_conv_layer`) per dilation and padding kind (half the kernels use
"same" padding, half only the valid part, as in the paper), whose output channels are the (kernel, bias)
pairs with the bias folded into the conv bias; then a *soft* step ``ReLU6(s * (conv - bias) + 3)`` and global
average pooling (MEAN) give 6 x PPV; one Dense + softmax is the ridge head (standardization and the softmax
temperature folded into its weights). Every op is a TFLite-Micro builtin (CONV_2D with dilation, MEAN,
CONCATENATION in groups of at most 10, FULLY_CONNECTED, SOFTMAX, RESHAPE); the hard step (GREATER + CAST) would not survive int8
(a rounding step flips the comparison), the ramp of width ``step`` x the conv output's spread does.

The structure (dilations, kernels, channel subsets) depends only on the input shape and the parameters, so
``build_model`` rebuilds it from ``model.json``; biases and the head are data and live in ``weights.h5``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from .common import _tf
from .ridge import RidgeFit, fit_ridge

KERNEL_LENGTH = 9
MAX_DILATIONS = 32
SEED = 0  # the structure is fixed: the same input shape always gives the same kernels and channel subsets


def _exact_kernel(idx: tuple[int, ...]) -> list[float]:
    """MiniRocket's kernel (2 at the taps ``idx``, -1 elsewhere) on the int8 grid: a per-channel int8 scale maps
    the largest weight to 127, so -1 would be -63.5 and round to -64, leaving the quantized kernel no longer
    zero-sum (it then answers a signal's level: -3/127 of it at every tap). Here the 2s are 127/63.5 and the
    six -1s alternate -64/63.5 and -63/63.5: still zero-sum, within 0.8 % of -1, and exactly representable."""
    rest = iter((-64.0, -63.0) * 3)
    return [127.0 / 63.5 if t in idx else next(rest) / 63.5 for t in range(KERNEL_LENGTH)]


KERNELS = np.array([_exact_kernel(idx) for idx in itertools.combinations(range(9), 3)], dtype=np.float32)  # [84, 9]
RELU_TOP = 6.0
MIN_SCALE = 0.5  # floor of a feature's standard deviation (0..6 units) in the ridge head; see fit_ridge


@dataclass(frozen=True)
class Group:
    """One Conv1D: a dilation, a padding kind and the kernels (with their channel masks) that use it."""

    dilation: int
    padding: str  # "same" | "valid"
    kernels: tuple[int, ...]
    per_kernel: int  # biases (features) per kernel

    @property
    def filters(self) -> int:
        return len(self.kernels) * self.per_kernel


def dilations(length: int, features: int) -> tuple[list[int], list[int]]:
    """(dilations, features per kernel at each dilation), as MiniRocket's ``_fit_dilations``."""
    per_kernel = max(1, features // len(KERNELS))
    n = min(per_kernel, MAX_DILATIONS)
    multiplier = per_kernel / n
    top = max(0.0, float(np.log2(max(1.0, (length - 1) / (KERNEL_LENGTH - 1)))))
    d, counts = np.unique(np.logspace(0, top, n, base=2).astype(np.int64), return_counts=True)
    counts = (counts * multiplier).astype(np.int64)
    rest, i = per_kernel - int(counts.sum()), 0
    while rest > 0:
        counts[i] += 1
        rest -= 1
        i = (i + 1) % len(counts)
    return [int(v) for v in d], [int(v) for v in counts]


def plan(length: int, channels: int, features: int) -> tuple[list[Group], np.ndarray]:
    """The conv groups and the channel mask ``[dilations, 84, channels]`` (multivariate: each kernel/dilation
    sums a random subset of 1..min(channels, 9) channels, as MiniRocketMultivariate)."""
    ds, counts = dilations(length, features)
    rng = np.random.default_rng(SEED)
    masks = np.zeros((len(ds), len(KERNELS), channels), dtype=np.float32)
    top = np.log2(min(channels, 9) + 1)
    for di in range(len(ds)):
        for k in range(len(KERNELS)):
            n = int(2 ** rng.uniform(0, top)) if channels > 1 else 1
            masks[di, k, rng.choice(channels, size=max(1, min(n, channels)), replace=False)] = 1.0
    groups = []
    for di, (d, per) in enumerate(zip(ds, counts)):
        span = (KERNEL_LENGTH - 1) * d
        for pad in (0, 1):
            ks = tuple(k for k in range(len(KERNELS)) if (di + k) % 2 == pad)
            if pad == 1 and length <= span:  # no valid part: these kernels use "same" padding too
                groups[-1] = Group(d, "same", tuple(sorted(groups[-1].kernels + ks)), per)
                continue
            groups.append(Group(d, "same" if pad == 0 else "valid", ks, per))
    return groups, masks


def dilated_conv_layer(keras: Any) -> Any:
    """A conv over ``[batch, length, 1, channels]`` that calls ``tf.nn.conv2d`` with its dilation directly.

    Keras' own Conv1D/Conv2D with a dilation become SPACE_TO_BATCH_ND + CONV_2D + BATCH_TO_SPACE_ND in TFLite
    (three ops, two extra copies of the activation); this converts to one CONV_2D with a dilation factor,
    which TFLite-Micro runs. A plain layer (not a Lambda), rebuilt from code, saved with ``save_weights``.
    """
    from studio.core.tfenv import load_tf

    tf, _ = load_tf()

    class DilatedConv(keras.layers.Layer):
        studio_conv = True  # counted like a convolution by models.cost

        def __init__(self, filters: int, dilation: int, padding: str, **kw: Any) -> None:
            super().__init__(**kw)
            self.filters, self.dilation, self.padding = int(filters), int(dilation), padding

        def build(self, shape: Any) -> None:
            self.kernel = self.add_weight(name="kernel", shape=(KERNEL_LENGTH, 1, int(shape[-1]), self.filters),
                                          initializer="zeros", trainable=False)
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros", trainable=False)

        def call(self, x: Any) -> Any:
            y = tf.nn.conv2d(x, self.kernel, strides=1, padding=self.padding.upper(), dilations=[self.dilation, 1])
            return tf.nn.bias_add(y, self.bias)

        def get_config(self) -> dict[str, Any]:  # keras.models.clone_model rebuilds layers from this
            return {**super().get_config(), "filters": self.filters, "dilation": self.dilation,
                    "padding": self.padding}

        def compute_output_shape(self, shape: Any) -> Any:
            length = shape[1] if self.padding == "same" else shape[1] - (KERNEL_LENGTH - 1) * self.dilation
            return (shape[0], length, 1, self.filters)

    return DilatedConv


MAX_CONCAT = 10  # TFLite-Micro's CONCATENATION takes at most 10 inputs


def _concat_tree(L: Any, parts: list[Any]) -> Any:
    level = 0
    while len(parts) > 1:
        parts = [part[0] if len(part) == 1 else L.Concatenate(name=f"features{level}_{i}")(part)
                 for i, part in enumerate(parts[k:k + MAX_CONCAT] for k in range(0, len(parts), MAX_CONCAT))]
        level += 1
    return parts[0]


def build_minirocket(input_shape: tuple[int, ...], n_classes: int, p: dict[str, Any]) -> Any:
    """The graph with kernels and channel masks in place; biases and the head are set by :func:`fit`."""
    _, keras = _tf()
    L = keras.layers
    DilatedConv = dilated_conv_layer(keras)
    length, channels = int(input_shape[0]), int(input_shape[1])
    groups, masks = plan(length, channels, int(p["features"]))
    ds = sorted({g.dilation for g in groups})
    inputs = keras.Input(shape=input_shape, name="input")
    x4 = L.Reshape((length, 1, channels), name="as_image")(inputs)
    pooled = []
    for gi, g in enumerate(groups):
        di = ds.index(g.dilation)
        conv = DilatedConv(g.filters, g.dilation, g.padding, name=f"mr{gi}_d{g.dilation}_{g.padding}")
        y = conv(x4)
        kernel = np.zeros((KERNEL_LENGTH, 1, channels, g.filters), dtype=np.float32)
        for j, k in enumerate(g.kernels):
            w = KERNELS[k][:, None] * masks[di, k][None, :]
            kernel[:, 0, :, j * g.per_kernel:(j + 1) * g.per_kernel] = w[:, :, None]
        conv.set_weights([kernel, np.zeros(g.filters, np.float32)])
        y = L.ReLU(max_value=RELU_TOP, name=f"mr{gi}_step")(y)
        pooled.append(L.GlobalAveragePooling2D(name=f"mr{gi}_ppv")(y))
    x = _concat_tree(L, pooled)
    outputs = L.Dense(n_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="minirocket")


def _quantiles(n: int) -> np.ndarray:
    return np.array([(i * ((np.sqrt(5) + 1) / 2)) % 1 for i in range(1, n + 1)], dtype=np.float64)


def _conv_same(x: np.ndarray, weights: np.ndarray, mask: np.ndarray, dilation: int) -> np.ndarray:
    """One kernel on one example ``[length, channels]`` with "same" zero padding (numpy, float64)."""
    length = len(x)
    pad = (KERNEL_LENGTH - 1) * dilation // 2
    xs = np.pad(np.asarray(x, np.float64) @ mask.astype(np.float64), (pad, pad))
    return sum(float(weights[t]) * xs[t * dilation:t * dilation + length] for t in range(KERNEL_LENGTH))


def fit_biases(model: Any, x: np.ndarray, step: float, seed: int = 0) -> None:
    """Biases from quantiles of each kernel's output on a random training example; ramp width ``step`` x its
    standard deviation (``step`` 0 gives a near-hard step)."""
    length, channels = int(x.shape[1]), int(x.shape[2])
    n_features = sum(g.filters for g in _groups(model))
    groups, masks = plan(length, channels, _features_param(model))
    ds = sorted({g.dilation for g in groups})
    quant = _quantiles(n_features)
    rng = np.random.default_rng(seed)
    start = 0
    for gi, g in enumerate(groups):
        conv = model.get_layer(f"mr{gi}_d{g.dilation}_{g.padding}")
        kernel, _ = conv.get_weights()
        bias = np.zeros(g.filters, np.float32)
        di = ds.index(g.dilation)
        for j, k in enumerate(g.kernels):
            c = _conv_same(x[int(rng.integers(len(x)))], KERNELS[k], masks[di, k], g.dilation)
            q = np.quantile(c, quant[start:start + g.per_kernel])
            start += g.per_kernel
            spread = float(c.std()) or 1.0
            s = RELU_TOP / max(step, 1e-3) / spread
            cols = slice(j * g.per_kernel, (j + 1) * g.per_kernel)
            kernel[:, 0, :, cols] = (KERNELS[k][:, None] * masks[di, k][None, :])[:, :, None] * s
            bias[cols] = -q * s + RELU_TOP / 2
        conv.set_weights([kernel, bias])


def _groups(model: Any) -> list[Any]:
    return [layer for layer in model.layers if getattr(layer, "studio_conv", False)]


def _features_param(model: Any) -> int:
    return int(sum(g.filters for g in _groups(model)))


def feature_model(model: Any) -> Any:
    _, keras = _tf()
    return keras.Model(model.input, model.get_layer("predictions").input)


def transform(model: Any, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """The PPV features (x 6) of ``x`` ``[n, length, channels]``, computed by the model's own graph."""
    from studio.core.tfenv import load_tf

    tf, _ = load_tf()
    fm = feature_model(model)
    fn = tf.function(lambda t: fm(t, training=False))
    out = [np.asarray(fn(tf.constant(x[i:i + batch_size], tf.float32))) for i in range(0, len(x), batch_size)]
    return np.concatenate(out).astype(np.float64) if out else np.zeros((0, _features_param(model)))


def set_head(model: Any, fit: RidgeFit) -> None:
    """Fold standardization and temperature into the Dense layer: softmax(T * ridge scores)."""
    t = fit.temperature
    w = fit.coef / fit.scale[:, None] * t
    b = (fit.intercept - (fit.mean / fit.scale) @ fit.coef) * t
    model.get_layer("predictions").set_weights([w.astype(np.float32), b.astype(np.float32)])


def fit(model: Any, x: np.ndarray, y: np.ndarray, n_classes: int, step: float, seed: int = 0,
        min_scale: float = MIN_SCALE) -> RidgeFit:
    """Fit biases and the ridge head on ``x`` ``[n, length, channels]`` (model input), labels ``y``."""
    fit_biases(model, x, step, seed)
    feats = transform(model, x)
    result = fit_ridge(feats, y, n_classes, seed=seed, min_scale=min_scale)
    set_head(model, result)
    return result


CALIBRATION_PERCENT = 0.5  # the int8 input range spans the 0.5th..99.5th percentiles of the calibration inputs


def calibration_inputs(x: np.ndarray, percent: float = CALIBRATION_PERCENT) -> np.ndarray:
    """The int8 calibration inputs of a MiniRocket model: ``x`` clipped to its ``percent`` .. 100 - ``percent``
    percentiles (and 0), so the input's 256 int8 steps cover the bulk of the signal, not its rarest extremes.

    Each feature counts the time steps where a zero-sum kernel's output is above a bias: a spike cut at the
    99.5th percentile still counts the same, while the input's rounding step (range / 255) is what moves a
    near-bias output over or under. OSULeaf (test, per recording, same float model): int8 range [-3.06, 3.67]
    -> [-2.35, 2.53], agreement with float 0.992 -> 0.996, loss 0.83 -> 0.41 points."""
    x = np.asarray(x, np.float32)
    if not x.size or percent <= 0:
        return x
    lo = min(float(np.percentile(x, percent)), 0.0)
    hi = max(float(np.percentile(x, 100.0 - percent)), 0.0)
    return np.clip(x, lo, hi)


def snap_head(model: Any, x: np.ndarray) -> None:
    """Put the Dense head's weights on the int8 grid the converter will use (per output class, the largest
    weight at 127), and correct the bias by the mean logit shift that rounding leaves on the features of ``x``
    (bias correction, Nagel et al. 2019). The features are 0..6 with a large common level, so rounding each of
    thousands of weights shifts every logit by a per-class constant; the int8 head then equals this one
    exactly and only the sample-to-sample part of the rounding remains. 52 generated classes, two recordings
    each (same float model, 400 test recordings): int8 agreement with float 0.960 -> 0.985."""
    layer = model.get_layer("predictions")
    w, b = layer.get_weights()
    scale = np.abs(w).max(axis=0, keepdims=True) / 127.0
    scale = np.where(scale > 0, scale, 1.0)
    wq = np.round(w / scale) * scale
    mean = transform(model, np.asarray(x, np.float32)).mean(0) if len(x) else np.zeros(w.shape[0])
    layer.set_weights([wq.astype(np.float32), (b + mean @ (w - wq)).astype(np.float32)])

