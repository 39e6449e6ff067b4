"""The live camera path of Try it: frames answered by a LiteRT variant, with no TensorFlow anywhere below.

The window runs this in a thread of its own process (a frame a few milliseconds, no round trip through the
worker), so this module and everything it imports must stay TensorFlow-free *statically* (the import-linter
contract ``gui-no-tensorflow`` checks it; ``studio.core.pipeline`` and ``studio.core.inference`` may not be
imported here). The worker's ``live_model`` job says which ``.tflite`` to run and how its input is scaled
(:func:`live_model_info`, plain data); :class:`LiveModel` loads it here.

* :func:`scale_pixels` and :func:`frame_pixels` are *the* image preprocessing (``InputSpec.preprocess`` and
  ``inference.frame_input`` call them), so a camera frame reaches the model exactly as a training image did.
* :func:`litert_predictor` runs a ``.tflite`` batch-1, as a device does (``inference.litert_backend`` uses it).
* :class:`LiveClassifier` answers frames of a :class:`FrameSource` (a camera; :class:`FakeFrameSource` in tests
  and the benchmark) and measures frames per second.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

import numpy as np

from studio.core.errors import DatasetError, ProjectError

FPS_WINDOW = 30


# ---------------------------------------------------------------------------------------------- preprocessing
def scale_pixels(x: np.ndarray, scale: float, offset: float) -> np.ndarray:
    """uint8 pixels -> float32 model input ``x * scale + offset`` (what every image model was trained on)."""
    return (np.asarray(x, dtype=np.float32) * np.float32(scale) + np.float32(offset)).astype(np.float32)


def frame_pixels(frame: np.ndarray, size: int, channels: int) -> np.ndarray:
    """A camera frame (uint8 ``[h, w]``, ``[h, w, 1]``, ``[h, w, 3]`` or ``[h, w, 4]``) as a training image:
    uint8 ``[size, size, channels]`` through the one image decoder's last steps."""
    from PIL import Image

    from studio.core.data.image import fit_image

    a = np.ascontiguousarray(frame)
    if a.ndim == 3 and a.shape[2] == 4:
        a = a[:, :, :3]
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    return fit_image(Image.fromarray(a.astype(np.uint8)), size, channels)


# ---------------------------------------------------------------------------------------------- LiteRT
def litert_predictor(model_bytes: bytes, num_threads: int = 1) -> Callable[[np.ndarray], np.ndarray]:
    """``predict`` over a .tflite model: batch 1 per invoke (as on a device), int8 I/O quantized with the
    tensors' own scale and zero point. One interpreter per predictor: not for use from two threads at once."""
    from studio.core.measure import dequantize_output, litert_interpreter, quantize_input

    interp = litert_interpreter(model_bytes, num_threads=num_threads)
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    if int(inp["shape"][0]) != 1:
        interp.resize_tensor_input(inp["index"], [1] + [int(s) for s in inp["shape"][1:]])
        interp.allocate_tensors()
    k = int(out["shape"][-1])

    def predict(x: np.ndarray) -> np.ndarray:
        xq = quantize_input(np.asarray(x, dtype=np.float32), inp)
        res = np.empty((len(xq), k), np.float32)
        for i in range(len(xq)):
            interp.set_tensor(inp["index"], xq[i : i + 1])
            interp.invoke()
            res[i] = dequantize_output(interp.get_tensor(out["index"])[0], out)
        return res

    return predict


@dataclass(frozen=True)
class LiveSpec:
    """What the live path needs of an image model's input spec (duck-compatible with ``InputSpec``)."""

    size: int
    channels: int
    scale: float
    offset: float
    kind: str = "image"

    def preprocess(self, x: np.ndarray) -> np.ndarray:
        return scale_pixels(x, self.scale, self.offset)


@dataclass
class LiveModel:
    """A LiteRT variant loaded in this process from :func:`live_model_info`'s plain data."""

    name: str
    classes: list[str]
    spec: LiveSpec
    predict: Callable[[np.ndarray], np.ndarray]
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, info: dict[str, Any], num_threads: int = 1) -> "LiveModel":
        path = Path(str(info["path"]))
        try:
            model_bytes = path.read_bytes()
        except OSError as exc:
            raise ProjectError(f"cannot read the variant's model ({exc})", path=path,
                               hint="build the variant again on the Optimize page") from exc
        digest = info.get("sha256")
        if digest and hashlib.sha256(model_bytes).hexdigest() != digest:
            raise ProjectError("the variant's model changed since it was chosen", path=path,
                               hint="choose the variant again")
        spec = info["spec"]
        return cls(str(info["name"]), [str(c) for c in info["classes"]],
                   LiveSpec(int(spec["size"]), int(spec["channels"]), float(spec["scale"]), float(spec["offset"])),
                   litert_predictor(model_bytes, num_threads), dict(info))


