#!/usr/bin/env python3
"""Generate the inspection-camera sample: metal brackets on a conveyor belt, photographed from above.

Classes (one sub-folder each under ``data/``):

* ``ok``            a clean bracket plate with its four holes (two large, two small)
* ``scratch``       a thin, mostly straight bright or dark line across the metal surface
* ``missing_hole``  one of the four holes was never punched (often a small one: subtle at low resolution)
* ``crack``         a dark, jagged, sometimes branching line that starts at the plate edge or at a hole rim

What varies from picture to picture, as it does on a real line: belt texture and seams, lighting level and
direction, colour cast, part position, rotation (any angle) and scale, a soft shadow, dust specks and oil
smudges on every class (so "a mark" alone does not mean "defect"), sensor noise, focus and motion blur, JPEG
compression. Scratches and cracks differ mainly by shape, which makes the task learnable but not trivial.

Deterministic: the same ``--seed`` and counts give byte-identical files (one RNG stream per image, derived
from the seed, the class and the index). Only NumPy and Pillow are used.

    python samples/inspection/generate.py                 # rewrite samples/inspection/data
    python samples/inspection/generate.py --out /tmp/x --per-class 5
"""

from __future__ import annotations

import argparse
import io
import math
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

CLASSES = ("ok", "scratch", "missing_hole", "crack")
# More good parts than bad ones, as on a real line, but not so few defects that a class is starved.
DEFAULT_COUNTS = {"ok": 150, "scratch": 110, "missing_hole": 110, "crack": 110}
DEFAULT_SEED = 20240611
DEFAULT_SIZE = 128
SUPERSAMPLE = 2  # draw at 2x and downscale: smooth edges without per-primitive antialiasing
JPEG_QUALITY = 90


# ------------------------------------------------------------------------------------------------ helpers
def _smooth_noise(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1]: a coarse random grid upsampled bicubically."""
    gh, gw = max(2, h // cell + 2), max(2, w // cell + 2)
    coarse = rng.uniform(-1, 1, size=(gh, gw)).astype(np.float32)
    img = Image.fromarray(coarse, mode="F").resize((w, h), Image.BICUBIC)
    return np.clip(np.asarray(img, dtype=np.float32), -1.5, 1.5)


def _belt(rng: np.random.Generator, w: int) -> np.ndarray:
    """A rubber conveyor belt (float RGB 0..255) running left to right, with seams and side rails."""
    base = rng.uniform(38, 70)
    tint = np.array([1.0, 1.0 + rng.uniform(-0.03, 0.03), 1.0 + rng.uniform(-0.02, 0.08)], np.float32)
    # Texture streaks along the running direction: per-row noise stretched horizontally.
    rows = rng.normal(0, 1, size=(w, 1)).astype(np.float32)
    rows = np.asarray(Image.fromarray(rows, mode="F").resize((1, w), Image.BILINEAR))
    streak = np.repeat(rows, w, axis=1) * rng.uniform(2, 5)
    grain = rng.normal(0, rng.uniform(2, 5), size=(w, w)).astype(np.float32)
    blotch = _smooth_noise(rng, w, w, cell=int(w / rng.uniform(2, 5))) * rng.uniform(2, 7)
    lum = base + streak + grain + blotch
    # Seams across the belt (vertical lines) every so often.
    spacing = int(w * rng.uniform(0.45, 0.9))
    x = int(rng.integers(0, spacing))
    while x < w:
        thick = int(rng.integers(2, 5))
        lum[:, x : x + thick] -= rng.uniform(8, 18)
        lum[:, x + thick : x + thick + 2] += rng.uniform(3, 8)
        x += spacing
    img = lum[..., None] * tint[None, None, :]
    # Side rails (galvanised steel) at the top and/or bottom edge, not always in view.
    for edge in ("top", "bottom"):
        if rng.random() < 0.55:
            h = int(w * rng.uniform(0.04, 0.12))
            rail = rng.uniform(120, 175) + _smooth_noise(rng, h, w, cell=max(4, w // 6)) * 12
            rail = rail + np.linspace(-10, 10, h, dtype=np.float32)[:, None]
            sl = slice(0, h) if edge == "top" else slice(w - h, w)
            img[sl] = rail[..., None] * np.array([0.98, 1.0, 1.03], np.float32)
    return img


def _metal_texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Brushed steel or aluminium: a grey level, fine streaks along one axis, a soft gradient, a highlight."""
    level = rng.uniform(140, 200)
    streaks = rng.normal(0, 1, size=(h, 1)).astype(np.float32)
    streaks = np.repeat(streaks, w, axis=1) * rng.uniform(3, 7)
    fine = rng.normal(0, 2.5, size=(h, w)).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    ramp = (np.cos(angle) * (xx / w - 0.5) + np.sin(angle) * (yy / h - 0.5)) * rng.uniform(20, 50)
    # A specular band: a light stripe at a random place and angle.
    band_angle = rng.uniform(0, math.pi)
    d = np.cos(band_angle) * (xx - w * rng.uniform(0.2, 0.8)) + np.sin(band_angle) * (yy - h * rng.uniform(0.2, 0.8))
    band = np.exp(-((d / (w * rng.uniform(0.08, 0.2))) ** 2)) * rng.uniform(10, 45)
    return level + streaks + fine + ramp + band


