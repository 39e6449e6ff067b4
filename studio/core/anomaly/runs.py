"""An anomaly run's files and how a detector comes back from them.

``runs/<id>/`` holds, like a classifier run, ``config.json``, ``model.json``, ``metrics.json`` and
``weights.h5`` (every fitted constant, HDF5 weights only: nothing executable is ever loaded from a project),
plus ``calibration.json``: the threshold, the policy that chose it and the validation scores it was chosen on,
so the threshold can be moved later (``studio threshold``, the Evaluate page) without fitting again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.errors import ProjectError
from studio.core.formats import FORMATS, read_versioned
from studio.core.fsutil import atomic_write_json, read_json

from .detector import DetectorSpec, build_detector
from .metrics import ThresholdPolicy, anomaly_metrics, choose_threshold

MODEL_FORMAT = FORMATS["model"].current
CALIBRATION_FORMAT = 1
CALIBRATION_FILE = "calibration.json"
ARCH_PREFIX = "anomaly-"


def is_anomaly_arch(arch: str | None) -> bool:
    return str(arch or "").startswith(ARCH_PREFIX)


@dataclass
class AnomalyRunInfo:
    run_id: str
    path: Path
    detector: DetectorSpec
    spec: Any  # pipeline.InputSpec
    classes: list[str]
    normal_class: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def arch(self) -> str:
        return ARCH_PREFIX + self.detector.kind

    @property
    def weights_path(self) -> Path:
        return self.path / "weights.h5"


def model_json(detector: DetectorSpec, spec: Any, classes: list[str], normal: str, task: str,
               fit: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": MODEL_FORMAT,
        "task": task,
        "arch": ARCH_PREFIX + detector.kind,
        "params": dict(detector.params),
        "detector": detector.to_json(),
        "input_shape": list(detector.input_shape),
        "input_spec": spec.to_json(),
        "classes": list(classes),
        "normal_class": normal,
        "outputs": detector.outputs,
        "output": (
            "score [1, 1]: anomaly score, higher = less like the good examples (flagged when > threshold)"
            + ("; map [1, g, g, 1]: the same per image region" if detector.kind != "window" else
               "; one window, a recording's score is its highest window score")
        ),
        "fit": fit,
    }


def read_anomaly_run(project: Any, run_id: str | None = None) -> AnomalyRunInfo:
    """model.json of an anomaly run, checked (kind, shapes, spec) before anything is built from it."""
    from studio.core.pipeline import InputSpec
    from studio.core.untrusted import check_input_shape_bounds, check_spec_fields

    path = project.run_dir(run_id)
    file = path / "model.json"
    try:
        d = read_versioned("model", file)
        if not is_anomaly_arch(d.get("arch")):
            raise ProjectError("this run is a classifier, not an anomaly detector", path=file,
                               hint="train again in this anomaly project")
        info = AnomalyRunInfo(
            run_id=path.name,
            path=path,
            detector=DetectorSpec.from_json(d["detector"]),
            spec=InputSpec.from_json(d["input_spec"]),
            classes=[str(c) for c in d["classes"]],
            normal_class=str(d["normal_class"]),
            extra={k: v for k, v in d.items() if k in ("fit", "task", "outputs")},
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ProjectError(f"model.json is unreadable or incomplete ({exc})", path=file) from exc
    check_spec_fields(info.spec, file)
    shape = check_input_shape_bounds(info.detector.input_shape, info.spec.kind, file)
    if tuple(shape) != tuple(info.spec.shape):
        raise ProjectError(f"model.json's detector input {list(shape)} disagrees with its input spec "
                           f"{list(info.spec.shape)}", path=file, hint="train again")
    _check_params(info.detector, file)
    return info


def _check_params(spec: DetectorSpec, file: Path) -> None:
    """Bounded integers only: a project from elsewhere must not make Studio build an absurd graph."""
    for key, value in spec.params.items():
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not -1e6 <= float(v) <= 1e6:
                raise ProjectError(f"model.json's detector parameter {key!r} is out of range", path=file)
    if int(spec.params.get("bank", 1)) > 65536:
        raise ProjectError("model.json's memory bank is too large", path=file)
    if spec.kind == "window" and spec.params.get("residual"):
        from .detector import MAX_RESIDUAL_DIMS

        window, channels = spec.input_shape
        if (window // max(1, int(spec.params.get("pool", 1)))) * channels > MAX_RESIDUAL_DIMS:
            raise ProjectError("model.json's shape residual is too large", path=file)


def load_detector(project: Any, run_id: str | None = None) -> tuple[Any, AnomalyRunInfo]:
    """Rebuild a run's detector from its spec and load its constants (HDF5 weights only)."""
    from studio.core.untrusted import load_checked_weights

    info = read_anomaly_run(project, run_id)
    model = build_detector(info.detector)
    load_checked_weights(model, info.weights_path, "the detector's constants do not fit its graph")
    return model, info


