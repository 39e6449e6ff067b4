"""Sensor accuracy: Studio's defaults against SVM, random forest and MiniRocket, per recording, in one run.

    python -m bench --only accuracy            # part of the suite (docs/benchmarks.md)
    python -m bench.sensor_accuracy [--datasets GunPoint,vibration] [--quick]

For each development dataset (BasicMotions, JapaneseVowels, GunPoint, ArrowHead, OSULeaf, UnitTest from the
aeon wheel, official train/test split; the bundled vibration sample split in half per class, seeded) it runs
what a user runs, each a separate process timed by wall clock and CPU (``os.wait4``):
``studio new P --task sensor; studio import P TRAIN --test TEST; studio train P;
studio evaluate P --data TEST --json; studio optimize P --quantize int8`` (the int8 variant's accuracy per
recording on TEST through LiteRT), then the classic baselines on the same folders in a separate interpreter
that has aeon (``bench/classic_baselines.py``; aeon is never a dependency of the app).

Data: ``$STUDIO_DEVDATA`` (default ``/work/devdata/csv``) holds ``<Name>/{train,test}/<class>/*.csv``; without
it the .ts files are read from the aeon wheel (``pip download aeon --no-deps``). Baseline interpreter:
``$STUDIO_BASELINE_PYTHON``, else ``/work/benchenv/bin/python`` if present, else a venv made once under the
cache folder (``pip install aeon scikit-learn``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import Row, child_env  # noqa: E402

DATASETS = ("BasicMotions", "JapaneseVowels", "GunPoint", "ArrowHead", "OSULeaf", "UnitTest", "vibration")
CACHE = Path(os.environ.get("STUDIO_BENCH_CACHE", "/tmp/studio-bench-cache"))


# ---------------------------------------------------------------------------------------------- data
def _write_series(series: list[np.ndarray], labels: list[str], root: Path, stem: str) -> None:
    for i, (s, label) in enumerate(zip(series, labels)):
        d = root / label
        d.mkdir(parents=True, exist_ok=True)
        header = ",".join(f"c{c}" for c in range(s.shape[1]))
        np.savetxt(d / f"{stem}_{i:04d}.csv", s, delimiter=",", header=header, comments="", fmt="%.7g")


def dataset_folders(name: str, work: Path) -> tuple[Path, Path]:
    """(train, test) class folders of ``name``."""
    if name == "vibration":
        src = ROOT / "samples" / "vibration" / "data"
        out = work / "vibration-data"
        if out.exists():
            shutil.rmtree(out)
        rng = np.random.default_rng(0)
        for cls in sorted(p for p in src.iterdir() if p.is_dir()):
            files = sorted(cls.glob("*.csv"))
            order = rng.permutation(len(files))
            for k, i in enumerate(order):
                dest = out / ("train" if k < len(files) // 2 else "test") / cls.name
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copy(files[i], dest / files[i].name)
        return out / "train", out / "test"
    dev = Path(os.environ.get("STUDIO_DEVDATA", "/work/devdata/csv")) / name
    if (dev / "train").is_dir() and (dev / "test").is_dir():
        return dev / "train", dev / "test"
    from bench.baseline_compare import _aeon_wheel, parse_ts

    out = work / f"{name}-data"
    with zipfile.ZipFile(_aeon_wheel(CACHE)) as zf:
        for part in ("TRAIN", "TEST"):
            series, labels = parse_ts(zf.read(f"aeon/datasets/data/{name}/{name}_{part}.ts").decode("utf-8"))
            _write_series(series, labels, out / part.lower(), part.lower())
    return out / "train", out / "test"


def baseline_python() -> str:
    env = os.environ.get("STUDIO_BASELINE_PYTHON")
    if env:
        return env
    if Path("/work/benchenv/bin/python").exists():
        return "/work/benchenv/bin/python"
    venv = CACHE / "baseline-venv"
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "aeon", "scikit-learn"], check=True)
    return str(py)


# ---------------------------------------------------------------------------------------------- processes
def timed(argv: list[str], env: dict[str, str] | None = None, timeout: float = 3600) -> tuple[str, float, float]:
    """(stdout, wall seconds, CPU seconds of exactly this child: user + system, from ``os.wait4``)."""
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env or child_env(), cwd=str(ROOT))
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            raise
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} failed:\n{stderr[-2500:]}")
    return stdout, wall, usage.ru_utime + usage.ru_stime


def studio(*args: str) -> tuple[dict[str, Any], float, float]:
    out, wall, cpu = timed([sys.executable, "-m", "studio", *args, "--json"])
    return json.loads(out), wall, cpu


def run_dataset(name: str, work: Path, log: Callable[[str], None]) -> dict[str, Any]:
    train_dir, test_dir = dataset_folders(name, work)
    project = work / f"{name}-project"
    if project.exists():
        shutil.rmtree(project)
    r: dict[str, Any] = {"dataset": name}
    _, w0, c0 = studio("new", str(project), "--task", "sensor")
    imp, w1, c1 = studio("import", str(project), str(train_dir), "--test", str(test_dir))
    manifest = json.loads((project / "data" / "manifest.json").read_text())
    r["splits"] = {sp: sum(1 for rec in manifest["recordings"] if rec["split"] == sp) for sp in ("train", "val", "test")}
    r["lengths"] = [min(rec["length"] for rec in manifest["recordings"]), max(rec["length"] for rec in manifest["recordings"])]
    r["classes"] = len(manifest["classes"])
    tr, w2, c2 = studio("train", str(project))
    ev, w3, c3 = studio("evaluate", str(project), "--data", str(test_dir))
    r.update(train_seconds=round(w2, 1), train_cpu_seconds=round(c2, 1),
             total_seconds=round(w0 + w1 + w2 + w3, 1), total_cpu_seconds=round(c0 + c1 + c2 + c3, 1))
    r["recordings"] = ev["recordings"]
    r["recording_accuracy"] = ev["recording_accuracy"]
    r["window_accuracy"] = ev["accuracy"]
    r["windows"] = ev["n"]
    r["input"] = ev.get("input_policy")
    sel = json.loads((Path(tr["path"]) / "selection.json").read_text()) if (Path(tr["path"]) / "selection.json").exists() else {}
    r["arch"] = tr["arch"]
    r["why"] = sel.get("why")
    r["candidates"] = [(c["what"], c.get("score")) for c in sel.get("candidates", [])]
    var, w4, c4 = studio("optimize", str(project), "--quantize", "int8")
    r["int8_recording_accuracy"] = var.get("test_recording_accuracy")
    r["int8_seconds"], r["int8_cpu_seconds"] = round(w4, 1), round(c4, 1)
    r["int8_bytes"] = var.get("bytes")
    r["arena_bytes"] = (var.get("arena") or {}).get("min_bytes")
    log(f"    {name}: Studio {r['recording_accuracy']:.3f} per recording ({r['window_accuracy']:.3f} per window), "
        f"int8 {r['int8_recording_accuracy']}, train {w2:.0f} s / {c2:.0f} CPU s")
    out, wb, cb = timed([baseline_python(), str(ROOT / "bench" / "classic_baselines.py"), str(train_dir),
                         str(test_dir)])
    base = json.loads(out.strip().splitlines()[-1])
    r["baselines"] = base
    best = max(("svm", "rf", "minirocket"), key=lambda k: base[k])
    r["best_baseline"], r["best_baseline_accuracy"] = best, base[best]
    log(f"    {name}: SVM {base['svm']:.3f}, RF {base['rf']:.3f}, MiniRocket {base['minirocket']:.3f}")
    return r


# ---------------------------------------------------------------------------------------------- suite
def run(quick: bool, log: Callable[[str], None], datasets: tuple[str, ...] = DATASETS) -> list[Row]:
    work = Path(os.environ.get("STUDIO_BENCH_WORK", "/tmp/studio-bench-accuracy"))
    work.mkdir(parents=True, exist_ok=True)
    names = datasets[:2] if quick else datasets
    rows = []
    table = []
    for name in names:
        r = run_dataset(name, work, log)
        table.append(r)
        rows.append(Row("accuracy", f"{name}: recording accuracy", r["recording_accuracy"] * 100, "%",
                        baseline=r["best_baseline_accuracy"] * 100,
                        baseline_name=f"best classic ({r['best_baseline']})", check=("ratio", ">=", 1.0),
                        issue=True, note=f"{r['arch']} on {r['input']}; train {r['train_seconds']} s "
                                         f"({r['train_cpu_seconds']} CPU s)", extra=r))
        if r["int8_recording_accuracy"] is not None:
            drop = (r["recording_accuracy"] - r["int8_recording_accuracy"]) * 100
            rows.append(Row("accuracy", f"{name}: int8 loss (points, per recording, LiteRT)", drop, "pt",
                            check=("value", "<=", 1.0), issue=True,
                            note=f"int8 {r['int8_recording_accuracy']:.3f} vs float {r['recording_accuracy']:.3f}"))
    return rows


def table_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The accuracy table of docs/benchmarks.md from the rows' ``extra`` dicts."""
    out = ["| dataset | classes, lengths | recordings train/val/test | Studio default (per recording) | per window | "
           "int8 (LiteRT) | "
           "SVM | RF | MiniRocket (aeon) | train s (CPU s) | total s (CPU s) | chosen input |",
           "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for d in rows:
        r = d.get("extra") or {}
        if "dataset" not in r:
            continue
        b = r["baselines"]
        s = r["splits"]
        i8 = r.get("int8_recording_accuracy")
        out.append(
            f"| {r['dataset']} | {r['classes']}, {r['lengths'][0]}-{r['lengths'][1]} rows | "
            f"{s['train']}/{s['val']}/{s['test']} | **{r['recording_accuracy']:.3f}** | "
            f"{r['window_accuracy']:.3f} | {i8:.3f} | {b['svm']:.3f} | {b['rf']:.3f} | {b['minirocket']:.3f} | "
            f"{r['train_seconds']} ({r['train_cpu_seconds']}) | {r['total_seconds']} ({r['total_cpu_seconds']}) | "
            f"{r['arch']}: {r['input']} |" if i8 is not None else f"| {r['dataset']} | ... |")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    rows = run(args.quick, lambda m: print(m, flush=True), tuple(d for d in args.datasets.split(",") if d))
    print("\n".join(table_lines([r.to_json() for r in rows])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
