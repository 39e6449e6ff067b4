"""One writer per project: a lock file that other processes respect, released by the OS if the holder dies.

``P/.studio.lock`` is locked with ``fcntl.flock`` (POSIX) or ``msvcrt.locking`` (Windows) on an open file
descriptor, so a holder that crashes or is killed (``kill -9``) releases it with its last descriptor: there is
never a stale lock to clean up, and the file itself is never deleted (deleting a lock file races with the next
locker). After locking, the holder writes who it is (program, process id, what it does, since when) at the
start of the file, so a refused locker can say *who* holds the project.

The lock is held by a **process**: it is re-entrant within the process that holds it (nested
``project_lock`` calls, from any thread, only count), so a job that holds its project's lock can call
:meth:`studio.core.project.Project.update` without deadlocking itself. Threads of one process that write the
same file serialise on :func:`write_guard` (``Project.update`` does).

Usage::

    with project_lock(project.path, "training"):           # refuses at once if another process holds it
        ...
    with project_lock(project.path, "saving settings", timeout=5.0):   # waits up to 5 s
        ...

A refused lock raises :class:`~studio.core.errors.ProjectBusyError` naming the holder.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from studio.core.errors import ProjectBusyError

LOCK_FILE = ".studio.lock"
POLL_SECONDS = 0.05
# Windows locks byte ranges, and a locked range cannot be read by others: lock one byte far past the holder
# information, so a refused locker can still read who holds the project.
_WINDOWS_LOCK_OFFSET = 1 << 30

_registry_lock = threading.Lock()
_held: dict[str, "_Held"] = {}
_write_guards: dict[str, threading.RLock] = {}


class _Held:
    def __init__(self, fd: int, info: dict[str, Any]) -> None:
        self.fd = fd
        self.count = 0
        self.info = info


def lock_path(project_path: str | Path) -> Path:
    return Path(project_path) / LOCK_FILE


def _key(project_path: str | Path) -> str:
    return os.path.normcase(os.path.realpath(os.fspath(project_path)))


def program_name() -> str:
    """What a user would call this process: "Small Model Studio" for the app and its worker, else the command."""
    argv = [a for a in sys.argv if a]
    if any(a == "--worker" for a in argv) or not argv[1:] or argv[1:2] == ["gui"]:
        return "Small Model Studio"
    words = [a for a in argv[1:] if not a.startswith("-")][:1]
    return "studio " + " ".join(words) if words else "studio"


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows CI only
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (BlockingIOError, PermissionError):
        return False
    return True


def _unlock(fd: int) -> None:
    try:
        if sys.platform == "win32":  # pragma: no cover
            import msvcrt

            os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _write_info(fd: int, info: dict[str, Any]) -> None:
    data = (json.dumps(info) + "\n").encode("utf-8")
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, data)
        os.ftruncate(fd, len(data))
    except OSError:
        pass  # the information is a courtesy; the lock itself is what counts


def read_holder(project_path: str | Path) -> dict[str, Any] | None:
    """Who wrote the lock file last (the holder while it is held); None when unreadable. Never blocks."""
    try:
        text = lock_path(project_path).read_text(encoding="utf-8")
        info = json.loads(text.splitlines()[0]) if text.strip() else None
    except (OSError, ValueError, IndexError):
        return None
    return info if isinstance(info, dict) else None


def is_locked(project_path: str | Path) -> bool:
    """True when another process holds the project's lock right now (False if this process holds it)."""
    key = _key(project_path)
    with _registry_lock:
        if key in _held:
            return False
    try:
        with project_lock(project_path, "checking the lock"):
            return False
    except ProjectBusyError:
        return True


def describe_holder(info: dict[str, Any] | None) -> str:
    """"training in Small Model Studio (process 1234, since 10:32)", or a vaguer phrase without information."""
    if not info:
        return "another Studio program"
    text = f"{info.get('purpose') or 'working'} in {info.get('program') or 'another Studio program'}"
    details = []
    if info.get("pid"):
        details.append(f"process {info['pid']}")
    if info.get("host") and info["host"] != socket.gethostname():
        details.append(f"on {info['host']}")
    since = str(info.get("since") or "")
    if len(since) >= 16:
        details.append("since " + since[11:16])
    return text + (f" ({', '.join(details)})" if details else "")


class ProjectLock:
    """Context manager for the project lock (see the module docstring). Re-entrant within a process."""

    def __init__(self, project_path: str | Path, purpose: str, timeout: float = 0.0) -> None:
        self.project_path = Path(project_path)
        self.purpose = purpose
        self.timeout = float(timeout)
        self._key = _key(project_path)

    def acquire(self) -> "ProjectLock":
        deadline = time.monotonic() + max(0.0, self.timeout)
        while True:
            with _registry_lock:
                held = _held.get(self._key)
                if held is not None:
                    held.count += 1
                    return self
                fd = self._open()
                if _try_lock(fd):
                    info = {
                        "program": program_name(),
                        "pid": os.getpid(),
                        "host": socket.gethostname(),
                        "purpose": self.purpose,
                        "since": _dt.datetime.now().isoformat(timespec="seconds"),
                    }
                    _write_info(fd, info)
                    held = _Held(fd, info)
                    held.count = 1
                    _held[self._key] = held
                    return self
                os.close(fd)
            if time.monotonic() >= deadline:
                holder = read_holder(self.project_path)
                raise ProjectBusyError(
                    f"the project is in use: {describe_holder(holder)}",
                    path=self.project_path,
                    hint="wait until it has finished (or stop it there), then try again",
                    holder=holder,
                )
            time.sleep(POLL_SECONDS)

    def _open(self) -> int:
        path = lock_path(self.project_path)
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            return os.open(path, flags, 0o666)
        except OSError as exc:
            from studio.core.errors import ProjectError

            raise ProjectError(f"cannot open the project's lock file ({exc.strerror})", path=path,
                               hint="check that the project folder exists and is writable") from exc

    def release(self) -> None:
        with _registry_lock:
            held = _held.get(self._key)
            if held is None:
                return
            held.count -= 1
            if held.count > 0:
                return
            del _held[self._key]
            _unlock(held.fd)

    def __enter__(self) -> "ProjectLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def project_lock(project_path: str | Path, purpose: str, timeout: float = 0.0) -> ProjectLock:
    """The project's lock for ``purpose`` ("training", "saving settings"); waits up to ``timeout`` seconds."""
    return ProjectLock(project_path, purpose, timeout)


def holds_lock(project_path: str | Path) -> bool:
    """True when this process holds the project's lock."""
    with _registry_lock:
        return _key(project_path) in _held


def write_guard(project_path: str | Path) -> threading.RLock:
    """A per-project in-process lock: threads of the lock-holding process serialise their file writes on it."""
    key = _key(project_path)
    with _registry_lock:
        return _write_guards.setdefault(key, threading.RLock())


def held_locks() -> Iterator[str]:
    """Project paths whose lock this process holds (for diagnostics and tests)."""
    with _registry_lock:
        return iter(list(_held))
