"""Training: one function from a project and a config to a finished run folder.

``train(project, config, reporter)`` decodes the data once, builds the model from the registry, fits it with
one callback that talks to the reporter (batch/epoch metrics, cancel within one batch, best weights, early
stopping), and writes ``runs/<id>/``: ``config.json`` (settings, seed, package versions), ``model.json``
(registry id, params, input spec, classes), ``metrics.json`` and ``weights.h5`` (best weights only). A run
becomes visible to the rest of Studio only when ``model.json`` is written, at the very end; a run cancelled
before its first epoch leaves nothing behind.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from studio import __version__
from studio.core import models
from studio.core.errors import Cancelled, ConfigError, ProjectError, StudioError
from studio.core.fsutil import atomic_write_json, read_json
from studio.core.project import modality_of
from studio.core.pipeline import Augmentation, InputSpec, dataset_from_split, load_split, spec_for_project
from studio.core.reporter import NullReporter, Reporter, check_cancel

DISTRIBUTE = ("none", "mirrored", "multiworker")
MODEL_FORMAT = 1
IMBALANCE_RATIO = 1.5
LR_FACTOR = 0.3
# Default run length: about STEP_BUDGET optimizer steps, within [MIN_EPOCHS, MAX_EPOCHS] (early stopping ends it
# sooner when validation stops improving).
STEP_BUDGET = 3000
MIN_EPOCHS = 30
MAX_EPOCHS = 150
# Small data (few steps per epoch): recompute BatchNorm statistics exactly before each validation.
PRECISE_BN_MAX_STEPS = 50
PRECISE_BN_SAMPLES = 256
# ...but never more than 1/16 of the training set (at least 64 samples): the calibration is an extra forward
# pass per epoch, and 256 samples cost ~10 % of a 960-image epoch (bench/train_throughput.py); per-channel
# statistics over 64 images x every spatial position are already tight.
PRECISE_BN_FRACTION = 16
PRECISE_BN_MIN_SAMPLES = 64
MIN_LR = 1e-6


# ---------------------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class TrainConfig:
    """Every choice of the Train step. Frozen: change it with :meth:`replace`, never in place."""

    arch: str
    input_size: int | None = None  # image side; None for sensors
    width: float | None = None  # architecture width multiplier; None = the architecture's default
    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 1e-3
    augment: bool = True
    # Horizontal flips change the meaning of text, digits and left/right-handed parts, so they are opt-in.
    flip: bool = False
    pretrained: str = "none"  # "none" | "imagenet" | path to an .h5 file
    patience: int = 8
    seed: int = 1234
    distribute: str = "none"
    class_weights: bool = True
    dropout: float | None = None

    def replace(self, **changes: Any) -> "TrainConfig":
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def model_params(self) -> dict[str, Any]:
        """Registry parameters implied by this config (None values take the architecture's defaults)."""
        params: dict[str, Any] = {"width": self.width, "dropout": self.dropout}
        if self.arch == "mobilenetv2" and self.pretrained != "none":
            # Pretrained statistics are good already; let them move, but not as fast as from scratch.
            params["bn_momentum"] = 0.99
        return {k: v for k, v in params.items() if v is not None}

    def validate(self, modality: str) -> "TrainConfig":
        """Raise ConfigError for anything out of range or not fitting ``modality`` ("image" | "sensor", or a
        task, whose modality is used); returns self."""
        modality = modality_of(modality)
        spec = models.get_spec(self.arch, modality)
        models.resolve_params(self.arch, **self.model_params())
        if modality == "image":
            if self.input_size is None:
                raise ConfigError("an input size is needed for image models")
            lo, hi = spec.input_sizes or (16, 256)
            if not lo <= int(self.input_size) <= hi:
                raise ConfigError(
                    f"{spec.title} takes input sizes from {lo} to {hi} pixels, got {self.input_size}",
                    hint=f"use --input-size between {lo} and {hi}",
                )
        if not 1 <= int(self.epochs) <= 10000:
            raise ConfigError(f"epochs must be 1 or more, got {self.epochs}")
        if not 1 <= int(self.batch_size) <= 65536:
            raise ConfigError(f"batch size must be 1 or more, got {self.batch_size}")
        if not 0 < float(self.learning_rate) <= 1.0:
            raise ConfigError(f"learning rate must be in (0, 1], got {self.learning_rate}")
        if int(self.patience) < 0:
            raise ConfigError(f"patience must be 0 (off) or more, got {self.patience}")
        if self.distribute not in DISTRIBUTE:
            raise ConfigError(f"unknown distribution {self.distribute!r}", hint=f"use one of {', '.join(DISTRIBUTE)}")
        if self.pretrained != "none" and "imagenet" not in spec.pretrained:
            raise ConfigError(
                f"{spec.title} has no pretrained weights", hint="use --pretrained none, or --arch mobilenetv2"
            )
        return self


def _image_side(manifest: dict[str, Any]) -> int | None:
    stats = manifest.get("image_size") or {}
    median = stats.get("median")
    if median and len(median) == 2:
        return int(min(median))
    return None


def default_input_size(side: int | None) -> int:
    """The smallest of 16/32/64/96 px that does not shrink the typical image (96 for big or unknown sizes).

    Upscaling tiny images further only costs time: on 8x8 digits, 16 px trains twice as fast as 32 px and
    scored higher (99.2 % vs 98.3 % test accuracy).
    """
    if side is None:
        return 96
    for size in (16, 32, 64):
        if side <= size:
            return size
    return 96


def _train_count(manifest: dict[str, Any]) -> int:
    counts = (manifest.get("split_counts") or {}).get("train") or {}
    return int(sum(counts.values()))


def default_config(project: Any, **overrides: Any) -> TrainConfig:
    """Defaults chosen for this project's data, then ``overrides`` (None values ignored), validated.

    Images: MobileNetV2-0.35 with ImageNet weights only when those weights are already on this machine,
    otherwise the compact CNN from scratch: MobileNetV2 from scratch on a few hundred images is the known
    trap (it evaluates near chance). Input size follows the images (16 to 96 px, see
    :func:`default_input_size`). Sensors: the 1-D CNN. Batch size shrinks for tiny datasets so an epoch has a
    few steps.
    """
    from studio.core.weights import imagenet_available

    manifest = project.load_manifest()
    modality = project.modality
    names = {f.name for f in fields(TrainConfig)}
    unknown = sorted(k for k in overrides if k not in names)
    if unknown:
        raise ConfigError(f"unknown training setting(s): {', '.join(unknown)}")
    ov = {k: v for k, v in overrides.items() if v is not None}
    n_train = _train_count(manifest)
    if n_train >= 1000:
        batch = 32
    elif n_train >= 64:
        batch = 16
    else:
        batch = 8
    # Small datasets give few optimizer steps per epoch: size the run by steps, not epochs (a few hundred
    # images at 60 epochs of batch 32 is only ~700 steps, and the compact CNN was still underfitting there).
    steps_per_epoch = max(1, math.ceil(n_train / batch))
    epochs = min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(STEP_BUDGET / steps_per_epoch)))
    if modality == "image":
        side = _image_side(manifest)
        size = default_input_size(side)
        arch = ov.get("arch")
        if arch is None:
            arch = "mobilenetv2" if imagenet_available(0.35, 96) else "compact_cnn"
        pretrained = ov.get("pretrained")
        if pretrained is None:
            width = float(ov.get("width") or 0.35)
            pretrained = "imagenet" if arch == "mobilenetv2" and imagenet_available(width, 96) else "none"
        if arch == "mobilenetv2" and pretrained != "none":
            size = max(size, 96)  # ImageNet features need some resolution; weights exist for 96..224
        base = TrainConfig(
            arch=arch,
            input_size=size,
            epochs=epochs,
            batch_size=batch,
            learning_rate=3e-4 if pretrained != "none" else 2e-3 if arch == "compact_cnn" else 1e-3,
            pretrained=pretrained,
            patience=15,
        )
    else:
        base = TrainConfig(arch=ov.get("arch") or "cnn1d", input_size=None, epochs=min(epochs, 100), batch_size=batch,
                           learning_rate=1e-3, patience=10)
        ov.pop("input_size", None)
    config = base.replace(**ov)
    return config.validate(modality)


