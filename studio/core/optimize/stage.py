"""The Optimize stage on a project: load the run and its data, build and measure a variant, store it."""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import asdict
from typing import Any

import numpy as np

from studio.core.errors import ProjectError
from studio.core.fsutil import safe_name
from studio.core.optimize.build import build_variant
from studio.core.optimize.config import Arrays, OptimizeConfig, VariantInfo
from studio.core.optimize.measuring import measure_variant
from studio.core.optimize.store import write_variant
from studio.core.reporter import NullReporter, Reporter, check_cancel


def _load_arrays(project: Any, spec: Any, classes: list[str], reporter: Reporter) -> Arrays:
    from studio.core.pipeline import load_split

    parts = {}
    manifest = project.load_manifest()
    for i, split in enumerate(("train", "val", "test")):
        check_cancel(reporter)
        data = load_split(project, split, spec, manifest=manifest, reporter=None)
        x = spec.preprocess(data.x) if data.x is not None else np.zeros((0,) + tuple(spec.shape), np.float32)
        parts[split] = (x, np.asarray(data.y, dtype=np.int64))
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


def optimize(project: Any, config: OptimizeConfig, reporter: Reporter | None = None) -> VariantInfo:
    """Build, measure and store one variant of the project's trained model (see module docstring)."""
    from studio.core.train import load_run_model

    reporter = reporter or NullReporter()
    config = config.validated()
    started = time.monotonic()
    name = safe_name(config.name or config.default_name())
    reporter.status(f"Building variant '{name}'")
    reporter.progress(0.0, "loading the trained model")
    model, run = load_run_model(project, config.run_id)
    spec = getattr(run, "spec", None) or getattr(run, "input_spec")
    classes = list(run.classes)
    arrays = _load_arrays(project, spec, classes, reporter)
    reporter.progress(0.05, "data loaded")
    built = build_variant(model, arrays, config, reporter, _run_learning_rate(project, run), progress=(0.05, 0.6))
    measured = measure_variant(
        built.model_bytes, model, arrays, config.quantize, reporter, config.measure_arena, progress=(0.6, 0.98)
    )
    params = int(model.count_params())
    data: dict[str, Any] = {
        "name": name,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "run_id": run.run_id,
        "arch": run.arch,
        "arch_params": dict(getattr(run, "params", {}) or {}),
        "input_spec": _spec_json(spec),
        "classes": classes,
        "quantize": config.quantize,
        "prune": float(config.prune),
        "qat": bool(config.qat),
        "io_dtype": config.io_dtype if config.quantize == "int8" else "float32",
        "finetune_epochs": config.epochs,
        "config": config.to_json(),
        "params": params,
        **built.sparsity,
        **measured,
        "notes": built.notes,
        "history": built.history,
        "n_train": int(len(arrays.x_train)),
        "seconds": None,
    }
    if config.prune > 0 and data.get("sparsity_depthwise") is not None:
        data["notes"].append(
            f"depthwise kernels are never pruned (tfmot): overall weight sparsity is {data['sparsity_all']:.0%}"
        )
    if config.prune > 0:
        data["notes"].append("pruning shrinks the gzip size, not the raw .tflite, and does not make it faster")
    data["seconds"] = round(time.monotonic() - started, 1)
    check_cancel(reporter)
    final = write_variant(project.variants_dir, name, built.model_bytes, data)
    data["path"] = str(final / "model.tflite")
    project.update(active_variant=name,
                   settings={"optimize": {k: v for k, v in asdict(config).items() if k not in ("run_id", "name")}})
    reporter.progress(1.0, "variant saved")
    reporter.status(
        f"Variant '{name}': {data['bytes'] / 1024:.1f} KB ({data['gzip_bytes'] / 1024:.1f} KB gzip), "
        f"accuracy {data['accuracy'] * 100:.1f}% through LiteRT (Keras {data['keras_accuracy'] * 100:.1f}%)"
    )
    return VariantInfo(name, final, data)
