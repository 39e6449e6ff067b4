"""Optimization: wall time of a pruning fine-tune and of each conversion, int8 against float32.

On a small real-ish project (the bundled inspection-camera sample, else scikit-learn digits written as PNGs),
one fresh process trains the default compact CNN with Studio's ``train()``, then uses
``studio.core.optimize``'s own building blocks on that run:

- ``build_variant`` for float32, float16, dynamic-range and int8 (conversion only: wall time of each), and
  for 50 % pruning + fine-tune (float32 output; wall time of fine-tune and conversion together);
- ``measure_variant`` for float32 and int8 through LiteRT on the held-out data (val + test): accuracy of each
  and of the Keras model, agreement;
- host latency through LiteRT (batch 1, one thread, XNNPACK as on a device): median of a few hundred invokes
  of each model, interleaved so load changes hit both.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT, Row, child_main, run_child, write_digits

MODULE = "bench.optimize_bench"
SAMPLE = ROOT / "samples" / "inspection" / "data"


def _latency_ms(model_bytes: bytes, x: np.ndarray, n: int) -> list[float]:
    from studio.core.measure import litert_interpreter, quantize_input

    interp = litert_interpreter(model_bytes)
    inp = interp.get_input_details()[0]
    xq = quantize_input(np.asarray(x[:1], np.float32), inp)
    for _ in range(10):
        interp.set_tensor(inp["index"], xq)
        interp.invoke()
    out = []
    for _ in range(n):
        interp.set_tensor(inp["index"], xq)
        t = time.perf_counter()
        interp.invoke()
        out.append((time.perf_counter() - t) * 1000.0)
    return out


def child(p: dict[str, Any]) -> dict[str, Any]:
    from studio.core.data import import_data
    from studio.core.optimize import Arrays, OptimizeConfig, build_variant, measure_variant
    from studio.core.pipeline import load_split_arrays
    from studio.core.project import Project
    from studio.core.train import default_config, load_run_model, train

    work = Path(p["work"])
    source = Path(p["source"]) if p.get("source") else write_digits(work / "digits")
    project = Project.create(work / "project", "image", "optimize-bench")
    import_data(project, source, val_split=0.2, test_split=0.2, seed=1234)
    # The full run trains with Studio's own defaults (what a user gets), so the int8 delta is measured on a
    # converged model: a half-trained one (40 fixed epochs at 64 px, 58 % accurate) has many borderline
    # predictions that any rounding flips. --quick trains a few epochs only.
    overrides = {"epochs": int(p["epochs"]), "patience": 0} if p.get("epochs") else {}
    config = default_config(project, arch="compact_cnn", pretrained="none", input_size=p.get("size"), **overrides)
    t = time.perf_counter()
    result = train(project, config)
    train_s = time.perf_counter() - t
    model, info = load_run_model(project)
    spec = info.spec
    parts = {s: load_split_arrays(project, s, spec) for s in ("train", "val", "test")}
    # Held-out = val + test together: twice the samples, so one flipped prediction moves accuracy half as much.
    x_held = np.concatenate([parts["val"][0], parts["test"][0]])
    y_held = np.concatenate([parts["val"][1], parts["test"][1]])
    arrays = Arrays(classes=info.classes, x_train=parts["train"][0], y_train=parts["train"][1],
                    x_val=x_held, y_val=y_held)
    out: dict[str, Any] = {
        "dataset": "inspection sample" if p.get("source") else "sklearn digits",
        "n": {s: int(len(parts[s][1])) for s in parts},
        "arch": info.arch, "input_shape": list(spec.shape), "train_epochs": len(result.epochs),
        "train_s": round(train_s, 2), "best_val_accuracy": result.best_val_accuracy,
        "convert_s": {}, "bytes": {},
    }
    variants = {}
    for q in ("float32", "float16", "dynamic", "int8"):
        t = time.perf_counter()
        built = build_variant(model, arrays, OptimizeConfig(quantize=q, measure_arena=False))
        out["convert_s"][q] = time.perf_counter() - t
        out["bytes"][q] = len(built.model_bytes)
        variants[q] = built.model_bytes
    t = time.perf_counter()
    pruned = build_variant(model, arrays, OptimizeConfig(prune=0.5, prune_kind="weights", quantize="float32", measure_arena=False))
    out["prune_s"] = time.perf_counter() - t
    out["prune_epochs"] = OptimizeConfig(prune=0.5, prune_kind="weights").epochs
    out["prune_sparsity"] = pruned.sparsity.get("sparsity")
    keras_probs = {"val": np.asarray(model.predict(x_held, batch_size=64, verbose=0))}
    for q in ("float32", "int8"):
        m = measure_variant(variants[q], model, arrays, q, measure_arena=False, keras_probs=keras_probs)
        out[q] = {k: m.get(k) for k in ("accuracy", "keras_accuracy", "agreement", "latency_ms", "bytes",
                                        "gzip_bytes")}
    n_lat = int(p.get("latency_runs", 300))
    lat: dict[str, list[float]] = {"float32": [], "int8": []}
    for _ in range(3):  # interleaved blocks
        for q in lat:
            lat[q] += _latency_ms(variants[q], x_held, n_lat // 3)
    out["latency_median_ms"] = {q: float(np.median(v)) for q, v in lat.items()}
    return out


def run(quick: bool = False, log: Any = print) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix="smsbench-opt-"))
    try:
        payload = {"work": str(work), "epochs": 3 if quick else None, "latency_runs": 150 if quick else 600,
                   "source": str(SAMPLE) if SAMPLE.is_dir() else None, "size": 64 if quick else None}
        r = run_child(MODULE, payload, timeout=1500).data
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"    {r['dataset']}: {r['n']} samples, {r['arch']} {r['input_shape']}, {r['train_epochs']} epochs in "
        f"{r['train_s']:.0f} s, best val {r['best_val_accuracy']}")
    base = (f"{r['dataset']}, {r['arch']} {'x'.join(map(str, r['input_shape']))} trained {r['train_epochs']} "
            f"epochs (best val {r['best_val_accuracy']:.3f})")
    rows = [Row("optimization", f"pruning 50 % + fine-tune ({r['prune_epochs']} epochs) + convert", r["prune_s"],
                "s", note=f"{r['n']['train']} training images; sparsity reached {r['prune_sparsity']}")]
    for q in ("float32", "float16", "dynamic", "int8"):
        rows.append(Row("optimization", f"convert {q}", r["convert_s"][q], "s",
                        note="includes int8 calibration on 200 training samples" if q == "int8" else ""))
    f32, i8 = r["float32"], r["int8"]
    rows.append(Row("optimization", "int8 size vs float32", r["bytes"]["int8"] / 1024, "KiB",
                    baseline=r["bytes"]["float32"] / 1024, baseline_name="float32 .tflite",
                    check=("ratio", "<=", 0.5), note=f"gzip {i8['gzip_bytes'] / 1024:.1f} vs "
                                                        f"{f32['gzip_bytes'] / 1024:.1f} KiB"))
    n_held = r["n"]["val"] + r["n"]["test"]
    delta_pts = (i8["accuracy"] - f32["accuracy"]) * 100
    rows.append(Row("optimization", "int8 accuracy delta vs float32 (LiteRT)", delta_pts, "points",
                    check=("value", ">=", -1.0), issue=True,
                    note=f"{n_held} held-out images; int8 {i8['accuracy']:.4f}, float32 {f32['accuracy']:.4f}, "
                         f"Keras {f32['keras_accuracy']:.4f}; int8 agrees with Keras on {i8['agreement']:.1%}; "
                         + base,
                    extra={"int8": i8, "float32": f32}))
    lat = r["latency_median_ms"]
    rows.append(Row("optimization", "host latency int8 vs float32 (LiteRT, 1 thread)", lat["int8"], "ms",
                    baseline=lat["float32"], baseline_name="float32 .tflite",
                    note=f"median of {payload['latency_runs']} batch-1 invokes each, interleaved"))
    rows[-1].extra = {"raw": r}
    return rows


if __name__ == "__main__":
    raise SystemExit(child_main(None, child))
