"""Variant storage: ``P/variants/<name>/`` (variant.json + model.tflite) written whole or not at all, listed with
a fits verdict per device profile, loaded and deleted."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from studio.core import commit
from studio.core.errors import ProjectError
from studio.core.formats import read_versioned, stamp
from studio.core.fsutil import atomic_write_bytes, atomic_write_json
from studio.core.untrusted import read_regular

MAX_MODEL_BYTES = 512 * 1024 * 1024  # a variant's model.tflite (MobileNetV2 1.0 float32 is ~14 MB)


def write_variant(variants_dir: Path, name: str, model_bytes: bytes, data: dict[str, Any],
                  keras_model: Any = None, weights_from: Path | None = None) -> Path:
    """Write ``variants/<name>/`` all at once: a staged folder swapped into place (see :mod:`studio.core.commit`).

    variant.json records the commit's generation and the model's SHA-256, which :func:`load_variant` checks.
    ``keras_model`` (a channel-pruned or searched model) also stores its fine-tuned weights as ``weights.h5``,
    so :func:`load_variant_model` can rebuild it from the registry, the channel plan and these weights;
    ``weights_from`` copies such a file instead.
    """
    variants_dir = Path(variants_dir)
    final = variants_dir / name
    staged = commit.staging_dir(variants_dir, name)
    data["generation"] = commit.new_generation()
    data["model_sha256"] = hashlib.sha256(model_bytes).hexdigest()
    try:
        atomic_write_bytes(staged / "model.tflite", model_bytes)
        if keras_model is not None:
            keras_model.save_weights(str(staged / "weights.h5"))
            data = {**data, "weights": "weights.h5"}
        elif weights_from is not None and Path(weights_from).exists():
            shutil.copyfile(weights_from, staged / "weights.h5")
            data = {**data, "weights": "weights.h5"}
        atomic_write_json(staged / "variant.json", stamp("variant", dict(data)))
    except BaseException:
        commit.discard(staged)
        raise
    commit.swap_dir(staged, final)
    return final


def load_variant(project: Any, name: str | None = None) -> tuple[dict[str, Any], bytes]:
    """(variant.json, model bytes) of ``name``, or of the active (else newest) variant."""
    names = project.list_variants()
    if not names:
        raise ProjectError(
            "no optimized variant yet", path=project.path, hint="create one first ('studio optimize')"
        )
    if name is None:
        active = project.data.get("active_variant")
        if active in names:
            name = active
        else:
            name = max(names, key=lambda n: (project.variants_dir / n / "variant.json").stat().st_mtime)
    if name not in names:
        raise ProjectError(f"no variant named {name!r}", path=project.variants_dir,
                           hint="existing variants: " + ", ".join(names))
    folder = project.variants_dir / name
    hint = "build it again with 'studio optimize'"
    try:
        data = read_versioned("variant", folder / "variant.json")
        model_bytes = read_regular(folder / "model.tflite", MAX_MODEL_BYTES, error=ProjectError)
    except (OSError, ValueError) as exc:
        raise ProjectError(f"variant {name!r} is damaged ({exc})", path=folder, hint=hint) from exc
    if not isinstance(data, dict):
        raise ProjectError(f"variant {name!r} is damaged (variant.json is not an object)", path=folder, hint=hint)
    digest = data.get("model_sha256")
    if digest and hashlib.sha256(model_bytes).hexdigest() != digest:  # (a damaged file without one: see export)
        raise ProjectError(f"variant {name!r} is damaged (model.tflite is not the model this variant wrote)",
                           path=folder / "model.tflite", hint=hint)
    data["name"] = name
    data["path"] = str(folder / "model.tflite")
    return data, model_bytes


SUMMARY_KEYS = (
    "name", "path", "quantize", "prune", "qat", "io_dtype", "bytes", "gzip_bytes", "sparsity", "sparsity_all",
    "accuracy", "keras_accuracy", "accuracy_drop", "test_accuracy", "agreement", "latency_ms", "latency_p95_ms",
    "latency_median_ms", "params", "macs", "arena", "run_id", "arch", "created", "finetune_epochs",
    "prune_kind", "distill", "flash_bytes", "arch_params", "input_shape", "reference", "vs_int8", "search",
    "recording_accuracy", "keras_recording_accuracy", "recording_accuracy_drop", "test_recording_accuracy",
    "recordings", "val_seen_in_training",
    "anomaly",  # a detector variant's AUROC through LiteRT beside the float one's
)


def compare_with_reference(data: dict[str, Any]) -> dict[str, Any] | None:
    """Ratios of a variant's sizes, arena, MACs and latency to its unpruned int8 reference, and the accuracy
    difference in points: what pruning (or a smaller searched model) bought and what it cost."""
    ref = data.get("reference")
    if not ref:
        return None

    def ratio(mine: Any, theirs: Any) -> float | None:
        return round(float(mine) / float(theirs), 3) if mine is not None and theirs else None

    arena = (data.get("arena") or {}).get("min_bytes")
    out = {
        "bytes": ratio(data.get("bytes"), ref.get("bytes")),
        "flash_bytes": ratio(data.get("flash_bytes"), ref.get("flash_bytes")),
        "gzip_bytes": ratio(data.get("gzip_bytes"), ref.get("gzip_bytes")),
        "arena_bytes": ratio(arena, ref.get("arena_bytes")),
        "macs": ratio(data.get("macs"), ref.get("macs")),
        "latency_median_ms": ratio(data.get("latency_median_ms"), ref.get("latency_median_ms")),
    }
    for key in ("accuracy", "test_accuracy", "recording_accuracy", "test_recording_accuracy"):
        mine, theirs = data.get(key), ref.get(key)
        out[f"{key}_points"] = round((mine - theirs) * 100, 2) if mine is not None and theirs is not None else None
    return out


def list_variants(project: Any, target: str | None = None, full: bool = False) -> list[dict[str, Any]]:
    """Every variant with its measurements and a ``fits`` verdict per target ({target_id: bool}).

    ``target`` limits ``fits`` to one profile; ``fit_detail`` says why (flash / RAM needed vs available).
    ``full`` keeps per-class metrics, confusion matrices and training history.
    """
    from studio.core.targets import TARGETS, check_fit, get_target

    targets = [get_target(target)] if target else list(TARGETS.values())
    out = []
    for name in project.list_variants():
        folder = project.variants_dir / name
        try:
            data = read_versioned("variant", folder / "variant.json")
        except (OSError, ValueError, ProjectError):  # damaged, or made by a newer Studio: not listed
            continue
        data["name"] = name
        data["path"] = str(folder / "model.tflite")
        data["vs_int8"] = compare_with_reference(data)
        data["input_shape"] = (data.get("input_spec") or {}).get("input_shape")
        row = dict(data) if full else {k: data.get(k) for k in SUMMARY_KEYS}
        detail = {t.id: check_fit(data, t) for t in targets}
        row["fits"] = {tid: d["ok"] for tid, d in detail.items()}
        row["fit_detail"] = detail
        out.append(row)
    out.sort(key=lambda r: r.get("created") or "")
    return out


def delete_variant(project: Any, name: str) -> None:
    folder = project.variants_dir / name
    if not (folder / "variant.json").exists():
        raise ProjectError(f"no variant named {name!r}", path=project.variants_dir)
    shutil.rmtree(folder)
    if project.data.get("active_variant") == name:
        project.update(active_variant=None)


def load_variant_model(project: Any, name: str) -> Any:
    """Rebuild a variant's Keras model from JSON alone: the registry builds ``arch`` with ``arch_params`` for
    the variant's input shape, the channel plan (if any) narrows it, and ``weights.h5`` fills it."""
    from studio.core.models import build_model
    from studio.core.optimize.rebuild import apply_plan

    from studio.core.untrusted import check_input_shape_bounds, confined, load_checked_weights

    data, _ = load_variant(project, name)
    folder = project.variants_dir / name
    if not data.get("weights") or not (folder / str(data["weights"])).exists():
        raise ProjectError(f"variant {name!r} keeps no Keras weights (only its .tflite)", path=folder,
                           hint="channel-pruned and searched variants keep them; rebuild this one from its run")
    weights = confined(folder, data["weights"], source=folder / "variant.json")  # a file of the variant only
    spec = data.get("input_spec") or {}
    shape = check_input_shape_bounds(spec.get("input_shape") or [], str(spec.get("kind")), folder / "variant.json")
    model = build_model(data["arch"], shape, len(data["classes"]), **(data.get("arch_params") or {}))
    if data.get("channel_plan"):
        model = apply_plan(model, data["channel_plan"])
    load_checked_weights(model, weights, f"variant {name!r}'s weights do not fit its model")
    return model
