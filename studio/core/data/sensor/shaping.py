"""From a raw recording to model inputs: the one definition of how a sensor model sees its data.

Three length policies (``InputSpec.length_policy``):

- ``"resample"``: the whole recording, linearly resampled to ``window`` rows (one input per recording);
- ``"pad"``: the whole recording, padded at the end by repeating its last row (or resampled down if it is
  longer than ``window``): its time scale is kept;
- ``"windows"``: windows of ``window`` rows every ``stride`` rows; a recording shorter than one window is
  padded like ``"pad"`` and gives one window, never skipped.

Normalization (``InputSpec.norm``) then runs on each model input: ``"global"`` is (x - mean) / std per
channel with the training recordings' statistics; ``"recording"`` is z-normalization of each input over its
own rows, per channel (offsets and gains of one sensor no longer matter). The exported Python harness
carries a copy of these functions (``resources/harness/run_model.py``; a test compares them).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

LENGTH_POLICIES = ("windows", "resample", "pad")
NORMS = ("global", "recording")
EPS = 1e-8


def resample(signal: np.ndarray, length: int) -> np.ndarray:
    """Linear interpolation of every channel of ``signal`` ``[rows, channels]`` onto ``length`` rows."""
    signal = np.asarray(signal, dtype=np.float32)
    n = len(signal)
    if n == length:
        return signal.copy()
    if n == 1:
        return np.repeat(signal, length, axis=0)
    src = np.linspace(0.0, n - 1.0, length)
    return np.stack([np.interp(src, np.arange(n), signal[:, c]) for c in range(signal.shape[1])],
                    axis=1).astype(np.float32)


def pad_to(signal: np.ndarray, length: int) -> np.ndarray:
    """``signal`` padded at the end with copies of its last row to ``length`` rows (resampled down if longer)."""
    signal = np.asarray(signal, dtype=np.float32)
    if len(signal) > length:
        return resample(signal, length)
    if len(signal) == length:
        return signal.copy()
    return np.concatenate([signal, np.repeat(signal[-1:], length - len(signal), axis=0)]).astype(np.float32)


def shape_recording(signal: np.ndarray, window: int, stride: int, policy: str) -> np.ndarray:
    """Raw (not yet normalized) model inputs ``[n, window, channels]`` of one recording."""
    signal = np.asarray(signal, dtype=np.float32)
    if signal.ndim == 1:
        signal = signal[:, None]
    if policy == "resample":
        return resample(signal, window)[None]
    if policy == "pad" or len(signal) <= window:
        return pad_to(signal, window)[None]
    view = np.lib.stride_tricks.sliding_window_view(signal, window, axis=0)[::stride]  # [n, channels, window]
    return np.ascontiguousarray(view.transpose(0, 2, 1), dtype=np.float32)


def count_inputs(length: int, window: int, stride: int, policy: str) -> int:
    if policy != "windows" or length <= window:
        return 1
    return 1 + (length - window) // stride


def normalize(x: np.ndarray, norm: str, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """Normalize model inputs ``[n, window, channels]`` (see the module docstring); "global" is the project's
    one window normalizer (:func:`.windows.normalize_windows`)."""
    if norm == "recording":
        x = np.asarray(x, dtype=np.float32)
        m = x.mean(axis=1, keepdims=True)
        s = x.std(axis=1, keepdims=True)
        return ((x - m) / np.where(s > EPS, s, np.float32(1.0))).astype(np.float32)
    from .windows import normalize_windows

    return normalize_windows(x, mean, std)


def shape_all(signals: Sequence[np.ndarray], window: int, stride: int,
              policy: str) -> tuple[np.ndarray, np.ndarray]:
    """Raw inputs of many recordings and, per input, the index of its recording."""
    parts = [shape_recording(s, window, stride, policy) for s in signals]
    if not parts:
        return np.zeros((0, window, 1), np.float32), np.zeros(0, np.int64)
    groups = np.concatenate([np.full(len(p), i, dtype=np.int64) for i, p in enumerate(parts)])
    return np.concatenate(parts).astype(np.float32), groups


def recording_means(probs: np.ndarray, groups: np.ndarray, n_groups: int | None = None) -> np.ndarray:
    """Mean of the window probabilities over each recording: ``[n_recordings, classes]``."""
    probs = np.asarray(probs, dtype=np.float64)
    groups = np.asarray(groups, dtype=np.int64)
    n = int(n_groups if n_groups is not None else (groups.max() + 1 if len(groups) else 0))
    sums = np.zeros((n, probs.shape[1]))
    np.add.at(sums, groups, probs)
    counts = np.bincount(groups, minlength=n).astype(np.float64)
    return sums / np.maximum(counts, 1.0)[:, None]


def recording_labels(y: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """The label of each recording from the labels of its windows (all equal)."""
    out = np.zeros(n_groups, dtype=np.int64)
    out[np.asarray(groups, dtype=np.int64)] = np.asarray(y, dtype=np.int64)
    return out


def describe(policy: str, window: int, stride: int, norm: str) -> str:
    """A sentence for progress messages, reports and the harness."""
    what = {
        "resample": f"each recording whole, resampled to {window} rows",
        "pad": f"each recording whole, padded to {window} rows (its last row repeated)",
        "windows": f"windows of {window} rows every {stride} rows (shorter recordings padded)",
    }[policy]
    how = "z-normalized per input and channel" if norm == "recording" else "normalized with the training statistics"
    return f"{what}, {how}"


def dominant_period(signals: Sequence[np.ndarray], limit: int = 64) -> float | None:
    """Median dominant period (rows) of up to ``limit`` recordings, from the peak of each one's spectrum
    (DC excluded, all channels summed); None when nothing periodic stands out."""
    periods = []
    for s in list(signals)[:limit]:
        s = np.asarray(s, dtype=np.float64)
        if len(s) < 16:
            continue
        spec = (np.abs(np.fft.rfft(s - s.mean(axis=0), axis=0)) ** 2).sum(axis=1)
        spec[0] = 0.0
        k = int(np.argmax(spec))
        if k > 0 and spec[k] > 4.0 * np.median(spec[1:]):
            periods.append(len(s) / k)
    return float(np.median(periods)) if periods else None


def config_key(cfg: dict[str, Any]) -> str:
    return f"{cfg['length_policy']}:{cfg['window']}:{cfg['norm']}"


def split_recordings(project: Any, split: str, manifest: dict[str, Any] | None = None,
                     recordings: dict[str, np.ndarray] | None = None
                     ) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """The raw recordings of one split: (signals ``[rows, channels]``, label indices, recording ids)."""
    from .recordings import load_recordings

    manifest = manifest or project.load_manifest()
    recordings = recordings if recordings is not None else load_recordings(project)
    index = {c: i for i, c in enumerate(manifest["classes"])}
    signals, labels, ids = [], [], []
    for rec in manifest["recordings"]:
        if rec["split"] == split and not rec.get("excluded"):  # excluded by the user (data/curation.py)
            signals.append(recordings[rec["id"]])
            labels.append(index[rec["label"]])
            ids.append(rec["id"])
    return signals, np.asarray(labels, dtype=np.int64), ids

