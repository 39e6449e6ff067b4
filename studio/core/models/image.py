"""Image architectures: MobileNetV2 and the compact CNN."""

from __future__ import annotations

from typing import Any

from .common import _filters, _head, _tf


def mobilenet_base(keras: Any, inputs: Any, width: float) -> Any:
    """The Keras MobileNetV2 feature extractor built *on* ``inputs`` so its layers join the caller's graph."""
    return keras.applications.MobileNetV2(
        input_tensor=inputs, alpha=float(width), include_top=False, weights=None, pooling=None
    )


def _build_mobilenetv2(input_shape: tuple[int, ...], n_classes: int, p: dict[str, Any]) -> Any:
    _, keras = _tf()
    inputs = keras.Input(shape=input_shape, name="input")
    base = mobilenet_base(keras, inputs, p["width"])
    # Keras uses momentum 0.999: on a few hundred images (~10 steps/epoch) the moving statistics are still
    # mostly their initial values after 10 epochs and the model evaluates at chance. 0.9 settles in ~30 steps.
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = float(p["bn_momentum"])
    x = keras.layers.GlobalAveragePooling2D(name="gap")(base.output)
    outputs = _head(keras, x, n_classes, p["dropout"])
    return keras.Model(inputs, outputs, name=f"mobilenetv2_{p['width']}")


def _conv_bn_relu(keras: Any, x: Any, filters: int, name: str, separable: bool, strides: int = 1) -> Any:
    L = keras.layers
    if separable:
        x = L.SeparableConv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_sep")(x)
    else:
        x = L.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = L.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return L.ReLU(name=f"{name}_relu")(x)


def _build_compact_cnn(input_shape: tuple[int, ...], n_classes: int, p: dict[str, Any]) -> Any:
    """A plain conv stem, then four blocks of separable convs (two per block but the last), max-pooling
    between blocks until the feature map is ~6 px, then global average pooling and a dense head.

    Eight conv layers: the first design (five layers, ~10 M MACs at 96 px) underfit thin-line defects such as
    scratches and cracks (train accuracy under 70 % on the inspection sample). Separable convs keep the depth
    cheap (~16 M MACs at 96 px, ~60 k parameters). Inputs above 48 px start with a strided stem.
    """
    _, keras = _tf()
    L = keras.layers
    w = float(p["width"])
    size = input_shape[0]
    inputs = keras.Input(shape=input_shape, name="input")
    stride = 2 if size > 48 else 1
    x = _conv_bn_relu(keras, inputs, _filters(24, w), "stem", separable=False, strides=stride)
    side = (size + stride - 1) // stride
    plan = [(_filters(32, w), 2), (_filters(64, w), 2), (_filters(128, w), 2), (_filters(192, w), 1)]
    for i, (filters, repeats) in enumerate(plan):
        for r in range(repeats):
            x = _conv_bn_relu(keras, x, filters, f"block{i + 1}_{r + 1}", separable=True)
        if i < len(plan) - 1 and side >= 8:
            x = L.MaxPooling2D(2, name=f"block{i + 1}_pool")(x)
            side //= 2
    x = L.GlobalAveragePooling2D(name="gap")(x)
    outputs = _head(keras, x, n_classes, p["dropout"])
    return keras.Model(inputs, outputs, name="compact_cnn")
