"""Variant storage: ``P/variants/<name>/`` (variant.json + model.tflite) written whole or not at all, listed with
a fits verdict per device profile, loaded and deleted."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from studio.core.errors import ProjectError
from studio.core.formats import read_versioned, stamp
from studio.core.fsutil import atomic_write_bytes, atomic_write_json, replace_dir


def write_variant(variants_dir: Path, name: str, model_bytes: bytes, data: dict[str, Any]) -> Path:
    """Write ``variants/<name>/`` all at once: a hidden temp folder renamed into place (replacing an old one)."""
    variants_dir = Path(variants_dir)
    variants_dir.mkdir(parents=True, exist_ok=True)
    final = variants_dir / name
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=variants_dir))
    try:
        atomic_write_bytes(tmp / "model.tflite", model_bytes)
        atomic_write_json(tmp / "variant.json", stamp("variant", dict(data)))
        replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
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
    try:
        data = read_versioned("variant", folder / "variant.json")
        model_bytes = (folder / "model.tflite").read_bytes()
    except (OSError, ValueError) as exc:
        raise ProjectError(f"variant {name!r} is damaged ({exc})", path=folder,
                           hint="build it again with 'studio optimize'") from exc
    data["name"] = name
    data["path"] = str(folder / "model.tflite")
    return data, model_bytes


SUMMARY_KEYS = (
    "name", "path", "quantize", "prune", "qat", "io_dtype", "bytes", "gzip_bytes", "sparsity", "sparsity_all",
    "accuracy", "keras_accuracy", "accuracy_drop", "test_accuracy", "agreement", "latency_ms", "latency_p95_ms",
    "latency_median_ms", "params", "macs", "arena", "run_id", "arch", "created", "finetune_epochs",
)


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
