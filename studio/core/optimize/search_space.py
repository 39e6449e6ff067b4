"""What the "fit my device" search tries, and how it compares results: candidates, budgets, Pareto fronts.

Plain Python (no TensorFlow): the candidate list comes from the registry (every architecture of the project's
modality that has a ``width`` parameter, so architectures added later join the search by themselves), the
image sides from the trained run's, and the Pareto helpers work on dicts with ``bytes`` and ``accuracy``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from studio.core.errors import ConfigError
from studio.core.pareto import dominates, pareto_front  # noqa: F401 - one place; re-exported for the search

ETA = 3  # successive halving keeps about 1 in ETA candidates per rung
MIN_SIDE = 16


@dataclass(frozen=True)
class SearchConfig:
    """One search: the device, the time budget, and (optionally) a narrower space than the defaults."""

    target: str
    budget_min: float = 10.0
    max_bytes: int | None = None  # largest .tflite worth training; None: what the target's flash leaves
    quantize: tuple[str, ...] = ("int8",)
    archs: tuple[str, ...] | None = None  # None: every registry architecture of the modality (with a width)
    widths: tuple[float, ...] | None = None  # None: each architecture's allowed widths
    input_sizes: tuple[int, ...] | None = None  # None: the run's side and up to three smaller ones
    channel_fractions: tuple[float, ...] = (0.25, 0.5, 0.75)  # channel pruning of the run and the best found
    distill: bool | None = None  # learn from the trained run too; None: the measured default (off)
    keep: bool = True  # keep frontier points as variants
    # few candidates trained long beat many trained for an epoch or two (a 10-min search under load ~20 gave
    # 16 candidates 1-2 epochs each): successive halving over 6 keeps 2, then 1
    max_candidates: int = 6
    max_latency_ms: float | None = None  # host latency budget (LiteRT median, batch 1); None: no limit
    epochs: int | None = None  # epochs of a fully trained candidate; None: Studio's default for the data
    seed: int = 1234

    def validated(self) -> "SearchConfig":
        from studio.core.convert import QUANTIZATIONS
        from studio.core.targets import get_target

        get_target(self.target)
        if not 0.05 <= float(self.budget_min) <= 24 * 60:
            raise ConfigError(f"search budget {self.budget_min} min is out of range", hint="use 0.05 to 1440 minutes")
        bad = [q for q in self.quantize if q not in QUANTIZATIONS]
        if bad or not self.quantize:
            raise ConfigError(f"unknown quantization {', '.join(bad) or '(none)'}",
                              hint="use " + ", ".join(QUANTIZATIONS))
        if any(not 0 < f < 1 for f in self.channel_fractions):
            raise ConfigError("channel fractions must be between 0 and 1")
        if self.max_candidates < 1:
            raise ConfigError("the search needs at least one candidate")
        if self.max_latency_ms is not None and not float(self.max_latency_ms) > 0:
            raise ConfigError(f"latency budget {self.max_latency_ms} ms is not positive", hint="use e.g. 5 (ms)")
        return self

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Candidate:
    """One architecture / width / input size being trained (``model`` and results filled as it goes)."""

    arch: str
    width: float
    size: int | None  # image side; None for sensors (the window is the project's)
    est_bytes: int
    est_macs: int
    model: Any = None
    epochs_done: int = 0
    val_loss: float | None = None
    val_accuracy: float | None = None
    seconds: float = 0.0
    status: str = "waiting"  # waiting | training | eliminated | finished | skipped
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        side = f"-{self.size}px" if self.size else ""
        return f"{self.arch}-w{self.width:g}{side}"

    def settings(self) -> dict[str, Any]:
        return {"arch": self.arch, "width": self.width, "input_size": self.size, "epochs": self.epochs_done}


def image_sides(run_side: int, lo: int = MIN_SIDE) -> list[int]:
    """The run's side and up to three smaller ones (about 2/3, 1/2, 1/3), multiples of 8, at least ``lo``."""
    out = {int(run_side)}
    for f in (2 / 3, 1 / 2, 1 / 3):
        s = max(lo, int(round(run_side * f / 8)) * 8)
        out.add(s)
    return sorted((s for s in out if s >= lo), reverse=True)


