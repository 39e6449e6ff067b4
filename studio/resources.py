"""Locate bundled resources (icons, style sheet, harness templates, pretrained weights, samples).

Works from a source checkout, an installed wheel and a PyInstaller bundle (``sys._MEIPASS``). Every lookup of
a resource file goes through :func:`resource_path` so frozen and source layouts behave the same.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def app_root() -> Path:
    """The folder holding ``resources/`` and ``samples/``: the bundle root when frozen, else the repo root."""
    override = os.environ.get("STUDIO_ROOT")
    if override:
        return Path(override)
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen)
    return Path(__file__).resolve().parent.parent


def resource_path(*parts: str) -> Path:
    """Path of a file under ``resources/`` (it may not exist: callers decide what a missing file means)."""
    return app_root().joinpath("resources", *parts)


def samples_root() -> Path:
    return app_root() / "samples"


def user_data_dir() -> Path:
    """Where Studio keeps its own files (recent projects, sample project copies). Never inside a project."""
    override = os.environ.get("STUDIO_HOME")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
        return base / "SmallModelStudio"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "SmallModelStudio"
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "small-model-studio"