def _jagged_path(
    rng: np.random.Generator, start: tuple[float, float], heading: float, length: float, steps: int, wiggle: float
) -> list[tuple[float, float]]:
    """A crack-like path: short segments whose direction wanders by up to ``wiggle`` radians each."""
    pts = [start]
    x, y = start
    seg = length / steps
    for _ in range(steps):
        heading += rng.uniform(-wiggle, wiggle)
        x += math.cos(heading) * seg * rng.uniform(0.6, 1.4)
        y += math.sin(heading) * seg * rng.uniform(0.6, 1.4)
        pts.append((x, y))
    return pts


# ------------------------------------------------------------------------------------------------ the part
def _part_layer(rng: np.random.Generator, label: str, side: int) -> Image.Image:
    """An RGBA image of one bracket plate (transparent outside the plate and inside its holes)."""
    pw = side * rng.uniform(0.62, 0.72)
    ph = pw * rng.uniform(0.55, 0.68)
    x0, y0 = (side - pw) / 2, (side - ph) / 2
    x1, y1 = x0 + pw, y0 + ph
    radius = ph * rng.uniform(0.12, 0.25)

    mask = Image.new("L", (side, side), 0)
    ImageDraw.Draw(mask).rounded_rectangle((x0, y0, x1, y1), radius=radius, fill=255)

    # Holes: two large ones left and right of centre, two small ones near the other corners.
    big = ph * rng.uniform(0.14, 0.18)
    small = ph * rng.uniform(0.09, 0.11)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    holes = [
        (x0 + pw * 0.2, cy, big),
        (x1 - pw * 0.2, cy, big),
        (cx, y0 + ph * 0.22, small),
        (cx, y1 - ph * 0.22, small),
    ]
    missing = None
    if label == "missing_hole":
        # Small holes are missed more often on a real press (and are harder to see).
        missing = int(rng.choice(4, p=[0.2, 0.2, 0.3, 0.3]))

    metal = _metal_texture(rng, side, side)
    # A bevelled rim: darker band just inside the outline.
    rim = np.asarray(mask.filter(ImageFilter.GaussianBlur(side * 0.012)), np.float32) / 255.0
    metal = metal - (1.0 - rim) * 60 * (np.asarray(mask, np.float32) / 255.0)

    defect = Image.new("L", (side, side), 0)  # darkening (crack, dark scratch)
    bright = Image.new("L", (side, side), 0)  # brightening (bright scratch)
    dd, bd = ImageDraw.Draw(defect), ImageDraw.Draw(bright)

    if label == "scratch":
        n = 1 if rng.random() < 0.75 else 2
        for _ in range(n):
            length = pw * rng.uniform(0.4, 0.75)
            ang = rng.uniform(0, math.pi)
            mx, my = cx + rng.uniform(-0.25, 0.25) * pw, cy + rng.uniform(-0.25, 0.25) * ph
            bend = rng.uniform(-0.08, 0.08) * length
            pts = []
            for t in np.linspace(-0.5, 0.5, 12):
                off = bend * (1 - 4 * t * t)
                pts.append((mx + math.cos(ang) * t * length - math.sin(ang) * off,
                            my + math.sin(ang) * t * length + math.cos(ang) * off))
            width = int(rng.integers(4, 8))
            strength = int(rng.uniform(170, 245))
            (bd if rng.random() < 0.75 else dd).line(pts, fill=strength, width=width, joint="curve")
    elif label == "crack":
        # Start at a hole rim or at the plate edge, run inwards, maybe branch once.
        if rng.random() < 0.5:
            hx, hy, hr = holes[int(rng.integers(0, 4))]
            a = rng.uniform(0, 2 * math.pi)
            start, heading = (hx + math.cos(a) * hr, hy + math.sin(a) * hr), a
        else:
            edge = int(rng.integers(0, 4))
            if edge == 0:
                start, heading = (rng.uniform(x0 + radius, x1 - radius), y0 + 1), math.pi / 2
            elif edge == 1:
                start, heading = (rng.uniform(x0 + radius, x1 - radius), y1 - 1), -math.pi / 2
            elif edge == 2:
                start, heading = (x0 + 1, rng.uniform(y0 + radius, y1 - radius)), 0.0
            else:
                start, heading = (x1 - 1, rng.uniform(y0 + radius, y1 - radius)), math.pi
            heading += rng.uniform(-0.6, 0.6)
        length = ph * rng.uniform(0.45, 0.85)
        pts = _jagged_path(rng, start, heading, length, int(rng.integers(6, 11)), wiggle=0.7)
        width = int(rng.integers(4, 8))
        dd.line(pts, fill=int(rng.uniform(200, 250)), width=width, joint="curve")
        if rng.random() < 0.5:
            k = int(rng.integers(2, len(pts) - 1))
            branch = _jagged_path(rng, pts[k], heading + rng.choice([-1, 1]) * rng.uniform(0.5, 1.1),
                                  length * rng.uniform(0.25, 0.5), 4, wiggle=0.7)
            dd.line(branch, fill=int(rng.uniform(120, 200)), width=max(1, width - 1), joint="curve")

    # Benign marks on every class: tiny dust specks and faint oil smudges.
    for _ in range(int(rng.integers(0, 5))):
        sx, sy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        r = rng.uniform(0.6, 1.6) * side / 128
        (dd if rng.random() < 0.6 else bd).ellipse((sx - r, sy - r, sx + r, sy + r), fill=int(rng.uniform(60, 140)))
    smudge = Image.new("L", (side, side), 0)
    for _ in range(int(rng.integers(0, 3))):
        sx, sy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        rx, ry = rng.uniform(0.04, 0.12) * pw, rng.uniform(0.03, 0.08) * pw
        ImageDraw.Draw(smudge).ellipse((sx - rx, sy - ry, sx + rx, sy + ry), fill=int(rng.uniform(25, 60)))
    smudge = smudge.filter(ImageFilter.GaussianBlur(side * 0.02))

    dark = np.asarray(defect.filter(ImageFilter.GaussianBlur(0.6)), np.float32) / 255.0
    light = np.asarray(bright.filter(ImageFilter.GaussianBlur(0.6)), np.float32) / 255.0
    metal = metal * (1 - 0.8 * dark) + (255 - metal) * 0.7 * light - np.asarray(smudge, np.float32) * 0.6

    # Cut the holes; a thin dark ring inside each hole is the punched wall seen slightly off-axis.
    mdraw = ImageDraw.Draw(mask)
    ring = Image.new("L", (side, side), 0)
    rdraw = ImageDraw.Draw(ring)
    for i, (hx, hy, hr) in enumerate(holes):
        if i == missing:
            # A faint dimple where the punch only touched the sheet, sometimes.
            if rng.random() < 0.35:
                rdraw.ellipse((hx - hr, hy - hr, hx + hr, hy + hr), outline=int(rng.uniform(20, 45)), width=2)
            continue
        jx, jy = rng.normal(0, 0.6, 2)
        hx, hy = hx + jx, hy + jy
        rdraw.ellipse((hx - hr * 1.15, hy - hr * 1.15, hx + hr * 1.15, hy + hr * 1.15), fill=90)
        mdraw.ellipse((hx - hr, hy - hr, hx + hr, hy + hr), fill=0)
    ring_a = np.asarray(ring.filter(ImageFilter.GaussianBlur(1.0)), np.float32) / 255.0
    metal = metal * (1 - 0.6 * ring_a)

    tint = np.array([1.0, 1.0 + rng.uniform(-0.02, 0.02), 1.0 + rng.uniform(-0.01, 0.05)], np.float32)
    rgb = np.clip(metal[..., None] * tint, 0, 255).astype(np.uint8)
    layer = Image.fromarray(rgb, "RGB").convert("RGBA")
    layer.putalpha(mask)
    return layer