def candidate_specs(modality: str, config: SearchConfig, run_side: int | None) -> list[tuple[str, float, int | None]]:
    """(arch, width, side) triples to try, before any size filter."""
    from studio.core.models import REGISTRY

    archs = config.archs or tuple(
        s.id for s in REGISTRY.values()
        if s.task == modality and "width" in s.allowed and isinstance(s.allowed["width"], tuple)
        and "imagenet" not in s.pretrained  # MobileNetV2 from scratch is the known small-data trap
    )
    out = []
    for arch in archs:
        spec = REGISTRY.get(arch)
        if spec is None or spec.task != modality:
            raise ConfigError(f"architecture {arch!r} is not a {modality} architecture")
        widths = config.widths or tuple(float(w) for w in spec.allowed.get("width", (1.0,)))
        if modality == "image":
            lo, hi = spec.input_sizes or (MIN_SIDE, 256)
            sides = config.input_sizes or tuple(image_sides(run_side or 96, lo))
            sides = tuple(s for s in sides if lo <= s <= hi)
        else:
            sides = (None,)
        out += [(arch, float(w), s) for w in widths for s in sides]
    return out


def fit_fraction(size_of: Any, max_bytes: int, step: float = 0.05, highest: float = 0.9,
                 margin: float = 0.92) -> float | None:
    """The smallest channel-pruning fraction (on a ``step`` grid up to ``highest``) whose estimated int8 size
    ``size_of(fraction)`` is at most ``margin * max_bytes`` (the estimate is within about 10 % of the real file):
    the widest pruned model that fits. None when even ``highest`` does not fit. Sizes fall as the fraction
    grows, so this is a bisection over the grid."""
    grid = [round(step * i, 4) for i in range(1, int(round(highest / step)) + 1)]
    limit = margin * max_bytes
    if size_of(grid[-1]) > limit:
        return None
    lo, hi = 0, len(grid) - 1  # grid[hi] fits
    while lo < hi:
        mid = (lo + hi) // 2
        if size_of(grid[mid]) <= limit:
            hi = mid
        else:
            lo = mid + 1
    return grid[hi]


def thin_out(cands: list[Candidate], n: int) -> list[Candidate]:
    """At most ``n`` candidates spread evenly over the estimated sizes (smallest and largest kept)."""
    cands = sorted(cands, key=lambda c: (c.est_bytes, c.est_macs))
    if len(cands) <= n:
        return cands
    if n == 1:
        return [cands[len(cands) // 2]]
    picks = sorted({round(i * (len(cands) - 1) / (n - 1)) for i in range(n)})
    return [cands[i] for i in picks]


# ---------------------------------------------------------------------------------------------- Pareto
def pareto_keep(cands: list[Candidate], k: int) -> tuple[list[Candidate], list[Candidate]]:
    """Successive halving on two objectives: keep ``k`` candidates by Pareto rank (estimated size, validation
    loss), so a small model is not eliminated for being less accurate than a big one. Returns (kept, dropped)."""
    pool = [c for c in cands if c.val_loss is not None]
    kept: list[Candidate] = []
    while pool and len(kept) < k:
        pts = [{"bytes": c.est_bytes, "accuracy": -c.val_loss, "c": c} for c in pool]  # type: ignore[operator]
        front = [p["c"] for p in pts if not any(dominates(q, p) for q in pts)]
        # a front larger than the places left: spread the survivors along it, both ends included
        kept += thin_out(front, k - len(kept))
        pool = [c for c in pool if c not in front]
    return kept, [c for c in cands if c not in kept]
