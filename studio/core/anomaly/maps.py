"""Anomaly maps as pictures: the map over the image, red where the region is unlike the good examples.

Pillow + numpy only, shared by the Evaluate page's gallery and anything that writes a PNG. The colour scale is
the why-maps' (:func:`studio.core.overlay.heat_rgba`): transparent well below the threshold, yellow near it,
red above it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

SPAN = 1.5  # the colour ramps from threshold - SPAN (transparent) to threshold + SPAN (red)
ALPHA = 0.6  # of the why-maps' opacity: a defect stays visible under its red (holes, stains cover large areas)


def heat01(amap: np.ndarray, threshold: float) -> np.ndarray:
    """The map (in normal-spread units) -> 0..1 around the threshold."""
    return np.clip((np.asarray(amap, np.float32) - (float(threshold) - SPAN)) / (2 * SPAN), 0.0, 1.0)


def overlay(image: np.ndarray, amap: np.ndarray, threshold: float) -> np.ndarray:
    """uint8 RGB ``image`` [h, w, 1|3] with the map blended over it (same size as the image)."""
    from PIL import Image

    from studio.core.overlay import heat_rgba

    rgb = np.asarray(image, dtype=np.uint8)
    if rgb.ndim == 2:
        rgb = rgb[..., None]
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    h, w = rgb.shape[:2]
    rgba = heat_rgba(heat01(amap, threshold))
    rgba[..., 3] = np.round(rgba[..., 3] * ALPHA).astype(np.uint8)
    heat = Image.fromarray(rgba).resize((w, h), Image.BILINEAR)
    base = Image.fromarray(rgb).convert("RGBA")
    return np.asarray(Image.alpha_composite(base, heat).convert("RGB"))


def overlay_file(path: str | Path, amap: Any, threshold: float, max_side: int = 256) -> np.ndarray:
    """The image file (decoded as Studio decodes, shown at most ``max_side``) with its map over it."""
    from studio.core.data.image import load_image

    img = load_image(path, max_side, 3)
    return overlay(img, np.asarray(amap, np.float32), threshold)
