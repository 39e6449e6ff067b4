"""Development data of the shape "a physiological series with a labelled anomaly", written as a user's CSVs.

One long quasi-periodic series: a normal training stretch (``train.csv``: a ``label`` column that says
``normal`` on every row; ``train_nolabel.csv``: the same values without it) and a test stretch
(``test.csv``) holding 1-3 labelled anomalies (``label`` = ``anomaly`` on their rows), each 0.2x to 3x Studio's
default window long (128 rows: 25 to 384 rows).

The normal signal is either

* ``ecg`` / ``resp`` — synthetic: beats (P, QRS, T bumps) or breaths with a wandering period, amplitude
  changes, baseline drift and noise; or
* ``<Dataset>:<class>`` — recordings of one class of a development dataset (GunPoint, UnitTest, OSULeaf,
  ArrowHead, BasicMotions: /work/devdata/csv) laid end to end, each shifted to join the last without a step:
  the training stretch from the dataset's train split, the test stretch from its test split.

Anomaly kinds (:data:`KINDS`): a cycle of another class (synthetic: a wide ectopic beat), a flattened stretch,
a clipped stretch, a frequency change (the stretch played faster), a spike, a missing beat (the stretch
replaced by its baseline). Deterministic from the seed; numpy only.

    python -m bench.anomaly_series OUT_DIR [--seeds 0,1,2]   # writes OUT_DIR/<source>-s<seed>/{train,test}.csv
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from bench.anomaly_data import DEVDATA

WINDOW = 128  # Studio's default window for long recordings (studio.core.data.sensor.windows.DEFAULT_WINDOW)
KINDS = ("other_class", "flat", "clip", "frequency", "spike", "missing_beat")
SYNTHETIC = ("ecg", "resp")
DEV_SOURCES = ("GunPoint:1", "UnitTest:1", "OSULeaf:1", "ArrowHead:0", "BasicMotions:Walking")
SOURCES = SYNTHETIC + DEV_SOURCES


@dataclass
class Series:
    """A test stretch: values ``[n, channels]`` and the anomalies' (start, stop, kind)."""

    values: np.ndarray
    anomalies: list[tuple[int, int, str]]

    def labels(self) -> np.ndarray:
        y = np.zeros(len(self.values), dtype=bool)
        for a, b, _ in self.anomalies:
            y[a:b] = True
        return y


# ---------------------------------------------------------------------------------------------- normal signals
def _bump(t: np.ndarray, centre: float, width: float, height: float) -> np.ndarray:
    return height * np.exp(-0.5 * ((t - centre) / width) ** 2)


def ecg_beat(length: int, rng: np.random.Generator, ectopic: bool = False) -> np.ndarray:
    """One beat of ``length`` samples: P, Q, R, S, T bumps (``ectopic``: no P, a wide tall QRS, inverted T)."""
    t = np.arange(length) / length
    j = lambda s: s * (1 + 0.05 * rng.standard_normal())  # noqa: E731 - beat-to-beat shape jitter
    if ectopic:
        return (_bump(t, 0.30, 0.06, j(1.6)) - _bump(t, 0.42, 0.05, j(0.6)) - _bump(t, 0.65, 0.08, j(0.4)))
    return (_bump(t, 0.15, 0.03, j(0.15)) - _bump(t, 0.31, 0.01, j(0.1)) + _bump(t, 0.34, 0.012, j(1.0))
            - _bump(t, 0.37, 0.012, j(0.25)) + _bump(t, 0.60, 0.05, j(0.3)))


def synthetic_cycles(kind: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, list[int]]:
    """``n`` samples of beats (``ecg``, ~90 a cycle) or breaths (``resp``, ~160 a cycle) with a wandering
    period, amplitude changes, baseline drift and noise; and the cycles' starts."""
    base = 90 if kind == "ecg" else 160
    parts, starts, pos, period = [], [], 0, float(base)
    while pos < n:
        period = float(np.clip(period + rng.normal(0, 0.04 * base), 0.8 * base, 1.25 * base))
        length = int(round(period))
        amp = 1 + 0.08 * rng.standard_normal()
        if kind == "ecg":
            cyc = amp * ecg_beat(length, rng)
        else:
            t = np.arange(length) / length
            cyc = amp * (np.sin(2 * math.pi * t) + 0.25 * np.sin(4 * math.pi * t + 0.6))
        starts.append(pos)
        parts.append(cyc)
        pos += length
    x = np.concatenate(parts)[:n]
    t = np.arange(n)
    drift = 0.2 * np.sin(2 * math.pi * t / (n / rng.uniform(2, 5)) + rng.uniform(0, 6.3))
    drift += np.cumsum(rng.normal(0, 0.002, n))
    return (x + drift + rng.normal(0, 0.02, n))[:, None], starts


