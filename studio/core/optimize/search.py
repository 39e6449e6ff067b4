""""Fit my device": search architecture, width, input size, channel pruning and quantization within a time budget.

``search(project, SearchConfig(target=...), reporter)``:

1. measures the trained run's own int8 model (the baseline every point is compared with; its real file size
   also calibrates the size estimates);
2. channel-prunes the run first, within the first ``RUN_CHANNEL_SHARE`` of the budget: the run's knowledge is
   the cheapest start, and with a largest file asked for, the widest pruned model that fits it (the fraction
   found on the estimated sizes, :func:`.search_space.fit_fraction`) comes first;
3. trains candidates from the registry (:mod:`.search_space`) whose estimated int8 file fits, by **successive
   halving** on two objectives: every candidate gets a few epochs, then about one in three survives each
   rung, chosen by Pareto rank of (estimated size, validation loss) so small models compete with small ones;
   survivors train on, the last rung to a full run's length;
4. channel-prunes the best finished candidate with the time left;
5. converts and measures **every** candidate through LiteRT (accuracy on val and test, latency) and the real
   TFLite-Micro interpreter (arena), as points reach the reporter (``metrics("search_point", point)``) so a
   plot can draw them live; the Pareto frontier of size vs accuracy comes with each point; a point fits when
   the target's flash and RAM hold it, it is not larger than ``max_bytes`` and (``max_latency_ms``) its host
   latency is within the budget;
6. keeps the frontier points as variants (``studio variants`` lists them, with weights to rebuild them);
   every point's files stay in ``P/search/points/<id>/`` until the next search, so :func:`keep_point` makes
   any of them a variant later (the GUI's one click).

Time: training stops at the budget (minus a reserve for measuring the last points, estimated from the
measurements so far), within a batch; a cancel keeps every point measured so far and their frontier.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from studio.core.errors import Cancelled, ConfigError
from studio.core.optimize.search_points import Points, clear_search, keep_point
from studio.core.optimize.search_space import ETA, Candidate, SearchConfig, candidate_specs, pareto_keep, thin_out
from studio.core.reporter import NullReporter, Reporter

MEASURE_GUESS_S = 20.0  # before the first measurement: seconds to convert and measure one point
RUNG_SHARES = (0.3, 0.5, 1.0)  # share of the remaining training time each rung may use
RUN_CHANNEL_SHARE = 0.45  # of the time after the baseline: channel pruning of the trained run (first)
TRAIN_SHARE = 0.85  # from-scratch candidates train until here; the rest: channel pruning of the best of them


class _Clock:
    """The user's reporter, plus a deadline: ``cancel_requested`` turns true at the deadline too (training then
    stops within a batch and keeps its best epoch); ``user_cancelled`` says which of the two it was."""

    def __init__(self, reporter: Reporter, started: float, budget_s: float) -> None:
        self.reporter, self.started, self.budget_s = reporter, started, budget_s
        self.deadline = started + budget_s

    @property
    def user_cancelled(self) -> bool:
        return self.reporter.cancel_requested()

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def progress(self, fraction: float, message: str = "") -> None:
        self.reporter.progress(min(0.99, self.elapsed() / self.budget_s), message)

    def status(self, message: str) -> None:
        self.reporter.status(message)

    def metrics(self, kind: str, values: dict[str, Any]) -> None:
        self.reporter.metrics(kind, values)

    def cancel_requested(self) -> bool:
        return self.user_cancelled or time.monotonic() >= self.deadline


@dataclass
class SearchResult:
    target: str
    budget_min: float
    seconds: float
    stopped: bool
    stop_reason: str | None
    baseline: dict[str, Any] | None
    points: list[dict[str, Any]]
    frontier: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    timing: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        fitting = [p for p in self.frontier if p.get("fits")]
        return {
            "target": self.target, "budget_min": self.budget_min, "seconds": round(self.seconds, 1),
            "stopped": self.stopped, "stop_reason": self.stop_reason, "baseline": self.baseline,
            "frontier": self.frontier, "points": self.points,
            "best_fitting": max(fitting, key=lambda p: p["accuracy"]) if fitting else None,
            "notes": self.notes, "timing": self.timing,
        }


def search(project: Any, config: SearchConfig, reporter: Reporter | None = None) -> SearchResult:
    """Search the models that fit ``config.target`` (see the module docstring)."""
    reporter = reporter or NullReporter()
    config = config.validated()
    started = time.monotonic()
    clock = _Clock(reporter, started, float(config.budget_min) * 60.0)
    clear_search(project)
    pts = Points(project, config, clock)
    stop_reason = None
    try:
        pts.measure_baseline()
        cands = _candidates(pts)
        # shares of the time left once the baseline is measured (that alone took 100 s of a 3-min search at load 10)
        now, rest = time.monotonic(), max(0.0, clock.left())
        if pts.teacher is not None:
            _channel_points(pts, [(None, pts.teacher, pts.run_side, pts.run_config)], now + rest * RUN_CHANNEL_SHARE)
        _halving(pts, cands, now + rest * TRAIN_SHARE)
        finished = [c for c in cands if c.status == "finished" and c.model is not None]
        if finished:
            best = max(finished, key=lambda c: (c.val_accuracy or 0.0, -c.est_bytes))
            _channel_points(pts, [(best, best.model, best.size, pts.train_config(best))], clock.deadline)
        if clock.left() <= 0:
            stop_reason = "budget"
    except Cancelled:
        stop_reason = "cancelled"
    frontier = pts.finish(keep=config.keep)
    reporter.progress(1.0, "search finished" if stop_reason != "cancelled" else "search stopped")
    return SearchResult(config.target, float(config.budget_min), time.monotonic() - started,
                        stop_reason == "cancelled", stop_reason, pts.baseline, pts.public_points(), frontier,
                        pts.notes, pts.timing())


# ---------------------------------------------------------------------------------------------- candidates
def _candidates(pts: Points) -> list[Candidate]:
    """Registry candidates whose estimated int8 size and activations could fit the target."""
    from studio.core.models import estimate

    out, too_big = [], 0
    for arch, width, side in candidate_specs(pts.modality, pts.config, pts.run_side):
        shape = pts.input_shape(side)
        try:
            est = estimate(arch, shape, pts.n_classes, width=width)
        except ConfigError:
            continue
        if est.int8_bytes * pts.size_ratio > pts.max_bytes or est.activation_bytes > pts.max_ram:
            too_big += 1
            continue
        out.append(Candidate(arch, width, side, int(est.int8_bytes * pts.size_ratio), est.macs))
    if too_big:
        pts.notes.append(f"{too_big} candidate(s) skipped: their estimated size or activations exceed the target")
    picked = thin_out(out, pts.config.max_candidates)
    if len(picked) < len(out):
        pts.notes.append(f"{len(out) - len(picked)} candidate(s) left out: the search trains at most "
                         f"{pts.config.max_candidates} from scratch, spread over sizes")
    pts.clock.status(f"Searching {len(picked)} candidate(s) for {pts.target.title}")
    return picked


def _seconds_per_epoch(c: Candidate, cands: list[Candidate]) -> float | None:
    """Measured for ``c``, else scaled from the others by MACs (with a fixed per-epoch overhead)."""
    if c.epochs_done:
        return c.seconds / c.epochs_done
    known = [(k.seconds / k.epochs_done, k.est_macs) for k in cands if k.epochs_done]
    if not known:
        return None
    m0 = 1e6
    return sum(s / (m + m0) for s, m in known) / len(known) * (c.est_macs + m0)


def _halving(pts: Points, cands: list[Candidate], train_deadline: float) -> None:
    """Successive halving over ``len(RUNG_SHARES)`` rungs; eliminated and finished candidates are measured."""
    alive = list(cands)
    rungs = len(RUNG_SHARES)
    for r, share in enumerate(RUNG_SHARES):
        fraction = 1.0 / ETA ** (rungs - 1 - r)
        todo = sorted(((c, max(1, math.ceil(pts.full_epochs(c) * fraction)) - c.epochs_done) for c in alive),
                      key=lambda cn: cn[0].est_macs)  # cheap first: their timings size the rest
        rung_end = time.monotonic() + (_until(pts, train_deadline, len(alive)) - time.monotonic()) * share
        for i, (c, n) in enumerate(todo):
            if pts.clock.user_cancelled:
                raise Cancelled()
            if n <= 0:
                continue
            if time.monotonic() >= rung_end:  # the rung's share is spent: the first rung still tries everyone once
                if r == 0 and c.epochs_done == 0:
                    pts.train(c, 1, _until(pts, train_deadline, len(alive)))
                continue
            if _seconds_per_epoch(c, cands) is None:  # nothing timed yet: one epoch first, to size the rest
                pts.train(c, 1, _until(pts, train_deadline, len(alive)))
                n -= 1
                if n <= 0 or time.monotonic() >= rung_end:
                    continue
            planned = sum((_seconds_per_epoch(k, cands) or 0.0) * (n if k is c else m) for k, m in todo[i:] if m > 0)
            scale = min(1.0, (rung_end - time.monotonic()) / planned) if planned > 0 else 1.0
            pts.train(c, max(1, int(n * scale)), _until(pts, train_deadline, len(alive)))
        trained = [c for c in alive if c.val_loss is not None]
        out_of_time = time.monotonic() >= _until(pts, train_deadline, len(alive))
        if r == rungs - 1 or out_of_time or len(trained) <= 1:
            for c in alive:
                c.status = "finished" if c.val_loss is not None else "skipped"
            for c in trained:
                pts.measure_candidate(c, rung=r)
            if out_of_time and r < rungs - 1:
                pts.notes.append(f"the budget ended in rung {r + 1} of {rungs}: the survivors were measured as "
                                 "trained so far")
            return
        kept, dropped = pareto_keep(trained, max(1, math.ceil(len(trained) / ETA)))
        for c in dropped:
            c.status = "eliminated"
            pts.measure_candidate(c, rung=r)
        alive = kept


def _until(pts: Points, train_deadline: float, n_alive: int) -> float:
    """When training must stop so that ``n_alive`` candidates can still be measured in the budget (a reserve of
    at most a third of the time left: on a tiny budget, training something beats measuring nothing)."""
    left = pts.clock.deadline - time.monotonic()
    return min(train_deadline, pts.clock.deadline - min(pts.measure_reserve(n_alive), max(0.0, left) / 3))


def _channel_points(pts: Points, sources: list[tuple[Candidate | None, Any, int | None, Any]],
                    deadline: float) -> None:
    """Channel-prune each source (``(None, run model, ...)`` or ``(candidate, its model, ...)``) at the fractions
    of :meth:`Points.channel_fractions` (those whose estimated file fits, the widest that fits first), each
    fine-tune given an equal share of the time left until ``deadline``; nothing is fine-tuned that cannot fit."""
    jobs, too_big = [], 0
    for source, model, side, cfg in sources:
        fractions, skipped = pts.channel_fractions(model)
        too_big += skipped
        jobs += [(fraction, (source, model, side, cfg)) for fraction in fractions]
    if too_big:
        pts.notes.append(f"{too_big} channel-pruning point(s) skipped: their estimated file is larger than the "
                         "largest file allows")
    for k, (fraction, (source, model, side, cfg)) in enumerate(jobs):
        if pts.clock.user_cancelled:
            raise Cancelled()
        left = min(pts.clock.left(), deadline - time.monotonic())
        reserve = min(pts.measure_reserve(len(jobs) - k), max(0.0, left) / 3)
        if left <= reserve + 5:
            pts.notes.append(f"the time for channel pruning ended after {k} of {len(jobs)} point(s)")
            return
        until = time.monotonic() + (left - reserve) / (len(jobs) - k)
        pts.channel_point(source, model, side, cfg, fraction, until)


__all__ = ["SearchResult", "keep_point", "search"]
