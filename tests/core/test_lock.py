"""One writer per project: the lock file across processes, and Project.update's key-by-key merge."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from studio.core.errors import ProjectBusyError
from studio.core.lock import holds_lock, project_lock, read_holder
from studio.core.project import Project, merge_changes

HOLD = (
    "import sys, time\n"
    "from studio.core.lock import project_lock\n"
    "with project_lock(sys.argv[1], 'training'):\n"
    "    print('locked', flush=True)\n"
    "    time.sleep(float(sys.argv[2]))\n"
)


def _holder(path: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_lock_is_reentrant_in_a_process_and_released_at_the_end(tmp_path: Path) -> None:
    with project_lock(tmp_path, "training"):
        with project_lock(tmp_path, "saving the project"):
            assert holds_lock(tmp_path)
        assert holds_lock(tmp_path)  # the outer holder still has it
        assert read_holder(tmp_path)["purpose"] == "training"

        def other_thread() -> None:  # same process: re-entrant from any thread
            with project_lock(tmp_path, "saving the project"):
                pass

        t = threading.Thread(target=other_thread)
        t.start()
        t.join(5)
        assert not t.is_alive()
    assert not holds_lock(tmp_path)


def test_other_process_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    proc = _holder(tmp_path, 30)
    try:
        with pytest.raises(ProjectBusyError) as info:
            with project_lock(tmp_path, "exporting"):
                pass
        err = info.value
        assert f"process {proc.pid}" in err.message and "training" in err.message
        assert err.holder["pid"] == proc.pid
        assert err.hint and str(tmp_path) in str(err)
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    proc = _holder(tmp_path, 60)
    os.kill(proc.pid, signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM)
    proc.wait()
    with project_lock(tmp_path, "training"):  # the OS released it with the process
        assert holds_lock(tmp_path)


def test_timeout_waits_for_the_holder(tmp_path: Path) -> None:
    proc = _holder(tmp_path, 0.6)
    started = time.monotonic()
    with project_lock(tmp_path, "saving the project", timeout=20):
        waited = time.monotonic() - started
    proc.wait()
    assert 0.2 < waited < 20


def test_merge_changes_is_key_by_key() -> None:
    data = {"settings": {"train": {"epochs": 5, "arch": "cnn1d"}, "target": "linux"}, "wizard": {"data": True},
            "active_run": "a"}
    out = merge_changes(data, {"settings": {"train": {"epochs": 9}, "target": "cortex-m4"},
                               "wizard": {"evaluate": True}, "active_run": "b"})
    assert out["settings"] == {"train": {"epochs": 9, "arch": "cnn1d"}, "target": "cortex-m4"}
    assert out["wizard"] == {"data": True, "evaluate": True}
    assert out["active_run"] == "b"
    assert data["settings"]["train"]["epochs"] == 5  # the input is not changed


def test_update_never_reverts_another_writers_keys(tmp_path: Path) -> None:
    first = Project.create(tmp_path / "p", "image")
    second = Project.open(first.path)  # a stale copy, as another process would hold
    first.update(settings={"train": {"epochs": 7}})
    second.update(settings={"optimize": {"prune": 0.5}, "train": {"batch_size": 8}})
    fresh = Project.open(first.path)
    assert fresh.settings["train"] == {"epochs": 7, "batch_size": 8}
    assert fresh.settings["optimize"] == {"prune": 0.5}
    assert second.settings["train"]["epochs"] == 7  # update adopts what is on disk


UPDATER = (
    "import sys\n"
    "from studio.core.project import Project\n"
    "p = Project.open(sys.argv[1])\n"
    "for i in range(15):\n"
    "    p.update(settings={'train': {sys.argv[2] + str(i): i}})\n"
)


def test_concurrent_processes_lose_no_update(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p", "sensor")
    procs = [subprocess.Popen([sys.executable, "-c", UPDATER, str(project.path), name]) for name in ("a", "b", "c")]
    for proc in procs:
        assert proc.wait(120) == 0
    train = json.loads((project.path / "project.json").read_text())["settings"]["train"]
    assert sorted(train) == sorted(f"{n}{i}" for n in "abc" for i in range(15))


def test_update_waits_then_says_who_is_busy(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p", "image")
    proc = _holder(project.path, 30)
    try:
        with pytest.raises(ProjectBusyError, match="in use: training"):
            project.update(settings={"target": "linux"}, timeout=0.2)
    finally:
        proc.kill()
        proc.wait()
    assert "target" not in Project.open(project.path).settings
