"""Training throughput: Studio's ``train()`` against a plain tf_keras ``model.fit`` doing the same work.

Both sides get the same project data, the same model (``studio.core.models.build_model``), the same tf.data
pipeline (``studio.core.pipeline.dataset_from_split`` with the same augmentation), batch size, optimizer, loss
and validation data. The only difference is what Studio adds around ``fit``: its callback (cancel check,
throttled metrics, best-weight copy and ``weights.h5`` on improving epochs, plateau/early stopping logic),
run folder and reporter.

Throughput is measured identically on both sides as the wall time between consecutive epoch ends (so it
includes validation and every callback's cost, and the first epoch, which pays for graph tracing, is
excluded): samples/s = training samples / median interval. Each measurement is a fresh process; Studio and
plain Keras alternate (S K K S S K ...) so a change in the machine's load hits both, and the ratio is taken
between the medians over processes.

Two networks: the compact CNN at 32 px (augmented; cheap, so Studio's per-batch machinery shows most) and
issue 16's standard small network, MobileNetV2-0.35 from scratch at 96 px, batch 32, no augmentation, on 1,000
small images (25 steps an epoch, so Studio's precise-BN pass runs before every validation). Each prints the
per-pair ratios, the ratio of medians, the ratio per CPU-second and the load average while it ran.

Also runnable by hand (and by ``bench/gpu.sh``)::

    python -m bench.train_throughput --mode studio|keras [--distribute mirrored] [--arch ...] [--size 64]
    python -m bench.train_throughput --pairs 3 --arch mobilenetv2 --width 0.35 --size 96 --image 32 \
        --per-class 250 --no-augment          # the interleaved ratio of one configuration
    python -m bench.train_throughput --interleave --epochs 7 ...   # same flags: epochs alternate in ONE process
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Row, child_main, median, run_child

MODULE = "bench.train_throughput"

# The compact CNN at 32 px is what Studio picks for small images (digits-like); a cheap model makes the
# per-batch cost of Studio's machinery as visible as it can be.
FULL = {"classes": 4, "per_class": 300, "image": 32, "arch": "compact_cnn", "size": 32, "batch": 32,
        "epochs": 5, "pairs": 3, "augment": True, "label": ""}
QUICK = {"classes": 4, "per_class": 100, "image": 32, "arch": "compact_cnn", "size": 32, "batch": 32,
         "epochs": 3, "pairs": 1, "augment": True, "label": ""}
# The standard small network of issue 16: MobileNetV2-0.35 from scratch at 96 px, batch 32, no augmentation,
# ~1,000 small images (800 train / 200 val, so 25 steps an epoch: Studio's precise-BN pass is on).
MOBILENET = {"classes": 4, "per_class": 250, "image": 32, "arch": "mobilenetv2", "width": 0.35, "size": 96,
             "batch": 32, "epochs": 5, "pairs": 3, "augment": False, "label": ", MobileNetV2-0.35 96px"}
MOBILENET_QUICK = dict(MOBILENET, per_class=60, epochs=3, pairs=1)


def make_project(workdir: Path, classes: int, per_class: int, image: int, seed: int = 0) -> Path:
    """A balanced image project (no class weights on either side) from generated PNGs."""
    from studio.core.data import import_data
    from studio.core.data.synth import make_image_folder
    from studio.core.project import Project

    data = make_image_folder(workdir / "images", {f"c{i}": per_class for i in range(classes)},
                             size=(image, image), seed=seed)
    project = Project.create(workdir / "project", "image", "throughput")
    import_data(project, data, val_split=0.2, seed=1234)
    return project.path


# ---------------------------------------------------------------------------------------------- child side
class _EpochClock:
    """Reporter that notes when each epoch's metrics arrive (and nothing else: cheap, like NullReporter)."""

    def __init__(self) -> None:
        self.epoch_ends: list[float] = []
        self.cpu_ends: list[float] = []
        self.val_accuracy: list[float | None] = []

    def progress(self, fraction: float, message: str = "") -> None:
        pass

    def status(self, message: str) -> None:
        pass

    def metrics(self, kind: str, values: dict[str, Any]) -> None:
        if kind == "epoch":
            self.epoch_ends.append(time.perf_counter())
            self.cpu_ends.append(time.process_time())
            self.val_accuracy.append(values.get("val_accuracy"))

    def cancel_requested(self) -> bool:
        return False


