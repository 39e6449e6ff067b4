"""Helpers that write tiny datasets (good and deliberately broken) for the core tests.

The good generators live in :mod:`studio.core.data.synth` (the self-test uses them too) and are re-exported
here; the broken-file makers exist only for tests. Import from tests with ``from datagen import ...`` (pytest
puts tests/core on sys.path) or use the fixtures in tests/core/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from studio.core.data.synth import (  # noqa: F401 - re-exported for other tests
    make_image_folder,
    make_sensor_folder,
    make_sensor_single_csv,
    synth_image,
    synth_signal,
)


def rgb_array(w: int = 24, h: int = 18, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


def write_truncated(
    path: Path, fmt: str = "PNG", keep: float = 0.6, size: tuple[int, int] = (64, 48)
) -> Path:
    """A real PNG/JPEG cut short: opens fine (header intact) but its pixel data ends early."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".full")
    Image.fromarray(rgb_array(*size)).save(tmp, fmt)
    data = tmp.read_bytes()
    tmp.unlink()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def write_text_as_image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("this is not an image, just some notes\n", encoding="utf-8")
    return path


def write_empty(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def write_mode_image(path: Path, mode: str, size: tuple[int, int] = (24, 18)) -> Path:
    """An image in a specific Pillow mode: L, RGB, RGBA, P (with transparency), I;16, CMYK, 1, LA."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    rgb = Image.fromarray(rgb_array(w, h))
    if mode == "I;16":
        arr = (np.linspace(0, 65535, w * h).reshape(h, w)).astype(np.uint16)
        img = Image.fromarray(arr)  # uint16 -> mode I;16
    elif mode == "P":
        img = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
        img.info["transparency"] = 0
    elif mode == "RGBA":
        img = rgb.convert("RGBA")
        a = np.full((h, w), 255, np.uint8)
        a[:, : w // 2] = 0
        img.putalpha(Image.fromarray(a))
    else:
        img = rgb.convert(mode)
    img.save(path)
    return path
