"""One input, one model, one answer: what why-maps, Try-it and the mislabel finder share.

* **Inputs.** :func:`load_input` turns a file (an image, or a sensor CSV holding one recording) or a camera
  frame (:func:`frame_input`) into model input exactly as training saw it: images through the one decoder
  (:func:`studio.core.data.image.load_image` / ``fit_image``), recordings cut into the run's windows and
  normalized with the run's statistics.
* **Backends.** A :class:`Backend` is a ``predict(x) -> probabilities`` function with the input spec and class
  names it needs. :func:`keras_backend` is the trained run (TensorFlow); :func:`litert_backend` is an
  optimized or exported ``.tflite`` variant run by LiteRT, which is what a device answers. The LiteRT backend
  never imports TensorFlow, so the GUI may run it in a thread of its own process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from studio.core.data.sensor.single import read_signal  # noqa: F401 - one recording from a CSV (TF-free)
from studio.core.errors import DatasetError, ProjectError
from studio.core.live import frame_pixels, litert_predictor  # noqa: F401 - TF-free (the live camera's)
from studio.core.pipeline import InputSpec

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff"})
CSV_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})


# ---------------------------------------------------------------------------------------------- inputs
@dataclass
class ModelInput:
    """One file or frame as the model sees it.

    ``x`` is float32 model input ``[n, ...]``: one image (n = 1) or every window of a recording. ``pixels`` is
    the uint8 image at model size; ``signal`` the raw recording ``[rows, channels]``; ``starts`` the first row
    of each window. ``size`` is the original (width, height) of an image.
    """

    kind: str  # "image" | "sensor"
    x: np.ndarray
    source: str = ""
    pixels: np.ndarray | None = None
    size: tuple[int, int] | None = None
    signal: np.ndarray | None = None
    starts: list[int] = field(default_factory=list)
    channels: tuple[str, ...] = ()
    policy: str = "windows"  # sensors: how the recording became model input (InputSpec.length_policy)


def image_input(path: str | Path, spec: InputSpec) -> ModelInput:
    from studio.core.data.image import image_size, load_image

    pixels = load_image(path, spec.size, spec.channels)
    return ModelInput("image", spec.preprocess(pixels[None]), str(path), pixels=pixels, size=image_size(path))


def frame_input(frame: np.ndarray, spec: InputSpec, source: str = "camera") -> ModelInput:
    """A camera frame (uint8 ``[h, w]``, ``[h, w, 3]`` or ``[h, w, 4]``) prepared like a training image."""
    pixels = frame_pixels(frame, spec.size, spec.channels)
    return ModelInput("image", spec.preprocess(pixels[None]), source, pixels=pixels,
                      size=(int(frame.shape[1]), int(frame.shape[0])))


def signal_input(signal: np.ndarray, spec: InputSpec, source: str = "") -> ModelInput:
    """The model inputs of one recording as the run's input spec says (windows, or the whole recording
    resampled / padded; see :mod:`studio.core.data.sensor.shaping`), normalized as in training."""
    signal = np.asarray(signal, dtype=np.float32)
    if not len(signal):
        raise DatasetError("the recording has no rows", path=source or None)
    x, _ = spec.sensor_inputs([signal])
    stride = int(spec.stride) or int(spec.window)
    starts = [k * stride for k in range(len(x))] if spec.length_policy == "windows" else [0]
    return ModelInput("sensor", x, source, signal=signal, starts=starts, channels=tuple(spec.channel_names),
                      policy=spec.length_policy)


def load_input(path: str | Path, spec: InputSpec) -> ModelInput:
    """A file as model input: an image for image models, a one-recording CSV for sensor models."""
    path = checked_file(path, spec)
    if spec.kind == "image":
        return image_input(path, spec)
    return signal_input(read_signal(path, tuple(spec.channel_names)), spec, str(path))


def checked_file(path: str | Path, spec: InputSpec) -> Path:
    """``path`` if it is a file of the kind the model reads (an image, or a CSV), else a DatasetError saying so."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError("no such file", path=path, hint="choose an existing image or CSV file")
    suffix = path.suffix.lower()
    if spec.kind == "image":
        if suffix not in IMAGE_SUFFIXES:
            raise DatasetError(f"this model reads images, not '{suffix or 'no extension'}' files", path=path,
                               hint="choose a png, jpg, bmp, gif or tiff file")
    elif suffix not in CSV_SUFFIXES:
        raise DatasetError(f"this model reads sensor CSV files, not '{suffix or 'no extension'}'", path=path,
                           hint="choose a CSV file with the columns " + ", ".join(spec.channel_names))
    return path


