"""Class-folder trees: list the candidate files under each class sub-folder of a data root, never following
links out of it and skipping what is not a regular file (with the reason). Shared by image and sensor import;
re-exported by :mod:`studio.core.data.image`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from studio.core.cescape import class_name_problem
from studio.core.errors import DatasetError
from studio.core.untrusted import is_within, regular_file_problem

from .common import hidden_reason, posix_rel

@dataclass
class FolderScan:
    """Candidate files of a class-folder tree, before decoding."""

    root: Path
    files: list[tuple[str, Path]]  # (class name, file)
    class_dirs: list[str]
    skipped: list[dict[str, str]]


def scan_class_folders(root: Path, extensions: frozenset[str], kind: str) -> FolderScan:
    """List files under ``root``'s class sub-folders (recursing into nested folders of a class).

    Hidden and system files are skipped with a reason; files at the root and files with other extensions too.
    So are folders whose name cannot be a class name (control characters), anything that is not a regular file
    (a named pipe would block the reader forever), and links that point outside ``root``: a data folder is
    read as the tree it is, never beyond it. Linked folders inside a class folder are not followed.
    """
    if not root.exists():
        raise DatasetError("the data folder does not exist", path=root)
    if not root.is_dir():
        raise DatasetError(
            "expected a folder of class sub-folders, got a file",
            path=root,
            hint="choose the folder that contains one sub-folder per class",
        )
    files: list[tuple[str, Path]] = []
    class_dirs: list[str] = []
    skipped: list[dict[str, str]] = []

    def skip(p: Path, reason: str) -> None:
        skipped.append({"path": posix_rel(p, root), "reason": reason})

    try:
        entries = sorted(root.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise DatasetError(f"cannot list the folder ({exc.strerror or exc})", path=root) from exc
    for entry in entries:
        why = hidden_reason(entry.name) or _outside(entry, root)
        if why:
            skip(entry, why)
            continue
        if entry.is_dir():
            bad_name = class_name_problem(entry.name)
            if bad_name:
                skip(entry, f"folder not used as a class: {bad_name}; rename the folder")
                continue
            class_dirs.append(entry.name)
            _walk_class(entry, root, extensions, kind, files, skip)
        elif entry.is_file():
            if entry.suffix.lower() in extensions:
                skip(entry, "not in a class folder (files directly in the data folder have no label)")
            else:
                skip(entry, f"not {kind} file (extension '{entry.suffix or 'none'}')")
        else:
            skip(entry, regular_file_problem(entry) or "not a regular file")
    return FolderScan(root, files, class_dirs, skipped)


def _outside(path: Path, root: Path) -> str | None:
    if path.is_symlink() and not is_within(path, root):
        return "a link that points outside the data folder (not followed)"
    return None


def _walk_class(entry: Path, root: Path, extensions: frozenset[str], kind: str,
                files: list[tuple[str, Path]], skip: Callable[[Path, str], None]) -> None:
    """Collect the files of one class folder (see :func:`scan_class_folders` for what is skipped)."""
    for dirpath, dirnames, filenames in os.walk(entry):
        dirnames.sort()
        for d in list(dirnames):
            why_d = hidden_reason(d) or ("a linked folder (not followed)" if (Path(dirpath) / d).is_symlink()
                                         else None)
            if why_d:
                skip(Path(dirpath) / d, why_d)
                dirnames.remove(d)
        for name in sorted(filenames):
            p = Path(dirpath) / name
            why_f = hidden_reason(name) or _outside(p, root)
            if why_f:
                skip(p, why_f)
            elif p.suffix.lower() not in extensions:
                skip(p, f"not {kind} file (extension '{p.suffix or 'none'}')")
            else:
                problem = regular_file_problem(p)
                if problem:
                    skip(p, problem)
                else:
                    files.append((entry.name, p))
