"""Running an exported detector through LiteRT (ai-edge-litert), as the device will: scores, maps, latency.

A detector has one or two outputs: the score ``[1, 1]`` and, for images, the map ``[1, g, g, 1]``. They are
found by shape, never by position (the converter's output order is not a promise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


def output_roles(details: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{"score": detail, "map": detail?} from an interpreter's output details."""
    roles: dict[str, dict[str, Any]] = {}
    for d in details:
        size = int(np.prod(d["shape"][1:])) if len(d["shape"]) > 1 else 1
        if size == 1 and "score" not in roles:
            roles["score"] = d
        elif size > 1 and "map" not in roles:
            roles["map"] = d
    if "score" not in roles:
        raise ValueError("the model has no single-value score output")
    return roles


def _json_detail(d: dict[str, Any]) -> dict[str, Any]:
    scale, zero = d["quantization"]
    return {"dtype": np.dtype(d["dtype"]).name, "shape": [int(s) for s in d["shape"]], "scale": float(scale),
            "zero_point": int(zero), "index": int(d["index"]), "name": str(d.get("name", ""))}


def io_details(model_bytes: bytes) -> dict[str, Any]:
    """Input and outputs (by role) of a detector model, as JSON; ``output`` is the score (for older readers)."""
    from studio.core.measure import litert_interpreter

    interp = litert_interpreter(model_bytes)
    inp = _json_detail(interp.get_input_details()[0])
    roles = {k: _json_detail(v) for k, v in output_roles(interp.get_output_details()).items()}
    for r in roles.values():
        r.pop("index")
    inp.pop("index")
    return {"input": inp, "output": roles["score"], "outputs": roles}


@dataclass
class DetectorRun:
    scores: np.ndarray  # [n] float, dequantized
    maps: np.ndarray | None  # [n, g, g] float
    raw_scores: np.ndarray  # [n] output dtype
    raw_maps: np.ndarray | None
    latencies_ms: np.ndarray


class DetectorRunner:
    """One detector model loaded into LiteRT once, answering any number of inputs (batch 1, one thread)."""

    def __init__(self, model_bytes: bytes) -> None:
        from studio.core.measure import litert_interpreter

        self.interp = litert_interpreter(model_bytes)
        self.input = self.interp.get_input_details()[0]
        self.roles = output_roles(self.interp.get_output_details())

    def run(self, x: np.ndarray, progress: Callable[[float], None] | None = None,
            cancel: Callable[[], bool] | None = None) -> DetectorRun:
        """Every sample of ``x`` (float32 model input) through the interpreter, quantized as needed."""
        from studio.core.measure import dequantize_output, invoke_each, quantize_input

        roles = self.roles
        xq = quantize_input(np.asarray(x, dtype=np.float32), self.input)
        wanted = [roles["score"]] + ([roles["map"]] if "map" in roles else [])
        raw, lat = invoke_each(self.interp, self.input, xq, wanted, progress, cancel)
        rs = raw[0].reshape(-1)  # one value per sample
        rm = raw[1][..., 0] if "map" in roles else None
        scores = dequantize_output(rs, roles["score"]).astype(np.float64)
        maps = dequantize_output(rm, roles["map"]) if rm is not None else None
        return DetectorRun(scores, maps, rs, rm, lat)


def run_detector(model_bytes: bytes, x: np.ndarray, progress: Callable[[float], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> DetectorRun:
    """Every sample through LiteRT one at a time (batch 1, one thread), float32 input quantized as needed."""
    return DetectorRunner(model_bytes).run(x, progress, cancel)
