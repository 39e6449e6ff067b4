"""Studio's defaults against classic baselines on real public datasets, on the same split.

    python bench/baseline_compare.py [--work DIR] [--datasets digits,basicmotions,japanesevowels]

For each dataset: write it as files a user would have (PNG class folders; one CSV per recording in class
folders), run ``studio new / import / train / evaluate`` through the CLI with default settings (timing each
step, TensorFlow start-up included), then fit an RBF SVM and a random forest (scikit-learn defaults, 300
trees) on the *same* train split the project froze, and score all three on the same test split.

Datasets (none prepared by this project):
- ``digits``: scikit-learn's bundled UCI handwritten digits, 1,797 8x8 grey images, 10 classes.
- ``basicmotions``, ``japanesevowels``: multichannel recordings from the UEA archive as shipped inside the
  ``aeon`` wheel (6 channels x 100 steps, 4 classes; 12 channels x 29 steps, 9 classes). The wheel is read as
  a zip (``pip download aeon --no-deps``); aeon itself is not installed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # also runs as `python bench/baseline_compare.py`
    sys.path.insert(0, str(ROOT))

from bench.common import write_digits  # noqa: E402


# ---------------------------------------------------------------------------------------------- datasets
def _aeon_wheel(cache: Path) -> Path:
    wheels = sorted(cache.glob("aeon-*.whl"))
    if not wheels:
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "aeon", "--no-deps", "-q", "-d", str(cache)],
                       check=True)
        wheels = sorted(cache.glob("aeon-*.whl"))
    return wheels[-1]


def parse_ts(text: str) -> tuple[list[np.ndarray], list[str]]:
    """A .ts file of the UEA/UCR archive: '@' header lines, then one case per line, dimensions separated by
    ':', values by ',', the class label last. Returns ([length, channels] arrays, labels)."""
    series, labels = [], []
    data = False
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower().startswith("@data"):
            data = True
            continue
        if not data or line.startswith("@"):
            continue
        parts = line.split(":")
        dims = [np.array([float(v) for v in p.split(",")], dtype=np.float32) for p in parts[:-1]]
        n = min(len(d) for d in dims)
        series.append(np.stack([d[:n] for d in dims], axis=1))
        labels.append(parts[-1].strip())
    return series, labels


def write_uea(name: str, out: Path, cache: Path) -> tuple[Path, Path]:
    """Write TRAIN and TEST of an aeon-bundled UEA dataset as class folders of CSV recordings."""
    wheel = _aeon_wheel(cache)
    folder = {"basicmotions": "BasicMotions", "japanesevowels": "JapaneseVowels"}[name]
    stem = {"basicmotions": "BasicMotions", "japanesevowels": "JapaneseVowels_eq"}[name]
    roots = []
    with zipfile.ZipFile(wheel) as zf:
        for part in ("TRAIN", "TEST"):
            text = zf.read(f"aeon/datasets/data/{folder}/{stem}_{part}.ts").decode("utf-8")
            series, labels = parse_ts(text)
            root = out / part.lower()
            for i, (s, label) in enumerate(zip(series, labels)):
                d = root / label
                d.mkdir(parents=True, exist_ok=True)
                header = ",".join(f"ch{c}" for c in range(s.shape[1]))
                np.savetxt(d / f"{part.lower()}_{i:04d}.csv", s, delimiter=",", header=header, comments="",
                           fmt="%.6g")
            roots.append(root)
    return roots[0], roots[1]


# ---------------------------------------------------------------------------------------------- studio CLI
def studio(*args: str) -> tuple[dict[str, Any], float]:
    env = dict(os.environ, STUDIO_QUIET="1", PYTHONPATH=str(ROOT))
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "studio", *args, "--json"], capture_output=True, text=True,
                          env=env)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"studio {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout), seconds


# ---------------------------------------------------------------------------------------------- baselines
def features(project_path: Path, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flattened raw input, hand-made summary features, labels) of one split, from the project's own split."""
    from studio.core.project import Project

    project = Project.open(project_path)
    manifest = project.load_manifest()
    if project.task == "image":
        from studio.core.data.image import load_image
        from studio.core.data import split_samples

        paths, y, _ = split_samples(project, split, manifest)
        side = int(min(manifest["image_size"]["median"]))
        ch = int(manifest["channels"])
        x = np.stack([load_image(p, side, ch) for p in paths]).astype(np.float32) / 255.0
        flat = x.reshape(len(x), -1)
        return flat, flat, y
    from studio.core.data.sensor import split_windows

    x, y, _ = split_windows(project, split, manifest, normalized=True)
    stats = np.concatenate(
        [x.mean(1), x.std(1), x.min(1), x.max(1), np.abs(np.diff(x, axis=1)).mean(1)], axis=1
    )
    return x.reshape(len(x), -1), stats, y