def _summary(ends: list[float], cpu_ends: list[float], n_train: int, fit_seconds: float,
             val_accuracy: list[float | None]) -> dict[str, Any]:
    intervals = [b - a for a, b in zip(ends, ends[1:])]
    cpu = [b - a for a, b in zip(cpu_ends, cpu_ends[1:])]
    return {
        "n_train": n_train,
        # each epoch's validation accuracy: the plain fit of MobileNetV2 from scratch stays at chance here (its
        # BatchNorm statistics lag), Studio's must not
        "val_accuracy": [None if v is None else round(float(v), 4) for v in val_accuracy],
        "intervals": intervals,
        "cpu_intervals": cpu,
        "samples_per_s": n_train / median(intervals) if intervals else None,
        # samples per CPU-second of this process (all threads): far less sensitive to other processes' load
        "samples_per_cpu_s": n_train / median(cpu) if cpu else None,
        "fit_seconds": fit_seconds,
    }


def child(p: dict[str, Any]) -> dict[str, Any]:
    """One measurement in this fresh process: p["mode"] is "studio" or "keras"."""
    from studio.core.project import Project
    from studio.core.train import TrainConfig

    project = Project.open(p["project"])
    config = TrainConfig(arch=p["arch"], input_size=int(p["size"]), epochs=int(p["epochs"]),
                         batch_size=int(p["batch"]), learning_rate=1e-3, augment=bool(p.get("augment", True)),
                         flip=False,
                         pretrained="none", patience=0, seed=1234, distribute=p.get("distribute", "none"),
                         width=p.get("width"))
    if p["mode"] == "interleave":
        out = _interleaved(project, config)
    elif p["mode"] == "studio":
        from studio.core.train import train

        clock = _EpochClock()
        t = time.perf_counter()
        train(project, config, clock)
        out = _summary(clock.epoch_ends, clock.cpu_ends, _n_train(project), time.perf_counter() - t,
                       clock.val_accuracy)
    else:
        out = _plain_keras(project, config)
    out["mode"] = p["mode"]
    from studio.core.tfenv import load_tf

    tf, _ = load_tf()
    out["gpus"] = len(tf.config.list_physical_devices("GPU"))
    return out


def _n_train(project: Any) -> int:
    counts = project.load_manifest()["split_counts"]["train"]
    return int(sum(counts.values()))


def _plain_keras(project: Any, config: Any) -> dict[str, Any]:
    """What an ML engineer would write by hand, on Studio's own data pipeline and model."""
    from studio.core import models
    from studio.core.pipeline import Augmentation, dataset_from_split, load_split, spec_for_project
    from studio.core.tfenv import load_tf

    tf, keras = load_tf()
    manifest = project.load_manifest()
    strategy = None
    if config.distribute == "mirrored":
        from studio.core.train import make_strategy

        strategy = make_strategy("mirrored")
    replicas = strategy.num_replicas_in_sync if strategy is not None else 1
    batch = config.batch_size * replicas
    keras.utils.set_random_seed(config.seed)
    spec = spec_for_project(project, manifest, config.input_size)
    train_data = load_split(project, "train", spec, manifest, allow_streaming=True)
    val_data = load_split(project, "val", spec, manifest, allow_streaming=True)
    aug = Augmentation(flip=config.flip) if config.augment else Augmentation.none()
    train_ds = dataset_from_split(train_data, spec, batch, augment=aug, shuffle=True, seed=config.seed)
    val_ds = dataset_from_split(val_data, spec, batch)
    params = models.resolve_params(config.arch, **config.model_params())

    def build() -> Any:
        model = models.build_model(config.arch, spec.shape, len(manifest["classes"]), **params)
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
        return model

    if strategy is not None:
        with strategy.scope():
            model = build()
    else:
        model = build()
    ends: list[float] = []
    cpu_ends: list[float] = []
    val_accuracy: list[float | None] = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            ends.append(time.perf_counter())
            cpu_ends.append(time.process_time())
            val_accuracy.append((logs or {}).get("val_accuracy"))

    t = time.perf_counter()
    model.fit(train_ds, validation_data=val_ds, epochs=config.epochs, callbacks=[Clock()], verbose=0)
    return _summary(ends, cpu_ends, len(train_data), time.perf_counter() - t, val_accuracy)


