"""Classic baselines for the sensor accuracy table: RBF SVM, random forest and MiniRocket (aeon).

Runs in a *separate* interpreter that has aeon and scikit-learn (aeon is never a dependency of the app):

    <baseline python> bench/classic_baselines.py TRAIN_DIR TEST_DIR

Reads the same class folders of CSV recordings Studio imports (numeric columns; a time column is ignored),
resamples every recording to the median training length (the length of all of them when they agree) and
prints one JSON line: accuracy per recording on TEST_DIR, seconds and CPU seconds of each fit + predict.
SVM and random forest see the flattened raw series (standardized for the SVM), as a ten-line scikit-learn
baseline would; MiniRocket gets the series ``[n, channels, length]`` (aeon's defaults, 10,000 features, ridge).
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

TIME_NAMES = {"time", "t", "time_s", "time_ms", "timestamp", "seconds", "ms", "s"}


def read_folder(root: Path) -> tuple[list[np.ndarray], list[str]]:
    xs, ys = [], []
    for cls in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for f in sorted(cls.glob("*.csv")):
            with open(f, newline="") as fh:
                rows = list(csv.reader(fh))
            header = [h.strip().lower() for h in rows[0]]
            keep = [i for i, h in enumerate(header) if h not in TIME_NAMES and h not in ("label", "class")]
            xs.append(np.asarray([[float(r[i]) for i in keep] for r in rows[1:] if r], dtype=np.float32))
            ys.append(cls.name)
    return xs, ys


def resample(xs: list[np.ndarray], length: int) -> np.ndarray:
    out = []
    for x in xs:
        src = np.linspace(0, len(x) - 1, length)
        out.append(np.stack([np.interp(src, np.arange(len(x)), x[:, c]) for c in range(x.shape[1])], 0))
    return np.stack(out).astype(np.float32)  # [n, channels, length]


def main(argv: list[str]) -> int:
    from aeon.classification.convolution_based import MiniRocketClassifier
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    xtr, ytr = read_folder(Path(argv[0]))
    xte, yte = read_folder(Path(argv[1]))
    lengths = [len(x) for x in xtr]
    length = lengths[0] if min(lengths) == max(lengths) else int(np.median(lengths))
    a, b = resample(xtr, length), resample(xte, length)
    ytr_a, yte_a = np.asarray(ytr), np.asarray(yte)
    out: dict = {"length": length, "n_train": len(xtr), "n_test": len(xte)}
    makers = {
        "svm": lambda: make_pipeline(StandardScaler(), SVC()),
        "rf": lambda: RandomForestClassifier(n_estimators=300, random_state=0, n_jobs=1),
        "minirocket": lambda: MiniRocketClassifier(random_state=0, n_jobs=1),
    }
    for name, make in makers.items():
        t0, c0 = time.perf_counter(), time.process_time()
        fa, fb = (a, b) if name == "minirocket" else (a.reshape(len(a), -1), b.reshape(len(b), -1))
        clf = make().fit(fa, ytr_a)
        out[name] = float((clf.predict(fb) == yte_a).mean())
        out[f"{name}_seconds"] = round(time.perf_counter() - t0, 2)
        out[f"{name}_cpu_seconds"] = round(time.process_time() - c0, 2)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
