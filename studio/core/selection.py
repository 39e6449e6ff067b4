"""Choosing how a sensor model sees its data, by measurement: a short, budgeted search before training.

Candidates are input shapings (whole recording resampled or padded to one length, or windows of a length
taken from the data) x normalization (global per channel, or per recording). Each is scored with MiniRocket
(fixed features + a ridge head: seconds per candidate) by stratified cross-validation over the training *and*
validation recordings, grouped by recording, at the recording level (mean of the window scores). One split
of a tiny dataset (two recordings per class) is a coin toss; folds over all recordings are not. Then, when
every class has at least five recordings and budget is left, a small network (the 1-D CNN, fixed epochs) is
scored on the same folds; it replaces MiniRocket only by a clear margin. The winner is then trained on all
the recordings (MiniRocket refitted on train + val; see :mod:`studio.core.closed_form`).

Everything here works on arrays and plain data; :func:`select_sensor` reports progress and returns a JSON-able
dict that the run keeps (``selection.json``) and the GUI shows.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from studio.core.data.sensor.shaping import describe, dominant_period
from studio.core.reporter import NullReporter, Reporter, check_cancel

WHOLE_MAX = 4096  # recordings up to this many rows are classified whole
RESAMPLE_MIN = 16  # whole recordings are never resampled below this length
SEARCH_FEATURES = 2016  # MiniRocket features while searching (the final model uses the full count)
MAX_FOLDS = 5
BUDGET_SECONDS = 300.0  # CPU seconds for the whole search (leaves the rest of ~10 min for the final fit)
WINDOW_MIN, WINDOW_MAX = 32, 1024
DEEP_ARCH = "cnn1d"  # the network candidate (small, fast on CPU; the FCN / ResNet-1D / InceptionTime cards exist)
DEEP_EPOCHS = 30
DEEP_WINDOW = 128  # its window on recordings longer than DEEP_WHOLE_MAX rows
DEEP_WHOLE_MAX = 512


@dataclass(frozen=True)
class Shaping:
    length_policy: str
    window: int
    stride: int
    norm: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        return describe(self.length_policy, self.window, self.stride, self.norm)


def _pow2(n: float) -> int:
    return 1 << max(0, int(round(math.log2(max(1.0, n)))))


def window_candidates(lengths: Sequence[int], signals: Sequence[np.ndarray]) -> list[int]:
    """Windows for long recordings: about eight periods of the dominant frequency, and a quarter of the
    typical recording, as powers of two in [32, 1024] and no longer than the shortest typical recording."""
    typical = int(np.percentile(lengths, 10))
    out = []
    period = dominant_period(signals)
    if period:
        out.append(_pow2(8 * period))
    out.append(_pow2(typical / 4))
    cap = max(WINDOW_MIN, min(WINDOW_MAX, typical))
    return sorted({int(min(cap, max(WINDOW_MIN, w))) for w in out})


def shaping_candidates(lengths: Sequence[int], signals: Sequence[np.ndarray]) -> list[Shaping]:
    """Input shapings worth comparing for recordings of these lengths (most preferred first on ties)."""
    lengths = [int(n) for n in lengths]
    lo, hi, med = min(lengths), max(lengths), int(np.median(lengths))
    shapes: list[tuple[str, int, int]] = []
    if hi <= WHOLE_MAX:
        shapes.append(("resample", max(RESAMPLE_MIN, med) if hi > lo else max(lo, 1), 1))
        if hi > 1.05 * lo:
            shapes.append(("pad", hi, 1))
    if med >= 512 or hi > WHOLE_MAX:
        for w in window_candidates(lengths, signals):
            if w < lo or hi > WHOLE_MAX:
                shapes.append(("windows", w, max(1, w // 2)))
    out = []
    for policy, window, stride in shapes:
        for norm in ("global", "recording"):
            out.append(Shaping(policy, int(window), int(stride if policy == "windows" else window), norm))
    return out


def stratified_folds(labels: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """A fold number per recording, each class spread evenly over the folds."""
    rng = np.random.default_rng(seed)
    folds = np.zeros(len(labels), dtype=np.int64)
    offset = 0
    for c in np.unique(labels):
        idx = np.nonzero(labels == c)[0]
        rng.shuffle(idx)
        folds[idx] = (np.arange(len(idx)) + offset) % k
        offset += len(idx)
    return folds


def n_folds(labels: np.ndarray) -> int:
    counts = np.bincount(labels)
    counts = counts[counts > 0]
    return int(max(2, min(MAX_FOLDS, counts.min() if len(counts) else 2)))


def minirocket_cv(x: np.ndarray, groups: np.ndarray, rec_labels: np.ndarray, folds: np.ndarray, n_classes: int,
                  features: int = SEARCH_FEATURES, step: float | None = None, seed: int = 0) -> dict[str, Any]:
    """Cross-validated recording accuracy of MiniRocket on inputs ``x`` (``groups``: recording of each input)."""
    from studio.core import models
    from studio.core.models import minirocket
    from studio.core.models.ridge import fit_ridge
    from studio.core.tfenv import load_tf

    _, keras = load_tf()
    p = models.resolve_params("minirocket", features=features, **({"step": step} if step is not None else {}))
    model = models.build_model("minirocket", x.shape[1:], n_classes, **p)
    minirocket.fit_biases(model, x, float(p["step"]), seed)
    feats = minirocket.transform(model, x)
    del model
    keras.backend.clear_session()
    y = rec_labels[groups]
    per_fold = []
    for f in np.unique(folds):
        held = folds[groups] == f
        fit = fit_ridge(feats[~held], y[~held], n_classes, seed=seed, min_scale=minirocket.MIN_SCALE)
        scores = fit.scores(feats[held]) * fit.temperature
        probs = np.exp(scores - scores.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        per_fold.append(_fold_correct(probs, groups[held], rec_labels))
    correct = sum(per_fold)
    return {"score": correct / len(rec_labels), "correct": correct, "recordings": int(len(rec_labels)),
            "inputs": int(len(x)), "features": int(feats.shape[1]), "per_fold": per_fold}


def _fold_correct(probs: np.ndarray, groups: np.ndarray, rec_labels: np.ndarray) -> int:
    """Recordings of one held-out fold classified right by the mean of their inputs' probabilities."""
    return sum(int(probs[groups == r].mean(0).argmax() == rec_labels[r]) for r in np.unique(groups))