def _interleaved(project: Any, config: Any) -> dict[str, Any]:
    """One process, two models of the same network and data: one fitted with Studio's training callback (its
    precise-BN plan, best weights written to a run folder), one plain; their epochs alternate (S K, K S, ...),
    so the machine's load hits both alike. What it leaves out: train()'s setup before the first epoch."""
    from studio.core import models
    from studio.core.pipeline import Augmentation, dataset_from_split, load_split, spec_for_project
    from studio.core.reporter import NullReporter
    from studio.core.runs import RunRecorder
    from studio.core.tfenv import load_tf
    from studio.core.precise_bn import precise_bn_plan
    from studio.core.train_callbacks import make_callback

    tf, keras = load_tf()
    manifest = project.load_manifest()
    spec = spec_for_project(project, manifest, config.input_size)
    train_data = load_split(project, "train", spec, manifest, allow_streaming=True)
    val_data = load_split(project, "val", spec, manifest, allow_streaming=True)
    aug = Augmentation(flip=config.flip) if config.augment else Augmentation.none()
    train_ds = dataset_from_split(train_data, spec, config.batch_size, augment=aug, shuffle=True, seed=config.seed)
    val_ds = dataset_from_split(val_data, spec, config.batch_size)
    steps = -(-len(train_data) // config.batch_size)
    params = models.resolve_params(config.arch, **config.model_params())
    run_dir = Path(tempfile.mkdtemp(prefix="smsbench-run-"))
    fits: dict[str, tuple[Any, list[Any]]] = {}
    for mode in ("studio", "keras"):
        keras.utils.set_random_seed(config.seed)
        model = models.build_model(config.arch, spec.shape, len(manifest["classes"]), **params)
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
        callbacks = []
        if mode == "studio":
            precise_bn, calibration = precise_bn_plan(train_data.x, spec, config.seed, steps, config.batch_size,
                                                      False, bool(config.augment))
            callbacks = [make_callback(keras, NullReporter(), config.epochs, steps, run_dir / "weights.h5", 0,
                                       True, precise_bn=precise_bn, calibration=calibration,
                                       recorder=RunRecorder(run_dir, {"format": 1}))]
        fits[mode] = (model, callbacks)
    wall: dict[str, list[float]] = {"studio": [], "keras": []}
    cpu: dict[str, list[float]] = {"studio": [], "keras": []}
    val: dict[str, list[float]] = {"studio": [], "keras": []}
    try:
        for epoch in range(config.epochs):
            for mode in (("studio", "keras") if epoch % 2 == 0 else ("keras", "studio")):
                model, callbacks = fits[mode]
                w, c = time.perf_counter(), time.process_time()
                h = model.fit(train_ds, validation_data=val_ds, initial_epoch=epoch, epochs=epoch + 1,
                              callbacks=callbacks, verbose=0)
                wall[mode].append(time.perf_counter() - w)
                cpu[mode].append(time.process_time() - c)
                val[mode].append(round(float(h.history["val_accuracy"][-1]), 4))
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    n = len(train_data)
    # per epoch (first excluded: tracing), plain time / Studio time = Studio's relative throughput
    ratios = [k / s for s, k in zip(wall["studio"][1:], wall["keras"][1:])]
    return {"n_train": n, "wall": wall, "cpu": cpu, "val_accuracy": val, "epoch_ratios": ratios,
            "ratio": median(ratios),
            "cpu_ratio": median(cpu["keras"][1:]) / median(cpu["studio"][1:])}


# ---------------------------------------------------------------------------------------------- parent side
def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f}/{five:.1f}"


