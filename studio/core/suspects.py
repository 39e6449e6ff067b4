"""Possibly mislabelled and odd examples, found by the trained model.

After training, every training and validation sample (sensors: every recording) gets:

* ``score`` (0..1): how strongly the model disagrees with the label, ``1 - p(label)`` where ``p`` mixes a
  vote of the sample's 10 nearest neighbours in the model's embedding (the layer feeding the classifier; the
  sample itself excluded, votes class-balanced) with weight 0.75 and the model's own softmax with 0.25. The
  neighbour vote is out-of-sample for every sample, so a wrong label the network has memorised cannot hide
  behind its own prediction; the softmax breaks the vote's ties.
* ``suggested``: the most likely other class; ``flagged``: ``score >= 0.3`` (the label gets under 70 %), the
  samples listed as "possibly mislabelled".

  Measured on scikit-learn digits, 5 % of the training labels flipped (54 of 1,078; ranked: train + val,
  1,438), recall of the list's top 2x54 (bench/trust.py): with Studio's default training (early stopped at
  the best validation loss) the softmax alone, the neighbours alone and any mix find 53 of 54. Trained for 120
  epochs without early stopping, the network fits 65 % of the wrong labels and the softmax alone finds 74 %;
  neighbours alone 89 %, this mix 87 % of the ranking and 80 % of the listed samples (49 listed; listing
  only where another class wins, confident learning's usual test, lists 38 and finds 67 %).
* ``outlier``: the mean distance to those neighbours divided by its median over the data (1 = typical; 2 =
  twice as far from anything similar as usual): odd examples, whatever their label.

``find_suspects`` also returns a 2-D map of the embedding (PCA) coloured by label. Results are cached per
run and manifest state in ``P/cache/suspects/``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.errors import ProjectError
from studio.core.fsutil import atomic_write_json, read_json
from studio.core.reporter import NullReporter, Reporter, check_cancel

CACHE_FORMAT = 2
K_NEIGHBOURS = 10
KNN_WEIGHT = 0.9  # share of the neighbour vote in the score (the rest: the model's softmax); see below
LIST_SCORE = 0.3  # listed as "possibly mislabelled" from this score up (the label gets under 70 %)
SPLITS = ("train", "val")
MAX_REFERENCE = 20000  # neighbours are searched among at most this many samples (memory: chunked anyway)
DEFAULT_TOP = 200
MAP_POINTS = 5000


@dataclass
class Embedded:
    """The ranked population: one row per sample (images) or recording (sensors)."""

    names: list[str]  # manifest names (studio.core.data.curation.entry_name)
    paths: list[str]  # absolute image paths; for sensors the recording's source
    splits: list[str]
    labels: np.ndarray  # int label index
    probs: np.ndarray  # model softmax [n, k]
    emb: np.ndarray  # embedding [n, d]
    classes: list[str]


def _probe(model: Any) -> Any:
    """A model giving (embedding, probabilities): the classifier's input is the embedding."""
    from studio.core.attribution import _logit_head
    from studio.core.tfenv import load_tf

    _, keras = load_tf()
    head_in, _ = _logit_head(model)
    return keras.Model(model.inputs, [head_in, model.output])


def _run_probe(probe: Any, data: Any, spec: Any, reporter: Reporter) -> tuple[np.ndarray, np.ndarray]:
    from studio.core.pipeline import decode_images

    embs, probs = [], []
    step = 256
    for start in range(0, len(data), step):
        check_cancel(reporter)
        if data.x is not None:
            x = data.x[start : start + step]
        else:  # too big for RAM: decode this batch only
            x = decode_images(data.paths[start : start + step], spec)
        e, p = probe(spec.preprocess(x), training=False)
        embs.append(np.asarray(e, np.float32).reshape(len(x), -1))
        probs.append(np.asarray(p, np.float32))
    return np.concatenate(embs), np.concatenate(probs)


