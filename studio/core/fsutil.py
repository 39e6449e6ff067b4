"""Small file-system helpers: atomic JSON writes so a crash or cancel never leaves a half-written file."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any


# Names Windows refuses for a file or folder, whatever the extension.
_RESERVED = frozenset({"con", "prn", "aux", "nul"} | {f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)})
MAX_NAME = 100


def safe_name(text: str) -> str:
    """A file-system-safe, visible folder or file name derived from ``text`` (never "", "." or "..").

    Runs of anything but letters, digits, ``.``, ``_`` and ``-`` become one ``-``; leading and trailing dots and
    dashes go (a leading dot would hide the folder, a trailing one Windows drops); Windows device names get a
    ``-`` appended; the result is at most ``MAX_NAME`` characters; nothing left gives ``"item"``.
    """
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-.")[:MAX_NAME].strip("-.")
    if not name:
        return "item"
    if name.split(".")[0].lower() in _RESERVED:
        name += "-"
    return name


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False).encode("utf-8"))


def read_json(path: str | Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def replace_dir(tmp: str | Path, final: str | Path) -> None:
    """Put the finished folder ``tmp`` at ``final``, replacing an older ``final``: one rename each, so a reader
    (or a crash) sees the old folder or the new one, never a half-written mix."""
    tmp, final = Path(tmp), Path(final)
    old = None
    if final.exists():
        old = final.parent / f".{final.name}.old-{os.getpid()}-{time.time_ns()}"
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