def measure(cfg: dict[str, Any], log: Any = print) -> dict[str, Any]:
    """``cfg["pairs"]`` Studio / plain-Keras process pairs on one fresh project, alternating (S K K S ...), so a
    change in the machine's load hits both; per-pair ratios and the ratio of medians."""
    work = Path(tempfile.mkdtemp(prefix="smsbench-train-"))
    results: dict[str, list[dict[str, Any]]] = {"studio": [], "keras": []}
    loads = [_load()]
    try:
        project = make_project(work, cfg["classes"], cfg["per_class"], cfg["image"])
        payload = {"project": str(project), "arch": cfg["arch"], "size": cfg["size"], "batch": cfg["batch"],
                   "epochs": cfg["epochs"], "augment": cfg["augment"], "width": cfg.get("width")}
        for i in range(cfg["pairs"]):
            order = ("studio", "keras") if i % 2 == 0 else ("keras", "studio")
            for mode in order:
                r = run_child(MODULE, dict(payload, mode=mode), timeout=3600).data
                results[mode].append(r)
                log(f"    {mode:<6} {r['samples_per_s']:.1f} samples/s, {r['samples_per_cpu_s']:.1f} per CPU-s "
                    f"(epoch intervals {', '.join(f'{s:.2f}' for s in r['intervals'])} s, CPU "
                    f"{', '.join(f'{s:.2f}' for s in r['cpu_intervals'])} s; val accuracy "
                    f"{', '.join('-' if v is None else f'{v:.2f}' for v in r['val_accuracy'])}; load {_load()})")
            loads.append(_load())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    pair_ratios = [s["samples_per_s"] / k["samples_per_s"] for s, k in zip(results["studio"], results["keras"])]
    out = {
        "studio": median([r["samples_per_s"] for r in results["studio"]]),
        "keras": median([r["samples_per_s"] for r in results["keras"]]),
        "studio_cpu": median([r["samples_per_cpu_s"] for r in results["studio"]]),
        "keras_cpu": median([r["samples_per_cpu_s"] for r in results["keras"]]),
        "pair_ratios": pair_ratios,
        "best": {m: results[m][0]["n_train"] / min(i for r in results[m] for i in r["intervals"])
                 for m in ("studio", "keras")},
        "n_train": results["studio"][0]["n_train"],
        # median over processes of the last epoch's validation accuracy (Studio: after its precise BN)
        "final_val": {m: median([r["val_accuracy"][-1] for r in results[m] if r["val_accuracy"]
                                 and r["val_accuracy"][-1] is not None] or [float("nan")])
                      for m in ("studio", "keras")},
        "loads": loads,
        "runs": results,
    }
    out["ratio"] = out["studio"] / out["keras"]
    out["cpu_ratio"] = out["studio_cpu"] / out["keras_cpu"]
    log(f"    => {cfg['arch']}: Studio / plain fit = {out['ratio']:.3f} (wall, ratio of medians; pairs "
        f"{', '.join(f'{x:.3f}' for x in pair_ratios)}), {out['cpu_ratio']:.3f} per CPU-second; final val "
        f"accuracy {out['final_val']['studio']:.3f} vs {out['final_val']['keras']:.3f}; "
        f"load (1/5 min) {' -> '.join(loads)}")
    return out


def _rows(cfg: dict[str, Any], m: dict[str, Any], check: float) -> list[Row]:
    model = f"{cfg['arch']}" + (f"-{cfg['width']:g}" if cfg.get("width") else "")
    desc = (f"{model} {cfg['size']}px, batch {cfg['batch']}, {m['n_train']} train images, augment "
            f"{'on' if cfg['augment'] else 'off'}, {cfg['epochs']} epochs (first excluded), {cfg['pairs']} "
            f"process pair(s) alternating; per-pair ratios {', '.join(f'{x:.3f}' for x in m['pair_ratios'])}; "
            f"fastest single epoch: Studio {m['best']['studio']:.0f} vs Keras {m['best']['keras']:.0f} samples/s "
            f"(ratio {m['best']['studio'] / m['best']['keras']:.3f}); last epoch's validation accuracy (median): "
            f"Studio {m['final_val']['studio']:.3f}, plain fit {m['final_val']['keras']:.3f} (chance "
            f"{1 / cfg['classes']:.2f}); load average (1/5 min) during the runs "
            f"{' -> '.join(m['loads'])}")
    label = cfg.get("label", "")  # "" for the compact CNN: its rows keep their names (history in results.json)
    return [Row("training", f"throughput: Studio train() vs plain model.fit{label}", m["studio"], "samples/s",
                baseline=m["keras"], baseline_name="plain tf_keras fit", check=("ratio", ">=", check), issue=True,
                note=desc, extra={"runs": m["runs"], "loads": m["loads"], "pair_ratios": m["pair_ratios"]}),
            Row("training", f"throughput per CPU-second (same runs){label}", m["studio_cpu"], "samples/CPU-s",
                baseline=m["keras_cpu"], baseline_name="plain tf_keras fit",
                note="training samples / median process CPU time (all threads) between epoch ends: the work "
                     "done, nearly independent of other processes' load on shared cores")]


