"""Detectors: what they are (a JSON spec), how they are built as Keras models, and how they are fitted.

Three kinds, all fitted from good examples only, in seconds, with no gradient descent and no downloaded
weights (measured in the notes of issue 10; the numbers are in docs/benchmarks.md):

* ``patch``  (images whose content sits anywhere: textures, surfaces, parts in varying positions) — a Gaussian
  of normal p x p patches at 1-3 scales; a patch's anomaly is its Mahalanobis distance, the map is that
  distance everywhere, the score its peak. On generated textures with subtle scratches, holes, stains and
  cracks it reached AUROC 0.94-1.0 where a random-CNN PatchCore reached 0.70-0.80.
* ``global`` (aligned images: digits, centred objects) — the whole image's oriented-gradient layout (cells
  overlapping by half) compared with every normal image and its copies moved by a few pixels (cosine nearest
  neighbour; since 2026-12-02 the mean over the 4 nearest bank rows); 98.3 mean one-class AUROC over the 10 MNIST-shaped digits (96.4 with 8 x 8 cells side by side
  and no moved copies) where raw-pixel kNN reached 94.4 and the patch model ~55.
* ``window`` (sensors) — a window's shape, spectrum and statistics, standardized, nearest normal window.

``choose_image_kind`` picks patch or global from the good images alone: the alignment index (variance of the
mean image over the mean variance of an image) is ~0.01 for textures under jitter and 0.3-0.7 for digits. When
validation holds defect images, training fits both and keeps the one that separates them better
(``train._pick_on_validation``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from studio.core.errors import ConfigError
from studio.core.measure import SPLIT_GAIN

KINDS = ("patch", "global", "window")
# alignment index from which images are compared whole (global), else patch by patch, when no defect images in
# validation can decide: textures under jitter 0.005-0.01 (small generated ones up to ~0.05); MNIST-shaped
# digits 0.63-0.69, thin-stroked ones slanted +-20 degrees and moved +-2.5 px 0.33-0.45 (0.45 here sent those
# to the patch model, AUROC ~0.5); the inspection sample's parts at random angles 0.31
ALIGNED_INDEX = 0.2
GLOBAL_BANK = 8192  # default memory-bank rows for the global detector (a random subset when more: 9 copies per image)
MAX_PATCH_SAMPLES = 120_000
SHRINK = 0.05  # covariance shrinkage towards the mean variance
MAP_FLOOR = -4.0
IMAGE_CAP = 32.0  # image scores and maps saturate at 32 normal spreads (keeps int8 steps ~0.14 spreads)
ORIENTATIONS = 8
GLOBAL_GRID = 8  # runs fitted before overlapping cells: size // 8 pixel cells side by side
# Global detector, fixed-range form: the cells' int8 range is [0, cell_cap], cell_cap at least 1.5 x the training
# images' highest cell, and wide enough that the longest training descriptor's int8 values have a sum of squares
# of 2^20: TFLite's int8 L2_NORMALIZATION is exact below 2^21 and off by 3-11 % in length above it (measured
# through LiteRT; one normal spread of score error on the inspection sample).
CELL_HEADROOM = 1.5
L2_SUM_OF_SQUARES = 2 ** 20
# Global detector, runs fitted since 2026-12-02: an image's score is its mean distance to the 4 nearest bank rows
# (before: the nearest alone). docs/benchmarks.md, "Global detector: mean of the k nearest bank rows"
GLOBAL_NEIGHBOURS = 4
GLOBAL_CELL = 3 / 16  # overlapping cells: 6 px at 32 px, every half cell (a 9 x 9 grid at any size)
MAX_RAW_POINTS = 64
MAX_BANDS = 16
SCORE_CAP = 64.0  # window scores saturate here (in units of a typical normal window's distance)
CLIP = 4.0  # per-feature differences clipped at 4 standard deviations (float AUROC unchanged within 0.01)
# Window detector, fixed-range form: standardized features clipped at 8 sd, scores saturating at 16 typical
# normal distances; every int8 range is then set by an op (RELU6 fused into the convolutions, the SUB and the
# FULLY_CONNECTED), not by how far the calibration's perturbed windows reach. Runs fitted before have no
# "zclip" in their spec and keep the former graph.
WINDOW_ZCLIP = 8.0
WINDOW_CAP = 16.0
# Runs fitted since 2026-12-02 ("rounding" in the spec): the float graph's spectrum is the one the int8 input
# gives on average (each DFT half-wave averaged over the input's rounding noise), so the int8 graph, whose input
# is rounded, agrees with it; before, quiet high-frequency bands read higher in int8 than in float.
WINDOW_ROUNDING = 1
# Runs fitted since 2026-12-03 ("margin" in the spec): the int8 input spans the normal windows' range widened by
# half of it on each side (before: 5 %, synthetic.OLD_WINDOW_MARGIN). With 5 % a spike or a surge past the normal
# values was clipped to about the normal peak on the device and scored as normal (a spike window: float 14.1, int8
# 2.1 on a long GunPoint series); docs/benchmarks.md, "The window detector's int8 input range"
WINDOW_INPUT_MARGIN = 0.5
# Runs fitted since 2026-12-04 ("split" in the spec): the int8 graph's input carries each value's rounding
# residual beside its code (measure.split_codes), and the spectrum adds the residual's DFT: the device's spectrum
# no longer rounds the input to 1/255 of its range (docs/benchmarks.md, "The window detector's int8 input split")
WINDOW_SPLIT = SPLIT_GAIN
MAX_RESIDUAL_DIMS = 1024  # the shape residual is a dims x dims matrix: left out for wider shapes (many channels)
# Patch model: each whitened patch coordinate is clipped at 4 standard deviations, as a RELU6 fused into the
# whitening convolution, and the patch energy saturates where the map reaches the cap, so the int8 ranges are
# fixed by the ops, whatever the calibration's perturbations reach; unclipped, strong perturbations stretched
# the coordinates' range to +-140 sd and every normal patch fell in one step (int8 AUROC 0.50 vs float 0.83 on
# a 64 px texture).
PATCH_CLIP = 4.0


@dataclass(frozen=True)
class DetectorSpec:
    """Everything needed to rebuild a detector's graph (its constants come from ``weights.h5``)."""

    kind: str
    input_shape: tuple[int, ...]
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "input_shape": list(self.input_shape), "params": dict(self.params)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "DetectorSpec":
        kind = str(d.get("kind"))
        if kind not in KINDS:
            raise ConfigError(f"unknown detector kind {kind!r}", hint="this run was made by a different Studio")
        return cls(kind, tuple(int(v) for v in d["input_shape"]), dict(d.get("params") or {}))

    @property
    def outputs(self) -> list[str]:
        return ["score"] if self.kind == "window" else ["score", "map"]


