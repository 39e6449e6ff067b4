"""Optimize page jobs for "fit my device": run a search, keep one of its points, read the last search back.

The search reports each measured point as ``metrics("search_point", point)`` and the frontier as
``metrics("search_frontier", {...})``; the page draws them as they arrive. A stop keeps every point measured
so far: the search returns its result (``stopped`` true) and the points stay in ``P/search/points/``.
"""

from __future__ import annotations

from typing import Any

from studio.jobs import job

TUPLE_FIELDS = ("quantize", "archs", "widths", "input_sizes", "channel_fractions")


def search_config(request: dict[str, Any]) -> Any:
    """A :class:`~studio.core.optimize.search_space.SearchConfig` from a page's request (lists become tuples;
    None takes the default), validated; an unknown key is a ConfigError naming it."""
    from dataclasses import fields

    from studio.core.errors import ConfigError
    from studio.core.optimize.search_space import SearchConfig

    names = {f.name for f in fields(SearchConfig)}
    unknown = sorted(k for k in request if k not in names)
    if unknown:
        raise ConfigError(f"unknown search setting(s): {', '.join(unknown)}", hint="use " + ", ".join(sorted(names)))
    values = {k: (tuple(v) if k in TUPLE_FIELDS else v) for k, v in request.items() if v is not None}
    if "target" not in values:
        raise ConfigError("the search needs a device", hint="choose the device the model must fit")
    return SearchConfig(**values).validated()


@job("search", "Searching for models that fit", writes=True)
def search(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """``request``: fields of SearchConfig (``target``, ``budget_min``, ``max_bytes``, ``distill``...)."""
    from studio.core.optimize.search import search as core_search

    config = search_config(request)
    reporter.status("Measuring the trained model first…")
    return core_search(project, config, reporter).to_json()


@job("keep_point", "Keeping a search point", writes=True)
def keep_point(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """``request["id"]``: a point of the last search; ``request["name"]`` optional. Returns ``{"id", "name"}``."""
    from studio.core.optimize.search_points import keep_point as core_keep

    point_id = int(request["id"])
    return {"id": point_id, "name": core_keep(project, point_id, name=request.get("name"))}


@job("last_search", "Reading the last search", lane="query")
def last_search(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """The last search as it was recorded (``P/search/search.json``), else the points measured before it was
    interrupted (their ``variant.json``); ``{}`` when there was none. Never loads TensorFlow."""
    from studio.core.optimize.search_points import read_last_search

    return read_last_search(project)
