"""``studio info``: a project summarized from its files, cheaply (no TensorFlow, no image decoding).

Every file is read defensively: a damaged run or manifest shows up as missing values in the summary instead
of making ``info`` fail, because ``info`` is what a user runs to find out what is wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.core.errors import ProjectError
from studio.core.fsutil import read_json


def _read(path: Path) -> Any:
    try:
        return read_json(path)
    except (OSError, ValueError):
        return None


def _best_val(metrics: Any) -> float | None:
    if not isinstance(metrics, dict):
        return None
    best = metrics.get("best_val_accuracy")
    if isinstance(best, (int, float)):
        return float(best)
    vals = [e.get("val_accuracy") for e in metrics.get("epochs", []) if isinstance(e, dict)]
    vals = [v for v in vals if isinstance(v, (int, float))]
    return float(max(vals)) if vals else None


def data_info(project: Any) -> dict[str, Any] | None:
    """The data summary: from the manifest when readable (authoritative), else project.json's copy."""
    from studio.core.data.common import summary_from_manifest

    try:
        manifest = project.load_manifest()
    except ProjectError:
        manifest = None
    if isinstance(manifest, dict) and "classes" in manifest:
        out = summary_from_manifest(manifest)
        out["warnings"] = list(manifest.get("warnings", []))
    else:
        out = project.data.get("data")
        if not out:
            return None
        out = dict(out)
    return out


def project_info(project: Any) -> dict[str, Any]:
    """Name, task, path, schema, data summary, runs (with arch and best validation accuracy), variants."""
    runs = []
    for run_id in project.list_runs():
        folder = project.runs_dir / run_id
        model = _read(folder / "model.json")
        metrics = _read(folder / "metrics.json")
        runs.append(
            {
                "id": run_id,
                "arch": model.get("arch") if isinstance(model, dict) else None,
                "params": model.get("params") if isinstance(model, dict) else None,
                "best_val_accuracy": _best_val(metrics),
                "epochs": len(metrics.get("epochs", [])) if isinstance(metrics, dict) else None,
            }
        )
    return {
        "name": project.name,
        "task": project.task,
        "path": str(project.path),
        "schema_version": project.data.get("schema_version"),
        "studio_version": project.data.get("studio_version"),
        "created": project.data.get("created"),
        "modified": project.data.get("modified"),
        "data": data_info(project),
        "runs": runs,
        "active_run": project.data.get("active_run"),
        "variants": project.list_variants(),
        "active_variant": project.data.get("active_variant"),
    }
