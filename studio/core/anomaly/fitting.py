"""Fitting a detector's constants from good examples (numpy statistics + forward passes of its own layers).

Every function takes model input already preprocessed (images ``pixel / 127.5 - 1``, sensor windows
normalized per channel) and returns the fitted Keras model and a few facts for the run's ``model.json``.
Normalization constants (so scores read as "how many normal spreads above a typical normal example") come
from the training examples themselves, leave-one-out where a memory bank would otherwise match itself.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from studio.core.reporter import Reporter, check_cancel

from . import detector as D
from .detector import DetectorSpec
from .synthetic import OLD_WINDOW_MARGIN, input_range, window_margin

PREDICT_BATCH = 32
# the key of a fitter's facts that is for the threshold, not for model.json (train pops it): each training
# example's score from the bank without it (global)
HELD_OUT = "_held_out"


def _pool(x: np.ndarray, f: int) -> np.ndarray:
    if f == 1:
        return x
    n, h, w, c = x.shape
    h2, w2 = h // f, w // f
    return x[:, : h2 * f, : w2 * f].reshape(n, h2, f, w2, f, c).mean(axis=(2, 4))


def sample_patches(x: np.ndarray, p: int, limit: int, seed: int) -> np.ndarray:
    """Up to ``limit`` random p x p patches (row, column, channel order: the conv kernel's layout)."""
    n, h, w, c = x.shape
    rng = np.random.default_rng(seed)
    per = max(1, limit // max(1, n))
    ys = rng.integers(0, h - p + 1, size=(n, per))
    xs = rng.integers(0, w - p + 1, size=(n, per))
    dy, dx = np.mgrid[0:p, 0:p]
    rows = ys[:, :, None, None] + dy[None, None]
    cols = xs[:, :, None, None] + dx[None, None]
    imgs = np.arange(n)[:, None, None, None]
    patches = x[imgs, rows, cols]  # [n, per, p, p, c]
    return patches.reshape(n * per, p * p * c)


def predict(model: Any, x: np.ndarray, batch: int = PREDICT_BATCH, reporter: Reporter | None = None) -> Any:
    """Model outputs on ``x`` batch by batch (list of arrays for multi-output models)."""
    outs: list[list[np.ndarray]] = []
    for s in range(0, len(x), batch):
        check_cancel(reporter)
        y = model(np.asarray(x[s : s + batch], dtype=np.float32), training=False)
        ys = y if isinstance(y, (list, tuple)) else [y]
        outs.append([np.asarray(v) for v in ys])
    if not outs:
        return []
    merged = [np.concatenate([o[i] for o in outs]) for i in range(len(outs[0]))]
    return merged if len(merged) > 1 else merged[0]


def fit_patch(x: np.ndarray, spec: DetectorSpec, seed: int = 0, reporter: Reporter | None = None,
              progress: Callable[[float], None] | None = None) -> tuple[Any, dict[str, Any]]:
    """Patch Gaussians per scale; each scale's map is normalized by the normal images' peak energies."""
    from studio.core.tfenv import load_tf

    _, keras = load_tf()
    model = D.build_detector(spec)
    p = spec.params
    info: dict[str, Any] = {"scales": []}
    for k, (f, stride) in enumerate(zip(p["scales"], p["strides"])):
        check_cancel(reporter)
        pooled = _pool(x, f)
        patches = sample_patches(pooled, p["patch"], D.MAX_PATCH_SAMPLES, seed + k)
        mu, white = D.shrunk_gaussian(patches)
        lyr = D.layer(model, f"patch_x{f}")
        dim = white.shape[0]
        kernel = white.reshape(p["patch"], p["patch"], x.shape[-1], dim)
        D.set_consts(lyr, whiten=kernel, offset=mu @ white, norm=np.array([0.0, 1.0]))
        sub = keras.Model(model.input, lyr.output)
        peaks = predict(sub, x, reporter=reporter).reshape(len(x), -1).max(axis=1)
        centre, inv = D.robust_norm(peaks)
        D.set_consts(lyr, norm=np.array([centre, inv]))
        info["scales"].append({"factor": f, "patches": int(len(patches)), "dim": int(dim)})
        if progress:
            progress((k + 1) / len(p["scales"]))
    return model, info


def oriented_kernel(channels: int, orientations: int) -> np.ndarray:
    """3x3 derivative filters at evenly spaced directions, on luminance (colour images: BT.601 weights)."""
    sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64) / 8.0
    lum = np.array([0.299, 0.587, 0.114]) if channels == 3 else np.ones(channels) / channels
    k = np.zeros((3, 3, channels, orientations))
    for i in range(orientations):
        t = 2 * math.pi * i / orientations
        f = math.cos(t) * sobel + math.sin(t) * sobel.T
        for c in range(channels):
            k[:, :, c, i] = f * lum[c]
    return k


def shifted_copies(x: np.ndarray, shift: int, square: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``x`` and its copies moved by ``shift`` pixels up, down, left and right (``square``: also diagonally;
    edges repeated), with the index of each copy's original. A memory bank of these tolerates small
    misplacements: on MNIST-shaped digits (+-2 px at 32 px) the mean one-class AUROC rose from 96.4 to 97.5
    (4 directions), and with overlapping cells from 98.4 to 98.6 (8 directions)."""
    if shift <= 0:
        return x, np.arange(len(x))
    n, h, w, _ = x.shape
    pad = np.pad(x, ((0, 0), (shift, shift), (shift, shift), (0, 0)), mode="edge")
    moves = [(-shift, 0), (shift, 0), (0, -shift), (0, shift)]
    if square:
        moves += [(dy, dx) for dy in (-shift, shift) for dx in (-shift, shift)]
    copies = [x] + [pad[:, shift + dy : shift + dy + h, shift + dx : shift + dx + w] for dy, dx in moves]
    return np.concatenate(copies), np.tile(np.arange(n), len(copies))


def fit_global(x: np.ndarray, spec: DetectorSpec, seed: int = 0, reporter: Reporter | None = None,
               progress: Callable[[float], None] | None = None) -> tuple[Any, dict[str, Any]]:
    """Memory bank of normal images' descriptors (shifted copies included; all, or a random subset) and
    leave-one-image-out norms (an image's own copies do not count as its neighbours)."""
    from studio.core.tfenv import load_tf

    _, keras = load_tf()
    p = spec.params
    fixed = bool(p.get("fixed"))
    # the descriptor is measured with plain averaged cells; the fixed-range form saturates them at cell_cap,
    # above every training cell, so the bank and its norms are the same either way
    probe = D.build_detector(DetectorSpec(spec.kind, spec.input_shape, dict(p, fixed=0)))
    cells_layer = D.layer(probe, "cells")
    kernel = oriented_kernel(x.shape[-1], p["orientations"])
    D.set_consts(cells_layer, oriented=kernel)
    describe = keras.Model(probe.input, cells_layer.output)
    highest = [0.0, 0.0]  # the highest cell, the longest descriptor

    def unit_rows(imgs: np.ndarray) -> np.ndarray:
        v = predict(describe, imgs, reporter=reporter).reshape(len(imgs), -1).astype(np.float64)
        length = np.linalg.norm(v, axis=1, keepdims=True)
        if len(v):
            highest[0] = max(highest[0], float(v.max()))
            highest[1] = max(highest[1], float(length.max()))
        return v / (length + 1e-12)

    v = unit_rows(x)
    aug, source = shifted_copies(x, int(p.get("shift", 0)), int(p.get("moves", 4)) == 8)
    rows = np.concatenate([v, unit_rows(aug[len(x):])]) if len(aug) > len(x) else v
    # a uniform random subset when there are more candidates than bank rows, not a k-centre coreset: the
    # coreset keeps the most unusual rows (extreme distortions) and thins the typical ones. 6,048 MNIST-shaped
    # '9's (54,432 candidates), one-class AUROC: coreset 2,048 0.947, 8,192 0.966; random 2,048 0.969; all 0.980
    m = min(int(p["bank"]), len(rows))
    keep = np.sort(np.random.default_rng(seed).permutation(len(rows))[:m]) if m < len(rows) else np.arange(len(rows))
    bank, bank_source = rows[keep], source[keep]
    spec = DetectorSpec(spec.kind, spec.input_shape, dict(p, bank=int(len(bank))))
    model = D.build_detector(spec)
    cell_cap = D.cell_cap(highest[0], highest[1])
    D.set_consts(D.layer(model, "cells"), oriented=kernel, **({"cell_cap": np.array([cell_cap])} if fixed else {}))
    near = D.layer(model, "nearest")
    best, d_loo, nearest_d = loo_neighbours(v, bank, bank_source, int(near.neighbours))
    maps = ((v - bank[best]) ** 2).reshape(len(v), p["grid"] * p["grid"], p["orientations"]).sum(axis=2)
    norm = np.array(D.robust_norm(d_loo))
    D.set_consts(near, bank=bank, norm=norm, map_norm=np.array(D.robust_norm(maps.max(axis=1))))
    if progress:
        progress(1.0)
    # each training image's score against the bank without its own rows (NearestImage's: every row's score
    # clamped to [floor, cap], the mean of the k nearest): what a new good image would score, for the threshold
    finite = np.isfinite(nearest_d)
    held = _finite_mean(np.clip((nearest_d - norm[0]) * norm[1], near.floor, near.cap), finite)
    return model, {"bank": int(len(bank)), "n_train": int(len(v)), "bank_candidates": int(len(rows)),
                   "coreset": bool(len(bank) < len(rows)), "shift": int(p.get("shift", 0)),
                   "neighbours": int(near.neighbours),
                   **({"cell_cap": round(cell_cap, 6)} if fixed else {}),
                   HELD_OUT: held[finite.any(axis=1)]}


def loo_neighbours(v: np.ndarray, bank: np.ndarray, bank_source: np.ndarray, k: int = 1,
                   chunk: int = 1024) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leave-one-image-out nearest bank rows of the unit rows ``v`` (training image i's own rows and its shifted
    copies, ``bank_source == i``, do not count): (index of the nearest row, mean cosine distance 2 - 2 cos
    to the ``k`` nearest rows, those ``k`` distances [n, k], inf where fewer rows are left), computed ``chunk``
    images at a time."""
    best = np.zeros(len(v), dtype=np.int64)
    dist = np.zeros(len(v), dtype=np.float64)
    nearest = np.full((len(v), k), np.inf)
    for s in range(0, len(v), chunk):
        sim = v[s : s + chunk] @ bank.T
        sim[np.arange(s, s + len(sim))[:, None] == bank_source[None, :]] = -np.inf  # itself, its shifted copies
        best[s : s + chunk] = np.argmax(sim, axis=1)
        top = -np.partition(-sim, k - 1, axis=1)[:, :k] if k > 1 else sim.max(axis=1, keepdims=True)
        d = 2.0 - 2.0 * top
        nearest[s : s + chunk] = d
        finite = np.isfinite(d)  # fewer than k rows from other images: the mean of those there are
        dist[s : s + chunk] = _finite_mean(d, finite) + np.where(finite.any(axis=1), 0.0, 4.0)
    return best, dist, nearest


def _finite_mean(a: np.ndarray, finite: np.ndarray) -> np.ndarray:
    """Row means of ``a`` over its ``finite`` entries (0 for a row with none)."""
    return np.where(finite, a, 0.0).sum(axis=1) / np.maximum(finite.sum(axis=1), 1)


# ---------------------------------------------------------------------------------------------- sensors
def dft_constants(window: int, bins: int, bands: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hann-windowed DFT (cos, sin) [window, bins] for frequencies 1..bins (no DC: the window's mean is a
    statistic of its own) and log-spaced band pooling [bins, bands]."""
    n = np.arange(window)
    hann = 0.5 - 0.5 * np.cos(2 * math.pi * n / window)
    k = np.arange(1, bins + 1)
    cos = np.cos(2 * math.pi * np.outer(n, k) / window) * hann[:, None] / math.sqrt(window)
    sin = np.sin(2 * math.pi * np.outer(n, k) / window) * hann[:, None] / math.sqrt(window)
    edges = D.band_edges(bins, bands)
    pool = np.zeros((bins, bands))
    for i in range(bands):
        lo = edges[min(i, len(edges) - 2)]
        hi = max(edges[min(i + 1, len(edges) - 1)], lo + 1)
        pool[lo:hi, i] = 1.0
    pool /= np.maximum(pool.sum(axis=0, keepdims=True), 1.0)
    return cos, sin, pool


def fit_window(x: np.ndarray, spec: DetectorSpec, seed: int = 0, reporter: Reporter | None = None,
               progress: Callable[[float], None] | None = None,
               holdout: np.ndarray | None = None) -> tuple[Any, dict[str, Any]]:
    """Feature standardization (each block weighted to equal total variance) and a bank of normal windows;
    with ``residual`` in the spec also the shape residual, its typical size measured on ``holdout`` (good
    windows the fit did not see: validation), else on ``x``."""
    from studio.core.tfenv import load_tf

    _, keras = load_tf()
    p = spec.params
    window, ch = spec.input_shape
    margin = window_margin(p)
    noise = input_rounding_noise(x, seed, margin) if float(p.get("zclip", 0.0)) > 0 else None
    split = int(p.get("split", 0)) if noise is not None else 0
    cos, sin, band = spectral_constants(x, window, p, noise, exact=bool(split))
    rounding = bool(p.get("rounding")) and noise is not None
    # a split input's residual leaves the spectrum 1/split of the rounding noise
    extra = {"dft_noise": dft_rounding_sd(x, cos, sin, margin) / max(split, 1)} if rounding else {}
    split_consts = {"split_delta": np.array([split_delta(x, cos, sin, margin)])} if split else {}
    probe_spec = DetectorSpec(spec.kind, spec.input_shape, dict(p, zclip=0.0))  # unclipped features

    def describer(int8: bool = False) -> tuple[Any, Any]:
        probe = D.build_detector(probe_spec, int8=int8)
        lyr = D.layer(probe, "features")
        D.set_consts(lyr, dft_cos=cos, dft_sin=sin, band_pool=band, weight=np.ones(lyr.dim), bias=np.zeros(lyr.dim),
                     **extra)
        return keras.Model(probe.input, lyr.output), lyr

    describe, feat_layer = describer()
    dim = feat_layer.dim
    feats = predict(describe, x, reporter=reporter).astype(np.float64)
    centre = feats.mean(axis=0)
    std = feats.std(axis=0)
    if noise is not None:
        # what the int8 input's rounding moves each feature by (the int8 graph on rounded windows, against the
        # float one: with ``rounding`` its spectrum is already the rounded input's on average) counts in its spread
        rounded = describer(int8=True)[0] if rounding else describe
        # (a split input leaves the spectrum 1/split of this noise; its spread still counts all of it: counting
        # the residual's alone there weighted the spectrum up and cost float AUROC, UnitTest-1 s0 0.817 -> 0.725)
        jitter = predict(rounded, x + noise, reporter=reporter).astype(np.float64) - feats
        std = np.sqrt(std * std + (jitter * jitter).mean(axis=0))
    weight = 1.0 / np.maximum(std, 1e-2 * (float(std.mean()) + 1e-9))
    z = (feats - centre) * weight
    zclip = float(p.get("zclip", 0.0))
    if zclip > 0:
        z = np.clip(z, -zclip, zclip)
    # each block (shape, spectrum, statistics) weighs the same in the distance, whatever its size
    blocks = [feat_layer.raw_dim, feat_layer.spec_dim, feat_layer.stat_dim]
    block_weight = np.concatenate([np.full(b, 1.0 / b) for b in blocks])
    clip = float(p.get("clip", D.CLIP))
    # the bank: a coreset in the block-weighted space (where distances are measured)
    keep = D.coreset(z * np.sqrt(block_weight), min(int(p["bank"]), len(z)), seed)
    bank = z[keep]
    spec = DetectorSpec(spec.kind, spec.input_shape, dict(p, bank=int(len(bank))))
    model = D.build_detector(spec)
    D.set_consts(D.layer(model, "features"), dft_cos=cos, dft_sin=sin, band_pool=band, weight=weight,
                 bias=-centre * weight, **(half_wave_constants(cos, sin, band, ch) if zclip > 0 else {}), **extra,
                 **split_consts)
    d_loo = D.window_distance(z, bank, block_weight, clip, exclude_self=True)
    typical = float(np.median(d_loo)) if len(d_loo) else 1.0
    set_nearest(D.layer(model, "nearest"), bank, block_weight, max(typical, 1e-9), clip, zclip,
                float(p.get("cap", D.SCORE_CAP)))
    info: dict[str, Any] = {"bank": int(len(bank)), "n_train": int(len(z)), "coreset": bool(len(bank) < len(z)),
                            "feature_dim": int(dim)}
    if p.get("residual"):
        from .blend import fit_residual

        raw = slice(0, feat_layer.raw_dim)
        held = None
        if holdout is not None and len(holdout):
            held = np.clip((predict(describe, holdout, reporter=reporter).astype(np.float64) - centre) * weight,
                           -zclip, zclip)[:, raw]
        info["residual"] = fit_residual(model, z[:, raw], held, zclip, float(p.get("cap", D.SCORE_CAP)))
    if progress:
        progress(1.0)
    return model, info


def spectral_constants(x: np.ndarray, window: int, p: dict[str, Any], noise: np.ndarray | None,
                       exact: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(DFT cos, DFT sin, band pooling) of a window detector, normalized on the normal windows ``x``.
    ``exact``: each DFT column centred and rounded to the int8 values it is stored as (:func:`zero_sum_int8`)."""
    cos, sin, pool = dft_constants(window, p["bins"], p["bands"])
    # int8 keeps one scale per tensor, and a smooth signal's high-frequency bins are 1000x quieter than its
    # low ones: so each bin is divided by its median magnitude (over normal windows and channels) inside the
    # DFT weights (per-output-channel scales there), and each (channel, band) by its residual median in the
    # band pooling. A normal window then sees ~1 everywhere before the log-like curve.
    # Fixed-range runs also floor both at the int8 input's rounding noise (and count that noise in each
    # feature's spread): a bin quieter than one input step is noise on the device, not worth amplifying.
    bin_med = np.median(bin_magnitudes(x, cos, sin), axis=(0, 1))  # [bins]
    if noise is not None:
        bin_med = np.maximum(bin_med, NOISE_FLOOR * np.median(bin_magnitudes(noise, cos, sin), axis=(0, 1)))
    bin_gain = 1.0 / np.maximum(bin_med, 1e-2 * max(1e-12, float(np.median(bin_med))))
    cos, sin = cos * bin_gain[None, :], sin * bin_gain[None, :]
    if exact:
        cos, sin = zero_sum_int8(cos), zero_sum_int8(sin)
    med = np.median(band_magnitudes(x, cos, sin, pool), axis=0)  # [ch, bands]
    if noise is not None:
        med = np.maximum(med, NOISE_FLOOR * np.median(band_magnitudes(noise, cos, sin, pool), axis=0))
    scale = 1.0 / np.maximum(med, 1e-2 * max(1e-12, float(np.median(med))))
    return cos, sin, block_band_pool(pool, scale)


def zero_sum_int8(w: np.ndarray) -> np.ndarray:
    """Each column of ``w`` centred, then rounded to the int8 grid a per-column conversion stores it on (step: the
    column's largest magnitude / 127), its int8 values summing to exactly zero: on the device the int32 sum of
    a FULLY_CONNECTED then cancels a window's mean (and the input's zero point) with no centring op, whose
    output would be rounded again. The sum is mended on the entries that rounding moved most, never the largest."""
    w = np.asarray(w, dtype=np.float64)
    w = w - w.mean(axis=0, keepdims=True)
    out = np.zeros_like(w)
    for j in range(w.shape[1]):
        col = w[:, j]
        top = float(np.abs(col).max())
        if top <= 0:
            continue
        step = top / 127.0
        v = col / step
        q = np.round(v)
        excess = int(q.sum())
        if excess:
            # entries whose rounding went the excess's way, farthest first (a max entry, +-127, is left alone)
            err = (q - v) * np.sign(excess)
            err[np.abs(q) >= 127] = -np.inf
            for i in np.argsort(-err)[: abs(excess)]:
                q[i] -= np.sign(excess)
        out[:, j] = q * step
    return out.astype(np.float32)


def split_delta(x: np.ndarray, cos: np.ndarray, sin: np.ndarray, margin: float = OLD_WINDOW_MARGIN) -> float:
    """How far a split input's residual can move a DFT half-wave (in half-wave units): six times the largest
    sd of the full rounding noise there, at most its worst case (half a step times the column's sum of
    magnitudes), and at most 1 (a half-wave saturates at 6)."""
    from .layers import SPECTRUM_HEADROOM

    w = np.concatenate([cos, sin], axis=1)
    worst = input_step(x, margin) / 2.0 * float(np.abs(w).sum(axis=0).max())
    sd = float(dft_rounding_sd(x, cos, sin, margin).max())
    return float(min(1.0, 6.0 * sd, worst) / SPECTRUM_HEADROOM)


def half_wave_constants(cos: np.ndarray, sin: np.ndarray, band: np.ndarray, channels: int) -> dict[str, np.ndarray]:
    """The fixed-range spectrum's constants (:meth:`WindowFeatures.clipped_bands`)."""
    from .layers import SPECTRUM_HEADROOM

    halves = np.concatenate([cos, -cos, sin, -sin], axis=1) / SPECTRUM_HEADROOM
    bins, spec_dim = cos.shape[1], band.shape[1]
    per_channel = band.reshape(channels, 1, bins, spec_dim)
    return {"dft_halves": halves,
            "band_halves": np.tile(per_channel, (1, 4, 1, 1)).reshape(channels * 4 * bins, spec_dim)}


def set_nearest(lyr: Any, bank: np.ndarray, block_weight: np.ndarray, typical: float, clip: float, zclip: float,
                cap: float) -> None:
    """NearestWindow's constants: the standardized bank and block weights (``zclip`` > 0: in the fixed-range
    form of :meth:`NearestWindow.fixed_range`), scores in units of a typical normal window's distance."""
    norm = np.array([0.0, 1.0 / typical])
    if zclip > 0:
        D.set_consts(lyr, bank=3.0 * bank / clip + 3.0 * zclip / clip - 3.0,
                     weight=(block_weight * (clip / 3.0) ** 2 * 6.0 / (cap * typical))[:, None], norm=norm)
    else:
        D.set_consts(lyr, bank=bank, weight=block_weight[:, None], norm=norm)


NOISE_FLOOR = 8.0  # spectral normalization floors: four times the int8 input rounding noise's magnitude


def input_rounding_noise(x: np.ndarray, seed: int = 0, margin: float = OLD_WINDOW_MARGIN) -> np.ndarray:
    """The rounding noise of an int8 input over the range of ``x`` (uniform, one step wide), shaped like ``x``."""
    x = np.asarray(x, dtype=np.float32)
    step = input_step(x, margin)
    return np.random.default_rng(seed + 7919).uniform(-step / 2, step / 2, x.shape).astype(np.float32)


def input_step(x: np.ndarray, margin: float = OLD_WINDOW_MARGIN) -> float:
    """The int8 input's step: its range is the representative set's (:func:`.synthetic.input_range`)."""
    x = np.asarray(x, dtype=np.float32)
    if not x.size:
        return 0.0
    lo, hi = input_range(x, margin)
    return (float(hi.max()) - float(lo.min())) / 255.0


def dft_rounding_sd(x: np.ndarray, cos: np.ndarray, sin: np.ndarray, margin: float = OLD_WINDOW_MARGIN
                    ) -> np.ndarray:
    """[2 * bins]: the sd of each DFT output (cos bins, then sin bins) that the int8 input's rounding (uniform,
    one step wide, independent per value) gives, after the window's mean is taken off."""
    w = np.concatenate([cos, sin], axis=1)
    w = w - w.mean(axis=0, keepdims=True)
    return input_step(x, margin) / math.sqrt(12.0) * np.sqrt((w * w).sum(axis=0))


def block_band_pool(pool: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """[channels * bins, channels * bands]: channel c's bins pooled into its bands, times scale[c, band]."""
    ch, bands = scale.shape
    bins = pool.shape[0]
    out = np.zeros((ch * bins, ch * bands))
    for c in range(ch):
        out[c * bins : (c + 1) * bins, c * bands : (c + 1) * bands] = pool * scale[c][None, :]
    return out


def bin_magnitudes(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """numpy twin of WindowFeatures' |re| + |im| per DFT bin: [n, channels, bins]."""
    xt = np.transpose(np.asarray(x, dtype=np.float64), (0, 2, 1))
    xt = xt - xt.mean(axis=-1, keepdims=True)
    return np.abs(xt @ cos) + np.abs(xt @ sin)


def band_magnitudes(x: np.ndarray, cos: np.ndarray, sin: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """numpy twin of WindowFeatures' spectrum before the band scale: [n, channels, bands]."""
    return bin_magnitudes(x, cos, sin) @ pool


FITTERS = {"patch": fit_patch, "global": fit_global, "window": fit_window}
