#!/usr/bin/env python3
"""Run an exported Small Model Studio model on a device: a Linux board, a Raspberry Pi, a PC.

Needs only numpy, pillow and ai-edge-litert (or tflite-runtime): no TensorFlow, no Studio.

    python run_model.py photo.jpg                 # one image: top-k classes and latency
    python run_model.py images/                   # every image in a folder
    python run_model.py recording.csv             # a sensor recording: its windows, then their mean
    python run_model.py --selftest                # prove this device reproduces the host's outputs

An anomaly detector's bundle (preprocess.json has an "anomaly" block) prints OK / NOT OK, the score and the
threshold per image (per recording: its highest window score); ``--map out.png`` draws the anomaly map.

The preprocessing below is a copy of the one used in training (``preprocess.json`` holds its parameters);
``--selftest`` runs the bundled golden inputs (real validation samples, in their raw form) through it and the
model, and compares with the outputs Studio recorded on the host. It exits with status 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff"}
MAX_PIXELS = 200_000_000
SPLIT_GAIN = 250  # studio.core.measure.SPLIT_GAIN: a split input's residual, in 1/250 of a step


# ---------------------------------------------------------------------------------------------- runtime
def interpreter_class():
    """LiteRT's interpreter, else tflite-runtime's (same API)."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter

        return Interpreter
    except ImportError:
        sys.exit("error: install ai-edge-litert (pip install ai-edge-litert) or tflite-runtime")


class Model:
    """A .tflite model with its quantization handled: float in, probabilities out."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        self.interp = interpreter_class()(model_path=str(path), num_threads=threads)
        self.interp.allocate_tensors()
        self.inp = self.interp.get_input_details()[0]
        self.out = self.interp.get_output_details()[0]

    def quantize(self, x: np.ndarray) -> np.ndarray:
        dtype = np.dtype(self.inp["dtype"])
        if dtype.kind == "f":
            return x.astype(dtype)
        scale, zero = self.inp["quantization"]
        info = np.iinfo(dtype)
        if int(self.inp["shape"][-1]) != 2 * int(x.shape[-1]):
            return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)
        v = np.asarray(x, dtype=np.float64) / scale + zero
        q = np.clip(np.round(v), info.min, info.max)
        # a split input (a sensor detector's int8 model): each value's code, then its rounding residual in
        # 1/SPLIT_GAIN of a step, centred in the type's range (as studio.core.measure.split_codes)
        mid = (int(info.min) + int(info.max) + 1) // 2
        r = np.clip(np.round((v - q) * SPLIT_GAIN), -(SPLIT_GAIN // 2), SPLIT_GAIN // 2) + mid
        return np.concatenate([q, r], axis=-1).astype(dtype)

    def run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """One preprocessed float32 sample -> (raw output, probabilities, milliseconds for invoke)."""
        xq = self.quantize(np.asarray(x, dtype=np.float32)[None, ...])
        self.interp.set_tensor(self.inp["index"], xq)
        t0 = time.perf_counter()
        self.interp.invoke()
        ms = (time.perf_counter() - t0) * 1000.0
        raw = self.interp.get_tensor(self.out["index"])[0].copy()
        dtype = np.dtype(self.out["dtype"])
        if dtype.kind == "f":
            probs = raw.astype(np.float32)
        else:
            scale, zero = self.out["quantization"]
            probs = ((raw.astype(np.float32) - zero) * scale).astype(np.float32)
        return raw, probs, ms


# ---------------------------------------------------------------------------------------------- images
# A copy of studio.core.data.image.load_image: keep the two identical (Studio's tests compare them).
def _pil():
    from PIL import Image, ImageFile, ImageOps

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    return Image, ImageFile, ImageOps


def _to_8bit(img):
    Image, _, _ = _pil()
    mode = img.mode
    if mode.startswith("I;16"):
        arr = np.asarray(img, dtype=np.uint16)
        return Image.fromarray((arr >> 8).astype(np.uint8), "L")
    if mode == "I":
        arr = np.asarray(img, dtype=np.int64)
        if arr.size and arr.max() > 255:
            arr = np.clip(arr, 0, 65535) >> 8
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")
    if mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        finite = arr[np.isfinite(arr)]
        if finite.size and finite.max() <= 1.0:
            arr = arr * 255.0
        arr = np.nan_to_num(arr, nan=0.0, posinf=255.0, neginf=0.0)
        return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L")
    return img


def _palette_is_grey(img) -> bool:
    try:
        pal = img.getpalette() or []
    except Exception:  # noqa: BLE001
        return False
    triples = [pal[i : i + 3] for i in range(0, len(pal) - 2, 3)]
    return bool(triples) and all(t[0] == t[1] == t[2] for t in triples)


def _flatten(img):
    Image, _, _ = _pil()
    img = _to_8bit(img)
    mode = img.mode
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if mode == "1":
        return img.convert("L")
    if mode == "CMYK":
        return img.convert("RGB")
    if has_alpha:
        grey = mode in ("L", "LA", "La") or (mode == "P" and _palette_is_grey(img))
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        out = Image.alpha_composite(white, rgba).convert("RGB")
        return out.convert("L") if grey else out
    if mode in ("L", "RGB"):
        return img
    return img.convert("RGB")


def load_image(path, size: int, channels: int) -> np.ndarray:
    """Decode to uint8 [size, size, channels]: EXIF orientation, 16-bit -> 8-bit, CMYK -> RGB, alpha on
    white, grey or RGB, bilinear resize straight to size x size (squashed, not cropped)."""
    Image, _, ImageOps = _pil()
    with Image.open(path) as img:
        img.load()
        try:
            img = ImageOps.exif_transpose(img)
        except Exception:  # noqa: BLE001
            pass
        img = _flatten(img)
        img = img.convert("L" if channels == 1 else "RGB")
        if img.size != (size, size):
            img = img.resize((size, size), Image.BILINEAR)
        arr = np.asarray(img, dtype=np.uint8)
    if channels == 1:
        arr = arr[:, :, None]
    return arr


def preprocess_image(pixels: np.ndarray, spec: dict) -> np.ndarray:
    """uint8 pixels -> model input: pixel * scale + offset (float32, as in training)."""
    return (np.asarray(pixels, dtype=np.float32) * np.float32(spec["pixel_scale"])
            + np.float32(spec["pixel_offset"])).astype(np.float32)


# ---------------------------------------------------------------------------------------------- sensors
# A copy of studio.core.data.sensor.shaping: keep the two identical (Studio's tests compare them).
def normalize_window(window: np.ndarray, spec: dict) -> np.ndarray:
    """Raw [window, channels] -> model input: (x - mean) / std per channel with the training statistics
    ("global"), or z-normalized over the window's own rows per channel ("recording")."""
    x = np.asarray(window, dtype=np.float32)
    if spec.get("norm", "global") == "recording":
        m = x.mean(axis=0, keepdims=True)
        s = x.std(axis=0, keepdims=True)
        return ((x - m) / np.where(s > 1e-8, s, np.float32(1.0))).astype(np.float32)
    mean = np.asarray(spec["mean"], dtype=np.float32)
    std = np.asarray(spec["std"], dtype=np.float32)
    std = np.where(std > 0, std, np.float32(1.0))
    return ((x - mean) / std).astype(np.float32)


