"""Small file-system helpers: the one atomic writer (a crash or cancel never leaves a half-written file),
folder swaps, JSON reading, and safe names."""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Iterator


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


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` for writers that open the file by name (Keras ``save_weights``,
    ``np.savez``): when the block ends without error the file is flushed to disk and renamed over ``path``
    in one step; otherwise it is removed. The temporary name keeps ``path``'s suffix (Keras picks the format
    from it) and starts with a dot. This is the one atomic writer; :func:`atomic_write_bytes`,
    :func:`atomic_open` and :func:`atomic_write_json` are built on it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Named like a commit's staging folder (studio.core.commit): a crash's leftover is recognised as this
    # process's and removed on the next open; the mode is what open() would give (mkstemp makes 0600).
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=f".studio-tmp{path.suffix}",
                                dir=path.parent)
    chmod_like_open(fd)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "r+b") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_open(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file to write ``path``'s new content into; it replaces ``path`` only when the block succeeds."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        yield fh


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it over ``path``."""
    with atomic_open(path) as fh:
        fh.write(data)


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False).encode("utf-8"))


# A project file bigger than this is no file Studio wrote (a 10^6-image manifest is ~200 MB).
MAX_JSON_BYTES = 512 * 1024 * 1024


def read_json(path: str | Path, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """Parse a UTF-8 JSON file. Only a regular file of at most ``max_bytes`` is read: a project received from
    elsewhere may hold a named pipe (which blocks a read forever) or a link to ``/dev/zero`` (which never ends)
    in a JSON file's place. Those raise OSError (:class:`~studio.core.untrusted.NotRegularFile`) like an
    unreadable file, so every caller words the error for its file as before."""
    from studio.core.untrusted import open_checked

    with open_checked(path, max_bytes) as fh:
        return json.loads(fh.read(max_bytes + 1).decode("utf-8"))


def chmod_like_open(fd: int) -> None:
    """mkstemp creates 0600 files; give the file the mode ``open()`` would (0666 minus the umask), so a project
    or bundle handed to another account stays readable."""
    from studio.core.commit import current_umask

    if hasattr(os, "fchmod"):
        try:
            os.fchmod(fd, 0o666 & ~current_umask())
        except OSError:
            pass


def replace_dir(tmp: str | Path, final: str | Path) -> None:
    """Put the finished folder ``tmp`` at ``final``, replacing an older ``final`` (see
    :func:`studio.core.commit.swap_dir`, the one implementation)."""
    from studio.core.commit import swap_dir

    swap_dir(tmp, final)
