"""Why-maps for one file: what the model answered and which part of the input made it answer that.

``explain(project, path, request)`` loads the file the way training did (:mod:`studio.core.inference`), asks
the chosen model (the trained run, or a variant through LiteRT), and builds a plain-data result:

* images: ``label``, ``confidence``, ``probabilities``, ``heatmap`` (2-D, row-major, 0..1, over the whole
  image at the model's input grid ``heatmap_size`` = [w, h]), ``peak`` ([x, y] in pixels of the original file,
  ``image_size`` = [w, h]) and a plain-words ``legend``;
* sensors (one recording per CSV): the same keys, the heat map being ``[channel][row]`` over the recording,
  ``peak`` = [row, channel index], plus ``time_importance`` (per row), ``channel_importance`` (probability
  lost when a channel is flattened), ``span`` ([first row, last row + 1] that drove the decision) and
  ``channel`` (the channel that mattered most).

Results are cached in ``P/cache/why/`` keyed by the file (path, size, modification time), the model (weights
file or variant) and the method, so the gallery and the report do not recompute them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from studio.core import attribution as attr
from studio.core.errors import ConfigError
from studio.core.fsutil import atomic_write_json, read_json
from studio.core.inference import Backend, ModelInput, backend_for, load_input
from studio.core.reporter import NullReporter, Reporter, check_cancel

CACHE_FORMAT = 4  # 4: sensor results say how many stretches the evidence spans
CACHE_LIMIT = 2000  # cached results kept per project (oldest removed first)
MAX_WINDOWS = 16  # windows of one recording explained (evenly spread): enough for the shape, bounded cost
SPAN_LEVEL = 0.5


@dataclass(frozen=True)
class ExplainRequest:
    """What to explain with: ``method`` (see :data:`studio.core.attribution.METHODS`), a run (Keras) or a
    ``variant`` (LiteRT; "active" = the active variant), and optionally a ``target`` class to explain instead
    of the predicted one."""

    method: str = attr.DEFAULT_METHOD
    run_id: str | None = None
    variant: str | None = None
    target: str | None = None
    use_cache: bool = True

    def replace(self, **changes: Any) -> "ExplainRequest":
        return replace(self, **changes)

    def validated(self) -> "ExplainRequest":
        if self.method not in attr.METHODS:
            raise ConfigError(f"unknown why-map method {self.method!r}", hint=f"use one of {', '.join(attr.METHODS)}")
        if self.method == "gradcam" and self.variant is not None:
            raise ConfigError("Grad-CAM needs the trained model's gradients; a LiteRT variant has none",
                              hint="use --method occlusion with --variant")
        return self

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "ExplainRequest":
        keys = ("method", "run_id", "variant", "target", "use_cache")
        return cls(**{k: d[k] for k in keys if k in d and d[k] is not None})


# ---------------------------------------------------------------------------------------------- maths
def _target_index(backend: Backend, probs: np.ndarray, target: str | None) -> int:
    if target is None:
        return int(np.argmax(probs))
    if target not in backend.classes:
        raise ConfigError(f"unknown class {target!r}", hint="the classes are " + ", ".join(backend.classes))
    return backend.classes.index(target)


def _image_map(backend: Backend, inp: ModelInput, cls: int, method: str) -> np.ndarray:
    x = inp.x[0]
    if method == "gradcam":
        _, maps = attr.gradcam(backend.model, inp.x, np.asarray([cls]))
        return attr.normalize01(attr.upsample(maps[0], x.shape[:2]))
    _, m = attr.occlusion(backend.predict, x, cls)
    return m


def _spread(n: int, k: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(int))


def _to_rows(m: np.ndarray, start: int, rows: int, policy: str) -> tuple[slice, np.ndarray]:
    """A map over one model input (``window`` steps) placed on the recording's rows: a window covers rows
    ``start..start+window``; a padded recording its first rows; a resampled one all of them (interpolated)."""
    window = len(m)
    if policy == "windows" and rows > window:
        return slice(start, start + window), m
    if rows <= window:  # padded at the end (windows or pad policy): row r is step r
        return slice(0, rows), m[:rows]
    pos = np.arange(rows) * (window - 1) / max(1, rows - 1)  # resampled (linspace onto the window)
    return slice(0, rows), np.interp(pos, np.arange(window), m).astype(np.float32)


def _sensor_maps(backend: Backend, inp: ModelInput, cls: int, method: str,
                 window_probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(time importance [rows], heat map [channels, rows], channel importance [channels]) for class ``cls``."""
    rows, chans = inp.signal.shape
    window = inp.x.shape[1]
    time_sum = np.zeros(rows, np.float32)
    heat_sum = np.zeros((chans, rows), np.float32)
    hits = np.zeros(rows, np.float32)
    chan = np.zeros(chans, np.float32)
    pick = _spread(len(inp.x), MAX_WINDOWS)
    grad_maps = None
    if method == "gradcam":
        _, g = attr.gradcam(backend.model, inp.x[pick], np.full(len(pick), cls))
        grad_maps = [attr.upsample(m, (window,)) for m in g]
    for j, w in enumerate(pick):
        x, base = inp.x[w], window_probs[w]
        if grad_maps is not None:
            t_map = grad_maps[j]
        else:
            _, t_map = attr.occlusion(backend.predict, x, cls, base=base)
        per = np.stack([attr.occlusion(backend.predict, x, cls, channel=c, base=base)[1] for c in range(chans)])
        c_imp = attr.channel_importance(backend.predict, x, cls)
        sl, t_rows = _to_rows(t_map, inp.starts[w], rows, inp.policy)
        time_sum[sl] += t_rows
        heat_sum[:, sl] += np.stack([_to_rows(p, inp.starts[w], rows, inp.policy)[1] for p in per]) \
            * (c_imp[:, None] / max(float(c_imp.max()), 1e-6))
        hits[sl] += 1
        chan += c_imp
    hits = np.maximum(hits, 1)
    return (attr.normalize01(time_sum / hits), attr.normalize01(heat_sum / hits[None]),
            chan / max(len(pick), 1))


