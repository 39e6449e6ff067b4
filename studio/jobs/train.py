"""Train page job."""

from __future__ import annotations

from typing import Any

from studio.jobs import job


@job("train", "Training", writes=True)
def train(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """``request["overrides"]``: training choices on top of the core's defaults (as ``studio train`` flags)."""
    from studio.core.train import default_config, train as core_train

    overrides = {k: v for k, v in dict(request.get("overrides") or {}).items() if v is not None}
    config = default_config(project, **overrides)
    reporter.status("Preparing the data…")
    return core_train(project, config, reporter).to_json()