def _dev_files(name: str, cls: str, split: str) -> list[Path]:
    return sorted((DEVDATA / name / split / cls).glob("*.csv"))


def _read(path: Path) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2).astype(np.float64)


def joined(pieces: list[np.ndarray]) -> tuple[np.ndarray, list[int]]:
    """Recordings end to end, each shifted so its first row continues the previous one's last (no step)."""
    out, starts, pos, last = [], [], 0, None
    for p in pieces:
        p = p - p[0] + (last if last is not None else p[0])
        out.append(p)
        starts.append(pos)
        pos += len(p)
        last = p[-1]
    x = np.concatenate(out)
    return x - x.mean(axis=0), starts  # the pieces' shifts wander: centre the stretch


def dev_cycles(source: str, split: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, list[int]]:
    """About ``n`` rows of recordings of one class of a development dataset, end to end, in random order."""
    name, cls = source.split(":")
    files = _dev_files(name, cls, split)
    if not files:
        raise FileNotFoundError(f"no recordings of {source} in {DEVDATA / name / split}")
    pieces, total = [], 0
    while total < n:
        for i in rng.permutation(len(files)):
            pieces.append(_read(files[i]))
            total += len(pieces[-1])
            if total >= n:
                break
    return joined(pieces)


def other_cycle(source: str, length: int, rng: np.random.Generator, channels: int) -> np.ndarray:
    """A cycle that is not of the normal class, about ``length`` rows long: a recording of another class
    (development data; resampled to ``length``), or an ectopic beat / a deep sigh (synthetic)."""
    if source in SYNTHETIC:
        if source == "ecg":
            return np.concatenate([ecg_beat(max(8, length // k), rng, ectopic=True) for k in (1,)])[:, None]
        t = np.arange(length) / length
        return (2.2 * np.sin(math.pi * t) ** 2 - 0.3)[:, None]
    name, cls = source.split(":")
    others = sorted(p.name for p in (DEVDATA / name / "test").iterdir() if p.is_dir() and p.name != cls)
    files = _dev_files(name, str(rng.choice(others)), "test")
    rec = _read(files[int(rng.integers(len(files)))])
    t = np.linspace(0, len(rec) - 1, max(4, length))
    return np.stack([np.interp(t, np.arange(len(rec)), rec[:, c]) for c in range(rec.shape[1])], axis=1)


# ---------------------------------------------------------------------------------------------- anomalies
def inject(x: np.ndarray, kind: str, start: int, length: int, source: str, rng: np.random.Generator,
           normal_x: np.ndarray) -> np.ndarray:
    """``x`` with an anomaly of ``kind`` over rows [start, start + length) (a copy; the length is kept)."""
    y = x.copy()
    a, b = start, start + length
    seg = y[a:b]
    sd = normal_x.std(axis=0)
    if kind == "flat":
        y[a:b] = seg[:1] + rng.normal(0, 0.01, seg.shape) * sd
    elif kind == "clip":
        lo, hi = np.percentile(normal_x, 35, axis=0), np.percentile(normal_x, 65, axis=0)
        y[a:b] = np.clip(seg, lo, hi)
    elif kind == "frequency":  # the stretch played 1.8x faster (its rows taken from a 1.8x longer stretch)
        src = np.linspace(a, min(len(x) - 1, a + 1.8 * length), length)
        y[a:b] = np.stack([np.interp(src, np.arange(len(x)), x[:, c]) for c in range(x.shape[1])], axis=1)
    elif kind == "spike":  # a few large spikes
        for p in rng.choice(np.arange(a, b), size=max(1, min(3, length // 8)), replace=False):
            y[p] = y[p] + rng.choice([-1, 1]) * rng.uniform(3, 5) * sd
    elif kind == "missing_beat":  # the stretch replaced by the line between its ends, plus the noise
        w = np.linspace(0, 1, length)[:, None]
        y[a:b] = seg[:1] * (1 - w) + seg[-1:] * w + rng.normal(0, 0.02, seg.shape) * sd
    elif kind == "other_class":
        cyc = other_cycle(source, length, rng, x.shape[1])
        cyc = cyc - cyc.mean(axis=0) + seg.mean(axis=0)
        n = min(length, len(cyc))
        y[a:a + n] = cyc[:n]
        y[a + n:b] = cyc[n - 1]
    else:
        raise ValueError(f"unknown anomaly kind {kind!r}")
    return y


def normal_stretch(source: str, split: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if source in SYNTHETIC:
        return synthetic_cycles(source, n, rng)[0]
    return dev_cycles(source, split, n, rng)[0]


def make_pair(source: str, seed: int, n_train: int = 6000, n_test: int = 4000, n_anomalies: int | None = None,
              kinds: tuple[str, ...] = KINDS) -> tuple[np.ndarray, Series]:
    """(training stretch ``[n_train, ch]``, test :class:`Series` with 1-3 anomalies of random kind and length
    0.2-3 windows, apart from each other and the ends by at least one window)."""
    rng = np.random.default_rng(seed * 1000 + sum(map(ord, source)))
    train = normal_stretch(source, "train", n_train, rng)
    test = normal_stretch(source, "test", n_test, rng)
    n_test = len(test)
    k = int(n_anomalies or rng.integers(1, 4))
    anomalies: list[tuple[int, int, str]] = []
    slot = n_test // k
    for i in range(k):
        length = int(round(WINDOW * float(np.exp(rng.uniform(math.log(0.2), math.log(3.0))))))
        length = min(length, slot - 2 * WINDOW)
        start = i * slot + WINDOW + int(rng.integers(0, max(1, slot - 2 * WINDOW - length)))
        kind = str(rng.choice(kinds))
        test = inject(test, kind, start, length, source, rng, train)
        anomalies.append((start, start + length, kind))
    return train, Series(test, anomalies)


# ---------------------------------------------------------------------------------------------- files
def write_csv(path: Path, values: np.ndarray, labels: np.ndarray | None, names: list[str] | None = None) -> Path:
    ch = values.shape[1]
    names = names or (["value"] if ch == 1 else [f"c{i}" for i in range(ch)])
    head = ",".join(names + (["label"] if labels is not None else []))
    rows = []
    for i, v in enumerate(values):
        cells = [f"{x:.6g}" for x in v]
        if labels is not None:
            cells.append("anomaly" if labels[i] else "normal")
        rows.append(",".join(cells))
    path.write_text(head + "\n" + "\n".join(rows) + "\n")
    return path


def write_pair(root: Path, source: str, seed: int, **kw: int) -> dict[str, object]:
    """``root/{train,train_nolabel,test}.csv`` and what they hold (the anomalies' rows, 0-based data rows)."""
    root.mkdir(parents=True, exist_ok=True)
    train, test = make_pair(source, seed, **kw)
    write_csv(root / "train.csv", train, np.zeros(len(train), bool))
    write_csv(root / "train_nolabel.csv", train, None)
    write_csv(root / "test.csv", test.values, test.labels())
    return {"source": source, "seed": seed, "train_rows": len(train), "test_rows": len(test.values),
            "anomalies": [{"start": a, "stop": b, "kind": k, "windows": round((b - a) / WINDOW, 2)}
                          for a, b, k in test.anomalies]}


def pairs(root: Path, seeds: tuple[int, ...] = (0, 1, 2), sources: tuple[str, ...] = SOURCES
          ) -> Iterator[tuple[str, Path, dict[str, object]]]:
    """(name, folder, facts) of every source x seed, written under ``root``."""
    for source in sources:
        for seed in seeds:
            name = f"{source.replace(':', '-')}-s{seed}"
            yield name, root / name, write_pair(root / name, source, seed)


if __name__ == "__main__":
    import argparse
    import json

    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seeds", default="0,1,2")
    a = ap.parse_args()
    for name, _, facts in pairs(Path(a.out), tuple(int(s) for s in a.seeds.split(","))):
        print(name, json.dumps(facts["anomalies"]))