def deep_cv(arch: str, x: np.ndarray, groups: np.ndarray, rec_labels: np.ndarray, folds: np.ndarray,
            n_classes: int, budget_s: float, epochs: int = DEEP_EPOCHS, seed: int = 0) -> dict[str, Any]:
    """The same folds for a network trained by gradient descent (fixed epochs, Adam); stops starting folds
    once ``budget_s`` CPU seconds are spent, so the comparison is made on the folds it finished."""
    from studio.core import models
    from studio.core.tfenv import load_tf

    _, keras = load_tf()
    c0 = time.process_time()
    y = rec_labels[groups]
    per_fold: list[int] = []
    for f in np.unique(folds):
        if per_fold and time.process_time() - c0 > budget_s:
            break
        held = folds[groups] == f
        keras.utils.set_random_seed(seed + int(f))
        model = models.build_model(arch, x.shape[1:], n_classes)
        model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
        model.fit(x[~held], y[~held], batch_size=32, epochs=epochs, verbose=0, shuffle=True)
        probs = np.asarray(model.predict(x[held], batch_size=256, verbose=0))
        per_fold.append(_fold_correct(probs, groups[held], rec_labels))
        del model
        keras.backend.clear_session()
    done = np.isin(folds, np.unique(folds)[:len(per_fold)])
    return {"score": sum(per_fold) / max(1, int(done.sum())), "correct": sum(per_fold), "recordings": int(done.sum()),
            "inputs": int(len(x)), "per_fold": per_fold, "folds_done": len(per_fold)}


