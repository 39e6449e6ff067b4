"""Try it on an anomaly project: new files answered OK / NOT OK, with the score, the threshold and the map.

The device's answer comes from a variant through LiteRT (its own threshold, chosen on its own validation
scores, as the exported bundle uses it); beside it the fitted float detector's answer (the run's calibrated
threshold), flagged when the verdicts differ. An image is scored whole and gets its anomaly map; a recording
is cut into windows as evaluation and the bundle's harness cut them (the stride, plus one window ending at the
last row), its score is its highest window's, and its map is, per row, the highest score of the windows over
that row. The maps come as why-map results (``kind``, ``heatmap`` 0..1 around the threshold, ``peak``,
``legend``), so the same picture code draws them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from studio.core.errors import ProjectError, StudioError
from studio.core.reporter import NullReporter, Reporter, check_cancel

from .maps import heat01

SCALE_LABELS = ("like good ones", "unlike them")


@dataclass
class Scorer:
    """A detector ready to answer: ``score(x) -> (scores [n], maps [n, g, g] or None)`` and its threshold."""

    kind: str  # "litert" | "keras"
    name: str
    spec: Any  # pipeline.InputSpec
    threshold: float
    score: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]
    info: dict[str, Any]

    def describe(self) -> dict[str, Any]:
        what = "fitted detector (float, TensorFlow)" if self.kind == "keras" else (
            f"{self.info.get('quantize', '?')} variant through LiteRT")
        return {"kind": self.kind, "name": self.name, "what": what, "threshold": self.threshold, **self.info}


def device_scorer(project: Any, variant: str | None) -> Scorer:
    """A variant (None = the active one) through LiteRT, with the threshold its bundle exports."""
    from studio.core.optimize import load_variant
    from studio.core.pipeline import InputSpec

    from .litert import DetectorRunner

    data, model_bytes = load_variant(project, variant)
    block = data.get("anomaly") or {}
    if "threshold" not in block or not data.get("input_spec"):
        raise ProjectError(f"variant {data['name']!r} is not an anomaly detector's", path=data.get("path"),
                           hint="build it again on this project with 'studio optimize'")
    runner = DetectorRunner(model_bytes)

    def score(x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        run = runner.run(x)
        return run.scores, run.maps

    info = {"variant": data["name"], "quantize": data.get("quantize"), "run": data.get("run_id"),
            "bytes": data.get("bytes")}
    return Scorer("litert", str(data["name"]), InputSpec.from_json(data["input_spec"]), float(block["threshold"]),
                  score, info)


def float_scorer(project: Any, run_id: str | None) -> Scorer:
    """The fitted detector of a run (None = the active run), with the run's calibrated threshold."""
    from .runs import load_detector, read_calibration
    from .scoring import score_arrays

    model, info = load_detector(project, run_id)
    threshold = float(read_calibration(info.path)["threshold"])

    def score(x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        return score_arrays(model, x, None)

    return Scorer("keras", info.run_id, info.spec, threshold, score, {"run": info.run_id})


# ---------------------------------------------------------------------------------------------- inputs
@dataclass
class Prepared:
    x: np.ndarray  # model input [n, ...]: one image, or every window of a recording
    pixels: np.ndarray | None = None
    size: tuple[int, int] | None = None
    signal: np.ndarray | None = None
    starts: list[int] | None = None


def prepare(path: Path, spec: Any) -> Prepared:
    """A file as the detector's input: an image as training decoded it, or a recording's windows (cut as
    evaluation cuts them; a classifier's windows are never made)."""
    from studio.core.inference import checked_file, image_input, read_signal

    from .scoring import recording_windows

    path = checked_file(path, spec)
    if spec.kind == "image":
        inp = image_input(path, spec)
        return Prepared(inp.x, pixels=inp.pixels, size=inp.size)
    signal = read_signal(path, tuple(spec.channel_names))  # (a CSV with no data rows is refused there)
    x, starts = recording_windows(signal, spec)
    return Prepared(x, signal=signal, starts=starts)


def verdict(score: float, threshold: float) -> str:
    return "NOT OK" if score > threshold else "OK"


def _answer(scorer: Scorer, prep: Prepared) -> dict[str, Any]:
    scores, maps = scorer.score(prep.x)
    k = int(np.argmax(scores))
    score = float(scores[k])
    out: dict[str, Any] = {"verdict": verdict(score, scorer.threshold), "score": round(score, 4),
                           "threshold": round(scorer.threshold, 4)}
    if prep.starts is not None:
        window = int(prep.x.shape[1])
        out.update(windows=len(scores), worst_rows=[int(prep.starts[k]), int(prep.starts[k]) + window],
                   window_scores=np.round(scores, 4).tolist())
    elif maps is not None:
        out["map"] = np.asarray(maps[0], np.float32)
    return out


def _legend(item: dict[str, Any], kind: str) -> str:
    """The picture's own words (the verdict, score and threshold are in the caption beside it)."""
    what = "photo" if kind == "image" else "recording"
    head = ""
    if kind != "image":
        a, b = item["worst_rows"]
        head = f"Outlined: its least normal window, rows {a}-{b - 1} (of {item['windows']} windows). "
    return head + f"Red: where the {what} is least like the good examples; uncoloured: like them."


def image_map(item: dict[str, Any], prep: Prepared, path: Path) -> dict[str, Any]:
    """The item's map as a why-map result for an image (0..1 around the threshold, peak at the worst cell)."""
    amap = item.pop("map")
    heat = heat01(amap, item["threshold"])
    g_h, g_w = heat.shape
    width, height = prep.size or (g_w, g_h)
    py, px = np.unravel_index(int(np.argmax(amap)), amap.shape)
    peak = [int(min(width - 1, (px + 0.5) * width / g_w)), int(min(height - 1, (py + 0.5) * height / g_h))]
    return {"kind": "image", "path": str(path), "heatmap": np.round(heat, 3).tolist(), "heatmap_size": [g_w, g_h],
            "image_size": [int(width), int(height)],
            "peak": peak if item["verdict"] == "NOT OK" else None,  # circled only when the photo is flagged
            "legend": _legend(item, "image"), "scale_labels": list(SCALE_LABELS)}


def signal_map(item: dict[str, Any], prep: Prepared, path: Path, channels: list[str]) -> dict[str, Any]:
    """Per row, the highest score of the windows over it (0..1 around the threshold), the same for every
    channel (a window is scored whole); the worst window outlined."""
    assert prep.signal is not None and prep.starts is not None
    rows = max(len(prep.signal), item["worst_rows"][1])
    per_row = np.full(rows, -np.inf, np.float32)
    window = item["worst_rows"][1] - item["worst_rows"][0]
    for s, v in zip(prep.starts, item["window_scores"]):
        per_row[s : s + window] = np.maximum(per_row[s : s + window], v)
    heat = heat01(np.where(np.isfinite(per_row), per_row, item["threshold"] - 10)[: len(prep.signal)],
                  item["threshold"])
    return {"kind": "sensor", "path": str(path), "heatmap": np.round(np.repeat(heat[None], len(channels), 0), 3).tolist(),
            "heatmap_axes": ["channel", "row"], "channels": list(channels), "rows": int(len(prep.signal)),
            "peak": [int(sum(item["worst_rows"]) // 2), 0], "span": list(item["worst_rows"]),
            "legend": _legend(item, "sensor"), "scale_labels": list(SCALE_LABELS)}


# ---------------------------------------------------------------------------------------------- files
def try_anomaly_files(project: Any, request: Any, reporter: Reporter | None = None) -> dict[str, Any]:
    """Answer every file of ``request`` (a :class:`studio.core.tryit.TryRequest`) OK / NOT OK; unreadable
    files get an ``error``. ``request.why`` adds each file's map picture data (``why``)."""
    from studio.core.tryit import answering_models, list_inputs

    reporter = reporter or NullReporter()
    reporter.status("Loading the detector")
    device, ref, main = answering_models(project, request, device_scorer, float_scorer)
    spec = main.spec
    files = list_inputs(request.paths, spec.kind)
    channels = list(spec.channel_names) or [f"c{i}" for i in range(int(spec.channels or 1))]
    items = []
    for k, path in enumerate(files):
        check_cancel(reporter)
        try:
            prep = prepare(path, spec)
            item: dict[str, Any] = {"path": str(path), **_answer(main, prep)}
            if ref is not None and ref is not main:
                f = _answer(ref, prepare(path, ref.spec) if ref.spec != spec else prep)
                f.pop("map", None)
                f.pop("window_scores", None)
                item["float"] = f
                item["differs"] = f["verdict"] != item["verdict"]
            if request.why:
                item["why"] = image_map(item, prep, path) if spec.kind == "image" else \
                    signal_map(item, prep, path, channels)
            item.pop("map", None)
            item.pop("window_scores", None)
        except StudioError as exc:
            item = {"path": str(path), "error": str(exc)}
        items.append(item)
        reporter.progress((k + 1) / len(files), f"{k + 1}/{len(files)} answered")
    return {
        "anomaly": True,
        "model": main.describe(),
        "float_model": ref.describe() if ref is not None and ref is not main else None,
        "items": items,
        "n_differ": sum(1 for i in items if i.get("differs")),
        "n_not_ok": sum(1 for i in items if i.get("verdict") == "NOT OK"),
    }