def _span(time_map: np.ndarray, level: float = SPAN_LEVEL) -> list[int]:
    """[first, last + 1] rows of the stretch around the time peak where the importance stays >= level."""
    t = int(round(attr.peak(time_map)[0]))
    lo = hi = t
    while lo > 0 and time_map[lo - 1] >= level:
        lo -= 1
    while hi < len(time_map) - 1 and time_map[hi + 1] >= level:
        hi += 1
    return [lo, hi + 1]


def _stretches(time_map: np.ndarray, level: float = SPAN_LEVEL) -> int:
    """How many separate stretches of the recording reach ``level``: a periodic fault's evidence is spread over
    many, and the legend must not name one of them as "the" stretch."""
    above = np.asarray(time_map) >= level
    return int(np.count_nonzero(above[1:] & ~above[:-1]) + int(bool(above[:1].any())))


def _pct(p: float) -> str:
    return f"{100 * p:.0f} %"


def legend_text(result: dict[str, Any]) -> str:
    """The plain-words reading of a why-map (shown under the overlay, in the GUI and in the report)."""
    said = f"The model says '{result['label']}' ({_pct(result['confidence'])} sure)."
    target = result.get("explained", result["label"])
    if result["kind"] == "sensor":
        a, b = result["span"]
        n = int(result.get("stretches") or 1)
        where = (f"the stretch that decided '{target}' (rows {a} to {b - 1})" if n <= 2 else
                 f"where the evidence for '{target}' lies, spread over {n} stretches of the recording (the "
                 f"strongest: rows {a} to {b - 1})")
        return f"{said} Shaded: {where}, mostly in channel '{result['channel']}'. Unshaded parts made little difference."
    if result["method"] == "gradcam":
        return (f"{said} Red: where the model's last layer found the most evidence for '{target}'. "
                "Uncoloured parts count little.")
    return (f"{said} Red: the parts that decided '{target}': covering them lowers the model's confidence "
            "the most. Uncoloured parts made no difference.")


