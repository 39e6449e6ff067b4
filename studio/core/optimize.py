"""Optimized variants of a trained model: pruning, quantization-aware training, post-training conversion.

A variant is built from a *fresh clone* of the trained model (re-wrapping layers an earlier prune touched
fails), then:

1. pruning (tfmot ``prune_low_magnitude``, polynomial schedule reaching the target sparsity at ~70 % of the
   fine-tuning steps so the last steps recover accuracy at full sparsity, ``UpdatePruningStep``), then
   ``strip_pruning``;
2. optional quantization-aware training: ``quantize_model``, or pruning-preserving QAT
   (``Default8BitPrunePreserveQuantizeScheme``) when pruning is on so the zeros survive;
3. conversion (float32 / float16 / dynamic range / full int8 calibrated on real training samples);
4. measurement through LiteRT on validation (and test), agreement with the trained Keras model, latency,
   sizes, sparsity, MACs, and for int8/float32 the TFLite-Micro arena.

The variant folder ``P/variants/<name>/`` (variant.json + model.tflite) appears only when everything
succeeded: it is written to a hidden temporary folder and renamed at the end, so cancelling leaves nothing.

Most of this module works on plain objects (a Keras model and numpy arrays) so the self-test and the tests can
use it without a project; :func:`optimize` adds the project around it.
"""

from __future__ import annotations

import datetime as _dt
import math
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.convert import QUANTIZATIONS, convert_model, representative_indices
from studio.core.errors import ConfigError, ProjectError
from studio.core.fsutil import atomic_write_bytes, atomic_write_json, read_json, replace_dir, safe_name
from studio.core.reporter import NullReporter, Reporter, check_cancel

# Defaults measured on sklearn digits (compact CNN, 32 px; see the notes of issue 3): fine-tuning at half the
# training learning rate recovers pruned models far better than a tenth (50 %: test 97.8 % vs 96.7 %, float
# 98.3 %); sparsities above 50 % need about twice the epochs (80 %: 96.7 % after 8 epochs, 93.9 % after 4);
# 200 balanced calibration samples keep int8 within a point of float.
DEFAULT_FINETUNE_EPOCHS = 4
DEFAULT_FINETUNE_EPOCHS_HIGH_SPARSITY = 8
FINETUNE_LR_FACTOR = 0.5
DEFAULT_REPRESENTATIVE = 200
PRUNE_END_FRACTION = 0.7


@dataclass(frozen=True)
class OptimizeConfig:
    """One variant's recipe: one field per choice on the Optimize page."""

    prune: float = 0.0  # target sparsity of the prunable kernels, 0..0.9
    quantize: str = "int8"  # float32 | float16 | dynamic | int8
    qat: bool = False  # quantization-aware training (int8 only)
    finetune_epochs: int | None = None  # None: 4 when pruning (8 above 50 %) or QAT, else 0
    run_id: str | None = None  # None: the active run
    name: str | None = None  # None: derived from the settings ("p50-int8")
    io_dtype: str = "int8"  # int8 models' input/output type: int8 (TFLite-Micro) or uint8
    representative_samples: int = DEFAULT_REPRESENTATIVE
    learning_rate: float | None = None  # fine-tuning LR; None: half the run's LR (5e-4 if unknown)
    batch_size: int = 32
    seed: int = 1234
    measure_arena: bool = True

    @classmethod
    def for_int8(cls, **kw: Any) -> "OptimizeConfig":
        return cls(quantize="int8", **kw)

    @classmethod
    def for_pruned_int8(cls, sparsity: float = 0.5, **kw: Any) -> "OptimizeConfig":
        return cls(prune=sparsity, quantize="int8", **kw)

    @classmethod
    def for_float32(cls, **kw: Any) -> "OptimizeConfig":
        return cls(quantize="float32", **kw)

    def validated(self) -> "OptimizeConfig":
        if self.quantize not in QUANTIZATIONS:
            raise ConfigError(f"unknown quantization {self.quantize!r}", hint="use " + ", ".join(QUANTIZATIONS))
        if not 0.0 <= float(self.prune) <= 0.9:
            raise ConfigError(f"pruning sparsity {self.prune} is out of range", hint="use a value from 0 to 0.9")
        if self.qat and self.quantize != "int8":
            raise ConfigError(
                "quantization-aware training only makes sense for int8", hint="choose --quantize int8 with --qat"
            )
        if self.finetune_epochs is not None and self.finetune_epochs < 0:
            raise ConfigError("fine-tune epochs cannot be negative")
        if self.io_dtype not in ("int8", "uint8"):
            raise ConfigError(f"unknown input/output type {self.io_dtype!r}", hint="use int8 or uint8")
        return self

    @property
    def epochs(self) -> int:
        if self.finetune_epochs is not None:
            n = int(self.finetune_epochs)
        else:
            n = DEFAULT_FINETUNE_EPOCHS if (self.prune > 0 or self.qat) else 0
            if self.prune > 0.5:
                n = DEFAULT_FINETUNE_EPOCHS_HIGH_SPARSITY
        if (self.prune > 0 or self.qat) and n < 1:
            n = 1  # pruning and QAT need at least one pass to take effect
        return n

    def default_name(self) -> str:
        parts = []
        if self.prune > 0:
            parts.append(f"p{int(round(self.prune * 100))}")
        if self.qat:
            parts.append("qat")
        parts.append(self.quantize)
        if self.quantize == "int8" and self.io_dtype == "uint8":
            parts.append("u8")
        return "-".join(parts)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["finetune_epochs_used"] = self.epochs
        return d


