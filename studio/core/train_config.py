"""The Train step's settings: :class:`TrainConfig` (frozen) and the defaults chosen for a project's data."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from studio.core import models
from studio.core.errors import ConfigError
from studio.core.project import modality_of

DISTRIBUTE = ("none", "mirrored", "multiworker")
# Default run length: about STEP_BUDGET optimizer steps, within [MIN_EPOCHS, MAX_EPOCHS] (early stopping ends it
# sooner when validation stops improving).
STEP_BUDGET = 3000
MIN_EPOCHS = 30
MAX_EPOCHS = 150


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
    # A finished run to learn from as well as the labels (knowledge distillation, studio.core.optimize.distill):
    # e.g. a smaller width or input size trained against the big run.
    teacher: str | None = None
    # sensors: how recordings become model inputs (None: chosen from the data, see closed_form.default_shaping)
    length_policy: str | None = None  # "resample" | "pad" | "windows"
    window: int | None = None
    stride: int | None = None
    norm: str | None = None  # "global" | "recording"
    features: int | None = None  # MiniRocket feature count
    select: bool = False  # sensors: choose shaping (and model) by cross-validation before training
    refit: bool = True  # closed-form models: refit on train + validation after scoring

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
        if models.get_spec(self.arch).trained_by == "closed form":
            return {k: v for k, v in {"features": self.features}.items() if v is not None}
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
            raise ConfigError(f"epochs must be between 1 and 10000, got {self.epochs}")
        if not 1 <= int(self.batch_size) <= 65536:
            raise ConfigError(f"batch size must be between 1 and 65536, got {self.batch_size}")
        if not 0 < float(self.learning_rate) <= 1.0:
            raise ConfigError(f"learning rate must be in (0, 1], got {self.learning_rate}")
        if int(self.patience) < 0:
            raise ConfigError(f"patience must be 0 (off) or more, got {self.patience}")
        if self.length_policy is not None and self.length_policy not in ("resample", "pad", "windows"):
            raise ConfigError(f"unknown length policy {self.length_policy!r}", hint="use resample, pad or windows")
        if self.norm is not None and self.norm not in ("global", "recording"):
            raise ConfigError(f"unknown normalization {self.norm!r}", hint="use global or recording")
        if self.window is not None and int(self.window) < 4:
            raise ConfigError(f"the window must be at least 4 rows, got {self.window}")
        if self.distribute not in DISTRIBUTE:
            raise ConfigError(f"unknown distribution {self.distribute!r}", hint=f"use one of {', '.join(DISTRIBUTE)}")
        if self.teacher and self.distribute != "none":
            raise ConfigError("a teacher run cannot be used with distributed training", hint="use --distribute none")
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
        # No architecture named: a short search chooses the input shaping by cross-validation and MiniRocket
        # is fitted on the winner (studio.core.selection); naming --arch skips the search.
        base = TrainConfig(arch=ov.get("arch") or "minirocket", input_size=None, epochs=min(epochs, 100),
                           batch_size=batch, learning_rate=1e-3, patience=10,
                           select=not any(ov.get(k) is not None for k in ("arch", "window", "length_policy", "norm")))
        ov.pop("input_size", None)
    config = base.replace(**ov)
    return config.validate(modality)
