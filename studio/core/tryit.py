"""Try it: new files and live camera frames answered by the model the device will run.

* :func:`try_files` answers files, a folder or a sensor CSV with a **LiteRT variant** (the exported or chosen
  ``.tflite``), with its why-map (occlusion through LiteRT, so the map explains the device's answer too), and
  beside it the float model's answer (the trained run) flagged when the two differ.
* :class:`LiveClassifier` answers frames from a :class:`FrameSource` one at a time, newest frame first, and
  measures frames per second. The camera is one such source (in the GUI, Qt Multimedia); tests and the
  benchmark use :class:`FakeFrameSource`. The live path uses LiteRT only: no TensorFlow, so it may run in a
  thread of the GUI process.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

import numpy as np

from studio.core.errors import DatasetError, StudioError
from studio.core.inference import (CSV_SUFFIXES, IMAGE_SUFFIXES, Backend, frame_input, keras_backend,
                                   litert_backend, load_input)
from studio.core.reporter import NullReporter, Reporter, check_cancel

MAX_FILES = 1000
DIFFER_CONFIDENCE = 0.05  # the float answer is shown when top-1 differs or confidence moves more than this
FPS_WINDOW = 30


# ---------------------------------------------------------------------------------------------- files
def list_inputs(paths: Iterable[str | Path], kind: str) -> list[Path]:
    """The files to try: given files as they are, folders searched (recursively, sorted) for images or CSVs."""
    suffixes = IMAGE_SUFFIXES if kind == "image" else CSV_SUFFIXES
    out: list[Path] = []
    for p in paths:
        p = Path(p).expanduser().absolute()
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in suffixes
                           and not any(part.startswith(".") for part in f.relative_to(p).parts))
            if not found:
                raise DatasetError(f"no {'images' if kind == 'image' else 'CSV files'} in this folder", path=p)
            out += found
        else:
            out.append(p)
    if len(out) > MAX_FILES:
        raise DatasetError(f"{len(out)} files is more than Try it shows at once ({MAX_FILES})",
                           hint="choose a smaller folder, or use 'studio evaluate --data' for a whole labelled set")
    return out


def _answer(backend: Backend, inp: Any) -> tuple[str, float, dict[str, float], np.ndarray]:
    probs = backend.predict(inp.x).mean(axis=0)
    i = int(np.argmax(probs))
    return backend.classes[i], round(float(probs[i]), 4), {c: round(float(p), 4) for c, p in
                                                          zip(backend.classes, probs)}, probs


def differs(a: np.ndarray, b: np.ndarray, tolerance: float = DIFFER_CONFIDENCE) -> bool:
    """Whether two probability vectors give a different answer (top-1, or the top class's confidence)."""
    i = int(np.argmax(a))
    return i != int(np.argmax(b)) or abs(float(a[i]) - float(b[i])) > tolerance


@dataclass(frozen=True)
class TryRequest:
    """Which files, which variant ("active" or a name; None = no variant, the float run only), whether to add
    the float model's answer and the why-map."""

    paths: tuple[str, ...]
    variant: str | None = "active"
    compare_float: bool = True
    why: bool = True

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "TryRequest":
        return cls(paths=tuple(str(p) for p in d.get("paths") or ()), variant=d.get("variant", "active"),
                   compare_float=bool(d.get("compare_float", True)), why=bool(d.get("why", True)))


def try_files(project: Any, request: TryRequest, reporter: Reporter | None = None) -> dict[str, Any]:
    """Answer every file of ``request`` (see the module docstring). Unreadable files get an ``error``."""
    from studio.core.explain import explain_input

    reporter = reporter or NullReporter()
    reporter.status("Loading the model")
    device = litert_backend(project, None if request.variant == "active" else request.variant) \
        if request.variant is not None else None
    ref = keras_backend(project, device.info.get("run") if device else None) \
        if (request.compare_float or device is None) else None
    main = device or ref
    files = list_inputs(request.paths, main.spec.kind)
    items = []
    for k, path in enumerate(files):
        check_cancel(reporter)
        try:
            inp = load_input(path, main.spec)
            label, conf, probs, p = _answer(main, inp)
            item: dict[str, Any] = {"path": str(path), "label": label, "confidence": conf, "probabilities": probs}
            if ref is not None and ref is not main:
                f_label, f_conf, f_probs, fp = _answer(ref, load_input(path, ref.spec))
                item["float"] = {"label": f_label, "confidence": f_conf, "probabilities": f_probs}
                item["differs"] = differs(p, fp)
            if request.why:
                why = explain_input(main, inp)
                item["why"] = {k2: why[k2] for k2 in why if k2 not in ("path", "model", "probabilities")}
        except StudioError as exc:
            item = {"path": str(path), "error": str(exc)}
        items.append(item)
        reporter.progress((k + 1) / len(files), f"{k + 1}/{len(files)} answered")
    return {
        "model": main.describe(),
        "float_model": ref.describe() if ref is not None and ref is not main else None,
        "items": items,
        "n_differ": sum(1 for i in items if i.get("differs")),
    }


def try_job(project: Any, request: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    """Worker-process job (plain data in and out) for the Try-it page's files / folder / CSV."""
    return try_files(project, TryRequest.from_json(request), reporter)


# ---------------------------------------------------------------------------------------------- frames
class FrameSource(Protocol):
    """Anything that yields camera-like frames: uint8 ``[h, w, 3]`` (RGB) arrays."""

    def read(self) -> np.ndarray | None:
        """The newest frame, or None when the source has ended (a camera never ends until closed)."""

    def close(self) -> None: ...


class FakeFrameSource:
    """Frames from a list of arrays (or image files), optionally looping: tests and benchmarks drive the live
    path with it. ``size`` resizes file frames to that (width, height) as a camera would deliver them."""

    def __init__(self, frames: Iterable[np.ndarray | str | Path], loop: bool = False,
                 size: tuple[int, int] | None = None) -> None:
        self._frames = [self._load(f, size) for f in frames]
        if not self._frames:
            raise ValueError("a fake frame source needs at least one frame")
        self.loop = loop
        self._i = 0
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
    """Answer frames of ``source`` with ``backend`` (a LiteRT variant), measuring frames per second."""

    def __init__(self, backend: Backend, source: FrameSource) -> None:
        if backend.spec.kind != "image":
            raise DatasetError("the live camera needs an image model", hint="this project classifies sensor data")
        self.backend = backend
        self.source = source
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
        inp = frame_input(frame, self.backend.spec)
        probs = self.backend.predict(inp.x)[0]
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
        while (max_frames is None or n < max_frames) and not should_stop():
            result = self.step()
            if result is None:
                break
            on_result(result)
            n += 1
        return n

    def explain(self, frame: np.ndarray) -> dict[str, Any]:
        """The why-map of one (frozen) frame through the same LiteRT model."""
        from studio.core.explain import explain_input

        return explain_input(self.backend, frame_input(frame, self.backend.spec))
