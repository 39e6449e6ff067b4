"""The search's working state: data per input size, the teacher, training candidates, and measured points.

Every point is measured exactly like a variant (``build.convert_variant`` + ``measuring.measure_variant``:
LiteRT on val and test, latency, sizes, MACs, TFLite-Micro arena) and judged with ``targets.check_fit``; the
frontier points become variants through ``store.write_variant`` with their Keras weights.
"""

from __future__ import annotations

import datetime as _dt
import time
from typing import Any

from studio.core.errors import Cancelled, ConfigError
from studio.core.fsutil import atomic_write_json
from studio.core.optimize.config import (
    DISTILL_BY_DEFAULT,
    FINETUNE_LR_FACTOR,
    Arrays,
    OptimizeConfig,
)
from studio.core.optimize.search_space import Candidate, SearchConfig, fit_fraction, pareto_front
from studio.core.optimize.search_store import (  # noqa: F401 - re-exported: the search's files
    PUBLIC_KEYS,
    SEARCH_FORMAT,
    clear_search,
    keep_point,
    point_name,
    points_dir,
    read_last_search,
    search_dir,
)
from studio.core.optimize.student import TrainingData, fit_student, run_train_config

DISTILL_DEFAULT = DISTILL_BY_DEFAULT  # candidates learn from the trained run only when asked (see config)


class _Until:
    """A reporter that also asks to stop at ``t`` (monotonic seconds)."""

    def __init__(self, clock: Any, t: float) -> None:
        self.clock, self.t = clock, t

    def __getattr__(self, name: str) -> Any:
        return getattr(self.clock, name)

    def cancel_requested(self) -> bool:
        return self.clock.user_cancelled or time.monotonic() >= self.t