def _group_windows(ids: list[str], e: np.ndarray, p: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Sensor windows ("rec@start") -> one row per recording: mean embedding and mean probabilities."""
    order: dict[str, list[int]] = {}
    for i, wid in enumerate(ids):
        order.setdefault(wid.split("@")[0], []).append(i)
    recs = list(order)
    return recs, np.stack([e[order[r]].mean(0) for r in recs]), np.stack([p[order[r]].mean(0) for r in recs])


def embed(project: Any, run_id: str | None = None, reporter: Reporter | None = None) -> Embedded:
    """Embeddings and softmax of the run on the train and validation splits (excluded samples are skipped)."""
    from studio.core.data.curation import entry_name
    from studio.core.pipeline import load_split
    from studio.core.train import load_run_model

    reporter = reporter or NullReporter()
    manifest = project.load_manifest()
    model, info = load_run_model(project, run_id)
    if list(manifest["classes"]) != info.classes:
        raise ProjectError("the run was trained on different classes than the imported data", path=info.path,
                           hint="train again after re-importing")
    probe = _probe(model)
    names, paths, splits, labels, embs, probs = [], [], [], [], [], []
    recs = {r["id"]: r for r in manifest.get("recordings", [])}
    for k, split in enumerate(SPLITS):
        data = load_split(project, split, info.spec, manifest, allow_streaming=True)
        if not len(data):
            continue
        e, p = _run_probe(probe, data, info.spec, reporter)
        if info.spec.kind == "image":
            names += list(data.ids)
            paths += list(data.paths)
            labels.append(np.asarray(data.y))
        else:
            rec_ids, e, p = _group_windows(data.ids, e, p)
            index = {c: i for i, c in enumerate(info.classes)}
            names += [entry_name(manifest, recs[r]) for r in rec_ids]
            paths += [recs[r]["source"] for r in rec_ids]
            labels.append(np.asarray([index[recs[r]["label"]] for r in rec_ids]))
        splits += [split] * len(e)
        embs.append(e)
        probs.append(p)
        reporter.progress(0.7 * (k + 1) / len(SPLITS), f"embedded the {split} split")
    if not embs:
        raise ProjectError("the training and validation splits are empty", path=project.manifest_path)
    return Embedded(names, paths, splits, np.concatenate(labels).astype(np.int64), np.concatenate(probs),
                    np.concatenate(embs), list(info.classes))


# ---------------------------------------------------------------------------------------------- maths
def knn_vote(emb: np.ndarray, labels: np.ndarray, n_classes: int, k: int = K_NEIGHBOURS,
             prior: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out k-nearest-neighbour class votes (cosine similarity of the standardized embedding) and
    mean neighbour distance.

    Returns ``(probabilities [n, k] smoothed by ``prior`` per class, distance [n])``; chunked so memory stays
    ``O(chunk * n)``. Neighbours are drawn from at most :data:`MAX_REFERENCE` samples.
    """
    e = np.asarray(emb, np.float32)
    # Standardize each dimension first: MiniRocket's 10,000 pooled features differ in scale, and unscaled
    # cosine neighbours there agreed with the label for 65 % of a clean sensor set (100 % standardized);
    # on the CNN's embedding (digits) it changes nothing measurable.
    e = (e - e.mean(axis=0)) / np.maximum(e.std(axis=0), 1e-6)
    e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-9)
    n = len(e)
    ref = np.arange(n) if n <= MAX_REFERENCE else np.sort(
        np.random.default_rng(0).choice(n, MAX_REFERENCE, replace=False))
    k = max(1, min(k, len(ref) - 1))
    votes = np.zeros((n, n_classes), np.float32)
    dist = np.zeros(n, np.float32)
    for start in range(0, n, 1024):
        sims = e[start : start + 1024] @ e[ref].T
        rows = np.arange(start, min(n, start + 1024))
        self_hit = ref[None, :] == rows[:, None]
        sims[self_hit] = -np.inf  # never your own neighbour
        nn = np.argpartition(-sims, k, axis=1)[:, :k]
        for j in range(k):
            np.add.at(votes, (rows, labels[ref[nn[:, j]]]), 1.0)
        dist[rows] = 1.0 - np.take_along_axis(sims, nn, axis=1).mean(axis=1)
    # Class-balanced: a vote from a rare class counts more (a class of 3 samples can give a member at most 2
    # same-class neighbours, which must not make every member look mislabelled).
    freq = np.bincount(labels[ref], minlength=n_classes).astype(np.float32)
    present = freq > 0
    scale = np.where(present, freq / max(float(freq[present].mean()), 1e-9), 1.0) if present.any() else freq + 1
    votes = votes / scale[None, :] + prior
    return votes / votes.sum(axis=1, keepdims=True), dist