def read_csv_channels(path: Path, spec: dict) -> np.ndarray:
    """A recording CSV -> float32 [rows, channels] in the training channel order (columns found by name)."""
    names = list(spec["channels"])
    with open(path, newline="", encoding="utf-8-sig") as fh:
        sample = fh.read(4096)
        fh.seek(0)
        delimiter = max([",", ";", "\t"], key=sample.split("\n")[0].count)
        reader = csv.reader(fh, delimiter=delimiter)
        header = [h.strip() for h in next(reader)]
        lower = [h.lower() for h in header]
        try:
            cols = [lower.index(n.lower()) for n in names]
        except ValueError:
            sys.exit(f"error: {path}: needs the columns {', '.join(names)}; found {', '.join(header)}")
        rows = []
        for line_no, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            try:
                rows.append([float(row[c]) for c in cols])
            except (ValueError, IndexError):
                sys.exit(f"error: {path}, line {line_no}: a channel value is missing or not a number")
    return np.asarray(rows, dtype=np.float32).reshape(-1, len(names))


def resample(signal: np.ndarray, length: int) -> np.ndarray:
    signal = np.asarray(signal, dtype=np.float32)
    n = len(signal)
    if n == length:
        return signal.copy()
    if n == 1:
        return np.repeat(signal, length, axis=0)
    src = np.linspace(0.0, n - 1.0, length)
    return np.stack([np.interp(src, np.arange(n), signal[:, c]) for c in range(signal.shape[1])],
                    axis=1).astype(np.float32)


