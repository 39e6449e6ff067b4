"""Windows: how long they are, cutting them from recordings, normalizing them, and a split's windows.

Windows are cut at training time from whole recordings, so the train/validation split is by recording and a
window never straddles the split (no leakage).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from studio.core.errors import DatasetError

from .recordings import has_class_dirs, load_recordings, parse_sensor_source

DEFAULT_WINDOW = 128
POW2_FROM = 16  # from this length on, windows are rounded down to a power of two
MIN_WINDOW = 4  # the smallest window the sensor architectures accept
WHOLE_RECORDING_MAX = 1024


def n_windows(length: int, window: int, stride: int) -> int:
    """Windows of a recording: a recording shorter than one window still gives one (padded), never zero."""
    from .shaping import count_inputs

    return count_inputs(length, window, stride, "windows") if length > 0 else 0


def cut_windows(signal: np.ndarray, window: int, stride: int) -> np.ndarray:
    """Windows of ``signal`` ``[length, channels]`` as float32 ``[n, window, channels]``; a recording shorter
    than the window is padded with copies of its last row (see :mod:`.shaping`)."""
    from .shaping import shape_recording

    signal = np.asarray(signal, dtype=np.float32)
    if signal.ndim == 1:
        signal = signal[:, None]
    if not len(signal):
        return np.empty((0, window, signal.shape[1]), dtype=np.float32)
    return shape_recording(signal, window, stride, "windows")


def normalize_windows(windows: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """``(x - mean) / std`` per channel as float32: the one sensor normalizer (training, evaluation, golden
    inputs). The statistics are those of the training recordings (the manifest's ``normalization``, copied
    into each run's input spec); a zero std counts as 1, so a constant channel becomes 0, never NaN."""
    mean_ = np.asarray(mean, dtype=np.float32)
    std_ = np.asarray(std, dtype=np.float32)
    std_ = np.where(std_ > 0, std_, np.float32(1.0))
    return ((np.asarray(windows, dtype=np.float32) - mean_) / std_).astype(np.float32)


def choose_window(lengths: Sequence[int], labels: Sequence[str] | None = None) -> tuple[int, int]:
    """Default (window, stride) for recordings of these lengths (and labels).

    Short recordings of one length (<= 1024 rows, e.g. one gesture each) are classified whole: one window per
    recording, provided every class has at least two recordings (else nothing could be validated).
    Otherwise the window is 128 rows when the typical recording allows, else the largest power of two that
    fits, with a half-window stride; recordings shorter than 16 rows are used nearly whole (window = their
    length, at least 4). "Typical" is the 10th percentile of the lengths, not the minimum, so one stray short
    file does not shrink every window; recordings shorter than the window are skipped and listed.
    """
    per_class_ok = True
    if labels is not None:
        per_label: dict[str, int] = {}
        for lab in labels:
            per_label[lab] = per_label.get(lab, 0) + 1
        per_class_ok = min(per_label.values(), default=0) >= 2
    lengths = sorted(int(n) for n in lengths)
    if per_class_ok and lengths and lengths[0] == lengths[-1] and lengths[0] <= WHOLE_RECORDING_MAX:
        return lengths[0], lengths[0]
    ref = int(np.percentile(lengths, 10, method="lower")) if lengths else DEFAULT_WINDOW
    if ref >= DEFAULT_WINDOW:
        window = DEFAULT_WINDOW
    elif ref >= POW2_FROM:
        window = 1 << (ref.bit_length() - 1)
    else:
        # Very short recordings (e.g. spoken vowels, 7-29 frames): use them nearly whole, not skip most.
        window = max(MIN_WINDOW, ref)
    return window, max(1, window // 2)


def split_windows(
    project: Any,
    split: str,
    manifest: dict[str, Any] | None = None,
    *,
    normalized: bool = True,
    recordings: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """All windows of one split: (float32 ``[n, window, channels]``, int labels ``[n]``, ids "rec@start")."""
    manifest = manifest or project.load_manifest()
    recordings = recordings if recordings is not None else load_recordings(project)
    window, stride = int(manifest["window"]), int(manifest["stride"])
    index = {c: i for i, c in enumerate(manifest["classes"])}
    parts, labels, ids = [], [], []
    for rec in manifest["recordings"]:
        if rec["split"] != split or rec.get("excluded"):  # excluded by the user (data/curation.py)
            continue
        w = cut_windows(recordings[rec["id"]], window, stride)
        parts.append(w)
        labels += [index[rec["label"]]] * len(w)
        ids += [f"{rec['id']}@{k * stride}" for k in range(len(w))]
    chans = len(manifest["channels"])
    x = np.concatenate(parts) if parts else np.empty((0, window, chans), dtype=np.float32)
    if normalized:
        x = normalize_windows(x, manifest["normalization"]["mean"], manifest["normalization"]["std"])
    return x, np.asarray(labels, dtype=np.int64), ids


def read_labelled_recordings(
    manifest: dict[str, Any], path: str | Path
) -> tuple[list[np.ndarray], np.ndarray, list[str]]:
    """An external labelled folder / CSV as raw recordings with the project's classes and channels:
    (signals ``[rows, channels]``, label indices, ids "file:first line"). Unknown classes raise DatasetError."""
    src = Path(path).expanduser().absolute()
    is_table = src.is_file() or (src.is_dir() and not has_class_dirs(src))
    parsed = parse_sensor_source(
        src,
        label_column=manifest.get("label_column") if is_table else None,
        recording_column=manifest.get("recording_column") if is_table else None,
        channels=manifest["channels"],
    )
    classes = manifest["classes"]
    unknown = sorted({r.label for r in parsed.recordings} - set(classes))
    if unknown:
        raise DatasetError(
            f"class(es) not in the project: {', '.join(repr(u) for u in unknown)}",
            path=src,
            hint=f"the project's classes are {', '.join(classes)}",
        )
    if not parsed.recordings:
        raise DatasetError("no recordings found", path=src)
    index = {c: i for i, c in enumerate(classes)}
    return ([r.signal for r in parsed.recordings], np.asarray([index[r.label] for r in parsed.recordings], np.int64),
            [f"{r.source}:{r.rows[0]}" for r in parsed.recordings])


def read_labelled_sensors(
    manifest: dict[str, Any], path: str | Path, *, normalized: bool = True
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """An external labelled folder / CSV as normalized windows with the project's classes and channels."""
    src = Path(path).expanduser().absolute()
    signals, rec_labels, rec_ids = read_labelled_recordings(manifest, src)
    window, stride = int(manifest["window"]), int(manifest["stride"])
    parts, labels, ids = [], [], []
    for signal, label, rid in zip(signals, rec_labels, rec_ids):
        w = cut_windows(signal, window, stride)
        if not len(w):
            continue
        parts.append(w)
        labels += [int(label)] * len(w)
        ids += [f"{rid}+{k * stride}" for k in range(len(w))]
    if not parts:
        raise DatasetError(f"no recording is as long as the project's window ({window} rows)", path=src)
    x = np.concatenate(parts)
    if normalized:
        x = normalize_windows(x, manifest["normalization"]["mean"], manifest["normalization"]["std"])
    return x, np.asarray(labels, dtype=np.int64), ids