@dataclass
class VariantInfo:
    """What optimize() produced: the variant.json content plus where it lives."""

    name: str
    path: Path
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.data)


@dataclass
class Arrays:
    """The data a variant needs, already preprocessed into model input (float32)."""

    classes: list[str]
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None


@dataclass
class BuiltVariant:
    keras_model: Any  # stripped (and possibly QAT) model that was converted
    model_bytes: bytes
    sparsity: dict[str, Any]
    notes: list[str]
    history: dict[str, list[float]]


# ---------------------------------------------------------------------------------------------- keras side
class _ReporterCallback:
    """Bridges Keras fit() to the reporter: progress per batch, stop within a batch on cancel."""

    @staticmethod
    def make(keras: Any, reporter: Reporter, lo: float, hi: float, total_steps: int, label: str) -> Any:
        class CB(keras.callbacks.Callback):
            def __init__(self) -> None:
                super().__init__()
                self.step = 0

            def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
                self.step += 1
                if self.step % 5 == 0 or self.step == total_steps:
                    reporter.progress(lo + (hi - lo) * min(1.0, self.step / max(1, total_steps)), label)
                if reporter.cancel_requested():
                    self.model.stop_training = True

            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                logs = dict(logs or {})
                reporter.metrics("epoch", {"stage": label, "epoch": epoch + 1, **{
                    k: float(v) for k, v in logs.items() if isinstance(v, (int, float, np.floating))}})

        return CB()


def fresh_clone(model: Any) -> Any:
    """A new model with new layer objects and the same weights (never share layers across variants)."""
    from studio.core.tfenv import load_tf

    _, keras = load_tf()
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def _outputs_probabilities(model: Any) -> bool:
    act = getattr(model.layers[-1], "activation", None)
    return getattr(act, "__name__", "") == "softmax"


def _compile(keras: Any, model: Any, lr: float, probs: bool) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=not probs),
        metrics=["accuracy"],
    )


