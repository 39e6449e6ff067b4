"""Two processes writing one project never revert each other (issue 11: "train's final save reverts a
concurrent export's settings"): every change goes through Project.update under the project lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from studio.core.project import Project

REPO = Path(__file__).resolve().parents[2]


def test_concurrent_updates_keep_every_key(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p", "sensor")
    script = textwrap.dedent("""
        import sys
        from studio.core.project import Project
        name, n = sys.argv[2], int(sys.argv[3])
        for i in range(n):
            p = Project.open(sys.argv[1])  # a stale copy each time, as a long command holds one
            p.update(settings={name: {f"k{i}": i}, "target": name}, wizard={f"{name}-{i}": True})
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = [subprocess.Popen([sys.executable, "-c", script, str(project.path), name, "40"], env=env,
                              stderr=subprocess.PIPE, text=True) for name in ("train", "export")]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    data = json.loads((project.path / "project.json").read_text())
    for name in ("train", "export"):
        assert data["settings"][name] == {f"k{i}": i for i in range(40)}
        assert all(data["wizard"][f"{name}-{i}"] for i in range(40))
    assert data["settings"]["target"] in ("train", "export")
