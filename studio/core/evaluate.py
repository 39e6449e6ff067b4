"""Evaluation: accuracy, per-class precision/recall/F1, confusion matrix and the misclassified samples.

Sensor runs are also scored per recording (:func:`recording_metrics`: the mean of the window probabilities
over each recording), which is the user's question; ``accuracy`` stays per window (per input).

The maths is :func:`studio.core.metrics.classification_metrics` (pure numpy, shared with the optimize step's
measurements of each variant). :func:`evaluate` feeds it a run's predictions on
a split of the project, or on any labelled folder / CSV with the project's classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.errors import ConfigError, DatasetError, ProjectError
from studio.core.metrics import classification_metrics
from studio.core.project import SPLITS
from studio.core.reporter import NullReporter, Reporter, check_cancel
from studio.core.verdict import prediction_rows, verdict_of

MAX_MISCLASSIFIED = 1000
PREDICT_BATCH = 64


@dataclass
class EvalResult:
    accuracy: float
    labels: list[str]
    confusion_matrix: list[list[int]]
    per_class: dict[str, dict[str, float]]
    n: int
    misclassified: list[dict[str, Any]]
    split: str | None
    source: str
    run: str
    macro_f1: float = 0.0
    balanced_accuracy: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "labels": self.labels,
            "confusion_matrix": self.confusion_matrix,
            "per_class": self.per_class,
            "n": self.n,
            "macro_f1": self.macro_f1,
            "balanced_accuracy": self.balanced_accuracy,
            "misclassified": self.misclassified,
            "n_misclassified": self.extra.get("n_misclassified", len(self.misclassified)),
            "split": self.split,
            "source": self.source,
            "run": self.run,
            **{k: v for k, v in self.extra.items() if k != "n_misclassified"},
        }


def default_split(manifest: dict[str, Any]) -> str:
    """"test" when the project has test data, else "val"."""
    counts = manifest.get("split_counts") or {}
    return "test" if sum((counts.get("test") or {}).values()) > 0 else "val"


def predict(model: Any, raw: np.ndarray, preprocess: Any = None, batch_size: int = PREDICT_BATCH,
            reporter: Reporter | None = None, progress: tuple[float, float] = (0.1, 1.0)) -> np.ndarray:
    """Softmax outputs of ``model`` on ``raw`` data, preprocessed batch by batch (uint8 images stay uint8 in
    memory), honouring cancel between batches."""
    out = []
    lo, hi = progress
    for start in range(0, len(raw), batch_size):
        check_cancel(reporter)
        x = raw[start : start + batch_size]
        if preprocess is not None:
            x = preprocess(x)
        out.append(np.asarray(model(x, training=False)))
        if reporter is not None:
            reporter.progress(lo + (hi - lo) * min(1.0, (start + batch_size) / len(raw)), "predicting")
    k = int(model.output_shape[-1])
    return np.concatenate(out) if out else np.zeros((0, k), dtype=np.float32)


def evaluate(project: Any, run_id: str | None = None, split: str | None = None, data_path: str | None = None,
             reporter: Reporter | None = None) -> EvalResult:
    """Evaluate a run (the active one by default) on a split or on an external labelled folder / CSV.

    Anomaly projects get the detector's figures instead (:mod:`studio.core.anomaly.evaluate`)."""
    from studio.core.pipeline import decode_images, load_split
    from studio.core.runs import load_run_model

    if project.is_anomaly:
        from studio.core.anomaly.evaluate import evaluate_anomaly

        return evaluate_anomaly(project, run_id, split, data_path, reporter)  # type: ignore[return-value]
    reporter = reporter or NullReporter()
    manifest = project.load_manifest()
    model, info = load_run_model(project, run_id)
    if list(manifest["classes"]) != info.classes:
        raise ProjectError(
            "the run was trained on different classes than the imported data",
            path=info.path,
            hint="train again after re-importing",
        )
    spec = info.spec
    reporter.status("Loading evaluation data")
    groups: np.ndarray | None = None
    rec_ids: list[str] | None = None
    if data_path is not None:
        from studio.core.data import read_labelled

        labelled = read_labelled(project, data_path) if spec.kind == "image" else None
        if labelled is not None:
            if not labelled:
                raise DatasetError("no usable images with the project's classes", path=data_path)
            paths = [str(p) for p, _ in labelled]
            y = np.asarray([int(c) for _, c in labelled], dtype=np.int64)
            raw = decode_images(paths, spec, reporter, (0.0, 0.1))
            ids = paths
            abs_paths = paths
        else:
            from studio.core.data.sensor.windows import read_labelled_recordings
            from studio.core.pipeline import sensor_split

            data = sensor_split(*read_labelled_recordings(manifest, data_path), spec)
            raw, y, ids, abs_paths = data.x, data.y, data.ids, None
            groups, rec_ids = data.groups, data.recording_ids
        split_name, source = None, str(data_path)
    else:
        split_name = split or default_split(manifest)
        if split_name not in SPLITS:
            raise ConfigError(f"unknown split {split_name!r}", hint="use train, val or test")
        data = load_split(project, split_name, spec, manifest, reporter, (0.0, 0.1))
        raw, y, ids = data.x, data.y, data.ids
        abs_paths = data.paths
        groups, rec_ids = data.groups, data.recording_ids
        source = split_name
        if len(y) == 0:
            raise ProjectError(
                f"the {split_name} split is empty", path=project.manifest_path,
                hint="evaluate on another split (--split) or on a labelled folder (--data)",
            )
    reporter.status(f"Evaluating {info.run_id} on {len(y)} samples")
    probs = predict(model, raw, spec.preprocess, reporter=reporter)
    check_cancel(reporter)
    pred = probs.argmax(axis=1)
    m = classification_metrics(y, pred, info.classes)
    wrong = np.nonzero(pred != y)[0]
    misclassified = [
        {
            "id": ids[i],
            **({"path": abs_paths[i]} if abs_paths else {}),
            "true": info.classes[int(y[i])],
            "predicted": info.classes[int(pred[i])],
            "confidence": round(float(probs[i, pred[i]]), 4),
        }
        for i in wrong[np.argsort(-probs[wrong, pred[wrong]])][:MAX_MISCLASSIFIED]
    ]
    extra: dict[str, Any] = {"n_misclassified": int(len(wrong)), "predictions": prediction_rows(y, probs)}
    if groups is not None and rec_ids is not None:
        extra.update(recording_metrics(probs, y, groups, rec_ids, info.classes))
        extra["input_policy"] = describe_spec(spec)
    seen = seen_in_training(info.path, split_name)
    if seen:
        extra["seen_in_training"] = seen
    elif split_name == "val" and (Path(info.path) / "selection.json").exists():
        extra["chosen_on"] = ("these validation recordings also took part in choosing the model (cross-validation), "
                              "so the figure can be a little optimistic")
    extra["verdict"] = verdict_of(dict(extra, labels=m["labels"], confusion_matrix=m["confusion_matrix"]),
                                  project.modality)
    reporter.progress(1.0, "evaluation finished")
    return EvalResult(
        accuracy=m["accuracy"],
        labels=m["labels"],
        confusion_matrix=m["confusion_matrix"],
        per_class=m["per_class"],
        n=m["n"],
        misclassified=misclassified,
        split=split_name,
        source=source,
        run=info.run_id,
        macro_f1=m["macro_f1"],
        balanced_accuracy=m["balanced_accuracy"],
        extra=extra,
    )


