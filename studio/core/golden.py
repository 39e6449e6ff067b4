"""Golden inputs of a bundle: real samples in their raw form, with their true labels and the host's outputs.

A bundle proves itself on the device by running these samples through the device's own preprocessing and
runtime and comparing every output value with what Studio recorded. So that the comparison can fail, the
samples are the ones whose outputs are *not* saturated: per class the least confident correctly classified
sample (or, for a class the model never gets right, the closest miss), then the most borderline sample of all
(smallest margin between the two best classes), then more of the same round-robin. A one-hot output (127 /
-128) would only test the top-1 class; these test every output value.

The raw form matters: image goldens are the original files (so the harness's decoding is tested too), sensor
goldens are un-normalized model inputs (windows, or whole recordings resampled / padded as the run's input spec
says). Every item carries its true label, so a self-test can say both "reproduces
Studio's answers" and "correct on N of M examples".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from studio.core.fsutil import safe_name

GOLDEN_COUNT = 8  # goldens at least (when the validation split has that many samples)
MAX_GOLDEN = 16  # and at most: one per class plus a borderline one, up to this
MCU_GOLDEN_BYTES = 128 * 1024  # flash the golden inputs of an MCU bundle may take (at least 2 goldens)
MAX_CANDIDATES = 256  # validation samples scored to choose from (stratified by class)
MAX_GOLDEN_FILE_BYTES = 1024 * 1024
SATURATED = 0.99  # top probability above which a golden tests little more than its top-1 class
MIN_UNSATURATED = 2  # fewer unsaturated real goldens than this: add boundary blends
BLEND_STEPS = 10


@dataclass
class Golden:
    """Raw golden inputs: image files (name, bytes), or raw (un-normalized) sensor windows [n, window, ch].

    ``labels`` are the samples' true class names (not what the model predicts), None for a boundary blend
    (see :func:`boundary_blend`); ``why`` says why each was chosen; ``names`` name sensor inputs by source."""

    labels: list[str | None]
    files: list[tuple[str, bytes]] | None = None
    windows: np.ndarray | None = None
    why: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)


def golden_limit(n_classes: int, input_bytes: int | None = None) -> int:
    """How many goldens: one per class plus a borderline one, at least GOLDEN_COUNT, at most MAX_GOLDEN; for an
    MCU bundle (``input_bytes`` given: one quantized input's size) also what fits in MCU_GOLDEN_BYTES."""
    n = min(max(GOLDEN_COUNT, n_classes + 1), MAX_GOLDEN)
    if input_bytes:
        n = min(n, max(2, MCU_GOLDEN_BYTES // max(1, int(input_bytes))))
    return n


def choose_golden(probs: np.ndarray, y: np.ndarray, limit: int) -> list[tuple[int, str]]:
    """Indices of the golden samples in priority order, each with the reason it was chosen.

    ``probs`` [n, classes] are the exported model's probabilities, ``y`` the true labels. Classes take turns;
    each class's goldens are misclassified as often as the model misclassifies that class (rounded, so a class
    the model gets 95 % right gets correct goldens, one it gets half wrong gets half misses), and within each
    kind the samples nearest the decision boundary come first: the least confident correct ones, the closest
    misses. After the first round comes the most borderline sample of all (smallest top-2 margin).
    """
    probs, y = np.asarray(probs, dtype=np.float64), np.asarray(y, dtype=np.int64)
    if not len(y):
        return []
    pred = np.argmax(probs, axis=1)
    p_true = probs[np.arange(len(y)), y]
    top2 = np.sort(probs, axis=1)[:, -2:] if probs.shape[1] > 1 else np.zeros((len(y), 2))
    margin = top2[:, 1] - top2[:, 0]
    per_class = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        right, wrong = idx[pred[idx] == c], idx[pred[idx] != c]
        per_class.append({"right": list(right[np.argsort(p_true[right], kind="stable")]),
                          "wrong": list(wrong[np.argsort(-p_true[wrong], kind="stable")]),
                          "miss_rate": len(wrong) / len(idx), "taken": 0, "misses": 0})
    chosen: list[tuple[int, str]] = []
    taken: set[int] = set()

    def take_from(q: dict[str, Any]) -> None:
        q["taken"] += 1
        want_miss = q["misses"] < int(np.floor(q["taken"] * q["miss_rate"] + 0.5))
        kind = "wrong" if (want_miss and q["wrong"]) or not q["right"] else "right"
        while q[kind] and int(q[kind][0]) in taken:
            q[kind].pop(0)
        if not q[kind]:
            return
        i = int(q[kind].pop(0))
        q["misses"] += kind == "wrong"
        why = (f"least confident correct (p={p_true[i]:.2f} for its class)" if kind == "right" else
               f"closest miss (p={p_true[i]:.2f} for its class; {q['miss_rate'] * 100:.0f} % of the class missed)")
        chosen.append((i, why))
        taken.add(i)

    rnd = 0
    while len(chosen) < limit and any(q["right"] or q["wrong"] for q in per_class):
        for q in per_class:
            if len(chosen) < limit and (q["right"] or q["wrong"]):
                take_from(q)
        if rnd == 0 and len(chosen) < limit:
            rest = [int(i) for i in np.argsort(margin, kind="stable") if int(i) not in taken]
            if rest:
                chosen.append((rest[0], f"borderline (margin {margin[rest[0]]:.2f} between the two best classes)"))
                taken.add(rest[0])
        rnd += 1
    return chosen[:limit]


def model_inputs(spec: dict[str, Any], golden: Golden, folder: Path) -> np.ndarray:
    """The goldens as float32 model inputs, preprocessed by Studio's own code (not the harness's copy).

    ``folder`` holds the golden image files (the bundle's ``golden/``)."""
    from studio.core.data.sensor.shaping import normalize
    from studio.core.pipeline import InputSpec

    ispec = InputSpec.from_json(spec)
    if spec["kind"] == "image":
        from studio.core.data.image import load_image

        return ispec.preprocess(
            np.stack([load_image(Path(folder) / name, ispec.size, ispec.channels) for name, _ in golden.files or []]))
    return normalize(golden.windows, ispec.norm, ispec.mean, ispec.std)


def items(spec: dict[str, Any], golden: Golden, raw: np.ndarray) -> list[dict]:
    """golden.json items: true label, the host's raw output and its top-1, the file (images) and why chosen."""
    names = [name for name, _ in golden.files or []] if spec["kind"] == "image" else list(golden.names)
    out = []
    for i in range(len(golden.labels)):
        r = np.asarray(raw[i]).reshape(-1)
        item: dict[str, Any] = {"label": golden.labels[i], "expected": r.tolist(), "expected_top1": int(np.argmax(r))}
        if spec["kind"] == "image":
            item["file"] = names[i]
        elif i < len(names):
            item["name"] = names[i]
        if i < len(golden.why):
            item["why"] = golden.why[i]
        if golden.labels[i] is None:
            item["blend"] = True  # a boundary blend: no true label, not counted in "correct on N of M"
        out.append(item)
    return out


def boundary_blend(score: Callable[[np.ndarray], np.ndarray], a: np.ndarray, b: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, float] | None:
    """A raw input between two real ones of different predicted classes, where the model's answer changes.

    When a model is saturated on every real sample (probabilities 1 / 0, int8 outputs 127 / -128), no real
    golden tests more than the top-1 class: a slightly different model would still pass. Mixing ``t * a +
    (1 - t) * b`` (pixels rounded for uint8 images) and bisecting on ``t`` finds inputs on the decision boundary,
    whose outputs are graded. Returns the least saturated probe (raw input, probabilities, t), or None when
    ``a`` and ``b`` get the same answer. ``score(raw [n, ...]) -> probabilities [n, classes]``."""
    def mix(t: float) -> np.ndarray:
        m = t * a.astype(np.float32) + (1.0 - t) * b.astype(np.float32)
        return np.clip(np.rint(m), 0, 255).astype(np.uint8) if a.dtype == np.uint8 else m.astype(a.dtype)

    ends = score(np.stack([a, b]))
    top_a = int(np.argmax(ends[0]))
    if top_a == int(np.argmax(ends[1])):
        return None
    lo, hi, best = 0.0, 1.0, None
    for _ in range(BLEND_STEPS):
        t = (lo + hi) / 2
        raw = mix(t)
        p = score(raw[None])[0]
        if best is None or p.max() < best[1].max():
            best = (raw, p, t)
        lo, hi = (lo, t) if int(np.argmax(p)) == top_a else (t, hi)
    return best


def _scorer(model_bytes: bytes, prepare: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """raw inputs -> the model's probabilities (one LiteRT interpreter, kept)."""
    from studio.core.measure import dequantize_output, litert_interpreter, quantize_input

    interp = litert_interpreter(model_bytes)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]

    def score(raw: np.ndarray) -> np.ndarray:
        xq = quantize_input(prepare(raw), inp)
        rows = []
        for i in range(len(xq)):
            interp.set_tensor(inp["index"], xq[i : i + 1])
            interp.invoke()
            rows.append(interp.get_tensor(out["index"])[0].copy())
        return dequantize_output(np.stack(rows), out)

    return score


def _add_blends(golden: Golden, raws: list[np.ndarray], probs: np.ndarray, score: Callable, n: int) -> list:
    """Up to ``n`` boundary blends between goldens of different predicted classes; returns their raw inputs."""
    pred = [int(np.argmax(p)) for p in probs]
    names = golden.names or [f for f, _ in golden.files or []]
    blends = []
    for i in range(len(raws)):
        for j in range(i + 1, len(raws)):
            if len(blends) >= n or pred[i] == pred[j] or any(set(k) == {pred[i], pred[j]} for k, _ in blends):
                continue
            found = boundary_blend(score, raws[i], raws[j])
            if found is not None:
                raw, p, t = found
                why = (f"boundary blend: {t:.0%} of {names[i]} ({golden.labels[i]}) + {1 - t:.0%} of {names[j]} "
                       f"({golden.labels[j]}), top probability {p.max():.2f} (real samples are saturated)")
                blends.append(((pred[i], pred[j]), (raw, why, f"blend of {names[i]} and {names[j]}")))
    return [b for _, b in blends]


def from_project(project: Any, spec: dict[str, Any], classes: list[str], model_bytes: bytes, limit: int,
                 progress: Any = None, detector: dict[str, Any] | None = None) -> Golden:
    """Golden samples from the project's validation split (train when there is none), scored by the exported
    model itself (LiteRT) and chosen by :func:`choose_golden`; when the model is saturated on them, some make
    room for boundary blends (:func:`boundary_blend`, label None). ``detector``: an anomaly variant's
    ``anomaly`` block; goldens are then chosen good vs defect by their score's distance to the threshold
    (:func:`_detector_probs`), with no blends."""
    from studio.core.convert import representative_indices
    from studio.core.data import split_samples
    from studio.core.data.image import load_image
    from studio.core.data.sensor.shaping import normalize, shape_all, split_recordings
    from studio.core.measure import run_litert
    from studio.core.pipeline import InputSpec

    ispec = InputSpec.from_json(spec)
    manifest = project.load_manifest()
    split = "val" if manifest.get("split_counts", {}).get("val") else "train"
    if spec["kind"] == "image":
        paths, y, _ = split_samples(project, split, manifest)
        if not paths:
            paths, y, _ = split_samples(project, "train", manifest)
        cand = np.sort(representative_indices(y, MAX_CANDIDATES, seed=7))
        raw_of = {int(i): load_image(paths[i], ispec.size, ispec.channels) for i in cand}
        prepare = ispec.preprocess
    else:
        signals, rec_labels, rec_ids = split_recordings(project, split, manifest)
        # raw inputs (the harness normalizes), and per input its recording
        raw_windows, groups = shape_all(signals, ispec.window, ispec.stride, ispec.length_policy)
        y = rec_labels[groups] if len(groups) else rec_labels
        cand = np.sort(representative_indices(y, MAX_CANDIDATES, seed=7))
        raw_of = {int(i): raw_windows[i] for i in cand}

        def prepare(raw: np.ndarray) -> np.ndarray:
            return normalize(raw, ispec.norm, ispec.mean, ispec.std)

    x_cand = prepare(np.stack([raw_of[int(i)] for i in cand]))
    if detector is not None:
        probs, y_choose = _detector_probs(model_bytes, x_cand, y[cand], classes, detector)
    else:
        probs, y_choose = run_litert(model_bytes, x_cand, progress=progress).probs, y[cand]
    chosen = choose_golden(probs, y_choose, limit)
    unsaturated = sum(probs[i].max() < SATURATED for i, _ in chosen)
    n_blend = (min(3, max(1, limit // 3)) if unsaturated < MIN_UNSATURATED and len(chosen) > 1
               and detector is None else 0)
    chosen = _make_room(chosen, probs, n_blend) if n_blend else chosen
    picked = [int(cand[i]) for i, _ in chosen]
    golden = Golden([classes[int(y[i])] for i in picked], why=[w for _, w in chosen])
    if spec["kind"] == "image":
        golden.files = [_golden_file(Path(paths[i]), f"{k:02d}_{safe_name(golden.labels[k])}", ispec)
                        for k, i in enumerate(picked)]
    else:
        golden.names = _sensor_names(manifest, rec_ids, groups, picked, ispec)
    blends = (_add_blends(golden, [raw_of[i] for i in picked], probs[[i for i, _ in chosen]],
                          _scorer(model_bytes, prepare), n_blend) if n_blend else [])
    for raw, why, name in blends:
        golden.labels.append(None)
        golden.why.append(why)
        if spec["kind"] == "image":
            golden.files.append((f"{len(golden.labels) - 1:02d}_blend.png", _png(raw)))
        else:
            golden.names.append(name)
    if spec["kind"] != "image":
        raws = [raw_of[i] for i in picked] + [raw for raw, _, _ in blends]
        golden.windows = np.asarray(np.stack(raws), dtype=np.float32)
    return golden


def _detector_probs(model_bytes: bytes, x: np.ndarray, y: np.ndarray, classes: list[str],
                    detector: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """An anomaly detector's scores as two-column "probabilities" [good, defect] (a logistic of the score's
    distance to the threshold, in units of the scores' spread) and the good (0) / defect (1) labels, so that
    :func:`choose_golden` picks the goldens nearest the threshold of each side, and the closest misses."""
    from studio.core.anomaly.litert import run_detector

    scores = np.asarray(run_detector(model_bytes, x).scores, dtype=np.float64)
    normal = classes.index(detector["normal_class"]) if detector.get("normal_class") in classes else 0
    spread = float(np.std(scores)) or 1.0
    p_defect = 1.0 / (1.0 + np.exp(-np.clip((scores - float(detector["threshold"])) / spread, -50, 50)))
    return np.stack([1.0 - p_defect, p_defect], axis=1), (np.asarray(y) != normal).astype(np.int64)


def _make_room(chosen: list[tuple[int, str]], probs: np.ndarray, n: int) -> list[tuple[int, str]]:
    """``chosen`` without ``n`` of its items (at least 2 stay) for boundary blends: first a "borderline" sample
    that is not (saturated: its margin is ~1), then the last ones (the first round, one per class, stays)."""
    keep = max(2, len(chosen) - n)
    fake = [k for k, (i, why) in enumerate(chosen) if why.startswith("borderline") and probs[i].max() >= SATURATED]
    order = [k for k in range(len(chosen)) if k not in fake] + fake
    return [chosen[k] for k in sorted(order[:keep])]


def _sensor_names(manifest: dict[str, Any], rec_ids: list[str], groups: np.ndarray, picked: list[int],
                  ispec: Any) -> list[str]:
    sources = {r["id"]: r.get("source") or r["id"] for r in manifest.get("recordings", [])}
    first = {int(g): int(np.argmax(groups == g)) for g in np.unique(groups)}
    names = []
    for i in picked:
        source = sources.get(rec_ids[groups[i]], rec_ids[groups[i]])
        if ispec.length_policy == "windows":
            names.append(f"{source} @ row {(i - first[int(groups[i])]) * ispec.stride}")
        else:
            names.append(f"{source} (whole recording)")
    return names


def _png(pixels: np.ndarray) -> bytes:
    from io import BytesIO

    from PIL import Image

    buf = BytesIO()
    Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels).save(buf, format="PNG")
    return buf.getvalue()


def _golden_file(src: Path, stem: str, ispec: Any) -> tuple[str, bytes]:
    """The original file, or for a huge photo its decoded pixels at model size (decoding is then the identity)."""
    from studio.core.untrusted import MAX_IMAGE_FILE_BYTES, read_regular

    data = read_regular(src, MAX_IMAGE_FILE_BYTES)  # a regular file inside the data root (see sample_path)
    if len(data) <= MAX_GOLDEN_FILE_BYTES:
        return stem + src.suffix.lower(), data
    from studio.core.data.image import load_image

    return stem + ".png", _png(load_image(src, ispec.size, ispec.channels))



# ---------------------------------------------------------------------------------------------- tolerance
INT_TOLERANCE = 2  # LSBs at least: optimized int8 kernels round a requantization differently by one step
FLOAT_TOLERANCE = 1e-3  # at least, on float outputs (probabilities): float kernels differ only by ~1e-6


def host_outputs(model_bytes: bytes, x: np.ndarray, io: dict[str, Any], arena: int | None = None
                 ) -> dict[str, np.ndarray]:
    """Raw outputs of the float32 model inputs ``x`` from every kernel set on this host: LiteRT with XNNPACK
    (what ``run_model.py`` uses), LiteRT's builtin kernels and, given an ``arena``, TFLite-Micro's reference
    kernels (what ``main.cc`` uses)."""
    from studio.core.measure import quantize_input, run_litert

    outs = {"litert_xnnpack": run_litert(model_bytes, x).raw,
            "litert_builtin": run_litert(model_bytes, x, delegates=False).raw}
    if arena:
        from studio.core.micro import run_tflm

        detail = {"dtype": np.dtype(io["input"]["dtype"]),
                  "quantization": (io["input"]["scale"], io["input"]["zero_point"])}
        outs["tflm_reference"] = run_tflm(model_bytes, quantize_input(x, detail), arena)
    return outs


def tolerance(outputs: dict[str, np.ndarray]) -> dict[str, Any]:
    """The golden tolerance, justified by the kernels: every pair of host kernel sets is compared on the golden
    inputs, and the tolerance is twice the largest difference seen, but at least INT_TOLERANCE LSBs (integer
    outputs) or FLOAT_TOLERANCE (float outputs). Returns ``{"tolerance", "kernel_diffs", "note"}``."""
    names = sorted(outputs)
    first = np.asarray(outputs[names[0]])
    integer = first.dtype.kind in "iu"
    diffs = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            d = np.abs(np.asarray(outputs[a], np.float64) - np.asarray(outputs[b], np.float64))
            diffs[f"{a} vs {b}"] = float(d.max()) if d.size else 0.0
    worst = max(diffs.values(), default=0.0)
    if integer:
        tol: float = max(INT_TOLERANCE, int(np.ceil(2 * worst)))
        unit = "LSB of the int8 output"
        floor = (f"at least {INT_TOLERANCE}: optimized kernels (XNNPACK, CMSIS-NN, ESP-NN) may round a "
                 "requantization differently by one step, and a step in the last layers can move an output by two")
    else:
        tol = max(FLOAT_TOLERANCE, float(2 * worst))
        unit = "in output units"
        floor = (f"at least {FLOAT_TOLERANCE:g}: float kernels differ only in summation order and fused "
                 "multiply-adds, orders of magnitude below that")
    seen = ", ".join(f"{k} {v:g}" for k, v in diffs.items())
    note = (f"max |device - host| allowed per output value, {unit}: twice the largest difference between this "
            f"host's kernel sets on these inputs ({seen}), {floor}")
    return {"tolerance": tol, "kernel_diffs": diffs, "note": note}
__all__ = ["Golden", "choose_golden", "golden_limit", "model_inputs", "items", "from_project", "host_outputs", "tolerance"]
