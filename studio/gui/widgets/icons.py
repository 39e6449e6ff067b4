"""Icons from ``resources/icons/*.svg`` (found through :func:`studio.resources.resource_path`)."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtGui import QIcon

from studio.resources import resource_path


@lru_cache(maxsize=None)
def icon(name: str) -> QIcon:
    """The icon ``name`` (an empty icon if the file is missing, so a packaging slip never crashes the app)."""
    path = resource_path("icons", f"{name}.svg")
    return QIcon(str(path)) if path.exists() else QIcon()
