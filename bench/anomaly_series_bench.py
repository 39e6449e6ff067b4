"""A physiological series with a labelled anomaly (:mod:`bench.anomaly_series`): Studio through its defaults
against Isolation Forest, One-class SVM and PCA reconstruction on raw values, same windows, same run.

Per pair: ``new --task sensor-anomaly``, ``import train.csv --label-column label`` (``--nolabel``: the
training CSV without a label column), ``train`` with defaults, ``evaluate --data test.csv``. Studio's figures
are read from the evaluation's JSON (its ``auroc``, ``unit``, per-window ``windows.auroc``, false alarms and
detections at its threshold). The baselines (scikit-learn defaults, PCA keeping 90 % of the variance, as in
:mod:`bench.anomaly_bench`) are fitted on the project's good training + validation windows (normalized as
Studio's) and score the test series' windows, cut over the whole series (a window overlapping an anomaly
counts as one), and per labelled stretch (each stretch cut on its own, its score its highest window's).
Studio's own detector is scored on those same continuous windows here too, so every column of a row rests on
the same windows.

    python -m bench.anomaly_series_bench [--seeds 0,1,2] [--sources ecg,resp,...] [--nolabel] [--window N]
                                         [--int8] [--out FILE]

``--int8``: also the default full-int8 variant on the same continuous test windows through LiteRT, at the
threshold its bundle carries: AUROC and false alarms per good window beside the float detector's.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench import anomaly_series as S
from bench.anomaly_bench import CLASSIC, _baselines, recording_baselines


def continuous_windows(values: np.ndarray, labels: np.ndarray, spec: Any) -> tuple[np.ndarray, np.ndarray]:
    """Normalized windows over the whole series (Studio's cut: stride, plus one at the end) and whether each
    overlaps an anomalous row."""
    from studio.core.anomaly.scoring import recording_windows

    w, starts = recording_windows(values, spec)
    y = np.array([labels[s: s + spec.window].any() for s in starts], dtype=bool)
    return w, y


def _int8_on_windows(project: Any, xw: np.ndarray, yw: np.ndarray) -> dict[str, Any]:
    """The default full-int8 variant (its own threshold, as its bundle carries it) on the test series'
    continuous windows through LiteRT: AUROC and false alarms per good window, beside the float detector's."""
    from studio.core.anomaly.litert import run_detector
    from studio.core.anomaly.metrics import auroc
    from studio.core.optimize import OptimizeConfig, optimize

    v = optimize(project, OptimizeConfig(quantize="int8", measure_arena=False))
    a = v.data["anomaly"]
    lite = run_detector(Path(v.data["path"]).read_bytes(), xw).scores
    return {"threshold": float(a["threshold"]), "float_threshold": float(a["float_threshold"]),
            "continuous_windows_auroc": auroc(lite, yw),
            "continuous_windows_fa": float((lite[~yw] > a["threshold"]).mean()),
            "val_false_alarm_rate": (a.get("val") or {}).get("false_alarm_rate")}


def run_pair(name: str, folder: Path, facts: dict[str, Any], nolabel: bool, window: int | None = None,
             int8: bool = False) -> dict[str, Any]:
    from studio.core.anomaly.config import default_config
    from studio.core.anomaly.evaluate import evaluate_anomaly
    from studio.core.anomaly.metrics import auroc
    from studio.core.anomaly.runs import load_detector
    from studio.core.anomaly.scoring import score_arrays, sensor_split
    from studio.core.data import import_data
    from studio.core.data.sensor.recordings import parse_sensor_source
    from studio.core.project import Project

    work = Path(tempfile.mkdtemp(prefix="series-bench-"))
    try:
        project = Project.create(work / "P", "sensor-anomaly")
        if nolabel:
            import_data(project, folder / "train_nolabel.csv", window=window)
        else:
            import_data(project, folder / "train.csv", label_column="label", window=window)
        train_anomaly = __import__("studio.core.anomaly.train", fromlist=["train_anomaly"]).train_anomaly
        train_anomaly(project, default_config(project))
        ev = evaluate_anomaly(project, data_path=str(folder / "test.csv")).to_json()
        model, info = load_detector(project)
        spec = info.spec
        manifest = project.load_manifest()
        tr = sensor_split(project, manifest, "train", spec)[0]
        va = sensor_split(project, manifest, "val", spec)[0]
        xtr = np.concatenate([tr, va]).reshape(-1, spec.window * spec.channels)
        table = np.loadtxt(folder / "test.csv", delimiter=",", skiprows=1, dtype=str, ndmin=2)
        values = table[:, :-1].astype(np.float32)
        labels = table[:, -1] == "anomaly"
        xw, yw = continuous_windows(values, labels, spec)
        studio_w = score_arrays(model, xw, None)[0]
        base_w = _baselines(xtr, xw.reshape(len(xw), -1), None)
        # per labelled stretch, each cut on its own (Studio's evaluation before 2026-12-02's change)
        parsed = parse_sensor_source(folder / "test.csv", label_column="label", recording_column=None,
                                     channels=list(spec.channel_names))
        base_r = recording_baselines(xtr, parsed.recordings, spec)
        yr = [r.label != "normal" for r in parsed.recordings]
        out = {
            "name": name, "anomalies": facts["anomalies"],
            "studio": {"auroc": ev["auroc"], "unit": ev.get("unit"), "n": ev.get("n"),
                       "false_alarm_rate": ev.get("false_alarm_rate"), "detection_rate": ev.get("detection_rate"),
                       "threshold": ev.get("threshold"),
                       "windows_auroc": (ev.get("windows") or {}).get("auroc"),
                       "windows_false_alarm_rate": (ev.get("windows") or {}).get("false_alarm_rate"),
                       "continuous_windows_auroc": auroc(studio_w, yw),
                       "continuous_windows_fa": float((studio_w[~yw] > ev["threshold"]).mean()),
                       "events": ev.get("events")},
            "windows": {"n": int(len(yw)), "n_defect": int(yw.sum()),
                        **{b: auroc(s, yw) for b, s in base_w.items()}},
            "stretches": {"n": len(yr), "n_defect": int(sum(yr)), **base_r},
        }
        if int8:
            out["int8"] = _int8_on_windows(project, xw, yw)
        out["windows"]["best"] = max(out["windows"][b] for b in CLASSIC)
        out["stretches"]["best"] = max(out["stretches"][b] for b in CLASSIC)
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _f(v: Any) -> str:
    return "–" if v is None else f"{v:.3f}"


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| Series | anomalies (kind, windows long) | Studio `auroc` (unit) | Studio windows | IF | OC-SVM | PCA "
             "| best baseline, stretches | Studio FA per good window |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        s, w = r["studio"], r["windows"]
        an = ", ".join(f"{a['kind']} {a['windows']}" for a in r["anomalies"])
        lines.append(f"| {r['name']} | {an} | {_f(s['auroc'])} ({s['unit']}, {s['n']}) | "
                     f"{_f(s['continuous_windows_auroc'])} | {_f(w['iforest'])} | {_f(w['ocsvm'])} | {_f(w['pca'])} | "
                     f"{_f(r['stretches']['best'])} | {100 * s['continuous_windows_fa']:.1f} % |")
    return "\n".join(lines) + "\n"


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    st = np.array([r["studio"]["continuous_windows_auroc"] for r in rows], float)
    best = np.array([r["windows"]["best"] for r in rows], float)
    top = np.array([r["studio"]["auroc"] if r["studio"]["auroc"] is not None else np.nan for r in rows], float)
    return {"n": len(rows), "studio_windows_mean": float(np.nanmean(st)), "best_baseline_windows_mean":
            float(np.nanmean(best)), "studio_above_best_windows": int((st > best).sum()),
            "studio_top_auroc_mean": float(np.nanmean(top)),
            "studio_top_above_best_windows": int((top > best).sum()),
            "fa_per_good_window_mean": float(np.mean([r["studio"]["continuous_windows_fa"] for r in rows])),
            **_int8_summary([r for r in rows if "int8" in r])}


def _int8_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if not rows:
        return {}
    gap = [abs(r["int8"]["continuous_windows_auroc"] - r["studio"]["continuous_windows_auroc"]) for r in rows]
    return {"int8_n": len(rows), "int8_largest_auroc_gap": float(max(gap)),
            "int8_windows_mean": float(np.mean([r["int8"]["continuous_windows_auroc"] for r in rows])),
            "int8_fa_per_good_window_mean": float(np.mean([r["int8"]["continuous_windows_fa"] for r in rows]))}


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--sources", default=",".join(S.SOURCES))
    ap.add_argument("--nolabel", action="store_true")
    ap.add_argument("--window", type=int, help="import with this window (default: Studio's choice)")
    ap.add_argument("--int8", action="store_true", help="also the int8 variant through LiteRT")
    ap.add_argument("--out", default="-")
    a = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="series-data-"))
    rows = []
    try:
        for name, folder, facts in S.pairs(root, tuple(int(s) for s in a.seeds.split(",")),
                                           tuple(a.sources.split(","))):
            r = run_pair(name, folder, facts, a.nolabel, a.window, a.int8)
            rows.append(r)
            s = r["studio"]
            print(f"{name}: Studio auroc {_f(s['auroc'])} ({s['unit']}, n={s['n']}), windows "
                  f"{_f(s['continuous_windows_auroc'])} vs best {_f(r['windows']['best'])}; stretches best baseline "
                  f"{_f(r['stretches']['best'])}; "
                  f"FA/window {s['continuous_windows_fa']:.3f}"
                  + (f"; int8 windows {_f(r['int8']['continuous_windows_auroc'])}, FA/window "
                     f"{r['int8']['continuous_windows_fa']:.3f} (threshold {r['int8']['threshold']:.3g} vs float "
                     f"{r['int8']['float_threshold']:.3g})" if "int8" in r else ""), file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    payload = {"rows": rows, "summary": summary(rows)}
    text = json.dumps(payload, indent=1, default=float)
    (sys.stdout.write(text) if a.out == "-" else Path(a.out).write_text(text))
    print("\n" + markdown(rows) + json.dumps(payload["summary"], indent=1), file=sys.stderr)
