"""The MCU bundle's pieces without TensorFlow or TFLite-Micro: golden choice, tolerance, C string escaping, the
harness's output parsing, and main.cc's golden comparison run against a stand-in interpreter (the real library is
in tests/e2e/test_mcu_build.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from studio.core import mcu_bundle
from studio.core.golden import MAX_GOLDEN, boundary_blend, choose_golden, golden_limit, tolerance
from studio.core.tflm_build import parse_output
from studio.resources import resource_path

GXX = shutil.which("g++")


def _probs(y: np.ndarray, strength: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logits = np.eye(3)[y] * strength + rng.normal(0, 1, (len(y), 3))
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def test_goldens_are_least_confident_correct_then_borderline() -> None:
    y = np.repeat([0, 1, 2], 30)
    probs = _probs(y, 4.0, 0)
    pred = probs.argmax(1)
    chosen = choose_golden(probs, y, 8)
    idx = [i for i, _ in chosen]
    assert len(idx) == 8 == len(set(idx))
    assert [y[i] for i in idx[:3]] == [0, 1, 2]  # round 1: one per class
    for i, why in chosen[:3]:
        if pred[i] == y[i]:  # the least confident of the correct ones of its class
            right = np.flatnonzero((y == y[i]) & (pred == y))
            assert probs[i, y[i]] == probs[right, y[i]].min() and why.startswith("least confident correct")
    margin = np.sort(probs, 1)[:, -1] - np.sort(probs, 1)[:, -2]
    rest = [j for j in range(len(y)) if j not in idx[:3]]
    assert chosen[3][1].startswith("borderline") and margin[idx[3]] == margin[rest].min()
    # far from saturated: the picks are the least confident ones
    assert probs[idx].max(1).mean() < probs.max(1).mean()


def test_goldens_are_as_often_wrong_as_the_model_is_per_class() -> None:
    y = np.repeat([0, 1, 2], 40)
    probs = _probs(y, 4.0, 1)
    probs[y == 2] = probs[y == 2][:, [2, 0, 1]]  # class 2 is now almost always taken for class 0
    pred = probs.argmax(1)
    chosen = choose_golden(probs, y, 9)
    per_class = {c: [i for i, _ in chosen if y[i] == c] for c in range(3)}
    wrong_2 = [i for i in per_class[2] if pred[i] != 2]
    assert len(wrong_2) >= len(per_class[2]) - 1 >= 1  # the class the model gets wrong shows up wrong
    assert all(pred[i] == y[i] for i in per_class[0] + per_class[1] if "borderline" not in dict(chosen)[i])
    closest = np.flatnonzero((y == 2) & (pred != 2))
    assert probs[wrong_2[0], 2] == probs[closest, 2].max()  # the closest miss first


def _saturated_model(raw: np.ndarray) -> np.ndarray:
    """A model that is sure of everything real: class 0 when the mean pixel is below 128, else class 1."""
    z = (raw.reshape(len(raw), -1).astype(np.float64).mean(axis=1) - 128.0) * 2.0
    p1 = 1 / (1 + np.exp(-z))
    return np.stack([1 - p1, p1], axis=1)


def test_boundary_blend_finds_graded_outputs_between_saturated_samples() -> None:
    a = np.full((4, 4, 3), 250, np.uint8)  # class 1, p = 1.0
    b = np.full((4, 4, 3), 5, np.uint8)  # class 0, p = 1.0
    assert _saturated_model(np.stack([a, b])).max(axis=1).min() > 0.999
    raw, p, t = boundary_blend(_saturated_model, a, b)
    assert raw.dtype == np.uint8 and raw.shape == a.shape and 0 < t < 1
    assert p.max() < 0.9  # near the decision boundary: every output value means something
    np.testing.assert_allclose(_saturated_model(raw[None])[0], p)
    assert boundary_blend(_saturated_model, a, a.copy()) is None  # same answer at both ends: nothing between


def test_room_for_blends_drops_a_saturated_borderline_first() -> None:
    from studio.core.golden import _make_room

    probs = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    chosen = [(0, "least confident correct"), (1, "least confident correct"), (2, "borderline (margin 1.00)"),
              (3, "least confident correct"), (4, "least confident correct")]
    assert [i for i, _ in _make_room(chosen, probs, 2)] == [0, 1, 3]  # the fake borderline, then the last
    assert [i for i, _ in _make_room(chosen[:3], probs, 3)] == [0, 1]  # at least two real goldens stay
    graded = probs.copy()
    graded[2] = [0.55, 0.45]  # a real borderline sample stays
    assert [i for i, _ in _make_room(chosen, graded, 2)] == [0, 1, 2]


def test_golden_limit_and_mcu_budget() -> None:
    assert golden_limit(3) == 8 and golden_limit(10) == 11 and golden_limit(60) == MAX_GOLDEN
    assert golden_limit(3, input_bytes=96 * 96 * 3) == 4  # 128 KB of flash for 27 KB inputs
    assert golden_limit(60, input_bytes=1_000_000) == 2  # always a correct one and a borderline one
    assert choose_golden(np.zeros((0, 3)), np.zeros(0, int), 8) == []


def test_tolerance_from_kernel_differences() -> None:
    a = np.array([[10, -20, 30]], np.int8)
    t = tolerance({"x": a, "y": a + np.array([[1, 0, 0]], np.int8), "z": a + np.array([[0, 3, 0]], np.int8)})
    assert t["kernel_diffs"] == {"x vs y": 1.0, "x vs z": 3.0, "y vs z": 3.0}
    assert t["tolerance"] == 6 and "twice the largest difference" in t["note"]
    assert tolerance({"x": a, "y": a})["tolerance"] == 2  # the floor for integer outputs
    f = np.array([[0.2, 0.8]], np.float32)
    assert tolerance({"x": f, "y": f + 1e-6})["tolerance"] == pytest.approx(1e-3)


def test_parse_harness_output() -> None:
    text = ("arena used: 5296 of 8800 bytes\r\ngolden 0: true idle, predicted spin, max |diff| 1 LSB: ok\r\n"
            "golden 1: true spin, predicted spin, max |diff| 3000 e-6: DIFFERS\r\n"
            "SELFTEST FAILED: 1 of 2 golden inputs differ\r\nCORRECT ON 1 OF 2 golden examples\r\n")
    out = parse_output(text)
    assert (out["arena_used"], out["arena_bytes"], out["passed"], out["correct"], out["total"]) == (
        5296, 8800, False, 1, 2)
    assert out["items"][0] == {"index": 0, "label": "idle", "predicted": "spin", "max_diff": 1.0, "ok": True}
    assert out["items"][1]["max_diff"] == pytest.approx(0.003) and not out["items"][1]["ok"]


STUB_INTERPRETER = """
#pragma once
// Stand-in for TFLite-Micro: the "model" copies its first STUDIO_MODEL_OUTPUT_LEN inputs to its outputs.
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
typedef enum { kTfLiteOk = 0, kTfLiteError = 1 } TfLiteStatus;
typedef enum { kTfLiteFloat32 = 1, kTfLiteUInt8 = 3, kTfLiteInt16 = 7, kTfLiteInt8 = 9 } TfLiteType;
typedef union { int8_t* int8; uint8_t* uint8; int16_t* i16; float* f; } TfLitePtrUnion;
struct TfLiteTensor { TfLiteType type; TfLitePtrUnion data; size_t bytes; };
#define MicroPrintf(...) (printf(__VA_ARGS__), printf("\\n"))
#define TFLITE_SCHEMA_VERSION 3
namespace tflite {
struct Model { int version() const { return 3; } };
inline const Model* GetModel(const void*) { static Model m; return &m; }
class MicroOpResolver {};
template <unsigned N> class MicroMutableOpResolver : public MicroOpResolver {
 public:
%s
};
class MicroInterpreter {
 public:
  MicroInterpreter(const Model*, const MicroOpResolver&, uint8_t*, size_t) {
    in_.type = STUB_TYPE; in_.data.STUB_FIELD = in_buf_; in_.bytes = sizeof(in_buf_);
    out_.type = STUB_TYPE; out_.data.STUB_FIELD = out_buf_; out_.bytes = sizeof(out_buf_);
  }
  TfLiteStatus AllocateTensors() { return kTfLiteOk; }
  TfLiteStatus Invoke() {
    for (int i = 0; i < STUDIO_MODEL_OUTPUT_LEN; ++i) out_buf_[i] = in_buf_[i];
    return kTfLiteOk;
  }
  TfLiteTensor* input(size_t) { return &in_; }
  TfLiteTensor* output(size_t) { return &out_; }
  size_t arena_used_bytes() const { return 1234; }
 private:
  STUB_CTYPE in_buf_[STUDIO_MODEL_INPUT_LEN];
  STUB_CTYPE out_buf_[STUDIO_MODEL_OUTPUT_LEN];
  TfLiteTensor in_{}, out_{};
};
}  // namespace tflite
"""
OPS = ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"]


def _io(dtype: str, n_in: int, n_out: int) -> dict:
    return {"input": {"dtype": dtype, "shape": [1, n_in], "scale": 0.5, "zero_point": -1},
            "output": {"dtype": dtype, "shape": [1, n_out], "scale": 1 / 256, "zero_point": -128}}


def _write_harness(folder: Path, dtype: str, inputs: np.ndarray, expected: np.ndarray, labels: list[int],
                   tol: float, classes: list[str], threshold: float | None = None) -> None:
    methods = "\n".join(f"  TfLiteStatus {mcu_bundle.resolver_method(o)}() {{ return kTfLiteOk; }}" for o in OPS)
    stubs = folder / "stubs" / "tensorflow" / "lite"
    for rel in ("micro/micro_interpreter.h", "micro/micro_log.h", "micro/micro_mutable_op_resolver.h",
                "schema/schema_generated.h"):
        (stubs / rel).parent.mkdir(parents=True, exist_ok=True)
        (stubs / rel).write_text(STUB_INTERPRETER % methods if rel.endswith("interpreter.h") else
                                 '#pragma once\n#include "tensorflow/lite/micro/micro_interpreter.h"\n')
    io = _io(dtype, inputs.shape[1], expected.shape[1])
    files = mcu_bundle.model_data_files(bytes(range(256)))
    files.update(mcu_bundle.golden_data_files(inputs, expected, labels, tol))
    files["studio_model.h"] = mcu_bundle.studio_model_h(io, classes, "a test input", threshold)
    files["main.cc"] = mcu_bundle.main_cc(resource_path("harness", "main.cc").read_text(), OPS, 4096, classes, io,
                                          threshold)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def _compile(folder: Path, dtype: str, std: str, extra: list[str] | None = None,
             sources: tuple[str, ...] = mcu_bundle.HARNESS_SOURCES) -> subprocess.CompletedProcess:
    ctype, field = {"int8": ("int8_t", "int8"), "float32": ("float", "f")}[dtype]
    cmd = [GXX, f"-std={std}", "-Wall", "-Wextra", "-Wdouble-promotion", "-Wsign-compare", "-Wshadow",
           "-Wunused-function", "-Wvla", "-Werror", "-fno-rtti", "-fno-exceptions", "-DTF_LITE_STATIC_MEMORY",
           f"-DSTUB_TYPE={'kTfLiteInt8' if dtype == 'int8' else 'kTfLiteFloat32'}", f"-DSTUB_CTYPE={ctype}",
           f"-DSTUB_FIELD={field}", "-I", str(folder / "stubs"), "-I", str(folder), *(extra or []),
           *[str(folder / s) for s in sources], "-o", str(folder / "harness")]
    return subprocess.run(cmd, capture_output=True, text=True)


@pytest.mark.skipif(GXX is None, reason="g++ not installed")
def test_main_cc_golden_check_passes_fails_and_counts_correct(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    inputs = rng.integers(-100, 100, (3, 8)).astype(np.int8)
    expected = inputs[:, :3].copy()  # what the stand-in model computes
    predicted = expected.argmax(1)
    labels = [int(predicted[0]), int(predicted[1]), int((predicted[2] + 1) % 3)]  # the model is wrong on one
    classes = ["ok", 'cr"ack', "x"]
    for case, delta, code in (("exact", 0, 0), ("at-tolerance", 2, 0), ("beyond", 3, 1)):
        folder = tmp_path / case
        folder.mkdir()
        exp = expected.astype(np.int16)
        exp[1, 2] += delta
        _write_harness(folder, "int8", inputs, exp.astype(np.int8), labels, 2, classes)
        build = _compile(folder, "int8", "c++17")
        assert build.returncode == 0, build.stderr
        run = subprocess.run([str(folder / "harness")], capture_output=True, text=True)
        assert run.returncode == code, run.stdout
        out = parse_output(run.stdout)
        assert out["arena_used"] == 1234 and out["total"] == 3 and out["correct"] == 2
        assert [it["label"] for it in out["items"]] == [classes[i] for i in labels]
        assert [it["ok"] for it in out["items"]] == [True, code == 0, True]
        assert out["items"][1]["max_diff"] == delta and out["passed"] is (code == 0)


def labels_through_main_cc(tmp_path: Path, std: str, labels: list[str]) -> list[str]:
    """Generate main.cc with ``labels``, compile it (warnings as errors) against the stand-in interpreter, run it,
    and return the labels it prints through studio_model_label (for tests/core/test_cescape.py)."""
    n = len(labels)
    _write_harness(tmp_path, "float32", np.zeros((1, n), np.float32), np.zeros((1, n), np.float32), [0], 1e-3, labels)
    (tmp_path / "labels_main.cc").write_text(
        '#include <stdio.h>\n#include "studio_model.h"\n'
        "int main() { for (int i = 0; i < STUDIO_MODEL_NUM_CLASSES; ++i) printf(\"%s%c\", studio_model_label(i), 31);"
        " return studio_model_selftest(); }\n")
    build = _compile(tmp_path, "float32", std, ["-DSTUDIO_NO_MAIN"], (*mcu_bundle.HARNESS_SOURCES, "labels_main.cc"))
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(tmp_path / "harness")], capture_output=True)
    assert run.returncode == 0, run.stdout
    return [p.decode("utf-8") for p in run.stdout.split(b"\x1f")[:n]]


@pytest.mark.skipif(GXX is None, reason="g++ not installed")
def test_main_cc_counts_only_labelled_goldens_as_correct(tmp_path: Path) -> None:
    inputs = np.array([[5, 1, 0, 9], [0, 7, 1, 2]], np.int8)
    _write_harness(tmp_path, "int8", inputs, inputs[:, :3].copy(), [0, -1], 2, ["a", "b", "c"])  # 2nd: a blend
    assert _compile(tmp_path, "int8", "c++17").returncode == 0
    out = parse_output(subprocess.run([str(tmp_path / "harness")], capture_output=True, text=True).stdout)
    assert out["passed"] and (out["correct"], out["total"]) == (1, 1)
    assert [it["label"] for it in out["items"]] == ["a", "(blend)"]


@pytest.mark.skipif(GXX is None, reason="g++ not installed")
def test_main_cc_of_a_detector_answers_ok_or_not_ok_at_the_threshold(tmp_path: Path) -> None:
    """A detector's harness answers OK / NOT OK: its score output, dequantized, against the bundle's threshold,
    and counts those answers against good / defect (it printed 'predicted score' for every golden and 'CORRECT ON
    0 OF 0'). The stand-in model's score is its first input value: (q + 128) / 256 at this output scale."""
    inputs = np.array([[-50, 3], [100, 0], [10, -7]], np.int8)  # scores 0.30, 0.89, 0.54
    _write_harness(tmp_path, "int8", inputs, inputs[:, :1].copy(), [0, 1, 0], 2, ["OK", "NOT OK"], threshold=0.5)
    assert "#define STUDIO_MODEL_THRESHOLD 0.5f" in (tmp_path / "studio_model.h").read_text()
    build = _compile(tmp_path, "int8", "c++17")
    assert build.returncode == 0, build.stderr
    out = parse_output(subprocess.run([str(tmp_path / "harness")], capture_output=True, text=True).stdout)
    assert out["passed"] and [it["predicted"] for it in out["items"]] == ["OK", "NOT OK", "NOT OK"]
    assert [it["label"] for it in out["items"]] == ["OK", "NOT OK", "OK"]
    assert (out["correct"], out["total"]) == (2, 3)  # the third, good, is flagged: a false alarm
    with pytest.raises(ValueError):  # a detector's first output must be its score alone
        mcu_bundle.write_mcu_files(lambda *_: None, tdir=tmp_path, folder=tmp_path, model_bytes=b"",
                                   io=_io("int8", 2, 4), classes=["OK", "NOT OK"], arena={}, x=inputs,
                                   expected=inputs, labels=[0, 1, 0], tolerance=2, input_note="", threshold=0.5)


@pytest.mark.skipif(GXX is None, reason="g++ not installed")
def test_main_cc_refuses_to_compile_without_static_memory(tmp_path: Path) -> None:
    _write_harness(tmp_path, "int8", np.zeros((1, 4), np.int8), np.zeros((1, 3), np.int8), [0], 2, ["a", "b", "c"])
    cmd = [GXX, "-std=c++17", "-fsyntax-only", "-I", str(tmp_path / "stubs"), "-I", str(tmp_path),
           str(tmp_path / "main.cc")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode != 0 and proc.stderr.count("error:") == 1 and "TF_LITE_STATIC_MEMORY" in proc.stderr
