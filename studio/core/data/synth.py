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


# ---------------------------------------------------------------------------------------------- marks
MARK_SIDE = 7  # pixels of the class-deciding mark in :func:`mark_image`


def _mark_pattern(kind: int) -> np.ndarray:
    """A ``MARK_SIDE`` square boolean pattern: 0 = hollow square (ring), 1 = plus (cross)."""
    s = MARK_SIDE
    pat = np.zeros((s, s), dtype=bool)
    if kind == 0:
        pat[[0, -1], :] = True
        pat[:, [0, -1]] = True
    else:
        pat[s // 2 - 1 : s // 2 + 2, :] = True
        pat[:, s // 2 - 1 : s // 2 + 2] = True
    return pat


def mark_image(mark: int | None, size: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, list[int] | None]:
    """A grey textured part with two or three dark distractor blobs and, unless ``mark`` is None, one small
    dark mark (0 ring, 1 cross) at a random place: the mark alone decides the class.

    Returns the RGB uint8 image and the mark's box ``[x0, y0, x1, y1]`` (pixels, x1/y1 exclusive) or None.
    """
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    gx, gy = rng.uniform(-0.6, 0.6, 2)
    img = 150 + 40 * (gx * (xx / w - 0.5) + gy * (yy / h - 0.5)) + rng.normal(0, 8, (h, w))
    s = MARK_SIDE
    x0 = int(rng.integers(2, w - s - 2))
    y0 = int(rng.integers(2, h - s - 2))
    keep_clear = (xx >= x0 - 3) & (xx < x0 + s + 3) & (yy >= y0 - 3) & (yy < y0 + s + 3)
    for _ in range(int(rng.integers(2, 4))):  # distractors: filled dark ellipses, bigger than the mark
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        rx, ry = rng.uniform(3, 6, 2)
        img[(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1) & ~keep_clear] = rng.uniform(40, 80)
    box = None
    if mark is not None:
        region = img[y0 : y0 + s, x0 : x0 + s]
        region[:] = np.where(_mark_pattern(mark), rng.uniform(20, 50), rng.uniform(170, 200))
        box = [x0, y0, x0 + s, y0 + s]
    grey = np.clip(img, 0, 255).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2), box


def make_mark_folder(
    root: str | Path,
    per_class: int = 40,
    size: tuple[int, int] = (64, 48),
    *,
    seed: int = 0,
    classes: Sequence[str] = ("cross", "ok", "ring"),
) -> tuple[Path, dict[str, list[int]]]:
    """Write ``root/<class>/<class>_<i>.png`` (ok: no mark; ring / cross: the mark that decides the class).

    Returns the folder and ``{relative path: mark box}`` for every image that has a mark, so a test can check
    that a why-map points at the mark and not at the distractors.
    """
    from PIL import Image

    root = Path(root)
    kinds = {"ring": 0, "cross": 1}
    rng = np.random.default_rng(seed)
    boxes: dict[str, list[int]] = {}
    for name in classes:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            arr, box = mark_image(kinds.get(name), size, rng)
            rel = f"{name}/{name}_{i:03d}.png"
            Image.fromarray(arr, "RGB").save(root / rel)
            if box is not None:
                boxes[rel] = box
    return root, boxes


def make_burst_folder(
    root: str | Path,
    per_class: int = 20,
    length: int = 96,
    *,
    seed: int = 0,
    channels: Sequence[str] = ("ax", "ay", "az"),
    burst: int = 12,
) -> tuple[Path, dict[str, tuple[int, int, int]]]:
    """Sensor recordings ``root/<class>/rec_<i>.csv`` of noise where the class is decided by a short burst
    (``burst`` rows of a fast oscillation) at a random time in one channel: "knock" in the first channel, "rub"
    in the second; the other channels carry slow distractor waves.

    Returns the folder and ``{relative path: (first row, last row + 1, channel index)}`` of every burst.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    spans: dict[str, tuple[int, int, int]] = {}
    t = np.arange(length)
    for ci, name in enumerate(("knock", "rub")):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            sig = rng.normal(0, 0.3, (length, len(channels)))
            for c in range(len(channels)):
                sig[:, c] += 0.8 * np.sin(2 * math.pi * t / rng.uniform(30, 60) + rng.uniform(0, 6.3))
            start = int(rng.integers(4, length - burst - 4))
            sig[start : start + burst, ci] += 2.5 * np.sin(np.arange(burst) * 2.2)
            rel = f"{name}/rec_{i:02d}.csv"
            rows = [[round(k / 50.0, 4)] + [float(v) for v in sig[k]] for k in range(length)]
            _write_rows(root / rel, ["time_s"] + list(channels), rows)
            spans[rel] = (start, start + burst, ci)
    return root, spans


# ---------------------------------------------------------------------------------------------- anomaly data
def anomaly_texture(size: tuple[int, int], rng: np.random.Generator, defect: str | None = None,
                    grey: bool = False) -> np.ndarray:
    """A woven-looking texture under a little jitter; ``defect`` paints a dark hole, a bright scratch or a
    stain on it (small, as on a real surface). Used by the anomaly tests and the self-test."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    dx, dy = rng.uniform(0, 6, 2)
    weave = np.sin((xx + dx) * 1.3) * np.sin((yy + dy) * 1.3)
    img = 128 + 40 * weave + rng.normal(0, 6, (h, w))
    img = img * rng.uniform(0.95, 1.05)
    cy, cx = rng.uniform(0.25, 0.75) * h, rng.uniform(0.25, 0.75) * w
    if defect == "hole":
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < (0.09 * min(w, h)) ** 2] = 20
    elif defect == "scratch":
        t = rng.uniform(0, math.pi)
        d = np.abs((xx - cx) * math.sin(t) - (yy - cy) * math.cos(t))
        img[(d < 0.8) & (np.hypot(xx - cx, yy - cy) < 0.35 * min(w, h))] = 250
    elif defect == "stain":
        img *= 1 - 0.45 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (0.12 * min(w, h)) ** 2))
    img = np.clip(img, 0, 255)
    if grey:
        return img.astype(np.uint8)
    tint = np.array([1.0, 0.9, 0.8])
    return np.clip(img[..., None] * tint[None, None, :], 0, 255).astype(np.uint8)


