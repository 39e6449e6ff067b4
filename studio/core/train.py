"""Training: one function from a project and a config to a finished run folder.

``train(project, config, reporter)`` decodes the data once, builds the model from the registry, fits it with
one callback that talks to the reporter (batch/epoch metrics, cancel within one batch, best weights, early
stopping: :mod:`studio.core.train_callbacks`), and writes ``runs/<id>/`` (:mod:`studio.core.runs`). The run
is valid from its first best epoch on: a Stop, Ctrl-C, an error or ``kill -9`` after that leaves a run with its
best weights (``RunRecorder``); a run stopped before its first epoch leaves nothing behind. The settings are :class:`~studio.core.train_config.TrainConfig`.

The training API is importable from here: ``TrainConfig``, ``default_config``, ``train``, ``load_run_model``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studio.core import models
from studio.core.errors import Cancelled, ConfigError, ProjectError, StudioError
from studio.core.fsutil import atomic_write_json
from studio.core.pipeline import Augmentation, InputSpec, SplitData, dataset_from_split, load_split, spec_for_project
from studio.core.precise_bn import precise_bn_plan
from studio.core.reporter import NullReporter, Reporter, check_cancel
from studio.core.run_history import offer_run
from studio.core.runs import RunInfo, RunRecorder, load_run_model, model_json, package_versions, save_weights_atomic
from studio.core.train_callbacks import StopNow, make_callback
from studio.core.closed_form import sensor_spec
from studio.core.train_config import TrainConfig, default_config

__all__ = ["TrainConfig", "TrainResult", "RunInfo", "class_weights_for", "default_config", "load_run_model",
           "make_strategy", "train"]

IMBALANCE_RATIO = 1.5


@dataclass
class TrainResult:
    run: str
    path: Path
    arch: str
    params: int
    epochs: list[dict[str, Any]]
    best_epoch: int
    best_val_accuracy: float | None
    stopped: bool
    stop_reason: str | None
    seconds: float
    config: TrainConfig
    activation: dict[str, Any] | None = None  # run_history.offer_run's answer: is this run now the model?

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "path": str(self.path),
            "arch": self.arch,
            "params": self.params,
            "epochs": self.epochs,
            "best_epoch": self.best_epoch,
            "best_val_accuracy": self.best_val_accuracy,
            "stopped": self.stopped,
            "stop_reason": self.stop_reason,
            "seconds": round(self.seconds, 3),
            "config": self.config.to_json(),
            "stop_note": (f"kept the best weights (epoch {self.best_epoch}) as run {self.run}" if self.stopped
                          else None),
            "active": bool(self.activation and self.activation.get("active")),
            "activation": self.activation,
        }


# ---------------------------------------------------------------------------------------------- helpers
def class_weights_for(y: np.ndarray, n_classes: int, ratio: float = IMBALANCE_RATIO) -> dict[int, float] | None:
    """Balanced weights n / (k * count_c) when the largest class outnumbers the smallest by more than ``ratio``."""
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=n_classes).astype(np.float64)
    present = counts[counts > 0]
    if len(present) < 2 or present.max() / present.min() <= ratio:
        return None
    total, k = counts.sum(), len(present)
    return {int(c): (float(total / (k * counts[c])) if counts[c] > 0 else 1.0) for c in range(n_classes)}


def make_strategy(distribute: str) -> Any:
    """The tf.distribute strategy for ``distribute`` (None for "none")."""
    from studio.core.tfenv import load_tf

    tf, _ = load_tf()
    if distribute == "none":
        return None
    if distribute == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        if gpus:
            return tf.distribute.MirroredStrategy([d.name for d in gpus])
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(cpus, cross_device_ops=tf.distribute.ReductionToOneDevice())
    if not os.environ.get("TF_CONFIG"):
        raise ConfigError(
            "multiworker training needs TF_CONFIG describing the cluster",
            hint='set TF_CONFIG on every node, e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}',
        )
    try:
        json.loads(os.environ["TF_CONFIG"])
    except ValueError as exc:
        raise ConfigError(f"TF_CONFIG is not valid JSON ({exc})") from exc
    return tf.distribute.MultiWorkerMirroredStrategy()


def _is_chief(strategy: Any) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    spec = resolver.cluster_spec().as_dict() if resolver.cluster_spec() else {}
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in spec


class _null_scope:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


# ---------------------------------------------------------------------------------------------- train steps
def _load_data(project: Any, manifest: dict[str, Any], spec: InputSpec,
               reporter: Reporter) -> tuple[SplitData, SplitData]:
    """The decoded train and validation splits; a training split without two classes is a ProjectError."""
    reporter.status("Loading data")
    recordings = None
    if spec.kind == "sensor":
        from studio.core.data.sensor import load_recordings

        recordings = load_recordings(project)
    train_data = load_split(project, "train", spec, manifest, reporter, (0.0, 0.08), allow_streaming=True,
                            recordings=recordings)
    val_data = load_split(project, "val", spec, manifest, reporter, (0.08, 0.1), allow_streaming=True,
                          recordings=recordings)
    check_cancel(reporter)
    if len(train_data) == 0:
        raise ProjectError("the training split is empty", path=project.manifest_path, hint="import more data")
    present = sorted(set(int(v) for v in train_data.y))
    if len(present) < 2:
        raise ProjectError("the training split has fewer than two classes", path=project.manifest_path,
                           hint="import data with at least two classes")
    if len(val_data) == 0:
        reporter.status("No validation split: the best epoch is chosen on training accuracy")
    return train_data, val_data


def _datasets(train_data: SplitData, val_data: SplitData, spec: InputSpec, config: TrainConfig,
              global_batch: int) -> tuple[Any, Any]:
    """tf.data pipelines: the training one shuffled and augmented as configured, validation as is."""
    aug = Augmentation(flip=config.flip) if config.augment else Augmentation.none()
    if spec.kind == "sensor" and config.augment:
        aug = Augmentation(flip=False, rotate_deg=0.0, shift=0.0, brightness=0.0, contrast=0.0)
    train_ds = dataset_from_split(train_data, spec, global_batch, augment=aug, shuffle=True, seed=int(config.seed))
    val_ds = dataset_from_split(val_data, spec, global_batch) if len(val_data) else None
    return train_ds, val_ds


def _build_model(keras: Any, config: TrainConfig, spec: InputSpec, n_classes: int, strategy: Any,
                 reporter: Reporter) -> tuple[Any, dict[str, Any]]:
    """The compiled model (with pretrained weights if asked) and its resolved registry parameters."""
    params = models.resolve_params(config.arch, **config.model_params())
    with strategy.scope() if strategy is not None else _null_scope():
        model = models.build_model(config.arch, spec.shape, n_classes, **params)
        if config.pretrained != "none":
            from studio.core.weights import load_imagenet, resolve_weights

            reporter.status("Loading pretrained weights")
            path = resolve_weights(config.pretrained, float(params["width"]), int(config.input_size or 96))
            load_imagenet(model, path, float(params["width"]))
        model.compile(
            optimizer=keras.optimizers.Adam(float(config.learning_rate)),
            loss=keras.losses.SparseCategoricalCrossentropy(),
            metrics=["accuracy"],
        )
    return model, params


def _open_run(project: Any, strategy: Any) -> tuple[str, Path, bool]:
    """(run id, folder, chief): the chief writes the run; other workers train in lock-step into a temp folder
    that is thrown away."""
    chief = strategy is None or _is_chief(strategy)
    if chief:
        run_id, run_path = project.new_run_dir()
    else:
        run_id, run_path = "worker", Path(tempfile.mkdtemp(prefix="studio-worker-"))
    return run_id, run_path, chief


def _write_config(run_path: Path, config: TrainConfig, classes: list[str], replicas: int, global_batch: int,
                  cw: dict[int, float] | None, n_train: int, n_val: int) -> None:
    atomic_write_json(run_path / "config.json", {
        "config": config.to_json(),
        "seed": int(config.seed),
        "versions": package_versions(),
        "replicas": replicas,
        "global_batch_size": global_batch,
        "class_weights": {classes[k]: round(v, 4) for k, v in cw.items()} if cw else None,
        "n_train": n_train,
        "n_val": n_val,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    })


def _fit(model: Any, train_ds: Any, val_ds: Any, config: TrainConfig, cw: dict[int, float] | None,
         callback: Any, run_path: Path) -> None:
    """``model.fit``; the run folder goes when it is cancelled before its first epoch finished (an error keeps a
    run that has a best epoch: see :func:`_abandon`)."""
    try:
        model.fit(train_ds, validation_data=val_ds, epochs=int(config.epochs), class_weight=cw,
                  callbacks=[callback], verbose=0)
    except StopNow:
        pass
    if not callback.history or callback.best_weights is None:
        shutil.rmtree(run_path, ignore_errors=True)
        raise Cancelled("training was stopped before the first epoch finished; nothing was saved")


def _abandon(project: Any, recorder: RunRecorder, run_id: str, callback: Any, exc: BaseException) -> None:
    """Training ends by an exception (a second Ctrl-C, a full disk): keep the best epoch saved so far as an
    interrupted / failed run, or remove a run that has none."""
    state = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
    body = callback.summary() if callback is not None else {}
    if recorder.abandon(state, f"{type(exc).__name__}: {exc}"[:200], body):
        try:
            offer_run(project, run_id, state)
        except (OSError, StudioError):
            pass


def _finish(project: Any, model: Any, callback: Any, config: TrainConfig, recorder: RunRecorder,
            run: tuple[str, Path, bool], t_start: float, settings_before: dict[str, Any],
            activate: str = "finished") -> TrainResult:
    """Best weights back into the model, the final ``metrics.json`` (state finished or stopped), and the
    project's active run (per the run contract, :func:`studio.core.run_history.offer_run` with policy
    ``activate``) and the train settings this run changed (``settings_before``: those at its start)."""
    run_id, run_path, chief = run
    weights_path = run_path / "weights.h5"
    model.set_weights(callback.best_weights)
    if not weights_path.exists():
        save_weights_atomic(model, weights_path)
        recorder.best_saved()
    stopped = callback.cancelled
    reason = "cancelled" if stopped else ("early_stopping" if callback.early_stopped else None)
    best_val = callback.summary()["best_val_accuracy"]
    seconds = time.perf_counter() - t_start
    recorder.write("stopped" if stopped else "finished",
                   dict(callback.summary(), stopped=stopped, stop_reason=reason, seconds=round(seconds, 3)))
    if chief:
        # Only the settings this run changed: a choice made elsewhere meanwhile (the Model page, another
        # command) is kept, and the next training starts from what this one used.
        used = {k: v for k, v in config.to_json().items() if settings_before.get(k) != v}
        activation = offer_run(project, run_id, "stopped" if stopped else "finished", activate, settings=used)
    else:
        shutil.rmtree(run_path, ignore_errors=True)
        activation = None
    return TrainResult(run=run_id, path=run_path, arch=config.arch, params=int(model.count_params()),
                       epochs=callback.history, best_epoch=callback.best_epoch, best_val_accuracy=best_val,
                       stopped=stopped, stop_reason=reason, seconds=seconds, config=config, activation=activation)


def _with_teacher(project: Any, model: Any, config: TrainConfig, reporter: Reporter) -> Any:
    """``model``, or with ``config.teacher`` a distiller that trains it against that run's outputs too (its
    weights, saved and restored by the callback, are the student's)."""
    if not config.teacher:
        return model
    from studio.core.optimize.distill import make_distiller, resize_for_teacher

    teacher, info = load_run_model(project, config.teacher)
    reporter.status(f"Learning from run {info.run_id} ({info.arch}) as teacher, and from the labels")
    distiller = make_distiller(model, teacher, teacher_input=resize_for_teacher(teacher, model.input_shape[1:]))
    distiller.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"])
    return distiller