def rank(model_probs: np.ndarray, knn_probs: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Score, suggested class and the confident-learning flag of every sample (see the module docstring)."""
    p = KNN_WEIGHT * np.asarray(knn_probs, np.float64) + (1.0 - KNN_WEIGHT) * np.asarray(model_probs, np.float64)
    rows = np.arange(len(p))
    given = p[rows, labels]
    other = p.copy()
    other[rows, labels] = -1.0
    suggested = other.argmax(axis=1)
    flagged = 1.0 - given >= LIST_SCORE
    return {"score": 1.0 - given, "suggested": suggested, "flagged": flagged, "probs": p}


def pca_2d(emb: np.ndarray) -> np.ndarray:
    """The first two principal components of the standardized embedding, ``[n, 2]``."""
    x = np.asarray(emb, np.float64)
    x = (x - x.mean(0)) / (x.std(0) + 1e-9)
    if len(x) < 2:
        return np.zeros((len(x), 2))
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    out = x @ vt[:2].T
    return out if out.shape[1] == 2 else np.pad(out, ((0, 0), (0, 2 - out.shape[1])))


# ---------------------------------------------------------------------------------------------- project
def _cache_file(project: Any, run_id: str, manifest: dict[str, Any]) -> tuple[Path, str]:
    """Cache file of a run and the key of the manifest state it was computed on (labels, exclusions)."""
    from studio.core.data.curation import entries

    state = [(e.get("path") or e.get("id"), e["label"], e["split"], bool(e.get("excluded")))
             for e in entries(manifest)]
    key = hashlib.sha256(json.dumps([CACHE_FORMAT, manifest.get("imported"), state]).encode()).hexdigest()[:32]
    return Path(project.path) / "cache" / "suspects" / f"{run_id}.json", key


def _rows(emb: Embedded, ranked: dict[str, np.ndarray], outlier: np.ndarray) -> list[dict[str, Any]]:
    out = []
    for i in range(len(emb.names)):
        out.append({
            "path": emb.paths[i],
            "name": emb.names[i],
            "label": emb.classes[int(emb.labels[i])],
            "suggested": emb.classes[int(ranked["suggested"][i])],
            "score": round(float(ranked["score"][i]), 4),
            "flagged": bool(ranked["flagged"][i]),
            "outlier": round(float(outlier[i]), 3),
            "split": emb.splits[i],
        })
    return out


def compute(project: Any, run_id: str | None = None, reporter: Reporter | None = None) -> dict[str, Any]:
    """Rank every train / validation sample of the run (the active one by default): see the module docstring.

    Returns ``{"run", "classes", "ranked": [every sample, most suspicious first], "map": {...}}``.
    """
    reporter = reporter or NullReporter()
    run = project.run_dir(run_id).name
    emb = embed(project, run, reporter)
    check_cancel(reporter)
    knn, dist = knn_vote(emb.emb, emb.labels, len(emb.classes))
    ranked = rank(emb.probs, knn, emb.labels)
    outlier = dist / max(float(np.median(dist)), 1e-9)
    rows = _rows(emb, ranked, outlier)
    order = np.argsort(-ranked["score"], kind="stable")
    points = pca_2d(emb.emb)
    show = np.sort(np.random.default_rng(0).permutation(len(points))[:MAP_POINTS])
    reporter.progress(1.0, "ranked")
    return {
        "run": run,
        "classes": emb.classes,
        "method": "mean of the model's softmax and a 10-nearest-neighbour vote in its embedding",
        "ranked": [rows[i] for i in order],
        "map": {
            "method": "pca",
            "points": np.round(points[show], 4).tolist(),
            "labels": [rows[i]["label"] for i in show],
            "names": [rows[i]["name"] for i in show],
            "paths": [rows[i]["path"] for i in show],
            "score": [rows[i]["score"] for i in show],
        },
    }


def find_suspects(project: Any, run_id: str | None = None, reporter: Reporter | None = None,
                  top: int | None = DEFAULT_TOP, use_cache: bool = True) -> dict[str, Any]:
    """The "possibly mislabelled" list (flagged samples, most suspicious first, at most ``top``), the odd ones
    (highest outlier scores) and the embedding map; cached per run and manifest state."""
    if project.is_anomaly:
        raise ProjectError("an anomaly-detection project has no labels for a model to disagree with, so there is "
                           "no mislabel search", path=project.path,
                           hint="Evaluate lists the examples the detector finds least normal, good ones included "
                                "(studio evaluate P --json: most_anomalous); check the good ones at the top")
    manifest = project.load_manifest()
    run = project.run_dir(run_id).name
    file, key = _cache_file(project, run, manifest)
    full = None
    if use_cache:
        try:
            cached = read_json(file)
            if cached.get("format") == CACHE_FORMAT and cached.get("key") == key:
                full = cached["result"]
        except (OSError, ValueError, AttributeError):
            full = None
    cached_hit = full is not None
    if full is None:
        full = compute(project, run, reporter)
        try:
            atomic_write_json(file, {"format": CACHE_FORMAT, "key": key, "result": full})
        except OSError:
            pass
    flagged = [r for r in full["ranked"] if r["flagged"]]
    odd = sorted(full["ranked"], key=lambda r: -r["outlier"])
    limit = len(flagged) if top is None else top
    return {
        "run": full["run"],
        "classes": full["classes"],
        "method": full["method"],
        "n_ranked": len(full["ranked"]),
        "n_flagged": len(flagged),
        "suspects": flagged[:limit],
        "odd": odd[: min(limit, 50)],
        "map": full["map"],
        "cached": cached_hit,
    }


def suspects_job(project: Any, request: dict[str, Any], reporter: Reporter) -> dict[str, Any]:
    """Worker-process job (plain data): ``request`` may hold ``run_id``, ``top`` and ``use_cache``."""
    return find_suspects(project, request.get("run_id"), reporter, top=request.get("top", DEFAULT_TOP),
                         use_cache=bool(request.get("use_cache", True)))
