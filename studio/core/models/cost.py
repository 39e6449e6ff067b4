"""Model cost before training: parameters, MACs, float32/int8 sizes and activation memory (the model cards)."""

from __future__ import annotations

import functools
from typing import Any

from .common import _tf
from .registry import REGISTRY, ModelEstimate, get_spec, resolve_params


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
        elif isinstance(layer, (L.Conv2D, L.Conv1D)) or getattr(layer, "studio_conv", False):
            out = _shape(layer.output_shape)
            kernel = layer.kernel.shape  # (..., c_in/groups, c_out)
            total += _prod(out[:-1]) * _prod(kernel)
        elif isinstance(layer, L.Dense):
            out = _shape(layer.output_shape)
            total += _prod(out[:-1]) * _prod(layer.kernel.shape)
    return int(total)


def _deployed_weights(model: Any) -> tuple[int, int, int, int]:
    """(kernel weights, conv output channels, dense units, ops) after TFLite folds batch norm into the preceding
    layer and fuses activations (batch norm, activation, dropout and input layers are no ops of their own)."""
    _, keras = _tf()
    L = keras.layers
    kernels = channels = units = ops = 0
    for layer in model.layers:
        if isinstance(layer, L.SeparableConv2D):
            kernels += _prod(layer.depthwise_kernel.shape) + _prod(layer.pointwise_kernel.shape)
            channels += int(layer.pointwise_kernel.shape[-1]) + int(layer.depthwise_kernel.shape[2])
            ops += 2
        elif isinstance(layer, L.DepthwiseConv2D):
            kernels += _prod(layer.depthwise_kernel.shape)
            channels += int(layer.depthwise_kernel.shape[2] * layer.depthwise_kernel.shape[3])
            ops += 1
        elif isinstance(layer, (L.Conv2D, L.Conv1D)) or getattr(layer, "studio_conv", False):
            kernels += _prod(layer.kernel.shape)
            channels += int(layer.kernel.shape[-1])  # own bias, or the folded batch norm's
            ops += 1
        elif isinstance(layer, L.Dense):
            kernels += _prod(layer.kernel.shape)
            units += int(layer.kernel.shape[-1])
            ops += 1
        elif layer.weights and not isinstance(layer, L.BatchNormalization):
            kernels += sum(_prod(w.shape) for w in layer.weights)
            ops += 1
        elif not isinstance(layer, (L.InputLayer, L.BatchNormalization, L.Dropout, L.ReLU, L.Activation)):
            ops += 1
    return kernels, channels, units, ops


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


# Sizes of a .tflite beyond its weights, fitted on real conversions (TF 2.21) of compact CNN (16-64 px, widths
# 0.5-1.5), 1-D CNN, FCN, ResNet-1D and dense models: within -10..+13 % of the real int8 file, where counting
# weights and int32 biases alone was 10-40 % short (per-channel int8 quantization stores a float32 scale and
# an int64 zero point for every output channel, of the kernel and of the bias: 28 bytes a channel with the bias).
FILE_OVERHEAD_BYTES = 4250
OP_OVERHEAD_BYTES = 280
INT8_CHANNEL_BYTES = 28  # int32 bias + per-channel scale and zero point of kernel and bias
FLOAT_CHANNEL_BYTES = 4


def file_bytes(model: Any) -> tuple[int, int]:
    """Estimated (float32, int8) .tflite sizes of a Keras model (any: a registry build or a pruned one)."""
    kernels, channels, units, ops = _deployed_weights(model)
    overhead = FILE_OVERHEAD_BYTES + OP_OVERHEAD_BYTES * ops
    return (4 * kernels + FLOAT_CHANNEL_BYTES * (channels + units) + overhead,
            kernels + INT8_CHANNEL_BYTES * channels + 4 * units + overhead)


@functools.lru_cache(maxsize=64)
def _estimate_cached(arch_id: str, input_shape: tuple[int, ...], n_classes: int, params: tuple) -> ModelEstimate:
    from . import build_model

    model = build_model(arch_id, input_shape, n_classes, **dict(params))
    float32_bytes, int8_bytes = file_bytes(model)
    est = ModelEstimate(
        params=int(model.count_params()),
        macs=count_macs(model),
        float32_bytes=float32_bytes,
        int8_bytes=int8_bytes,
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
