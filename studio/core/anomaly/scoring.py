"""Scores for a set of examples: a project split or an external labelled folder, images or recordings.

Images: one score (and one map) per image. Sensors: one score per window, and per recording the highest
window score (one file = one recording). Windows are cut at the stride *and* one more window is aligned to the
recording's end whenever the stride leaves a tail, so an anomaly in the last samples is never skipped (the
exported harness cuts windows the same way); a recording shorter than a window is padded to one.

One long labelled series (a CSV with a label column and no recording column: its "recordings" are only the
stretches between label changes) is cut into windows over the whole series instead, as a device sees it: a
short anomaly is scored inside its context, never padded on its own, and every window gets a verdict
(:func:`labelled_series`, :func:`is_long_series`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.errors import DatasetError, ProjectError
from studio.core.reporter import Reporter, check_cancel

BATCH = 32


def anomaly_windows(signal: np.ndarray, window: int, stride: int) -> tuple[np.ndarray, list[int]]:
    """Windows at 0, stride, 2*stride, ... plus one ending at the last row if a tail is left; their starts.

    A recording shorter than one window gives one window, padded by repeating its last row (as
    :func:`studio.core.data.sensor.shaping.pad_to` does for every sensor model)."""
    from studio.core.data.sensor.shaping import pad_to

    sig = np.asarray(signal, dtype=np.float32)
    if sig.ndim == 1:
        sig = sig[:, None]
    n = len(sig)
    if n == 0:
        return np.empty((0, window, sig.shape[1]), dtype=np.float32), []
    if n <= window:
        return pad_to(sig, window)[None], [0]
    starts = window_starts(n, window, stride)
    return np.stack([sig[s : s + window] for s in starts]).astype(np.float32), starts


def window_starts(n: int, window: int, stride: int) -> list[int]:
    """The first rows of :func:`anomaly_windows`' windows over ``n`` rows."""
    if n == 0:
        return []
    if n <= window:
        return [0]
    starts = list(range(0, n - window + 1, stride))
    if starts[-1] != n - window:
        starts.append(n - window)
    return starts


def series_window_labels(lengths: list[int], labels: list[str], normal: str, window: int, stride: int
                         ) -> tuple[list[int], list[str], list[list[int]]]:
    """Windows over a series made of label runs (their ``lengths`` and verdict ``labels``, in order): each
    window's start, its label (the defect type it holds most rows of when it overlaps an anomalous run, else
    ``normal``) and, per run, the windows that overlap it."""
    run_of = np.repeat(np.arange(len(lengths)), lengths)
    defect = np.array([lab != normal for lab in labels], dtype=bool)
    starts = window_starts(int(sum(lengths)), window, stride)
    out: list[str] = []
    overlaps: list[list[int]] = [[] for _ in lengths]
    for i, s in enumerate(starts):
        held = np.bincount(run_of[s: s + window], minlength=len(lengths))
        for k in np.flatnonzero(held):
            overlaps[k].append(i)
        bad = np.flatnonzero((held > 0) & defect)
        out.append(labels[int(bad[np.argmax(held[bad])])] if len(bad) else normal)
    return starts, out, overlaps


def recording_windows(signal: np.ndarray, spec: Any) -> tuple[np.ndarray, list[int]]:
    """One recording as the detector's input: its :func:`anomaly_windows`, normalized with the run's statistics
    (``spec``: the run's input spec), and their starts."""
    from studio.core.data.sensor import normalize_windows

    w, starts = anomaly_windows(signal, spec.window, spec.stride)
    return normalize_windows(w, spec.mean, spec.std), starts


@dataclass
class Scored:
    """Scores of one set. ``unit_*`` describe the units that get a verdict (images, or recordings)."""

    scores: np.ndarray  # per image / per window
    maps: np.ndarray | None  # [n, g, g] for images
    labels: list[str]  # per image / window
    ids: list[str]
    paths: list[str] | None = None
    normal: str = ""
    recordings: list[str] | None = None  # per window: its recording id (sensors)
    rec_sources: dict[str, str] = field(default_factory=dict)
    # sensors, one long series: each window gets the verdict (see :func:`is_long_series`), not its recording
    per_window: bool = False
    events: list[dict[str, Any]] | None = None  # a series' anomalous stretches (:func:`labelled_series`)

    @property
    def unit(self) -> str:
        """What one verdict stands for: "image", "recording" or "window"."""
        return "image" if self.recordings is None else ("window" if self.per_window else "recording")

    def is_defect(self) -> np.ndarray:
        return np.array([lab != self.normal for lab in self.labels], dtype=bool)

    def units(self) -> dict[str, Any]:
        """Per verdict unit: ids, scores, labels (and for recordings the worst window)."""
        if self.recordings is None:
            return {"ids": list(self.ids), "scores": np.asarray(self.scores, float), "labels": list(self.labels),
                    "paths": self.paths}
        if self.per_window:
            return {"ids": list(self.ids), "scores": np.asarray(self.scores, float), "labels": list(self.labels),
                    "worst_window": list(self.ids), "windows": [1] * len(self.ids),
                    "sources": [self.rec_sources.get(r, r) for r in self.recordings], "paths": None}
        order: list[str] = []
        best: dict[str, int] = {}
        for i, rec in enumerate(self.recordings):
            if rec not in best:
                order.append(rec)
                best[rec] = i
            elif self.scores[i] > self.scores[best[rec]]:
                best[rec] = i
        idx = [best[r] for r in order]
        windows = Counter(self.recordings)
        return {
            "ids": order,
            "scores": np.asarray([self.scores[i] for i in idx], float),
            "labels": [self.labels[i] for i in idx],
            "worst_window": [self.ids[i] for i in idx],
            "windows": [windows[rec] for rec in order],
            "sources": [self.rec_sources.get(r, r) for r in order],
            "paths": None,
        }


