#!/usr/bin/env python3
"""Generate the vibration sample: 3-axis accelerometer recordings of an electric motor in four states.

One CSV per recording under ``data/<state>/``, 2 s at 1 kHz, columns ``time_s, ax, ay, az`` in g
(``ax`` horizontal radial, ``ay`` axial, ``az`` vertical radial including +1 g of gravity).

States and the physics each one imitates:

* ``normal``         a small residual imbalance at the running speed (1x), a little 2x and the 100 Hz magnetic
                     hum, broadband noise.
* ``imbalance``      a strong 1x component on both radial axes, 90 degrees apart (a rotating force), little
                     axially.
* ``bearing_fault``  an outer-race defect: short impacts at BPFO (3.0-3.6 x the running speed, with slip)
                     that ring a structural resonance at 180-350 Hz and die away in a few milliseconds.
* ``loose_mount``    the motor foot rocks: the vertical response is clipped on one side, knocks once a
                     revolution ring a low resonance, and 2x, 3x and a 0.5x sub-harmonic appear.

Every recording has its own running speed (1320-1800 rpm) drifting slowly, its own noise level, sensor gains and
background knocks from nearby machines (on every class, so a single knock does not mean "bearing fault").
Amplitudes of the fault signatures start low enough that some windows look almost normal: learnable, not
trivial.

Deterministic: the same ``--seed`` and counts give byte-identical files. NumPy only.

    python samples/vibration/generate.py                  # rewrite samples/vibration/data
    python samples/vibration/generate.py --out /tmp/v --per-class 3
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

CLASSES = ("normal", "imbalance", "bearing_fault", "loose_mount")
DEFAULT_PER_CLASS = 20
DEFAULT_SEED = 20240612
SAMPLE_RATE_HZ = 1000
DURATION_S = 2.0
GRAVITY_G = 1.0


def _ring(rng: np.random.Generator, n: int, fs: float, times: np.ndarray, amps: np.ndarray,
          freq: float, tau: float) -> np.ndarray:
    """Sum of decaying sinusoids (a struck resonance) starting at each of ``times`` (seconds)."""
    out = np.zeros(n)
    length = int(min(n, tau * 6 * fs)) + 1
    t = np.arange(length) / fs
    for t0, a in zip(times, amps):
        i0 = int(round(t0 * fs))
        if i0 >= n:
            continue
        phase = rng.uniform(0, 2 * np.pi)
        # Fractional start keeps impact timing exact even between samples.
        frac = t0 - i0 / fs
        seg = a * np.exp(-(t - frac).clip(0) / tau) * np.sin(2 * np.pi * freq * (t - frac) + phase)
        m = min(length, n - i0)
        out[i0 : i0 + m] += seg[:m]
    return out


def _events_at_phase(phase_rev: np.ndarray, t: np.ndarray, rate: float, jitter: float,
                     rng: np.random.Generator) -> np.ndarray:
    """Times at which ``phase_rev * rate`` crosses an integer: impacts locked to the shaft, with jitter."""
    cycles = phase_rev * rate
    k = np.floor(cycles)
    idx = np.nonzero(np.diff(k) > 0)[0] + 1
    times = t[idx] + rng.normal(0, jitter, size=len(idx))
    return np.clip(times, 0, None)


def recording(rng: np.random.Generator, label: str, n: int = int(SAMPLE_RATE_HZ * DURATION_S),
              fs: float = SAMPLE_RATE_HZ) -> np.ndarray:
    """One recording of state ``label``: float array ``[n, 3]`` (ax, ay, az) in g."""
    t = np.arange(n) / fs
    # Running speed with a slow drift (load changes): integrate frequency to get shaft phase in revolutions.
    f0 = rng.uniform(22.0, 30.0)
    drift = np.cumsum(rng.normal(0, 1, n)) / np.sqrt(n) * f0 * 0.01
    f = f0 + drift - drift.mean()
    rev = np.cumsum(f) / fs + rng.uniform(0, 1)
    th = 2 * np.pi * rev

    # Background shared by every state.
    a1 = rng.uniform(0.008, 0.045)  # residual imbalance
    a2 = rng.uniform(0.003, 0.018)
    hum = rng.uniform(0.002, 0.012)
    p2 = rng.uniform(0, 2 * np.pi)
    ph = rng.uniform(0, 2 * np.pi)
    x = a1 * np.cos(th) + a2 * np.cos(2 * th + p2) + hum * np.sin(2 * np.pi * 100 * t + ph)
    z = a1 * np.sin(th) + a2 * np.sin(2 * th + p2) + 0.7 * hum * np.sin(2 * np.pi * 100 * t + ph + 1.0)
    y = 0.25 * a1 * np.cos(th + rng.uniform(0, 2 * np.pi)) + 0.5 * a2 * np.cos(2 * th)

    if label == "imbalance":
        a = rng.uniform(0.05, 0.18)
        ecc = rng.uniform(0.7, 1.0)  # stiffness differs horizontally and vertically: an elliptic orbit
        pi = rng.uniform(0, 2 * np.pi)
        x += a * np.cos(th + pi)
        z += a * ecc * np.sin(th + pi)
        y += a * rng.uniform(0.05, 0.2) * np.cos(th + pi + rng.uniform(0, np.pi))
    elif label == "bearing_fault":
        ratio = rng.uniform(3.0, 3.6)
        times = _events_at_phase(rev, t, ratio, jitter=0.0015 / ratio * 30 / f0, rng=rng)
        amp = rng.uniform(0.05, 0.3)
        # Impacts are strongest when the defect passes the load zone: modulate by the shaft angle.
        mod = 0.6 + 0.4 * np.cos(2 * np.pi * np.interp(times, t, rev))
        amps = amp * mod * rng.uniform(0.6, 1.4, size=len(times))
        fres = rng.uniform(180, 350)
        tau = rng.uniform(0.002, 0.006)
        r = _ring(rng, n, fs, times, amps, fres, tau)
        x += r * rng.uniform(0.5, 1.0)
        z += r * rng.uniform(0.7, 1.2)
        y += r * rng.uniform(0.1, 0.4)
    elif label == "loose_mount":
        a = rng.uniform(0.04, 0.12)
        vert = a * np.sin(th + rng.uniform(0, 2 * np.pi))
        clip = -a * rng.uniform(0.35, 0.75)  # the foot hits the base: motion stops on one side
        vert = np.maximum(vert, clip)
        z += vert + a * rng.uniform(0.1, 0.35) * np.sin(0.5 * th + rng.uniform(0, 2 * np.pi))
        x += a * rng.uniform(0.2, 0.5) * np.cos(th) + a * rng.uniform(0.05, 0.2) * np.cos(3 * th)
        knocks = _events_at_phase(rev, t, 1.0, jitter=0.002, rng=rng)
        kn = _ring(rng, n, fs, knocks, a * rng.uniform(0.4, 1.0) * rng.uniform(0.7, 1.3, len(knocks)),
                   rng.uniform(60, 140), rng.uniform(0.006, 0.015))
        z += kn
        x += kn * rng.uniform(0.2, 0.5)

    # Nearby machines: a few random knocks on every class.
    for _ in range(int(rng.integers(0, 4))):
        when = np.array([rng.uniform(0, t[-1])])
        k = _ring(rng, n, fs, when, np.array([rng.uniform(0.03, 0.15)]), rng.uniform(80, 400), rng.uniform(0.003, 0.02))
        x += k * rng.uniform(0.3, 1.0)
        z += k * rng.uniform(0.3, 1.0)
        y += k * rng.uniform(0.1, 0.6)

    sig = np.stack([x, y, z], axis=1)
    sig *= rng.uniform(0.85, 1.15, size=3)  # sensor gain / mounting differences
    noise = rng.uniform(0.008, 0.03)
    sig += rng.normal(0, noise, size=sig.shape)
    # Slow structural sway and a small sensor offset.
    sway = np.cumsum(rng.normal(0, 1, size=sig.shape), axis=0)
    sway -= np.linspace(0, 1, n)[:, None] * sway[-1]
    sig += sway / np.sqrt(n) * 0.01
    sig += rng.normal(0, 0.01, size=3)
    sig[:, 2] += GRAVITY_G
    return sig


def _rec_rng(seed: int, label: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, CLASSES.index(label), index])


def to_csv(sig: np.ndarray, fs: float = SAMPLE_RATE_HZ) -> str:
    """The recording as CSV text: a time column in seconds and 3 decimals (1 mg) per axis."""
    lines = ["time_s,ax,ay,az"]
    for i, (x, y, z) in enumerate(sig):
        lines.append(f"{i / fs:.3f},{x:.3f},{y:.3f},{z:.3f}")
    return "\n".join(lines).replace("-0.000", "0.000") + "\n"


def generate(out_dir: str | Path, per_class: int = DEFAULT_PER_CLASS, seed: int = DEFAULT_SEED) -> dict[str, int]:
    """Write ``out_dir/<state>/<state>_NN.csv``; returns the count per class. Class folders are replaced."""
    out = Path(out_dir)
    for label in CLASSES:
        folder = out / label
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for i in range(per_class):
            sig = recording(_rec_rng(seed, label, i), label)
            (folder / f"{label}_{i + 1:02d}.csv").write_text(to_csv(sig), encoding="utf-8", newline="\n")
    return {label: per_class for label in CLASSES}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "data"))
    parser.add_argument("--per-class", type=int, default=DEFAULT_PER_CLASS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    written = generate(args.out, args.per_class, args.seed)
    total = sum(p.stat().st_size for p in Path(args.out).rglob("*.csv"))
    print(f"wrote {sum(written.values())} recordings {written} to {args.out} ({total / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