def pad_to(signal: np.ndarray, length: int) -> np.ndarray:
    signal = np.asarray(signal, dtype=np.float32)
    if len(signal) > length:
        return resample(signal, length)
    if len(signal) == length:
        return signal.copy()
    return np.concatenate([signal, np.repeat(signal[-1:], length - len(signal), axis=0)]).astype(np.float32)


def shape_recording(signal: np.ndarray, window: int, stride: int, policy: str) -> np.ndarray:
    """Raw model inputs [n, window, channels] of one recording: whole ("resample" / "pad") or windows (a
    recording shorter than one window is padded by repeating its last row)."""
    if policy == "resample":
        return resample(signal, window)[None]
    if policy == "pad" or len(signal) <= window:
        return pad_to(signal, window)[None]
    starts = range(0, len(signal) - window + 1, stride)
    return np.stack([signal[s : s + window] for s in starts]).astype(np.float32)


# ---------------------------------------------------------------------------------------------- commands
def load_spec() -> dict:
    return json.loads((HERE / "preprocess.json").read_text(encoding="utf-8"))


def top_k(probs: np.ndarray, labels: list[str], k: int) -> list[tuple[str, float]]:
    order = np.argsort(-probs, kind="stable")[:k]
    return [(labels[i], float(probs[i])) for i in order]


