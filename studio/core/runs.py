"""Run folders: what ``runs/<id>/model.json`` says, rebuilding a run's model, and writing its weights.

A run folder holds ``config.json`` (settings, seed, package versions), ``model.json`` (registry id, params,
input spec, classes), ``metrics.json`` and ``weights.h5`` (best weights, ``save_weights`` only). Models are
rebuilt from the registry id and parameters; no code, pickle or full-model file is ever loaded, and what
model.json and weights.h5 declare is checked before anything is built or read (:mod:`studio.core.untrusted`).

A run is valid from its first best epoch on, whatever happens to the process after (:class:`RunRecorder`):
``weights.h5`` is replaced atomically at every new best epoch, ``model.json`` is written right after the first,
and ``metrics.json`` after every epoch with ``state: "running"`` (and ``stopped: true, stop_reason:
"interrupted"`` for readers that know no states), the process id and host. The last write says ``"finished"``
(ran to its end or stopped early), ``"stopped"`` (the user's Stop, Ctrl-C), ``"interrupted"`` (a second Ctrl-C)
or ``"failed"`` (an error such as a full disk). A run whose process was killed keeps ``"running"`` in its file:
:func:`run_state` reports it ``"interrupted"`` once that process is gone; its best weights are usable.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio import __version__
from studio.core import models
from studio.core.errors import ProjectError, StudioError
from studio.core.formats import FORMATS, read_versioned
from studio.core.fsutil import atomic_path, atomic_write_json, read_json
from studio.core.pipeline import InputSpec
from studio.core.untrusted import check_run_model_json, load_checked_weights

MODEL_FORMAT = FORMATS["model"].current  # model.json's "format", checked on load (studio.core.formats)


@dataclass
class RunInfo:
    """What ``model.json`` says about a run: enough to rebuild the model and feed it."""

    run_id: str
    path: Path
    arch: str
    params: dict[str, Any]
    input_shape: tuple[int, ...]
    classes: list[str]
    spec: InputSpec
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def weights_path(self) -> Path:
        return self.path / "weights.h5"


def model_json(arch: str, params: dict[str, Any], spec: InputSpec, classes: list[str], task: str) -> dict[str, Any]:
    return {
        "format": MODEL_FORMAT,
        "task": task,
        "arch": arch,
        "params": params,
        "input_shape": list(spec.shape),
        "n_classes": len(classes),
        "classes": list(classes),
        "input_spec": spec.to_json(),
        "output": "softmax probabilities, one per class in 'classes' order",
    }


def read_run_info(project: Any, run_id: str | None = None) -> RunInfo:
    """Parse ``model.json`` of a run (the active one by default), checking it names a known architecture."""
    path = project.run_dir(run_id)
    file = path / "model.json"
    try:
        d = read_versioned("model", file)
        arch = str(d["arch"])
        info = RunInfo(
            run_id=path.name,
            path=path,
            arch=arch,
            params=dict(d.get("params") or {}),
            input_shape=tuple(int(v) for v in d["input_shape"]),
            classes=[str(c) for c in d["classes"]],
            spec=InputSpec.from_json(d["input_spec"]),
            extra={k: v for k, v in d.items() if k not in ("arch", "params", "input_shape", "classes", "input_spec")},
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ProjectError(f"model.json is unreadable or incomplete ({exc})", path=file) from exc
    if arch.startswith("anomaly-"):
        raise ProjectError("this run is an anomaly detector, not a classifier", path=file,
                           hint="this step is for classifier projects; an anomaly-detection project is checked with "
                                "Evaluate (studio evaluate) and tried with Try it (studio try)")
    if arch not in models.REGISTRY:
        raise ProjectError(f"model.json names an unknown architecture {arch!r}", path=file,
                           hint="this run was made by a different Studio version")
    check_run_model_json(d, info.spec, file)
    return info


def load_run_model(project: Any, run_id: str | None = None) -> tuple[Any, RunInfo]:
    """Rebuild a run's model from the registry and load its best weights (no code or pickle is loaded)."""
    info = read_run_info(project, run_id)
    try:
        model = models.build_model(info.arch, info.input_shape, info.n_classes, **info.params)
    except StudioError as exc:
        raise ProjectError(f"cannot rebuild the model of {info.run_id}: {exc.message}", path=info.path) from exc
    load_checked_weights(model, info.weights_path, "the weights do not fit the model")
    return model, info


def read_run_config(run_path: str | Path) -> dict[str, Any]:
    """The training settings of a run (``config.json``'s ``"config"``: the TrainConfig fields), {} if unreadable.

    ``config.json`` also holds the seed, package versions and data sizes at its top level; the settings are one
    level down (reading ``learning_rate`` at the top level found nothing and fine-tuning fell back to 5e-4).
    """
    try:
        cfg = read_json(Path(run_path) / "config.json").get("config")
    except (OSError, ValueError, AttributeError):
        return {}
    return dict(cfg) if isinstance(cfg, dict) else {}


def save_weights_atomic(model: Any, path: Path) -> None:
    """``model.save_weights`` to a temporary ``.h5`` file beside ``path``, renamed over it when complete."""
    with atomic_path(path) as tmp:
        model.save_weights(str(tmp))