# ---------------------------------------------------------------------------------------------- specs
def cell_cap(highest_cell: float, longest: float) -> float:
    """The fixed-range global detector's cell saturation (see ``L2_SUM_OF_SQUARES``): 255 int8 steps span it."""
    return max(CELL_HEADROOM * highest_cell, 255.0 * longest / math.sqrt(L2_SUM_OF_SQUARES), 1e-6)


def image_scales(size: int) -> list[int]:
    """Pooling factors so the coarsest map still has ~16 positions per side."""
    return [f for f in (1, 2, 4) if size // f >= 16] or [1]


def patch_spec(size: int, channels: int) -> DetectorSpec:
    patch = 7 if size >= 96 else 5
    grid = max(8, min(64, size // 4))
    scales = image_scales(size)
    # stride 2 at full resolution on big images: a quarter of the cost, the map is smoothed anyway
    strides = [2 if (f == 1 and size >= 192) else 1 for f in scales]
    return DetectorSpec("patch", (size, size, channels), {
        "scales": scales, "strides": strides, "patch": patch, "grid": grid, "map_floor": MAP_FLOOR,
        "clip": PATCH_CLIP,
    })


def global_spec(size: int, channels: int, bank: int) -> DetectorSpec:
    """Oriented-gradient cells overlapping by half (a 9 x 9 grid), and a bank that also holds each good image
    moved by ``shift`` pixels in the 8 directions (runs fitted before: 8 x 8 cells side by side, 4 directions);
    ``fixed``: the fixed-range int8 form (cells saturating at ``CELL_HEADROOM`` times the training images'
    highest, each bank row's score from one FULLY_CONNECTED + RELU6; :class:`layers.NearestImage`);
    ``neighbours``: the score is the mean over that many nearest bank rows (runs fitted before: the nearest)."""
    cell = max(2, round(size * GLOBAL_CELL))
    stride = max(1, round(cell / 2))
    return DetectorSpec("global", (size, size, channels), {
        "orientations": ORIENTATIONS, "grid": (size - cell) // stride + 1, "cell": cell, "stride": stride,
        "bank": int(bank), "shift": max(1, round(size / 16)), "moves": 8, "fixed": 1,
        "neighbours": GLOBAL_NEIGHBOURS,
    })


def window_spec(window: int, channels: int, bank: int, residual: bool = False) -> DetectorSpec:
    """``residual``: the graph also holds the shape residual and the blend of the two scores (:mod:`.blend`)."""
    pool = max(1, window // MAX_RAW_POINTS)
    bins = max(1, window // 2)  # frequencies 1 .. window/2
    bands = distinct_bands(bins, max(1, min(MAX_BANDS, bins)))  # each band once (band_edges)
    params = {"pool": pool, "bins": bins, "bands": bands, "bank": int(bank), "zclip": WINDOW_ZCLIP,
              "cap": WINDOW_CAP, "rounding": WINDOW_ROUNDING, "margin": WINDOW_INPUT_MARGIN, "split": WINDOW_SPLIT}
    if residual and (window // pool) * channels <= MAX_RESIDUAL_DIMS:
        params["residual"] = 1  # model.json's detector parameters are numbers (runs.read_anomaly_run)
    return DetectorSpec("window", (window, channels), params)


# ---------------------------------------------------------------------------------------------- building
def log_edges(bins: int, bands: int) -> np.ndarray:
    """Bin edges of ``bands`` log-spaced bands over frequencies 1..bins, rounded; equal ones merged."""
    return np.unique(np.round(np.geomspace(1, bins + 1, bands + 1)).astype(int) - 1)


def distinct_bands(bins: int, bands: int) -> int:
    """How many different bands ``bands`` log-spaced bands over ``bins`` frequencies are once rounded to bins."""
    return max(1, len(log_edges(bins, bands)) - 1)


def band_edges(bins: int, bands: int) -> np.ndarray:
    """The edges of ``bands`` different log-spaced bands: those of the fewest requested bands (from ``bands``)
    that round to exactly ``bands`` different ones (:func:`distinct_bands`). Runs fitted before 2026-12-02 05:30
    asked for more bands than rounding leaves (16 of 50 bins: 13), and the last band was repeated in the rest: up
    to 5 of 12 spectrum features on 24-sample windows were one copy of the highest, quietest band, the one the
    int8 input's rounding moves most; their band pooling is stored in their weights and stays as it was."""
    for asked in range(bands, max(bands, bins) + 1):
        edges = log_edges(bins, asked)
        if len(edges) - 1 == bands:
            return edges
    return log_edges(bins, bands)


def build_detector(spec: DetectorSpec, batch_size: int | None = None, int8: bool = False) -> Any:
    """The Keras model of ``spec`` (constants zero until fitted or loaded). Outputs: score [b, 1] (and map).

    ``batch_size=1`` gives the static shapes a conversion for TFLite-Micro needs (its RESHAPE cannot resolve a
    batch of -1 folded into another dimension). ``int8``: the graph a full-int8 conversion starts from (a window
    detector whose spectrum is the int8 input's expected one computes the plain one: its input is rounded)."""
    from studio.core.tfenv import load_tf

    from .layers import layer_classes

    _, keras = load_tf()
    L = layer_classes()
    p = spec.params
    shape = tuple(spec.input_shape)
    if int8 and spec.kind == "window" and p.get("split") and float(p.get("zclip", 0.0)) > 0:
        # each value's int8 code, then its rounding residual (WINDOW_SPLIT)
        shape = (shape[0], 2 * shape[1])
    inp = keras.Input(shape=shape, batch_size=batch_size, name="input")
    if spec.kind == "patch":
        ch = spec.input_shape[-1]
        maps = [
            L["PatchGaussian"](f, p["patch"], s, ch, p["grid"], p.get("clip", PATCH_CLIP), p.get("cap", IMAGE_CAP),
                               p.get("map_floor", MAP_FLOOR), name=f"patch_x{f}")(inp)
            for f, s in zip(p["scales"], p["strides"])
        ]
        score, amap = L["MaxMap"](p.get("map_floor", MAP_FLOOR), p.get("cap", IMAGE_CAP), name="combine")(maps)
        outputs = [score, amap]
    elif spec.kind == "global":
        fixed = bool(p.get("fixed"))  # runs fitted before the fixed-range form keep the former graph
        cells = L["OrientedEnergy"](spec.input_shape[-1], p["orientations"], p["cell"], p.get("stride", p["cell"]),
                                    fixed, name="cells")(inp)
        score, amap = L["NearestImage"](p["bank"], p["grid"], p["orientations"], MAP_FLOOR, p.get("cap", IMAGE_CAP),
                                        fixed, int(p.get("neighbours", 1)), name="nearest")(cells)
        outputs = [score, amap]
    else:
        window, ch = spec.input_shape
        zclip = float(p.get("zclip", 0.0))
        features = L["WindowFeatures"](window, ch, p["pool"], p["bins"], p["bands"], zclip,
                                       int(p.get("rounding", 0)), int8, int(p.get("split", 0)), name="features")
        feats = features(inp)
        score = L["NearestWindow"](p["bank"], feats.shape[-1], p.get("clip", CLIP), p.get("cap", SCORE_CAP),
                                   zclip, name="nearest")(feats)
        if p.get("residual"):  # runs fitted before the shape residual have the nearest-window score alone
            res = L["ShapeResidual"](features.raw_dim, p.get("cap", SCORE_CAP), name="residual")(feats)
            score = L["MixScores"](name="mix")([score, res])
        outputs = [score]
    model = keras.Model(inp, outputs, name=f"anomaly_{spec.kind}")
    return model


def export_copy(model: Any, spec: DetectorSpec, int8: bool = False) -> Any:
    """A batch-1 copy of a fitted detector, for conversion (``int8``: to full int8, see build_detector)."""
    out = build_detector(spec, batch_size=1, int8=int8)
    out.set_weights(model.get_weights())
    return out


def layer(model: Any, name: str) -> Any:
    return model.get_layer(name)


def set_consts(lyr: Any, **values: np.ndarray) -> None:
    """Assign the named constants of a layer (by weight name), checking shapes."""
    by_name = {w.name.split("/")[-1].split(":")[0]: w for w in lyr.weights}
    for key, value in values.items():
        w = by_name[key]
        arr = np.asarray(value, dtype=np.float32)
        if tuple(w.shape) != arr.shape:
            raise ValueError(f"{lyr.name}.{key}: shape {arr.shape}, expected {tuple(w.shape)}")
        w.assign(arr)


# ---------------------------------------------------------------------------------------------- maths
def int8_columns(w: np.ndarray) -> np.ndarray:
    """Each column of ``w`` ([in, out]: a FULLY_CONNECTED's outputs) rounded to the int8 grid a conversion
    stores it on (symmetric, one scale per output: the column's largest magnitude / 127), so the float detector
    computes with the device's weights and the conversion gives back these values."""
    w = np.asarray(w, dtype=np.float64)
    step = np.abs(w).max(axis=0, keepdims=True) / 127.0
    return (np.round(w / np.where(step > 0, step, 1.0)) * step).astype(np.float32)


def alignment_index(x: np.ndarray) -> float:
    """Variance of the mean image over the mean variance of one image (grey): ~0 textures, 0.3-0.7 digits.

    The mean image of n examples keeps 1/n of their per-pixel variance even when nothing is aligned: that part
    is taken off (24 small generated textures read 0.086 without it, 0.045 with it)."""
    g = np.asarray(x, dtype=np.float32).mean(axis=-1)
    n = len(g)
    flat = g.reshape(n, -1).astype(np.float64)
    per_image = flat.var(axis=1).mean()
    if per_image <= 1e-12:
        return 0.0
    noise = flat.var(axis=0, ddof=1).mean() / n if n > 1 else 0.0
    return float(max(0.0, flat.mean(axis=0).var() - noise) / per_image)


def choose_image_kind(x: np.ndarray) -> tuple[str, float]:
    a = alignment_index(x)
    return ("global" if a >= ALIGNED_INDEX else "patch"), a


def coreset(x: np.ndarray, m: int, seed: int = 0, proj: int = 128) -> np.ndarray:
    """Indices of a greedy k-centre coreset of ``m`` rows (PatchCore's), on a random projection."""
    x = np.asarray(x, dtype=np.float32)
    if len(x) <= m:
        return np.arange(len(x))
    rng = np.random.default_rng(seed)
    z = x @ rng.normal(0, 1 / math.sqrt(proj), (x.shape[1], proj)).astype(np.float32) if x.shape[1] > proj else x
    zn = (z * z).sum(1)
    first = int(rng.integers(len(z)))
    idx = [first]
    mind = zn - 2 * z @ z[first] + zn[first]
    for _ in range(m - 1):
        i = int(mind.argmax())
        idx.append(i)
        np.minimum(mind, zn - 2 * z @ z[i] + zn[i], out=mind)
    return np.asarray(sorted(idx))


def window_distance(q: np.ndarray, bank: np.ndarray, weight: np.ndarray, clip: float,
                    exclude_self: bool = False, chunk: int = 256) -> np.ndarray:
    """numpy twin of NearestWindow: min over bank rows of sum_i weight_i * clip(q_i - b_i)^2."""
    q = np.asarray(q, dtype=np.float32)
    bank = np.asarray(bank, dtype=np.float32)
    w = np.asarray(weight, dtype=np.float32).ravel()
    out = np.empty(len(q), dtype=np.float64)
    for s in range(0, len(q), chunk):
        diff = np.clip(q[s : s + chunk, None, :] - bank[None], -clip, clip)
        d = (diff * diff) @ w  # [chunk, bank]
        if exclude_self and d.shape[1] > 1:
            two = np.partition(d, 1, axis=1)[:, :2]
            d = np.where(two[:, 0] <= 1e-9, two[:, 1], two[:, 0])
        else:
            d = d.min(axis=1)
        out[s : s + chunk] = d
    return out


def nearest_sqdist(q: np.ndarray, bank: np.ndarray, exclude_self: bool = False, chunk: int = 2048) -> np.ndarray:
    """Squared distance of each row of ``q`` to its nearest row of ``bank`` (second nearest if excluding self)."""
    q = np.asarray(q, dtype=np.float32)
    bank = np.asarray(bank, dtype=np.float32)
    bn = (bank * bank).sum(1)
    out = np.empty(len(q), dtype=np.float64)
    for s in range(0, len(q), chunk):
        part = q[s : s + chunk]
        d = (part * part).sum(1)[:, None] - 2.0 * part @ bank.T + bn[None, :]
        if exclude_self and d.shape[1] > 1:
            d = np.partition(d, 1, axis=1)[:, :2]
            d = np.where(d[:, :1] <= 1e-6 * (1 + np.abs(d[:, 1:])), d[:, 1:], d[:, :1])[:, 0]
        else:
            d = d.min(axis=1)
        out[s : s + chunk] = np.maximum(d, 0.0)
    return out


def shrunk_gaussian(samples: np.ndarray, shrink: float = SHRINK) -> tuple[np.ndarray, np.ndarray]:
    """(mean, whitening matrix W) with ``(x - mean) @ W`` ~ N(0, I); covariance shrunk towards its trace."""
    s = np.asarray(samples, dtype=np.float64)
    mu = s.mean(axis=0)
    cov = np.cov(s, rowvar=False)
    d = cov.shape[0]
    cov = (1 - shrink) * cov + shrink * (np.trace(cov) / d) * np.eye(d)
    w, v = np.linalg.eigh(cov)
    w = np.maximum(w, 1e-9 * max(1e-12, float(w.max())))
    return mu, v / np.sqrt(w)[None, :]


def robust_norm(values: np.ndarray) -> tuple[float, float]:
    """(centre, 1 / spread) from normal scores: mean and standard deviation, spread floored."""
    v = np.asarray(values, dtype=np.float64)
    centre = float(v.mean()) if len(v) else 0.0
    spread = float(v.std()) if len(v) > 1 else 0.0
    spread = max(spread, 1e-3 * max(1.0, abs(centre)), 1e-9)
    return centre, 1.0 / spread


def spec_json(spec: DetectorSpec) -> dict[str, Any]:
    return asdict(spec)
