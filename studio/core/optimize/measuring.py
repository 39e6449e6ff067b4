"""Measuring a converted variant: LiteRT accuracy on val / test, agreement, latency, sizes, MACs, arena."""

from __future__ import annotations

from typing import Any

import numpy as np

from studio.core.optimize.config import Arrays
from studio.core.reporter import NullReporter, Reporter, check_cancel


def measure_variant(
    model_bytes: bytes,
    keras_model: Any,
    arrays: Arrays,
    quantize: str,
    reporter: Reporter | None = None,
    measure_arena: bool = True,
    progress: tuple[float, float] = (0.6, 1.0),
    keras_probs: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """All measured fields of a variant (no file written). ``keras_model`` is the *trained* float model."""
    from studio.core import measure

    reporter = reporter or NullReporter()
    lo, hi = progress
    out: dict[str, Any] = {}
    keras_probs = dict(keras_probs or {})
    splits = [("val", arrays.x_val, arrays.y_val)]
    if arrays.x_test is not None and arrays.y_test is not None and len(arrays.x_test):
        splits.append(("test", arrays.x_test, arrays.y_test))
    for k, (split, x, y) in enumerate(splits):
        if split not in keras_probs:
            keras_probs[split] = np.asarray(keras_model.predict(x, batch_size=64, verbose=0)) if len(x) else None
        kp = keras_probs[split]
        reporter.status(f"Measuring on the {split} split through LiteRT ({len(x)} samples)")
        a = lo + (hi - lo) * 0.7 * k / len(splits)
        b = lo + (hi - lo) * 0.7 * (k + 1) / len(splits)
        metrics, run_out = measure.evaluate_split(
            model_bytes, x, y, arrays.classes, kp,
            progress=lambda f, a=a, b=b, s=split: reporter.progress(a + (b - a) * f, f"LiteRT on {s}"),
            cancel=reporter.cancel_requested,
        )
        if kp is not None and len(y):
            metrics["keras_accuracy"] = float(np.mean(np.asarray(kp).argmax(axis=1) == np.asarray(y)))
        if split in arrays.groups and len(y):
            metrics.update(_recording_fields(run_out.probs, kp, y, arrays.groups[split], arrays.classes))
        out[split] = metrics
    val = out["val"]
    out["accuracy"] = val.get("accuracy")
    out["keras_accuracy"] = val.get("keras_accuracy")
    out["accuracy_drop"] = (
        round(out["keras_accuracy"] - out["accuracy"], 4)
        if out["accuracy"] is not None and out["keras_accuracy"] is not None else None
    )
    out["agreement"] = val.get("agreement")
    if "recording_accuracy" in val:
        out["recording_accuracy"] = val["recording_accuracy"]
        out["keras_recording_accuracy"] = val.get("keras_recording_accuracy")
        out["recordings"] = val["recordings"]
        if out["keras_recording_accuracy"] is not None:
            out["recording_accuracy_drop"] = round(out["keras_recording_accuracy"] - out["recording_accuracy"], 4)
        out["test_recording_accuracy"] = out["test"].get("recording_accuracy") if "test" in out else None
    out["latency_ms"] = val.get("latency_ms")
    out["latency_p95_ms"] = val.get("latency_p95_ms")
    out["latency_median_ms"] = val.get("latency_median_ms")
    out["latency_note"] = "host CPU, LiteRT, 1 thread, batch 1, mean/p95 per sample"
    out["test_accuracy"] = out["test"]["accuracy"] if "test" in out else None
    out["bytes"] = len(model_bytes)
    out["gzip_bytes"] = measure.gzip_size(model_bytes)
    out["macs"] = measure.count_macs(model_bytes)
    out["ops"] = measure.op_names(model_bytes)
    out["io"] = measure.io_details(model_bytes)
    out["arena"] = None
    check_cancel(reporter)
    if measure_arena and quantize in ("int8", "float32"):
        out["arena"] = measure_arena_of(model_bytes, arrays, reporter, (lo + (hi - lo) * 0.7, hi))
    reporter.progress(hi, "measured")
    return out


def measure_arena_of(model_bytes: bytes, arrays: Arrays, reporter: Reporter,
                     progress: tuple[float, float]) -> dict[str, Any]:
    """The TFLite-Micro arena of ``model_bytes`` (smallest that allocates and invokes), as JSON."""
    from studio.core import measure
    from studio.core.micro import find_arena

    lo, hi = progress
    reporter.status("Finding the TFLite-Micro arena (smallest that allocates and invokes)")
    x0 = arrays.x_val[:1] if len(arrays.x_val) else arrays.x_train[:1]
    inp = measure.quantize_input(np.asarray(x0, np.float32), _litert_input_detail(model_bytes))
    arena = find_arena(
        model_bytes, inp, progress=lambda f: reporter.progress(lo + (hi - lo) * f, "TFLite-Micro arena"),
    )
    return arena.to_json()


def _recording_fields(probs: np.ndarray, keras_probs: np.ndarray | None, y: np.ndarray, groups: np.ndarray,
                      classes: list[str]) -> dict[str, Any]:
    """Per-recording accuracy (mean of window probabilities) through LiteRT, and of the Keras model."""
    from studio.core.evaluate import recording_metrics

    ids = [str(i) for i in range(int(groups.max()) + 1)] if len(groups) else []
    rec = recording_metrics(probs, y, groups, ids, classes)
    out = {k: rec[k] for k in ("recording_accuracy", "recordings", "recording_confusion_matrix")}
    if keras_probs is not None:
        out["keras_recording_accuracy"] = recording_metrics(keras_probs, y, groups, ids, classes)[
            "recording_accuracy"]
    return out


def _litert_input_detail(model_bytes: bytes) -> dict[str, Any]:
    from studio.core.measure import litert_interpreter

    return litert_interpreter(model_bytes, delegates=False).get_input_details()[0]
