"""Trust the model (issue 14): why-map accuracy, Try-it frame rate, mislabel recall. Development data only.

    python -m bench.trust                  # all three (~10 min on 2 busy cores)
    python -m bench.trust --only suspects  # one of: whymaps, fps, suspects

* **whymaps** — generated parts where a 7 px mark (ring or cross) alone decides the class, among dark
  distractor blobs (``studio.core.data.synth.make_mark_folder``, 64x48 px). A compact CNN is trained per input
  size; for every correctly classified test image with a mark, is the why-map's peak inside the mark's box?
  Grad-CAM (last feature map) against occlusion (Keras and the int8 variant through LiteRT), with seconds per
  image (wall and process CPU).
* **fps** — the live path (:class:`studio.core.tryit.LiveClassifier`) on 640x480 fake camera frames with the
  96 px int8 compact CNN through LiteRT: frames per second (wall), CPU ms per frame, latency median / p95.
* **suspects** — scikit-learn digits, 5 % of the training labels flipped after the split (seeded). Studio's
  default training on two draws of flips, and a run with no validation split for 120 epochs (the best weights
  are then chosen on the training loss: a network that memorises the wrong labels); recall of the top
  2x(number flipped) for the softmax alone, the neighbour vote alone and Studio's mix, of the ranking and of
  the listed ("possibly mislabelled") samples, and of the CLI's list.

Each section runs in a fresh child process; results go to ``bench/trust_results.json``.
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

import numpy as np

from bench.common import ROOT, child_main, run_child, write_digits

MODULE = "bench.trust"
RESULTS = ROOT / "bench" / "trust_results.json"


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(t: tuple[float, float]) -> dict[str, float]:
    return {"wall_s": round(time.perf_counter() - t[0], 3), "cpu_s": round(time.process_time() - t[1], 3)}


# ---------------------------------------------------------------------------------------------- why-maps
def _mark_project(base: Path, size: int, per_class: int, epochs: int) -> tuple[Any, dict[str, list[int]]]:
    from studio.core.data import import_data
    from studio.core.data.synth import make_mark_folder
    from studio.core.optimize import OptimizeConfig, optimize
    from studio.core.project import Project
    from studio.core.train import default_config, train

    root, boxes = make_mark_folder(base / "data", per_class=per_class, seed=1)
    project = Project.create(base / "proj", "image")
    import_data(project, root, val_split=0.2, test_split=0.3, seed=3)
    train(project, default_config(project, input_size=size, epochs=epochs, patience=0))
    optimize(project, OptimizeConfig.for_int8(measure_arena=False, name="int8"))
    return project, boxes


def whymaps(quick: bool) -> dict[str, Any]:
    from studio.core import attribution as attr
    from studio.core.data import sample_path
    from studio.core.explain import explain_input
    from studio.core.inference import keras_backend, litert_backend, load_input

    out: dict[str, Any] = {}
    for size in ((32,) if quick else (32, 64, 96)):
        base = Path(tempfile.mkdtemp(prefix="studio-bench-why-"))
        try:
            project, boxes = _mark_project(base, size, 40 if quick else 60, 12 if quick else 20)
            keras, lite = keras_backend(project), litert_backend(project, "int8")
            manifest = project.load_manifest()
            tests = [s for s in manifest["samples"] if s["split"] == "test" and s["path"] in boxes]
            row: dict[str, Any] = {"n_test_marked": len(tests)}
            for name, backend, method in (("gradcam", keras, "gradcam"), ("occlusion", keras, "occlusion"),
                                          ("occlusion_litert_int8", lite, "occlusion")):
                hits, t = [], _clock()
                for s in tests:
                    inp = load_input(sample_path(project, manifest, s), backend.spec)
                    r = explain_input(backend, inp, method)
                    if r["label"] != s["label"]:
                        continue
                    x0, y0, x1, y1 = boxes[s["path"]]
                    hits.append(x0 <= r["peak"][0] < x1 and y0 <= r["peak"][1] < y1)
                spent = _since(t)
                row[name] = {"peak_in_mark": round(float(np.mean(hits)), 3) if hits else None,
                             "n_correct": len(hits),
                             "wall_s_per_image": round(spent["wall_s"] / max(1, len(tests)), 4),
                             "cpu_s_per_image": round(spent["cpu_s"] / max(1, len(tests)), 4)}
            row["feature_grid"] = list(keras.model.get_layer(attr.feature_layer(keras.model).name).output_shape[1:3])
            out[f"{size}px"] = row
        finally:
            shutil.rmtree(base, ignore_errors=True)
    return out


# ---------------------------------------------------------------------------------------------- fps
def fps(quick: bool) -> dict[str, Any]:
    from studio.core.inference import litert_backend
    from studio.core.tryit import FakeFrameSource, LiveClassifier

    base = Path(tempfile.mkdtemp(prefix="studio-bench-fps-"))
    try:
        project, _ = _mark_project(base, 96, 20, 2)
        rng = np.random.default_rng(0)
        frames = [rng.integers(0, 255, (480, 640, 3), dtype=np.uint8) for _ in range(10)]
        live = LiveClassifier(litert_backend(project, "int8"), FakeFrameSource(frames, loop=True))
        live.run(lambda r: None, max_frames=20)  # warm-up
        n = 100 if quick else 500
        lat: list[float] = []
        t = _clock()
        done = live.run(lambda r: lat.append(r.latency_ms), max_frames=n)
        spent = _since(t)
        return {"frames": done, "frame_size": [640, 480], "model": "compact CNN 96 px int8 (LiteRT, 1 thread)",
                "fps_wall": round(done / spent["wall_s"], 1), "cpu_ms_per_frame": round(1000 * spent["cpu_s"] / done, 3),
                "latency_median_ms": round(float(np.median(lat)), 3),
                "latency_p95_ms": round(float(np.percentile(lat, 95)), 3)}
    finally:
        shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- suspects
def _flip(project: Any, fraction: float, seed: int) -> dict[str, tuple[str, str]]:
    """Flip ``fraction`` of the training labels in the manifest, as if the files had been mislabelled."""
    from studio.core.data.common import count_by

    m = project.load_manifest()
    rng = np.random.default_rng(seed)
    train_idx = [i for i, s in enumerate(m["samples"]) if s["split"] == "train"]
    flipped = {}
    for i in rng.choice(train_idx, size=int(round(fraction * len(train_idx))), replace=False):
        s = m["samples"][int(i)]
        new = str(rng.choice([c for c in m["classes"] if c != s["label"]]))
        flipped[s["path"]] = (s["label"], new)
        s["label"] = new
    m["counts"] = count_by([s["label"] for s in m["samples"]], m["classes"])
    m["split_counts"] = {sp: count_by([s["label"] for s in m["samples"] if s["split"] == sp], m["classes"])
                         for sp in ("train", "val", "test")}
    project.save_manifest(m)
    return flipped


def _recalls(emb: Any, flipped: dict[str, Any]) -> dict[str, Any]:
    from studio.core import suspects as S

    n = len(flipped)
    is_flip = np.array([name in flipped for name in emb.names])
    knn, _ = S.knn_vote(emb.emb, emb.labels, len(emb.classes))
    rows = np.arange(len(emb.labels))

    def top(p: np.ndarray) -> float:
        score = 1.0 - p[rows, emb.labels]
        return round(float(is_flip[np.argsort(-score, kind="stable")[: 2 * n]].sum() / n), 3)

    sweep = {}
    for w in (0.5, 0.75, 0.9, 1.0):
        mix = w * knn + (1 - w) * emb.probs
        sweep[f"w{w}"] = {"ranking": top(mix),
                          "listed": int(np.sum(1 - mix[rows, emb.labels] >= S.LIST_SCORE))}
    ranked = S.rank(emb.probs, knn, emb.labels)
    order = np.argsort(-ranked["score"], kind="stable")
    listed = [i for i in order if ranked["flagged"][i]]
    other = ranked["probs"].copy()
    other[rows, emb.labels] = -1
    argmax_listed = [i for i in order if other[i].max() > ranked["probs"][i, emb.labels[i]]]
    return {
        "n_flipped": n, "n_ranked": int(len(emb.labels)),
        "softmax_agrees_with_given_labels": round(float(np.mean(emb.probs.argmax(1) == emb.labels)), 4),
        "recall_top2x_softmax_only": top(emb.probs),
        "recall_top2x_neighbours_only": top(knn),
        "recall_top2x_studio_ranking": top(ranked["probs"]),
        "neighbour_weight_sweep": sweep,
        "n_listed": len(listed),
        "recall_top2x_studio_list": round(float(is_flip[listed[: 2 * n]].sum() / n), 3),
        "n_listed_if_another_class_wins": len(argmax_listed),
        "recall_if_another_class_wins": round(float(is_flip[argmax_listed[: 2 * n]].sum() / n), 3),
    }


def suspects(quick: bool) -> dict[str, Any]:
    from studio.core.data import import_data
    from studio.core.project import Project
    from studio.core.suspects import embed, find_suspects
    from studio.core.train import default_config, train

    base = Path(tempfile.mkdtemp(prefix="studio-bench-suspects-"))
    out: dict[str, Any] = {"data": "scikit-learn digits (1,797 8x8 images), test 0.2, 5 % of train flipped"}
    try:
        write_digits(base / "data")
        scenarios = (("default_training_flips_seed0", 0.2, 0, {}),
                     ("default_training_flips_seed1", 0.2, 1, {}),
                     ("no_validation_split_120_epochs", 0.0, 0, {"epochs": 30 if quick else 120, "patience": 0}))
        for name, val_split, flip_seed, overrides in scenarios[:1] if quick else scenarios:
            project = Project.create(base / name, "image")
            import_data(project, base / "data", val_split=val_split, test_split=0.2, seed=1234)
            flipped = _flip(project, 0.05, seed=flip_seed)
            t = _clock()
            result = train(project, default_config(project, **overrides))
            train_time = _since(t)
            t = _clock()
            listed = find_suspects(project, top=None, use_cache=False)
            row = {"train": {**train_time, "epochs": len(result.epochs), "best_epoch": result.best_epoch},
                   "suspects": _since(t), **_recalls(embed(project), flipped)}
            row["cli_list_recall_top2x"] = round(sum(1 for s in listed["suspects"][: 2 * len(flipped)]
                                                     if s["name"] in flipped) / len(flipped), 3)
            out[name] = row
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return out


SECTIONS = {"whymaps": whymaps, "fps": fps, "suspects": suspects}


def child(args: dict[str, Any]) -> dict[str, Any]:
    return SECTIONS[args["section"]](bool(args.get("quick")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.trust")
    parser.add_argument("--only", choices=list(SECTIONS), action="append")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for section in args.only or list(SECTIONS):
        load = os.getloadavg()
        print(f"== {section} (load {load[0]:.1f})", flush=True)
        res = run_child(MODULE, {"section": section, "quick": args.quick}, timeout=3600)
        value = dict(res.data, child_wall_s=round(res.wall, 1), child_peak_rss_mb=round(res.maxrss_mb, 1))
        value["load_before"] = round(load[0], 2)
        value["load_after"] = round(os.getloadavg()[0], 2)
        value["when"] = time.strftime("%Y-%m-%d %H:%M")
        value["quick"] = args.quick
        results[section] = value
        print(json.dumps(value, indent=2), flush=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        raise SystemExit(child_main(None, child))
    raise SystemExit(main())
