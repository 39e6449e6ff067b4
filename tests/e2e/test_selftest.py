"""`studio --selftest` end to end: every step runs and passes on this installation."""

from __future__ import annotations

import pytest

from studio.core.reporter import RecordingReporter
from studio.core.selftest import STEPS, run_selftest


@pytest.mark.slow
def test_selftest_passes_every_step(tmp_path) -> None:
    rep = RecordingReporter()
    result = run_selftest(rep, keep=tmp_path / "st")
    assert result["ok"], result
    assert [s["name"] for s in result["steps"]] == list(STEPS)
    assert all(s["ok"] and s["seconds"] >= 0 and s["detail"] for s in result["steps"])
    assert "SELFTEST PASSED" in result["steps"][-1]["detail"]
    assert (tmp_path / "st" / "bundle" / "main.cc").exists()
    assert rep.events[-1] == ("progress", (1.0, "self-test passed"))


def test_selftest_reports_a_failing_step(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import studio.core.data as data

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(data, "import_data", broken)
    result = run_selftest(None, keep=tmp_path / "st")
    assert result["ok"] is False
    assert [s["name"] for s in result["steps"]] == ["tensorflow", "data"]
    assert result["steps"][-1] == result["steps"][-1] | {"ok": False, "detail": "RuntimeError: disk on fire"}