# ---------------------------------------------------------------------------------------------- train
def train(project: Any, config: TrainConfig, reporter: Reporter | None = None, *,
          activate: str = "finished") -> TrainResult:
    """Train ``config`` on the project's train split, validate on val, and write a finished run.

    Cancelling keeps the best weights so far and still writes a valid run (``metrics.json`` says
    ``"stopped": true``); cancelling before the first epoch ends removes the run folder and raises Cancelled.
    Whether the run becomes the project's model follows the run contract with policy ``activate``
    (:func:`studio.core.run_history.offer_run`: "finished", or "better" for the GUI, which asks the user);
    ``TrainResult.activation`` says what happened.
    """
    from studio.core.tfenv import load_tf

    if project.is_anomaly:  # anomaly projects fit a detector from good examples (studio.core.anomaly.train)
        from studio.core.anomaly.train import train_anomaly

        return train_anomaly(project, config, reporter)  # type: ignore[arg-type,return-value]
    reporter = reporter or NullReporter()
    if project.modality == "sensor" and (config.select or models.get_spec(config.arch).trained_by == "closed form"):
        from studio.core.closed_form import train_sensor

        return train_sensor(project, config.validate(project.modality), reporter, activate=activate)
    t_start = time.perf_counter()
    manifest = project.load_manifest()
    settings_before = dict(project.settings.get("train") or {})
    config.validate(project.modality)
    classes = list(manifest["classes"])
    tf, keras = load_tf()
    strategy = make_strategy(config.distribute)  # first: MultiWorkerMirroredStrategy must precede other ops
    replicas = strategy.num_replicas_in_sync if strategy is not None else 1
    global_batch = int(config.batch_size) * replicas
    keras.utils.set_random_seed(int(config.seed))

    spec = sensor_spec(project, manifest, config) if project.modality == "sensor" else \
        spec_for_project(project, manifest, config.input_size, rgb=config.pretrained != "none")
    train_data, val_data = _load_data(project, manifest, spec, reporter)
    has_val = len(val_data) > 0
    train_ds, val_ds = _datasets(train_data, val_data, spec, config, global_batch)
    steps = max(1, math.ceil(len(train_data) / global_batch))
    cw = class_weights_for(train_data.y, len(classes)) if config.class_weights else None
    if cw:
        reporter.status("Classes are imbalanced: using class weights")
    model, params = _build_model(keras, config, spec, len(classes), strategy, reporter)
    fit_model = _with_teacher(project, model, config, reporter)  # before the run folder: a bad teacher leaves none

    run = _open_run(project, strategy)
    recorder = RunRecorder(run[1], model_json(config.arch, params, spec, classes, project.task), keep=run[2],
                           on_first_best=lambda: offer_run(project, run[0], "running"))
    callback = None
    try:
        _write_config(run[1], config, classes, replicas, global_batch, cw, len(train_data), len(val_data))
        precise_bn, calibration = precise_bn_plan(train_data.x, spec, int(config.seed), steps, global_batch,
                                                  strategy is not None, bool(config.augment))
        callback = make_callback(keras, reporter, int(config.epochs), steps, run[1] / "weights.h5",
                                 int(config.patience), has_val, precise_bn=precise_bn, calibration=calibration,
                                 recorder=recorder)
        reporter.status(f"Training {config.arch} ({model.count_params():,} parameters) on {len(train_data)} "
                        "samples")
        _fit(fit_model, train_ds, val_ds, config, cw, callback, run[1])
    except Cancelled:
        raise
    except BaseException as exc:
        _abandon(project, recorder, run[0], callback, exc)
        raise
    result = _finish(project, model, callback, config, recorder, run, t_start, settings_before, activate)
    reporter.progress(1.0, "training finished" if not result.stopped else "training stopped")
    return result
