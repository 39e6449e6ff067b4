"""Golden inputs of a bundle: real samples in their raw form, with their true labels and the host's outputs.

A bundle proves itself on the device by running these samples through the device's own preprocessing and
runtime and comparing every output value with what Studio recorded. The raw form matters: image goldens are
the original files (so the harness's decoding is tested too), sensor goldens are un-normalized model inputs (windows, or whole recordings resampled / padded as
the run's input spec says).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.fsutil import safe_name

GOLDEN_COUNT = 8
MAX_GOLDEN_FILE_BYTES = 1024 * 1024


@dataclass
class Golden:
    """Raw golden inputs: image files (name, bytes), or raw (un-normalized) sensor windows [n, window, ch].

    ``labels`` are the samples' true class names (not what the model predicts)."""

    labels: list[str]
    files: list[tuple[str, bytes]] | None = None
    windows: np.ndarray | None = None


def choose_golden_indices(y: np.ndarray, n: int = GOLDEN_COUNT) -> np.ndarray:
    from studio.core.convert import representative_indices

    return np.sort(representative_indices(np.asarray(y), n, seed=7))


def model_inputs(spec: dict[str, Any], golden: Golden, folder: Path) -> np.ndarray:
    """The goldens as float32 model inputs, preprocessed by Studio's own code (not the harness's copy).

    ``folder`` holds the golden image files (the bundle's ``golden/``)."""
    from studio.core.data.sensor.shaping import normalize
    from studio.core.pipeline import InputSpec

    ispec = InputSpec.from_json(spec)
    if spec["kind"] == "image":
        from studio.core.data.image import load_image

        return ispec.preprocess(
            np.stack([load_image(Path(folder) / name, ispec.size, ispec.channels) for name, _ in golden.files or []]))
    return normalize(golden.windows, ispec.norm, ispec.mean, ispec.std)


def expected_items(model_bytes: bytes, spec: dict[str, Any], golden: Golden, folder: Path) -> list[dict]:
    """golden.json items: true label, the host's (LiteRT) raw output and its top-1, the file name for images."""
    from studio.core.measure import run_litert

    run = run_litert(model_bytes, model_inputs(spec, golden, folder))
    names = [name for name, _ in golden.files or []] if spec["kind"] == "image" else [None] * len(run.raw)
    items = []
    for i, name in enumerate(names):
        raw = np.asarray(run.raw[i]).reshape(-1)
        item = {"label": golden.labels[i], "expected": raw.tolist(), "expected_top1": int(np.argmax(raw))}
        if name is not None:
            item["file"] = name
        items.append(item)
    return items


def from_project(project: Any, spec: dict[str, Any], classes: list[str]) -> Golden:
    """Golden samples from the project's validation split (train when there is none)."""
    from studio.core.data import split_samples
    from studio.core.pipeline import InputSpec

    ispec = InputSpec.from_json(spec)
    manifest = project.load_manifest()
    split = "val" if manifest.get("split_counts", {}).get("val") else "train"
    if spec["kind"] == "image":
        paths, y, _ = split_samples(project, split, manifest)
        if not paths:
            paths, y, _ = split_samples(project, "train", manifest)
        idx = choose_golden_indices(y)
        files, labels = [], []
        for k, i in enumerate(idx):
            label = classes[int(y[i])]
            files.append(_golden_file(Path(paths[i]), f"{k:02d}_{safe_name(label)}", ispec))
            labels.append(label)
        return Golden(labels, files=files)
    from studio.core.data.sensor.shaping import shape_all, split_recordings

    signals, labels, _ = split_recordings(project, split, manifest)
    x, groups = shape_all(signals, ispec.window, ispec.stride, ispec.length_policy)  # raw: the harness normalizes
    y = labels[groups] if len(groups) else labels
    idx = choose_golden_indices(y)
    return Golden([classes[int(y[i])] for i in idx], windows=np.asarray(x[idx], dtype=np.float32))


def _golden_file(src: Path, stem: str, ispec: Any) -> tuple[str, bytes]:
    """The original file, or for a huge photo its decoded pixels at model size (decoding is then the identity)."""
    from studio.core.untrusted import MAX_IMAGE_FILE_BYTES, read_regular

    data = read_regular(src, MAX_IMAGE_FILE_BYTES)  # a regular file inside the data root (see sample_path)
    if len(data) <= MAX_GOLDEN_FILE_BYTES:
        return stem + src.suffix.lower(), data
    from io import BytesIO

    from PIL import Image

    from studio.core.data.image import load_image

    arr = load_image(src, ispec.size, ispec.channels)
    buf = BytesIO()
    Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr).save(buf, format="PNG")
    return stem + ".png", buf.getvalue()


__all__ = ["Golden", "choose_golden_indices", "model_inputs", "expected_items", "from_project", "GOLDEN_COUNT"]
