"""Architecture registry: every model Studio trains is an id plus parameters, rebuilt here on demand.

A project stores ``model.json`` (arch id, params, input shape, classes) and ``weights.h5``; nothing else is
needed to get the model back, so a project received from someone else never runs code it carries. Every
model is a *flat* functional tf_keras model without Lambda or Rescaling layers: pruning and quantization-aware
training (tfmot) refuse nested models and those layers. Input scaling happens in the data pipeline instead
(see :mod:`studio.core.pipeline`).

The registry itself is plain data: listing architectures (``studio archs``, the GUI's model cards) does not
import TensorFlow. Building a model or estimating its cost does.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from studio.core.errors import ConfigError


@dataclass(frozen=True)
class ArchSpec:
    """One architecture: what it is for, its default parameters and the values each parameter may take.

    ``allowed`` maps a parameter to a tuple of allowed values, or to ``(min, max)`` wrapped in a dict
    ``{"min": lo, "max": hi}`` for ranges. ``input_sizes`` is the allowed image side (images only).
    """

    id: str
    title: str
    task: str  # "image" | "sensor"
    summary: str
    defaults: dict[str, Any] = field(default_factory=dict)
    allowed: dict[str, Any] = field(default_factory=dict)
    input_sizes: tuple[int, int] | None = None  # (min, max) image side
    pretrained: tuple[str, ...] = ("none",)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "task": self.task,
            "summary": self.summary,
            "defaults": dict(self.defaults),
            "allowed": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.allowed.items()},
            "input_sizes": list(self.input_sizes) if self.input_sizes else None,
            "pretrained": list(self.pretrained),
        }


REGISTRY: dict[str, ArchSpec] = {
    spec.id: spec
    for spec in (
        ArchSpec(
            id="mobilenetv2",
            title="MobileNetV2",
            task="image",
            summary=(
                "The standard small image network (inverted residual blocks). Best with ImageNet weights on "
                "photos of 96 px or more; width 0.35 fits a Raspberry Pi class device comfortably."
            ),
            defaults={"width": 0.35, "dropout": 0.2, "bn_momentum": 0.9},
            allowed={
                "width": (0.35, 0.5, 0.75, 1.0),
                "dropout": {"min": 0.0, "max": 0.9},
                "bn_momentum": {"min": 0.5, "max": 0.9999},
            },
            input_sizes=(32, 224),
            pretrained=("none", "imagenet"),
        ),
        ArchSpec(
            id="compact_cnn",
            title="Compact CNN",
            task="image",
            summary=(
                "A few tens of thousands of parameters: conv and separable-conv blocks with batch norm, global "
                "average pooling and dropout. Trains from scratch in minutes; fits microcontrollers."
            ),
            defaults={"width": 1.0, "dropout": 0.3},
            allowed={"width": (0.5, 1.0, 1.5, 2.0), "dropout": {"min": 0.0, "max": 0.9}},
            input_sizes=(16, 256),
        ),
        ArchSpec(
            id="cnn1d",
            title="1-D CNN",
            task="sensor",
            summary=(
                "Three 1-D convolution blocks over time, global average pooling and dropout. The default for "
                "sensor windows: small, fast, robust to where in the window an event happens."
            ),
            defaults={"width": 1.0, "dropout": 0.3},
            allowed={"width": (0.5, 1.0, 1.5, 2.0), "dropout": {"min": 0.0, "max": 0.9}},
        ),
        ArchSpec(
            id="dense",
            title="Small dense net",
            task="sensor",
            summary=(
                "Flattens the window into two small fully connected layers. Tiny and quick for short windows "
                "with few channels; sensitive to where in the window an event happens."
            ),
            defaults={"width": 1.0, "dropout": 0.3},
            allowed={"width": (0.5, 1.0, 1.5, 2.0), "dropout": {"min": 0.0, "max": 0.9}},
        ),
    )
}


@dataclass(frozen=True)
class ModelEstimate:
    """Cost of a model before training. Sizes are for the weights as a TFLite file would hold them.

    ``float32_bytes``: 4 bytes per deployed weight (batch norm folded into the preceding layer) plus a small
    per-layer overhead. ``int8_bytes``: 1 byte per kernel weight and 4 per bias (int32), same overhead.
    ``activation_bytes``: the largest input+output activation pair of one layer at int8, a lower bound of the
    tensor arena a microcontroller needs.
    """

    params: int
    macs: int
    float32_bytes: int
    int8_bytes: int
    activation_bytes: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "params": self.params,
            "macs": self.macs,
            "float32_bytes": self.float32_bytes,
            "int8_bytes": self.int8_bytes,
            "activation_bytes": self.activation_bytes,
        }


# ---------------------------------------------------------------------------------------------- validation
def get_spec(arch_id: str, task: str | None = None) -> ArchSpec:
    """The spec of ``arch_id``; a ConfigError naming the choices when it is unknown or for another task."""
    spec = REGISTRY.get(arch_id)
    if spec is None:
        choices = ", ".join(s.id for s in REGISTRY.values() if task is None or s.task == task)
        raise ConfigError(f"unknown architecture {arch_id!r}", hint=f"choose one of: {choices}")
    if task is not None and spec.task != task:
        choices = ", ".join(s.id for s in REGISTRY.values() if s.task == task)
        raise ConfigError(
            f"architecture {arch_id!r} is for {spec.task} data, but this is a {task} project",
            hint=f"choose one of: {choices}",
        )
    return spec


def resolve_params(arch_id: str, **params: Any) -> dict[str, Any]:
    """Defaults merged with ``params`` (None means default), each checked against the spec."""
    spec = get_spec(arch_id)
    out = dict(spec.defaults)
    for key, value in params.items():
        if value is None:
            continue
        if key not in spec.allowed:
            raise ConfigError(
                f"{spec.title} has no parameter {key!r}", hint=f"parameters: {', '.join(spec.allowed) or 'none'}"
            )
        allowed = spec.allowed[key]
        if isinstance(allowed, dict):
            try:
                value = float(value)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{key} must be a number, got {value!r}") from exc
            if not allowed["min"] <= value <= allowed["max"]:
                raise ConfigError(f"{key} must be between {allowed['min']} and {allowed['max']}, got {value}")
        else:
            match = [a for a in allowed if isinstance(a, (int, float)) and abs(float(a) - float(value)) < 1e-9]
            if not match:
                raise ConfigError(
                    f"{spec.title} {key} must be one of {', '.join(str(a) for a in allowed)}, got {value}"
                )
            value = match[0]
        out[key] = value
    return out


def check_input_shape(arch_id: str, input_shape: tuple[int, ...]) -> None:
    spec = get_spec(arch_id)
    if spec.task == "image":
        if len(input_shape) != 3 or input_shape[0] != input_shape[1] or input_shape[2] not in (1, 3):
            raise ConfigError(f"{spec.title} needs a square image input with 1 or 3 channels, got {input_shape}")
        lo, hi = spec.input_sizes or (1, 100000)
        if not lo <= input_shape[0] <= hi:
            raise ConfigError(
                f"{spec.title} takes images of {lo} to {hi} pixels, got {input_shape[0]}",
                hint=f"choose an input size between {lo} and {hi}",
            )
    else:
        if len(input_shape) != 2 or input_shape[0] < 4 or input_shape[1] < 1:
            raise ConfigError(
                f"{spec.title} needs a [window, channels] input with a window of at least 4, got {input_shape}"
            )


# ---------------------------------------------------------------------------------------------- builders
def build_model(arch_id: str, input_shape: tuple[int, ...], n_classes: int, **params: Any) -> Any:
    """A freshly initialised flat functional tf_keras model; outputs softmax probabilities.

    ``params`` are the architecture's parameters (see ``REGISTRY[arch_id].allowed``); missing ones take the
    defaults. Pretrained weights are loaded by the caller (:func:`studio.core.weights.load_imagenet`), so a
    model rebuilt from ``model.json`` never reaches for the network.
    """
    input_shape = tuple(int(v) for v in input_shape)
    check_input_shape(arch_id, input_shape)
    if n_classes < 2:
        raise ConfigError(f"a classifier needs at least 2 classes, got {n_classes}")
    p = resolve_params(arch_id, **params)
    builder = {
        "mobilenetv2": _build_mobilenetv2,
        "compact_cnn": _build_compact_cnn,
        "cnn1d": _build_cnn1d,
        "dense": _build_dense,
    }[arch_id]
    return builder(input_shape, int(n_classes), p)


def _filters(base: int, width: float) -> int:
    return max(4, int(round(base * width / 4.0)) * 4)


def _head(keras: Any, x: Any, n_classes: int, dropout: float) -> Any:
    L = keras.layers
    if dropout > 0:
        x = L.Dropout(dropout, name="head_dropout")(x)
    return L.Dense(n_classes, activation="softmax", name="predictions")(x)


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


def _tf() -> tuple[Any, Any]:
    from studio.core.tfenv import load_tf

    return load_tf()


# ---------------------------------------------------------------------------------------------- estimate
def _prod(values: Any) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def _shape(shape: Any) -> tuple[int, ...]:
    """A layer's output shape without the batch dimension (first shape when there are several)."""
    if isinstance(shape, list):
        shape = shape[0]
    return tuple(int(v) for v in shape[1:])


