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


def share_bank(model_bytes: bytes) -> bytes:
    """The global detector's int8 file with its memory bank stored once (the fixed-range form's graph).

    Its FULLY_CONNECTED (every bank row's score) and its GATHER (the nearest row, for the map) read one float
    constant, but the converter stores it twice: the FULLY_CONNECTED's weights (symmetric int8, one scale when
    converted with per-tensor dense weights) and the GATHER's table (int8 quantized like an activation), so the
    file was twice the bank. Here the GATHER reads the FULLY_CONNECTED's weights (its output takes their
    scale; GATHER copies bytes, so this is exact) and the table's buffer is emptied. Only a GATHER whose table
    holds the same values as an int8 FULLY_CONNECTED's weights (within one int8 step of either, where the
    table's calibrated range does not clip them) is changed; any other model comes back as it was.
    """
    from ai_edge_litert import schema_py_generated as fb

    model = fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(bytearray(model_bytes), 0))
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    changed = False
    for graph in model.subgraphs:
        tensors = graph.tensors
        weights = [op.inputs[1] for op in graph.operators
                   if codes[op.opcodeIndex] == fb.BuiltinOperator.FULLY_CONNECTED and len(op.inputs) > 1]
        for op in graph.operators:
            if codes[op.opcodeIndex] != fb.BuiltinOperator.GATHER:
                continue
            table = op.inputs[0]
            for w in weights:
                if w != table and _same_int8_constant(model, tensors[table], tensors[w]):
                    old = tensors[table].buffer
                    op.inputs[0] = w
                    out = tensors[op.outputs[0]]
                    out.quantization = _copy_quantization(fb, tensors[w].quantization)
                    if not any(t.buffer == old for i, t in enumerate(tensors) if i != table and _used(graph, i)):
                        model.buffers[old].data = None
                    changed = True
                    break
    return _pack(fb, model) if changed else model_bytes


def _used(graph: Any, index: int) -> bool:
    return any(index in op.inputs or index in op.outputs for op in graph.operators)


def _dequantized(model: Any, t: Any) -> np.ndarray | None:
    q = t.quantization
    data = model.buffers[t.buffer].data if t.buffer < len(model.buffers) else None
    if data is None or q is None or q.scale is None or len(q.scale) != 1 or t.type != 9:  # 9: INT8
        return None
    values = np.frombuffer(np.asarray(data, np.uint8).tobytes(), np.int8).astype(np.float64)
    zero = float(q.zeroPoint[0]) if q.zeroPoint is not None and len(q.zeroPoint) else 0.0
    return ((values - zero) * float(q.scale[0])).reshape(tuple(int(s) for s in t.shape))


def _same_int8_constant(model: Any, table: Any, weights: Any) -> bool:
    a, b = _dequantized(model, table), _dequantized(model, weights)
    if a is None or b is None or a.shape != b.shape or a.ndim != 2:
        return False
    if weights.quantization.zeroPoint is not None and np.any(np.asarray(weights.quantization.zeroPoint) != 0):
        return False
    step = max(float(table.quantization.scale[0]), float(weights.quantization.scale[0]))
    # the table's range is the calibration's range of the gathered rows, so its largest values may be clipped
    lo, hi = float(a.min()), float(a.max())
    return bool(np.max(np.abs(a - np.clip(b, lo, hi))) <= step * 1.01)


def _copy_quantization(fb: Any, q: Any) -> Any:
    out = fb.QuantizationParametersT()
    out.scale = np.array(q.scale, np.float32)
    out.zeroPoint = np.array(q.zeroPoint if q.zeroPoint is not None else [0], np.int64)
    out.quantizedDimension = 0
    return out


def _pack(fb: Any, model: Any) -> bytes:
    """Serialize with every buffer 16-byte aligned (as the converter writes them: TFLite-Micro reads int32
    biases and int8 weights in place)."""
    import flatbuffers

    class AlignedBuffer(fb.BufferT):
        def Pack(self, builder: Any) -> Any:  # noqa: N802 - flatbuffers' name
            data = None
            if self.data is not None:
                raw = np.asarray(self.data, np.uint8).tobytes()
                builder.StartVector(1, len(raw), 16)
                builder.head = builder.head - len(raw)
                builder.Bytes[builder.head : builder.head + len(raw)] = raw
                data = builder.EndVector()
            fb.BufferStart(builder)
            if data is not None:
                fb.BufferAddData(builder, data)
            return fb.BufferEnd(builder)

    buffers = []
    for b in model.buffers:
        nb = AlignedBuffer()
        nb.data = b.data
        buffers.append(nb)
    model.buffers = buffers
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())

