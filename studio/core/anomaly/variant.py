"""Optimize for an anomaly project: convert the fitted detector (float32 / float16 / dynamic / full int8) and
measure it through LiteRT the way the device will run it.

Nothing is fine-tuned (a detector has no trained weights to prune or retrain), so pruning, QAT, distillation
and channel pruning do not apply. Full int8 is calibrated on normal training inputs plus mildly and strongly
perturbed ones (:mod:`.synthetic`). Each variant is measured on its own terms: its AUROC through LiteRT beside
the float detector's, its own threshold (the run's policy applied to its own validation scores), how often it
gives the same OK / NOT OK as the float detector, latency, sizes and the TFLite-Micro arena.
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import replace
from typing import Any

import numpy as np

from studio.core.errors import ConfigError, ProjectError
from studio.core.reporter import NullReporter, Reporter, check_cancel

from .metrics import ThresholdPolicy, anomaly_metrics, choose_threshold
from .runs import load_detector, read_calibration
from .scoring import Scored, score_arrays, split_inputs
from .synthetic import representative_set, window_margin


def check_config(config: Any) -> Any:
    """An OptimizeConfig for a detector: only the conversion applies."""
    if config.prune > 0 or config.qat or getattr(config, "distills", False) or getattr(config, "channels", False):
        raise ConfigError(
            "pruning, quantization-aware training and distillation apply to classifiers: an anomaly detector is "
            "fitted, not trained, so there is nothing to fine-tune",
            hint="build a variant with --quantize int8 (or float32) only",
        )
    return config


def _verdict_units(scored: Scored, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(unit scores, unit is-defect, unit labels) with ``scores`` per image / window."""
    units = replace(scored, scores=np.asarray(scores, dtype=np.float64)).units()
    labels = units["labels"]
    return units["scores"], np.array([lab != scored.normal for lab in labels], bool), labels


def optimize_anomaly(project: Any, config: Any, reporter: Reporter | None = None) -> Any:
    from studio.core.fsutil import safe_name
    from studio.core.optimize.config import VariantInfo
    from studio.core.optimize.store import write_variant

    reporter = reporter or NullReporter()
    config = check_config(config.validated())
    started = time.monotonic()
    name = safe_name(config.name or config.default_name())
    reporter.status(f"Building variant '{name}'")
    model, info = load_detector(project, config.run_id)
    calibration = read_calibration(info.path)
    policy = ThresholdPolicy.from_json(calibration.get("policy"))
    recordings = None
    if info.spec.kind == "sensor":
        from studio.core.data.sensor import load_recordings

        recordings = load_recordings(project)
    sets = {}
    for k, split in enumerate(("train", "val", "test")):
        check_cancel(reporter)
        sets[split] = split_inputs(project, info.spec, info.normal_class, split, recordings)
        reporter.progress(0.03 + 0.03 * k, f"loaded {split} data")
    x_train, train_set = sets["train"]
    good = np.array([lab == info.normal_class for lab in train_set.labels], bool)
    if not good.any() or not len(sets["val"][0]):
        raise ProjectError("variants are calibrated on good training examples and measured on validation",
                           path=project.manifest_path, hint="import with a validation split (--val-split 0.2)")
    fixed_global = info.detector.kind == "global" and bool(info.detector.params.get("fixed"))
    rep = representative_set(x_train[good], info.spec.kind, seed=int(config.seed),
                             limit=max(30, int(config.representative_samples)), flat_images=fixed_global,
                             margin=window_margin(info.detector.params))  # the int8 input range the fit assumed
    reporter.status("Converting" + (f" (int8, calibrated on {len(rep)} normal and perturbed inputs)"
                                    if config.quantize == "int8" else f" to {config.quantize}"))
    model_bytes = convert_detector(model, info.detector, config.quantize, rep if config.quantize == "int8" else None,
                                   io_dtype=config.io_dtype if config.quantize == "int8" else "float32",
                                   progress=lambda f: reporter.progress(0.1 + 0.35 * f, "converting"))
    measured = measure(model_bytes, model, sets, policy, calibration, config, reporter)
    data = _record(name, info, config, model_bytes, measured, calibration, int(good.sum()))
    data["seconds"] = round(time.monotonic() - started, 1)
    check_cancel(reporter)
    final = write_variant(project.variants_dir, name, model_bytes, data)
    data["path"] = str(final / "model.tflite")
    project.update(active_variant=name, settings={"optimize": {"quantize": config.quantize,
                                                               "io_dtype": config.io_dtype}})
    reporter.progress(1.0, "variant saved")
    a = data["anomaly"]
    reporter.status(f"Variant '{name}': {data['bytes'] / 1024:.1f} KB, AUROC {_pct(a['auroc'])} through LiteRT "
                    f"(float detector {_pct(a['keras_auroc'])}), threshold {a['threshold']:.4g}")
    return VariantInfo(name, final, data)