def classify(target: Path, spec: dict, model: Model, k: int, as_json: bool) -> int:
    labels = spec["classes"]
    results = []
    recording: dict = {}
    if spec["task"] == "image":
        img = spec["image"]
        files = (sorted(p for p in target.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
                 if target.is_dir() else [target])
        if not files:
            sys.exit(f"error: no images in {target}")
        for f in files:
            try:
                x = preprocess_image(load_image(f, img["size"], img["channels"]), img)
            except Exception as exc:  # noqa: BLE001 - report the file and go on with the rest
                print(f"{f}: cannot decode ({exc})", file=sys.stderr)
                continue
            _, probs, ms = model.run(x)
            results.append({"input": str(f), "top": top_k(probs, labels, k), "latency_ms": ms})
    else:
        sen = spec["sensor"]
        signal = read_csv_channels(target, sen)
        if not len(signal):
            sys.exit(f"error: {target} has no data rows")
        policy = sen.get("length_policy", "windows")
        windows = shape_recording(signal, sen["window"], sen["stride"], policy)
        all_probs = []
        for i, w in enumerate(windows):
            _, probs, ms = model.run(normalize_window(w, sen))
            all_probs.append(probs)
            where = f"@{i * sen['stride']}" if policy == "windows" and len(windows) > 1 else ""
            results.append({"input": f"{target}{where}", "top": top_k(probs, labels, k), "latency_ms": ms})
        mean = np.mean(np.stack(all_probs), axis=0)
        recording = {"input": str(target), "rows": int(len(signal)), "windows": int(len(windows)),
                     "how": sen.get("description") or f"{policy}, window {sen['window']}",
                     "rule": "the mean of the windows' probabilities", "top": top_k(mean, labels, k)}
    if as_json:
        print(json.dumps({"recording": recording, "windows": results} if spec["task"] == "sensor" else results,
                         indent=2))
    else:
        for r in results:
            tops = "  ".join(f"{name} {p * 100:5.1f}%" for name, p in r["top"])
            print(f"{r['input']}: {tops}  ({r['latency_ms']:.2f} ms)")
        if spec["task"] == "sensor":
            tops = "  ".join(f"{name} {p * 100:5.1f}%" for name, p in recording["top"])
            print(f"recording {target} ({recording['rows']} rows, {recording['how']}): {tops}")
            print(f"  = {recording['rule']} over {recording['windows']} window(s); "
                  f"the recording is classified as {recording['top'][0][0]}")
        lat = np.asarray([r["latency_ms"] for r in results])
        if len(lat):
            print(f"latency: mean {lat.mean():.2f} ms, p95 {np.percentile(lat, 95):.2f} ms per sample")
    return 0


def selftest(spec: dict, model: Model, as_json: bool = False) -> int:
    """Golden inputs -> this device's preprocessing and runtime -> compare with the host's recorded outputs.

    Two separate results: whether this device *reproduces Studio's outputs* (the exit status), and how many
    golden examples the model gets *correct* (their true labels are recorded; that is about the model)."""
    golden = json.loads((HERE / "golden" / "golden.json").read_text(encoding="utf-8"))
    digest = hashlib.sha256((HERE / "model.tflite").read_bytes()).hexdigest()
    warning = None
    if spec.get("model_sha256") and digest != spec["model_sha256"]:
        warning = "warning: model.tflite is not the file Studio exported (checksum differs)"
        if not as_json:
            print(warning)
    tol = float(golden["tolerance"])
    windows = None
    if spec["task"] == "sensor":
        with np.load(HERE / "golden" / golden["windows_file"], allow_pickle=False) as data:
            windows = data["windows"]
    results = []
    for i, item in enumerate(golden["items"]):
        if spec["task"] == "image":
            img = spec["image"]
            x = preprocess_image(load_image(HERE / "golden" / item["file"], img["size"], img["channels"]), img)
            name = item["file"]
        else:
            x = normalize_window(windows[i], spec["sensor"])
            name = item.get("name") or f"window {i}"
        raw, _, _ = model.run(x)
        expected = np.asarray(item["expected"], dtype=np.float64)
        got = np.asarray(raw, dtype=np.float64).reshape(-1)
        if got.shape != expected.shape:
            results.append({"name": name, "label": item.get("label"), "predicted": None, "max_diff": None,
                            "ok": False, "correct": False})
            continue
        diff = float(np.max(np.abs(got - expected))) if got.size else 0.0
        predicted = spec["classes"][int(np.argmax(got))]
        label = item.get("label")  # None: a boundary blend between two real samples, no true label
        results.append({"name": name, "label": label, "predicted": predicted, "max_diff": diff,
                        "ok": diff <= tol, "correct": None if label is None else predicted == label})
    n = len(results)
    same = sum(r["ok"] for r in results)
    correct = sum(bool(r["correct"]) for r in results)
    labelled = sum(r["label"] is not None for r in results)
    if as_json:
        print(json.dumps({"ok": same == n, "reproduced": same, "correct": correct, "labelled": labelled,
                          "total": n, "tolerance": tol, "runtime": "LiteRT", "warning": warning,
                          "items": results}, indent=2))
        return 0 if same == n else 1
    for r in results:
        if r["predicted"] is None:
            print(f"FAIL {r['name']}: the output has a different size from the recorded one")
            continue
        truth = "(blend)" if r["label"] is None else r["label"]
        print(f"{'ok  ' if r['ok'] else 'FAIL'} {r['name']}: true {truth}, predicted {r['predicted']}, "
              f"max |diff| {r['max_diff']:g} (tolerance {tol:g})")
    if same < n:
        print(f"SELFTEST FAILED: {n - same} of {n} golden inputs differ from Studio's outputs")
    else:
        print(f"SELFTEST PASSED: {n} of {n} golden inputs reproduce Studio's outputs")
    print(f"CORRECT ON {correct} OF {labelled} golden examples (their true labels; chosen near the decision "
          "boundary)" + (f"; {n - labelled} boundary blends have no label" if labelled < n else ""))
    return 0 if same == n else 1


# ---------------------------------------------------------------------------------------------- anomaly detectors
# A bundle whose preprocess.json has an "anomaly" block is a detector learned from good examples only: its
# outputs are a score (and, for images, a map of the image's regions); NOT OK when score > threshold.
class Detector:
    """A detector .tflite: float in, (score, map or None, milliseconds) out; outputs found by their shapes."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        self.base = Model(path, threads)
        self.score_out = self.map_out = None
        for d in self.base.interp.get_output_details():
            size = int(np.prod(d["shape"][1:]))
            if size == 1 and self.score_out is None:
                self.score_out = d
            elif size > 1 and self.map_out is None:
                self.map_out = d
        if self.score_out is None:
            sys.exit("error: this model has no score output: is it an anomaly detector?")

    @staticmethod
    def _deq(raw: np.ndarray, d: dict) -> np.ndarray:
        if np.dtype(d["dtype"]).kind == "f":
            return raw.astype(np.float64)
        scale, zero = d["quantization"]
        return (raw.astype(np.float64) - zero) * scale

    def run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, float]:
        """One preprocessed sample -> (raw score [1], raw map or None, ms)."""
        interp = self.base.interp
        interp.set_tensor(self.base.inp["index"], self.base.quantize(np.asarray(x, dtype=np.float32)[None, ...]))
        t0 = time.perf_counter()
        interp.invoke()
        ms = (time.perf_counter() - t0) * 1000.0
        score = interp.get_tensor(self.score_out["index"]).reshape(-1).copy()
        amap = interp.get_tensor(self.map_out["index"])[0, ..., 0].copy() if self.map_out is not None else None
        return score, amap, ms

    def score(self, x: np.ndarray) -> tuple[float, np.ndarray | None, float]:
        raw, amap, ms = self.run(x)
        value = float(self._deq(raw, self.score_out)[0])
        return value, (self._deq(amap, self.map_out) if amap is not None else None), ms


def anomaly_windows(signal: np.ndarray, window: int, stride: int) -> np.ndarray:
    """Windows at the stride plus one ending at the last row when the stride leaves a tail (as Studio cuts);
    a recording shorter than one window is padded to one (its last row repeated)."""
    if not len(signal):
        return np.empty((0, window, signal.shape[1]), dtype=np.float32)
    if len(signal) <= window:
        return pad_to(signal, window)[None]
    starts = list(range(0, len(signal) - window + 1, stride))
    if starts[-1] != len(signal) - window:
        starts.append(len(signal) - window)
    return np.stack([signal[s : s + window] for s in starts]).astype(np.float32)


def save_map(path: Path, image: np.ndarray, amap: np.ndarray, threshold: float) -> None:
    """The image with regions above the threshold tinted red (stronger = more anomalous)."""
    from PIL import Image

    rgb = image if image.shape[2] == 3 else np.repeat(image, 3, axis=2)
    heat = Image.fromarray(np.clip((amap - threshold + 2.0) / 4.0 * 255, 0, 255).astype(np.uint8))
    heat = np.asarray(heat.resize((rgb.shape[1], rgb.shape[0]), Image.BILINEAR), dtype=np.float32)[..., None] / 255
    out = rgb.astype(np.float32) * (1 - 0.6 * heat) + np.array([255.0, 0, 0]) * 0.6 * heat
    Image.fromarray(np.clip(out, 0, 255).astype(np.uint8)).save(path)


def check(target: Path, spec: dict, det: Detector, threshold: float, as_json: bool, map_path: str | None) -> int:
    """OK / NOT OK per image (or per recording: its highest window score), with the score and the threshold."""
    results = []
    if spec["task"] == "image":
        img = spec["image"]
        files = (sorted(p for p in target.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
                 if target.is_dir() else [target])
        for f in files:
            try:
                pixels = load_image(f, img["size"], img["channels"])
            except Exception as exc:  # noqa: BLE001 - report the file and go on with the rest
                print(f"{f}: cannot decode ({exc})", file=sys.stderr)
                continue
            score, amap, ms = det.score(preprocess_image(pixels, img))
            results.append({"input": str(f), "score": score, "latency_ms": ms})
            if map_path and amap is not None and len(files) == 1:
                save_map(Path(map_path), pixels, amap, threshold)
    else:
        sen = spec["sensor"]
        windows = anomaly_windows(read_csv_channels(target, sen), sen["window"], sen["stride"])
        if not len(windows):
            sys.exit(f"error: {target} has no rows")
        scores = [det.score(normalize_window(w, sen))[0] for w in windows]  # ("global" normalization)
        worst = int(np.argmax(scores))
        results.append({"input": str(target), "score": float(scores[worst]), "windows": len(scores),
                        "worst_window": worst, "window_scores": [round(s, 4) for s in scores]})
    for r in results:
        r["verdict"] = "NOT OK" if r["score"] > threshold else "OK"
        r["threshold"] = threshold
    if as_json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            extra = f", worst of {r['windows']} windows: #{r['worst_window']}" if "windows" in r else ""
            print(f"{r['input']}: {r['verdict']}  score {r['score']:.4g}  threshold {threshold:.4g}{extra}")
    return 0


def anomaly_selftest(spec: dict, det: Detector, as_json: bool = False) -> int:
    """Golden inputs -> this device -> the host's raw score (and map) within tolerance; verdicts vs labels."""
    golden = json.loads((HERE / "golden" / "golden.json").read_text(encoding="utf-8"))
    digest = hashlib.sha256((HERE / "model.tflite").read_bytes()).hexdigest()
    warning = None
    if spec.get("model_sha256") and digest != spec["model_sha256"]:
        warning = "warning: model.tflite is not the file Studio exported (checksum differs)"
        if not as_json:
            print(warning)
    tol = float(golden["tolerance"])
    results = []
    integer = golden.get("tolerance_kind", "absolute") == "absolute"
    dtype = np.dtype(det.score_out["dtype"]).name
    if golden.get("output_dtype") and dtype != golden["output_dtype"]:
        print(f"SELFTEST FAILED: the model's score is {dtype}, the golden outputs were recorded from a "
              f"{golden['output_dtype']} model: this is not the model Studio exported")
        return 1
    threshold = float(spec["anomaly"]["threshold"])
    windows = None
    if spec["task"] == "sensor":
        with np.load(HERE / "golden" / golden["windows_file"], allow_pickle=False) as data:
            windows = data["windows"]
    failures = correct = 0
    for i, item in enumerate(golden["items"]):
        if spec["task"] == "image":
            img = spec["image"]
            x = preprocess_image(load_image(HERE / "golden" / item["file"], img["size"], img["channels"]), img)
            name = item["file"]
        else:
            x = normalize_window(windows[i], spec["sensor"])
            name = f"window {i}"
        raw, amap, _ = det.run(x)
        got = [np.asarray(raw, np.float64).reshape(-1)]
        want = [np.asarray(item["expected_score"], np.float64)]
        if "expected_map" in item:
            got.append(np.asarray(amap, np.float64).reshape(-1) if amap is not None else np.zeros(0))
            want.append(np.asarray(item["expected_map"], np.float64))
        diff = 0.0
        for g, w in zip(got, want):
            if g.shape != w.shape:
                diff = float("inf")
                break
            d = np.abs(g - w) if integer else np.abs(g - w) / np.maximum(1.0, np.abs(w))
            diff = max(diff, float(d.max()) if d.size else 0.0)
        ok = diff <= tol
        failures += 0 if ok else 1
        score = float(det._deq(raw, det.score_out)[0])
        verdict = "NOT OK" if score > threshold else "OK"
        right = (verdict == "NOT OK") == bool(item.get("defect"))
        correct += int(right)
        results.append({"name": name, "label": item["label"], "predicted": verdict, "score": score,
                        "max_diff": diff, "ok": ok, "correct": right})
        if as_json:
            continue
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {verdict} (score {score:.4g}, threshold {threshold:.4g}; true "
              f"label {item['label']}{'' if right else ' - missed' if item.get('defect') else ' - false alarm'}), "
              f"max diff {diff:g} (tolerance {tol:g})")
    n = len(golden["items"])
    if as_json:
        print(json.dumps({"ok": not failures, "reproduced": n - failures, "correct": correct, "labelled": n,
                          "total": n, "tolerance": tol, "threshold": threshold, "runtime": "LiteRT",
                          "warning": warning, "items": results}, indent=2))
        return 1 if failures else 0
    print(f"correct on these examples: {correct} of {n} verdicts agree with the true labels")
    if failures:
        print(f"SELFTEST FAILED: {failures} of {n} golden inputs differ from the host's outputs")
        return 1
    print(f"SELFTEST PASSED: {n} golden inputs reproduce Studio's answers")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Classify images or sensor CSVs with the exported model.")
    parser.add_argument("input", nargs="?", help="an image file, a folder of images, or a sensor CSV")
    parser.add_argument("--top-k", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument("--model", default=str(HERE / "model.tflite"))
    parser.add_argument("--selftest", action="store_true", help="check the golden inputs and exit")
    parser.add_argument("--threshold", type=float, help="anomaly detectors: use this threshold instead")
    parser.add_argument("--map", help="anomaly detectors, one image: write its anomaly map over it to this PNG")
    args = parser.parse_args(argv)
    spec = load_spec()
    if spec.get("anomaly"):
        det = Detector(Path(args.model), threads=args.threads)
        if args.selftest:
            return anomaly_selftest(spec, det, args.json)
        if not args.input:
            parser.error("give an input (image, folder or CSV), or --selftest")
        target = Path(args.input)
        if not target.exists():
            sys.exit(f"error: {target} does not exist")
        threshold = float(spec["anomaly"]["threshold"] if args.threshold is None else args.threshold)
        return check(target, spec, det, threshold, args.json, args.map)
    model = Model(Path(args.model), threads=args.threads)
    if args.selftest:
        return selftest(spec, model, args.json)
    if not args.input:
        parser.error("give an input (image, folder or CSV), or --selftest")
    target = Path(args.input)
    if not target.exists():
        sys.exit(f"error: {target} does not exist")
    return classify(target, spec, model, max(1, args.top_k), args.json)


if __name__ == "__main__":
    sys.exit(main())
