#!/usr/bin/env python3
"""Set-up in one command, from a fresh clone, with nothing but Python 3.11+.

    python3 dev.py app     # create .venv, install Studio (the app's own dependencies only), open the sample
    python3 dev.py test    # create .venv, install Studio and the test tools, run the test-suite

The virtual environment lives in .venv beside this file (override with STUDIO_VENV). Installation is skipped
when pyproject.toml has not changed since the last successful install.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("STUDIO_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def _digest(extras: str) -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()


def ensure_env(extras: str, enough: tuple[str, ...] = ()) -> None:
    """Install Studio with ``extras`` into the venv unless this pyproject.toml was installed with ``extras``
    (or with one of ``enough``, a superset: the app needs nothing the test set-up lacks)."""
    if sys.version_info < (3, 11):
        sys.exit(f"Small Model Studio needs Python 3.11 or newer (this is {sys.version.split()[0]}).")
    if not PY.exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = _digest(extras)
    stamp = VENV / ".studio-installed"
    if stamp.exists() and stamp.read_text() in {digest, *(_digest(e) for e in enough)}:
        return
    print("Installing Small Model Studio and its dependencies (first run takes a few minutes) ...", flush=True)
    subprocess.check_call([str(PY), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    subprocess.check_call([str(PY), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[{extras}]" if extras else str(ROOT)])
    stamp.write_text(digest)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "help"
    rest = argv[1:]
    if command == "app":
        ensure_env("", enough=("test",))  # the app's dependencies only; a test set-up already has them
        args = rest or ["--sample", "image"]
        return subprocess.call([str(PY), "-m", "studio", "gui", *args])
    if command == "test":
        ensure_env("test")
        env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
        return subprocess.call([str(PY), "-m", "pytest", "-q", *rest], cwd=ROOT, env=env)
    if command == "bench":
        ensure_env("test")
        return subprocess.call([str(PY), "-m", "bench", *rest], cwd=ROOT)
    print(__doc__)
    return 0 if command == "help" else 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