def convert_detector(model: Any, detector: Any, quantize: str, rep: np.ndarray | None, io_dtype: str = "int8",
                     progress: Any = None) -> bytes:
    """A fitted detector (its DetectorSpec ``detector``) as a .tflite: full int8 calibrated on ``rep``
    (:func:`.synthetic.representative_set`), a window detector's input split (:func:`convert_split`), the fixed
    global detector's bank stored once (:func:`.litert.share_bank`)."""
    from studio.core.convert import convert_model

    from .detector import export_copy
    from .litert import share_bank

    int8 = quantize == "int8"
    fixed_global = detector.kind == "global" and bool(detector.params.get("fixed"))
    exported = export_copy(model, detector, int8=int8)

    def convert(representative: np.ndarray | None) -> bytes:
        return convert_model(exported, quantize, representative, io_dtype=io_dtype if int8 else "float32",
                             progress=progress, per_tensor_dense=fixed_global)

    if not int8:
        return convert(None)
    if rep is None:
        raise ConfigError("int8 conversion needs representative inputs", hint="import good training examples")
    if int(exported.input.shape[-1]) == 2 * int(rep.shape[-1]):
        return convert_split(convert, rep)  # the converter stores the DFT's codes once for both of its matmuls
    return share_bank(convert(rep)) if fixed_global else convert(rep)


def convert_split(convert: Any, rep: np.ndarray) -> bytes:
    """A full-int8 conversion of a detector whose input is split (:func:`studio.core.measure.split_codes`): its
    representative inputs carry each value's rounding residual at the input's scale, which only the conversion
    fixes. The first pass splits at the scale the converter gives a range (zero included, 255 steps); when the
    model's input says otherwise it is converted again at that one."""
    from studio.core import measure as M

    lo, hi = min(float(rep.min()), 0.0), max(float(rep.max()), 0.0)
    scale = (hi - lo) / 255.0 or 1.0
    quant = (scale, int(np.clip(np.round(-128 - lo / scale), -128, 127)))
    for _ in range(3):
        model_bytes = convert(M.split_float(rep, *quant))
        detail = M.litert_interpreter(model_bytes, delegates=False).get_input_details()[0]
        s, z = detail["quantization"]
        actual = (float(s), int(z) - (128 if np.dtype(detail["dtype"]) == np.uint8 else 0))  # as int8
        if np.isclose(actual[0], quant[0], rtol=1e-6) and actual[1] == quant[1]:
            break
        quant = actual
    return model_bytes


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"