def select_sensor(signals: list[np.ndarray], rec_labels: np.ndarray, n_classes: int, mean: Sequence[float],
                  std: Sequence[float], reporter: Reporter | None = None, budget_s: float = BUDGET_SECONDS,
                  seed: int = 0, fixed_window: tuple[int, int] | None = None) -> dict[str, Any]:
    """Score every shaping candidate with MiniRocket by grouped cross-validation; return the winner and why.

    ``signals``/``rec_labels``: the training and validation recordings. The search stops starting new
    candidates once ``budget_s`` CPU seconds are spent (the ones left are listed as skipped).
    ``fixed_window`` (window, stride) limits the search to those windows (a window the user gave at import).
    """
    reporter = reporter or NullReporter()
    rec_labels = np.asarray(rec_labels, dtype=np.int64)
    k = n_folds(rec_labels)
    folds = stratified_folds(rec_labels, k, seed)
    if fixed_window:
        cands = [Shaping("windows", fixed_window[0], fixed_window[1], n) for n in ("global", "recording")]
    else:
        cands = shaping_candidates([len(s) for s in signals], signals)
    c0 = time.process_time()
    data = (signals, rec_labels, folds, n_classes, mean, std, seed)
    rows = _minirocket_stage(cands, data, reporter, budget_s, k)
    scored = [r for r in rows if r["status"] == "scored"]
    best = max(scored, key=lambda r: r["score"])  # first on ties: candidates come in order of preference
    others = sorted((r for r in scored if r is not best), key=lambda r: -r["score"])
    why = (f"MiniRocket on {best['what']} classified {best['correct']} of {best['recordings']} recordings "
           f"correctly in {k}-fold cross-validation ({best['score']:.1%})")
    if others and others[0]["score"] >= best["score"]:
        why += (f"; tied with {others[0]['what']}, and ahead of it in the order of preference (whole before "
                "windows, resampled before padded, training statistics before per-recording)")
    elif others:
        why += f"; the next best, {others[0]['what']}, {others[0]['score']:.1%}"
    winner = {"arch": "minirocket", "shaping": best["shaping"], "score": best["score"]}
    deep = _deep_stage(best, data, reporter, budget_s - (time.process_time() - c0), k, fixed_window)
    if deep is not None:
        rows.append(deep)
        if deep.get("wins"):
            winner = {"arch": deep["arch"], "shaping": deep["shaping"], "score": deep["score"]}
            why = deep["why"]
        else:
            why += f"; {deep['why']}"
    reporter.status(f"Chose: {why}")
    return {
        "format": 1,
        "method": f"{k}-fold cross-validation over training + validation recordings, grouped by recording, "
                  "scored per recording",
        "folds": k,
        "candidates": rows,
        "winner": winner,
        "why": why,
        "cpu_seconds": round(time.process_time() - c0, 2),
    }


def _minirocket_stage(cands: list[Shaping], data: tuple, reporter: Reporter, budget_s: float,
                      k: int) -> list[dict[str, Any]]:
    from studio.core.data.sensor.shaping import normalize, shape_all

    signals, rec_labels, folds, n_classes, mean, std, seed = data
    rows: list[dict[str, Any]] = []
    c0 = time.process_time()
    for i, shp in enumerate(cands):
        check_cancel(reporter)
        row: dict[str, Any] = {"arch": "minirocket", "shaping": shp.to_json(), "what": shp.describe()}
        if time.process_time() - c0 > budget_s and rows:
            row.update(status="skipped", reason=f"search budget of {budget_s:.0f} CPU s spent")
            rows.append(row)
            continue
        reporter.status(f"Candidate {i + 1}/{len(cands)}: MiniRocket on {shp.describe()}")
        reporter.progress(0.6 * i / len(cands), f"candidate {i + 1}/{len(cands)}")
        t0, p0 = time.perf_counter(), time.process_time()
        x, groups = shape_all(signals, shp.window, shp.stride, shp.length_policy)
        res = minirocket_cv(normalize(x, shp.norm, mean, std), groups, rec_labels, folds, n_classes, seed=seed)
        row.update(status="scored", **res, seconds=round(time.perf_counter() - t0, 2),
                   cpu_seconds=round(time.process_time() - p0, 2))
        rows.append(row)
        reporter.status(f"  {res['correct']}/{res['recordings']} recordings right in {k}-fold cross-validation "
                        f"({res['score']:.1%}, {row['cpu_seconds']:.0f} CPU s)")
        reporter.metrics("candidate", dict(row))
    return rows


