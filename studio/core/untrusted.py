"""Checks for everything read from a project or data folder that may come from someone else.

A project can arrive by mail. Its JSON files name paths, shapes and sizes; its HDF5 file declares datasets;
its data folder may hold named pipes, device files or links to anywhere. Nothing here trusts them:

- :func:`confined` resolves a path from a project file inside its root (no absolute paths, no ``..``, no link
  out of the root);
- :func:`open_regular` / :func:`read_regular` open only regular files (a FIFO named ``x.png`` would block a
  read forever, ``/dev/zero`` never ends), non-blocking so even a file swapped for a FIFO after a check cannot
  hang, and refuse files above a size limit;
- :func:`check_input_shape_bounds`, :func:`check_run_model_json` bound and cross-check what ``model.json``
  says before a model is built from it;
- :func:`check_weights_file` checks every dataset of an HDF5 weights file against the model's own weight
  shapes (and refuses external storage and links) before Keras reads a byte of it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath
from typing import IO, Any, Iterable

from studio.core.errors import DatasetError, ProjectError

MAX_IMAGE_FILE_BYTES = 512 * 1024 * 1024  # a 50 Mpx 16-bit uncompressed TIFF is ~300 MB
MAX_WINDOW = 65536  # sensor window rows (the longest recordings we plan for are ~10^4-10^5 rows)
MAX_CHANNELS = 1024
MAX_CLASSES = 10000
MAX_IMAGE_SIDE = 1024
WEIGHTS_SLACK_BYTES = 1024 * 1024  # HDF5 may hold optimizer-free extras (e.g. a step counter)

_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_NOCTTY = getattr(os, "O_NOCTTY", 0)
_BINARY = getattr(os, "O_BINARY", 0)


def kind_of(mode: int) -> str:
    """A plain name for a non-regular file type (for skip reasons and errors)."""
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device file"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def regular_file_problem(path: Path) -> str | None:
    """Why ``path`` is not a readable regular file (following links), else None. Never blocks."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"cannot read the file ({exc.strerror or exc})"
    if not stat.S_ISREG(st.st_mode):
        return f"not a regular file ({kind_of(st.st_mode)})"
    return None


class NotRegularFile(OSError):
    """A path that is no regular file of a readable size (a FIFO, a device, a folder, or too large)."""


def open_checked(path: str | Path, max_bytes: int | None = None) -> IO[bytes]:
    """Open ``path`` for binary reading only if it is a regular file of at most ``max_bytes``, else raise
    :class:`NotRegularFile`; a missing or unreadable file raises the OSError ``open`` would.

    Opened non-blocking first, then checked with ``fstat`` on the open descriptor, so a FIFO (or one swapped
    in after an earlier check) is refused at once instead of blocking the read.
    """
    fd = os.open(path, os.O_RDONLY | _NONBLOCK | _NOCTTY | _BINARY)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(f"not a regular file ({kind_of(st.st_mode)}); only ordinary files are read")
        if max_bytes is not None and st.st_size > max_bytes:
            raise NotRegularFile(f"the file is too large ({st.st_size:,} bytes; the limit is {max_bytes:,})")
        if _NONBLOCK and hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def open_regular(path: str | Path, max_bytes: int | None = None, *, error: type = DatasetError) -> IO[bytes]:
    """:func:`open_checked`, every refusal raised as ``error`` (a StudioError subclass) naming the file."""
    path = Path(path)
    try:
        return open_checked(path, max_bytes)
    except FileNotFoundError as exc:
        raise error("file not found", path=path, hint="was the data folder moved or renamed?") from exc
    except NotRegularFile as exc:
        raise error(str(exc), path=path) from exc
    except OSError as exc:
        raise error(f"cannot open the file ({exc.strerror or exc})", path=path) from exc


