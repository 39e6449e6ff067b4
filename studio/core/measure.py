"""Measuring a converted model on the runtime that will run it: LiteRT (ai-edge-litert), not TensorFlow.

Everything Studio shows about a variant comes from here: accuracy and per-class metrics computed from the
``.tflite`` file's own outputs, agreement with the Keras model, host latency per sample, file and gzip sizes,
MACs counted from the converted graph. Nothing is estimated from the Keras model when the real file can tell.
This module imports neither TensorFlow nor Qt.
"""

from __future__ import annotations

import gzip
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from studio.core.metrics import classification_metrics


def litert_interpreter(model_bytes: bytes, num_threads: int = 1, delegates: bool = True) -> Any:
    """An allocated ai-edge-litert interpreter.

    ``delegates=False`` keeps the graph as converted (no XNNPACK rewrite), which is what op listing and MAC
    counting need; measuring uses the default delegate, as a device's LiteRT does.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kind = OpResolverType.AUTO if delegates else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = Interpreter(model_content=model_bytes, num_threads=num_threads, experimental_op_resolver_type=kind)
    interp.allocate_tensors()
    return interp


# A window detector's int8 input (since 2026-12-04) is split: twice as many channels as the window, each value's
# code, then its rounding residual in 1/SPLIT_GAIN of a step; its spectrum adds the residual's DFT. The gain is in
# the model's weights: fixed. The harness (resources/harness/run_model.py) and the C header do the same.
SPLIT_GAIN = 250


def is_split(x: np.ndarray, detail: dict[str, Any]) -> bool:
    """Whether a quantized input tensor takes ``x`` split (twice its channels)."""
    shape = detail.get("shape")
    return (np.dtype(detail["dtype"]).kind != "f" and shape is not None and len(shape) >= 1 and x.ndim >= 1
            and int(shape[-1]) == 2 * int(x.shape[-1]))


def split_codes(x: np.ndarray, scale: float, zero: int, dtype: Any) -> np.ndarray:
    """[..., C] float -> [..., 2C] integer codes: each value's code, then its rounding residual (the value minus
    its code, in 1/SPLIT_GAIN of a step: at most half a step either way), centred in the type's range."""
    info = np.iinfo(dtype)
    v = np.asarray(x, dtype=np.float64) / scale + zero
    q = np.clip(np.round(v), info.min, info.max)
    mid = (int(info.min) + int(info.max) + 1) // 2
    r = np.clip(np.round((v - q) * SPLIT_GAIN), -(SPLIT_GAIN // 2), SPLIT_GAIN // 2) + mid
    return np.concatenate([q, r], axis=-1).astype(dtype)


def split_float(x: np.ndarray, scale: float, zero: int, dtype: Any = np.int8) -> np.ndarray:
    """What :func:`split_codes` stands for in the model's float units (a conversion's representative inputs)."""
    return ((split_codes(x, scale, zero, dtype).astype(np.float64) - zero) * scale).astype(np.float32)


def quantize_input(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """Float model input -> the tensor's dtype, using its scale / zero point when it is quantized (split when
    the tensor has twice the input's channels: :data:`SPLIT_GAIN`)."""
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return x.astype(dtype)
    scale, zero = detail["quantization"]
    if is_split(x, detail):
        return split_codes(x, scale, zero, dtype)
    info = np.iinfo(dtype)
    q = np.round(x / scale + zero)
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize_output(y: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return y.astype(np.float32)
    scale, zero = detail["quantization"]
    return ((y.astype(np.float32) - zero) * scale).astype(np.float32)


def io_details(model_bytes: bytes) -> dict[str, Any]:
    """Input/output dtype, shape and quantization of a model, as JSON (for preprocess.json and C code)."""
    interp = litert_interpreter(model_bytes)
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]

    def one(d: dict[str, Any]) -> dict[str, Any]:
        scale, zero = d["quantization"]
        return {
            "dtype": np.dtype(d["dtype"]).name,
            "shape": [int(s) for s in d["shape"]],
            "scale": float(scale),
            "zero_point": int(zero),
        }

    return {"input": one(inp), "output": one(out)}


@dataclass
class RunOutput:
    probs: np.ndarray  # [n, classes] float32, dequantized
    raw: np.ndarray  # [n, classes] in the output tensor's dtype
    latencies_ms: np.ndarray  # per sample


def invoke_each(
    interp: Any,
    inp: dict[str, Any],
    xq: np.ndarray,
    outputs: list[dict[str, Any]],
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Every sample of ``xq`` (already in the input's dtype) through ``interp`` one at a time, each invoke timed.

    Returns each of ``outputs``' tensors for every sample, stacked (raw, in the output's dtype), and the
    latencies in ms. The first invokes pay for lazy kernel preparation, so three warm-up invokes come first.
    """
    got: list[list[np.ndarray]] = [[] for _ in outputs]
    lat = []
    if len(xq):
        for _ in range(3):
            interp.set_tensor(inp["index"], xq[:1])
            interp.invoke()
    for i in range(len(xq)):
        interp.set_tensor(inp["index"], xq[i : i + 1])
        t0 = time.perf_counter()
        interp.invoke()
        lat.append((time.perf_counter() - t0) * 1000.0)
        for k, d in enumerate(outputs):
            got[k].append(interp.get_tensor(d["index"])[0].copy())
        if progress is not None and i % 16 == 0:
            progress(i / max(1, len(xq)))
        if cancel is not None and i % 16 == 0 and cancel():
            from studio.core.errors import Cancelled

            raise Cancelled()
    stacked = [np.stack(g) if g else np.zeros((0,) + tuple(d["shape"][1:]), dtype=d["dtype"])
               for g, d in zip(got, outputs)]
    return stacked, np.asarray(lat, dtype=np.float64)


def run_litert(
    model_bytes: bytes,
    x: np.ndarray,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    delegates: bool = True,
) -> RunOutput:
    """Run every sample through LiteRT one at a time (batch 1, one thread: as on a small device).

    ``delegates=False``: LiteRT's builtin kernels only (no XNNPACK), e.g. to compare kernel implementations."""
    interp = litert_interpreter(model_bytes, delegates=delegates)
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    shape = list(inp["shape"])
    if shape[0] != 1:
        interp.resize_tensor_input(inp["index"], [1] + shape[1:])
        interp.allocate_tensors()
    xq = quantize_input(np.asarray(x, dtype=np.float32), inp)
    (raw_arr,), lat = invoke_each(interp, inp, xq, [out], progress, cancel)
    return RunOutput(dequantize_output(raw_arr, out), raw_arr, lat)


def evaluate_split(
    model_bytes: bytes,
    x: np.ndarray,
    y: np.ndarray,
    classes: list[str],
    keras_probs: np.ndarray | None = None,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> tuple[dict[str, Any], RunOutput]:
    """Metrics of the .tflite on one split, plus agreement with the Keras model's top-1 if given."""
    run = run_litert(model_bytes, x, progress, cancel)
    pred = run.probs.argmax(axis=1) if len(run.probs) else np.zeros(0, int)
    out = classification_metrics(y, pred, classes)
    if keras_probs is not None and len(pred):
        out["agreement"] = float(np.mean(pred == np.asarray(keras_probs).argmax(axis=1)))
        ref = np.asarray(keras_probs, dtype=np.float32)
        out["max_abs_diff_vs_keras"] = float(np.max(np.abs(run.probs - ref)))
    else:
        out["agreement"] = None
    if len(run.latencies_ms):
        out["latency_ms"] = round(float(run.latencies_ms.mean()), 4)
        out["latency_p95_ms"] = round(float(np.percentile(run.latencies_ms, 95)), 4)
        # the median shows the typical sample when a busy host makes a few invokes very slow (mean > p95)
        out["latency_median_ms"] = round(float(np.median(run.latencies_ms)), 4)
    return out, run


C_ARRAY_OVERHEAD = 15 + 3 + 4  # alignas(16) padding, worst case; padding to the length; unsigned int length


def flash_bytes(model_bytes: int) -> int:
    """Flash a microcontroller spends on the model: the flatbuffer as the bundle's 16-byte aligned ``const``
    array plus its ``unsigned int`` length, with worst-case alignment padding (see ``micro.model_data_files``).
    TFLite-Micro reads the model in place, so nothing else is copied; runtime code is budgeted separately."""
    return int(model_bytes) + C_ARRAY_OVERHEAD


def gzip_size(data: bytes) -> int:
    """Compressed size as a download or an OTA update would see it (gzip -9, no timestamp)."""
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def op_names(model_bytes: bytes) -> list[str]:
    """Distinct builtin op names in the graph, in first-use order (e.g. ["QUANTIZE", "CONV_2D", ...])."""
    interp = litert_interpreter(model_bytes, delegates=False)
    names: list[str] = []
    for op in interp._get_ops_details():  # noqa: SLF001 - public in effect; used by LiteRT's own tools
        name = op["op_name"]
        if name not in names:
            names.append(name)
    return names


def count_macs(model_bytes: bytes) -> int:
    """Multiply-accumulates per inference, counted from the converted graph's conv / dense ops."""
    interp = litert_interpreter(model_bytes, delegates=False)
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    total = 0
    for op in interp._get_ops_details():  # noqa: SLF001
        name = op["op_name"]
        ins = [i for i in op["inputs"] if i >= 0]
        outs = [o for o in op["outputs"] if o >= 0]
        if not ins or not outs:
            continue
        out_shape = tensors[outs[0]]["shape"]
        out_elems = int(np.prod(out_shape))
        if name == "CONV_2D" and len(ins) > 1:
            w = tensors[ins[1]]["shape"]  # [out_c, kh, kw, in_c]
            total += out_elems * int(w[1] * w[2] * w[3])
        elif name == "DEPTHWISE_CONV_2D" and len(ins) > 1:
            w = tensors[ins[1]]["shape"]  # [1, kh, kw, out_c]
            total += out_elems * int(w[1] * w[2])
        elif name == "FULLY_CONNECTED" and len(ins) > 1:
            w = tensors[ins[1]]["shape"]  # [out, in]
            total += out_elems * int(w[-1])
        elif name == "TRANSPOSE_CONV" and len(ins) > 1:
            w = tensors[ins[1]]["shape"]
            total += int(np.prod(tensors[ins[2]]["shape"])) * int(w[0] * w[1] * w[2])
    return int(total)


QUANT_BOOKKEEPING = ("optimizer_step", "mask", "threshold", "pruning_step")
PRUNED_KERNELS = ("Conv1D", "Conv2D", "Conv3D", "Dense", "Conv2DTranspose")


def keras_sparsity(model: Any) -> dict[str, Any]:
    """Fraction of exact zeros in a (stripped) Keras model's weights.

    ``sparsity`` is over the kernels pruning acts on (Conv / Dense kernels, not depthwise kernels, biases or
    batch-norm), which is what the pruning target means. ``sparsity_all`` is over every weight, which is what
    the file size feels; tfmot never prunes depthwise kernels, so MobileNet-type models stay far below target
    there, and we say so rather than hide it.
    """
    prunable_zero = prunable_total = 0
    all_zero = all_total = 0
    depthwise_zero = depthwise_total = 0
    for outer in model.layers:
        kind = type(getattr(outer, "layer", outer)).__name__  # what a QAT / pruning wrapper wraps
        for w in outer.weights:
            short = w.name.split("/")[-1].split(":")[0]
            if short in QUANT_BOOKKEEPING or short.endswith(("_min", "_max")):
                continue  # QAT's ranges and step counters are not weights the file stores
            arr = np.asarray(w.numpy())
            zeros = int(np.sum(arr == 0))
            all_zero += zeros
            all_total += arr.size
            if short == "depthwise_kernel":
                depthwise_zero += zeros
                depthwise_total += arr.size
            elif (short == "kernel" and kind in PRUNED_KERNELS) or short == "pointwise_kernel":
                prunable_zero += zeros
                prunable_total += arr.size
    return {
        "sparsity": round(prunable_zero / prunable_total, 4) if prunable_total else 0.0,
        "sparsity_all": round(all_zero / all_total, 4) if all_total else 0.0,
        "sparsity_depthwise": round(depthwise_zero / depthwise_total, 4) if depthwise_total else None,
        "prunable_weights": int(prunable_total),
        "weights": int(all_total),
    }
