"""The Optimize stage on a project: load the run and its data, build and measure a variant, store it."""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import asdict
from typing import Any

import numpy as np

from studio.core.errors import ConfigError, ProjectError
from studio.core.fsutil import safe_name
from studio.core.optimize.build import build_variant
from studio.core.optimize.config import Arrays, OptimizeConfig, VariantInfo
from studio.core.optimize.measuring import measure_variant
from studio.core.optimize.store import write_variant
from studio.core.reporter import NullReporter, Reporter, check_cancel


def load_arrays(project: Any, spec: Any, classes: list[str], reporter: Reporter, train_config: Any = None) -> Arrays:
    """Train / val / test as model input; with ``train_config`` (the run's) also the raw splits that
    pipeline fine-tuning (:mod:`.student`) augments."""
    from studio.core.optimize.student import TrainingData
    from studio.core.pipeline import load_split

    parts, raw = {}, {}
    groups: dict[str, np.ndarray] = {}
    manifest = project.load_manifest()
    for i, split in enumerate(("train", "val", "test")):
        check_cancel(reporter)
        data = load_split(project, split, spec, manifest=manifest, reporter=None)
        raw[split] = data
        x = spec.preprocess(data.x) if data.x is not None else np.zeros((0,) + tuple(spec.shape), np.float32)
        parts[split] = (x, np.asarray(data.y, dtype=np.int64))
        if data.groups is not None:
            groups[split] = np.asarray(data.groups, dtype=np.int64)
        reporter.progress(0.02 + 0.03 * (i + 1) / 3, f"loaded {split} data")
    if len(parts["train"][0]) == 0:
        raise ProjectError("the training split is empty", path=project.manifest_path, hint="import more data")
    if len(parts["val"][0]) == 0:
        raise ProjectError(
            "the validation split is empty: variants are measured on it",
            path=project.manifest_path,
            hint="import the data again with --val-split 0.2",
        )
    return Arrays(
        classes=list(classes),
        x_train=parts["train"][0],
        y_train=parts["train"][1],
        x_val=parts["val"][0],
        y_val=parts["val"][1],
        x_test=parts["test"][0] if len(parts["test"][0]) else None,
        y_test=parts["test"][1] if len(parts["test"][0]) else None,
        training=TrainingData(spec, raw["train"], raw["val"], train_config) if train_config is not None else None,
        groups=groups,
    )


def _spec_json(spec: Any) -> dict[str, Any]:
    if hasattr(spec, "to_json"):
        return spec.to_json()
    if isinstance(spec, dict):
        return dict(spec)
    return asdict(spec)


def _run_learning_rate(project: Any, run: Any) -> float | None:
    cfg = getattr(run, "config", None)
    lr = getattr(cfg, "learning_rate", None) if cfg is not None else None
    if lr is None:
        from studio.core.runs import read_run_config

        lr = read_run_config(getattr(run, "path", project.runs_dir / run.run_id)).get("learning_rate")
    return float(lr) if lr else None


def _check_applies(arch: str, config: OptimizeConfig) -> None:
    """Pruning, QAT and fine-tuning need gradient training; MiniRocket's kernels are fixed and its head is
    fitted in closed form, so only conversion (float32 / float16 / dynamic / int8) applies to it."""
    from studio.core.models import REGISTRY

    spec = REGISTRY.get(arch)
    if spec is None or spec.trained_by != "closed form":
        return
    if config.prune > 0 or config.qat or (config.finetune_epochs or 0) > 0:
        raise ConfigError(
            f"{spec.title} has fixed kernels and a head fitted in closed form: pruning, quantization-aware "
            "training and fine-tuning do not apply to it",
            hint="optimize it with --quantize int8 alone; for a smaller model train it with fewer features "
            "(studio train P --arch minirocket --features 2016)",
        )


def optimize(project: Any, config: OptimizeConfig, reporter: Reporter | None = None) -> VariantInfo:
    """Build, measure and store one variant of the project's trained model (see the package docstring).

    A pruned variant also carries ``reference``: the unpruned int8 model of the same run, measured the same
    way (taken from an existing variant when there is one), so every size is shown beside its baseline.
    """
    from studio.core.train import load_run_model

    if project.is_anomaly:  # a fitted detector: converted and measured, nothing fine-tuned
        from studio.core.anomaly.variant import optimize_anomaly

        return optimize_anomaly(project, config, reporter)
    reporter = reporter or NullReporter()
    config = config.validated()
    started = time.monotonic()
    name = safe_name(config.name or config.default_name())
    reporter.status(f"Building variant '{name}'")
    reporter.progress(0.0, "loading the trained model")
    model, run = load_run_model(project, config.run_id)
    _check_applies(run.arch, config)
    spec = getattr(run, "spec", None) or getattr(run, "input_spec")
    from studio.core.optimize.student import run_train_config

    arrays = load_arrays(project, spec, list(run.classes), reporter, run_train_config(project, run))
    reporter.progress(0.05, "data loaded")
    built = build_variant(model, arrays, config, reporter, _run_learning_rate(project, run), progress=(0.05, 0.6))
    measured = measure_variant(
        built.model_bytes, model, arrays, config.quantize, reporter, config.measure_arena, progress=(0.6, 0.9)
    )
    reference = None
    if config.prune > 0:
        reference = reference_int8(project, run.run_id, model, arrays, config, reporter, (0.9, 0.98))
    data = variant_record(name, run, spec, config, built, measured, model, arrays)
    data["reference"] = reference
    data["seconds"] = round(time.monotonic() - started, 1)
    check_cancel(reporter)
    keep_weights = built.keras_model if built.channel_plan is not None and not config.qat else None
    final = write_variant(project.variants_dir, name, built.model_bytes, data, keras_model=keep_weights)
    data["path"] = str(final / "model.tflite")
    project.update(active_variant=name,
                   settings={"optimize": {k: v for k, v in asdict(config).items() if k not in ("run_id", "name")}})
    reporter.progress(1.0, "variant saved")
    reporter.status(
        f"Variant '{name}': {data['bytes'] / 1024:.1f} KB ({data['gzip_bytes'] / 1024:.1f} KB gzip), "
        f"accuracy {data['accuracy'] * 100:.1f}% through LiteRT (Keras {data['keras_accuracy'] * 100:.1f}%)"
        + (" on validation examples the model was refitted on (not a fair test)" if data["val_seen_in_training"] else "")
    )
    return VariantInfo(name, final, data)


