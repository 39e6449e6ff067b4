"""Jobs of anomaly projects (``image-anomaly`` / ``sensor-anomaly``): the detector's choices, fitting it, moving
its threshold. Evaluate, Optimize and Export use the generic jobs (the core dispatches on ``project.is_anomaly``).
"""

from __future__ import annotations

from typing import Any

from studio.jobs import job

SETTINGS = ("detector", "input_size", "bank", "false_alarms", "seed")


def _overrides(request: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in dict(request.get("overrides") or {}).items() if k in SETTINGS and v is not None}


@job("anomaly_choices", "Reading the detector choices", lane="query")
def anomaly_choices(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """The Train page's choices for an anomaly project, without TensorFlow: ``defaults`` (from the data),
    ``config`` (defaults with ``request["overrides"]``, or None and ``config_error``), ``detectors`` (the ones
    that apply to the project's modality) and ``counts`` (good vs defect examples per split)."""
    from studio.core.anomaly.config import IMAGE_DETECTORS, default_config
    from studio.core.anomaly.data import good_and_defect_counts
    from studio.core.errors import StudioError

    out: dict[str, Any] = {"defaults": None, "config": None, "config_error": None,
                           "detectors": list(IMAGE_DETECTORS) if project.modality == "image" else ["window"]}
    try:
        out["defaults"] = default_config(project).to_json()
        out["counts"] = good_and_defect_counts(project.load_manifest())
    except StudioError as exc:
        out["config_error"] = str(exc)
    try:
        out["config"] = default_config(project, **_overrides(request)).to_json()
    except StudioError as exc:
        out["config_error"] = str(exc)
    return out


@job("anomaly_train", "Fitting the detector", writes=True)
def anomaly_train(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """``request["overrides"]``: any of detector, input_size, bank, false_alarms, seed (as ``studio train``)."""
    from studio.core.anomaly.config import default_config
    from studio.core.anomaly.train import train_anomaly

    config = default_config(project, **_overrides(request))
    reporter.status("Loading the good examples…")
    return train_anomaly(project, config, reporter).to_json()


@job("anomaly_threshold", "Setting the threshold", writes=True)
def anomaly_threshold(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """``request``: ``kind`` (false_alarms | detection | balanced | value), ``rate`` or ``value``, ``run``.
    Writes the run's calibration.json (no refit); returns the new calibration record."""
    from studio.core.anomaly.runs import move_threshold

    return move_threshold(project, request.get("run"), str(request.get("kind") or "value"), request.get("rate"),
                          request.get("value"))
