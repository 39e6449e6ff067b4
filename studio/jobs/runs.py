"""Train page jobs: the run history (instant) and choosing which run is the project's model."""

from __future__ import annotations

from typing import Any

from studio.jobs import job


@job("runs", "Reading the training runs", lane="query")
def runs(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """Every run, newest first (:func:`studio.core.run_history.run_history`); no TensorFlow."""
    from studio.core.run_history import run_history

    return run_history(project)


@job("use_run", "Choosing the model", writes=True, lane="query")
def use_run(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """``request["run"]``: make that run the project's model (``studio use P RUN``)."""
    from studio.core.run_history import use_run as core_use_run

    return core_use_run(project, str(request.get("run") or ""))
