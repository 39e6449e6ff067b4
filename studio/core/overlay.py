"""Why-map pictures: the heat map over the photo (or shading over the signal) with a plain-words legend.

Pillow only (no Qt, no TensorFlow), so the CLI (``studio explain --out``), the report and the worker make the
same PNG. The colour scale is transparent where a part made no difference, yellow to red where it decided.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.maps import upsample
from studio.core.fsutil import atomic_write_bytes

MAX_SIDE = 384
LEGEND_FONT = 13
SIGNAL_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]


def heat_rgba(m: np.ndarray) -> np.ndarray:
    """A 0..1 map -> RGBA uint8: transparent below 0.15, then yellow (some effect) to red (decisive)."""
    m = np.clip(np.asarray(m, dtype=np.float32), 0.0, 1.0)
    rgba = np.zeros(m.shape + (4,), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 1] = np.round(220 * (1.0 - m)).astype(np.uint8)
    rgba[..., 2] = 0
    rgba[..., 3] = np.round(200 * np.clip((m - 0.15) / 0.85, 0.0, 1.0) ** 0.8).astype(np.uint8)
    return rgba


def _font(size: int = LEGEND_FONT) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size)
    except TypeError:  # Pillow < 10.1: bitmap font only
        return ImageFont.load_default()


def _legend(width: int, text: str, ends: tuple[str, str] | list[str] | None = None) -> Any:
    """A white strip with the legend text and the colour scale (``ends``: the words at its two ends),
    ``width`` pixels wide."""
    from PIL import Image, ImageDraw

    font = _font()
    chars = max(20, int(width / (LEGEND_FONT * 0.55)))
    lines = textwrap.wrap(text, chars)
    line_h = LEGEND_FONT + 4
    bar_h = 12
    height = 8 + line_h * len(lines) + 6 + bar_h + line_h + 6
    strip = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(strip)
    y = 6
    for line in lines:
        draw.text((8, y), line, fill=(30, 30, 30), font=font)
        y += line_h
    y += 4
    bar_w = max(60, min(220, width - 16))
    scale = heat_rgba(np.linspace(0, 1, bar_w)[None, :].repeat(bar_h, axis=0))
    base = np.full((bar_h, bar_w, 3), 235, np.float32)
    alpha = scale[..., 3:4] / 255.0
    bar = (base * (1 - alpha) + scale[..., :3] * alpha).astype(np.uint8)
    strip.paste(Image.fromarray(bar, "RGB"), (8, y))
    draw.rectangle([8, y, 8 + bar_w - 1, y + bar_h - 1], outline=(160, 160, 160))
    left, right = ends or ("no effect", "decided it")
    draw.text((8, y + bar_h + 2), left, fill=(90, 90, 90), font=font)
    tw = draw.textlength(right, font=font)
    draw.text((8 + bar_w - tw, y + bar_h + 2), right, fill=(90, 90, 90), font=font)
    return strip


def _stack(top: Any, bottom: Any) -> Any:
    from PIL import Image

    out = Image.new("RGB", (max(top.width, bottom.width), top.height + bottom.height), (255, 255, 255))
    out.paste(top, (0, 0))
    out.paste(bottom, (0, top.height))
    return out


def _open_display(path: str | Path, max_side: int) -> Any:
    """The original picture (EXIF-rotated, RGB) scaled so its longer side is at most ``max_side`` (at least
    ``max_side / 2``: small images are enlarged so the colours are visible)."""
    from PIL import Image, ImageOps

    with Image.open(path) as img:
        img.load()
        img = ImageOps.exif_transpose(img)
        img = img.convert("RGB")
    scale = max_side / max(img.size)
    if scale < 1 or max(img.size) < max_side // 2:
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                         Image.BILINEAR if scale < 1 else Image.NEAREST)
    return img


def image_overlay(result: dict[str, Any], picture: Any = None, max_side: int = MAX_SIDE) -> Any:
    """The photo with the heat map blended over it, the peak circled, and the legend below (a Pillow image).

    ``picture`` (a Pillow image or uint8 array) replaces reading ``result["path"]``: camera frames have no file.
    """
    from PIL import Image, ImageDraw

    if picture is None:
        img = _open_display(result["path"], max_side)
    else:
        img = picture if hasattr(picture, "size") else Image.fromarray(np.asarray(picture, np.uint8).squeeze())
        img = img.convert("RGB")
        if max(img.size) != max_side:
            s = max_side / max(img.size)
            img = img.resize((max(1, round(img.width * s)), max(1, round(img.height * s))), Image.BILINEAR)
    heat = upsample(np.asarray(result["heatmap"], np.float32), (img.height, img.width))
    layer = Image.fromarray(heat_rgba(heat), "RGBA")
    out = Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")
    if result.get("peak") is not None:  # (an anomaly map of a good-looking photo has no place to point at)
        w0, h0 = result.get("image_size") or [img.width, img.height]
        px = (result["peak"][0] + 0.5) * img.width / w0
        py = (result["peak"][1] + 0.5) * img.height / h0
        r = max(6, min(img.size) // 14)
        draw = ImageDraw.Draw(out)
        draw.ellipse([px - r, py - r, px + r, py + r], outline=(255, 255, 255), width=3)
        draw.ellipse([px - r - 1, py - r - 1, px + r + 1, py + r + 1], outline=(200, 0, 0), width=1)
    return _stack(out, _legend(max(out.width, 260), result["legend"], result.get("scale_labels")))


def signal_overlay(result: dict[str, Any], signal: np.ndarray, width: int = 640, row_height: int = 90) -> Any:
    """One strip per channel: the signal as a line, the heat of each row as background shading, the deciding
    span outlined in the deciding channel; legend below."""
    from PIL import Image, ImageDraw

    signal = np.asarray(signal, dtype=np.float32)
    rows, chans = signal.shape
    heat = np.asarray(result["heatmap"], np.float32)
    heat_w = upsample(heat, (chans, width))
    font = _font(11)
    img = Image.new("RGB", (width, row_height * chans), (255, 255, 255))
    for c in range(chans):
        top = c * row_height
        band = np.full((row_height - 4, width, 3), 250, np.float32)
        rgba = heat_rgba(np.repeat(heat_w[c][None, :], row_height - 4, axis=0))
        alpha = rgba[..., 3:4] / 255.0
        band = band * (1 - alpha) + rgba[..., :3] * alpha
        img.paste(Image.fromarray(band.astype(np.uint8), "RGB"), (0, top + 2))
        draw = ImageDraw.Draw(img)
        v = signal[:, c]
        lo, hi = float(v.min()), float(v.max())
        span = hi - lo if hi - lo > 1e-9 else 1.0
        xs = np.linspace(0, width - 1, rows)
        ys = top + 6 + (row_height - 12) * (1 - (v - lo) / span)
        draw.line(list(zip(xs.tolist(), ys.tolist())), fill=SIGNAL_COLOURS[c % len(SIGNAL_COLOURS)], width=1)
        draw.text((4, top + 3), str(result["channels"][c]), fill=(40, 40, 40), font=font)
        if c == int(result["peak"][1]):
            a, b = result["span"]
            x0, x1 = a * (width - 1) / max(1, rows - 1), (b - 1) * (width - 1) / max(1, rows - 1)
            draw.rectangle([x0, top + 2, max(x1, x0 + 2), top + row_height - 3], outline=(200, 0, 0), width=2)
    return _stack(img, _legend(width, result["legend"], result.get("scale_labels")))


def overlay_image(result: dict[str, Any], source: Any = None, max_side: int = MAX_SIDE) -> Any:
    """The picture of any why-map result (image or sensor). ``source``: a picture or signal to use instead of
    re-reading ``result["path"]``; ``max_side``: the photo's longer side (a signal plot is 5/3 of it wide)."""
    if result["kind"] == "sensor":
        if source is None:
            from studio.core.data.sensor.single import read_signal

            source = read_signal(result["path"], tuple(result["channels"]))
        return signal_overlay(result, source, width=max(320, max_side * 5 // 3))
    return image_overlay(result, source, max_side)


def png_bytes(image: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def save_overlay(result: dict[str, Any], out: str | Path, source: Any = None) -> Path:
    """Write the why-map picture as a PNG (atomically) and return its path."""
    out = Path(out)
    atomic_write_bytes(out, png_bytes(overlay_image(result, source)))
    return out
