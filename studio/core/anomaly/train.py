"""The Train step of an anomaly project: fit a detector on the good training examples, calibrate its threshold.

Writes a run folder like a classifier's (``config.json``, ``model.json``, ``metrics.json``, ``weights.h5``) plus
``calibration.json``. Defect examples never reach the fit: they only shape the threshold (when the policy uses
them) and the figures. The run becomes the active run (it always finishes: there are no epochs to stop).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.errors import ProjectError
from studio.core.fsutil import atomic_write_json
from studio.core.reporter import NullReporter, Reporter, check_cancel

from . import detector as D
from .config import AnomalyConfig
from .fitting import FITTERS, HELD_OUT
from .metrics import ThresholdPolicy, score_histogram
from .runs import calibration_record, model_json, write_calibration
from .scoring import Scored, score_split

MAX_STORED_SCORES = 5000


@dataclass
class AnomalyTrainResult:
    run: str
    path: Path
    detector: str
    threshold: float
    val_auroc: float | None
    metrics: dict[str, Any]
    seconds: float
    config: AnomalyConfig
    basis: dict[str, Any] = field(default_factory=dict)  # evaluate.threshold_basis of the calibration

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "path": str(self.path),
            "arch": "anomaly-" + self.detector,
            "detector": self.detector,
            "threshold": self.threshold,
            "threshold_good_examples": self.basis.get("threshold_good_examples"),
            "threshold_unit": self.basis.get("threshold_unit"),  # what one good example is: image, recording, window
            "threshold_warning": self.basis.get("threshold_warning"),
            "val_auroc": self.val_auroc,
            "val": self.metrics,
            "epochs": [],
            "best_epoch": None,
            "best_val_accuracy": self.metrics.get("accuracy"),
            "stopped": False,
            "stop_reason": None,
            "seconds": round(self.seconds, 3),
            "config": self.config.to_json(),
        }


def _train_inputs(project: Any, manifest: dict[str, Any], spec: Any, reporter: Reporter,
                  recordings: dict | None) -> tuple[np.ndarray, list[str] | None]:
    """Model input of the good training examples (defects never are in the train split) and, for sensors,
    each window's recording."""
    from .scoring import decode, image_split, sensor_split

    normal = manifest["normal_class"]
    if spec.kind == "image":
        paths, labels, _ = image_split(project, manifest, "train")
        paths = [p for p, lab in zip(paths, labels) if lab == normal]
        return spec.preprocess(decode(paths, spec, reporter, (0.02, 0.25))), None
    x, labels, _, recs, _ = sensor_split(project, manifest, "train", spec, recordings)
    good = np.asarray([lab == normal for lab in labels], dtype=bool)
    return x[good], [r for r, g in zip(recs, good) if g]


def _detector_spec(config: AnomalyConfig, spec: Any, x: np.ndarray,
                   residual: bool = False) -> tuple[D.DetectorSpec, dict[str, Any]]:
    from .config import bank_for

    facts: dict[str, Any] = {}
    if spec.kind == "sensor":
        return D.window_spec(spec.window, spec.channels, bank_for(config, "window"), residual), facts
    kind = config.detector
    kind, facts["alignment_index"] = (D.choose_image_kind(x) if kind == "auto" else (kind, D.alignment_index(x)))
    facts["chosen"] = "automatically" if config.detector == "auto" else "by the user"
    if kind == "global":
        return D.global_spec(spec.size, spec.channels, bank_for(config, "global")), facts
    return D.patch_spec(spec.size, spec.channels), facts


MIN_VAL_DEFECTS = 5  # defect images in validation from which the image detector is chosen by measurement


