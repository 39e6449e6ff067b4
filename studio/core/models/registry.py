"""Architecture registry (plain data): every model Studio trains is an id plus parameters, rebuilt here on demand.

A project stores ``model.json`` (arch id, params, input shape, classes) and ``weights.h5``; nothing else is
needed to get the model back, so a project received from someone else never runs code it carries. Every
model is a *flat* functional tf_keras model without Lambda or Rescaling layers: pruning and quantization-aware
training (tfmot) refuse nested models and those layers. Input scaling happens in the data pipeline instead
(see :mod:`studio.core.pipeline`).

The registry itself is plain data: listing architectures (``studio archs``, the GUI's model cards) does not
import TensorFlow. Building a model or estimating its cost does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from studio.core.errors import ConfigError


@dataclass(frozen=True)
class ArchSpec:
    """One architecture: what it is for, its default parameters and the values each parameter may take.

    ``allowed`` maps a parameter to a tuple of allowed values, or to ``(min, max)`` wrapped in a dict
    ``{"min": lo, "max": hi}`` for ranges. ``input_sizes`` is the allowed image side (images only).
    """

    id: str
    title: str
    task: str  # "image" | "sensor"
    summary: str
    defaults: dict[str, Any] = field(default_factory=dict)
    allowed: dict[str, Any] = field(default_factory=dict)
    input_sizes: tuple[int, int] | None = None  # (min, max) image side
    pretrained: tuple[str, ...] = ("none",)
    trained_by: str = "gradient descent"  # "closed form": fitted without epochs (MiniRocket's ridge head)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "task": self.task,
            "summary": self.summary,
            "defaults": dict(self.defaults),
            "allowed": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.allowed.items()},
            "input_sizes": list(self.input_sizes) if self.input_sizes else None,
            "pretrained": list(self.pretrained),
            "trained_by": self.trained_by,
        }


REGISTRY: dict[str, ArchSpec] = {
    spec.id: spec
    for spec in (
        ArchSpec(
            id="mobilenetv2",
            title="MobileNetV2",
            task="image",
            summary=(
                "The standard small image network (inverted residual blocks). Best with ImageNet weights on "
                "photos of 96 px or more; width 0.35 fits a Raspberry Pi class device comfortably."
            ),
            defaults={"width": 0.35, "dropout": 0.2, "bn_momentum": 0.9},
            allowed={
                "width": (0.35, 0.5, 0.75, 1.0),
                "dropout": {"min": 0.0, "max": 0.9},
                "bn_momentum": {"min": 0.5, "max": 0.9999},
            },
            input_sizes=(32, 224),
            pretrained=("none", "imagenet"),
        ),
        ArchSpec(
            id="compact_cnn",
            title="Compact CNN",
            task="image",
            summary=(
                "A few tens of thousands of parameters: conv and separable-conv blocks with batch norm, global "
                "average pooling and dropout. Trains from scratch in minutes; fits microcontrollers."
            ),
            defaults={"width": 1.0, "dropout": 0.3},
            # 0.25 / 0.35: int8 files of about 23 / 30 KB (10 classes), for searches with a small flash limit
            allowed={"width": (0.25, 0.35, 0.5, 1.0, 1.5, 2.0), "dropout": {"min": 0.0, "max": 0.9}},
            input_sizes=(16, 256),
        ),
        ArchSpec(
            id="cnn1d",
            title="1-D CNN",
            task="sensor",
            summary=(
                "Three 1-D convolution blocks over time, global average pooling and dropout: small, fast, "
                "robust to where in the window an event happens. Wins when there are many recordings per class."
            ),
            defaults={"width": 1.0, "dropout": 0.3},
            allowed={"width": (0.5, 1.0, 1.5, 2.0), "dropout": {"min": 0.0, "max": 0.9}},
        ),
        ArchSpec(
            id="dense",
            title="Small dense net",
            task="sensor",
            summary=(
                "Flattens the window into two small fully connected layers. Tiny and quick for short windows "
                "with few channels; sensitive to where in the window an event happens."
            ),
            defaults={"width": 1.0, "dropout": 0.3},
            allowed={"width": (0.5, 1.0, 1.5, 2.0), "dropout": {"min": 0.0, "max": 0.9}},
        ),
        ArchSpec(
            id="minirocket",
            title="MiniRocket",
            task="sensor",
            summary=(
                "Fixed random-like dilated convolution kernels (84 patterns of -1/2 weights at up to 32 "
                "dilations), the proportion of positive values of each, and a linear classifier fitted in "
                "closed form (ridge) in seconds. The strongest default with few recordings per class "
                "(Dempster et al. 2021). Fewer features trade accuracy for flash and RAM on microcontrollers."
            ),
            defaults={"features": 10000, "step": 0.25},
            allowed={"features": (840, 2016, 5040, 10000), "step": {"min": 0.0, "max": 2.0}},
            trained_by="closed form",
        ),
        ArchSpec(
            id="fcn",
            title="FCN (fully convolutional)",
            task="sensor",
            summary=(
                "Three convolution blocks (kernels 8, 5, 3) with batch norm and global average pooling: the "
                "strong deep baseline for time series (Wang et al. 2017). Width 1.0 is the paper's 128/256/128 "
                "filters; 0.5 is four times cheaper."
            ),
            defaults={"width": 0.5, "dropout": 0.2},
            allowed={"width": (0.25, 0.5, 1.0), "dropout": {"min": 0.0, "max": 0.9}},
        ),
        ArchSpec(
            id="resnet1d",
            title="ResNet-1D",
            task="sensor",
            summary=(
                "Three residual blocks of three convolutions (kernels 8, 5, 3) with shortcut connections and "
                "global average pooling (Wang et al. 2017): deeper than the FCN, good on longer signals."
            ),
            defaults={"width": 0.5, "dropout": 0.2},
            allowed={"width": (0.25, 0.5, 1.0), "dropout": {"min": 0.0, "max": 0.9}},
        ),
        ArchSpec(
            id="inception",
            title="InceptionTime (small)",
            task="sensor",
            summary=(
                "Inception modules (a 1x1 bottleneck, then kernels of 9, 19 and 39 steps side by side, plus a "
                "max-pool branch) with a residual connection every three modules (Ismail Fawaz et al. 2020), "
                "sized down for small devices."
            ),
            defaults={"width": 1.0, "depth": 3, "dropout": 0.2},
            allowed={"width": (0.5, 1.0, 2.0), "depth": (3, 6), "dropout": {"min": 0.0, "max": 0.9}},
        ),
    )
}


@dataclass(frozen=True)
class ModelEstimate:
    """Cost of a model before training. Sizes are for the weights as a TFLite file would hold them.

    ``float32_bytes``: 4 bytes per deployed weight (batch norm folded into the preceding layer) plus a small
    per-op overhead. ``int8_bytes``: 1 byte per kernel weight, 28 per conv output channel (int32 bias, per-channel
    scale and zero point of kernel and bias), 4 per dense unit, same overhead (``cost.file_bytes``: within
    about 15 % of real conversions).
    ``activation_bytes``: the largest input+output activation pair of one layer at int8, a lower bound of the
    tensor arena a microcontroller needs.
    """

    params: int
    macs: int
    float32_bytes: int
    int8_bytes: int
    activation_bytes: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "params": self.params,
            "macs": self.macs,
            "float32_bytes": self.float32_bytes,
            "int8_bytes": self.int8_bytes,
            "activation_bytes": self.activation_bytes,
        }


# ---------------------------------------------------------------------------------------------- validation
def get_spec(arch_id: str, task: str | None = None) -> ArchSpec:
    """The spec of ``arch_id``; a ConfigError naming the choices when it is unknown or for another task."""
    spec = REGISTRY.get(arch_id)
    if spec is None:
        choices = ", ".join(s.id for s in REGISTRY.values() if task is None or s.task == task)
        raise ConfigError(f"unknown architecture {arch_id!r}", hint=f"choose one of: {choices}")
    if task is not None and spec.task != task:
        choices = ", ".join(s.id for s in REGISTRY.values() if s.task == task)
        raise ConfigError(
            f"architecture {arch_id!r} is for {spec.task} data, but this is a {task} project",
            hint=f"choose one of: {choices}",
        )
    return spec


def resolve_params(arch_id: str, **params: Any) -> dict[str, Any]:
    """Defaults merged with ``params`` (None means default), each checked against the spec."""
    spec = get_spec(arch_id)
    out = dict(spec.defaults)
    for key, value in params.items():
        if value is None:
            continue
        if key not in spec.allowed:
            raise ConfigError(
                f"{spec.title} has no parameter {key!r}", hint=f"parameters: {', '.join(spec.allowed) or 'none'}"
            )
        allowed = spec.allowed[key]
        if isinstance(allowed, dict):
            try:
                value = float(value)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{key} must be a number, got {value!r}") from exc
            if not allowed["min"] <= value <= allowed["max"]:
                raise ConfigError(f"{key} must be between {allowed['min']} and {allowed['max']}, got {value}")
        else:
            match = [a for a in allowed if isinstance(a, (int, float)) and abs(float(a) - float(value)) < 1e-9]
            if not match:
                raise ConfigError(
                    f"{spec.title} {key} must be one of {', '.join(str(a) for a in allowed)}, got {value}"
                )
            value = match[0]
        out[key] = value
    return out


def check_input_shape(arch_id: str, input_shape: tuple[int, ...]) -> None:
    spec = get_spec(arch_id)
    if spec.task == "image":
        if len(input_shape) != 3 or input_shape[0] != input_shape[1] or input_shape[2] not in (1, 3):
            raise ConfigError(f"{spec.title} needs a square image input with 1 or 3 channels, got {input_shape}")
        lo, hi = spec.input_sizes or (1, 100000)
        if not lo <= input_shape[0] <= hi:
            raise ConfigError(
                f"{spec.title} takes images of {lo} to {hi} pixels, got {input_shape[0]}",
                hint=f"choose an input size between {lo} and {hi}",
            )
    else:
        if len(input_shape) != 2 or input_shape[0] < 4 or input_shape[1] < 1:
            raise ConfigError(
                f"{spec.title} needs a [window, channels] input with a window of at least 4, got {input_shape}"
            )


