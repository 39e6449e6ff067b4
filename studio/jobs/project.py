"""Writing project.json for the window: the window never writes a project itself, it asks the worker."""

from __future__ import annotations

from typing import Any

from studio.jobs import job

# A window's settings change waits this long for another program (e.g. ``studio train``) holding the lock.
UPDATE_TIMEOUT_S = 2.0


@job("update", "Saving the project", writes=True, lane="query")
def update(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """``request["changes"]``: what :meth:`studio.core.project.Project.update` merges (settings key by key)."""
    project.update(dict(request.get("changes") or {}), timeout=UPDATE_TIMEOUT_S)
    return {"modified": project.data.get("modified")}