def explain_input(backend: Backend, inp: ModelInput, method: str = attr.DEFAULT_METHOD,
                  target: str | None = None) -> dict[str, Any]:
    """The why-map of one prepared input (no cache, no project): plain data, see the module docstring."""
    if method == "gradcam" and backend.model is None:
        raise ConfigError("Grad-CAM needs the trained model, not a LiteRT variant", hint="use occlusion")
    window_probs = backend.predict(inp.x)
    probs = window_probs.mean(axis=0)
    label_i = int(np.argmax(probs))
    cls = _target_index(backend, probs, target)
    out: dict[str, Any] = {
        "kind": inp.kind,
        "path": inp.source,
        "label": backend.classes[label_i],
        "confidence": round(float(probs[label_i]), 4),
        "probabilities": {c: round(float(p), 4) for c, p in zip(backend.classes, probs)},
        "explained": backend.classes[cls],
        "method": method,
        "model": backend.describe(),
    }
    if inp.kind == "image":
        heat = _image_map(backend, inp, cls, method)
        h, w = heat.shape
        px, py = attr.peak(heat)
        width, height = inp.size or (w, h)
        out.update(
            heatmap=np.round(heat, 3).tolist(),
            heatmap_size=[w, h],
            image_size=[int(width), int(height)],
            peak=[int(min(width - 1, (px + 0.5) * width / w)), int(min(height - 1, (py + 0.5) * height / h))],
        )
    else:
        time_map, heat, chan = _sensor_maps(backend, inp, cls, method, window_probs)
        c_best = int(np.argmax(chan)) if chan.max() > 0 else int(np.argmax(heat.max(axis=1)))
        names = list(inp.channels) or [f"c{i}" for i in range(heat.shape[0])]
        out.update(
            heatmap=np.round(heat, 3).tolist(),
            heatmap_axes=["channel", "row"],
            channels=names,
            rows=int(heat.shape[1]),
            time_importance=np.round(time_map, 3).tolist(),
            channel_importance={n: round(float(v), 4) for n, v in zip(names, chan)},
            channel=names[c_best],
            span=_span(time_map),
            stretches=_stretches(time_map),
            peak=[int(round(attr.peak(time_map)[0])), c_best],
            windows=len(inp.x),
            window_labels=[backend.classes[int(i)] for i in window_probs.argmax(axis=1)],
        )
    out["legend"] = legend_text(out)
    return out


# ---------------------------------------------------------------------------------------------- cache
def cache_dir(project: Any) -> Path:
    return Path(project.path) / "cache" / "why"


def _cache_key(path: Path, backend: Backend, request: ExplainRequest) -> str:
    st = path.stat()
    raw = json.dumps([str(path.resolve()), st.st_size, st.st_mtime_ns, request.method, request.target,
                      backend.ident, CACHE_FORMAT])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def _cache_get(project: Any, key: str) -> dict[str, Any] | None:
    file = cache_dir(project) / f"{key}.json"
    try:
        data = read_json(file)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or data.get("key") != key:
        return None
    return data.get("result")


def _cache_put(project: Any, key: str, result: dict[str, Any]) -> None:
    folder = cache_dir(project)
    try:
        atomic_write_json(folder / f"{key}.json", {"format": CACHE_FORMAT, "key": key, "result": result})
        files = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for old in files[: max(0, len(files) - CACHE_LIMIT)]:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only project still explains; it just does not remember


