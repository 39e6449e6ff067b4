"""Sensor architectures over ``[window, channels]`` inputs: the 1-D CNN, the dense net, and the deep
time-series baselines of Wang et al. 2017 (FCN, ResNet-1D) and a small InceptionTime (Ismail Fawaz et al.
2020). MiniRocket lives in :mod:`.minirocket` (its weights are fitted, not trained).

Every model is flat (no nested models, no Lambda layers) and uses only ops TFLite-Micro has: CONV_2D (Conv1D
becomes a 2-D conv over a height of 1), MAX_POOL_2D, ADD, CONCATENATION, MEAN, FULLY_CONNECTED, SOFTMAX.
"""

from __future__ import annotations

from typing import Any

from .common import _filters, _head, _tf


def _build_cnn1d(input_shape: tuple[int, ...], n_classes: int, p: dict[str, Any]) -> Any:
    _, keras = _tf()
    L = keras.layers
    w = float(p["width"])
    window = input_shape[0]
    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs
    length = window
    for i, (filters, kernel) in enumerate([(_filters(16, w), 7), (_filters(32, w), 5), (_filters(64, w), 3)]):
        x = L.Conv1D(filters, min(kernel, max(3, length)), padding="same", use_bias=False, name=f"conv{i + 1}")(x)
        x = L.BatchNormalization(momentum=0.9, name=f"conv{i + 1}_bn")(x)
        x = L.ReLU(name=f"conv{i + 1}_relu")(x)
        if i < 2 and length >= 16:
            x = L.MaxPooling1D(2, name=f"pool{i + 1}")(x)
            length //= 2
    x = L.GlobalAveragePooling1D(name="gap")(x)
    outputs = _head(keras, x, n_classes, p["dropout"])
    return keras.Model(inputs, outputs, name="cnn1d")


def _build_dense(input_shape: tuple[int, ...], n_classes: int, p: dict[str, Any]) -> Any:
    _, keras = _tf()
    L = keras.layers
    w = float(p["width"])
    inputs = keras.Input(shape=input_shape, name="input")
    x = L.Flatten(name="flatten")(inputs)
    x = L.Dense(_filters(64, w), activation="relu", name="dense1")(x)
    if p["dropout"] > 0:
        x = L.Dropout(p["dropout"], name="dropout1")(x)
    x = L.Dense(_filters(32, w), activation="relu", name="dense2")(x)
    outputs = _head(keras, x, n_classes, p["dropout"])
    return keras.Model(inputs, outputs, name="dense")


def _conv_bn(L: Any, x: Any, filters: int, kernel: int, name: str, relu: bool = True) -> Any:
    x = L.Conv1D(filters, kernel, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = L.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return L.ReLU(name=f"{name}_relu")(x) if relu else x


def _kernel(k: int, length: int) -> int:
    """A kernel no longer than the input (short recordings such as 24-step series still get valid convs)."""
    return max(1, min(k, length))


def _build_fcn(input_shape: tuple[int, ...], n_classes: int, p: dict[str, Any]) -> Any:
    """Conv(128, 8) - Conv(256, 5) - Conv(128, 3), each with batch norm and ReLU, then GAP (width 1.0)."""
    _, keras = _tf()
    L = keras.layers
    w, length = float(p["width"]), input_shape[0]
    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs
    for i, (f, k) in enumerate([(128, 8), (256, 5), (128, 3)]):
        x = _conv_bn(L, x, _filters(f, w), _kernel(k, length), f"block{i + 1}")
    x = L.GlobalAveragePooling1D(name="gap")(x)
    return keras.Model(inputs, _head(keras, x, n_classes, p["dropout"]), name="fcn")


def _build_resnet1d(input_shape: tuple[int, ...], n_classes: int, p: dict[str, Any]) -> Any:
    """Three residual blocks (64, 128, 128 filters at width 1.0) of convs with kernels 8, 5, 3; the shortcut
    is a 1x1 conv + batch norm when the width changes, else batch norm alone; then GAP."""
    _, keras = _tf()
    L = keras.layers
    w, length = float(p["width"]), input_shape[0]
    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs
    channels = input_shape[1]
    for b, f in enumerate([64, 128, 128]):
        filters = _filters(f, w)
        name = f"res{b + 1}"
        y = x
        for j, k in enumerate((8, 5, 3)):
            y = _conv_bn(L, y, filters, _kernel(k, length), f"{name}_{j + 1}", relu=j < 2)
        if channels != filters:
            s = L.Conv1D(filters, 1, use_bias=False, name=f"{name}_short_conv")(x)
        else:
            s = x
        s = L.BatchNormalization(momentum=0.9, name=f"{name}_short_bn")(s)
        x = L.ReLU(name=f"{name}_out")(L.Add(name=f"{name}_add")([y, s]))
        channels = filters
    x = L.GlobalAveragePooling1D(name="gap")(x)
    return keras.Model(inputs, _head(keras, x, n_classes, p["dropout"]), name="resnet1d")


def _inception_module(L: Any, x: Any, nf: int, length: int, name: str) -> Any:
    if int(x.shape[-1]) > 1:
        z = L.Conv1D(nf, 1, padding="same", use_bias=False, name=f"{name}_bottleneck")(x)
    else:
        z = x
    branches = [
        L.Conv1D(nf, _kernel(k, length), padding="same", use_bias=False, name=f"{name}_k{k}")(z)
        for k in (9, 19, 39)
    ]
    m = L.MaxPooling1D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    branches.append(L.Conv1D(nf, 1, padding="same", use_bias=False, name=f"{name}_pool_conv")(m))
    y = L.Concatenate(axis=-1, name=f"{name}_concat")(branches)
    y = L.BatchNormalization(momentum=0.9, name=f"{name}_bn")(y)
    return L.ReLU(name=f"{name}_relu")(y)


def _build_inception(input_shape: tuple[int, ...], n_classes: int, p: dict[str, Any]) -> Any:
    """``depth`` Inception modules of 4 x (16 x width) filters, a residual shortcut every three; then GAP.
    The paper's network is 6 modules of 4 x 32 filters (an ensemble of five); this is a single, smaller one."""
    _, keras = _tf()
    L = keras.layers
    nf, length = _filters(16, float(p["width"])), input_shape[0]
    inputs = keras.Input(shape=input_shape, name="input")
    x = short = inputs
    for d in range(int(p["depth"])):
        x = _inception_module(L, x, nf, length, f"inc{d + 1}")
        if d % 3 == 2:
            s = L.Conv1D(int(x.shape[-1]), 1, padding="same", use_bias=False, name=f"short{d + 1}_conv")(short)
            s = L.BatchNormalization(momentum=0.9, name=f"short{d + 1}_bn")(s)
            x = L.ReLU(name=f"short{d + 1}_relu")(L.Add(name=f"short{d + 1}_add")([x, s]))
            short = x
    x = L.GlobalAveragePooling1D(name="gap")(x)
    return keras.Model(inputs, _head(keras, x, n_classes, p["dropout"]), name="inception")
