"""The search's files: ``P/search/search.json`` (the last search) and ``P/search/points/<id>/`` (every measured
point's .tflite, weights and variant.json until the next search); keeping a point as a variant; reading the
last search back (also an interrupted one). Plain files, no TensorFlow."""

from __future__ import annotations

from typing import Any

from studio.core.fsutil import atomic_write_json, safe_name
from studio.core.optimize.search_space import pareto_front

SEARCH_FORMAT = 1
PUBLIC_KEYS = ("id", "kind", "name", "bytes", "flash_bytes", "gzip_bytes", "arena_bytes", "macs", "params",
               "latency_ms", "latency_median_ms", "accuracy", "test_accuracy", "keras_accuracy", "fits",
               "fit_reason", "on_frontier", "settings", "rung", "seconds")


def search_dir(project: Any) -> Any:
    return project.path / "search"


def points_dir(project: Any) -> Any:
    return search_dir(project) / "points"


def clear_search(project: Any) -> None:
    """Forget the previous search's points (a new search starts)."""
    import shutil

    shutil.rmtree(search_dir(project), ignore_errors=True)


def point_name(settings: dict[str, Any]) -> str:
    s = settings
    side = f"-{s['input_size']}px" if s.get("input_size") else ""
    cut = f"-c{int(round(s['channels'] * 100))}" if s.get("channels") else ""
    return safe_name(f"search-{s['arch']}-w{s.get('width')}{side}{cut}-{s['quantize']}")


def keep_point(project: Any, point_id: int, name: str | None = None) -> str:
    """Make point ``point_id`` of the last search a variant (``studio variants`` lists it); returns its name."""
    from studio.core.errors import ProjectError
    from studio.core.formats import read_versioned
    from studio.core.optimize.store import write_variant

    folder = points_dir(project) / str(int(point_id))
    try:
        data = read_versioned("variant", folder / "variant.json")
        model_bytes = (folder / "model.tflite").read_bytes()
    except (OSError, ValueError) as exc:
        raise ProjectError(f"the last search has no point {point_id}", path=points_dir(project),
                           hint="run 'studio search' again") from exc
    name = safe_name(name or point_name(data["search"]["settings"]))
    data["name"] = name
    write_variant(project.variants_dir, name, model_bytes, data, weights_from=folder / "weights.h5")
    _record_name(project, int(point_id), name)
    return name


def _record_name(project: Any, point_id: int, name: str) -> None:
    """search.json follows a point kept after the search (the page shows it as kept when reopened)."""
    from studio.core.fsutil import read_json

    path = search_dir(project) / "search.json"
    try:
        record = read_json(path)
    except (OSError, ValueError):
        return
    for p in record.get("points", []) + record.get("frontier", []):
        if p.get("id") == point_id:
            p["name"] = name
    atomic_write_json(path, record)


def read_last_search(project: Any) -> dict[str, Any]:
    """The last search's record, or (when it was interrupted before writing one) its points read back from
    ``P/search/points/<id>/variant.json``; ``{}`` when there was no search. Plain files only."""
    from studio.core.fsutil import read_json

    try:
        return dict(read_json(search_dir(project) / "search.json"), complete=True)
    except (OSError, ValueError):
        pass
    points = []
    for folder in sorted(points_dir(project).glob("*"), key=lambda f: int(f.name) if f.name.isdigit() else -1):
        try:
            data = read_json(folder / "variant.json")
            meta = data["search"]
        except (OSError, ValueError, KeyError):
            continue
        points.append({**{k: data.get(k) for k in PUBLIC_KEYS}, "id": meta["point"], "kind": meta["kind"],
                       "name": None, "settings": meta["settings"], "rung": meta.get("rung"),
                       "fits": meta.get("fits"), "fit_reason": meta.get("fit_reason"),
                       "arena_bytes": (data.get("arena") or {}).get("min_bytes")})
    if not points:
        return {}
    front = pareto_front(points)
    for p in points:
        p["on_frontier"] = any(p is q for q in front)
    return {"complete": False, "points": points, "frontier": front,
            "notes": ["the search was interrupted: these points were measured before it stopped"]}