# ---------------------------------------------------------------------------------------------- results
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
        }


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
        d = read_json(file)
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
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ProjectError(f"model.json is unreadable or incomplete ({exc})", path=file) from exc
    if arch not in models.REGISTRY:
        raise ProjectError(f"model.json names an unknown architecture {arch!r}", path=file,
                           hint="this run was made by a different Studio version")
    return info


def load_run_model(project: Any, run_id: str | None = None) -> tuple[Any, RunInfo]:
    """Rebuild a run's model from the registry and load its best weights (no code or pickle is loaded)."""
    info = read_run_info(project, run_id)
    try:
        model = models.build_model(info.arch, info.input_shape, info.n_classes, **info.params)
    except StudioError as exc:
        raise ProjectError(f"cannot rebuild the model of {info.run_id}: {exc.message}", path=info.path) from exc
    try:
        model.load_weights(str(info.weights_path))
    except (OSError, ValueError) as exc:
        raise ProjectError(f"the weights do not fit the model ({exc})", path=info.weights_path) from exc
    return model, info


# ---------------------------------------------------------------------------------------------- helpers
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


class _StopNow(Exception):
    """Raised inside fit() to skip the validation pass of an epoch the user cancelled."""


def _save_weights_atomic(model: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.stem}.tmp.h5")
    model.save_weights(str(tmp))
    os.replace(tmp, path)


