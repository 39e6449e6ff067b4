"""The recipe of a variant (:class:`OptimizeConfig`) and the plain objects the optimize stages pass around."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.convert import QUANTIZATIONS
from studio.core.errors import ConfigError

# Defaults measured on sklearn digits (compact CNN, 32 px; see the notes of issue 3): fine-tuning at half the
# training learning rate recovers pruned models far better than a tenth (50 %: test 97.8 % vs 96.7 %, float
# 98.3 %); sparsities above 50 % need about twice the epochs (80 %: 96.7 % after 8 epochs, 93.9 % after 4);
# 200 balanced calibration samples keep int8 within a point of float.
DEFAULT_FINETUNE_EPOCHS = 4
DEFAULT_FINETUNE_EPOCHS_HIGH_SPARSITY = 8
FINETUNE_LR_FACTOR = 0.5
DEFAULT_REPRESENTATIVE = 200
PRUNE_END_FRACTION = 0.7
PRUNE_KINDS = ("channels", "weights")
# Channel pruning removes whole filters, so it fine-tunes like a training run: gradually (at most CHANNEL_STEP of
# the original channels per cut; the cuts before the last get a short fine-tune each, CHANNEL_STEP_EPOCHS with
# patience CHANNEL_STEP_PATIENCE), and after the last cut as long as the run itself trained (its epochs and
# patience, at least DEFAULT_CHANNEL_FINETUNE_EPOCHS and CHANNEL_PATIENCE), keeping the best epoch. Inspection
# sample, 50 %, test accuracy of int8 (unpruned 89.6 %): one cut, 40 epochs, patience 10: 80.2 %; one cut, 150 /
# 15: 85.4 %; two cuts: 86.5 % (docs/benchmarks.md has the bench's figures).
DEFAULT_CHANNEL_FINETUNE_EPOCHS = 40
CHANNEL_PATIENCE = 10
CHANNEL_STEP = 0.25
CHANNEL_STEP_EPOCHS = 30
CHANNEL_STEP_PATIENCE = 10
# Whether channel-pruning fine-tunes (and search candidates) learn from the trained run by default. Off: on the
# development data distillation does not beat plain fine-tuning every time at the same budget (docs/benchmarks.md,
# "distillation effect", with - without, c50 / c75 / width-0.5 student: inspection-800 +7.92 / -13.5 / -0.21
# points, digits28 +0.30 / +0.10 / +0.20; on a second inspection-800 run with the default schedule -1.11); the
# benchmark notes also have batch-norm-scale ranking against L1 (+8.9 / -2.8 / -0.8 / -0.6 points over four
# runs), so L1 stays the default rank. --distill / the Optimize page's check box turn distillation on.
# At the rewound rate on well-trained models (inspection-800 s6 / s3, digits28 s1 x fine-tune seeds 1234 / 2, c50
# int8 test points vs unpruned int8): at least as good on 6 of 6, mean -0.37 -> +0.30, worst -2.78 -> -2.22, but
# within 1 point on 5 of 6 either way, +15 % CPU: still off (docs/benchmarks.md, "Shrinking").
DISTILL_BY_DEFAULT = False
# Channel pruning: epochs of stochastic weight averaging after the last cut's fine-tune (student.average_tail);
# 0 keeps the best epoch alone. Measured paired (same fine-tune, before / after a 15-epoch average), c50 int8 test
# points vs the unpruned int8 model, LiteRT: inspection-800 two training seeds -0.83 -> +0.28, 0.00 -> -0.56;
# digits28 -3.06 -> -0.70, +0.14 -> +0.14 (+23-32 CPU-s on 210-277); with fine-tune seed 2: inspection-800
# -5.56 -> -5.28, -1.11 -> +0.56; digits28 -1.67 -> -1.25, +0.56 -> +0.70. At least as good on 7 of 8 paired runs
# (worse on one by two images), mean -1.42 -> -0.76 points, within 1 point on 6 of 8 (4 of 8 without), +12-14 %
# CPU: on by default (docs/benchmarks.md, "Shrinking"). The bench's c50 rows were measured before it.
# 30 epochs since 2026-12-02: on 14 paired runs of new models and data (textures-800, inspection-800b, digits28,
# inspection-800; the 15- and 30-epoch means saved from the same fine-tune) within 1 point on 14 of 14 (15: 13),
# worst -0.83 (15: -1.39), mean +1.69 (15: +1.82; better on 4, worse on 6, equal on 4), +14 % CPU. Six more
# (inspection-800 training seeds 1, 2, 4): within 1 point on 3 of 6 either way, worst -2.50 either way, mean +0.69
# (15: +0.47). Over all 20: 17 vs 16 within 1 point, the same worst case, the same mean: a small difference.
CHANNEL_AVERAGE_EPOCHS = 30
# Channel pruning's fine-tunes (every cut, and the averaged tail at AVERAGE_LR_FACTOR of it) start at this fraction
# of the run's learning rate: 1.0 retrains at the run's own rate, its plateau cuts and early stopping as in
# training (learning-rate rewinding, Renda et al. 2020) instead of the half rate magnitude pruning fine-tunes at.
# Measured paired on 8 runs (inspection-800 and digits28, 2 training seeds x 2 fine-tune seeds, the same trained
# models, averaged tail on), c50 int8 test points vs the unpruned int8 model, LiteRT, half rate -> run's rate:
# digits28 -0.14 -> +0.14, -0.28 -> +0.28, -0.70 -> -0.70, -0.28 -> -0.97; inspection-800 -0.56 -> +9.44,
# +4.17 -> +8.61, +0.56 -> +5.28, +4.72 -> +7.78 (those unpruned models stopped under-trained, 0.72 / 0.74).
# Better on 6 of 8, worse on 1 (5 images), mean +0.94 -> +3.73, within 1 point on 8 of 8 either way, CPU +2 %
# (docs/benchmarks.md, "Shrinking"). Distillation measured the same way: mean +1.23, better on 3 of 8, +16 % CPU.
CHANNEL_LR_FACTOR = 1.0
# Channel pruning: how many times the last cut's fine-tune (and its averaged tail) runs from the same cut weights,
# each with its own seed (the first with the variant's, so one try is the recipe before); the variant keeps the
# try whose converted file scores best on the validation split through LiteRT (ties: lower validation loss, then
# the first). The cuts before the last are fine-tuned once. Measured end to end on 6 models (inspection-800
# training seeds 6, 3, 1; digits28 1, 3, 2; c50 int8 test points vs the same model's unpruned int8, LiteRT), one
# try -> two: -2.78 -> -2.78, -0.83 -> +3.33, +0.56 -> +3.61, -0.70 -> -0.97, +1.25 -> +1.39, -0.14 -> -0.42;
# within 1 point 5 of 6 either way, the same worst case, mean -0.44 -> +0.69, CPU 198 -> 342 s (1.73x); the first
# of two tries reproduced the one-try model exactly on all 6 (docs/benchmarks.md, "Shrinking").
CHANNEL_FINETUNE_TRIES = 2
MAX_FINETUNE_TRIES = 5


@dataclass(frozen=True)
class OptimizeConfig:
    """One variant's recipe: one field per choice on the Optimize page."""

    prune: float = 0.0  # weights: target sparsity of the prunable kernels; channels: fraction of filters removed
    prune_kind: str = "channels"  # "channels": remove whole filters (smaller file, arena, MACs); "weights": zeros
    channel_rank: str = "l1"  # channels: rank filters by kernel L1 norm ("l1") or batch-norm scale ("bn")
    average_epochs: int | None = None  # channels: weight-averaged epochs after the last fine-tune (None: default)
    finetune_tries: int | None = None  # channels: last fine-tunes from the same cut, best on validation kept (None: 2)
    distill: bool | None = None  # fine-tune against the trained model's outputs; None: the measured default
    distill_alpha: float | None = None  # weight of the label loss (None: distill.DEFAULT_ALPHA)
    distill_temperature: float | None = None  # softening temperature (None: distill.DEFAULT_TEMPERATURE)
    quantize: str = "int8"  # float32 | float16 | dynamic | int8
    qat: bool = False  # quantization-aware training (int8 only)
    finetune_epochs: int | None = None  # None: 4 when pruning (8 above 50 %) or QAT, else 0
    run_id: str | None = None  # None: the active run
    name: str | None = None  # None: derived from the settings ("p50-int8")
    io_dtype: str = "int8"  # int8 models' input/output type: int8 (TFLite-Micro) or uint8
    representative_samples: int = DEFAULT_REPRESENTATIVE
    learning_rate: float | None = None  # fine-tuning LR; None: the run's (channels) or half of it (5e-4 if unknown)
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
        if self.average_epochs is not None and self.average_epochs < 0:
            raise ConfigError("weight-averaged epochs cannot be negative")
        if self.finetune_tries is not None and not 1 <= self.finetune_tries <= MAX_FINETUNE_TRIES:
            raise ConfigError(f"fine-tune tries must be 1 to {MAX_FINETUNE_TRIES}, got {self.finetune_tries}",
                              hint="2 (the default) fine-tunes twice and keeps the better; 1 fine-tunes once")
        if self.io_dtype not in ("int8", "uint8"):
            raise ConfigError(f"unknown input/output type {self.io_dtype!r}", hint="use int8 or uint8")
        if self.prune_kind not in PRUNE_KINDS:
            raise ConfigError(f"unknown pruning kind {self.prune_kind!r}", hint="use channels or weights")
        if self.channel_rank not in ("l1", "bn"):
            raise ConfigError(f"unknown channel ranking {self.channel_rank!r}", hint="use l1 or bn")
        if self.distill and not self.finetunes:
            raise ConfigError("distillation needs fine-tuning", hint="prune, use QAT, or set --finetune-epochs")
        self.distill_config().validated()
        return self

    @property
    def channels(self) -> bool:
        """True when this variant removes whole channels."""
        return self.prune > 0 and self.prune_kind == "channels"

    @property
    def tries(self) -> int:
        """How many times channel pruning's last fine-tune runs from the same cut (1 for everything else)."""
        if not self.channels:
            return 1
        return CHANNEL_FINETUNE_TRIES if self.finetune_tries is None else int(self.finetune_tries)

    @property
    def finetunes(self) -> bool:
        return self.prune > 0 or self.qat or bool(self.finetune_epochs)

    @property
    def distills(self) -> bool:
        """Whether fine-tuning learns from the trained model too (default: :data:`DISTILL_BY_DEFAULT`, for
        channel pruning)."""
        if self.distill is not None:
            return bool(self.distill) and self.finetunes
        return self.channels and DISTILL_BY_DEFAULT

    def distill_config(self) -> Any:
        from studio.core.optimize.distill import DEFAULT_ALPHA, DEFAULT_TEMPERATURE, DistillConfig

        return DistillConfig(
            alpha=DEFAULT_ALPHA if self.distill_alpha is None else float(self.distill_alpha),
            temperature=DEFAULT_TEMPERATURE if self.distill_temperature is None else float(self.distill_temperature),
        )

    @property
    def epochs(self) -> int:
        if self.finetune_epochs is not None:
            n = int(self.finetune_epochs)
        elif self.channels:
            n = DEFAULT_CHANNEL_FINETUNE_EPOCHS
        else:
            n = DEFAULT_FINETUNE_EPOCHS if (self.prune > 0 or self.qat) else 0
            if self.prune > 0.5:
                n = DEFAULT_FINETUNE_EPOCHS_HIGH_SPARSITY
        if (self.prune > 0 or self.qat) and n < 1:
            n = 1  # pruning and QAT need at least one pass to take effect
        return n

    def default_name(self) -> str:
        parts = []
        if self.channels:
            parts.append(f"c{int(round(self.prune * 100))}")
        elif self.prune > 0:
            parts.append(f"p{int(round(self.prune * 100))}")
        if self.distills != (self.channels and DISTILL_BY_DEFAULT):  # say so when it differs from the default
            parts.append("kd" if self.distills else "nokd")
        if self.qat:
            parts.append("qat")
        parts.append(self.quantize)
        if self.quantize == "int8" and self.io_dtype == "uint8":
            parts.append("u8")
        return "-".join(parts)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["finetune_epochs_used"] = self.epochs
        d["distill_used"] = self.distills
        d["finetune_tries_used"] = self.tries
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
    training: Any = None  # student.TrainingData: raw splits + the run's choices, for pipeline fine-tuning
    # sensors: the recording of each input (index into the split's recordings), for per-recording accuracy
    groups: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class BuiltVariant:
    keras_model: Any  # stripped (and possibly QAT) model that was converted
    model_bytes: bytes
    sparsity: dict[str, Any]
    notes: list[str]
    history: dict[str, list[float]]
    channel_plan: dict[str, Any] | None = None  # channel pruning: the plan that rebuilds the narrow model