def run(quick: bool = False, log: Any = print) -> list[Row]:
    rows: list[Row] = []
    for cfg in ((QUICK, MOBILENET_QUICK) if quick else (FULL, MOBILENET)):
        log(f"  {cfg['arch']} at {cfg['size']} px, {cfg['classes'] * cfg['per_class']} images:")
        rows += _rows(cfg, measure(cfg, log), 0.95)
    return rows


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        return child_main(argv, child)
    ap = argparse.ArgumentParser(description="one training-throughput measurement (fresh project each time)")
    ap.add_argument("--mode", choices=("studio", "keras"), default="studio")
    ap.add_argument("--distribute", default="none", choices=("none", "mirrored"))
    ap.add_argument("--arch", default="compact_cnn")
    ap.add_argument("--width", type=float, default=None)
    ap.add_argument("--size", type=int, default=64, help="model input side in pixels")
    ap.add_argument("--image", type=int, default=None, help="generated image side (default: --size)")
    ap.add_argument("--per-class", type=int, default=400)
    ap.add_argument("--classes", type=int, default=4)
    ap.add_argument("--batch", type=int, default=32, help="per-replica batch size")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--no-augment", action="store_true", help="train without augmentation (both sides)")
    ap.add_argument("--pairs", type=int, default=None,
                    help="instead of one measurement: this many Studio / plain-fit process pairs, alternating, "
                         "and their ratio (with --arch mobilenetv2 --width 0.35 --size 96 --image 32 "
                         "--per-class 250 --no-augment: issue 16's standard small network)")
    ap.add_argument("--interleave", action="store_true",
                    help="one process: epochs of Studio's training callback and of a plain fit alternate on two "
                         "copies of the model (the callback's cost alone, robust to a shared machine's load)")
    ap.add_argument("--workdir", default=None,
                    help="keep the generated images and project here and reuse them on the next call "
                         "(default: a temporary folder, removed afterwards)")
    args = ap.parse_args(argv)
    if args.interleave:
        work = Path(tempfile.mkdtemp(prefix="smsbench-train-"))
        try:
            project = make_project(work, args.classes, args.per_class, args.image or args.size)
            payload = {"project": str(project), "arch": args.arch, "size": args.size, "batch": args.batch,
                       "epochs": args.epochs, "mode": "interleave", "width": args.width,
                       "augment": not args.no_augment}
            load = _load()
            r = run_child(MODULE, payload, timeout=7200).data
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(json.dumps(dict(r, load=f"{load} -> {_load()}")))
        return 0
    if args.pairs:
        cfg = {"classes": args.classes, "per_class": args.per_class, "image": args.image or args.size,
               "arch": args.arch, "width": args.width, "size": args.size, "batch": args.batch,
               "epochs": args.epochs, "pairs": args.pairs, "augment": not args.no_augment}
        m = measure(cfg)
        print(json.dumps({k: v for k, v in m.items() if k != "runs"}))
        return 0
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="smsbench-train-"))
    try:
        project = work / "project"
        if not (project / "project.json").exists():
            work.mkdir(parents=True, exist_ok=True)
            project = make_project(work, args.classes, args.per_class, args.image or args.size)
        payload = {"project": str(project), "arch": args.arch, "size": args.size, "batch": args.batch,
                   "epochs": args.epochs, "mode": args.mode, "distribute": args.distribute, "width": args.width,
                   "augment": not args.no_augment}
        r = run_child(MODULE, payload, timeout=7200)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    out = dict(r.data, wall_s=round(r.wall, 2), maxrss_mb=round(r.maxrss_mb, 1), arch=args.arch, size=args.size,
               batch=args.batch, distribute=args.distribute)
    out.pop("intervals", None)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