def pruning_schedule(tfmot: Any, sparsity: float, total_steps: int) -> tuple[Any, dict[str, int]]:
    """Polynomial decay from 0 to ``sparsity``, ending at ~70 % of the steps on a pruning-frequency multiple.

    Ending on a multiple of the frequency matters: tfmot only updates masks every ``frequency`` steps, and a
    schedule whose end step falls between updates stops short of the target. Too few steps for a schedule
    (e.g. the one-step self-test) prune once, at step 0, to the full target.
    """
    if total_steps < 10:
        sched = tfmot.sparsity.keras.ConstantSparsity(sparsity, begin_step=0, frequency=1)
        return sched, {"kind": "constant", "end_step": 0, "frequency": 1}
    end = max(2, int(total_steps * PRUNE_END_FRACTION))
    frequency = max(1, min(100, end // 10))
    end = max(frequency, end // frequency * frequency)
    sched = tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=sparsity, begin_step=0, end_step=end, frequency=frequency
    )
    return sched, {"kind": "polynomial", "end_step": end, "frequency": frequency}


def build_variant(
    model: Any,
    arrays: Arrays,
    config: OptimizeConfig,
    reporter: Reporter | None = None,
    base_learning_rate: float | None = None,
    progress: tuple[float, float] = (0.0, 0.6),
) -> BuiltVariant:
    """Prune / QAT-fine-tune a fresh clone of ``model`` and convert it. Does not touch any file."""
    from studio.core.measure import keras_sparsity
    from studio.core.tfenv import load_tf, load_tfmot

    reporter = reporter or NullReporter()
    config = config.validated()
    tf, keras = load_tf()
    lo, hi = progress
    notes: list[str] = []
    history: dict[str, list[float]] = {}
    probs = _outputs_probabilities(model)
    lr = config.learning_rate or ((base_learning_rate or 1e-3) * FINETUNE_LR_FACTOR)
    epochs = config.epochs
    n_train = len(arrays.x_train)
    steps_per_epoch = max(1, math.ceil(n_train / config.batch_size))
    keras.utils.set_random_seed(config.seed)
    work = fresh_clone(model)
    stages = (1 if config.prune > 0 else 0) + (1 if config.qat else 0)
    span = (hi - lo) * 0.8 / max(1, stages)
    cursor = lo

    def fit(m: Any, label: str, callbacks: list[Any], n_epochs: int) -> None:
        nonlocal cursor
        total = steps_per_epoch * n_epochs
        cb = _ReporterCallback.make(keras, reporter, cursor, cursor + span, total, label)
        reporter.status(f"{label}: {n_epochs} epoch(s) on {n_train} training samples")
        h = m.fit(
            arrays.x_train,
            arrays.y_train,
            batch_size=config.batch_size,
            epochs=n_epochs,
            shuffle=True,
            verbose=0,
            callbacks=callbacks + [cb],
            validation_data=(arrays.x_val, arrays.y_val) if len(arrays.x_val) else None,
        )
        for k, v in h.history.items():
            history[f"{label}:{k}"] = [float(x) for x in v]
        cursor += span
        check_cancel(reporter)

    if config.prune > 0:
        tfmot = load_tfmot()
        sched, sched_info = pruning_schedule(tfmot, float(config.prune), steps_per_epoch * epochs)
        pruned = tfmot.sparsity.keras.prune_low_magnitude(work, pruning_schedule=sched)
        _compile(keras, pruned, lr, probs)
        fit(pruned, "Pruning fine-tune", [tfmot.sparsity.keras.UpdatePruningStep()], epochs)
        work = tfmot.sparsity.keras.strip_pruning(pruned)
        notes.append(
            f"pruned to {config.prune:.0%} of conv/dense kernels ({sched_info['kind']} schedule, end step "
            f"{sched_info['end_step']}, {epochs} fine-tune epoch(s), lr {lr:g})"
        )
    if config.qat:
        tfmot = load_tfmot()
        q = tfmot.quantization.keras
        if config.prune > 0:
            annotated = q.quantize_annotate_model(work)
            work = q.quantize_apply(annotated, tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme())
            notes.append("pruning-preserving quantization-aware training (zeros kept during QAT)")
        else:
            work = q.quantize_model(work)
            notes.append("quantization-aware training")
        _compile(keras, work, lr, probs)
        fit(work, "Quantization-aware training", [], epochs)
    elif config.prune == 0 and epochs > 0:
        _compile(keras, work, lr, probs)
        fit(work, "Fine-tune", [], epochs)

    sparsity = keras_sparsity(work)
    check_cancel(reporter)
    rep_idx = representative_indices(arrays.y_train, config.representative_samples, seed=config.seed)
    rep = arrays.x_train[rep_idx]
    label = {"float32": "float32", "float16": "float16", "dynamic": "dynamic-range", "int8": "full int8"}
    reporter.status(
        f"Converting to {label[config.quantize]}"
        + (f" (calibrating on {len(rep)} training samples)" if config.quantize == "int8" else "")
    )
    conv_lo = cursor

    def conv_progress(f: float) -> None:
        reporter.progress(conv_lo + (hi - conv_lo) * f, "calibrating" if f < 1 else "converted")

    model_bytes = convert_model(
        work,
        config.quantize,
        rep if config.quantize == "int8" else None,
        io_dtype=config.io_dtype if config.quantize == "int8" else "float32",
        sparse=False,
        progress=conv_progress,
    )
    if config.quantize == "int8":
        notes.append(f"int8 calibrated on {len(rep)} training samples (balanced over classes)")
    check_cancel(reporter)
    return BuiltVariant(work, model_bytes, sparsity, notes, history)


# ---------------------------------------------------------------------------------------------- measuring
def measure_variant(
    model_bytes: bytes,
    keras_model: Any,
    arrays: Arrays,
    quantize: str,
    reporter: Reporter | None = None,
    measure_arena: bool = True,
    progress: tuple[float, float] = (0.6, 1.0),
    keras_probs: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """All measured fields of a variant (no file written). ``keras_model`` is the *trained* float model."""
    from studio.core import measure
    from studio.core.micro import find_arena

    reporter = reporter or NullReporter()
    lo, hi = progress
    out: dict[str, Any] = {}
    keras_probs = dict(keras_probs or {})
    splits = [("val", arrays.x_val, arrays.y_val)]
    if arrays.x_test is not None and arrays.y_test is not None and len(arrays.x_test):
        splits.append(("test", arrays.x_test, arrays.y_test))
    for k, (split, x, y) in enumerate(splits):
        if split not in keras_probs:
            keras_probs[split] = np.asarray(keras_model.predict(x, batch_size=64, verbose=0)) if len(x) else None
        kp = keras_probs[split]
        reporter.status(f"Measuring on the {split} split through LiteRT ({len(x)} samples)")
        a = lo + (hi - lo) * 0.7 * k / len(splits)
        b = lo + (hi - lo) * 0.7 * (k + 1) / len(splits)
        metrics, _ = measure.evaluate_split(
            model_bytes, x, y, arrays.classes, kp,
            progress=lambda f, a=a, b=b, s=split: reporter.progress(a + (b - a) * f, f"LiteRT on {s}"),
            cancel=reporter.cancel_requested,
        )
        if kp is not None and len(y):
            metrics["keras_accuracy"] = float(np.mean(np.asarray(kp).argmax(axis=1) == np.asarray(y)))
        out[split] = metrics
    val = out["val"]
    out["accuracy"] = val.get("accuracy")
    out["keras_accuracy"] = val.get("keras_accuracy")
    out["accuracy_drop"] = (
        round(out["keras_accuracy"] - out["accuracy"], 4)
        if out["accuracy"] is not None and out["keras_accuracy"] is not None else None
    )
    out["agreement"] = val.get("agreement")
    out["latency_ms"] = val.get("latency_ms")
    out["latency_p95_ms"] = val.get("latency_p95_ms")
    out["latency_median_ms"] = val.get("latency_median_ms")
    out["latency_note"] = "host CPU, LiteRT, 1 thread, batch 1, mean/p95 per sample"
    out["test_accuracy"] = out["test"]["accuracy"] if "test" in out else None
    out["bytes"] = len(model_bytes)
    out["gzip_bytes"] = measure.gzip_size(model_bytes)
    out["macs"] = measure.count_macs(model_bytes)
    out["ops"] = measure.op_names(model_bytes)
    out["io"] = measure.io_details(model_bytes)
    out["arena"] = None
    check_cancel(reporter)
    if measure_arena and quantize in ("int8", "float32"):
        reporter.status("Finding the TFLite-Micro arena (smallest that allocates and invokes)")
        x0 = arrays.x_val[:1] if len(arrays.x_val) else arrays.x_train[:1]
        inp = measure.quantize_input(np.asarray(x0, np.float32), _litert_input_detail(model_bytes))
        arena = find_arena(
            model_bytes, inp,
            progress=lambda f: reporter.progress(lo + (hi - lo) * (0.7 + 0.3 * f), "TFLite-Micro arena"),
        )
        out["arena"] = arena.to_json()
    reporter.progress(hi, "measured")
    return out


def _litert_input_detail(model_bytes: bytes) -> dict[str, Any]:
    from studio.core.measure import litert_interpreter

    return litert_interpreter(model_bytes, delegates=False).get_input_details()[0]


# ---------------------------------------------------------------------------------------------- project side
def _load_arrays(project: Any, spec: Any, classes: list[str], reporter: Reporter) -> Arrays:
    from studio.core.pipeline import load_split

    parts = {}
    manifest = project.load_manifest()
    for i, split in enumerate(("train", "val", "test")):
        check_cancel(reporter)
        data = load_split(project, split, spec, manifest=manifest, reporter=None)
        x = spec.preprocess(data.x) if data.x is not None else np.zeros((0,) + tuple(spec.shape), np.float32)
        parts[split] = (x, np.asarray(data.y, dtype=np.int64))
        reporter.progress(0.02 + 0.03 * (i + 1) / 3, f"loaded {split} data")
    if len(parts["train"][0]) == 0:
        raise ProjectError("the training split is empty", path=project.manifest_path, hint="import more data")
    if len(parts["val"][0]) == 0:
        raise ProjectError(
            "the validation split is empty: variants are measured on it",
            path=project.manifest_path,
            hint="import the data again with --val-split 0.2",
        )
    return Arrays(
        classes=list(classes),
        x_train=parts["train"][0],
        y_train=parts["train"][1],
        x_val=parts["val"][0],
        y_val=parts["val"][1],
        x_test=parts["test"][0] if len(parts["test"][0]) else None,
        y_test=parts["test"][1] if len(parts["test"][0]) else None,
    )


def _spec_json(spec: Any) -> dict[str, Any]:
    if hasattr(spec, "to_json"):
        return spec.to_json()
    if isinstance(spec, dict):
        return dict(spec)
    return asdict(spec)


def _run_learning_rate(project: Any, run: Any) -> float | None:
    cfg = getattr(run, "config", None)
    lr = getattr(cfg, "learning_rate", None) if cfg is not None else None
    if lr is None:
        try:
            lr = read_json(Path(getattr(run, "path", project.runs_dir / run.run_id)) / "config.json").get(
                "learning_rate"
            )
        except (OSError, ValueError, AttributeError):
            lr = None
    return float(lr) if lr else None


def optimize(project: Any, config: OptimizeConfig, reporter: Reporter | None = None) -> VariantInfo:
    """Build, measure and store one variant of the project's trained model (see module docstring)."""
    from studio.core.train import load_run_model

    reporter = reporter or NullReporter()
    config = config.validated()
    started = time.monotonic()
    name = safe_name(config.name or config.default_name())
    reporter.status(f"Building variant '{name}'")
    reporter.progress(0.0, "loading the trained model")
    model, run = load_run_model(project, config.run_id)
    spec = getattr(run, "spec", None) or getattr(run, "input_spec")
    classes = list(run.classes)
    arrays = _load_arrays(project, spec, classes, reporter)
    reporter.progress(0.05, "data loaded")
    built = build_variant(model, arrays, config, reporter, _run_learning_rate(project, run), progress=(0.05, 0.6))
    measured = measure_variant(
        built.model_bytes, model, arrays, config.quantize, reporter, config.measure_arena, progress=(0.6, 0.98)
    )
    params = int(model.count_params())
    data: dict[str, Any] = {
        "name": name,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "run_id": run.run_id,
        "arch": run.arch,
        "arch_params": dict(getattr(run, "params", {}) or {}),
        "input_spec": _spec_json(spec),
        "classes": classes,
        "quantize": config.quantize,
        "prune": float(config.prune),
        "qat": bool(config.qat),
        "io_dtype": config.io_dtype if config.quantize == "int8" else "float32",
        "finetune_epochs": config.epochs,
        "config": config.to_json(),
        "params": params,
        **built.sparsity,
        **measured,
        "notes": built.notes,
        "history": built.history,
        "n_train": int(len(arrays.x_train)),
        "seconds": None,
    }
    if config.prune > 0 and data.get("sparsity_depthwise") is not None:
        data["notes"].append(
            f"depthwise kernels are never pruned (tfmot): overall weight sparsity is {data['sparsity_all']:.0%}"
        )
    if config.prune > 0:
        data["notes"].append("pruning shrinks the gzip size, not the raw .tflite, and does not make it faster")
    data["seconds"] = round(time.monotonic() - started, 1)
    check_cancel(reporter)
    final = write_variant(project.variants_dir, name, built.model_bytes, data)
    data["path"] = str(final / "model.tflite")
    project.data["active_variant"] = name
    project.settings["optimize"] = {k: v for k, v in asdict(config).items() if k not in ("run_id", "name")}
    project.save()
    reporter.progress(1.0, "variant saved")
    reporter.status(
        f"Variant '{name}': {data['bytes'] / 1024:.1f} KB ({data['gzip_bytes'] / 1024:.1f} KB gzip), "
        f"accuracy {data['accuracy'] * 100:.1f}% through LiteRT (Keras {data['keras_accuracy'] * 100:.1f}%)"
    )
    return VariantInfo(name, final, data)


def write_variant(variants_dir: Path, name: str, model_bytes: bytes, data: dict[str, Any]) -> Path:
    """Write ``variants/<name>/`` all at once: a hidden temp folder renamed into place (replacing an old one)."""
    variants_dir = Path(variants_dir)
    variants_dir.mkdir(parents=True, exist_ok=True)
    final = variants_dir / name
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=variants_dir))
    try:
        atomic_write_bytes(tmp / "model.tflite", model_bytes)
        atomic_write_json(tmp / "variant.json", data)
        replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def load_variant(project: Any, name: str | None = None) -> tuple[dict[str, Any], bytes]:
    """(variant.json, model bytes) of ``name``, or of the active (else newest) variant."""
    names = project.list_variants()
    if not names:
        raise ProjectError(
            "no optimized variant yet", path=project.path, hint="create one first ('studio optimize')"
        )
    if name is None:
        active = project.data.get("active_variant")
        if active in names:
            name = active
        else:
            name = max(names, key=lambda n: (project.variants_dir / n / "variant.json").stat().st_mtime)
    if name not in names:
        raise ProjectError(f"no variant named {name!r}", path=project.variants_dir,
                           hint="existing variants: " + ", ".join(names))
    folder = project.variants_dir / name
    try:
        data = read_json(folder / "variant.json")
        model_bytes = (folder / "model.tflite").read_bytes()
    except (OSError, ValueError) as exc:
        raise ProjectError(f"variant {name!r} is damaged ({exc})", path=folder,
                           hint="build it again with 'studio optimize'") from exc
    data["name"] = name
    data["path"] = str(folder / "model.tflite")
    return data, model_bytes


SUMMARY_KEYS = (
    "name", "path", "quantize", "prune", "qat", "io_dtype", "bytes", "gzip_bytes", "sparsity", "sparsity_all",
    "accuracy", "keras_accuracy", "accuracy_drop", "test_accuracy", "agreement", "latency_ms", "latency_p95_ms",
    "latency_median_ms", "params", "macs", "arena", "run_id", "arch", "created", "finetune_epochs",
)


def list_variants(project: Any, target: str | None = None, full: bool = False) -> list[dict[str, Any]]:
    """Every variant with its measurements and a ``fits`` verdict per target ({target_id: bool}).

    ``target`` limits ``fits`` to one profile; ``fit_detail`` says why (flash / RAM needed vs available).
    ``full`` keeps per-class metrics, confusion matrices and training history.
    """
    from studio.core.targets import TARGETS, check_fit, get_target

    targets = [get_target(target)] if target else list(TARGETS.values())
    out = []
    for name in project.list_variants():
        folder = project.variants_dir / name
        try:
            data = read_json(folder / "variant.json")
        except (OSError, ValueError):
            continue
        data["name"] = name
        data["path"] = str(folder / "model.tflite")
        row = dict(data) if full else {k: data.get(k) for k in SUMMARY_KEYS}
        detail = {t.id: check_fit(data, t) for t in targets}
        row["fits"] = {tid: d["ok"] for tid, d in detail.items()}
        row["fit_detail"] = detail
        out.append(row)
    out.sort(key=lambda r: r.get("created") or "")
    return out


def delete_variant(project: Any, name: str) -> None:
    folder = project.variants_dir / name
    if not (folder / "variant.json").exists():
        raise ProjectError(f"no variant named {name!r}", path=project.variants_dir)
    shutil.rmtree(folder)
    if project.data.get("active_variant") == name:
        project.data["active_variant"] = None
        project.save()


__all__ = [
    "OptimizeConfig", "VariantInfo", "Arrays", "BuiltVariant", "build_variant", "measure_variant", "optimize",
    "list_variants", "load_variant", "write_variant", "delete_variant", "fresh_clone", "pruning_schedule",
]
