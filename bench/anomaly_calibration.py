"""Does the threshold keep its promise on new data? The default false-alarm budget (1 %) measured on test.

For every one-class split of :mod:`bench.anomaly_bench` (the 30 sensor splits; digits and the inspection sample
with ``--only images``) Studio is run with its defaults once (``import``, ``train``, ``evaluate --data TEST``)
and the *same* fitted run is judged at two thresholds (paired, no refit):

* ``val only`` — the policy on the validation good examples alone (Studio before 2026-12-02's change);
* ``pooled`` — the run's calibrated threshold: the validation goods pooled with the good training examples'
  held-out scores (calibration.json ``held_out``), as Studio now chooses it.

Per split: how many good examples each threshold rests on, and the realized test false-alarm and detection
rates at each; AUROC (the same detector at both). Scores are kept in the JSON (``--out``) so another rule can
be judged from them without fitting again.

    python -m bench.anomaly_calibration [--only sensors,images] [--quick] [--out FILE]
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np


def judge(project_dir: Path, test: Path) -> dict[str, Any]:
    """Both thresholds of the active run, and the test figures at each (one evaluation, scores reused)."""
    from studio.core.anomaly.evaluate import evaluate_anomaly
    from studio.core.anomaly.metrics import ThresholdPolicy, anomaly_metrics, choose_threshold
    from studio.core.anomaly.runs import read_anomaly_run, read_calibration
    from studio.core.project import Project

    project = Project.open(project_dir)
    cal = read_calibration(read_anomaly_run(project).path)
    policy = ThresholdPolicy.from_json(cal.get("policy"))
    val_good = np.asarray(cal["val"]["good"], float)
    held = np.asarray((cal.get("held_out") or {}).get("good", []), float)
    ev = evaluate_anomaly(project, data_path=str(test)).to_json()
    good, bad = np.asarray(ev["scores"]["good"], float), np.asarray(ev["scores"]["defect"], float)
    scores, is_defect = np.r_[good, bad], np.r_[np.zeros(len(good), bool), np.ones(len(bad), bool)]
    out: dict[str, Any] = {"auroc": ev["auroc"], "n_test_good": int(len(good)), "n_test_defect": int(len(bad)),
                           "unit": ev["unit"], "val_good": val_good.tolist(), "held_out": held.tolist(),
                           "test_good": good.tolist(), "test_defect": bad.tolist(), "rests_on": cal.get("n_good")}
    for name, t, n in (("val_only", choose_threshold(policy, val_good), len(val_good)),
                       ("pooled", float(cal["threshold"]), len(val_good) + len(held))):
        m = anomaly_metrics(scores, is_defect, t)
        out[name] = {"threshold": t, "n_good": int(n), "false_alarm_rate": m["false_alarm_rate"],
                     "detection_rate": m["detection_rate"]}
    return out


def run_one(name: str, train: Path, test: Path, task: str, log: Callable[[str], None]) -> dict[str, Any]:
    from studio.core.anomaly.config import default_config
    from studio.core.anomaly.train import train_anomaly
    from studio.core.data import import_data
    from studio.core.project import Project

    work = Path(tempfile.mkdtemp(prefix="calib-bench-"))
    try:
        project = Project.create(work / "P", task)
        import_data(project, train)
        train_anomaly(project, default_config(project))
        r = {"name": name, **judge(work / "P", test)}
        v, p = r["val_only"], r["pooled"]
        log(f"    {name}: AUROC {r['auroc']:.3f}; val only {v['n_good']} goods FA {v['false_alarm_rate']:.3f} "
            f"det {_f(v['detection_rate'])}; pooled {p['n_good']} goods FA {p['false_alarm_rate']:.3f} "
            f"det {_f(p['detection_rate'])}")
        return r
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _f(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"


def sensor_splits(quick: bool) -> Iterator[tuple[str, Path, Path]]:
    from bench import anomaly_data as A
    from studio.resources import samples_root

    for name in (("GunPoint", "ArrowHead") if quick else A.SENSOR_SETS):
        for normal, train, test in A.sensor_oneclass(name):
            yield f"{name} class {normal}", train, test
    for normal, train, test in A.vibration_oneclass(samples_root() / "vibration" / "data"):
        yield f"vibration {normal}", train, test


def image_splits(quick: bool) -> Iterator[tuple[str, Path, Path]]:
    from bench import anomaly_data as A
    from studio.resources import samples_root

    for d in ((0,) if quick else (0, 4, 8)):
        root = Path(tempfile.mkdtemp(prefix=f"calib-dig-{d}-"))
        train, test = A.write_digits_oneclass(root, d, "28", copies=4)
        yield f"digits28 {d}", train, test
        shutil.rmtree(root, ignore_errors=True)
    root = Path(tempfile.mkdtemp(prefix="calib-insp-"))
    train, test = A.write_inspection(root, samples_root() / "inspection" / "data")
    yield "inspection sample", train, test
    shutil.rmtree(root, ignore_errors=True)


def summary(rows: list[dict[str, Any]], target: float = 0.01) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(rows), "target": target}
    for name in ("val_only", "pooled"):
        fa = np.array([r[name]["false_alarm_rate"] for r in rows])
        det = np.array([r[name]["detection_rate"] for r in rows if r[name]["detection_rate"] is not None])
        out[name] = {"fa_median": float(np.median(fa)), "fa_worst": float(fa.max()), "fa_mean": float(fa.mean()),
                     "det_median": float(np.median(det)), "det_mean": float(det.mean()),
                     "n_good_median": float(np.median([r[name]["n_good"] for r in rows]))}
    return out


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| Split | AUROC | goods (val only → pooled) | test FA val only | test FA pooled | detection val only "
             "| detection pooled |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        v, p = r["val_only"], r["pooled"]
        lines.append(f"| {r['name']} | {r['auroc']:.3f} | {v['n_good']} → {p['n_good']} | "
                     f"{100 * v['false_alarm_rate']:.1f} % | {100 * p['false_alarm_rate']:.1f} % | "
                     f"{100 * (v['detection_rate'] or 0):.1f} % | {100 * (p['detection_rate'] or 0):.1f} % |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="sensors,images")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default="-")
    a = ap.parse_args()
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    groups = {"sensors": (sensor_splits, "sensor-anomaly"), "images": (image_splits, "image-anomaly")}
    results: dict[str, list[dict[str, Any]]] = {}
    for group in a.only.split(","):
        make, task = groups[group]
        results[group] = []
        for name, train, test in make(a.quick):
            results[group].append(run_one(name, train, test, task, log))
            if task == "sensor-anomaly":
                shutil.rmtree(train.parent, ignore_errors=True)
    payload = {"results": results, "summary": {g: summary(rs) for g, rs in results.items() if rs}}
    text = json.dumps(payload, indent=1)
    (sys.stdout.write(text) if a.out == "-" else Path(a.out).write_text(text))
    for g, rs in results.items():
        log(f"\n{g}\n" + markdown(rs) + json.dumps(payload["summary"].get(g), indent=1))
