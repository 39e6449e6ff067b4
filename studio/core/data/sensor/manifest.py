"""Sensor import: from parsed recordings to the manifest (window, short recordings padded, the split by
recording, normalization statistics) and the recordings to store. Nothing is written here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from studio.core.errors import DatasetError
from studio.core.project import SPLITS
from studio.core.reporter import Reporter, check_cancel

from ..common import balance_warnings, count_by, now_iso, stratified_split
from .recordings import ParsedSensors, Recording, has_class_dirs, parse_sensor_source
from .windows import choose_window, n_windows

SINGLE_RECORDING_CHUNKS = 5


def _chunk(rec: Recording, parts: int) -> list[Recording]:
    bounds = np.linspace(0, rec.length, parts + 1).astype(int)
    out = []
    first = rec.rows[0]
    for k in range(parts):
        a, b = int(bounds[k]), int(bounds[k + 1])
        out.append(
            Recording(
                f"{rec.id}-{k + 1}",
                rec.label,
                rec.source,
                (first + a, first + b - 1),
                rec.signal[a:b],
                rec.origin,
            )
        )
    return out


def finish_sensor_manifest(
    parsed: ParsedSensors,
    source: Path,
    *,
    window: int | None,
    stride: int | None,
    val_split: float,
    test_split: float,
    seed: int,
    anomaly: bool = False,
    normal: str | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Window choice, short recordings (padded), the split by recording and the normalization statistics.

    ``anomaly``: one good class is enough and defect recordings go to validation / test only, so the
    normalization statistics come from good recordings (:mod:`studio.core.anomaly.importing`).
    """
    recs = parsed.recordings
    skipped = list(parsed.skipped)
    warnings_ = list(parsed.warnings)
    if not recs:
        raise DatasetError("no recordings found", path=source)
    lengths = [r.length for r in recs]
    window_source = "user" if window is not None else "auto"
    window, stride = _window_and_stride(recs, window, stride, source)
    usable = _drop_short(recs, window, skipped, warnings_)
    classes = _usable_classes(recs, usable, source, warnings_, minimum=1 if anomaly else 2)
    if anomaly:
        from studio.core.anomaly import importing

        normal = importing.normal_for(classes, normal, source, warnings_)
    final = _split_lone_recordings(usable, classes, window, val_split, test_split, warnings_)
    final.sort(key=lambda r: (int(re.sub(r"\D", "", r.id.split("-")[0]) or 0), r.id))
    splits = stratified_split([r.label for r in final], [r.id for r in final], val_split, test_split, seed)
    if anomaly:
        splits = importing.split([r.label for r in final], [r.id for r in final], splits, normal, val_split,
                                 test_split, seed, False)
    count = importing.window_count if anomaly else n_windows  # as each kind of model cuts them
    wins = [count(r.length, window, stride) for r in final]
    labels = [r.label for r in final]
    counts = count_by(labels, classes, wins)
    split_counts = {
        sp: count_by(
            [lab for lab, s in zip(labels, splits) if s == sp],
            classes,
            [w for w, s in zip(wins, splits) if s == sp],
        )
        for sp in SPLITS
    }
    unit = "recording" if stride >= window and max(lengths) == window else "window"
    if anomaly:
        long_series = parsed.layout == "table" and not parsed.plan.recording
        warnings_ += importing.warnings_for(count_by(labels, classes), {
            sp: count_by([lab for lab, s in zip(labels, splits) if s == sp], classes) for sp in SPLITS
        }, normal, "recording", train_windows=split_counts["train"].get(normal, 0) if long_series else None,
            val_windows=split_counts["val"].get(normal, 0) if long_series else None)
    else:
        warnings_ += balance_warnings(counts, unit)
    mean, std = _normalization(final, splits, parsed.channels, warnings_)
    plan = parsed.plan
    manifest = {
        **(importing.manifest_fields(classes, normal) if anomaly else {}),
        "task": "sensor",
        "source": str(source),
        "test_source": None,
        "classes": classes,
        "counts": counts,
        "split_counts": split_counts,
        "recording_counts": count_by(labels, classes),
        "skipped": skipped,
        "warnings": warnings_,
        "seed": int(seed),
        "val_split": float(val_split),
        "test_split": float(test_split),
        "imported": now_iso(),
        "layout": parsed.layout,
        "label_column": plan.label,
        "recording_column": plan.recording,
        "time_column": plan.time,
        "ignored_columns": [{"column": c, "reason": why} for c, why in plan.ignored],
        "channels": list(parsed.channels),
        "window": int(window),
        "window_source": window_source,  # "user": training keeps these windows; "auto": it may choose others
        "stride": int(stride),
        "sample_rate_hz": parsed.sample_rate_hz,
        "normalization": {"mean": [float(x) for x in mean], "std": [float(x) for x in std]},
        "recordings": _recording_entries(final, splits, wins),
    }
    arrays = {r.id: np.ascontiguousarray(r.signal, dtype=np.float32) for r in final}
    return manifest, arrays