def _deep_stage(best: dict[str, Any], data: tuple, reporter: Reporter, budget_s: float, k: int,
                fixed_window: tuple[int, int] | None) -> dict[str, Any] | None:
    """The network candidate on the same folds, when every class has >= MAX_FOLDS recordings (below that a
    network has too little to learn from) and budget is left. It wins only by a clear margin: at least one
    recording and 2 % more than MiniRocket on the folds it finished."""
    from studio.core.data.sensor.shaping import normalize, shape_all

    signals, rec_labels, folds, n_classes, mean, std, seed = data
    if k < MAX_FOLDS or budget_s <= 0:
        return None
    lengths = [len(sg) for sg in signals]
    if fixed_window:
        shp = Shaping("windows", fixed_window[0], fixed_window[1], "global")
    elif max(lengths) <= DEEP_WHOLE_MAX:
        shp = Shaping(**{**best["shaping"], "norm": "global"}) if best["shaping"]["length_policy"] != "windows" \
            else Shaping("resample", max(RESAMPLE_MIN, int(np.median(lengths))), 1, "global")
    else:
        shp = Shaping("windows", DEEP_WINDOW, DEEP_WINDOW // 2, "global")
    title = models_title(DEEP_ARCH)
    reporter.status(f"Candidate: {title} (trained {DEEP_EPOCHS} epochs per fold) on {shp.describe()}")
    t0, p0 = time.perf_counter(), time.process_time()
    x, groups = shape_all(signals, shp.window, shp.stride, shp.length_policy)
    res = deep_cv(DEEP_ARCH, normalize(x, shp.norm, mean, std), groups, rec_labels, folds, n_classes, budget_s,
                  seed=seed)
    done = res["folds_done"]
    ref = sum(best["per_fold"][:done])
    wins = res["correct"] >= ref + max(1, int(np.ceil(0.02 * res["recordings"])))
    row = {"arch": DEEP_ARCH, "shaping": shp.to_json(), "what": shp.describe(), "status": "scored", **res,
           "minirocket_correct_same_folds": ref, "wins": bool(wins), "seconds": round(time.perf_counter() - t0, 2),
           "cpu_seconds": round(time.process_time() - p0, 2)}
    folds_text = f"{done} of {k} folds" if done < k else f"{k}-fold cross-validation"
    if wins:
        row["why"] = (f"{title} on {shp.describe()} classified {res['correct']} of {res['recordings']} recordings "
                      f"correctly in {folds_text}, MiniRocket ({best['what']}) {ref}")
    else:
        row["why"] = (f"{title} on {shp.describe()} got {res['correct']} of {res['recordings']} in {folds_text} "
                      f"(MiniRocket {ref}): not clearly better")
    reporter.status(f"  {res['correct']}/{res['recordings']} recordings right ({res['score']:.1%}, "
                    f"{row['cpu_seconds']:.0f} CPU s)")
    reporter.metrics("candidate", dict(row))
    return row


def models_title(arch: str) -> str:
    from studio.core.models import REGISTRY

    return REGISTRY[arch].title
