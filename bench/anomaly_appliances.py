"""Synthetic appliance power signatures for the one-class sensor bench (development data, not a real dataset).

Each recording is 720 steps of one appliance's power draw: fridge / freezer compressor cycles with a start-up
spike, kettles (2,000 W / 1,500 W blocks), a washer (heating, drum, spin), a pulsing microwave, a TV, a computer
(wandering load with bursts). ``hard``: three near-duplicate appliances (a second fridge, a freezer, a small
kettle) and a wandering standby load (0-30 W, a slow swing of 8 W, noise sd 6 W) under every recording. One
appliance is good in turn, the others are the defects (:func:`bench.anomaly_data.sensor_oneclass`), Studio's
defaults against IF / OC-SVM / PCA on the same windows (:func:`bench.anomaly_bench.run_split`).

    python -m bench.anomaly_appliances [--hard] [--out FILE]
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

N = 720

def _blocks(rng: np.random.Generator, level: float, on: tuple[int, int], off: tuple[int, int],
            spike: float = 0.0) -> np.ndarray:
    """A compressor's on / off cycles: ``on`` and ``off`` durations drawn in their ranges, a start-up spike."""
    x = np.zeros(N)
    t = int(rng.integers(0, off[1]))
    while t < N:
        d = int(rng.integers(*on))
        x[t: t + d] = level * rng.uniform(0.9, 1.1)
        x[t: t + 3] += spike * level
        t += d + int(rng.integers(*off))
    return x


def _block(rng: np.random.Generator, watts: float, length: tuple[int, int]) -> np.ndarray:
    """One block of ``watts`` (a kettle) at a random time."""
    x = np.zeros(N)
    d = int(rng.integers(*length))
    s = int(rng.integers(0, N - length[1]))
    x[s: s + d] = watts * rng.uniform(0.95, 1.05)
    return x


def fridge(rng: np.random.Generator) -> np.ndarray:
    return _blocks(rng, 100, (60, 120), (120, 200), spike=3.0) + 2


def fridge_b(rng: np.random.Generator) -> np.ndarray:
    return _blocks(rng, 130, (40, 90), (90, 160), spike=2.0) + 2


def freezer(rng: np.random.Generator) -> np.ndarray:
    return _blocks(rng, 90, (100, 180), (150, 250), spike=4.0) + 2


def kettle(rng: np.random.Generator) -> np.ndarray:
    return _block(rng, 2000, (60, 150))


def kettle_small(rng: np.random.Generator) -> np.ndarray:
    return _block(rng, 1500, (120, 210))


def washer(rng: np.random.Generator) -> np.ndarray:
    x = np.zeros(N)
    s, h = int(rng.integers(0, 100)), int(rng.integers(80, 140))
    x[s: s + h] = 2000 * rng.uniform(0.95, 1.05)  # heating
    t = np.arange(N - s - h)
    x[s + h:] = 300 + 150 * np.sin(2 * np.pi * t / rng.uniform(20, 40)) * (rng.random(len(t)) > 0.3)  # the drum
    sp = int(rng.integers(N - 150, N - 60))
    x[sp: sp + 50] = 500 * rng.uniform(0.9, 1.1)  # spin
    return x


def microwave(rng: np.random.Generator) -> np.ndarray:
    x = np.zeros(N)
    s, d = int(rng.integers(0, N - 300)), int(rng.integers(100, 280))
    period, duty = int(rng.integers(20, 40)), rng.uniform(0.5, 1.0)
    x[s: s + d] = 1200 * ((np.arange(d) % period) < duty * period)
    return x


def tv(rng: np.random.Generator) -> np.ndarray:
    x = np.zeros(N)
    s = int(rng.integers(0, N // 2))
    x[s:] = 100 * rng.uniform(0.8, 1.2) + 10 * np.sin(np.arange(N - s) / rng.uniform(5, 30))
    return x


def computer(rng: np.random.Generator) -> np.ndarray:
    x = np.clip(80 * rng.uniform(0.8, 1.2) + np.cumsum(rng.normal(0, 2, N)), 40, 200)
    for _ in range(int(rng.integers(2, 8))):
        s = int(rng.integers(0, N - 20))
        x[s: s + int(rng.integers(3, 20))] += rng.uniform(40, 100)
    return x


KINDS = {"computer": computer, "freezer": freezer, "fridge": fridge, "fridge_b": fridge_b, "kettle": kettle,
         "kettle_small": kettle_small, "microwave": microwave, "tv": tv, "washer": washer}
EASY = ("computer", "fridge", "kettle", "microwave", "tv", "washer")


def write(out: Path, hard: bool, per_class: int = 40) -> Path:
    """train/ and test/ class folders of CSV recordings (``per_class`` each) under ``out``."""
    rng = np.random.default_rng(11 if hard else 7)
    kinds = {k: f for k, f in KINDS.items() if hard or k in EASY}
    for split in ("train", "test"):
        for name, f in kinds.items():
            d = out / split / name
            d.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                x = f(rng)
                x = x + (rng.normal(0, 6, N) + rng.uniform(0, 30) + 8 * np.sin(np.arange(N) / rng.uniform(50, 300))
                         if hard else rng.normal(0, 3, N))
                np.savetxt(d / f"{split}_{i:04d}.csv", x[:, None], delimiter=",", header="power", comments="",
                           fmt="%.3f")
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse
    import tempfile

    ap = argparse.ArgumentParser()
    ap.add_argument("--hard", action="store_true")
    ap.add_argument("--out", default="-")
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="appliances-"))
    name = "Appliances2" if args.hard else "Appliances"
    write(root / name, args.hard)
    from bench import anomaly_bench as B
    from bench import anomaly_data as A

    rows = []
    try:
        for normal, train, test in A.sensor_oneclass(name, root=root):
            r = B.run_split(f"{name} {normal}", train, test, "sensor-anomaly", print,
                            lambda s, p, test=test: B.sensor_baselines(p, test))
            rows.append({"name": r["name"], "studio": r["studio"]["auroc"], "best_baseline": r["best_baseline"],
                         "best_baseline_auroc": r["best_baseline_auroc"],
                         "baselines": {k: v["auroc"] for k, v in r["baselines"].items()}})
            shutil.rmtree(train.parent, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    text = json.dumps(rows, indent=1)
    if args.out == "-":
        print(text)
    else:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
