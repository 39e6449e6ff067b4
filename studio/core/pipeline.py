"""Input pipeline: from the project's manifest to batches of model input, the same way every time.

The model never scales its input (no Rescaling layer: it breaks pruning and QAT), so :class:`InputSpec` is
the contract of what goes in: images are ``pixel * scale + offset`` (uint8 -> [-1, 1]); sensor windows are
``(x - mean) / std`` per channel. The spec is saved in each run's ``model.json`` and shipped with exports.

Small datasets (the common case) are decoded once into a uint8 array in RAM with a thread pool, and tf.data
only shuffles, batches, augments (vectorised tf ops on whole batches) and prefetches: that keeps the CPU
on the model, not on Pillow. Datasets too big for RAM stream through ``tf.numpy_function`` instead.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from studio.core.errors import ConfigError, DatasetError, ProjectError
from studio.core.live import scale_pixels
from studio.core.project import SPLITS, modality_of
from studio.core.reporter import Reporter, check_cancel

# Decoded uint8 images above this size stream from disk instead of being held in RAM.
MAX_PREDECODE_BYTES = int(os.environ.get("STUDIO_MAX_PREDECODE_MB", "1536")) * 1024 * 1024


@dataclass(frozen=True)
class InputSpec:
    """What the model's input is and how to make it from raw data (saved with the run and the export)."""

    kind: str  # "image" | "sensor"
    channels: int
    # image
    size: int = 0
    scale: float = 1.0 / 127.5
    offset: float = -1.0
    source_channels: int = 0  # channels of the data on disk (1 grey, 3 colour); grey is repeated for RGB models
    resize: str = "bilinear (Pillow), squashed to a square"
    # sensor
    window: int = 0
    stride: int = 0
    channel_names: tuple[str, ...] = ()
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    # sensor: how a recording becomes model inputs (studio.core.data.sensor.shaping); the defaults are what
    # runs made before these fields existed did
    length_policy: str = "windows"  # "windows" | "resample" | "pad"
    norm: str = "global"  # "global" | "recording"
    extra: dict[str, Any] = field(default_factory=dict)

    def sensor_inputs(self, signals: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Normalized model inputs of raw recordings and, per input, its recording's index."""
        from studio.core.data.sensor.shaping import normalize, shape_all

        x, groups = shape_all(signals, self.window, self.stride, self.length_policy)
        return normalize(x, self.norm, self.mean, self.std), groups

    @property
    def shape(self) -> tuple[int, ...]:
        if self.kind == "image":
            return (self.size, self.size, self.channels)
        return (self.window, self.channels)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        if self.kind == "image":
            for key in ("window", "stride", "channel_names", "mean", "std", "length_policy", "norm"):
                d.pop(key)
        else:
            for key in ("size", "scale", "offset", "source_channels", "resize"):
                d.pop(key)
            d["channel_names"] = list(self.channel_names)
            d["mean"] = list(self.mean)
            d["std"] = list(self.std)
        d["input_shape"] = list(self.shape)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "InputSpec":
        known = {f for f in cls.__dataclass_fields__}
        kw = {k: v for k, v in d.items() if k in known}
        for key in ("channel_names", "mean", "std"):
            if key in kw:
                kw[key] = tuple(kw[key])
        return cls(**kw)

    # numpy preprocessing: the reference the exported harnesses copy
    def preprocess(self, x: np.ndarray) -> np.ndarray:
        """Raw batch -> float32 model input. Images: uint8 -> ``x*scale+offset``. Sensors: already normalized."""
        if self.kind == "image":
            return scale_pixels(x, self.scale, self.offset)
        return np.asarray(x, dtype=np.float32)


def spec_for_project(project: Any, manifest: dict[str, Any] | None = None, input_size: int | None = None,
                     rgb: bool = False) -> InputSpec:
    """The input spec for training on this project. ``rgb`` forces 3 channels (ImageNet weights need them)."""
    manifest = manifest or project.load_manifest()
    if modality_of(manifest.get("task", project.task)) == "image":
        if not input_size:
            raise ConfigError("an image input size is needed")
        source = int(manifest.get("channels", 3))
        return InputSpec(kind="image", size=int(input_size), channels=3 if rgb else source, source_channels=source)
    norm = manifest.get("normalization") or {}
    names = tuple(manifest.get("channels") or ())
    return InputSpec(
        kind="sensor",
        channels=len(names),
        window=int(manifest["window"]),
        stride=int(manifest["stride"]),
        channel_names=names,
        mean=tuple(float(v) for v in norm.get("mean", [0.0] * len(names))),
        std=tuple(float(v) for v in norm.get("std", [1.0] * len(names))),
    )


# ---------------------------------------------------------------------------------------------- raw split data
@dataclass
class SplitData:
    """One split, raw: images as uint8 ``[n, s, s, c]`` (or paths when streaming), sensors as normalized float32."""

    x: np.ndarray | None
    y: np.ndarray
    ids: list[str]
    paths: list[str] | None = None  # image files, when x is None (streaming)
    groups: np.ndarray | None = None  # sensors: the recording (index into recording_ids) of each window
    recording_ids: list[str] | None = None

    def __len__(self) -> int:
        return int(len(self.y))


def decode_images(paths: list[str], spec: InputSpec, reporter: Reporter | None = None,
                  progress: tuple[float, float] = (0.0, 1.0), message: str = "decoding images") -> np.ndarray:
    """Decode ``paths`` into one uint8 array with a thread pool (Pillow releases the GIL while decoding)."""
    from studio.core.data.image import load_image

    out = np.empty((len(paths), spec.size, spec.size, spec.channels), dtype=np.uint8)
    if not paths:
        return out
    workers = max(1, min(8, os.cpu_count() or 1))
    chunk = max(64, len(paths) // 50)
    lo, hi = progress
    with ThreadPoolExecutor(workers) as pool:
        for start in range(0, len(paths), chunk):
            check_cancel(reporter)
            part = paths[start : start + chunk]
            for i, arr in enumerate(pool.map(lambda p: load_image(p, spec.size, spec.channels), part)):
                out[start + i] = arr
            if reporter is not None:
                reporter.progress(lo + (hi - lo) * min(1.0, (start + len(part)) / len(paths)), message)
    return out


def load_split(project: Any, split: str, spec: InputSpec, manifest: dict[str, Any] | None = None,
               reporter: Reporter | None = None, progress: tuple[float, float] = (0.0, 1.0),
               allow_streaming: bool = False, recordings: dict[str, np.ndarray] | None = None) -> SplitData:
    """The raw data of one split. Images are decoded into RAM unless too big and ``allow_streaming``."""
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}", hint="use train, val or test")
    manifest = manifest or project.load_manifest()
    if spec.kind == "image":
        from studio.core.data import split_samples

        paths, y, ids = split_samples(project, split, manifest)
        need = len(paths) * spec.size * spec.size * spec.channels
        if allow_streaming and need > MAX_PREDECODE_BYTES:
            return SplitData(None, y, ids, paths=paths)
        x = decode_images(paths, spec, reporter, progress, f"decoding {split} images")
        return SplitData(x, y, ids, paths=paths)
    from studio.core.data.sensor.shaping import split_recordings

    signals, labels, rec_ids = split_recordings(project, split, manifest, recordings)
    data = sensor_split(signals, labels, rec_ids, spec)
    if reporter is not None:
        reporter.progress(progress[1], f"cut {split} windows")
    return data


def sensor_split(signals: list[np.ndarray], labels: np.ndarray, rec_ids: list[str], spec: InputSpec) -> SplitData:
    """Model inputs of raw recordings under ``spec``, with the recording of each input (ids "rec@start")."""
    x, groups = spec.sensor_inputs(signals)
    if not len(signals):
        x = np.zeros((0,) + spec.shape, np.float32)
    y = np.asarray(labels, dtype=np.int64)[groups] if len(groups) else np.zeros(0, np.int64)
    ids, seen = [], -1
    k = 0
    for g in groups:
        k = k + 1 if g == seen else 0
        seen = int(g)
        ids.append(f"{rec_ids[seen]}@{k * spec.stride}" if spec.length_policy == "windows" else rec_ids[seen])
    return SplitData(x, y, ids, groups=groups, recording_ids=list(rec_ids))


def load_split_arrays(project: Any, split: str, spec: InputSpec,
                      reporter: Reporter | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(x float32 model input, y int labels, ids) of one split: for evaluation, calibration and golden inputs."""
    data = load_split(project, split, spec, reporter=reporter)
    return spec.preprocess(data.x), data.y, data.ids


# ---------------------------------------------------------------------------------------------- augmentation
class _StatelessRng:
    """Stateless random draws from one per-batch seed: parallel-safe, reproducible, and serialisable for
    tf.distribute (a tf.random.Generator captured in a dataset is not)."""

    def __init__(self, tf: Any, seed: Any) -> None:
        self.tf = tf
        self.seed = tf.cast(seed, tf.int64)
        self.k = 0

    def _next(self) -> Any:
        self.k += 1
        return self.tf.random.experimental.stateless_fold_in(self.seed, self.k)

    def uniform(self, shape: Any, minval: Any = 0.0, maxval: Any = 1.0, dtype: Any = None) -> Any:
        dtype = dtype or self.tf.float32
        return self.tf.random.stateless_uniform(shape, self._next(), minval=minval, maxval=maxval, dtype=dtype)

    def normal(self, shape: Any, stddev: float = 1.0) -> Any:
        return self.tf.random.stateless_normal(shape, self._next(), stddev=stddev)


@dataclass(frozen=True)
class Augmentation:
    """Random transforms applied to training batches (never to validation or test data)."""

    flip: bool = True  # horizontal mirror
    rotate_deg: float = 10.0
    shift: float = 0.1  # fraction of the side
    brightness: float = 0.15  # fraction of the full range
    contrast: float = 0.15
    noise: float = 0.05  # sensors: gaussian noise, in normalized units
    scale: float = 0.1  # sensors: per-channel amplitude scaling +-10 %
    time_shift: float = 0.1  # sensors: fraction of the window

    @classmethod
    def none(cls) -> "Augmentation":
        return cls(False, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def _augment_images(tf: Any, x: Any, aug: Augmentation, seed_rng: Any) -> Any:
    """x: float32 [b, h, w, c] in pixel units (0..255). Vectorised over the batch."""
    b = tf.shape(x)[0]
    h = tf.cast(tf.shape(x)[1], tf.float32)
    w = tf.cast(tf.shape(x)[2], tf.float32)
    if aug.flip:
        flip = seed_rng.uniform([b, 1, 1, 1]) < 0.5
        x = tf.where(flip, tf.reverse(x, axis=[2]), x)
    if aug.rotate_deg > 0 or aug.shift > 0:
        angle = seed_rng.uniform([b], -1.0, 1.0) * (aug.rotate_deg * math.pi / 180.0)
        tx = seed_rng.uniform([b], -1.0, 1.0) * aug.shift * w
        ty = seed_rng.uniform([b], -1.0, 1.0) * aug.shift * h
        cos, sin = tf.cos(angle), tf.sin(angle)
        cx, cy = (w - 1.0) / 2.0, (h - 1.0) / 2.0
        # Output pixel (x, y) samples input at R^-1 (p - c) + c - t.
        a0, a1 = cos, sin
        b0, b1 = -sin, cos
        a2 = cx - a0 * cx - a1 * cy - tx
        b2 = cy - b0 * cx - b1 * cy - ty
        zeros = tf.zeros_like(a0)
        transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
        x = tf.raw_ops.ImageProjectiveTransformV3(
            images=x,
            transforms=transforms,
            output_shape=tf.shape(x)[1:3],
            fill_value=0.0,
            interpolation="BILINEAR",
            fill_mode="NEAREST",
        )
    if aug.brightness > 0:
        x = x + seed_rng.uniform([b, 1, 1, 1], -1.0, 1.0) * (aug.brightness * 255.0)
    if aug.contrast > 0:
        mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
        x = (x - mean) * seed_rng.uniform([b, 1, 1, 1], 1.0 - aug.contrast, 1.0 + aug.contrast) + mean
    return tf.clip_by_value(x, 0.0, 255.0)


def _augment_windows(tf: Any, x: Any, aug: Augmentation, seed_rng: Any) -> Any:
    """x: float32 [b, t, c], normalized. Time shift clamps at the edges (no wrap-around)."""
    b = tf.shape(x)[0]
    t = tf.shape(x)[1]
    c = tf.shape(x)[2]
    if aug.time_shift > 0:
        max_shift = tf.cast(tf.cast(t, tf.float32) * aug.time_shift, tf.int32)
        shift = seed_rng.uniform([b], -max_shift, max_shift + 1, dtype=tf.int32)
        idx = tf.clip_by_value(tf.range(t)[None, :] - shift[:, None], 0, t - 1)
        x = tf.gather(x, idx, batch_dims=1)
    if aug.scale > 0:
        x = x * seed_rng.uniform(tf.stack([b, 1, c]), 1.0 - aug.scale, 1.0 + aug.scale)
    if aug.noise > 0:
        x = x + seed_rng.normal(tf.shape(x), stddev=aug.noise)
    return x


# ---------------------------------------------------------------------------------------------- tf.data
def dataset_from_split(data: SplitData, spec: InputSpec, batch_size: int, augment: Augmentation | bool = False,
                       shuffle: bool = False, seed: int = 0, repeat: bool = False) -> Any:
    """A tf.data pipeline over one split: shuffle -> batch -> (augment) -> scale -> prefetch.

    Augmentation and scaling run on whole batches (one vectorised op each, not per sample). Labels are int32.
    """
    from studio.core.tfenv import load_tf

    tf, _ = load_tf()
    if isinstance(augment, bool):
        augment = Augmentation() if augment else Augmentation.none()
    do_aug = augment != Augmentation.none()
    n = len(data)
    if n == 0:
        raise DatasetError("this split has no samples")
    y = data.y.astype(np.int32)
    if data.x is not None:
        ds = tf.data.Dataset.from_tensor_slices((data.x, y))
        if shuffle:
            ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    else:
        from studio.core.data.image import load_image

        def _load(path: Any) -> np.ndarray:
            return load_image(path.decode("utf-8"), spec.size, spec.channels)

        ds = tf.data.Dataset.from_tensor_slices((np.asarray(data.paths, dtype=object).astype(str), y))
        if shuffle:
            ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
        shape = (spec.size, spec.size, spec.channels)

        def _decode(path: Any, label: Any) -> tuple[Any, Any]:
            img = tf.numpy_function(_load, [path], tf.uint8, stateful=False)
            img.set_shape(shape)
            return img, label

        ds = ds.map(_decode, num_parallel_calls=tf.data.AUTOTUNE)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size)
    augment_fn = _augment_images if spec.kind == "image" else _augment_windows
    scale, offset = (float(spec.scale), float(spec.offset)) if spec.kind == "image" else (1.0, 0.0)

    def _scale(x: Any) -> Any:
        x = tf.cast(x, tf.float32)
        return x * scale + offset if (scale != 1.0 or offset != 0.0) else x

    if do_aug:
        # One seed pair per batch from a seeded random stream: fresh transforms every epoch, reproducible runs.
        seeds = tf.data.Dataset.random(seed=seed).batch(2)

        def _prep(xy: Any, s: Any) -> tuple[Any, Any]:
            x = augment_fn(tf, tf.cast(xy[0], tf.float32), augment, _StatelessRng(tf, s))
            return _scale(x), xy[1]

        ds = tf.data.Dataset.zip((ds, seeds)).map(_prep, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(lambda x, label: (_scale(x), label), num_parallel_calls=tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    ds = ds.with_options(options)
    return ds.prefetch(tf.data.AUTOTUNE)


def make_dataset(project: Any, split: str, spec: InputSpec, batch_size: int, augment: Augmentation | bool = False,
                 shuffle: bool = False, seed: int = 0, reporter: Reporter | None = None) -> Any:
    """Load one split and wrap it in a tf.data pipeline (see :func:`dataset_from_split`)."""
    data = load_split(project, split, spec, reporter=reporter, allow_streaming=True)
    if len(data) == 0:
        raise ProjectError(f"the {split} split is empty", path=project.manifest_path,
                           hint="import the data again with a larger split")
    return dataset_from_split(data, spec, batch_size, augment=augment, shuffle=shuffle, seed=seed)