def score_arrays(model: Any, raw: np.ndarray, preprocess: Any, reporter: Reporter | None = None,
                 progress: tuple[float, float] = (0.0, 1.0)) -> tuple[np.ndarray, np.ndarray | None]:
    """(scores [n], maps [n, g, g] or None) of ``model`` on raw inputs, preprocessed batch by batch."""
    scores, maps = [], []
    lo, hi = progress
    for s in range(0, len(raw), BATCH):
        check_cancel(reporter)
        x = preprocess(raw[s : s + BATCH]) if preprocess is not None else raw[s : s + BATCH]
        out = model(np.asarray(x, dtype=np.float32), training=False)
        outs = out if isinstance(out, (list, tuple)) else [out]
        scores.append(np.asarray(outs[0]).reshape(-1))
        if len(outs) > 1:
            maps.append(np.asarray(outs[1])[..., 0])
        if reporter is not None:
            reporter.progress(lo + (hi - lo) * min(1.0, (s + BATCH) / max(1, len(raw))), "scoring")
    sc = np.concatenate(scores) if scores else np.zeros(0, np.float32)
    mp = np.concatenate(maps) if maps else None
    return sc.astype(np.float64), mp


# ---------------------------------------------------------------------------------------------- inputs
def image_split(project: Any, manifest: dict[str, Any], split: str) -> tuple[list[str], list[str], list[str]]:
    """(absolute paths, labels, ids) of one image split."""
    from studio.core.data import sample_path

    paths, labels, ids = [], [], []
    for s in manifest["samples"]:
        if s["split"] == split:
            paths.append(str(sample_path(project, manifest, s)))
            labels.append(s["label"])
            ids.append(s["path"] if s.get("root", 0) == 0 else f"[test] {s['path']}")
    return paths, labels, ids


def sensor_split(project: Any, manifest: dict[str, Any], split: str, spec: Any,
                 recordings: dict[str, np.ndarray] | None = None) -> tuple[np.ndarray, list[str], list[str], list[str],
                                                                          dict[str, str]]:
    """(normalized windows, labels, window ids, recording ids, recording sources) of one sensor split."""
    from studio.core.data.sensor import load_recordings

    recordings = recordings if recordings is not None else load_recordings(project)
    parts, labels, ids, recs, sources = [], [], [], [], {}
    for rec in manifest["recordings"]:
        if rec["split"] != split:
            continue
        w, starts = recording_windows(recordings[rec["id"]], spec)
        parts.append(w)
        labels += [rec["label"]] * len(w)
        ids += [f"{rec['id']}@{s}" for s in starts]
        recs += [rec["id"]] * len(w)
        sources[rec["id"]] = rec.get("source", rec["id"])
    x = np.concatenate(parts) if parts else np.empty((0, spec.window, spec.channels), np.float32)
    return x, labels, ids, recs, sources


def decode(paths: list[str], spec: Any, reporter: Reporter | None, progress: tuple[float, float]) -> np.ndarray:
    from studio.core.pipeline import decode_images

    return decode_images(paths, spec, reporter, progress, "decoding images")


@dataclass
class SplitImages:
    """One image split decoded once (raw uint8 pixels), for callers that score it more than once."""

    paths: list[str]
    labels: list[str]
    ids: list[str]
    raw: np.ndarray


def decode_split(project: Any, manifest: dict[str, Any], spec: Any, split: str, reporter: Reporter | None = None,
                 progress: tuple[float, float] = (0.0, 1.0)) -> SplitImages:
    paths, labels, ids = image_split(project, manifest, split)
    return SplitImages(paths, labels, ids, decode(paths, spec, reporter, progress))