def baselines(project_path: Path, test_split: str) -> dict[str, Any]:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    out: dict[str, Any] = {}
    tr_flat, tr_stats, ytr = features(project_path, "train")
    va_flat, va_stats, yva = features(project_path, "val")
    te_flat, te_stats, yte = features(project_path, test_split)
    for name, (a, b, c) in {"flat": (tr_flat, va_flat, te_flat), "stats": (tr_stats, va_stats, te_stats)}.items():
        if name == "stats" and a is tr_flat:
            continue
        for model_name, make in {
            "svm": lambda: make_pipeline(StandardScaler(), SVC()),
            "rf": lambda: RandomForestClassifier(n_estimators=300, random_state=0, n_jobs=2),
        }.items():
            for fit_on in ("train", "train+val"):
                x = a if fit_on == "train" else np.concatenate([a, b])
                y = ytr if fit_on == "train" else np.concatenate([ytr, yva])
                t = time.perf_counter()
                clf = make().fit(x, y)
                acc = float((clf.predict(c) == yte).mean())
                out[f"{model_name}_{name}_{fit_on}"] = {"accuracy": acc, "seconds": round(time.perf_counter() - t, 2)}
    return out


# ---------------------------------------------------------------------------------------------- main
def run_dataset(name: str, work: Path, cache: Path, extra_train: list[str]) -> dict[str, Any]:
    base = work / name
    if base.exists():
        import shutil

        shutil.rmtree(base)
    base.mkdir(parents=True)
    project = base / "project"
    if name == "digits":
        data = write_digits(base / "data")
        task, import_args, test_split = "image", [str(data), "--val-split", "0.2", "--test-split", "0.2"], "test"
    else:
        train_dir, test_dir = write_uea(name, base / "data", cache)
        task, import_args, test_split = "sensor", [str(train_dir), "--test", str(test_dir)], "test"
    result: dict[str, Any] = {"dataset": name}
    _, result["new_s"] = studio("new", str(project), "--task", task)
    imp, result["import_s"] = studio("import", str(project), *import_args)
    result["splits"] = {k: sum(v.values()) for k, v in imp["splits"].items()}
    tr, result["train_s"] = studio("train", str(project), *extra_train)
    result["train"] = {k: tr[k] for k in ("arch", "params", "best_epoch", "best_val_accuracy", "stop_reason")}
    result["train"]["epochs_run"] = len(tr["epochs"])
    result["train"]["config"] = tr["config"]
    ev, result["evaluate_s"] = studio("evaluate", str(project), "--split", test_split)
    result["studio_accuracy"] = ev["accuracy"]
    result["baselines"] = baselines(project, test_split)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/studio-baselines")
    ap.add_argument("--cache", default="/tmp/studio-baselines-cache", help="where the aeon wheel is kept")
    ap.add_argument("--datasets", default="digits,basicmotions,japanesevowels")
    ap.add_argument("--train-args", default="", help="extra 'studio train' arguments (default: none)")
    args = ap.parse_args(argv)
    work, cache = Path(args.work), Path(args.cache)
    rows = []
    for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        r = run_dataset(name, work, cache, args.train_args.split())
        rows.append(r)
        print(json.dumps(r, indent=1), file=sys.stderr)
    print("\n| dataset | splits (train/val/test) | Studio default | acc | train s | best SVM | best RF |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        b = r["baselines"]
        svm = max(v["accuracy"] for k, v in b.items() if k.startswith("svm"))
        rf = max(v["accuracy"] for k, v in b.items() if k.startswith("rf"))
        s = r["splits"]
        print(f"| {r['dataset']} | {s['train']}/{s['val']}/{s['test']} | {r['train']['arch']} "
              f"({r['train']['params']:,} params, {r['train']['epochs_run']} epochs) | {r['studio_accuracy']:.3f} | "
              f"{r['train_s']:.0f} | {svm:.3f} | {rf:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
