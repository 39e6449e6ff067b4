"""Model page jobs: the architectures and defaults for a project (instant), and their size estimates."""

from __future__ import annotations

from typing import Any

from studio.jobs import job


@job("train_choices", "Reading the model choices", lane="query")
def train_choices(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """What the Model and Train pages offer for this project, without TensorFlow.

    ``request["overrides"]``: the saved training choices. Returns ``archs`` (the registry entries of the
    project's modality), ``defaults`` (the core's defaults for this data, as ``studio train`` would use them),
    ``config`` (defaults with the overrides, or None and ``config_error`` when the core rejects them), and
    ``imagenet`` (width → whether ImageNet weights are on this machine); sensor projects add ``sensor_input``
    (:func:`studio.core.closed_form.describe_input`: how the chosen model would read the recordings).
    """
    from studio.core.errors import StudioError
    from studio.core.models import REGISTRY
    from studio.core.train import default_config
    from studio.core.weights import imagenet_available

    archs = [spec.to_json() for spec in REGISTRY.values() if spec.task == project.modality]
    out: dict[str, Any] = {"archs": archs, "defaults": None, "config": None, "config_error": None}
    try:
        out["defaults"] = default_config(project).to_json()
    except StudioError as exc:
        out["config_error"] = str(exc)
    overrides = {k: v for k, v in dict(request.get("overrides") or {}).items() if v is not None}
    try:
        out["config"] = default_config(project, **overrides).to_json()
    except StudioError as exc:
        out["config_error"] = str(exc)
    if project.modality == "sensor" and out["config"] is not None:
        from studio.core.closed_form import describe_input
        from studio.core.train_config import TrainConfig

        out["sensor_input"] = describe_input(project.load_manifest(), TrainConfig.from_json(out["config"]))
    widths = sorted({float(w) for a in archs if "imagenet" in a["pretrained"] for w in a["allowed"].get("width", [])})
    out["imagenet"] = {str(w): bool(imagenet_available(w, 96)) for w in widths}
    return out


@job("estimate", "Estimating the model sizes")
def estimate(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """``request["items"]``: ``[arch, input_shape, n_classes, params]`` each; returns arch → estimate (or
    ``{"error"}`` for that card only)."""
    from studio.core.models import estimate as core_estimate

    items = list(request.get("items") or [])
    out: dict[str, Any] = {}
    for i, (arch, shape, n, params) in enumerate(items):
        reporter.progress(i / max(1, len(items)), f"Estimating {arch}")
        try:
            out[arch] = core_estimate(arch, tuple(shape), int(n), **dict(params or {})).to_json()
        except Exception as exc:  # noqa: BLE001 - one card shows the problem, the others still work
            out[arch] = {"error": str(exc)}
    return out
