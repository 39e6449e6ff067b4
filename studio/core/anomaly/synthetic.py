"""Synthetic off-normal inputs: the int8 calibration set must reach beyond the normal scores.

A full-int8 conversion fixes every tensor's range from the representative samples. Calibrated on normal
training examples alone, a memory-bank detector sees distances of exactly zero (each sample is in the bank),
and any detector sees only normal-sized scores, so defects would saturate and the threshold could fall outside
the range. So the representative set is: normal training inputs, the same with mild perturbations, and the
same with strong ones (painted blobs and lines on images; noise, gain and offset changes on sensor windows,
clipped to the normal value range widened by a margin, see :func:`input_range`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_REPRESENTATIVE = 240
OLD_WINDOW_MARGIN = 0.05  # window runs fitted before the spec's "margin" (2026-12-03): detector.WINDOW_INPUT_MARGIN


def perturb_images(x: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Noise plus one painted blob and one line per image (model input units, [-1, 1])."""
    out = np.array(x, dtype=np.float32, copy=True)
    n, h, w, c = out.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for i in range(n):
        cy, cx = rng.uniform(0.1, 0.9) * h, rng.uniform(0.1, 0.9) * w
        r = max(1.0, rng.uniform(0.03, 0.12) * min(h, w))
        blob = np.exp(-(((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r)))[..., None]
        out[i] = out[i] * (1 - strength * blob) + strength * blob * rng.uniform(-1, 1, size=(1, 1, c))
        t = rng.uniform(0, np.pi)
        d = np.abs((xx - cx) * np.sin(t) - (yy - cy) * np.cos(t))
        line = (d < max(0.6, 0.006 * min(h, w))) & (np.hypot(xx - cx, yy - cy) < 0.3 * min(h, w))
        out[i][line] = np.float32(rng.choice([-1.0, 1.0]) * strength)
    out += rng.normal(0, 0.05 * strength, out.shape).astype(np.float32)
    return np.clip(out, -1.0, 1.0)


def perturb_windows(x: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Gain and offset changes and a blend with another normal window: spectrally natural (white noise or a
    pasted segment would inflate the quiet high-frequency bins a hundredfold, and with them their int8 ranges)."""
    n, t, c = x.shape
    gain = rng.uniform(1 - 0.4 * strength, 1 + 0.6 * strength, size=(n, 1, c))
    offset = rng.normal(0, 0.4 * strength, size=(n, 1, c))
    mix = rng.uniform(0, 0.5 * strength, size=(n, 1, 1))
    other = x[rng.integers(0, n, size=n)]
    return ((x * (1 - mix) + other * mix) * gain + offset).astype(np.float32)


def representative_set(x_train: np.ndarray, modality: str, seed: int = 0, limit: int = MAX_REPRESENTATIVE,
                       flat_images: bool = False, margin: float = OLD_WINDOW_MARGIN) -> np.ndarray:
    """Normal, mildly and strongly perturbed training inputs (a third each) for int8 calibration; with
    ``flat_images`` also :data:`FLAT` flat grey images (the global detector's fixed-range form). Sensor
    windows: also :data:`FLAT` flat windows from one end of :func:`input_range` (``margin``) to the other."""
    rng = np.random.default_rng(seed)
    x = np.asarray(x_train, dtype=np.float32)
    pick = rng.permutation(len(x))[: max(1, limit // 3)]
    base = x[pick]
    if modality == "image":
        parts = [base, perturb_images(base, rng, 0.35), perturb_images(base, rng, 1.0)]
        if flat_images:
            parts.append(flat_images_like(x, FLAT))
        return np.concatenate(parts)
    # the int8 input's range is the normal value range widened by ``margin`` of it on each side (the window
    # spec's "margin"): the perturbed windows are clipped to it and the flat windows span it exactly, so the
    # range is the one the fit assumed (fitting.input_step); int8 steps follow the range
    lo, hi = input_range(x, margin)
    mild = np.clip(perturb_windows(base, rng, 0.35), lo, hi)
    strong = np.clip(perturb_windows(base, rng, 1.0), lo, hi)
    return np.concatenate([base, mild, strong, flat_windows(lo, hi, x.shape[1], FLAT)]).astype(np.float32)


def window_margin(params: dict[str, Any]) -> float:
    """The int8 input margin a window detector was fitted with (its spec's "margin"; runs before it: 5 %)."""
    return float(params.get("margin", OLD_WINDOW_MARGIN))


def input_range(x: np.ndarray, margin: float = OLD_WINDOW_MARGIN) -> tuple[np.ndarray, np.ndarray]:
    """Per channel ([1, 1, channels]): the normal windows' lowest and highest values, each moved out by
    ``margin`` times the channel's range: what a window detector's int8 input holds."""
    lo = x.min(axis=(0, 1), keepdims=True)
    hi = x.max(axis=(0, 1), keepdims=True)
    return lo - margin * (hi - lo), hi + margin * (hi - lo)


FLAT = 8


def flat_windows(lo: np.ndarray, hi: np.ndarray, length: int, n: int) -> np.ndarray:
    """Constant windows at ``n`` levels from the lowest to the highest normal value: far from every normal window
    (no movement at all), so the calibration reaches the detector's highest scores, yet spectrally silent (they
    widen no range inside the spectrum). Without them the nearest-distance tensors were calibrated to the
    perturbed windows' distances (near-normal) and every clearly abnormal window scored that ceiling
    (JapaneseVowels one-class: int8 AUROC 0.73 vs float 0.98)."""
    levels = np.linspace(0.0, 1.0, n)[:, None, None]
    return np.broadcast_to(lo + levels * (hi - lo), (n, length, lo.shape[-1])).astype(np.float32)


def flat_images_like(x: np.ndarray, n: int) -> np.ndarray:
    """``n`` flat grey images from black to white (model input units, [-1, 1]): no gradient anywhere, so the global
    detector scores them at its cap. Its score's last ops (MUL, ADD) take their int8 range from the calibration:
    without them it ended at the strongly perturbed images' scores (4.2 normal spreads on the inspection sample,
    where a painted blob still leaves most of the image's gradient layout) and clearer defects all tied there."""
    levels = np.linspace(-1.0, 1.0, n, dtype=np.float32)[:, None, None, None]
    return np.broadcast_to(levels, (n,) + tuple(x.shape[1:])).astype(np.float32)