def recalibrate_batchnorm(keras: Any, model: Any, x: Any, forward: Any = None) -> None:
    """Set every BatchNorm's moving statistics to the exact statistics of ``x`` under the current weights.

    On small data a few dozen steps are too few for the moving averages to catch up with weights that keep
    changing, so inference-mode BN sees the wrong statistics and a deep net (MobileNetV2 from scratch)
    evaluates at chance while training accuracy climbs. One forward pass in training mode with momentum 0
    ("precise BN") fixes that: each layer gets its population statistics, layer by layer.

    ``forward`` is an optional compiled ``x -> model(x, training=True)`` (see :func:`batchnorm_forward`); it must
    have been traced while the momenta were 0, which the first call here guarantees.
    """
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if not bns or len(x) == 0:
        return
    saved = [layer.momentum for layer in bns]
    try:
        for layer in bns:
            layer.momentum = 0.0
        if forward is not None:
            forward(x)
        else:
            model(x, training=True)
    finally:
        for layer, m in zip(bns, saved):
            layer.momentum = m


def batchnorm_forward(model: Any) -> Any:
    """A graph-compiled training-mode forward pass of ``model`` for :func:`recalibrate_batchnorm`.

    Run eagerly, the once-per-epoch calibration pass dispatches every op from Python: measured by
    ``bench/train_throughput.py`` (compact CNN, 32 px, 960 images) it cost ~15 % of an epoch's wall time on a
    busy 2-core machine and made ``train()`` ~0.8x as fast as a plain ``fit``; compiled once (traced with the
    BN momenta at 0, as every call runs) it takes about a third of that wall time.
    """
    from studio.core.tfenv import load_tf

    tf, _ = load_tf()
    return tf.function(lambda t: model(t, training=True))


