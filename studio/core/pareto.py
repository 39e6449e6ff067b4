"""Size-vs-accuracy Pareto fronts over plain dicts (``bytes``, ``accuracy``): no TensorFlow, so the window's
frontier view and the search share the one implementation."""

from __future__ import annotations

from typing import Any


def dominates(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """``a`` is no larger and no less accurate than ``b``, and strictly better in one of the two."""
    return (a["bytes"] <= b["bytes"] and a["accuracy"] >= b["accuracy"]
            and (a["bytes"] < b["bytes"] or a["accuracy"] > b["accuracy"]))


def pareto_front(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The points no other point dominates, smallest first (ties in size and accuracy: the first one)."""
    points = [p for p in points if p.get("accuracy") is not None and p.get("bytes")]
    front = []
    seen: set[tuple[Any, Any]] = set()
    for p in sorted(points, key=lambda p: (p["bytes"], -p["accuracy"])):
        if any(dominates(q, p) for q in points):
            continue
        if (p["bytes"], p["accuracy"]) not in seen:
            seen.add((p["bytes"], p["accuracy"]))
            front.append(p)
    return front
