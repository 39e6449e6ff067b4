"""Train page job."""

from __future__ import annotations

from typing import Any

from studio.jobs import job


@job("train", "Training", writes=True)
def train(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """``request["overrides"]``: training choices on top of the core's defaults (as ``studio train`` flags);
    ``request["activate"]``: the run contract's policy ("finished", or "better": a worse finished run is kept
    but does not become the model until the user says so, :func:`studio.core.run_history.offer_run`).
    Anomaly projects fit their detector (:func:`studio.jobs.anomaly.anomaly_train`)."""
    from studio.core.train import default_config, train as core_train

    if project.is_anomaly:
        from studio.jobs.anomaly import anomaly_train

        return anomaly_train(project, request, reporter)

    overrides = {k: v for k, v in dict(request.get("overrides") or {}).items() if v is not None}
    config = default_config(project, **overrides)
    reporter.status("Preparing the data…")
    policy = str(request.get("activate") or "finished")
    return core_train(project, config, reporter, activate=policy).to_json()