def _pick_on_validation(project: Any, manifest: dict[str, Any], spec: Any, config: AnomalyConfig, x: np.ndarray,
                        facts: dict[str, Any], reporter: Reporter) -> tuple[Any, Any]:
    """With at least MIN_VAL_DEFECTS defect and as many good validation images, fit both image detectors and
    keep the one with the higher validation AUROC (the alignment index's pick on a tie); else None (the
    alignment index decides). ``facts`` records both AUROCs and how the detector was chosen. Also returns the
    validation images when it decoded them (:class:`.scoring.SplitImages`, for the threshold), else None."""
    from .config import bank_for
    from .metrics import auroc
    from .scoring import decode_split, image_split, score_arrays

    normal = manifest["normal_class"]
    y = np.array([lab != normal for lab in image_split(project, manifest, "val")[1]], dtype=bool)
    if y.sum() < MIN_VAL_DEFECTS or (~y).sum() < MIN_VAL_DEFECTS:
        return None, None
    val = decode_split(project, manifest, spec, "val", reporter, (0.25, 0.3))
    xv = spec.preprocess(val.raw)
    fitted: dict[str, tuple[D.DetectorSpec, Any, dict[str, Any], float]] = {}
    for k, kind in enumerate(("patch", "global")):
        reporter.status(f"Fitting the {kind} detector on {len(x)} good images (both are measured on the "
                        f"{int(y.sum())} defect images of validation)")
        ds = D.global_spec(spec.size, spec.channels, bank_for(config, "global")) if kind == "global" \
            else D.patch_spec(spec.size, spec.channels)
        model, info = FITTERS[kind](x, ds, seed=int(config.seed), reporter=reporter,
                                    progress=lambda f, k=k: reporter.progress(0.3 + 0.2 * (k + f), "fitting"))
        fitted[kind] = (ds, model, info, float(auroc(score_arrays(model, xv, None)[0], y) or 0.0))
    prior = "global" if facts["alignment_index"] >= D.ALIGNED_INDEX else "patch"
    other = "patch" if prior == "global" else "global"
    best = other if fitted[other][3] > fitted[prior][3] else prior
    facts["validation_auroc"] = {kind: round(v[3], 4) for kind, v in fitted.items()}
    facts["chosen"] = "automatically, by the validation defects"
    return fitted[best][:3], val