def measure(model_bytes: bytes, model: Any, sets: dict[str, Any], policy: ThresholdPolicy,
            calibration: dict[str, Any], config: Any, reporter: Reporter) -> dict[str, Any]:
    """Every measured figure of one converted detector (LiteRT beside the float Keras detector)."""
    from studio.core import measure as M
    from studio.core.micro import find_arena

    from .litert import io_details, run_detector

    out: dict[str, Any] = {"splits": {}}
    float_threshold = float(calibration["threshold"])
    for k, split in enumerate(("val", "test")):
        x, scored = sets[split]
        if not len(x):
            continue
        reporter.status(f"Measuring on the {split} split through LiteRT ({len(x)} inputs)")
        run = run_detector(model_bytes, x, cancel=reporter.cancel_requested,
                           progress=lambda f, k=k: reporter.progress(0.5 + 0.2 * (k + f) / 2, "LiteRT"))
        kscores = score_arrays(model, x, None)[0]
        lite_u, is_def, labels = _verdict_units(scored, run.scores)
        keras_u, _, _ = _verdict_units(scored, kscores)
        out["splits"][split] = {"lite": (lite_u, is_def, labels), "keras": keras_u,
                                "latency": run.latencies_ms, "max_abs_diff": float(np.max(np.abs(run.scores - kscores)))}
    val = out["splits"]["val"]
    lite_u, is_def, labels = val["lite"]
    held = held_out_for_variant(calibration, lite_u[~is_def], val["keras"][~is_def])
    if policy.kind == "value":
        threshold = float(policy.value)  # type: ignore[arg-type]
    else:
        threshold = choose_threshold(policy, np.r_[lite_u[~is_def], held], lite_u[is_def] if is_def.any() else None)
    result: dict[str, Any] = {"threshold": threshold, "float_threshold": float_threshold, "policy": policy.to_json(),
                              "n_good": int((~is_def).sum() + len(held))}
    for split, s in out["splits"].items():
        lu, d, lab = s["lite"]
        m = anomaly_metrics(lu, d, threshold, lab)
        km = anomaly_metrics(s["keras"], d, float_threshold, lab)
        result[split] = {k: m[k] for k in ("auroc", "detection_rate", "false_alarm_rate", "accuracy",
                                           "confusion_matrix", "per_defect", "n", "n_good", "n_defect")}
        result[split]["keras_auroc"] = km["auroc"]
        result[split]["keras_accuracy"] = km["accuracy"]
        result[split]["agreement"] = float(np.mean((lu > threshold) == (s["keras"] > float_threshold)))
        result[split]["max_abs_score_diff"] = s["max_abs_diff"]
    lat = val["latency"]
    x0 = sets["val"][0][:1]
    arena = None
    if config.measure_arena and config.quantize in ("int8", "float32"):
        reporter.status("Finding the TFLite-Micro arena (smallest that allocates and invokes)")
        detail = M.litert_interpreter(model_bytes, delegates=False).get_input_details()[0]
        arena = find_arena(model_bytes, M.quantize_input(np.asarray(x0, np.float32), detail),
                           progress=lambda f: reporter.progress(0.75 + 0.2 * f, "TFLite-Micro arena")).to_json()
    v = result["val"]
    return {
        "anomaly": {**result, "auroc": v["auroc"], "keras_auroc": v["keras_auroc"],
                    "auroc_drop": (None if v["auroc"] is None or v["keras_auroc"] is None
                                   else round(v["keras_auroc"] - v["auroc"], 4)),
                    "unit": calibration.get("unit", "image"), "normal_class": None},
        "accuracy": v["accuracy"], "keras_accuracy": v["keras_accuracy"],
        "accuracy_drop": None if v["accuracy"] is None or v["keras_accuracy"] is None
        else round(v["keras_accuracy"] - v["accuracy"], 4),
        "agreement": v["agreement"],
        "test_accuracy": result.get("test", {}).get("accuracy"),
        "latency_ms": round(float(lat.mean()), 4) if len(lat) else None,
        "latency_median_ms": round(float(np.median(lat)), 4) if len(lat) else None,
        "latency_p95_ms": round(float(np.percentile(lat, 95)), 4) if len(lat) else None,
        "latency_note": "host CPU, LiteRT, 1 thread, batch 1, per image / window",
        "bytes": len(model_bytes), "gzip_bytes": M.gzip_size(model_bytes), "macs": M.count_macs(model_bytes),
        "ops": M.op_names(model_bytes), "io": io_details(model_bytes), "arena": arena,
    }


def held_out_for_variant(calibration: dict[str, Any], lite_good: np.ndarray, keras_good: np.ndarray) -> np.ndarray:
    """The run's held-out good training scores (calibration.json ``held_out``, float detector) as this variant
    would give them: moved by the median difference between the variant and the float detector on the
    validation good units (a float32 variant: ~0)."""
    held = np.asarray((calibration.get("held_out") or {}).get("good", []), float)
    if not len(held) or not len(lite_good):
        return held
    return held + float(np.median(np.asarray(lite_good, float) - np.asarray(keras_good, float)))


def _record(name: str, info: Any, config: Any, model_bytes: bytes, measured: dict[str, Any],
            calibration: dict[str, Any], n_train: int) -> dict[str, Any]:
    from studio.core.measure import flash_bytes

    measured["anomaly"]["normal_class"] = info.normal_class
    return {
        "name": name,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "run_id": info.run_id,
        "arch": info.arch,
        "arch_params": dict(info.detector.params),
        "detector": info.detector.to_json(),
        "input_spec": info.spec.to_json(),
        "classes": list(info.classes),
        "quantize": config.quantize,
        "prune": 0.0, "prune_kind": None, "qat": False, "distill": None, "channel_plan": None,
        "io_dtype": config.io_dtype if config.quantize == "int8" else "float32",
        "finetune_epochs": 0,
        "config": config.to_json(),
        "params": None,
        **measured,
        "flash_bytes": flash_bytes(len(model_bytes)),
        "notes": [
            "anomaly detector: converted as fitted (nothing to fine-tune)",
            *(["int8 calibrated on normal training inputs plus mildly and strongly perturbed ones, so scores "
               "above the normal range keep their order"] if config.quantize == "int8" else []),
            f"threshold {measured['anomaly']['threshold']:.4g} ({calibration.get('policy_text', '')}, "
            "on this variant's own validation scores and the run's held-out training scores)",
        ],
        "history": {},
        "n_train": n_train,
        "seconds": None,
    }
