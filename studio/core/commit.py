"""Crash-consistent commits: the one way a change spanning several files reaches a project or a bundle.

Every multi-file change (an import's recordings + manifest, a variant's model + variant.json, an export
bundle) is first written completely into a hidden staging folder (``.NAME.<pid>-<random>.studio-tmp``), stamped with one
*generation* id in its JSON record, and then committed by renames:

- :func:`swap_dir` when the whole folder is Studio's (``P/data``, ``P/variants/<name>``, a new export folder):
  the old folder is renamed aside (``.NAME.studio-old-<pid>-<generation>``), the staged one into place, the old
  one removed.
  A crash leaves the old folder, the new one, or the old one aside with no folder in place;
- :func:`apply_staged` when the folder also holds files Studio did not write (re-exporting into a folder
  with the user's ``build/`` or notes): a journal naming the files to replace and remove is written first
  (the commit point), then the files move one by one, the record (``bundle.json``) last. A crash after the
  journal is rolled forward.

:func:`recover` finishes or undoes whatever a crash left: staged folders are deleted, an old folder aside with
nothing in its place is put back, a journal is replayed. Every leftover names the process that made it and is
touched only once that process is gone, so recovery can run whenever a project is opened (``Project.open``),
even while another process (or thread) is in the middle of a commit. Listings ignore every hidden name, so a
leftover is never shown as a variant.
On load, the record's generation is checked against the files it names (``verify`` helpers beside each
reader), so a mix of old and new files is an error, never a silent wrong answer.

Renames and removals call ``os.replace`` / ``shutil.rmtree`` / ``os.unlink`` at call time, so the
fault-injection test (tests/core/test_fault_injection.py) can kill the process at each of them.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable

JOURNAL = ".studio-commit.json"
# Distinctive marks: recovery may run in a user's folder (an export's parent) and must never touch their files.
STAGING_SUFFIX = ".studio-tmp"
# ".NAME.<pid>-<random>.studio-tmp" (staging folders) and ".NAME.<pid>-<random>.studio-tmp.EXT" (the temporary
# files of studio.core.fsutil's atomic writer, which keep the suffix Keras picks the format by);
# ".NAME.studio-old-<pid>-<generation>" (a folder set aside by swap_dir).
_TEMP = re.compile(r"^\.(?P<owner>.+)\.(?P<pid>\d+)-[A-Za-z0-9_]+\.studio-tmp(\.[A-Za-z0-9]+)?$")
_OLD = re.compile(r"^\.(?P<owner>.+)\.studio-old-(?P<pid>\d+)-.+$")
OLD_MARK = ".studio-old-"
# What Studio's replace_dir left before these commits (a project made then may hold them): directories named
# ".NAME.<8 mkdtemp characters>.tmp" (staging) and ".NAME.old-<pid>-<ns>" (set aside). Handled like the above.
_LEGACY_TEMP = re.compile(r"^\.(?P<owner>.+)\.[a-z0-9_]{8}\.tmp$")
_LEGACY_OLD = re.compile(r"^\.(?P<owner>.+)\.old-(?P<pid>\d+)-\d{10,}$")


def creator_alive(pid: int) -> bool:
    """Whether the process that made a leftover still runs (then it is a commit in progress, not a crash)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except OSError:
        return True
    return True


def new_generation() -> str:
    """A fresh id for one commit: sortable by time, unique across processes."""
    return f"{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(4)}"


def current_umask() -> int:
    """The process umask, read without changing it where the system allows (Linux), else by a quick swap."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def honour_umask(path: str | Path, *, directory: bool) -> None:
    """Give ``path`` the mode a plain ``open``/``mkdir`` would (temporary files are created 0600/0700)."""
    try:
        os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())
    except OSError:
        pass


def staging_dir(parent: str | Path, name: str) -> Path:
    """A new hidden, empty folder beside ``parent/name`` to write a commit into (mode from the umask)."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f".{name}.{os.getpid()}-", suffix=STAGING_SUFFIX, dir=parent))
    honour_umask(path, directory=True)
    return path


def discard(staged: str | Path) -> None:
    """Remove a staging folder that will not be committed (a cancel or an error before the commit)."""
    shutil.rmtree(staged, ignore_errors=True)


def is_hidden(name: str) -> bool:
    """Names listings must skip: staging folders, folders set aside, journals (anything starting with a dot)."""
    return name.startswith(".")


