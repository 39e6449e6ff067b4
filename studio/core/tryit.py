"""Try it: new files and live camera frames answered by the model the device will run.

* :func:`try_files` answers files, a folder or a sensor CSV with a **LiteRT variant** (the exported or chosen
  ``.tflite``), with its why-map (occlusion through LiteRT, so the map explains the device's answer too), and
  beside it the float model's answer (the trained run) flagged when the two differ.
* The live camera path (:class:`LiveClassifier` over a :class:`FrameSource`, :class:`FakeFrameSource` in
  tests and the benchmark) lives in :mod:`studio.core.live`, which is TensorFlow-free even statically so the
  window may run it in a thread; it is re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from studio.core.errors import DatasetError, StudioError
from studio.core.inference import (CSV_SUFFIXES, IMAGE_SUFFIXES, Backend, frame_input, keras_backend,
                                   litert_backend, load_input)
from studio.core.live import FPS_WINDOW, FakeFrameSource, FrameResult, FrameSource, LiveClassifier  # noqa: F401
from studio.core.reporter import NullReporter, Reporter, check_cancel

MAX_FILES = 1000
DIFFER_CONFIDENCE = 0.05  # the float answer is shown when top-1 differs or confidence moves more than this


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


def answering_models(project: Any, request: "TryRequest", device_of: Callable[[Any, str | None], Any],
                     float_of: Callable[[Any, str | None], Any]) -> tuple[Any, Any, Any]:
    """(device model or None, float model or None, the one that answers) for ``request``: the variant
    (``device_of(project, name)``, None = the active one) unless the float model alone was asked for, and the
    float model of the variant's run (``float_of(project, run_id)``) when it is compared or answers alone."""
    device = device_of(project, None if request.variant == "active" else request.variant) \
        if request.variant is not None else None
    ref = float_of(project, device.info.get("run") if device else None) \
        if (request.compare_float or device is None) else None
    return device, ref, device or ref


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

    if getattr(project, "is_anomaly", False):  # a detector answers OK / NOT OK with a score and a map
        from studio.core.anomaly.tryit import try_anomaly_files

        return try_anomaly_files(project, request, reporter)
    reporter = reporter or NullReporter()
    reporter.status("Loading the model")
    device, ref, main = answering_models(project, request, litert_backend, keras_backend)
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
def explain_frame(backend: Backend, frame: np.ndarray) -> dict[str, Any]:
    """The why-map of one (frozen) camera frame through ``backend`` (the GUI asks the worker with a PNG)."""
    from studio.core.explain import explain_input

    return explain_input(backend, frame_input(frame, backend.spec))