class Points:
    def __init__(self, project: Any, config: SearchConfig, clock: Any) -> None:
        from studio.core.targets import MCU_CODE_RESERVE, MCU_RAM_RESERVE, get_target

        self.project, self.config, self.clock = project, config, clock
        self.target = get_target(config.target)
        self.manifest = project.load_manifest()
        self.modality = project.modality
        self.classes = list(self.manifest["classes"])
        self.n_classes = len(self.classes)
        mcu = self.target.mcu
        self.max_bytes = int(config.max_bytes or (self.target.flash_bytes - (MCU_CODE_RESERVE if mcu else 0)))
        self.max_ram = int(self.target.ram_bytes - (MCU_RAM_RESERVE if mcu else 0))
        self.distill = DISTILL_DEFAULT if config.distill is None else bool(config.distill)
        self.points: list[dict[str, Any]] = []
        self._data: dict[Any, tuple[Any, Any, Arrays]] = {}
        self._configs: dict[str, Any] = {}
        self._measure_s: list[float] = []
        self.training_end = 0.0  # seconds after the start when the last training stopped
        self.notes: list[str] = []
        self.baseline: dict[str, Any] | None = None
        self.size_ratio = 1.0  # real / estimated int8 file of the run (set when the baseline is measured)
        self.teacher, self.run = self._load_run()
        self.run_config = run_train_config(project, self.run) if self.run is not None else None
        self.run_side = int(self.run.spec.size) if self.run is not None and self.modality == "image" else None
        if self.run_side is None and self.modality == "image":
            from studio.core.train_config import default_config

            self.run_side = int(default_config(project).input_size or 96)

    def _load_run(self) -> tuple[Any, Any]:
        from studio.core.errors import ProjectError
        from studio.core.runs import load_run_model

        try:
            return load_run_model(self.project)
        except ProjectError:
            self.notes.append("no trained run: candidates train without a teacher, no channel-pruning points")
            return None, None

    # ------------------------------------------------------------------ data
    def input_shape(self, side: int | None) -> tuple[int, ...]:
        return tuple(self.spec(side).shape)

    def spec(self, side: int | None) -> Any:
        from studio.core.pipeline import spec_for_project

        if self.modality != "image":
            return self.run.spec if self.run is not None else spec_for_project(self.project, self.manifest)
        return spec_for_project(self.project, self.manifest, int(side or self.run_side))

    def data(self, side: int | None) -> tuple[Any, dict[str, Any], Arrays]:
        """(spec, raw splits, model-input arrays) at image side ``side`` (decoded once per side)."""
        key = side if self.modality == "image" else None
        if key not in self._data:
            from studio.core.pipeline import load_split

            spec = self.spec(side)
            raw = {s: load_split(self.project, s, spec, manifest=self.manifest) for s in ("train", "val", "test")}
            x = {s: spec.preprocess(d.x) for s, d in raw.items() if d.x is not None and len(d)}
            if "train" not in x or "val" not in x:
                raise ConfigError("the search needs training and validation data", path=self.project.manifest_path,
                                  hint="import the data again with --val-split 0.2")
            arrays = Arrays(self.classes, x["train"], raw["train"].y, x["val"], raw["val"].y,
                            x.get("test"), raw["test"].y if "test" in x else None)
            self._data[key] = (spec, raw, arrays)
        return self._data[key]

    def train_config(self, c: Candidate) -> Any:
        from studio.core.train_config import default_config

        if c.key not in self._configs:
            self._configs[c.key] = default_config(self.project, arch=c.arch, input_size=c.size, width=c.width,
                                                  pretrained="none")
        return self._configs[c.key]

    def full_epochs(self, c: Candidate) -> int:
        return int(self.config.epochs or self.train_config(c).epochs)

    def _teacher_for(self, spec: Any) -> Any:
        if not self.distill or self.teacher is None:
            return None
        if self.teacher.input_shape[-1] != spec.shape[-1]:
            return None  # an RGB (pretrained) teacher cannot see a grey student's input
        return self.teacher

    # ------------------------------------------------------------------ training
    def train(self, c: Candidate, epochs: int, until: float) -> None:
        """Train ``c`` ``epochs`` more epochs (building it first), stopping at ``until``."""
        from studio.core.models import build_model
        from studio.core.tfenv import load_tf

        if epochs <= 0 or time.monotonic() >= until:
            return  # nothing is built once training time is over (each build and trace costs seconds)
        spec, raw, _ = self.data(c.size)
        cfg = self.train_config(c)
        if c.model is None:
            load_tf()[1].utils.set_random_seed(self.config.seed)
            c.model = build_model(c.arch, spec.shape, self.n_classes, width=c.width)
        c.status = "training"
        self.clock.status(f"Training {c.key}: {epochs} epoch(s) (done {c.epochs_done})")
        t0 = time.monotonic()
        try:
            result = fit_student(c.model, TrainingData(spec, raw["train"], raw["val"], cfg), epochs,
                                 cfg.learning_rate, _Until(self.clock, until), cfg.patience,
                                 teacher=self._teacher_for(spec), seed=self.config.seed)
        except Cancelled:
            if self.clock.user_cancelled:
                raise
            return  # the time ran out within this candidate's first epoch: it stays untrained
        finally:
            c.seconds += time.monotonic() - t0
        self.training_end = self.clock.elapsed()
        rows = result["epochs"]
        c.epochs_done += len(rows)
        c.history += rows
        best = rows[result["best_epoch"] - 1]
        c.val_loss, c.val_accuracy = best.get("val_loss"), best.get("val_accuracy")
        if self.clock.user_cancelled:
            raise Cancelled()

    def channel_point(self, c: Candidate | None, model: Any, side: int | None, cfg: Any, fraction: float,
                      until: float) -> None:
        """Channel-prune ``model`` (the run's when ``c`` is None, else candidate ``c``'s) by ``fraction`` as
        optimize() does (gradually, :func:`.build._prune_and_fit`'s schedule), until ``until`` at the latest (the
        cuts before the last get a fifth of the time left each at most), and measure it."""
        from studio.core.optimize.build import channel_schedule
        from studio.core.optimize.config import CHANNEL_STEP, CHANNEL_STEP_EPOCHS, CHANNEL_STEP_PATIENCE
        from studio.core.optimize.rebuild import prune_gradually

        label = "the run" if c is None else c.key
        spec, raw, _ = self.data(side)
        epochs, patience = channel_schedule(OptimizeConfig(prune=fraction), cfg)
        if self.config.epochs:
            epochs = int(self.config.epochs)
        self.clock.status(f"Channel pruning {label} by {fraction:.0%}: fine-tuning up to {epochs} epoch(s)")
        data = TrainingData(spec, raw["train"], raw["val"], cfg)

        def fit(narrow: Any, i: int, n: int) -> dict[str, Any]:
            last = i == n - 1
            stop = until if last else time.monotonic() + (until - time.monotonic()) * 0.2
            return fit_student(narrow, data, epochs if last else min(epochs, CHANNEL_STEP_EPOCHS),
                               float(cfg.learning_rate) * FINETUNE_LR_FACTOR, _Until(self.clock, stop),
                               patience if last else CHANNEL_STEP_PATIENCE, teacher=model if self.distill else None,
                               seed=self.config.seed)

        try:
            narrow, plan, results = prune_gradually(model, fraction, "l1", CHANNEL_STEP, fit)
            self.training_end = self.clock.elapsed()
        except Cancelled:
            return  # the budget ended before one epoch: no point
        if self.clock.user_cancelled:
            raise Cancelled()
        source = self.source_of(c)
        settings = {**source["settings"], "channels": fraction, "epochs": sum(len(r["epochs"]) for r in results)}
        self.measure(narrow, side, settings, "channels", None, {**source, "plan": plan})

    def source_of(self, c: Candidate | None) -> dict[str, Any]:
        """Registry id, parameters and settings of the run (``c`` None) or of candidate ``c``."""
        from studio.core.models import resolve_params

        if c is None:
            return {"arch": self.run.arch, "params": dict(self.run.params), "settings": {
                "arch": self.run.arch, "width": self.run.params.get("width"), "input_size": self.run_side,
                "source": "run"}}
        return {"arch": c.arch, "params": resolve_params(c.arch, width=c.width),
                "settings": {"arch": c.arch, "width": c.width, "input_size": c.size, "source": c.key}}

    # ------------------------------------------------------------------ measuring
    def measure_reserve(self, n: int) -> float:
        per = (sum(self._measure_s) / len(self._measure_s)) if self._measure_s else 20.0
        return per * max(0, n) * len(self.config.quantize)

    def measure_baseline(self) -> None:
        """The run's own unpruned int8 model: the point every other one is compared with."""
        if self.teacher is None:
            return
        source = {**self.source_of(None), "plan": None}
        settings = {**source["settings"], "channels": 0.0}
        for p in self.measure(self.teacher, self.run_side, settings, "run", None, source, quantize=("int8",)):
            self.baseline = self.public(p)
        from studio.core.models.cost import file_bytes

        if self.baseline and self.baseline.get("bytes"):  # the estimates are within ~10 %: calibrate on the run
            self.size_ratio = min(1.25, max(0.8, self.baseline["bytes"] / file_bytes(self.teacher)[1]))

    def channel_fractions(self, model: Any) -> tuple[list[float], int]:
        """(fractions to fine-tune, number skipped): the configured fractions
        whose estimated int8 file fits, plus, with a largest file asked for that ``model`` exceeds, the smallest
        fraction that fits
        (the widest pruned model; configured fractions less than 0.1 above it are left out as near copies)."""
        from studio.core.models.cost import file_bytes
        from studio.core.optimize.rebuild import prune_channels

        cache: dict[float, Any] = {}

        def pruned(f: float) -> Any:
            if f not in cache:
                cache[f] = prune_channels(model, f)  # seconds, no training
            return cache[f]

        def size(f: float) -> float:
            return file_bytes(pruned(f)[0])[1] * self.size_ratio

        wanted = sorted(set(float(f) for f in self.config.channel_fractions))
        if self.config.max_bytes and file_bytes(model)[1] * self.size_ratio > self.max_bytes:  # too big as it is
            fit = fit_fraction(size, self.max_bytes)
            if fit is not None:
                wanted = sorted({f for f in wanted if not fit < f < fit + 0.1} | {fit})
        out, skipped = [], 0
        for f in wanted:
            if size(f) > self.max_bytes:
                skipped += 1
            else:
                out.append(f)
        return out, skipped

    def measure_candidate(self, c: Candidate, rung: int) -> None:
        if c.model is None:
            return
        settings = {**c.settings(), "channels": 0.0, "status": c.status}
        self.measure(c.model, c.size, settings, "searched", rung, {**self.source_of(c), "plan": None})

    def measure(self, model: Any, side: int | None, settings: dict[str, Any], kind: str, rung: int | None,
                source: dict[str, Any], quantize: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        from studio.core.measure import flash_bytes
        from studio.core.optimize.build import convert_variant
        from studio.core.optimize.measuring import measure_variant
        from studio.core.reporter import NullReporter
        from studio.core.targets import check_fit

        spec, _, arrays = self.data(side)
        out = []
        for q in quantize or self.config.quantize:
            if self.clock.user_cancelled:  # a stop measures nothing more: what was measured is kept
                raise Cancelled()
            t0 = time.monotonic()
            cfg = OptimizeConfig(quantize=q, io_dtype=self.target.io_dtype, seed=self.config.seed)
            quiet = NullReporter()
            model_bytes = convert_variant(model, arrays, cfg, quiet, (0.0, 1.0), [])
            m = measure_variant(model_bytes, model, arrays, q, quiet, measure_arena=q in ("int8", "float32"))
            m.update(quantize=q, flash_bytes=flash_bytes(len(model_bytes)), params=int(model.count_params()))
            fit = check_fit(m, self.target)
            if fit["ok"] and self.config.max_bytes and m["bytes"] > self.config.max_bytes:  # the user's own limit
                fit = {"ok": False, "reason": f"larger than the {self.config.max_bytes / 1024:.0f} KB asked for"}
            budget_ms, latency = self.config.max_latency_ms, m.get("latency_median_ms") or m.get("latency_ms")
            if fit["ok"] and budget_ms and latency is not None and latency > float(budget_ms):
                fit = {"ok": False, "reason": f"host latency {latency:.2f} ms is over the {float(budget_ms):g} ms "
                                              "budget"}
            point = {"id": len(self.points), "kind": kind, "name": None, **{k: m.get(k) for k in (
                "bytes", "flash_bytes", "gzip_bytes", "macs", "params", "latency_ms", "latency_median_ms",
                "accuracy", "test_accuracy", "keras_accuracy")},
                "arena_bytes": (m.get("arena") or {}).get("min_bytes"), "fits": bool(fit["ok"]),
                "fit_reason": fit["reason"], "settings": {**settings, "quantize": q,
                                                         "distill": self.distill and self.teacher is not None},
                "rung": rung, "seconds": round(self.clock.elapsed(), 1), "on_frontier": False}
            self.points.append(point)
            self._store_point(point, model_bytes, model, spec, m, source)
            self._measure_s.append(time.monotonic() - t0)
            self._report(point)
            out.append(point)
        return out

    def _report(self, point: dict[str, Any]) -> None:
        front = pareto_front(self.points)
        ids = {p["id"] for p in front}
        for p in self.points:
            p["on_frontier"] = p["id"] in ids
        self.clock.metrics("search_point", self.public(point))
        self.clock.metrics("search_frontier", {"frontier": [self.public(p) for p in front],
                                               "points": len(self.points)})
        self.clock.status(f"point {point['id']}: {point['bytes'] / 1024:.1f} KB, accuracy "
                          f"{(point['accuracy'] or 0) * 100:.1f}% ({point['settings'].get('arch')}"
                          f"{', fits' if point['fits'] else ''})")
        self.clock.progress(0.0, f"{len(self.points)} point(s)")

    def public(self, p: dict[str, Any]) -> dict[str, Any]:
        return {k: p.get(k) for k in PUBLIC_KEYS}

    def timing(self) -> dict[str, float]:
        """Where the time went: training stops at the budget; measuring the last points may run past it."""
        return {"budget_s": round(self.clock.budget_s, 1), "last_training_end_s": round(self.training_end, 1),
                "measuring_s": round(sum(self._measure_s), 1), "total_s": round(self.clock.elapsed(), 1)}

    def public_points(self) -> list[dict[str, Any]]:
        return [self.public(p) for p in self.points]

    # ------------------------------------------------------------------ results
    def _store_point(self, p: dict[str, Any], model_bytes: bytes, model: Any, spec: Any, m: dict[str, Any],
                     source: dict[str, Any]) -> None:
        """``P/search/points/<id>/``: the .tflite, the Keras weights and the variant.json it would become, so
        any point can be kept as a variant later (:func:`keep_point`), also after the search ended."""
        from studio.core.optimize.stage import REFERENCE_KEYS, _spec_json
        from studio.core.optimize.store import write_variant

        s = p["settings"]
        data = {
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "run_id": self.run.run_id if self.run is not None else None, "arch": source["arch"],
            "arch_params": source["params"], "input_spec": _spec_json(spec), "classes": self.classes,
            "quantize": s["quantize"], "prune": float(s.get("channels") or 0.0),
            "prune_kind": "channels" if s.get("channels") else None, "qat": False,
            "distill": {"teacher": "run"} if s.get("distill") else None,
            "io_dtype": self.target.io_dtype if s["quantize"] == "int8" else "float32",
            "finetune_epochs": s.get("epochs"), "channel_plan": source.get("plan"),
            "search": {"target": self.target.id, "kind": p["kind"], "settings": s, "rung": p["rung"], "point": p["id"],
                       "fits": p["fits"], "fit_reason": p["fit_reason"]},
            **m, "notes": [f"found by 'studio search' for {self.target.title}"], "seconds": p["seconds"],
            "reference": {**{key: self.baseline.get(key) for key in REFERENCE_KEYS + ("arena_bytes",)},
                          "source": "the run's int8 model, measured in the same search"}
            if self.baseline and p["kind"] != "run" else None,
        }
        write_variant(points_dir(self.project), str(p["id"]), model_bytes, data, keras_model=model)

    def finish(self, keep: bool) -> list[dict[str, Any]]:
        """The frontier (as public dicts), kept as variants when ``keep``; search.json records the search."""
        front = pareto_front(self.points)
        if keep:
            for p in front:
                p["name"] = keep_point(self.project, p["id"])
        frontier = [self.public(p) for p in front]
        atomic_write_json(search_dir(self.project) / "search.json", {
            "format": SEARCH_FORMAT, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "config": self.config.to_json(), "baseline": self.baseline, "frontier": frontier,
            "points": self.public_points(), "notes": self.notes})
        return frontier