def read_regular(path: str | Path, max_bytes: int | None = None, *, error: type = DatasetError) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (see :func:`open_regular`)."""
    with open_regular(path, max_bytes, error=error) as fh:
        data = fh.read() if max_bytes is None else fh.read(max_bytes + 1)
    if max_bytes is not None and len(data) > max_bytes:  # it grew while we read
        raise error(f"the file is too large (over {max_bytes:,} bytes)", path=path)
    return data


def is_within(path: Path, root: Path) -> bool:
    """True when the fully resolved ``path`` lies inside the fully resolved ``root`` (links followed)."""
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(root))
        return True
    except ValueError:
        return False


def relative_problem(rel: Any) -> str | None:
    """Why ``rel`` (a path string from a project file) is not a plain relative path, else None."""
    if not isinstance(rel, str) or not rel or "\0" in rel:
        return "not a path"
    if "\\" in rel or rel.startswith("/") or (len(rel) > 1 and rel[1] == ":"):
        return "an absolute path"
    parts = PurePosixPath(rel).parts
    if any(p == ".." for p in parts):
        return "a path that climbs out of its folder ('..')"
    return None


def confined(root: Path, rel: Any, *, source: str | Path | None = None) -> Path:
    """``root / rel`` when ``rel`` is a plain relative path that stays inside ``root`` even after following
    links; else a ProjectError naming ``source`` (the project file that said it)."""
    why = relative_problem(rel)
    if why is None:
        path = Path(root) / PurePosixPath(rel)
        if is_within(path, root):
            return path
        why = "a link that points outside its data folder"
    raise ProjectError(
        f"the project names {rel!r}, which is {why}; only files inside the data folder are read",
        path=source,
        hint="import the data again (a project received from someone else may have been altered)",
    )


# ---------------------------------------------------------------------------------------------- model.json
def _int(value: Any, what: str, lo: int, hi: int, source: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise ProjectError(f"{what} must be a whole number, got {value!r}", path=source)
    if not lo <= int(value) <= hi:
        raise ProjectError(f"{what} must be between {lo} and {hi}, got {value}", path=source)
    return int(value)


def check_input_shape_bounds(shape: Iterable[Any], kind: str, source: Any = None) -> tuple[int, ...]:
    """``shape`` as ints, refused (ProjectError) when it is not [side, side, 1|3] or [window, channels] within
    the limits Studio trains with."""
    shape = list(shape)
    if kind == "image":
        if len(shape) != 3:
            raise ProjectError(f"an image input shape has 3 numbers, got {shape}", path=source)
        side = _int(shape[0], "the image size", 8, MAX_IMAGE_SIDE, source)
        _int(shape[1], "the image size", side, side, source)
        _int(shape[2], "the image channels", 1, 3, source)
        if int(shape[2]) == 2:
            raise ProjectError("an image has 1 or 3 channels, got 2", path=source)
    elif kind == "sensor":
        if len(shape) != 2:
            raise ProjectError(f"a sensor input shape has 2 numbers, got {shape}", path=source)
        _int(shape[0], "the window", 2, MAX_WINDOW, source)
        _int(shape[1], "the number of channels", 1, MAX_CHANNELS, source)
    else:
        raise ProjectError(f"unknown input kind {kind!r}", path=source)
    return tuple(int(v) for v in shape)


def check_spec_fields(spec: Any, source: Any = None) -> None:
    """An InputSpec from a project file: its shape bounded, its per-channel lists as long as its channels."""
    shape = check_input_shape_bounds(spec.shape, spec.kind, source)
    if spec.kind == "sensor":
        for name in ("mean", "std", "channel_names"):
            values = getattr(spec, name)
            if values and len(values) != shape[1]:
                raise ProjectError(f"the input spec has {len(values)} {name} values for {shape[1]} channels",
                                   path=source)
        _int(spec.stride or 1, "the stride", 1, MAX_WINDOW, source)
    else:
        if not all(isinstance(v, (int, float)) for v in (spec.scale, spec.offset)):
            raise ProjectError("the input spec's pixel scale and offset must be numbers", path=source)


def check_run_model_json(d: dict[str, Any], spec: Any, source: Any = None) -> None:
    """model.json: input_shape equal to the spec's shape, both bounded; classes a list of distinct names."""
    check_spec_fields(spec, source)
    shape = check_input_shape_bounds(d.get("input_shape") or [], spec.kind, source)
    if tuple(shape) != tuple(spec.shape):
        raise ProjectError(f"model.json's input_shape {list(shape)} disagrees with its input spec "
                           f"{list(spec.shape)}", path=source, hint="train the model again")
    classes = d.get("classes")
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise ProjectError("model.json's classes must be a list of names", path=source)
    _int(len(classes), "the number of classes", 2, MAX_CLASSES, source)
    if len(set(classes)) != len(classes):
        raise ProjectError("model.json names a class twice", path=source)
    if d.get("n_classes") is not None and d.get("n_classes") != len(classes):
        raise ProjectError(f"model.json says {d.get('n_classes')} classes but lists {len(classes)}", path=source)


