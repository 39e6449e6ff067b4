"""Tiny, learnable synthetic datasets written as real files (PNG folders, CSV recordings).

Used by the test-suite, the self-test and anyone who needs data in a few milliseconds. The classes are easy
to tell apart (colour and stripe direction for images, frequency for sensors) so a 1-2 epoch model learns
them, which lets end-to-end tests assert accuracy and not just "it ran".
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

_PALETTE = [(220, 40, 40), (40, 160, 60), (40, 80, 220), (230, 200, 40), (160, 60, 200), (40, 200, 200)]


def synth_image(
    class_index: int, size: tuple[int, int], rng: np.random.Generator, grey: bool = False
) -> np.ndarray:
    """One image of class ``class_index``: a class colour, stripes in a class-specific direction."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    angle = class_index * math.pi / 3 + rng.normal(0, 0.1)
    phase = rng.uniform(0, 2 * math.pi)
    wave = 0.5 + 0.5 * np.sin((xx * math.cos(angle) + yy * math.sin(angle)) * 0.8 + phase)
    base = np.array(_PALETTE[class_index % len(_PALETTE)], dtype=np.float64)
    img = base[None, None, :] * (0.55 + 0.45 * wave[:, :, None])
    img += rng.normal(0, 12, img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if grey:
        img = np.clip(40 + class_index * 60 + 60 * wave + rng.normal(0, 8, wave.shape), 0, 255).astype(
            np.uint8
        )
    return img


def make_image_folder(
    root: str | Path,
    classes: Mapping[str, int] | Sequence[str] = ("a", "b"),
    size: tuple[int, int] = (20, 16),
    *,
    per_class: int = 6,
    grey: bool = False,
    ext: str = ".png",
    seed: int = 0,
) -> Path:
    """Write ``root/<class>/<class>_<i><ext>`` images; ``classes`` maps name -> count (or lists names)."""
    from PIL import Image

    root = Path(root)
    counts = dict(classes) if isinstance(classes, Mapping) else {c: per_class for c in classes}
    rng = np.random.default_rng(seed)
    for ci, (name, n) in enumerate(counts.items()):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            arr = synth_image(ci, size, rng, grey=grey)
            Image.fromarray(arr, "L" if grey else "RGB").save(folder / f"{name}_{i:03d}{ext}")
    return root


def synth_signal(
    class_index: int, length: int, channels: int, rng: np.random.Generator, rate_hz: float = 50.0
) -> np.ndarray:
    """One recording ``[length, channels]``: a sine per channel at a class-specific frequency, plus noise."""
    t = np.arange(length) / rate_hz
    freq = 1.0 + 1.5 * class_index
    out = np.empty((length, channels))
    for c in range(channels):
        out[:, c] = (1.0 + 0.3 * c) * np.sin(2 * math.pi * freq * t + rng.uniform(0, 2 * math.pi) + c)
    out += rng.normal(0, 0.2, out.shape) + 0.1 * class_index
    return out


def _write_rows(path: Path, header: list[str], rows: list[list[object]], delimiter: str = ",") -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(delimiter.join(header) + "\n")
        for r in rows:
            fh.write(delimiter.join(f"{v:.5f}" if isinstance(v, float) else str(v) for v in r) + "\n")


def make_sensor_folder(
    root: str | Path,
    classes: Mapping[str, int] | Sequence[str] = ("idle", "shake"),
    *,
    recordings: int = 4,
    length: int = 200,
    channels: Sequence[str] = ("ax", "ay", "az"),
    time_column: str | None = "time_s",
    rate_hz: float = 50.0,
    delimiter: str = ",",
    seed: int = 0,
) -> Path:
    """Layout (a): ``root/<class>/rec_<i>.csv`` with a time column and the given channel columns."""
    root = Path(root)
    counts = dict(classes) if isinstance(classes, Mapping) else {c: recordings for c in classes}
    rng = np.random.default_rng(seed)
    header = ([time_column] if time_column else []) + list(channels)
    for ci, (name, n) in enumerate(counts.items()):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            sig = synth_signal(ci, length, len(channels), rng, rate_hz)
            rows = [
                ([round(k / rate_hz, 4)] if time_column else []) + [float(x) for x in sig[k]]
                for k in range(length)
            ]
            _write_rows(folder / f"rec_{i:02d}.csv", header, rows, delimiter)
    return root


def make_sensor_single_csv(
    path: str | Path,
    classes: Mapping[str, int] | Sequence[str] = ("idle", "shake"),
    *,
    recordings: int = 3,
    length: int = 200,
    channels: Sequence[str] = ("ax", "ay", "az"),
    label_column: str = "label",
    recording_column: str | None = "recording",
    time_column: str | None = "time_s",
    rate_hz: float = 50.0,
    delimiter: str = ",",
    seed: int = 0,
) -> Path:
    """Layout (b): one CSV with a label column (and a recording-id column unless ``recording_column=None``).

    Recordings of all classes alternate, so without a recording column consecutive rows of one label are
    still separate segments only where the label changes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    counts = dict(classes) if isinstance(classes, Mapping) else {c: recordings for c in classes}
    rng = np.random.default_rng(seed)
    header = ([time_column] if time_column else []) + list(channels) + [label_column]
    if recording_column:
        header.append(recording_column)
    rows: list[list[object]] = []
    order = [(ci, name, i) for ci, (name, n) in enumerate(counts.items()) for i in range(n)]
    order.sort(key=lambda t: (t[2], t[0]))  # interleave classes: a0 b0 a1 b1 ...
    for ci, name, i in order:
        sig = synth_signal(ci, length, len(channels), rng, rate_hz)
        for k in range(length):
            row: list[object] = ([round(k / rate_hz, 4)] if time_column else []) + [float(x) for x in sig[k]]
            row.append(name)
            if recording_column:
                row.append(f"{name}-{i}")
            rows.append(row)
    _write_rows(path, header, rows, delimiter)
    return path