def train_anomaly(project: Any, config: AnomalyConfig, reporter: Reporter | None = None) -> AnomalyTrainResult:
    from studio.core.pipeline import spec_for_project
    from studio.core.runs import package_versions

    reporter = reporter or NullReporter()
    t0 = time.perf_counter()
    if not isinstance(config, AnomalyConfig):  # e.g. a classifier TrainConfig from a generic caller
        from .config import default_config

        config = default_config(project, input_size=getattr(config, "input_size", None), seed=getattr(config, "seed", None))
    manifest = project.load_manifest()
    config.validate(project.modality)
    if not manifest.get("normal_class"):
        raise ProjectError("the data was imported before this project was an anomaly project",
                           path=project.manifest_path, hint="import the data again")
    reporter.status("Loading the good training examples")
    spec = spec_for_project(project, manifest, config.input_size)
    recordings = None
    if spec.kind == "sensor":
        from studio.core.data.sensor import load_recordings

        recordings = load_recordings(project)
    x, groups = _train_inputs(project, manifest, spec, reporter, recordings)
    if len(x) < 2:
        raise ProjectError(f"only {len(x)} good training example(s): at least 2 are needed",
                           path=project.manifest_path, hint="import more good examples")
    check_cancel(reporter)
    val_windows = _val_windows(project, manifest, spec, recordings)
    dspec, facts = _detector_spec(config, spec, x, residual=val_windows is not None)
    picked, val_images = _pick_on_validation(project, manifest, spec, config, x, facts, reporter) \
        if config.detector == "auto" and spec.kind == "image" else (None, None)
    extra = {} if val_windows is None else {"holdout": val_windows[0][val_windows[3]]}  # typical residual
    if picked is not None:
        dspec, model, fit_info = picked
    else:
        reporter.status(f"Fitting the {dspec.kind} detector on {len(x)} good "
                        f"{'images' if spec.kind == 'image' else 'windows'}")
        model, fit_info = FITTERS[dspec.kind](x, dspec, seed=int(config.seed), reporter=reporter,
                                               progress=lambda f: reporter.progress(0.25 + 0.45 * f, "fitting"),
                                               **extra)
    held_out = fit_info.pop(HELD_OUT, None)
    spec0 = dspec
    fit_info.update(facts)
    if "bank" in fit_info:  # the bank actually kept (all examples, or a coreset)
        dspec = D.DetectorSpec(dspec.kind, dspec.input_shape, dict(dspec.params, bank=int(fit_info["bank"])))
    if val_windows is not None:
        model, dspec, fit_info["selection"] = _choose_scorer(model, dspec, val_windows, manifest, reporter)
    train_scores = _train_scores(model, x)
    if groups is not None:
        from .scoring import is_long_series

        long_series = is_long_series(manifest)
        held_out = _refit_held_out(x, groups, spec0, config, extra, fit_info.get("selection"), reporter,
                                   per_window=long_series, shifted=(recordings, spec) if long_series else None)
    del x
    reporter.status("Scoring the validation examples and choosing the threshold")
    val = score_split(project, model, spec, manifest["normal_class"], "val", reporter, (0.7, 0.95), recordings,
                      val_images)  # decoded once when the choice of detector decoded them
    policy = ThresholdPolicy("false_alarms", float(config.false_alarms))
    record = _calibrate(val, policy, manifest, held_out)
    check_cancel(reporter)

    run_id, run_path = project.new_run_dir()
    try:
        atomic_write_json(run_path / "config.json", {
            "config": config.to_json(), "seed": int(config.seed), "versions": package_versions(),
            "n_train": int(fit_info.get("n_train", len(train_scores))), "n_val": int(len(val.scores)),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        })
        model.save_weights(str(run_path / "weights.h5"))
        write_calibration(run_path, record)
        seconds = time.perf_counter() - t0
        metrics = _metrics_json(record, train_scores, seconds, dspec.kind)
        atomic_write_json(run_path / "metrics.json", metrics)
        classes = list(manifest["classes"])
        atomic_write_json(run_path / "model.json", model_json(dspec, spec, classes, manifest["normal_class"],
                                                               project.task, fit_info))
    except BaseException:
        shutil.rmtree(run_path, ignore_errors=True)
        raise
    project.update(active_run=run_id, settings={"train": config.to_json()})
    m = record["metrics"]
    reporter.progress(1.0, "detector fitted")
    from .evaluate import threshold_basis

    return AnomalyTrainResult(run_id, run_path, dspec.kind, record["threshold"], m.get("auroc"), m,
                              time.perf_counter() - t0, config, threshold_basis(record))


def _val_windows(project: Any, manifest: dict[str, Any], spec: Any,
                 recordings: dict | None) -> tuple[np.ndarray, list[str], list[str], np.ndarray] | None:
    """(windows, labels, recording ids, is-good mask) of a sensor project's validation split (None for images):
    its good windows set the shape residual's typical size, its defect recordings (if any) choose the scorer."""
    if spec.kind != "sensor":
        return None
    from .scoring import sensor_split

    x, labels, _, recs, _ = sensor_split(project, manifest, "val", spec, recordings)
    good = np.array([lab == manifest["normal_class"] for lab in labels], dtype=bool)
    return x, labels, recs, good


def _choose_scorer(model: Any, dspec: D.DetectorSpec, val_windows: tuple, manifest: dict[str, Any],
                   reporter: Reporter) -> tuple[Any, D.DetectorSpec, dict[str, Any]]:
    """Measure the candidate scorers on the validation recordings when there are defect ones (:mod:`.blend`);
    the graph drops the shape residual when the nearest window alone is chosen."""
    from .blend import apply_mix, choose_blend, default_record

    x, labels, recs, good = val_windows
    if good.all() or not len(x):
        return model, dspec, default_record(len(set(r for r, g in zip(recs, good) if g)))
    reporter.status("Choosing the scorer on the validation recordings")
    record = choose_blend(model, x, labels, recs, manifest["normal_class"], reporter)
    model, dspec = apply_mix(model, dspec, record["mix"])
    return model, dspec, record