def count_macs(model: Any) -> int:
    """Multiply-accumulates of one forward pass, from the layers' kernel and output shapes.

    Conv2D: out_h*out_w*k_h*k_w*c_in*c_out; DepthwiseConv2D: out_h*out_w*k_h*k_w*c_in*multiplier;
    SeparableConv2D: its depthwise part plus out_h*out_w*c_in*multiplier*c_out; Conv1D: out_len*k*c_in*c_out;
    Dense: (product of leading output dims)*in*out. Batch norm, pooling and activations are not counted: TFLite
    folds the first and the others are cheap compared with the convolutions.
    """
    _, keras = _tf()
    L = keras.layers
    total = 0
    for layer in model.layers:
        if isinstance(layer, L.SeparableConv2D):
            out = _shape(layer.output_shape)
            kh, kw, cin, mult = layer.depthwise_kernel.shape
            spatial = out[0] * out[1]
            total += spatial * kh * kw * cin * mult + spatial * cin * mult * out[2]
        elif isinstance(layer, L.DepthwiseConv2D):
            out = _shape(layer.output_shape)
            kh, kw, cin, mult = layer.depthwise_kernel.shape
            total += out[0] * out[1] * kh * kw * cin * mult
        elif isinstance(layer, (L.Conv2D, L.Conv1D)):  # Conv2D before Conv1D is fine: they are siblings
            out = _shape(layer.output_shape)
            kernel = layer.kernel.shape  # (..., c_in/groups, c_out)
            total += _prod(out[:-1]) * _prod(kernel)
        elif isinstance(layer, L.Dense):
            out = _shape(layer.output_shape)
            total += _prod(out[:-1]) * _prod(layer.kernel.shape)
    return int(total)