# ---------------------------------------------------------------------------------------------- manifest
def check_manifest(m: Any, source: Any = None) -> dict[str, Any]:
    """The data manifest's structure, checked before anything indexes into it (ProjectError otherwise):
    distinct valid class names; image samples with a known root, a plain relative path, a known class and
    split; sensor window/stride/channels bounded and recordings with a known class and split."""
    from studio.core.cescape import class_name_problem
    from studio.core.project import SPLITS

    def bad(what: str) -> ProjectError:
        return ProjectError(f"the data manifest is damaged: {what}", path=source, hint="import the data again")

    if not isinstance(m, dict):
        raise bad("it is not a JSON object")
    classes = m.get("classes")
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise bad("'classes' is not a list of names")
    if len(set(classes)) != len(classes) or len(classes) > MAX_CLASSES:
        raise bad("'classes' names a class twice or too many classes")
    for c in classes:
        if class_name_problem(c):
            raise bad(f"class {c!r}: {class_name_problem(c)}")
    known = set(classes)
    kind = str(m.get("task") or "").split("-")[0]
    if kind == "image":
        roots = m.get("roots")
        if not isinstance(roots, list) or not all(isinstance(r, dict) and isinstance(r.get("path"), str)
                                                  for r in roots):
            raise bad("'roots' is not a list of folders")
        items = m.get("samples")
        if not isinstance(items, list):
            raise bad("'samples' is not a list")
        for s in items:
            if not isinstance(s, dict) or s.get("label") not in known or s.get("split") not in SPLITS:
                raise bad(f"a sample has an unknown class or split ({str(s)[:80]})")
            r = s.get("root", 0)
            if not isinstance(r, int) or isinstance(r, bool) or not 0 <= r < len(roots):
                raise bad(f"a sample names data folder {r!r}, but there are {len(roots)}")
            why = relative_problem(s.get("path"))
            if why:
                raise bad(f"sample path {s.get('path')!r} is {why}")
    elif kind == "sensor":
        _int(m.get("window"), "the manifest's window", 2, MAX_WINDOW, source)
        _int(m.get("stride"), "the manifest's stride", 1, MAX_WINDOW, source)
        chans = m.get("channels")
        if not isinstance(chans, list) or not 1 <= len(chans) <= MAX_CHANNELS:
            raise bad("'channels' is not a list of 1 to 1024 names")
        norm = m.get("normalization") or {}
        for key in ("mean", "std"):
            values = norm.get(key) if isinstance(norm, dict) else None
            if values is not None and (not isinstance(values, list) or len(values) != len(chans)
                                       or not all(isinstance(v, (int, float)) for v in values)):
                raise bad(f"normalization {key} does not have one number per channel")
        recs = m.get("recordings")
        if not isinstance(recs, list):
            raise bad("'recordings' is not a list")
        for r in recs:
            if (not isinstance(r, dict) or not isinstance(r.get("id"), str) or r.get("label") not in known
                    or r.get("split") not in SPLITS):
                raise bad(f"a recording has no id or an unknown class or split ({str(r)[:80]})")
    else:
        raise bad(f"unknown task {m.get('task')!r}")
    return m


