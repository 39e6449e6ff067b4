"""Image decoding: the one place where a file becomes model input (:func:`load_image`), and its helpers.

Training, evaluation, Try it and the exported Linux harness (which carries a copy) all decode through here, so the
device sees the pixels the model was trained on. Split from :mod:`studio.core.data.image` (scanning, checking,
import), which re-exports these names.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.errors import DatasetError
from studio.core.untrusted import MAX_IMAGE_FILE_BYTES, open_regular

GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"})

# A camera sensor is ~50 Mpx; anything far beyond is more likely a decompression bomb than a photo.
MAX_PIXELS = 200_000_000


def _pil():
    from PIL import Image, ImageFile, ImageOps

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    return Image, ImageFile, ImageOps


# ---------------------------------------------------------------------------------------------- decoding
def _to_8bit(img: Any) -> Any:
    """Scale 16/32-bit integer and float images to 8-bit grey ('L') by value range, not by clipping."""
    Image, _, _ = _pil()
    mode = img.mode
    if mode.startswith("I;16"):
        arr = np.asarray(img, dtype=np.uint16)
        return Image.fromarray((arr >> 8).astype(np.uint8), "L")
    if mode == "I":
        arr = np.asarray(img, dtype=np.int64)
        # Pillow opens 16-bit PNG/TIFF as "I" in some versions: treat anything above 255 as 16-bit data.
        if arr.size and arr.max() > 255:
            arr = np.clip(arr, 0, 65535) >> 8
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")
    if mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        finite = arr[np.isfinite(arr)]
        if finite.size and finite.max() <= 1.0:
            arr = arr * 255.0
        arr = np.nan_to_num(arr, nan=0.0, posinf=255.0, neginf=0.0)
        return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L")
    return img


def _flatten(img: Any) -> Any:
    """Any Pillow mode -> 'L' or 'RGB', transparency composited on white (what a person sees in a viewer)."""
    Image, _, _ = _pil()
    img = _to_8bit(img)
    mode = img.mode
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if mode == "1":
        return img.convert("L")
    if mode == "CMYK":
        return img.convert("RGB")
    if has_alpha:
        grey = mode in ("L", "LA", "La") or (mode == "P" and _palette_is_grey(img))
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        out = Image.alpha_composite(white, rgba).convert("RGB")
        return out.convert("L") if grey else out
    if mode in ("L", "RGB"):
        return img
    return img.convert("RGB")


def _palette_is_grey(img: Any) -> bool:
    try:
        pal = img.getpalette() or []
    except Exception:  # noqa: BLE001 - odd palettes: treat as colour
        return False
    triples = [pal[i : i + 3] for i in range(0, len(pal) - 2, 3)]
    return bool(triples) and all(t[0] == t[1] == t[2] for t in triples)


def load_image(path: str | Path, size: int, channels: int) -> np.ndarray:
    """Decode ``path`` to uint8 ``[size, size, channels]`` (channels 1 or 3).

    Steps, in order: EXIF orientation applied; 16-bit scaled to 8-bit; CMYK converted to RGB; palette and
    alpha composited on white; converted to grey or RGB; resized with Pillow's bilinear filter straight to
    ``size`` x ``size``. The image is squashed, not cropped: inspection images often have the defect near the
    border, and a centre crop would silently cut it away; a fixed-aspect camera keeps the squash constant, so
    the network learns it. Pillow's bilinear resize widens its kernel when shrinking, so large photos are
    antialiased rather than sampled.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    Image, _, ImageOps = _pil()
    path = Path(path)
    try:
        with open_regular(path, MAX_IMAGE_FILE_BYTES) as fh, Image.open(fh) as img:
            img.load()
            try:
                img = ImageOps.exif_transpose(img)
            except Exception:  # noqa: BLE001 - a broken EXIF block should not lose the image
                pass
            arr = fit_image(_flatten(img), size, channels)
    except FileNotFoundError as exc:
        raise DatasetError(
            "image file not found", path=path, hint="was the data folder moved or renamed?"
        ) from exc
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DatasetError(f"cannot decode this image ({exc})", path=path) from exc
    except (IndexError, EOFError, struct.error, TypeError, ZeroDivisionError) as exc:
        raise DatasetError(f"cannot decode this image ({type(exc).__name__}: {exc})", path=path) from exc
    return arr


def fit_image(img: Any, size: int, channels: int) -> np.ndarray:
    """The last steps of :func:`load_image` on a decoded Pillow image (also used for camera frames): grey or
    RGB, squashed to ``size`` x ``size`` with Pillow's bilinear filter, uint8 ``[size, size, channels]``."""
    Image, _, _ = _pil()
    img = img.convert("L" if channels == 1 else "RGB")
    if img.size != (size, size):
        img = img.resize((size, size), Image.BILINEAR)
    arr = np.asarray(img, dtype=np.uint8)
    return arr[:, :, None] if channels == 1 else arr


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) of an image file as :func:`load_image` sees it (after EXIF rotation), read from the
    header only. Raises DatasetError naming the file when it cannot be read."""
    Image, _, _ = _pil()
    try:
        with Image.open(path) as img:
            w, h = img.size
            orientation = img.getexif().get(0x0112, 1)
    except FileNotFoundError as exc:
        raise DatasetError("image file not found", path=path) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise DatasetError(f"cannot read this image ({exc})", path=path) from exc
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)