class WeightsLayout:
    """Where each array of ``model.get_weights()`` goes in Keras's HDF5 weights file, captured once, so a
    snapshot of the weights is written without reading the model again.

    ``model.save_weights`` reads every variable once more through TensorFlow and makes a few thousand small
    HDF5 calls: for MobileNetV2-0.35 (262 arrays) 0.45-0.66 s of wall time (0.12 s CPU) per improving epoch
    on this shared 2-core host, against ~0.05 s CPU here from the copy the callback keeps anyway. The file is
    the same format (tf_keras legacy h5: ``layer_names``, ``backend``, ``keras_version``; a group per layer,
    sorted by name, with ``weight_names`` and a dataset per weight; ``top_level_model_weights``), so
    ``model.load_weights`` and the untrusted-file checks read it unchanged (tests/core/test_train_speed.py
    compares it with Keras's own file).
    """

    def __init__(self, model: Any) -> None:
        from studio.core.tfenv import load_tf

        _, keras = load_tf()
        index = {id(v): i for i, v in enumerate(model.weights)}  # get_weights() is model.weights, in order

        def entries(weights: list[Any]) -> list[tuple[bytes, int]]:
            return [(w.name.encode("utf8"), index[id(w)]) for w in weights]

        self.layer_names = [layer.name.encode("utf8") for layer in model.layers]
        self.groups = [(layer.name, entries(layer.trainable_weights + layer.non_trainable_weights))
                       for layer in sorted(model.layers, key=lambda x: x.name)]
        self.top = entries(list(model._trainable_weights) + list(model._non_trainable_weights))
        self.keras_version = str(keras.__version__).encode("utf8")
        self.n = len(index)

    def write(self, path: Path, values: list[np.ndarray]) -> None:
        """Write ``values`` (``model.get_weights()`` order) to ``path`` atomically, as Keras would."""
        import h5py
        from tf_keras.src.saving.legacy.hdf5_format import save_attributes_to_hdf5_group

        if len(values) != self.n:
            raise ValueError(f"{len(values)} arrays for a model with {self.n} weights")
        with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
            save_attributes_to_hdf5_group(f, "layer_names", self.layer_names)
            f.attrs["backend"] = b"tensorflow"
            f.attrs["keras_version"] = self.keras_version
            for name, entries in [*self.groups, ("top_level_model_weights", self.top)]:
                g = f.create_group(name)
                save_attributes_to_hdf5_group(g, "weight_names", [n for n, _ in entries])
                for wname, i in entries:  # one call per dataset (create, then assign: ~1.5x the CPU)
                    g.create_dataset(wname, data=np.asarray(values[i]))


def package_versions() -> dict[str, str]:
    from studio.core.tfenv import load_tf

    tf, keras = load_tf()
    return {
        "studio": __version__,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "tf_keras": getattr(keras, "__version__", "?"),
        "numpy": np.__version__,
        "platform": platform.platform(),
    }


# ---------------------------------------------------------------------------------------------- run states
STATES = ("running", "finished", "stopped", "interrupted", "failed")


def run_state(run_path: str | Path) -> str:
    """The state of a run folder (see the module docstring); "interrupted" for a dead process's "running"."""
    from studio.core.commit import creator_alive

    try:
        metrics = read_json(Path(run_path) / "metrics.json")
    except (OSError, ValueError):
        return "interrupted" if (Path(run_path) / "model.json").exists() else "failed"
    if not isinstance(metrics, dict):
        return "failed"
    state = metrics.get("state")
    if state is None:  # written before run states existed
        return "stopped" if metrics.get("stopped") else "finished"
    if state == "running":
        pid = metrics.get("pid")
        if metrics.get("host") == socket.gethostname() and isinstance(pid, int) and not creator_alive(pid):
            return "interrupted"
    return str(state)


class RunRecorder:
    """Keeps one run folder valid while training writes it (see the module docstring)."""

    def __init__(self, run_path: Path, model_meta: dict[str, Any], keep: bool = True,
                 on_first_best: Any = None) -> None:
        self.path = Path(run_path)
        self.model_meta = model_meta
        self.keep = keep  # False for non-chief workers: their folder is thrown away
        self.on_first_best = on_first_best  # e.g. make the run active when the project has no usable one
        self.has_best = False
        self.started = time.strftime("%Y-%m-%dT%H:%M:%S%z")

    def best_saved(self) -> None:
        """Called right after ``weights.h5`` holds a new best epoch: the run becomes loadable."""
        if not self.has_best:
            atomic_write_json(self.path / "model.json", self.model_meta)
            self.has_best = True
            if self.on_first_best is not None and self.keep:
                self.on_first_best()

    def write(self, state: str, body: dict[str, Any]) -> None:
        atomic_write_json(self.path / "metrics.json", {
            "state": state, **body, "pid": os.getpid(), "host": socket.gethostname(), "started": self.started,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        })

    def running(self, body: dict[str, Any]) -> None:
        """After each epoch: what a reader sees if the process dies now (a stopped, interrupted run)."""
        if self.has_best:
            self.write("running", dict(body, stopped=True, stop_reason="interrupted"))

    def abandon(self, state: str, reason: str, body: dict[str, Any]) -> bool:
        """The process leaves early (an error, a second Ctrl-C): keep a run that has a best epoch, marked
        ``state``; remove one that has none. True when the run was kept. Never raises an OSError."""
        if self.has_best and self.keep:
            try:
                self.write(state, dict(body, stopped=True, stop_reason=reason))
            except OSError:
                pass  # metrics.json still says "running": run_state() reads that as interrupted
            return True
        shutil.rmtree(self.path, ignore_errors=True)
        return False