# ---------------------------------------------------------------------------------------------- whole folders
def swap_dir(staged: str | Path, final: str | Path) -> None:
    """Put the finished folder ``staged`` at ``final``, replacing an older ``final`` (see module docstring)."""
    staged, final = Path(staged), Path(final)
    old = None
    if final.exists() or final.is_symlink():
        old = final.parent / f".{final.name}{OLD_MARK}{os.getpid()}-{new_generation()}"
        os.replace(final, old)
    os.replace(staged, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- in place
def apply_staged(folder: str | Path, staged: str | Path, files: Iterable[str], remove: Iterable[str],
                 record: str, generation: str) -> None:
    """Move the staged ``files`` into ``folder`` over older copies and delete ``remove`` (files an earlier
    commit wrote that this one does not), ``record`` last; other files in ``folder`` are never touched.

    The journal written first makes the change all-or-nothing across crashes: :func:`recover` replays it.
    """
    from studio.core.fsutil import atomic_write_json

    folder, staged = Path(folder), Path(staged)
    files = sorted(set(files))
    journal = {
        "generation": generation,
        "staged": staged.name,
        "files": files,
        "remove": sorted(set(remove) - set(files)),
        "record": record,
        "pid": os.getpid(),
    }
    atomic_write_json(folder / JOURNAL, journal)
    _replay(folder, journal)


def _replay(folder: Path, journal: dict[str, Any]) -> None:
    """Roll a journaled commit forward; safe to repeat after a crash at any step."""
    from studio.core.untrusted import is_within, relative_problem

    staged = folder / str(journal["staged"])
    record = str(journal["record"])
    if not is_hidden(staged.name) or not is_within(staged, folder):
        raise ValueError(f"journal in {folder} names an unexpected staging folder {staged.name!r}")

    def ours(rel: Any) -> Path | None:
        if relative_problem(rel) or str(rel).startswith("."):
            return None
        path = folder / rel
        return path if is_within(path, folder) else None

    target = ours(record)
    if target is not None and (staged / record).exists() and target.exists():
        os.unlink(target)  # the old record first: from here on no record vouches for a half-replaced folder
    for rel in journal["remove"]:
        path = ours(rel)
        if path is not None and (path.is_file() or path.is_symlink()):
            os.unlink(path)
            _prune_empty(path.parent, folder)
    for rel in journal["files"]:
        if rel == record:
            continue
        path, src = ours(rel), staged / rel
        if path is not None and src.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, path)
    if target is not None and (staged / record).exists():
        os.replace(staged / record, target)
    shutil.rmtree(staged, ignore_errors=True)
    os.unlink(folder / JOURNAL)


def _prune_empty(folder: Path, top: Path) -> None:
    while folder != top and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


# ---------------------------------------------------------------------------------------------- recovery
def recover(folder: str | Path, only: str | None = None) -> list[str]:
    """Finish or undo what an interrupted commit left in ``folder``; returns what was done (for logs/tests).

    ``only`` limits the clean-up to the leftovers of ``folder/only`` (used in a user's folder, the parent of an
    export). Only a writer holding the project lock may call this: a concurrent commit's staging folder looks
    exactly like a crashed one's.
    """
    folder = Path(folder)
    done: list[str] = []
    if not folder.is_dir():
        return done
    journal_path = folder / JOURNAL
    if only is None and journal_path.is_file():
        try:
            journal = json.loads(journal_path.read_text(encoding="utf-8"))
            if isinstance(journal.get("pid"), int) and creator_alive(journal["pid"]):
                return done  # a commit in progress: its staging folder is in use too
            _replay(folder, journal)
            done.append(f"completed an interrupted commit ({journal.get('generation')})")
        except (ValueError, KeyError, TypeError, AttributeError):
            os.unlink(journal_path)
            done.append("removed an unreadable commit journal")
    # Newest first: after two interrupted swaps of one folder, the later old copy is the one to put back.
    for entry in sorted(folder.iterdir(), key=lambda p: p.name, reverse=True):
        name, owner = entry.name, _owner(entry.name)
        if owner is None or entry.is_symlink() or (only is not None and owner != only):
            continue
        if creator_alive(_creator(name)):
            continue  # a commit in progress
        try:
            if not entry.is_dir():  # an atomic write's temporary file (studio.core.fsutil)
                if _TEMP.match(name):
                    os.unlink(entry)
                    done.append(f"removed unfinished {name}")
            elif _TEMP.match(name) or _LEGACY_TEMP.match(name):
                shutil.rmtree(entry)
                done.append(f"removed unfinished {name}")
            elif (folder / owner).exists():
                shutil.rmtree(entry)
                done.append(f"removed replaced {name}")
            else:
                os.replace(entry, folder / owner)
                done.append(f"restored {owner} (its replacement was interrupted)")
        except FileNotFoundError:
            pass  # another process recovered it first
    return done


def _creator(name: str) -> int:
    """The process id a leftover's name records (0 when it names none: then it is treated as abandoned)."""
    m = _TEMP.match(name) or _OLD.match(name) or _LEGACY_OLD.match(name)
    return int(m.group("pid")) if m else 0


def needs_recovery(folder: str | Path) -> bool:
    """True when ``folder`` holds a leftover of some commit (a cheap listing; :func:`recover` decides)."""
    try:
        return any(e.startswith(".") and (e == JOURNAL or _owner(e) is not None) for e in os.listdir(folder))
    except OSError:
        return False


def _owner(name: str) -> str | None:
    """The name a staging or set-aside entry (see :data:`_TEMP`, :data:`_OLD`) belongs to, else None."""
    m = _TEMP.match(name) or _OLD.match(name) or _LEGACY_TEMP.match(name) or _LEGACY_OLD.match(name)
    return m.group("owner") if m else None


__all__ = [
    "new_generation", "staging_dir", "discard", "swap_dir", "apply_staged", "recover", "is_hidden", "needs_recovery",
    "creator_alive",
    "current_umask", "honour_umask", "JOURNAL",
]
