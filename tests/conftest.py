"""Test-wide settings: never touch the real user's files, never use the network, no display needed."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["STUDIO_QUIET"] = "1"


@pytest.fixture(autouse=True)
def _studio_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own STUDIO_HOME (user data dir), so tests never read or write the user's settings."""
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path_factory.mktemp("studio-home")))