# ---------------------------------------------------------------------------------------------- backends
@dataclass
class Backend:
    """A model ready to answer: ``predict(float32 input [n, ...]) -> probabilities [n, classes]``."""

    kind: str  # "keras" | "litert"
    name: str  # run id or variant name
    spec: InputSpec
    classes: list[str]
    predict: Callable[[np.ndarray], np.ndarray]
    ident: str  # changes whenever the model's weights change (cache key)
    model: Any = None  # the tf_keras model (keras backends only: Grad-CAM needs it)
    info: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        what = "trained model (float, TensorFlow)" if self.kind == "keras" else (
            f"{self.info.get('quantize', '?')} variant through LiteRT")
        return {"kind": self.kind, "name": self.name, "what": what, **self.info}


def _mtime_ident(*paths: Path) -> str:
    parts = []
    for p in paths:
        try:
            st = p.stat()
            parts.append(f"{p.name}:{st.st_mtime_ns}:{st.st_size}")
        except OSError:
            parts.append(f"{p.name}:missing")
    return "|".join(parts)


def keras_backend(project: Any, run_id: str | None = None) -> Backend:
    """The run's tf_keras model (the active run by default) with a compiled inference function."""
    from studio.core.tfenv import load_tf
    from studio.core.train import load_run_model

    tf, _ = load_tf()
    model, info = load_run_model(project, run_id)
    compiled = tf.function(lambda t: model(t, training=False), reduce_retracing=True)

    def predict(x: np.ndarray) -> np.ndarray:
        out = [compiled(tf.convert_to_tensor(np.asarray(x[i : i + 256], dtype=np.float32))).numpy()
               for i in range(0, len(x), 256)]
        return np.concatenate(out) if out else np.zeros((0, info.n_classes), np.float32)

    return Backend("keras", info.run_id, info.spec, list(info.classes), predict,
                   f"run:{info.run_id}:{_mtime_ident(info.weights_path)}", model=model, info={"run": info.run_id})


def litert_backend(project: Any, variant: str | None = None, num_threads: int = 1) -> Backend:
    """A variant (the active one by default) through LiteRT, exactly as an exported bundle runs it."""
    from studio.core.optimize import load_variant

    data, model_bytes = load_variant(project, variant)
    spec_json = data.get("input_spec")
    classes = data.get("classes")
    if not spec_json or not classes:
        raise ProjectError(f"variant {data['name']!r} does not say its input spec or classes",
                           path=data.get("path"), hint="build it again with 'studio optimize'")
    info = {"variant": data["name"], "quantize": data.get("quantize"), "run": data.get("run_id"),
            "bytes": data.get("bytes")}
    return Backend("litert", str(data["name"]), InputSpec.from_json(spec_json), [str(c) for c in classes],
                   litert_predictor(model_bytes, num_threads), f"variant:{data['name']}:{data.get('created')}:"
                   f"{_mtime_ident(Path(data['path']))}", info=info)


def backend_for(project: Any, run_id: str | None = None, variant: str | None = None) -> Backend:
    """The LiteRT variant when ``variant`` is given ("active" = the active one), else the Keras run."""
    if variant is not None:
        return litert_backend(project, None if variant == "active" else variant)
    return keras_backend(project, run_id)


def predict_input(backend: Backend, inp: ModelInput) -> np.ndarray:
    """Class probabilities of the whole input: the image's, or the mean over a recording's windows (the
    recording-level answer)."""
    probs = backend.predict(inp.x)
    return probs.mean(axis=0) if len(probs) > 1 else probs[0]