def _window_and_stride(
    recs: list[Recording], window: int | None, stride: int | None, source: Path
) -> tuple[int, int]:
    """The chosen (or checked) window and stride for these recordings."""
    lengths = [r.length for r in recs]
    if window is None:
        window, auto_stride = choose_window(lengths, [r.label for r in recs])
        stride = stride or auto_stride
    else:
        if window < 2:
            raise DatasetError(f"the window must be at least 2 rows (got {window})")
        stride = stride or max(1, window // 2)
    if stride < 1:
        raise DatasetError(f"the stride must be at least 1 row (got {stride})")
    return window, stride


def _drop_short(recs: list[Recording], window: int, skipped: list[dict[str, str]], warnings_: list[str]
                ) -> list[Recording]:
    """Every recording is used: one shorter than the window is padded to one window (its last row repeated),
    never skipped; the user is told how many."""
    short = sum(1 for r in recs if r.length < window)
    if short:
        warnings_.append(
            f"{short} recording(s) are shorter than the window ({window} rows); each is padded to one window "
            "(its last row repeated), not skipped."
        )
    return list(recs)


def _usable_classes(recs: list[Recording], usable: list[Recording], source: Path, warnings_: list[str],
                    minimum: int = 2) -> list[str]:
    """The classes with a usable recording (at least ``minimum``); a class left without one is named."""
    classes = sorted({r.label for r in usable})
    if len(classes) < minimum or not classes:
        found = f"only 1 class with usable recordings: '{classes[0]}'" if classes else "no usable recordings"
        raise DatasetError(
            f"found {found}; at least 2 classes are needed",
            path=source,
            hint="a class is a sub-folder of CSV files, or a value of the label column",
        )
    for lab in sorted({r.label for r in recs}):
        if lab not in classes:
            warnings_.append(f"Class '{lab}' has no recording as long as the window, so it is not used.")
    return classes


def _split_lone_recordings(usable: list[Recording], classes: list[str], window: int, val_split: float,
                           test_split: float, warnings_: list[str]) -> list[Recording]:
    """A class with a single long recording is cut into contiguous parts so it can be validated at all."""
    final: list[Recording] = []
    for lab in classes:
        mine = [r for r in usable if r.label == lab]
        if len(mine) == 1 and (val_split > 0 or test_split > 0):
            parts = min(SINGLE_RECORDING_CHUNKS, mine[0].length // window)
            if parts >= 2:
                final += _chunk(mine[0], parts)
                warnings_.append(
                    f"Class '{lab}' has only one recording; it was cut into {parts} consecutive parts so "
                    "some can be used for validation. Neighbouring parts are alike, so validation results "
                    "may look better than they will be on new recordings: record more sessions of this class "
                    "if you can."
                )
                continue
            warnings_.append(
                f"Class '{lab}' has only one recording, too short to split; it is used for training only and "
                "is not validated."
            )
        final += mine
    return final


def _normalization(final: list[Recording], splits: list[str], channels: Sequence[str], warnings_: list[str]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std over the training recordings (a constant channel gets std 1 and a warning).

    Two passes over the recordings in float64, one recording at a time: no float64 copy of all the training
    data (for a big CSV that copy was twice the size of the data itself)."""
    train = [r.signal for r, s in zip(final, splits) if s == "train"]
    n = sum(len(t) for t in train)
    mean = sum(t.sum(axis=0, dtype=np.float64) for t in train) / n
    std = np.sqrt(sum(np.square(t - mean).sum(axis=0) for t in train) / n)
    for name, s in zip(channels, std):
        if s < 1e-8:
            warnings_.append(
                f"Channel '{name}' is constant in the training recordings; it carries no information."
            )
    return mean, np.where(std < 1e-8, 1.0, std)


def _recording_entries(final: list[Recording], splits: list[str], wins: list[int]) -> list[dict[str, Any]]:
    records = []
    for r, sp, w in zip(final, splits, wins):
        entry: dict[str, Any] = {
            "id": r.id,
            "label": r.label,
            "split": sp,
            "source": r.source,
            "rows": [r.rows[0], r.rows[1]],
            "length": r.length,
            "windows": w,
        }
        if r.origin is not None:
            entry["recording"] = r.origin
        records.append(entry)
    return records


def import_sensors(
    source: str | Path,
    *,
    test_source: str | Path | None,
    val_split: float,
    test_split: float,
    seed: int,
    window: int | None,
    stride: int | None,
    label_column: str | None,
    recording_column: str | None,
    channels: Sequence[str] | None,
    reporter: Reporter | None,
    anomaly: bool = False,
    normal: str | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Parse, window, split and normalize; return (manifest, recordings). Nothing is written here."""
    src = Path(source).expanduser().absolute()

    def prog(lo: float, hi: float) -> Callable[[float], None]:
        return lambda f: reporter.progress(lo + (hi - lo) * f, "reading recordings") if reporter else None

    if reporter:
        reporter.status(f"Reading sensor recordings from {src}")
    parsed = parse_sensor_source(
        src,
        label_column=label_column,
        recording_column=recording_column,
        channels=channels,
        reporter=reporter,
        progress=prog(0.0, 0.7 if test_source else 0.9),
        unlabelled=(normal or "normal") if anomaly else None,  # a series of normal running needs no labels
    )
    manifest, arrays = finish_sensor_manifest(
        parsed, src, window=window, stride=stride, val_split=val_split, test_split=test_split, seed=seed,
        anomaly=anomaly, normal=normal,
    )
    if test_source:
        check_cancel(reporter)
        tsrc = Path(test_source).expanduser().absolute()
        tparsed = parse_sensor_source(
            tsrc,
            label_column=manifest["label_column"] if tsrc.is_file() or not has_class_dirs(tsrc) else None,
            recording_column=manifest["recording_column"] if tsrc.is_file() else None,
            channels=manifest["channels"],
            reporter=reporter,
            progress=prog(0.7, 0.9),
        )
        _add_test_recordings(manifest, arrays, tparsed, tsrc)
    return manifest, arrays



def _add_test_recordings(
    manifest: dict[str, Any], arrays: dict[str, np.ndarray], tparsed: ParsedSensors, tsrc: Path
) -> None:
    classes = manifest["classes"]
    if manifest.get("anomaly"):
        from studio.core.anomaly import importing

        mapping = importing.test_label_map([r.label for r in tparsed.recordings], manifest["normal_class"])
        for r in tparsed.recordings:
            r.label = mapping[r.label]
        added_classes = importing.with_new_classes(classes, list(mapping.values()))
        for c in added_classes:
            if c not in classes:
                for counts in (manifest["counts"], manifest["recording_counts"], *manifest["split_counts"].values()):
                    counts[c] = 0
        manifest["classes"] = classes = added_classes
        manifest.update(importing.manifest_fields(classes, manifest["normal_class"]))
    unknown = sorted({r.label for r in tparsed.recordings} - set(classes))
    if unknown:
        raise DatasetError(
            f"the test data has class(es) not in the training data: {', '.join(repr(u) for u in unknown)}",
            path=tsrc,
            hint=f"the classes are {', '.join(classes)}",
        )
    window, stride = manifest["window"], manifest["stride"]
    # an anomaly project's test data as one labelled series (a CSV with a label column, no recording column):
    # its label runs are kept in order, short ones too, and scored as one series (windows over all of it, as a
    # device sees it: studio.core.anomaly.scoring), never a short anomaly padded alone or dropped for its length
    series = bool(manifest.get("anomaly")) and tparsed.layout == "table" and tparsed.plan.recording is None
    if series and sum(r.length for r in tparsed.recordings) < window:
        raise DatasetError(f"the test series has fewer rows than the window ({window} rows)", path=tsrc)
    manifest["test_series"] = series
    added = 0
    for r in tparsed.recordings:
        w = (importing.window_count if manifest.get("anomaly") else n_windows)(r.length, window, stride)
        if w == 0 and not series:
            manifest["skipped"].append(
                {
                    "path": f"[test] {r.source} (lines {r.rows[0]}-{r.rows[1]})",
                    "reason": f"recording has {r.length} rows, shorter than the window ({window} rows)",
                }
            )
            continue
        rid = f"t{added + 1:04d}"
        added += 1
        arrays[rid] = np.ascontiguousarray(r.signal, dtype=np.float32)
        manifest["recordings"].append(
            {
                "id": rid,
                "label": r.label,
                "split": "test",
                "source": f"[test] {r.source}",
                "rows": [r.rows[0], r.rows[1]],
                "length": r.length,
                "windows": w,
            }
        )
        manifest["split_counts"]["test"][r.label] += w
    if not added:
        raise DatasetError("the test data has no recording as long as the window", path=tsrc)
    if series:  # counted as they are scored: windows over the whole series
        from studio.core.anomaly.scoring import series_window_labels

        _, labels, _ = series_window_labels([r.length for r in tparsed.recordings],
                                            [r.label for r in tparsed.recordings], manifest["normal_class"],
                                            window, stride)
        manifest["split_counts"]["test"] = {c: labels.count(c) for c in classes}
    manifest["test_source"] = str(tsrc)
    manifest["skipped"] += [{"path": f"[test] {s['path']}", "reason": s["reason"]} for s in tparsed.skipped]
