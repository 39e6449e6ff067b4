"""Keras model -> .tflite bytes: float32, float16, dynamic range, or full int8.

Full int8 is calibrated on real *training* samples (never random data, never validation data): a
representative set drawn evenly from the classes so a rare class's activations are not clipped. Input and
output are int8 (TFLite-Micro's native type) or uint8 (what some phone / accelerator pipelines want).
Pruned models are converted with ``EXPERIMENTAL_SPARSITY`` so the converter may store sparse tensors, *unless*
the model is headed for TFLite-Micro, which has no DENSIFY kernel.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from studio.core.errors import ConfigError

QUANTIZATIONS = ("float32", "float16", "dynamic", "int8")
IO_DTYPES = ("int8", "uint8", "float32")


def representative_indices(y: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Up to ``n`` sample indices, spread evenly over classes (round-robin), shuffled deterministically."""
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    per_class = [rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y)]
    picked: list[int] = []
    depth = 0
    while len(picked) < n and any(depth < len(p) for p in per_class):
        for p in per_class:
            if depth < len(p) and len(picked) < n:
                picked.append(int(p[depth]))
        depth += 1
    return rng.permutation(np.asarray(picked, dtype=np.int64))


def convert_model(
    model: Any,
    quantize: str,
    representative: np.ndarray | None = None,
    *,
    io_dtype: str = "int8",
    sparse: bool = False,
    progress: Callable[[float], None] | None = None,
    per_tensor_dense: bool = False,
) -> bytes:
    """Convert ``model`` (a tf_keras model, pruning already stripped) to TFLite flatbuffer bytes.

    ``representative`` is ``[n, ...]`` float32 preprocessed training inputs; required for int8.
    ``progress`` is called with 0..1 while calibrating (the slow part for MobileNet-sized models).
    ``per_tensor_dense``: int8 FULLY_CONNECTED weights with one scale, not one per output (the global anomaly
    detector's bank, so its GATHER can read the same bytes: :func:`studio.core.anomaly.litert.share_bank`).
    """
    from studio.core.tfenv import load_tf

    tf, _ = load_tf()
    if quantize not in QUANTIZATIONS:
        raise ConfigError(f"unknown quantization {quantize!r}", hint="use one of " + ", ".join(QUANTIZATIONS))
    if io_dtype not in IO_DTYPES:
        raise ConfigError(f"unknown input/output type {io_dtype!r}", hint="use int8, uint8 or float32")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    optimizations = []
    if quantize in ("float16", "dynamic", "int8"):
        optimizations.append(tf.lite.Optimize.DEFAULT)
    if sparse:
        optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
    converter.optimizations = optimizations
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        if representative is None or len(representative) == 0:
            raise ConfigError("int8 conversion needs representative training samples", hint="import data first")
        rep = np.asarray(representative, dtype=np.float32)

        def gen():
            for i in range(len(rep)):
                if progress is not None and i % 8 == 0:
                    progress(i / len(rep))
                yield [rep[i : i + 1]]

        converter.representative_dataset = gen
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if per_tensor_dense:
            converter._experimental_disable_per_channel_quantization_for_dense_layers = True  # noqa: SLF001
        if io_dtype != "float32":
            converter.inference_input_type = tf.int8 if io_dtype == "int8" else tf.uint8
            converter.inference_output_type = tf.int8 if io_dtype == "int8" else tf.uint8
    try:
        with warnings.catch_warnings():
            # int8 with float32 ends: TensorFlow warns that input statistics "were expected"; they are not needed
            warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
            data = converter.convert()
    except Exception as exc:  # the converter raises many types; all mean "this graph cannot be converted"
        raise ConfigError(
            f"TFLite conversion ({quantize}) failed: {str(exc).splitlines()[0][:300]}",
            hint="try another quantization, or report this model architecture",
        ) from exc
    if progress is not None:
        progress(1.0)
    return bytes(data)