def variant_record(name: str, run: Any, spec: Any, config: OptimizeConfig, built: Any, measured: dict[str, Any],
                   model: Any, arrays: Arrays) -> dict[str, Any]:
    """The variant.json content of a variant built from ``run`` (``model`` is the run's trained model)."""
    from studio.core.measure import flash_bytes

    data: dict[str, Any] = {
        "name": name,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "run_id": run.run_id,
        "arch": run.arch,
        "arch_params": dict(getattr(run, "params", {}) or {}),
        "input_spec": _spec_json(spec),
        "classes": list(run.classes),
        "quantize": config.quantize,
        "prune": float(config.prune),
        "prune_kind": config.prune_kind if config.prune > 0 else None,
        "qat": bool(config.qat),
        "distill": asdict(config.distill_config()) if config.distills else None,
        "io_dtype": config.io_dtype if config.quantize == "int8" else "float32",
        # channel pruning: the most epochs the last cut could fine-tune (as long as the run trained)
        "finetune_epochs": int((built.history.get("Channel-pruning fine-tune:max_epochs") or [config.epochs])[0]),
        "config": config.to_json(),
        "params": int(built.keras_model.count_params()),
        "trained_params": int(model.count_params()),
        "channel_plan": built.channel_plan,
        **built.sparsity,
        **measured,
        "flash_bytes": flash_bytes(len(built.model_bytes)),
        "notes": built.notes,
        "history": built.history,
        "n_train": int(len(arrays.x_train)),
        "seconds": None,
        "val_seen_in_training": _val_seen(run),
    }
    if config.prune > 0 and not config.channels:
        if data.get("sparsity_depthwise") is not None:
            data["notes"].append(
                f"depthwise kernels are never pruned (tfmot): overall weight sparsity is {data['sparsity_all']:.0%}"
            )
        data["notes"].append("pruning shrinks the gzip size, not the raw .tflite, and does not make it faster")
    if config.channels:
        data["notes"].append("channel pruning made the model narrower: file, arena, MACs and latency all shrink")
    return data


def _val_seen(run: Any) -> str | None:
    """Why the validation split (where ``accuracy`` is measured) is not new data for ``run`` (None: it is)."""
    from studio.core.evaluate import seen_in_training

    path = getattr(run, "path", None)
    return seen_in_training(path, "val") if path is not None else None


REFERENCE_KEYS = ("name", "bytes", "flash_bytes", "gzip_bytes", "macs", "params", "latency_ms", "latency_median_ms",
                  "accuracy", "test_accuracy", "recording_accuracy", "test_recording_accuracy")


def reference_numbers(data: dict[str, Any]) -> dict[str, Any]:
    """The figures a pruned variant is compared on, from a variant.json-like dict."""
    out = {k: data.get(k) for k in REFERENCE_KEYS}
    out["arena_bytes"] = (data.get("arena") or {}).get("min_bytes")
    return out


def reference_int8(project: Any, run_id: str, model: Any, arrays: Arrays, config: OptimizeConfig,
                   reporter: Reporter, progress: tuple[float, float]) -> dict[str, Any]:
    """The unpruned int8 model of ``run_id``: an existing variant's figures, else converted and measured now."""
    from studio.core.measure import flash_bytes
    from studio.core.optimize.store import list_variants

    for v in list_variants(project, full=True):
        if (v.get("run_id") == run_id and v.get("quantize") == "int8" and not v.get("prune") and not v.get("qat")
                and v.get("arch_params") is not None and not v.get("channel_plan")
                and v.get("io_dtype") == config.io_dtype and v.get("input_spec")):
            return {**reference_numbers(v), "source": f"variant {v['name']}"}
    reporter.status("Measuring the unpruned int8 model of the same run, for comparison")
    ref_cfg = OptimizeConfig(quantize="int8", io_dtype=config.io_dtype, seed=config.seed,
                             representative_samples=config.representative_samples)
    lo, hi = progress
    built = build_variant(model, arrays, ref_cfg, reporter, progress=(lo, lo + (hi - lo) * 0.4))
    m = measure_variant(built.model_bytes, model, arrays, "int8", reporter, config.measure_arena,
                        progress=(lo + (hi - lo) * 0.4, hi))
    m.update(name=None, params=int(model.count_params()), flash_bytes=flash_bytes(len(built.model_bytes)))
    return {**reference_numbers(m), "source": "measured with this variant"}