def make_anomaly_image_folder(
    root: str | Path,
    good: int = 16,
    defects: Mapping[str, int] | None = None,
    size: tuple[int, int] = (32, 32),
    *,
    normal: str = "good",
    grey: bool = False,
    seed: int = 0,
) -> Path:
    """``root/<normal>/`` good textures and ``root/<defect>/`` (hole, scratch, stain) examples, as PNGs."""
    from PIL import Image

    root = Path(root)
    rng = np.random.default_rng(seed)
    counts = {normal: good, **dict(defects if defects is not None else {"hole": 4, "scratch": 4})}
    for name, n in counts.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        kind = None if name == normal else (name if name in ("hole", "scratch", "stain") else "hole")
        for i in range(n):
            arr = anomaly_texture(size, rng, kind, grey)
            Image.fromarray(arr, "L" if grey else "RGB").save(folder / f"{name}_{i:03d}.png")
    return root


def make_anomaly_sensor_folder(
    root: str | Path,
    normal: int = 6,
    defects: Mapping[str, int] | None = None,
    *,
    length: int = 256,
    channels: Sequence[str] = ("ax", "ay"),
    normal_name: str = "normal",
    rate_hz: float = 100.0,
    seed: int = 0,
) -> Path:
    """``root/<normal_name>/rec_<i>.csv``: a machine's hum (two sines) plus noise; defect recordings add a
    rattle (a burst of a higher frequency) in part of the recording."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    counts = {normal_name: normal, **dict(defects if defects is not None else {"rattle": 3})}
    header = ["time_s", *channels]
    t = np.arange(length) / rate_hz
    for name, n in counts.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            sig = np.empty((length, len(channels)))
            for c in range(len(channels)):
                sig[:, c] = np.sin(2 * math.pi * 5.0 * t + rng.uniform(0, 6)) + 0.3 * np.sin(
                    2 * math.pi * 10.0 * t + rng.uniform(0, 6))
            sig += rng.normal(0, 0.1, sig.shape)
            if name != normal_name:
                start = int(rng.integers(0, length // 2))
                span = length // 3
                sig[start : start + span] += 1.2 * np.sin(2 * math.pi * 31.0 * t[:span])[:, None]
            rows = [[round(float(t[k]), 4)] + [float(v) for v in sig[k]] for k in range(length)]
            _write_rows(folder / f"rec_{i:02d}.csv", header, rows)
    return root
