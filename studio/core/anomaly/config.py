"""The Train step's choices for an anomaly project, and the defaults chosen from the data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from studio.core.errors import ConfigError

from .metrics import DEFAULT_FALSE_ALARMS

DETECTORS = ("auto", "patch", "global", "window")
IMAGE_DETECTORS = ("auto", "patch", "global")
DEFAULT_BANK = 1024  # window detector; the global detector keeps 8192 (detector.GLOBAL_BANK)
MAX_IMAGE_SIZE = 512


@dataclass(frozen=True)
class AnomalyConfig:
    """One field per choice: which detector, the image size, the memory-bank size, the false-alarm budget."""

    detector: str = "auto"  # auto: patch or global from the images' alignment; sensors: window
    input_size: int | None = None  # image side in pixels; None for sensors
    bank: int | None = None  # memory-bank rows (global: 8192, window: 1024 when None)
    false_alarms: float = DEFAULT_FALSE_ALARMS  # default threshold: this share of validation good flagged
    seed: int = 1234

    def replace(self, **changes: Any) -> "AnomalyConfig":
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "AnomalyConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def validate(self, modality: str) -> "AnomalyConfig":
        allowed = IMAGE_DETECTORS if modality == "image" else ("auto", "window")
        if self.detector not in allowed:
            raise ConfigError(f"detector {self.detector!r} does not apply to {modality} projects",
                              hint="use " + ", ".join(allowed))
        if modality == "image":
            if self.input_size is None or not 16 <= int(self.input_size) <= MAX_IMAGE_SIZE:
                raise ConfigError(f"the image size must be 16 to {MAX_IMAGE_SIZE} pixels (got {self.input_size})",
                                  hint="use --input-size, e.g. 256")
        if self.bank is not None and not 16 <= int(self.bank) <= 65536:
            raise ConfigError(f"the memory bank must hold 16 to 65536 examples (got {self.bank})")
        if not 0.0 <= float(self.false_alarms) < 1.0:
            raise ConfigError(f"the false-alarm budget must be between 0 and 1 (got {self.false_alarms})")
        return self


def default_input_size(side: int | None) -> int:
    """32 px for tiny images (digits), else the typical side rounded down to 64/128/256 (256 for big photos):
    defects of a few pixels survive, and the patch model's cost stays around a second per image on a Pi."""
    if side is None:
        return 256
    for size in (32, 64, 128):
        if side <= size * 1.5:
            return size
    return 256


def default_config(project: Any, **overrides: Any) -> AnomalyConfig:
    """Defaults for this project's data, then ``overrides`` (None values ignored), validated."""
    names = {f.name for f in fields(AnomalyConfig)}
    unknown = sorted(k for k in overrides if k not in names)
    if unknown:
        raise ConfigError(f"unknown anomaly setting(s): {', '.join(unknown)}",
                          hint="anomaly projects take --detector, --input-size, --bank, --false-alarms, --seed")
    ov = {k: v for k, v in overrides.items() if v is not None}
    manifest = project.load_manifest()
    if project.modality == "image":
        median = ((manifest.get("image_size") or {}).get("median")) or None
        side = int(min(median)) if median else None
        base = AnomalyConfig(input_size=default_input_size(side))
    else:
        base = AnomalyConfig(input_size=None)
        ov.pop("input_size", None)
    return base.replace(**ov).validate(project.modality)


def bank_for(config: AnomalyConfig, kind: str) -> int:
    from .detector import GLOBAL_BANK

    if config.bank is not None:
        return int(config.bank)
    return GLOBAL_BANK if kind == "global" else DEFAULT_BANK
