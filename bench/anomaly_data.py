"""Development data for the anomaly benchmark, written as the folders a user would import.

* ``textures`` — a material (weave, wood, leather, carpet, stone) photographed under small jitter (position,
  +-5 degree rotation, +-3 % scale, light level / gradient / colour cast, noise, blur), with subtle scratches,
  holes, stains and cracks painted on some photos: the shape of the acceptance texture, generated here.
* ``digits28`` — scikit-learn's 8x8 digits made MNIST-shaped (28x28 grey, 20x20 digit box, rotation, shift,
  scale, stroke width, elastic warp; 4 augmented copies of each training digit), one-class: each digit normal
  in turn, the others anomalies. ``digits8`` is the same split on the original 8x8 images. :func:`write_digits28`
  writes all of them once, 10 classes (the shrink benchmark's harder digits). ``digits28s`` (:func:`digit28s`):
  the same with every digit thinned to its skeleton and drawn again with a random pen width, as MNIST's are.
* ``inspection`` — the bundled inspection sample: 'ok' brackets vs scratch / missing hole / crack.
* ``sensors`` — one-class splits of the development series (/work/devdata/csv: one class normal, the others
  anomalies, official train / test) and of the bundled vibration sample.

numpy + Pillow only (no scipy): deterministic from the seeds.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

DEVDATA = Path(os.environ.get("STUDIO_DEVDATA", "/work/devdata/csv"))
TEXTURES = ("weave", "wood", "leather", "carpet", "stone")
DEFECTS = ("scratch", "hole", "stain", "crack")
SENSOR_SETS = ("GunPoint", "ArrowHead", "OSULeaf", "UnitTest", "BasicMotions", "JapaneseVowels")


# ---------------------------------------------------------------------------------------------- helpers
def gaussian(a: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of a 2-D float array (reflect padding)."""
    r = max(1, int(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    p = np.pad(a, r, mode="reflect")
    p = np.apply_along_axis(lambda v: np.convolve(v, k, "valid"), 0, p)
    return np.apply_along_axis(lambda v: np.convolve(v, k, "valid"), 1, p)


def smooth(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    c = rng.uniform(-1, 1, (max(2, h // cell + 3), max(2, w // cell + 3))).astype(np.float32)
    return np.asarray(Image.fromarray(c, "F").resize((w, h), Image.BICUBIC), np.float32)


def fractal(rng: np.random.Generator, h: int, w: int, cell: int, octaves: int = 5, gain: float = 0.5) -> np.ndarray:
    out, amp, tot = np.zeros((h, w), np.float32), 1.0, 0.0
    for _ in range(octaves):
        out += amp * smooth(rng, h, w, max(2, int(cell)))
        tot += amp
        amp *= gain
        cell /= 2
    return out / tot


def worley_edges(rng: np.random.Generator, size: int, cell: int) -> np.ndarray:
    """F2 - F1 of a jittered-grid Worley noise (cell borders ~0), from the 3x3 neighbouring cells."""
    n = size // cell + 3
    pts = (np.mgrid[0:n, 0:n].transpose(1, 2, 0) + rng.uniform(0, 1, (n, n, 2))) * cell - cell
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cy, cx = (yy // cell).astype(int) + 1, (xx // cell).astype(int) + 1
    d = []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            p = pts[cy + dy, cx + dx]
            d.append(np.hypot(p[..., 0] - yy, p[..., 1] - xx))
    d = np.sort(np.stack(d), axis=0)
    return d[1] - d[0]


def material(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    h = w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "weave":
        p = 9.0
        tx = np.sin(2 * np.pi * xx / p + 0.6 * smooth(rng, h, w, 40))
        ty = np.sin(2 * np.pi * yy / p + 0.6 * smooth(rng, h, w, 40))
        over = (np.floor(xx / p) + np.floor(yy / p)) % 2
        thx = rng.normal(0, 0.25, (1, w // int(p) + 2)).repeat(int(p), 1)[:, :w]
        thy = rng.normal(0, 0.25, (h // int(p) + 2, 1)).repeat(int(p), 0)[:h]
        lum = np.where(over > 0, tx + thx, ty + thy) * 22 + 130 + fractal(rng, h, w, 6, 2) * 10
        col = np.array([0.85, 0.9, 1.05])
    elif kind == "wood":
        r = xx * 0.15 + fractal(rng, h, w, 120, 4) * 40 + 6 * np.sin(yy / 90.0)
        rings = 0.5 + 0.5 * np.sin(2 * np.pi * r / 14.0)
        streak = np.asarray(Image.fromarray(rng.normal(0, 1, (h, w)).astype(np.float32), "F").resize(
            (w // 8, h), Image.BILINEAR).resize((w, h), Image.BILINEAR), np.float32)
        lum = 120 + 45 * rings ** 1.5 + 5 * fractal(rng, h, w, 3, 2) + 6 * streak
        col = np.array([1.15, 0.85, 0.6])
    elif kind == "leather":
        lum = 110 - 35 * np.exp(-worley_edges(rng, size, 14) / 2.5) + 12 * fractal(rng, h, w, 8, 3) \
            + 8 * fractal(rng, h, w, 60, 2)
        col = np.array([1.0, 0.8, 0.65])
    elif kind == "carpet":
        lum = 100 + 55 * gaussian(rng.normal(0, 1, (h, w)), 0.8) + 15 * fractal(rng, h, w, 30, 3)
        col = np.array([0.7, 0.9, 1.0])
    elif kind == "stone":
        speck = (rng.random((h, w)) < 0.01) * rng.uniform(-60, 60, (h, w))
        lum = 128 + 40 * fractal(rng, h, w, 64, 6, 0.6) + gaussian(speck, 0.7)
        col = np.array([1.0, 0.98, 0.95])
    else:
        raise ValueError(kind)
    return np.clip(lum[..., None] * col[None, None, :], 0, 255).astype(np.float32)


def _line_mask(h: int, w: int, pts: list[tuple[float, float]], width: float) -> np.ndarray:
    ss = 4
    m = Image.new("L", (w * ss, h * ss), 0)
    ImageDraw.Draw(m).line([(x * ss, y * ss) for x, y in pts], fill=255, width=max(1, int(round(width * ss))),
                           joint="curve")
    m = m.resize((w, h), Image.BOX).filter(ImageFilter.GaussianBlur(0.3))
    return np.asarray(m, np.float32)[..., None] / 255.0


def add_defect(img: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Paint one subtle defect on a material patch (float RGB)."""
    h, w = img.shape[:2]
    s = min(h, w)
    out = img.copy()
    cx, cy = rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "scratch":
        length, ang, bend = rng.uniform(0.12, 0.35) * s, rng.uniform(0, np.pi), rng.normal(0, 0.03 * s)
        t = np.linspace(-0.5, 0.5, 6)
        pts = [(cx + length * u * math.cos(ang) - bend * (1 - 4 * u * u) * math.sin(ang),
                cy + length * u * math.sin(ang) + bend * (1 - 4 * u * u) * math.cos(ang)) for u in t]
        a = _line_mask(h, w, pts, rng.uniform(0.8, 1.8) * s / 256) * rng.uniform(0.35, 0.7)
        bright = rng.random() < 0.6
        out = out * (1 - a) + np.clip(out * (1.35 if bright else 0.6) + (25 if bright else -10), 0, 255) * a
    elif kind == "crack":
        pts, ang = [(cx, cy)], rng.uniform(0, 2 * np.pi)
        step = rng.uniform(0.012, 0.02) * s
        for _ in range(int(rng.integers(10, 18))):
            ang += rng.normal(0, 0.5)
            pts.append((pts[-1][0] + step * math.cos(ang), pts[-1][1] + step * math.sin(ang)))
        a = _line_mask(h, w, pts, rng.uniform(0.8, 1.6) * s / 256) * rng.uniform(0.5, 0.8)
        out = out * (1 - a) + out * 0.35 * a
    elif kind == "hole":
        r = rng.uniform(0.012, 0.03) * s
        dist = np.hypot((xx - cx) / (r * rng.uniform(0.8, 1.25)), (yy - cy) / (r * rng.uniform(0.8, 1.25)))
        inside = np.clip((1.15 - dist) / 0.3, 0, 1)[..., None]
        rim = np.exp(-((dist - 1.15) / 0.18) ** 2)[..., None]
        out = out * (1 - inside) + rng.uniform(15, 45) * inside + rim * rng.uniform(10, 25) * (1 - inside)
    elif kind == "stain":
        r = rng.uniform(0.04, 0.1) * s
        ang = np.arctan2(yy - cy, xx - cx)
        wob = 1 + 0.25 * np.sin(3 * ang + rng.uniform(0, 6)) + 0.15 * np.sin(5 * ang + rng.uniform(0, 6))
        m = (np.clip((1 - np.hypot(xx - cx, yy - cy) / (r * wob)) / 0.35, 0, 1) ** 1.2)[..., None]
        tint = np.array([[0.75, 0.65, 0.5], [0.6, 0.6, 0.6], [0.9, 0.8, 0.55]])[int(rng.integers(3))]
        out = out * (1 - m) + out * (1 - rng.uniform(0.12, 0.28)) * tint * m
    else:
        raise ValueError(kind)
    return np.clip(out, 0, 255)


def photograph(canvas: np.ndarray, size: int, rng: np.random.Generator, rot_deg: float = 5.0) -> np.ndarray:
    big = canvas.shape[0]
    scale = rng.uniform(0.97, 1.03)
    ang = math.radians(rng.uniform(-rot_deg, rot_deg))
    margin = size * 0.75
    cx, cy = rng.uniform(margin, big - margin), rng.uniform(margin, big - margin)
    a, b = math.cos(ang) / scale, math.sin(ang) / scale
    coeffs = (a, b, cx - a * size / 2 - b * size / 2, -b, a, cy + b * size / 2 - a * size / 2)
    im = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8), "RGB")
    return np.asarray(im.transform((size, size), Image.AFFINE, coeffs, resample=Image.BILINEAR), np.float32)


def light(img: np.ndarray, rng: np.random.Generator) -> Image.Image:
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    grad = 1 + rng.uniform(0, 0.08) * ((xx / w - 0.5) * math.cos(ang) + (yy / h - 0.5) * math.sin(ang)) * 2
    out = img * rng.uniform(0.9, 1.1) * grad[..., None] * (1 + rng.normal(0, 0.02, 3))[None, None, :]
    out += rng.normal(0, rng.uniform(1.5, 3.5), out.shape)
    im = Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), "RGB")
    return im.filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 0.6))) if rng.random() < 0.5 else im


def write_texture(root: Path, kind: str, size: int = 256, n_train: int = 200, n_test_good: int = 40,
                  n_defect: int = 20, seed: int | None = None) -> tuple[Path, Path]:
    """``root/train/good`` and ``root/test/{good,scratch,hole,stain,crack}`` PNG photos of one material."""
    rng = np.random.default_rng(sum(map(ord, kind)) if seed is None else seed)
    canvas = material(kind, int(size * 3.2), rng)
    for folder, n, defect in [("train/good", n_train, None), ("test/good", n_test_good, None)] + \
            [(f"test/{d}", n_defect, d) for d in DEFECTS]:
        out = root / folder
        out.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            p = photograph(canvas, size, rng)
            if defect:
                p = add_defect(p, defect, rng)
            light(p, rng).save(out / f"{i:03d}.png")
    return root / "train", root / "test"


# ---------------------------------------------------------------------------------------------- digits
TEXTURE_CLASSES = ("good",) + DEFECTS


def write_texture_defects(root: Path, per_class: int = 160, size: int = 128, seed: int = 5150) -> Path:
    """A colour image-classification set, ``root/<class>/*.png``: good / scratch / hole / stain / crack photos
    (:func:`add_defect`) of all five materials (two canvases each, any rotation), ``per_class`` images per class.
    The shrink benchmark's ``textures-800`` (faint scratches and cracks keep a compact CNN near 0.55)."""
    rng = np.random.default_rng(seed)
    canvases = [material(k, int(size * 3.2), rng) for k in TEXTURES for _ in range(2)]
    for c in TEXTURE_CLASSES:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            p = photograph(canvases[int(rng.integers(len(canvases)))], size, rng, rot_deg=180)
            if c != "good":
                p = add_defect(p, c, rng)
            light(p, rng).save(root / c / f"{i:04d}.png")
    return root


def _bilinear(img: np.ndarray, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    h, w = img.shape
    y0, x0 = np.floor(yy).astype(int), np.floor(xx).astype(int)
    fy, fx = yy - y0, xx - x0

    def at(y: np.ndarray, x: np.ndarray) -> np.ndarray:
        ok = (y >= 0) & (y < h) & (x >= 0) & (x < w)
        return np.where(ok, img[np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)], 0.0)

    return ((1 - fy) * (1 - fx) * at(y0, x0) + (1 - fy) * fx * at(y0, x0 + 1) + fy * (1 - fx) * at(y0 + 1, x0)
            + fy * fx * at(y0 + 1, x0 + 1))


def digit28(x8: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    im = Image.fromarray((x8.reshape(8, 8) * 255 / 16).astype(np.uint8)).resize((20, 20), Image.BICUBIC)
    r = rng.random()
    if r < 0.25:
        im = im.filter(ImageFilter.MaxFilter(3))
    elif r < 0.4:
        im = Image.blend(im, im.filter(ImageFilter.MinFilter(3)), 0.5)
    a = np.zeros((28, 28), np.float32)
    a[4:24, 4:24] = np.asarray(im, np.float32)
    return _jitter28(a, rng)


def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a boolean image to one-pixel-wide strokes."""
    b = np.asarray(mask, bool).copy()
    moves = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))  # P2 .. P9, clockwise
    changed = True
    while changed:
        changed = False
        for step in (0, 1):
            p = np.pad(b, 1)
            n8 = [p[1 + dy : p.shape[0] - 1 + dy, 1 + dx : p.shape[1] - 1 + dx] for dy, dx in moves]
            count = sum(v.astype(int) for v in n8)
            turns = sum((~n8[i] & n8[(i + 1) % 8]).astype(int) for i in range(8))
            if step == 0:  # P2.P4.P6 = 0 and P4.P6.P8 = 0
                keep = ~(n8[0] & n8[2] & n8[4]) & ~(n8[2] & n8[4] & n8[6])
            else:  # P2.P4.P8 = 0 and P2.P6.P8 = 0
                keep = ~(n8[0] & n8[2] & n8[6]) & ~(n8[0] & n8[4] & n8[6])
            gone = b & (count >= 2) & (count <= 6) & (turns == 1) & keep
            if gone.any():
                b &= ~gone
                changed = True
    return b


def digit28s(x8: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``digits28s``: the digit thinned to its skeleton and drawn again with a random stroke width (1.2-4 px
    in the 20 px box, every digit), then :func:`digit28`'s rotation, scale, shift, elastic warp and noise. The
    8x8 source's strokes are 2.5-5 px wide blocks at 20 px (a '1' is a thick bar); MNIST's are pen lines."""
    im = np.asarray(Image.fromarray((x8.reshape(8, 8) * 255 / 16).astype(np.uint8)).resize((20, 20), Image.BICUBIC),
                    np.float32)
    skel = np.argwhere(thin(im > 0.4 * im.max()))
    yy, xx = np.mgrid[0:20, 0:20]
    dist = np.sqrt(((yy[..., None] - skel[:, 0]) ** 2 + (xx[..., None] - skel[:, 1]) ** 2).min(axis=-1)) \
        if len(skel) else np.full((20, 20), 99.0)
    ink = np.clip(rng.uniform(1.2, 4.0) / 2 + 0.5 - dist, 0, 1) * 255
    a = np.zeros((28, 28), np.float32)
    a[4:24, 4:24] = gaussian(ink, 0.5)
    return _jitter28(a, rng)


def _jitter28(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    ang, sc = np.deg2rad(rng.uniform(-12, 12)), rng.uniform(0.9, 1.1)
    dx, dy = rng.uniform(-1.5, 1.5, 2)
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float32) - 13.5
    c, s = np.cos(ang) / sc, np.sin(ang) / sc
    ex = gaussian(rng.uniform(-1, 1, (28, 28)), 4) * 16
    ey = gaussian(rng.uniform(-1, 1, (28, 28)), 4) * 16
    out = _bilinear(a, -s * xx + c * yy + 13.5 - dy + ey, c * xx + s * yy + 13.5 - dx + ex)
    return np.clip(out + rng.normal(0, 4, out.shape), 0, 255).astype(np.uint8)


def digits_split(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn digits, stratified 60 / 40 (8x8 values 0..16)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    return train_test_split(x, y, test_size=0.4, stratify=y, random_state=seed)  # type: ignore[return-value]


def write_digits_oneclass(root: Path, digit: int, shape: str, copies: int = 4) -> tuple[Path, Path]:
    """``root/train/good`` (the digit) and ``root/test/{good,d0..d9}``; shape "28" (MNIST-like), "28s" (MNIST-like
    with pen strokes of random width: :func:`digit28s`) or "8"."""
    xtr, xte, ytr, yte = digits_split()
    rng_tr, rng_te = np.random.default_rng(100 + digit), np.random.default_rng(999)
    make = {"28": digit28, "28s": digit28s}.get(shape)

    def img(x8: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return make(x8, rng) if make else (x8.reshape(8, 8) * 255 / 16).astype(np.uint8)

    (root / "train" / "good").mkdir(parents=True, exist_ok=True)
    k = 0
    for c in range(copies if make else 1):
        for x8 in xtr[ytr == digit]:
            Image.fromarray(img(x8, rng_tr)).save(root / "train" / "good" / f"{k:05d}.png")
            k += 1
    for i, (x8, label) in enumerate(zip(xte, yte)):
        folder = root / "test" / ("good" if label == digit else f"d{label}")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img(x8, rng_te)).save(folder / f"{i:05d}.png")
    return root / "train", root / "test"


def write_digits28(root: Path, seed: int = 28) -> Path:
    """All 1,797 scikit-learn digits made MNIST-shaped (:func:`digit28`, one copy each) as ``root/<digit>/*.png``:
    a 10-class image set where an SVM on raw pixels is strong (the shrink benchmark's harder digits)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    rng = np.random.default_rng(seed)
    for i, (x8, label) in enumerate(zip(d.data, d.target)):
        folder = root / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(digit28(x8, rng), "L").save(folder / f"{i:04d}.png")
    return root


# ---------------------------------------------------------------------------------------------- sample, sensors
def write_inspection(root: Path, sample_dir: Path, n_train: int = 120, seed: int = 0) -> tuple[Path, Path]:
    """Train on ``n_train`` 'ok' photos; test on the other 'ok' photos and every defect (copies: Studio reads regular files only)."""
    ok = sorted((sample_dir / "ok").iterdir())
    order = np.random.default_rng(seed).permutation(len(ok))
    for i, j in enumerate(order):
        dest = root / ("train/good" if i < n_train else "test/good") / ok[j].name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ok[j], dest)
    for d in sorted(p for p in sample_dir.iterdir() if p.is_dir() and p.name != "ok"):
        (root / "test" / d.name).mkdir(parents=True, exist_ok=True)
        for f in sorted(d.iterdir()):
            shutil.copyfile(f, root / "test" / d.name / f.name)
    return root / "train", root / "test"


def pick_defects(files: list[Path], k: int, seed: str) -> list[Path]:
    """``k`` of ``files`` (all when fewer), the same ones on every run (seeded by ``seed``, not by order)."""
    if k <= 0 or not files:
        return []
    rng = np.random.default_rng(sum(map(ord, seed)))
    return [files[i] for i in sorted(rng.permutation(len(files))[:k].tolist())]


def sensor_oneclass(name: str, defects: int = 0, root: Path | None = None) -> Iterator[tuple[str, Path, Path]]:
    """(normal class, train folder, test folder) per class of a development dataset (copied CSVs) in ``root``
    (default :data:`DEVDATA`).

    ``defects`` > 0: the imported folder also holds that many recordings of each other class (``train/c<cls>``),
    taken from the dataset's *training* split (never from test), as a user's folder with a few known defects:
    Studio sends them to validation, where they choose the scorer and may move the threshold."""
    import tempfile

    src = (root or DEVDATA) / name
    classes = sorted(p.name for p in (src / "train").iterdir() if p.is_dir())
    for c in classes:
        root = Path(tempfile.mkdtemp(prefix=f"anom-{name}-{c}-"))
        (root / "train" / "normal").mkdir(parents=True)
        for f in sorted((src / "train" / c).glob("*.csv")):
            shutil.copyfile(f, root / "train" / "normal" / f.name)
        for cls in classes:
            picked = pick_defects(sorted((src / "train" / cls).glob("*.csv")), defects, f"{name}/{cls}") \
                if cls != c else []
            for f in picked:
                (root / "train" / f"c{cls}").mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, root / "train" / f"c{cls}" / f.name)
        for cls in classes:
            dest = root / "test" / ("normal" if cls == c else f"c{cls}")
            dest.mkdir(parents=True, exist_ok=True)
            for f in sorted((src / "test" / cls).glob("*.csv")):
                shutil.copyfile(f, dest / f.name)
        yield c, root / "train", root / "test"


def vibration_oneclass(sample_dir: Path, seed: int = 0, defects: int = 0) -> Iterator[tuple[str, Path, Path]]:
    """Each machine state normal in turn: half its recordings train, the rest and half of each other state's
    test. ``defects`` > 0: the imported folder also holds that many of each other state's *other* half (never
    in test), as known defects."""
    import tempfile

    states = sorted(p.name for p in sample_dir.iterdir() if p.is_dir())
    files = {s: sorted((sample_dir / s).glob("*.csv")) for s in states}
    rng = np.random.default_rng(seed)
    halves = {s: set(rng.permutation(len(f))[: len(f) // 2].tolist()) for s, f in files.items()}
    for normal in states:
        root = Path(tempfile.mkdtemp(prefix=f"anom-vib-{normal}-"))
        for s in states:
            for i, f in enumerate(files[s]):
                # the good folder is "normal": another state named "normal" is a defect type here
                other = "normal_state" if s == "normal" else s
                where = "train/normal" if s == normal and i in halves[s] else \
                    ("test/normal" if s == normal else f"test/{other}")
                if s != normal and i not in halves[s]:
                    continue  # the other states' second halves: test holds one half of each state
                (root / where).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, root / where / f.name)
            spare = [f for i, f in enumerate(files[s]) if i not in halves[s]] if s != normal else []
            for f in pick_defects(spare, defects, f"vibration/{s}"):
                other = "normal_state" if s == "normal" else s
                (root / "train" / other).mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, root / "train" / other / f.name)
        yield normal, root / "train", root / "test"