# ---------------------------------------------------------------------------------------------- HDF5 weights
def load_checked_weights(model: Any, path: Path, mismatch: str) -> None:
    """:func:`check_weights_file` against ``model``'s own weights, then load them; a file Keras cannot fit to
    the model is a ProjectError saying ``mismatch`` (e.g. "the weights do not fit the model")."""
    check_weights_file(path, [tuple(w.shape) for w in model.weights])
    try:
        model.load_weights(str(path))
    except (OSError, ValueError) as exc:
        raise ProjectError(f"{mismatch} ({exc})", path=path) from exc


def check_weights_file(path: Path, expected_shapes: list[tuple[int, ...]]) -> None:
    """Refuse (ProjectError) an HDF5 weights file that Keras should not read for a model with these weights.

    Every dataset must be numeric, stored in the file itself (no external or virtual storage, no external
    links) and have the shape of one of the model's weights (as many of each shape as the model has, plus a
    few scalars); their total declared size must not exceed the model's. All from metadata: nothing is read.
    """
    import h5py
    import numpy as np

    budget: dict[tuple[int, ...], int] = {}
    for s in expected_shapes:
        budget[tuple(int(v) for v in s)] = budget.get(tuple(int(v) for v in s), 0) + 1
    limit = sum(int(np.prod(s)) * 8 for s in expected_shapes) + WEIGHTS_SLACK_BYTES
    problems: list[str] = []
    total = 0

    def visit(group: Any, prefix: str) -> None:
        nonlocal total
        for name in group:
            link = group.get(name, getlink=True)
            full = f"{prefix}/{name}"
            if isinstance(link, (h5py.ExternalLink, h5py.SoftLink)):
                problems.append(f"{full} is a link")
                continue
            obj = group[name]
            if isinstance(obj, h5py.Group):
                visit(obj, full)
                continue
            plist = obj.id.get_create_plist()
            if plist.get_external_count() or plist.get_layout() == getattr(h5py.h5d, "VIRTUAL", -99):
                problems.append(f"{full} is stored outside the file")
                continue
            if obj.dtype.kind not in "fiub":
                problems.append(f"{full} is not numeric ({obj.dtype})")
                continue
            shape = tuple(int(v) for v in obj.shape)
            total += int(np.prod(shape, dtype=np.float64)) * obj.dtype.itemsize
            if shape == () or shape == (1,):
                continue  # counters and scalars
            if budget.get(shape, 0) <= 0:
                problems.append(f"{full} has shape {list(shape)}, which this model has no (more) weights of")
                continue
            budget[shape] -= 1

    problem = regular_file_problem(path)  # HDF5 would block opening a FIFO
    if problem:
        raise ProjectError(f"the weights file is unreadable ({problem})", path=path, hint="train the model again")
    try:
        with h5py.File(path, "r") as fh:
            visit(fh, "")
    except OSError as exc:
        raise ProjectError(f"the weights file is unreadable ({exc})", path=path,
                           hint="train the model again") from exc
    if total > limit:
        problems.insert(0, f"it declares {total:,} bytes of weights, more than this model's {limit:,}")
    if problems:
        raise ProjectError(f"the weights do not fit the model: {problems[0]}", path=path,
                           hint="train the model again (the file is damaged or was not written by Studio)")


__all__ = [
    "NotRegularFile", "open_checked", "open_regular", "read_regular", "regular_file_problem", "is_within",
    "confined", "relative_problem",
    "check_input_shape_bounds", "check_spec_fields", "check_manifest", "check_run_model_json", "check_weights_file", "kind_of", "load_checked_weights",
    "MAX_IMAGE_FILE_BYTES", "MAX_WINDOW", "MAX_CHANNELS", "MAX_CLASSES",
]
