"""Device profiles and the fits / does-not-fit verdict for a variant.

A verdict is only as good as the numbers behind it, so for microcontrollers it compares *measured* figures:
the model file's bytes against flash, and the TFLite-Micro arena found by actually allocating and invoking the
model (see :mod:`studio.core.micro`) against RAM. Phones and Linux boards have far more memory than any model
Studio builds; for them a generous estimate (file size plus activations, times a safety factor) is enough to
catch the only real failure, a model that is simply too big.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from studio.core.errors import ConfigError

KB = 1024
MB = 1024 * 1024

# Flash taken by the TFLite-Micro runtime, the kernels of a small CNN and the application around it.
# Measured builds of the hello-world/person-detection examples are 60-150 KB on Cortex-M; we reserve 160 KB.
MCU_CODE_RESERVE = 160 * KB
# RAM the application needs besides the arena (stack, heap, buffers for camera / sensor input).
MCU_RAM_RESERVE = 64 * KB


@dataclass(frozen=True)
class TargetProfile:
    id: str
    title: str
    runtime: str  # "litert" (full LiteRT interpreter) or "tflm" (TFLite-Micro)
    flash_bytes: int  # storage available for the model file
    ram_bytes: int  # RAM available to the model at run time
    io_dtype: str  # preferred input/output type of a fully quantized model: "int8" or "uint8"
    notes: str

    @property
    def mcu(self) -> bool:
        return self.runtime == "tflm"

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["mcu"] = self.mcu
        return out


TARGETS: dict[str, TargetProfile] = {
    t.id: t
    for t in (
        TargetProfile(
            "linux",
            "Linux board / Raspberry Pi 4 class (a camera or a sensor gateway)",
            "litert",
            flash_bytes=4 * 1024 * MB,
            ram_bytes=512 * MB,
            io_dtype="int8",
            notes="Python harness with ai-edge-litert or tflite-runtime; any variant runs.",
        ),
        TargetProfile(
            "android",
            "Android phone",
            "litert",
            flash_bytes=200 * MB,
            ram_bytes=256 * MB,
            io_dtype="uint8",
            notes="LiteRT in an app; budgets are what an app can reasonably spend on one model.",
        ),
        TargetProfile(
            "cortex-m7",
            "Cortex-M7 MCU (e.g. STM32H7, i.MX RT): 2 MB flash, 1 MB RAM",
            "tflm",
            flash_bytes=2 * MB,
            ram_bytes=1 * MB,
            io_dtype="int8",
            notes="TFLite-Micro; int8 (or float32) variants only.",
        ),
        TargetProfile(
            "esp32-s3",
            "ESP32-S3 class MCU: 8 MB flash, 512 KB SRAM",
            "tflm",
            flash_bytes=8 * MB,
            ram_bytes=512 * KB,
            io_dtype="int8",
            notes="TFLite-Micro (esp-tflite-micro); int8 strongly advised. PSRAM, if fitted, is not counted.",
        ),
        TargetProfile(
            "cortex-m4",
            "Cortex-M4 MCU (e.g. nRF52840, Arduino Nano 33 BLE): 1 MB flash, 256 KB RAM",
            "tflm",
            flash_bytes=1 * MB,
            ram_bytes=256 * KB,
            io_dtype="int8",
            notes="TFLite-Micro; small sensor models.",
        ),
    )
}

DEFAULT_TARGET = "linux"


def get_target(target_id: str | None) -> TargetProfile:
    """The profile ``target_id`` (default: Linux), or a ConfigError listing the valid ids."""
    if target_id is None:
        return TARGETS[DEFAULT_TARGET]
    try:
        return TARGETS[target_id]
    except KeyError:
        raise ConfigError(
            f"unknown target {target_id!r}", hint="choose one of: " + ", ".join(TARGETS)
        ) from None


def describe_targets() -> list[dict[str, Any]]:
    return [t.to_json() for t in TARGETS.values()]


TFLM_QUANTIZATIONS = ("int8", "float32")


def check_fit(variant: dict[str, Any], target: TargetProfile) -> dict[str, Any]:
    """Verdict for one variant (a variant.json dict) on one target.

    Returns ``{"ok", "flash_ok", "ram_ok", "flash_needed", "ram_needed", "flash_available", "ram_available",
    "reason", "measured"}``; ``measured`` says whether RAM is the measured TFLite-Micro arena or an estimate.
    """
    file_bytes = int(variant.get("bytes") or 0)
    quantize = variant.get("quantize", "float32")
    reasons: list[str] = []
    if target.mcu:
        flash_needed = file_bytes + MCU_CODE_RESERVE
        arena = (variant.get("arena") or {}).get("recommended_bytes")
        if quantize not in TFLM_QUANTIZATIONS:
            return {
                "ok": False,
                "flash_ok": flash_needed <= target.flash_bytes,
                "ram_ok": False,
                "flash_needed": flash_needed,
                "ram_needed": None,
                "flash_available": target.flash_bytes,
                "ram_available": target.ram_bytes,
                "measured": False,
                "reason": f"TFLite-Micro cannot run {quantize} models: use an int8 variant",
            }
        if arena is None:
            ram_needed = None
            ram_ok = False
            reasons.append(
                "the model does not run in TFLite-Micro"
                + (f" ({variant['arena'].get('error')})" if (variant.get("arena") or {}).get("error") else "")
            )
        else:
            ram_needed = int(arena) + MCU_RAM_RESERVE
            ram_ok = ram_needed <= target.ram_bytes
        measured = arena is not None
    else:
        flash_needed = file_bytes
        # Generous: the file is loaded into memory, activations are estimated at 4x the file (or measured).
        arena = (variant.get("arena") or {}).get("recommended_bytes")
        activations = int(arena) if arena else 4 * file_bytes
        ram_needed = 2 * (file_bytes + activations)
        ram_ok = ram_needed <= target.ram_bytes
        measured = False
    flash_ok = flash_needed <= target.flash_bytes
    if not flash_ok:
        reasons.append(f"needs {flash_needed / KB:.0f} KB flash, has {target.flash_bytes / KB:.0f} KB")
    if ram_needed is not None and not ram_ok:
        reasons.append(f"needs {ram_needed / KB:.0f} KB RAM, has {target.ram_bytes / KB:.0f} KB")
    return {
        "ok": bool(flash_ok and ram_ok),
        "flash_ok": bool(flash_ok),
        "ram_ok": bool(ram_ok),
        "flash_needed": flash_needed,
        "ram_needed": ram_needed,
        "flash_available": target.flash_bytes,
        "ram_available": target.ram_bytes,
        "measured": measured,
        "reason": "; ".join(reasons) if reasons else "fits",
    }