def _train_scores(model: Any, x: np.ndarray) -> np.ndarray:
    from .scoring import score_arrays

    pick = np.random.default_rng(0).permutation(len(x))[:MAX_STORED_SCORES]
    return score_arrays(model, x[np.sort(pick)], None)[0]


# folds of whole good training recordings for their held-out scores: leave-one-recording-out up to 10 of them
# (the few-recordings projects, where the threshold needs them most), 10 refits at most on larger ones
HELD_OUT_FOLDS = 10
# one long series: each held-out window is also scored at SHIFTS - 1 phases after its start, stride/8 apart, and
# keeps the highest; with more than MAX_SHIFTED / SHIFTS training windows, fewer phases (MAX_SHIFTED in all)
SHIFTS = 8
MAX_SHIFTED = 40000


def phase_windows(signal: np.ndarray, spec: Any, shifts: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalized windows of one recording starting ``k * stride / shifts`` rows after each of
    :func:`.scoring.recording_windows`' starts (k = 1 .. shifts - 1, those that fit), and the index of the
    window each one follows: the phases between the stride's cut that a device, whose windows fall anywhere
    on the series, sees too."""
    from studio.core.data.sensor import normalize_windows

    from .scoring import window_starts

    sig = np.asarray(signal, np.float32).reshape(len(signal), -1)
    step = max(1, int(spec.stride) // max(1, shifts))
    pairs = [(i, s + k * step) for i, s in enumerate(window_starts(len(sig), spec.window, spec.stride))
             for k in range(1, shifts) if k * step < spec.stride and s + k * step + spec.window <= len(sig)]
    if not pairs:
        return np.empty((0, spec.window, sig.shape[1]), np.float32), np.zeros(0, int)
    w = np.stack([sig[s: s + spec.window] for _, s in pairs])
    return normalize_windows(w, spec.mean, spec.std), np.array([i for i, _ in pairs], int)


def _refit_held_out(x: np.ndarray, groups: list[str], dspec: D.DetectorSpec, config: AnomalyConfig,
                    extra: dict[str, Any], selection: dict[str, Any] | None, reporter: Reporter,
                    per_window: bool = False, shifted: tuple[dict, Any] | None = None) -> np.ndarray:
    """Held-out scores of the good training recordings: up to HELD_OUT_FOLDS folds of whole recordings, each
    scored by the detector fitted again (same spec, same scorer) on the other folds; one per recording (its
    highest window's), or ``per_window`` one per window (one long series: the window is the verdict's unit).

    ``shifted`` (the recordings' signals by id, the run's input spec; one long series): each held-out window's
    score is the highest of its own and those of the windows at the phases after it (:func:`phase_windows`),
    scored by the same refit: the threshold then holds at whatever phase the device's windows fall."""
    from .blend import apply_mix
    from .scoring import score_arrays

    recs = list(dict.fromkeys(groups))
    if len(recs) < 2:
        return np.zeros(0)
    folds = min(HELD_OUT_FOLDS, len(recs))
    fold_of = {r: i % folds for i, r in enumerate(np.random.default_rng(int(config.seed)).permutation(recs))}
    g = np.array([fold_of[r] for r in groups])
    out: dict[str, list[float]] = {}
    shifts = 1
    if shifted is not None:
        shifts = int(min(SHIFTS, max(1, MAX_SHIFTED // max(1, len(x)))))
    for k in range(folds):
        check_cancel(reporter)
        reporter.status(f"Scoring the good training recordings held out of a refit ({k + 1} of {folds})")
        model, _ = FITTERS[dspec.kind](x[g != k], dspec, seed=int(config.seed), **extra)
        if selection is not None and "mix" in selection and "residual" in dspec.params:
            model, _ = apply_mix(model, dspec, selection["mix"])
        held = np.flatnonzero(g == k)
        scores = score_arrays(model, x[held], None)[0]
        if shifts > 1:
            scores = _highest_phase(model, scores, [groups[i] for i in held], *shifted, shifts)
        for i, sc in zip(held, scores):
            out.setdefault(groups[i], []).append(float(sc))
    if per_window:
        return np.array([v for r in recs for v in out.get(r, [])])
    return _recording_scores({r: np.asarray(out[r]) for r in recs if r in out})  # in the recordings' order


def _highest_phase(model: Any, scores: np.ndarray, held_groups: list[str], signals: dict[str, np.ndarray],
                   spec: Any, shifts: int) -> np.ndarray:
    """``scores`` of the held-out windows (their recordings ``held_groups``, each recording's windows in a row,
    as :func:`.scoring.sensor_split` cuts them), each raised to the highest of its :func:`phase_windows`."""
    from .scoring import score_arrays

    parts, at = [], []
    for r in dict.fromkeys(held_groups):
        w, of = phase_windows(signals[r], spec, shifts)
        assert not len(of) or of.max() < held_groups.count(r), "the recording is cut as its windows in x were"
        parts.append(w)
        at.append(held_groups.index(r) + of)  # the window each phase follows, in ``scores``
    w = np.concatenate(parts)
    if not len(w):
        return scores
    best = np.asarray(scores, float).copy()
    np.maximum.at(best, np.concatenate(at), score_arrays(model, w, None)[0])
    return best


def _recording_scores(windows: dict[str, np.ndarray]) -> np.ndarray:
    """A recording's score is its highest window's (as :meth:`.scoring.Scored.units`)."""
    return np.array([float(np.max(w)) for w in windows.values() if len(w)])


def _calibrate(val: Scored, policy: ThresholdPolicy, manifest: dict[str, Any],
               held_out: np.ndarray | None = None) -> dict[str, Any]:
    """Threshold from the validation goods (per recording for sensors; per window for one long series) pooled
    with the good training examples' held-out scores (each scored by a detector that did not see it), when
    there are some."""
    units = val.units()
    labels = units["labels"]
    normal = manifest["normal_class"]
    scores = units["scores"]
    good = np.array([s for s, lab in zip(scores, labels) if lab == normal])
    bad = np.array([s for s, lab in zip(scores, labels) if lab != normal])
    types = [lab for lab in labels if lab != normal]
    if not len(good):
        raise ProjectError(
            "no good examples in the validation split to calibrate the threshold on",
            path=None, hint="import again with a validation split (--val-split 0.2) and at least 2 good examples",
        )
    extra: dict[str, Any] = {"n_val_good": int(len(good)), "n_val_defect": int(len(bad))}
    if val.recordings is not None:
        win_good = np.array([s for s, lab in zip(val.scores, val.labels) if lab == normal])
        extra["windows"] = {"good": [float(v) for v in win_good[:MAX_STORED_SCORES]]}
    return calibration_record(policy, good, bad, types, val.unit, extra, held_out)


def _metrics_json(record: dict[str, Any], train_scores: np.ndarray, seconds: float, kind: str) -> dict[str, Any]:
    val = record["val"]
    import os
    import socket

    return {
        "state": "finished",
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "epochs": [],
        "best_epoch": None,
        "best_val_accuracy": record["metrics"].get("accuracy"),
        "val_auroc": record["metrics"].get("auroc"),
        "threshold": record["threshold"],
        "monitor": "no epochs: the detector is fitted in one pass from the good training examples",
        "stopped": False,
        "stop_reason": None,
        "seconds": round(seconds, 3),
        "detector": kind,
        "scores": {
            "train_good": [float(v) for v in train_scores[:MAX_STORED_SCORES]],
            "held_out_good": (record.get("held_out") or {}).get("good", [])[:MAX_STORED_SCORES],
            "val_good": val["good"],
            "val_defect": val["defect"],
        },
        "threshold_good_examples": record.get("n_good"),
        "threshold_warning": record.get("warning"),
        "histogram": score_histogram(np.r_[train_scores, val["good"]], np.asarray(val["defect"], float)),
    }