def score_split(project: Any, model: Any, spec: Any, normal: str, split: str, reporter: Reporter | None = None,
                progress: tuple[float, float] = (0.0, 1.0), recordings: dict[str, np.ndarray] | None = None,
                images: SplitImages | None = None) -> Scored:
    """Scores of one split of the project (``spec``: the run's input spec; ``normal``: its good class;
    ``images``: that split already decoded by :func:`decode_split`)."""
    manifest = project.load_manifest()
    lo, hi = progress
    mid = lo + 0.3 * (hi - lo)
    if spec.kind == "image":
        images = images or decode_split(project, manifest, spec, split, reporter, (lo, mid))
        scores, maps = score_arrays(model, images.raw, spec.preprocess, reporter, (mid, hi))
        return Scored(scores, maps, images.labels, images.ids, images.paths, normal)
    if split == "test" and manifest.get("test_series"):
        x, labels, ids, recs, sources, events = series_test_split(project, manifest, spec, recordings)
        scores, _ = score_arrays(model, x, None, reporter, (mid, hi))
        return Scored(scores, None, labels, ids, None, normal, recs, sources, per_window=True, events=events)
    x, labels, ids, recs, sources = sensor_split(project, manifest, split, spec, recordings)
    scores, _ = score_arrays(model, x, None, reporter, (mid, hi))
    return Scored(scores, None, labels, ids, None, normal, recs, sources, per_window=is_long_series(manifest))


def series_test_split(project: Any, manifest: dict[str, Any], spec: Any,
                      recordings: dict[str, np.ndarray] | None = None
                ) -> tuple[np.ndarray, list[str], list[str], list[str], dict[str, str], list[dict[str, Any]]]:
    """The test split imported from one labelled series (``manifest["test_series"]``): its label runs, in
    file order, joined again and cut into windows over the whole series (:func:`labelled_series`), as
    ``evaluate --data`` does with the same file."""
    from studio.core.data.sensor import load_recordings
    from studio.core.data.sensor.recordings import Recording

    recordings = recordings if recordings is not None else load_recordings(project)
    runs = [Recording(r["id"], r["label"], r.get("source", r["id"]), tuple(r["rows"]), recordings[r["id"]])
            for r in manifest["recordings"] if r["split"] == "test"]
    if not runs:
        return (np.empty((0, spec.window, spec.channels), np.float32), [], [], [], {}, [])
    runs.sort(key=lambda r: r.rows[0])
    return labelled_series(runs, spec, {r.label: r.label for r in runs}, manifest["normal_class"])


# ---------------------------------------------------------------------------------------------- external data
def external_labels(found: list[str], normal: str, path: Any) -> dict[str, str]:
    """Map the class folders of an external folder to verdicts: the project's normal class (or good/ok/normal)
    is good; every other folder is a defect type, known or not."""
    from .importing import test_label_map

    if not found:
        raise DatasetError("no usable examples in class sub-folders", path=path)
    return test_label_map(found, normal)


def score_external(project: Any, model: Any, spec: Any, normal: str, data_path: str | Path,
                   reporter: Reporter | None = None, progress: tuple[float, float] = (0.0, 1.0)) -> Scored:
    """Scores of an external folder (class sub-folders; good = the normal class or good/ok/normal)."""
    src = Path(data_path).expanduser().absolute()
    lo, hi = progress
    mid = lo + 0.3 * (hi - lo)
    if spec.kind == "image":
        from studio.core.data.image import scan_images

        scan = scan_images(src, reporter)
        if not scan["usable"]:
            raise DatasetError("no usable images found in class sub-folders", path=src)
        mapping = external_labels(sorted({s["label"] for s in scan["usable"]}), normal, src)
        paths = [str(scan["root"] / s["path"]) for s in scan["usable"]]
        labels = [mapping[s["label"]] for s in scan["usable"]]
        raw = decode(paths, spec, reporter, (lo, mid))
        scores, maps = score_arrays(model, raw, spec.preprocess, reporter, (mid, hi))
        return Scored(scores, maps, labels, paths, paths, normal)
    from studio.core.data.sensor.recordings import has_class_dirs, parse_sensor_source

    manifest = project.load_manifest()
    is_table = src.is_file() or (src.is_dir() and not has_class_dirs(src))
    parsed = parse_sensor_source(
        src,
        label_column=manifest.get("label_column") if is_table else None,
        recording_column=manifest.get("recording_column") if is_table else None,
        channels=list(spec.channel_names) or manifest["channels"],
    )
    mapping = external_labels(sorted({r.label for r in parsed.recordings}), normal, src)
    if parsed.layout == "table" and parsed.plan.recording is None:  # one labelled series: windows over all of it
        x, labels, ids, recs, sources, events = labelled_series(parsed.recordings, spec, mapping, normal)
        scores, _ = score_arrays(model, x, None, reporter, (mid, hi))
        return Scored(scores, None, labels, ids, None, normal, recs, sources, per_window=True, events=events)
    parts, labels, ids, recs, sources = [], [], [], [], {}
    for k, r in enumerate(parsed.recordings):
        w, starts = recording_windows(r.signal, spec)
        if not len(w):
            continue
        rid = f"r{k + 1:04d}"
        parts.append(w)
        labels += [mapping[r.label]] * len(w)
        ids += [f"{r.source}:{r.rows[0]}+{s}" for s in starts]
        recs += [rid] * len(w)
        sources[rid] = f"{r.source} (lines {r.rows[0]}-{r.rows[1]})"
    if not parts:
        raise DatasetError(f"no recording is as long as the project's window ({spec.window} rows)", path=src)
    x = np.concatenate(parts)
    scores, _ = score_arrays(model, x, None, reporter, (mid, hi))
    return Scored(scores, None, labels, ids, None, normal, recs, sources)


