"""Magnitude (weight) pruning and quantization-aware training through tensorflow-model-optimization.

1. pruning: ``prune_low_magnitude`` with a polynomial schedule reaching the target sparsity at ~70 % of the
   fine-tuning steps so the last steps recover accuracy at full sparsity, ``UpdatePruningStep``, then
   ``strip_pruning``. The zeros shrink the gzip size only: the .tflite a device flashes keeps every weight,
   TFLite-Micro cannot skip them, and LiteRT runs no faster (see :mod:`studio.core.optimize.channels` for the
   kind of pruning that does shrink the file);
2. optional quantization-aware training: ``quantize_model``, or pruning-preserving QAT
   (``Default8BitPrunePreserveQuantizeScheme``) when pruning is on so the zeros survive.
"""

from __future__ import annotations

from typing import Any

from studio.core.optimize.config import PRUNE_END_FRACTION
from studio.core.optimize.finetune import FineTuner, compile_for_finetune


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


def magnitude_prune(keras: Any, work: Any, sparsity: float, epochs: int, lr: float, probs: bool,
                    tuner: FineTuner, notes: list[str]) -> Any:
    """Prune ``work`` (a fresh clone) to ``sparsity`` while fine-tuning; returns the stripped model."""
    from studio.core.tfenv import load_tfmot

    tfmot = load_tfmot()
    sched, info = pruning_schedule(tfmot, float(sparsity), tuner.steps_per_epoch * epochs)
    pruned = tfmot.sparsity.keras.prune_low_magnitude(work, pruning_schedule=sched)
    compile_for_finetune(keras, pruned, lr, probs)
    tuner.fit(pruned, "Pruning fine-tune", [tfmot.sparsity.keras.UpdatePruningStep()], epochs)
    notes.append(
        f"pruned to {sparsity:.0%} of conv/dense kernels ({info['kind']} schedule, end step "
        f"{info['end_step']}, {epochs} fine-tune epoch(s), lr {lr:g})"
    )
    return tfmot.sparsity.keras.strip_pruning(pruned)


def quantization_aware(keras: Any, work: Any, preserve_zeros: bool, epochs: int, lr: float, probs: bool,
                       tuner: FineTuner, notes: list[str]) -> Any:
    """Quantization-aware training of ``work``; pruning-preserving when ``preserve_zeros``."""
    from studio.core.tfenv import load_tfmot

    tfmot = load_tfmot()
    q = tfmot.quantization.keras
    if preserve_zeros:
        annotated = q.quantize_annotate_model(work)
        work = q.quantize_apply(annotated, tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme())
        notes.append("pruning-preserving quantization-aware training (zeros kept during QAT)")
    else:
        work = q.quantize_model(work)
        notes.append("quantization-aware training")
    compile_for_finetune(keras, work, lr, probs)
    tuner.fit(work, "Quantization-aware training", [], epochs)
    return work