# ---------------------------------------------------------------------------------------------- project
def explain(project: Any, path: str | Path, request: ExplainRequest | None = None,
            backend: Backend | None = None, reporter: Reporter | None = None) -> dict[str, Any]:
    """The why-map of one file with the project's model (see the module docstring). ``backend`` reuses a
    loaded model across calls; ``result["cached"]`` says whether it came from the cache."""
    request = (request or ExplainRequest()).validated()
    reporter = reporter or NullReporter()
    path = Path(path).expanduser().absolute()
    if backend is None:
        reporter.status("Loading the model")
        backend = backend_for(project, request.run_id, request.variant)
    inp = load_input(path, backend.spec)  # checks the file before the cache is consulted
    key = _cache_key(path, backend, request)
    if request.use_cache:
        hit = _cache_get(project, key)
        if hit is not None:
            return dict(hit, cached=True)
    check_cancel(reporter)
    result = explain_input(backend, inp, request.method, request.target)
    _cache_put(project, key, result)
    return dict(result, cached=False)


def explain_recording(project: Any, recording: str, request: ExplainRequest | None = None,
                      backend: Backend | None = None) -> dict[str, Any]:
    """The why-map of one of the project's sensor recordings (by manifest id, e.g. "r0007"): the signal
    comes from ``P/data/recordings.npz``, and the result carries it (``signal``, rows x channels) so a window
    can draw it without the original file. Cached like files (keyed by the import time)."""
    from studio.core.data.sensor import load_recordings
    from studio.core.errors import DatasetError
    from studio.core.inference import signal_input

    request = (request or ExplainRequest()).validated()
    manifest = project.load_manifest()
    rec = next((r for r in manifest.get("recordings", []) if r["id"] == recording), None)
    if rec is None:
        raise DatasetError(f"no recording {recording!r} in this project", path=project.manifest_path)
    backend = backend or backend_for(project, request.run_id, request.variant)
    raw = json.dumps([recording, manifest.get("imported"), request.method, request.target, backend.ident,
                      CACHE_FORMAT])
    key = "rec-" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:28]
    hit = _cache_get(project, key) if request.use_cache else None
    if hit is not None:
        return dict(hit, cached=True)
    signal = load_recordings(project)[recording]
    result = explain_input(backend, signal_input(signal, backend.spec, rec["source"]), request.method,
                           request.target)
    result.update(recording=recording, true_label=rec["label"], signal=np.round(signal, 5).tolist())
    _cache_put(project, key, result)
    return dict(result, cached=False)


def explain_many(project: Any, paths: list[str | Path], request: ExplainRequest | None = None,
                 reporter: Reporter | None = None) -> list[dict[str, Any]]:
    """Why-maps of several files with one loaded model (the Evaluate gallery, the report). A file that cannot
    be read gives ``{"path", "error"}`` instead of stopping the others."""
    from studio.core.errors import StudioError

    request = (request or ExplainRequest()).validated()
    reporter = reporter or NullReporter()
    backend = backend_for(project, request.run_id, request.variant)
    out = []
    for i, p in enumerate(paths):
        check_cancel(reporter)
        try:
            out.append(explain(project, p, request, backend))
        except StudioError as exc:
            out.append({"path": str(p), "error": str(exc)})
        reporter.progress((i + 1) / max(1, len(paths)), f"why-map {i + 1}/{len(paths)}")
    return out


def explain_job(project: Any, request: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    """Worker-process job (plain data in and out): ``request`` = {"paths": [...]} (files) and / or
    {"recordings": [ids]} (the project's sensor recordings), plus ExplainRequest keys."""
    from studio.core.errors import StudioError

    req = ExplainRequest.from_json(request).validated()
    paths = list(request.get("paths") or [])
    out = explain_many(project, paths, req, reporter) if paths else []
    recordings = list(request.get("recordings") or [])
    if recordings:
        backend = backend_for(project, req.run_id, req.variant)
        for rid in recordings:
            check_cancel(reporter)
            try:
                out.append(explain_recording(project, str(rid), req, backend))
            except StudioError as exc:
                out.append({"recording": rid, "error": str(exc)})
    return {"results": out}