def _deployed_weights(model: Any) -> tuple[int, int, int]:
    """(kernel weights, bias values, layer count) after TFLite folds batch norm into the preceding layer."""
    _, keras = _tf()
    L = keras.layers
    kernels = biases = layers = 0
    for layer in model.layers:
        if isinstance(layer, L.SeparableConv2D):
            kernels += _prod(layer.depthwise_kernel.shape) + _prod(layer.pointwise_kernel.shape)
            biases += int(layer.pointwise_kernel.shape[-1]) + int(layer.depthwise_kernel.shape[2])
            layers += 2
        elif isinstance(layer, L.DepthwiseConv2D):
            kernels += _prod(layer.depthwise_kernel.shape)
            biases += int(layer.depthwise_kernel.shape[2] * layer.depthwise_kernel.shape[3])
            layers += 1
        elif isinstance(layer, (L.Conv2D, L.Conv1D, L.Dense)):
            kernels += _prod(layer.kernel.shape)
            biases += int(layer.kernel.shape[-1])  # own bias, or the folded batch norm's
            layers += 1
        elif layer.weights and not isinstance(layer, L.BatchNormalization):
            kernels += sum(_prod(w.shape) for w in layer.weights)
            layers += 1
        elif not isinstance(layer, L.InputLayer):
            layers += 1
    return kernels, biases, layers


def _activation_bytes(model: Any) -> int:
    """The largest (input + output) int8 activation of any layer: a lower bound of the inference arena."""
    best = 0
    for layer in model.layers:
        try:
            ins = layer.input_shape if isinstance(layer.input_shape, list) else [layer.input_shape]
            total = sum(_prod(s[1:]) for s in ins) + _prod(_shape(layer.output_shape))
        except (AttributeError, TypeError, ValueError):
            continue
        best = max(best, int(total))
    return best


FILE_OVERHEAD_BYTES = 2048
LAYER_OVERHEAD_BYTES = 160


@functools.lru_cache(maxsize=64)
def _estimate_cached(arch_id: str, input_shape: tuple[int, ...], n_classes: int, params: tuple) -> ModelEstimate:
    model = build_model(arch_id, input_shape, n_classes, **dict(params))
    kernels, biases, layers = _deployed_weights(model)
    overhead = FILE_OVERHEAD_BYTES + LAYER_OVERHEAD_BYTES * layers
    est = ModelEstimate(
        params=int(model.count_params()),
        macs=count_macs(model),
        float32_bytes=4 * (kernels + biases) + overhead,
        int8_bytes=kernels + 4 * biases + overhead,
        activation_bytes=_activation_bytes(model),
    )
    del model
    _, keras = _tf()
    keras.backend.clear_session()
    return est


def estimate(arch_id: str, input_shape: tuple[int, ...], n_classes: int, **params: Any) -> ModelEstimate:
    """Parameters, MACs and estimated float32/int8 sizes, by building the model once (cached by arguments).

    The GUI's model cards and ``studio archs --estimate`` both call this, so they always agree.
    """
    resolved = resolve_params(arch_id, **params)
    key = tuple(sorted(resolved.items()))
    return _estimate_cached(arch_id, tuple(int(v) for v in input_shape), int(n_classes), key)


def default_input_shape(arch_id: str, input_size: int | None = None, channels: int | None = None) -> tuple:
    """An input shape to describe ``arch_id`` with when no project is at hand."""
    spec = get_spec(arch_id)
    if spec.task == "image":
        size = int(input_size or (96 if arch_id == "mobilenetv2" else 64))
        return (size, size, int(channels or 3))
    return (int(input_size or 128), int(channels or 3))


def describe_architectures(
    task: str | None = None, estimate: bool = False, input_size: int | None = None, n_classes: int = 2
) -> list[dict[str, Any]]:
    """One dict per architecture for ``studio archs`` and the GUI; TensorFlow is loaded only for estimates."""
    out = []
    for spec in REGISTRY.values():
        if task is not None and spec.task != task:
            continue
        item = spec.to_json()
        if estimate:
            shape = default_input_shape(spec.id, input_size)
            item["estimate"] = {"input_shape": list(shape), "n_classes": n_classes}
            item["estimate"].update(globals()["estimate"](spec.id, shape, n_classes).to_json())
        out.append(item)
    return out
