"""Start-up: ``studio --help`` against ``python -c pass`` (the floor any Python command pays).

Both are whole processes launched the same way, interleaved, several runs each; the medians are compared.
The GUI's window-shown time is measured by :mod:`bench.gui_responsiveness` (its own baseline is a bare
PySide6 window) and reported by :mod:`bench.run` in the same section.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from bench.common import Row, median, time_commands_interleaved


def studio_command() -> list[str]:
    """The installed ``studio`` console script next to this interpreter (what a user runs), else ``-m studio``."""
    script = Path(sys.executable).with_name("studio")
    if script.exists() and os.access(script, os.X_OK):
        return [str(script)]
    found = shutil.which("studio")
    return [found] if found else [sys.executable, "-m", "studio"]


def run(quick: bool = False, log: Any = print) -> list[Row]:
    runs = 3 if quick else 9
    cmds = {"studio": studio_command() + ["--help"], "python": [sys.executable, "-c", "pass"]}
    times = time_commands_interleaved(cmds, runs)
    s, p = median(times["studio"]), median(times["python"])
    log(f"    studio --help {', '.join(f'{t:.3f}' for t in times['studio'])} s; "
        f"python -c pass {', '.join(f'{t:.3f}' for t in times['python'])} s")
    return [Row("start-up", "`studio --help` (median)", s, "s", baseline=p, baseline_name="`python -c pass`",
                check=("value", "<=", 1.0),
                note=f"{runs} interleaved runs each after one warm-up; {' '.join(cmds['studio'][-2:])}",
                extra={"studio": times["studio"], "python": times["python"]})]
