"""``P/data/recordings.npz``: the parsed recordings of a sensor project, stamped with their import's generation.

Loading trusts nothing in the file: shapes and sizes are read from the array headers and checked against the
manifest before anything is decompressed, and the generation id the import wrote into both the manifest and
the recordings must agree (see :mod:`studio.core.commit`).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.errors import ProjectError
from studio.core.fsutil import atomic_open
from studio.core.untrusted import regular_file_problem

RECORDINGS_FILE = "recordings.npz"
GENERATION_KEY = "__generation__"
MAX_RECORDINGS_BYTES = int(os.environ.get("STUDIO_MAX_RECORDINGS_MB", "8192")) * 1024 * 1024


def write_recordings(path: Path, arrays: dict[str, np.ndarray], generation: str | None = None) -> None:
    """Write the recordings to ``path`` atomically; ``generation`` (the manifest's) is stored with them, so
    loading can tell they belong to that manifest."""
    extra = {GENERATION_KEY: np.frombuffer(generation.encode("ascii"), np.uint8)} if generation else {}
    with atomic_open(path) as fh:
        np.savez_compressed(fh, **arrays, **extra)


def _npz_shapes(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Shape and dtype of every array in an .npz, from the headers only (nothing is decompressed)."""
    out = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            with zf.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                    np.lib.format.read_array_header_2_0
                shape, _, dtype = read(fh)
            out[info.filename[:-4] if info.filename.endswith(".npy") else info.filename] = (shape, dtype)
    return out


def load_recordings(project: Any, manifest: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    """The project's recordings, id -> float32 ``[length, channels]`` (no pickle: safe to open).

    Checked against the manifest before anything is decompressed: the generation the import stamped into
    both (a mix of two imports is refused, never evaluated), and every recording's shape (a damaged or
    hostile file cannot make Studio allocate more than the manifest's recordings need)."""
    path = project.data_dir / RECORDINGS_FILE
    hint = "import the data again"
    if not path.exists():
        raise ProjectError("the sensor recordings are missing", path=path, hint=hint)
    problem = regular_file_problem(path)  # a FIFO would block the unzip, a device never end
    if problem:
        raise ProjectError(f"the sensor recordings are unreadable ({problem})", path=path, hint=hint)
    manifest = manifest or project.load_manifest()
    chans = len(manifest.get("channels") or [])
    expected = {str(r["id"]): (int(r.get("length") or 0), chans) for r in manifest.get("recordings") or []}
    try:
        shapes = _npz_shapes(path)
        gen_shape = shapes.pop(GENERATION_KEY, None)
        total = sum(int(np.prod(s, dtype=np.float64)) * d.itemsize for s, d in shapes.values())
        if total > MAX_RECORDINGS_BYTES:
            raise ProjectError(f"the sensor recordings declare {total:,} bytes, over the limit", path=path, hint=hint)
        for rid, shape in expected.items():
            if rid not in shapes or tuple(shapes[rid][0]) != shape or shapes[rid][1].kind != "f":
                raise ProjectError(f"recording {rid!r} is missing or has another shape than the manifest says",
                                   path=path, hint=hint)
        with np.load(path, allow_pickle=False) as data:
            if manifest.get("generation"):
                stored = (bytes(np.asarray(data[GENERATION_KEY], np.uint8)).decode("ascii", "replace")
                          if gen_shape is not None else None)
                if stored != manifest["generation"]:
                    raise ProjectError("the sensor recordings belong to another import than the manifest (an "
                                       "import was interrupted)", path=path, hint=hint)
            return {k: np.asarray(data[k], dtype=np.float32) for k in expected}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ProjectError(f"the sensor recordings are unreadable ({exc})", path=path, hint=hint) from exc