def seen_in_training(run_path: Any, split_name: str | None) -> str | None:
    """Why ``split_name`` is not new data for the run at ``run_path`` (None: it is). The training split always
    is seen; the validation split is too when a closed-form model was refitted on training + validation."""
    from studio.core.fsutil import read_json

    if split_name == "train":
        return "these are the examples the model was trained on"
    if split_name != "val":
        return None
    try:
        config = read_json(Path(run_path) / "config.json")
    except (OSError, ValueError):
        return None
    if isinstance(config, dict) and config.get("refit_on_train_and_val"):
        return ("once chosen, the model was refitted on the training and validation examples together, so it has "
                "seen these")
    return None


def describe_spec(spec: Any) -> str:
    from studio.core.data.sensor.shaping import describe

    return describe(spec.length_policy, spec.window, spec.stride, spec.norm)


def recording_metrics(probs: np.ndarray, y: np.ndarray, groups: np.ndarray, rec_ids: list[str],
                      labels: list[str]) -> dict[str, Any]:
    """Per-recording truth: the mean of the window probabilities over each recording, then its argmax.

    Returns the ``recording_*`` fields of the evaluation JSON (accuracy, count, confusion matrix, per class,
    misclassified recordings) and how many windows a recording had (``windows_per_recording``).
    """
    from studio.core.data.sensor.shaping import recording_labels, recording_means

    n = len(rec_ids)
    present = np.unique(groups)
    mean = recording_means(probs, groups, n)[present]
    truth = recording_labels(y, groups, n)[present]
    pred = mean.argmax(axis=1) if len(mean) else np.zeros(0, np.int64)
    m = classification_metrics(truth, pred, labels)
    counts = np.bincount(groups, minlength=n)[present]
    wrong = [
        {"id": rec_ids[int(r)], "true": labels[int(t)], "predicted": labels[int(p)],
         "confidence": round(float(mean[i, p]), 4), "windows": int(counts[i])}
        for i, (r, t, p) in enumerate(zip(present, truth, pred)) if t != p
    ]
    return {
        "recording_accuracy": m["accuracy"],
        "recordings": int(len(present)),
        "recording_confusion_matrix": m["confusion_matrix"],
        "recording_per_class": m["per_class"],
        "recording_macro_f1": m["macro_f1"],
        "recording_misclassified": wrong[:MAX_MISCLASSIFIED],
        "recording_predictions": prediction_rows(truth, mean),
        "windows_per_recording": {"min": int(counts.min()) if len(counts) else 0,
                                  "max": int(counts.max()) if len(counts) else 0,
                                  "mean": round(float(counts.mean()), 3) if len(counts) else 0.0},
    }