def make_callback(keras: Any, reporter: Reporter, epochs: int, steps: int, weights_path: Path | None,
                  patience: int, has_val: bool, interval: float = 0.1, calibration: np.ndarray | None = None) -> Any:
    """The one callback between Keras and Studio (built lazily: Keras is not imported at module load)."""

    class StudioCallback(keras.callbacks.Callback):
        """Reports metrics, stops within one batch on cancel, keeps the best weights, stops early.

        Per batch it only checks the cancel flag and the clock; metrics are read from the logs (tensors, no
        numpy round trip: ``_supports_tf_logs``) at most every ``interval`` seconds.
        """

        def __init__(self) -> None:
            super().__init__()
            self._supports_tf_logs = True
            self.history: list[dict[str, Any]] = []
            self.cancelled = False
            self.early_stopped = False
            self.batches = 0
            self.best_epoch = 0
            self.best_acc = -1.0
            self.best_loss = math.inf
            self.best_weights: list[np.ndarray] | None = None
            self._min_loss = math.inf
            self._max_acc = -1.0
            self._last_improved = 0
            self._last_lr_change = 0
            self._last_report = 0.0
            self._t0 = 0.0
            self._epoch = 0
            self._bn_forward: Any = None  # compiled on first use (see batchnorm_forward)

        def _recalibrate(self) -> None:
            if self._bn_forward is None:
                self._bn_forward = batchnorm_forward(self.model)
            recalibrate_batchnorm(keras, self.model, calibration, self._bn_forward)

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._epoch = epoch
            self._t0 = time.perf_counter()

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            self.batches += 1
            if reporter.cancel_requested():
                self.cancelled = True
                self.model.stop_training = True
                return
            now = time.monotonic()
            if now - self._last_report >= interval and logs:
                self._last_report = now
                values = {"epoch": self._epoch + 1, "epochs": epochs, "batch": batch + 1, "steps": steps}
                for key in ("loss", "accuracy"):
                    if key in logs:
                        values[key] = float(logs[key])
                reporter.metrics("batch", values)
                reporter.progress((self._epoch + (batch + 1) / steps) / epochs, f"epoch {self._epoch + 1}/{epochs}")

        def on_test_begin(self, logs: Any = None) -> None:
            if self.cancelled:
                raise _StopNow()
            if calibration is not None:
                self._recalibrate()

        def on_test_batch_end(self, batch: int, logs: Any = None) -> None:
            if reporter.cancel_requested():
                self.cancelled = True
                raise _StopNow()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if self.cancelled:  # a partial epoch: not a result
                return
            if calibration is not None and not has_val:
                self._recalibrate()
            logs = logs or {}
            seconds = time.perf_counter() - self._t0

            def num(key: str) -> float | None:
                return float(logs[key]) if key in logs and logs[key] is not None else None

            row = {
                "epoch": epoch + 1,
                "epochs": epochs,
                "loss": num("loss"),
                "accuracy": num("accuracy"),
                "val_loss": num("val_loss"),
                "val_accuracy": num("val_accuracy"),
                "seconds": round(seconds, 3),
            }
            self.history.append(row)
            acc = row["val_accuracy"] if has_val else row["accuracy"]
            loss = row["val_loss"] if has_val else row["loss"]
            acc = -1.0 if acc is None or math.isnan(acc) else acc
            loss = math.inf if loss is None or math.isnan(loss) else loss
            # Best = lowest validation loss (ties: higher accuracy). On a small validation split accuracy moves
            # in coarse steps and saturates (1.0 at an early, lucky epoch on sklearn digits, which then tested
            # below an SVM); the loss uses every sample's confidence and picks steadier weights.
            better = loss < self.best_loss - 1e-9 or (loss <= self.best_loss + 1e-9 and acc > self.best_acc + 1e-9)
            if better or self.best_weights is None:
                self.best_epoch, self.best_acc, self.best_loss = epoch + 1, acc, loss
                self.best_weights = [w.copy() for w in self.model.get_weights()]
                if weights_path is not None:
                    _save_weights_atomic(self.model, weights_path)
            row["best"] = self.best_epoch == epoch + 1
            if loss < self._min_loss - 1e-4 or acc > self._max_acc + 1e-9:
                self._last_improved = epoch
            self._min_loss = min(self._min_loss, loss)
            self._max_acc = max(self._max_acc, acc)
            # Plateau: cut the learning rate when nothing improved for half the patience (the last epochs of
            # a constant-rate Adam run bounce around the optimum; a smaller step settles into it).
            plateau = max(2, patience // 2) if patience > 0 else 0
            if plateau and epoch - max(self._last_improved, self._last_lr_change) >= plateau:
                lr = self.model.optimizer.learning_rate
                new = float(keras.backend.get_value(lr)) * LR_FACTOR
                if new >= MIN_LR:
                    keras.backend.set_value(lr, new)
                    row["learning_rate"] = new
                self._last_lr_change = epoch
            reporter.metrics("epoch", dict(row))
            reporter.progress((epoch + 1) / epochs, f"epoch {epoch + 1}/{epochs}")
            if patience > 0 and epoch - self._last_improved >= patience:
                self.early_stopped = True
                self.model.stop_training = True

    return StudioCallback()


# ---------------------------------------------------------------------------------------------- train
def train(project: Any, config: TrainConfig, reporter: Reporter | None = None) -> TrainResult:
    """Train ``config`` on the project's train split, validate on val, and write a finished run.

    Cancelling keeps the best weights so far and still writes a valid run (``metrics.json`` says
    ``"stopped": true``); cancelling before the first epoch ends removes the run folder and raises Cancelled.
    """
    from studio.core.tfenv import load_tf

    reporter = reporter or NullReporter()
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

    reporter.status("Loading data")
    rgb = config.pretrained != "none"
    spec = spec_for_project(project, manifest, config.input_size, rgb=rgb)
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
    has_val = len(val_data) > 0
    if not has_val:
        reporter.status("No validation split: the best epoch is chosen on training accuracy")

    aug = Augmentation(flip=config.flip) if config.augment else Augmentation.none()
    if spec.kind == "sensor" and config.augment:
        aug = Augmentation(flip=False, rotate_deg=0.0, shift=0.0, brightness=0.0, contrast=0.0)
    train_ds = dataset_from_split(train_data, spec, global_batch, augment=aug, shuffle=True, seed=int(config.seed))
    val_ds = dataset_from_split(val_data, spec, global_batch) if has_val else None
    steps = max(1, math.ceil(len(train_data) / global_batch))
    cw = class_weights_for(train_data.y, len(classes)) if config.class_weights else None
    if cw:
        reporter.status("Classes are imbalanced: using class weights")

    params = models.resolve_params(config.arch, **config.model_params())
    scope = strategy.scope() if strategy is not None else _null_scope()
    with scope:
        model = models.build_model(config.arch, spec.shape, len(classes), **params)
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

    chief = strategy is None or _is_chief(strategy)
    if chief:
        run_id, run_path = project.new_run_dir()
    else:  # other workers train in lock-step but their files are thrown away
        run_id, run_path = "worker", Path(tempfile.mkdtemp(prefix="studio-worker-"))
    weights_path = run_path / "weights.h5"
    versions = package_versions()
    atomic_write_json(run_path / "config.json", {
        "config": config.to_json(),
        "seed": int(config.seed),
        "versions": versions,
        "replicas": replicas,
        "global_batch_size": global_batch,
        "class_weights": {classes[k]: round(v, 4) for k, v in cw.items()} if cw else None,
        "n_train": len(train_data),
        "n_val": len(val_data),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    })
    calibration = None
    if strategy is None and steps < PRECISE_BN_MAX_STEPS and train_data.x is not None:
        n_cal = min(PRECISE_BN_SAMPLES, max(PRECISE_BN_MIN_SAMPLES, len(train_data) // PRECISE_BN_FRACTION))
        pick = np.random.default_rng(int(config.seed)).permutation(len(train_data))[:n_cal]
        calibration = spec.preprocess(train_data.x[np.sort(pick)])
    callback = make_callback(keras, reporter, int(config.epochs), steps, weights_path, int(config.patience), has_val,
                             calibration=calibration)
    reporter.status(f"Training {config.arch} ({model.count_params():,} parameters) on {len(train_data)} samples")
    try:
        model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=int(config.epochs),
            class_weight=cw,
            callbacks=[callback],
            verbose=0,
        )
    except _StopNow:
        pass
    except BaseException:
        shutil.rmtree(run_path, ignore_errors=True)
        raise
    if not callback.history or callback.best_weights is None:
        shutil.rmtree(run_path, ignore_errors=True)
        raise Cancelled("training was stopped before the first epoch finished; nothing was saved")

    model.set_weights(callback.best_weights)
    if not weights_path.exists():
        _save_weights_atomic(model, weights_path)
    stopped = callback.cancelled
    reason = "cancelled" if stopped else ("early_stopping" if callback.early_stopped else None)
    best_row = callback.history[callback.best_epoch - 1]
    best_val = best_row["val_accuracy"] if has_val else None
    seconds = time.perf_counter() - t_start
    metrics = {
        "epochs": callback.history,
        "best_epoch": callback.best_epoch,
        "best_val_accuracy": best_val,
        "monitor": "val_loss, then val_accuracy" if has_val else "loss, then accuracy (no validation split)",
        "stopped": stopped,
        "stop_reason": reason,
        "batches": callback.batches,
        "seconds": round(seconds, 3),
    }
    atomic_write_json(run_path / "metrics.json", metrics)
    atomic_write_json(run_path / "model.json", model_json(config.arch, params, spec, classes, project.task))
    n_params = int(model.count_params())
    if chief:
        # Only the settings this run changed: a choice made elsewhere meanwhile (the Model page, another
        # command) is kept, and the next training starts from what this one used.
        used = {k: v for k, v in config.to_json().items() if settings_before.get(k) != v}
        project.update(active_run=run_id, settings={"train": used})
    else:
        shutil.rmtree(run_path, ignore_errors=True)
    reporter.progress(1.0, "training finished" if not stopped else "training stopped")
    return TrainResult(
        run=run_id,
        path=run_path,
        arch=config.arch,
        params=n_params,
        epochs=callback.history,
        best_epoch=callback.best_epoch,
        best_val_accuracy=best_val,
        stopped=stopped,
        stop_reason=reason,
        seconds=seconds,
        config=config,
    )


class _null_scope:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None