def is_long_series(manifest: dict[str, Any]) -> bool:
    """The project learnt from one long series (a CSV with a label column and no recording column): its
    "recordings" are only the stretches between label changes, cut at import, so verdicts are per window
    (the threshold is calibrated on windows, and evaluated on them)."""
    return manifest.get("layout") == "table" and not manifest.get("recording_column")


def labelled_series(runs: list[Any], spec: Any, mapping: dict[str, str], normal: str
                    ) -> tuple[np.ndarray, list[str], list[str], list[str], dict[str, str], list[dict[str, Any]]]:
    """One labelled series (its label runs, consecutive, in order) as the detector sees it on a device: windows
    over the whole series, whatever the labels (a short anomaly is seen in its context, never padded alone).

    A window is a defect window when it overlaps an anomalous row (labelled with the defect type it holds most
    rows of), else good. Returns (normalized windows, labels, window ids "file:line", the series' id per window,
    its source, the events: one per anomalous run, with the windows that overlap it)."""
    signal = np.concatenate([np.asarray(r.signal, np.float32).reshape(r.length, -1) for r in runs])
    run_of = np.repeat(np.arange(len(runs)), [r.length for r in runs])
    first_row = np.concatenate([[0], np.cumsum([r.length for r in runs])[:-1]]).astype(int)
    defect = np.array([mapping[r.label] != normal for r in runs], dtype=bool)
    x, starts = recording_windows(signal, spec)
    starts_, labels, overlaps = series_window_labels([r.length for r in runs], [mapping[r.label] for r in runs],
                                                     normal, spec.window, spec.stride)
    assert starts_ == starts, "the windows and their labels are cut the same way"
    ids = [f"{runs[0].source}:{_line(runs, first_row, run_of, s)}" for s in starts]
    rid = "r0001"
    sources = {rid: f"{runs[0].source} (lines {runs[0].rows[0]}-{runs[-1].rows[1]})"}
    events = [{"label": mapping[r.label], "lines": [int(r.rows[0]), int(r.rows[1])], "rows": int(r.length),
               "window_index": overlaps[k]} for k, r in enumerate(runs) if defect[k]]
    return x, labels, ids, [rid] * len(starts), sources, events


def _line(runs: list[Any], first_row: np.ndarray, run_of: np.ndarray, row: int) -> int:
    """The file line of data row ``row`` of the series (each run's first line, plus the rows since)."""
    k = int(run_of[min(row, len(run_of) - 1)])
    return int(runs[k].rows[0]) + (row - int(first_row[k]))


def require_examples(scored: Scored, what: str, path: Any) -> None:
    if len(scored.scores) == 0:
        raise ProjectError(f"the {what} has no examples", path=path,
                           hint="evaluate on another split (--split) or on a labelled folder (--data)")


def split_inputs(project: Any, spec: Any, normal: str, split: str, recordings: dict[str, np.ndarray] | None = None,
                 reporter: Reporter | None = None) -> tuple[np.ndarray, Scored]:
    """(model input float32, an unscored Scored with labels / ids / recordings) of one split."""
    manifest = project.load_manifest()
    if spec.kind == "image":
        paths, labels, ids = image_split(project, manifest, split)
        x = spec.preprocess(decode(paths, spec, reporter, (0.0, 0.0))) if paths else \
            np.zeros((0,) + tuple(spec.shape), np.float32)
        return x, Scored(np.zeros(len(x)), None, labels, ids, paths, normal)
    if split == "test" and manifest.get("test_series"):
        x, labels, ids, recs, sources, events = series_test_split(project, manifest, spec, recordings)
        return x, Scored(np.zeros(len(x)), None, labels, ids, None, normal, recs, sources, per_window=True,
                         events=events)
    x, labels, ids, recs, sources = sensor_split(project, manifest, split, spec, recordings)
    return x, Scored(np.zeros(len(x)), None, labels, ids, None, normal, recs, sources,
                     per_window=is_long_series(manifest))
