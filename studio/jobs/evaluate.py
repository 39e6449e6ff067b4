"""Evaluate page job."""

from __future__ import annotations

from typing import Any

from studio.jobs import job


@job("evaluate", "Evaluating")
def evaluate(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """``request``: ``split`` ("val" | "test" | "train") or ``data_path`` (another labelled folder), ``run``."""
    from studio.core.evaluate import evaluate as core_evaluate

    split, data_path = request.get("split"), request.get("data_path")
    reporter.status("Evaluating…")
    out = core_evaluate(project, run_id=request.get("run"), split=split, data_path=data_path,
                        reporter=reporter).to_json()
    out["_project"] = str(project.path)
    out["_source"] = data_path or split
    return out