def live_model_info(variant: dict[str, Any], spec: Any) -> dict[str, Any]:
    """Plain data for :meth:`LiveModel.load`: a variant's ``variant.json`` (as ``load_variant`` returns it,
    with ``name`` and ``path``) and its input spec. Raises DatasetError for a sensor model."""
    if spec.kind != "image":
        raise DatasetError("the live camera needs an image model", hint="this project classifies sensor data")
    return {"name": variant["name"], "path": variant["path"], "sha256": variant.get("model_sha256"),
            "quantize": variant.get("quantize"), "classes": list(variant["classes"]),
            "spec": {"size": int(spec.size), "channels": int(spec.channels), "scale": float(spec.scale),
                     "offset": float(spec.offset)}}


# ---------------------------------------------------------------------------------------------- frames
class FrameSource(Protocol):
    """Anything that yields camera-like frames: uint8 ``[h, w, 3]`` (RGB) arrays."""

    def read(self) -> np.ndarray | None:
        """The newest frame, or None when the source has ended (a camera never ends until closed)."""

    def close(self) -> None: ...


class FakeFrameSource:
    """Frames from a list of arrays (or image files), optionally looping: tests and benchmarks drive the live
    path with it. ``size`` resizes file frames to that (width, height) as a camera would deliver them;
    ``interval`` (seconds) paces reads like a camera's frame rate: frame k is ready at start + k x interval,
    and a reader that falls behind gets the next frame at once (as from a camera's newest-frame buffer)."""

    def __init__(self, frames: Iterable[np.ndarray | str | Path], loop: bool = False,
                 size: tuple[int, int] | None = None, interval: float = 0.0) -> None:
        self._frames = [self._load(f, size) for f in frames]
        if not self._frames:
            raise ValueError("a fake frame source needs at least one frame")
        self.loop = loop
        self.interval = interval
        self._i = 0
        self._due = 0.0
        self.closed = False

    @staticmethod
    def _load(f: np.ndarray | str | Path, size: tuple[int, int] | None) -> np.ndarray:
        if isinstance(f, np.ndarray):
            return f
        from PIL import Image

        with Image.open(f) as img:
            img = img.convert("RGB")
            if size:
                img = img.resize(size, Image.BILINEAR)
            return np.asarray(img, dtype=np.uint8)

    def read(self) -> np.ndarray | None:
        if self.closed:
            return None
        if self._i >= len(self._frames):
            if not self.loop:
                return None
            self._i = 0
        if self.interval:
            now = time.perf_counter()
            if self._due > now:
                time.sleep(self._due - now)
            self._due = max(self._due, now) + self.interval
        frame = self._frames[self._i]
        self._i += 1
        return frame

    def close(self) -> None:
        self.closed = True


@dataclass
class FrameResult:
    """One answered frame (plain data, safe to send to the GUI thread)."""

    index: int
    frame: np.ndarray
    label: str
    confidence: float
    probabilities: dict[str, float]
    latency_ms: float  # preprocessing + inference of this frame
    fps: float  # frames answered per second over the last FPS_WINDOW frames
    extra: dict[str, Any] = field(default_factory=dict)


class LiveClassifier:
    """Answer frames of ``source`` with ``backend`` (a :class:`LiveModel`, or any backend with ``spec``,
    ``classes`` and ``predict``: the LiteRT one of ``studio.core.inference``), measuring frames per second."""

    def __init__(self, backend: Any, source: FrameSource, max_fps: float | None = None) -> None:
        if backend.spec.kind != "image":
            raise DatasetError("the live camera needs an image model", hint="this project classifies sensor data")
        self.backend = backend
        self.source = source
        # an unpaced source (test frames, a fast camera) must not answer faster than anyone can watch: that only
        # takes the window's CPU (the GUI passes ~30 frames per second)
        self.min_gap = 1.0 / float(max_fps) if max_fps else 0.0
        self.count = 0
        self._times: deque[float] = deque(maxlen=FPS_WINDOW + 1)

    @property
    def fps(self) -> float:
        if len(self._times) < 2:
            return 0.0
        return (len(self._times) - 1) / max(1e-9, self._times[-1] - self._times[0])

    def step(self) -> FrameResult | None:
        """Read and answer one frame; None when the source has ended."""
        frame = self.source.read()
        if frame is None:
            return None
        t0 = time.perf_counter()
        spec = self.backend.spec
        probs = self.backend.predict(spec.preprocess(frame_pixels(frame, spec.size, spec.channels)[None]))[0]
        t1 = time.perf_counter()
        self._times.append(t1)
        i = int(np.argmax(probs))
        result = FrameResult(self.count, frame, self.backend.classes[i], round(float(probs[i]), 4),
                             {c: round(float(p), 4) for c, p in zip(self.backend.classes, probs)},
                             round((t1 - t0) * 1000.0, 3), round(self.fps, 2))
        self.count += 1
        return result

    def run(self, on_result: Callable[[FrameResult], None], max_frames: int | None = None,
            should_stop: Callable[[], bool] = lambda: False) -> int:
        """Answer frames until the source ends, ``max_frames`` were answered or ``should_stop()``; returns the
        number answered."""
        n = 0
        last = -1e9
        while (max_frames is None or n < max_frames) and not should_stop():
            wait = last + self.min_gap - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            last = time.perf_counter()
            result = self.step()
            if result is None:
                break
            on_result(result)
            n += 1
        return n