# ---------------------------------------------------------------------------------------------- calibration
FEW_GOOD = 20  # below this many good examples under the threshold, the user is told its false-alarm rate is loose


def few_good_warning(n_good: int, unit: str) -> str | None:
    """The plain-words warning when the threshold rests on fewer than FEW_GOOD good examples, else None."""
    if n_good >= FEW_GOOD:
        return None
    what = unit if unit in ("recording", "window") else "example"
    return (f"The threshold rests on {n_good} good {what}{'' if n_good == 1 else 's'}; add more good examples "
            "for a dependable false-alarm rate.")


def calibration_record(policy: ThresholdPolicy, good: np.ndarray, defect: np.ndarray, defect_types: list[str],
                       unit: str, extra: dict[str, Any] | None = None,
                       held_out: np.ndarray | None = None) -> dict[str, Any]:
    """calibration.json: the threshold ``policy`` gives on the validation scores pooled with ``held_out`` (the
    good training examples' scores, each from a detector that did not see it), and the figures on validation."""
    held = np.asarray(held_out if held_out is not None else [], float).ravel()
    threshold = choose_threshold(policy, np.r_[np.asarray(good, float).ravel(), held], defect)
    scores = np.concatenate([np.asarray(good, float), np.asarray(defect, float)])
    is_defect = np.r_[np.zeros(len(good), bool), np.ones(len(defect), bool)]
    types = [None] * len(good) + list(defect_types)
    n_good = int(len(good) + len(held))
    return {
        **(extra or {}),
        "format": CALIBRATION_FORMAT,
        "policy": policy.to_json(),
        "policy_text": policy.describe(),
        "threshold": float(threshold),
        "unit": unit,  # "image" | "recording" | "window" (one long series): what one validation score stands for
        "val": {"good": [float(v) for v in good], "defect": [float(v) for v in defect],
                "defect_types": list(defect_types)},
        "held_out": {"good": [float(v) for v in held]},
        "n_good": n_good,  # the good examples the threshold rests on: validation + held-out training
        "n_held_out_good": int(len(held)),
        "warning": few_good_warning(n_good, unit),
        "metrics": anomaly_metrics(scores, is_defect, threshold, types),
    }


def write_calibration(run_path: Path, record: dict[str, Any]) -> None:
    atomic_write_json(Path(run_path) / CALIBRATION_FILE, record)


def read_calibration(run_path: Path) -> dict[str, Any]:
    file = Path(run_path) / CALIBRATION_FILE
    try:
        data = read_json(file)
        float(data["threshold"])
        return data
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ProjectError(f"the run's calibration is missing or damaged ({exc})", path=file,
                           hint="train again") from exc


def recalibrate(run_path: Path, policy: ThresholdPolicy) -> dict[str, Any]:
    """Choose a new threshold from the stored validation scores and write it (the detector is untouched)."""
    old = read_calibration(run_path)
    val = old.get("val") or {}
    keep = {k: v for k, v in old.items() if k not in ("policy", "policy_text", "threshold", "val", "metrics", "format",
                                                      "unit", "held_out", "n_good", "n_held_out_good", "warning")}
    record = calibration_record(policy, np.asarray(val.get("good", []), float), np.asarray(val.get("defect", []), float),
                                list(val.get("defect_types", [])), old.get("unit", "image"), keep,
                                np.asarray((old.get("held_out") or {}).get("good", []), float))
    write_calibration(run_path, record)
    return record


def move_threshold(project: Any, run_id: str | None, kind: str, rate: float | None = None,
                   value: float | None = None) -> dict[str, Any]:
    """Set an anomaly run's threshold by a policy (``studio threshold``, the Evaluate page's drag): a false-alarm
    budget, a detection target, balanced, or a value. Returns the new calibration record."""
    info = read_anomaly_run(project, run_id)
    policy = ThresholdPolicy(kind, rate if kind in ("false_alarms", "detection") else None,
                             value if kind == "value" else None).validated()
    return recalibrate(info.path, policy)
