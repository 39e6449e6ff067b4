"""Building one variant without a project: fine-tune a fresh clone (prune / QAT) and convert it to .tflite."""

from __future__ import annotations

from typing import Any

from studio.core.convert import convert_model, representative_indices
from studio.core.optimize.config import FINETUNE_LR_FACTOR, Arrays, BuiltVariant, OptimizeConfig
from studio.core.optimize.finetune import FineTuner, compile_for_finetune, fresh_clone, outputs_probabilities
from studio.core.optimize.magnitude import magnitude_prune, quantization_aware
from studio.core.reporter import NullReporter, Reporter, check_cancel

QUANT_LABELS = {"float32": "float32", "float16": "float16", "dynamic": "dynamic-range", "int8": "full int8"}


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
    from studio.core.tfenv import load_tf

    reporter = reporter or NullReporter()
    config = config.validated()
    _, keras = load_tf()
    notes: list[str] = []
    probs = outputs_probabilities(model)
    lr = config.learning_rate or ((base_learning_rate or 1e-3) * FINETUNE_LR_FACTOR)
    epochs = config.epochs
    keras.utils.set_random_seed(config.seed)
    work = fresh_clone(model)
    stages = (1 if config.prune > 0 else 0) + (1 if config.qat else 0)
    tuner = FineTuner(keras, arrays, config.batch_size, reporter, progress, stages)
    if config.prune > 0:
        work = magnitude_prune(keras, work, config.prune, epochs, lr, probs, tuner, notes)
    if config.qat:
        work = quantization_aware(keras, work, config.prune > 0, epochs, lr, probs, tuner, notes)
    elif config.prune == 0 and epochs > 0:
        compile_for_finetune(keras, work, lr, probs)
        tuner.fit(work, "Fine-tune", [], epochs)
    sparsity = keras_sparsity(work)
    check_cancel(reporter)
    model_bytes = convert_variant(work, arrays, config, reporter, (tuner.cursor, progress[1]), notes)
    return BuiltVariant(work, model_bytes, sparsity, notes, tuner.history)


def convert_variant(work: Any, arrays: Arrays, config: OptimizeConfig, reporter: Reporter,
                    progress: tuple[float, float], notes: list[str]) -> bytes:
    """Convert ``work`` as ``config`` says, int8 calibrated on balanced training samples."""
    rep_idx = representative_indices(arrays.y_train, config.representative_samples, seed=config.seed)
    rep = arrays.x_train[rep_idx]
    reporter.status(
        f"Converting to {QUANT_LABELS[config.quantize]}"
        + (f" (calibrating on {len(rep)} training samples)" if config.quantize == "int8" else "")
    )
    lo, hi = progress

    def conv_progress(f: float) -> None:
        reporter.progress(lo + (hi - lo) * f, "calibrating" if f < 1 else "converted")

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
    return model_bytes
