"""Jobs of issue 14 (why-maps, Try it, mislabel finder): plain data in, plain data out, run in the worker."""

from __future__ import annotations

from typing import Any

from studio.jobs import job


@job("explain", "Drawing why-maps")
def explain(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """``request``: ``paths`` (files), optional ``method``, ``run_id``, ``variant``, ``target``."""
    from studio.core.explain import explain_job

    return explain_job(project, request, reporter)


@job("try_files", "Trying the model")
def try_files(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """``request``: ``paths``, ``variant`` ("active", a name, or None for the float model), ``compare_float``,
    ``why``."""
    from studio.core.tryit import try_job

    return try_job(project, request, reporter)


@job("live_model", "Loading the model for the camera", lane="query")
def live_model(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """``request["variant"]`` (a name, or "active" / None): which ``.tflite`` the window's live camera loads
    and how its input is scaled (:func:`studio.core.live.live_model_info`; reads files only, no TensorFlow)."""
    from studio.core.live import live_model_info
    from studio.core.optimize.store import load_variant
    from studio.core.pipeline import InputSpec

    name = request.get("variant")
    data, _ = load_variant(project, None if name in (None, "active") else str(name))
    return live_model_info(data, InputSpec.from_json(data["input_spec"]))


@job("suspects", "Looking for mislabelled examples")
def suspects(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    from studio.core.suspects import suspects_job

    return suspects_job(project, request, reporter)


@job("curate", "Changing labels", writes=True)
def curate(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """``request``: ``names``, ``action`` (relabel / exclude / restore), ``label`` for relabel."""
    from studio.core.data.curation import curate as core_curate

    return core_curate(project, list(request.get("names") or []), str(request.get("action")), request.get("label"))


@job("add_capture", "Saving the camera frame", writes=True)
def add_capture(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """``request``: ``file`` (a PNG the window wrote to a temporary place) and ``label``."""
    import numpy as np
    from PIL import Image

    from studio.core.data.curation import add_capture as core_add

    with Image.open(request["file"]) as img:
        frame = np.asarray(img.convert("RGB"))
    return core_add(project, frame, str(request["label"]))
