"""Optimized variants of a trained model: pruning, quantization-aware training, post-training conversion.

A variant is built from a *fresh clone* of the trained model (re-wrapping layers an earlier prune touched
fails), then pruned and / or quantization-aware fine-tuned, converted (float32 / float16 / dynamic range /
full int8 calibrated on real training samples) and measured through LiteRT on validation (and test): accuracy,
agreement with the trained Keras model, latency, sizes, sparsity, MACs, and for int8/float32 the TFLite-Micro
arena.

The variant folder ``P/variants/<name>/`` (variant.json + model.tflite) appears only when everything
succeeded: it is written to a hidden temporary folder and renamed at the end, so cancelling leaves nothing.

Modules, by topic:

- :mod:`.config` — :class:`OptimizeConfig` (the recipe) and the plain objects passed around;
- :mod:`.finetune` — fine-tuning on in-memory arrays with progress and cancel;
- :mod:`.magnitude` — tfmot magnitude pruning and quantization-aware training;
- :mod:`.channels`, :mod:`.rebuild` — channel (structured) pruning: which channels go together, the plan,
  the narrower model and its surviving weights;
- :mod:`.distill` — knowledge distillation from the trained model;
- :mod:`.build` — :func:`build_variant`: fine-tune a fresh clone and convert it, no project needed;
- :mod:`.measuring` — :func:`measure_variant` through LiteRT and TFLite-Micro;
- :mod:`.store` — variant folders: write whole or not at all, list with fits verdicts, load, delete;
- :mod:`.stage` — :func:`optimize`, the project-level stage.

Most of this package works on plain objects (a Keras model and numpy arrays) so the self-test and the tests
can use it without a project.
"""

from __future__ import annotations

from studio.core.optimize.build import build_variant
from studio.core.optimize.config import Arrays, BuiltVariant, OptimizeConfig, VariantInfo
from studio.core.optimize.finetune import fresh_clone
from studio.core.optimize.magnitude import pruning_schedule
from studio.core.optimize.measuring import measure_variant
from studio.core.optimize.stage import optimize
from studio.core.optimize.store import (
    SUMMARY_KEYS,
    delete_variant,
    list_variants,
    load_variant,
    load_variant_model,
    write_variant,
)

__all__ = [
    "OptimizeConfig", "VariantInfo", "Arrays", "BuiltVariant", "build_variant", "measure_variant", "optimize",
    "list_variants", "load_variant", "write_variant", "delete_variant", "fresh_clone", "pruning_schedule",
    "SUMMARY_KEYS", "load_variant_model",
]
