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
        elif isinstance(layer, (L.Conv2D, L.Conv1D, L.Dense)) or getattr(layer, "studio_conv", False):
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
    from . import build_model

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