def render(rng: np.random.Generator, label: str, size: int = DEFAULT_SIZE) -> Image.Image:
    """One inspection photo of class ``label`` as an RGB image of ``size`` x ``size`` pixels."""
    w = size * SUPERSAMPLE
    canvas = Image.fromarray(np.clip(_belt(rng, w), 0, 255).astype(np.uint8), "RGB").convert("RGBA")

    part = _part_layer(rng, label, w)
    scale = rng.uniform(0.85, 1.1)
    part = part.resize((int(w * scale), int(w * scale)), Image.BICUBIC)
    part = part.rotate(rng.uniform(0, 360), resample=Image.BICUBIC, expand=False)
    ox = int((w - part.width) / 2 + rng.uniform(-0.12, 0.12) * w)
    oy = int((w - part.height) / 2 + rng.uniform(-0.12, 0.12) * w)

    # Soft shadow from the part's own silhouette, offset away from the light. Layers are canvas-sized so
    # that parts hanging over the frame edge (negative offsets) are simply cropped.
    shadow_alpha = Image.new("L", (w, w), 0)
    sdx, sdy = (int(v) for v in rng.uniform(-0.03, 0.03, 2) * w)
    shadow_alpha.paste(part.getchannel("A").point(lambda v: int(v * 0.55)), (ox + sdx, oy + sdy))
    shadow = Image.new("RGBA", (w, w), (0, 0, 0, 0))
    shadow.putalpha(shadow_alpha.filter(ImageFilter.GaussianBlur(w * 0.02)))
    canvas.alpha_composite(shadow)
    placed = Image.new("RGBA", (w, w), (0, 0, 0, 0))
    placed.paste(part, (ox, oy))
    canvas.alpha_composite(placed)

    img = np.asarray(canvas.convert("RGB"), np.float32)
    # Lighting: overall level, a gradient across the field, a vignette and a slight colour cast.
    yy, xx = np.mgrid[0:w, 0:w].astype(np.float32) / w - 0.5
    la = rng.uniform(0, 2 * math.pi)
    field = rng.uniform(0.7, 1.25) * (1 + rng.uniform(0.05, 0.3) * (np.cos(la) * xx + np.sin(la) * yy) * 2)
    field *= 1 - rng.uniform(0.1, 0.35) * (xx**2 + yy**2) * 2
    cast = np.array([rng.uniform(0.93, 1.07), 1.0, rng.uniform(0.93, 1.07)], np.float32)
    img = img * field[..., None] * cast

    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB").resize((size, size), Image.LANCZOS)
    r = rng.random()
    if r < 0.35:
        out = out.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.9)))  # slightly out of focus
    elif r < 0.55:
        # Motion blur along the belt (3 or 5 pixels horizontally).
        k = 3 if rng.random() < 0.7 else 5
        kernel = [0.0] * (k * k)
        for i in range(k):
            kernel[(k // 2) * k + i] = 1.0
        out = out.filter(ImageFilter.Kernel((k, k), kernel, scale=k))
    noisy = np.asarray(out, np.float32) + rng.normal(0, rng.uniform(1.5, 6), size=(size, size, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")


def _image_rng(seed: int, label: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, CLASSES.index(label), index])


def generate(
    out_dir: str | Path,
    counts: dict[str, int] | int | None = None,
    seed: int = DEFAULT_SEED,
    size: int = DEFAULT_SIZE,
) -> dict[str, int]:
    """Write ``out_dir/<class>/<class>_NNN.jpg`` for every class; returns the count written per class.

    ``counts`` is a per-class dict, or one number for every class, or None for :data:`DEFAULT_COUNTS`.
    The folder's class sub-folders are replaced, so rerunning never leaves stale images behind.
    """
    out = Path(out_dir)
    if counts is None:
        counts = dict(DEFAULT_COUNTS)
    elif isinstance(counts, int):
        counts = {c: counts for c in CLASSES}
    written: dict[str, int] = {}
    for label in CLASSES:
        folder = out / label
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for i in range(counts.get(label, 0)):
            img = render(_image_rng(seed, label, i), label, size)
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=JPEG_QUALITY, optimize=True)
            (folder / f"{label}_{i + 1:03d}.jpg").write_bytes(buf.getvalue())
        written[label] = counts.get(label, 0)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "data"))
    parser.add_argument("--per-class", type=int, help="images per class (default: %s)" % DEFAULT_COUNTS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="image side in pixels")
    args = parser.parse_args(argv)
    written = generate(args.out, args.per_class, args.seed, args.size)
    total = sum(p.stat().st_size for p in Path(args.out).rglob("*.jpg"))
    print(f"wrote {sum(written.values())} images {written} to {args.out} ({total / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
