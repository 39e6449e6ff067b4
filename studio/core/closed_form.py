"""Training for sensor projects without epochs: MiniRocket fitted in closed form, and the default path that
first chooses the input shaping by measurement (:mod:`studio.core.selection`).

A run written here has the same files as any other (``config.json``, ``model.json``, ``metrics.json``,
``weights.h5``) plus ``selection.json`` when a search ran. ``metrics.json`` has one pseudo-epoch row (train and
validation accuracy of the fitted model) so every view of a run's history works unchanged.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from studio.core.reporter import Reporter, check_cancel


def sensor_spec(project: Any, manifest: dict[str, Any], config: Any) -> Any:
    """The input spec of a sensor config: the manifest's statistics, the config's shaping (or the default)."""
    from studio.core.pipeline import spec_for_project

    base = spec_for_project(project, manifest)
    policy, window, stride, norm = default_shaping(manifest, config)
    return base.__class__(**{**base.__dict__, "window": window, "stride": stride, "length_policy": policy,
                             "norm": norm, "extra": {}})


def _fit_lengths(manifest: dict[str, Any]) -> list[int]:
    """The lengths of the recordings a model is fitted on (all but test), or the import window without any."""
    return [int(r["length"]) for r in manifest["recordings"] if r["split"] != "test"] or [int(manifest["window"])]


def default_shaping(manifest: dict[str, Any], config: Any) -> tuple[str, int, int, str]:
    """(policy, window, stride, norm): the config's choices, else the window given at import (if one was), else
    whole recordings up to ``WHOLE_MAX`` rows (resampled to the median length; padded to the longest when
    lengths vary by more than 2x), else the manifest's windows."""
    from studio.core.selection import RESAMPLE_MIN, WHOLE_MAX

    lengths = _fit_lengths(manifest)
    lo, hi, med = min(lengths), max(lengths), int(np.median(lengths))
    policy = getattr(config, "length_policy", None)
    if policy is None and manifest.get("window_source") == "user":
        policy = "windows"  # the window given at import is kept
    if policy is None:
        policy = "windows" if hi > WHOLE_MAX else ("pad" if hi > 2 * lo else "resample")
    window = getattr(config, "window", None)
    if window is None:
        window = {"resample": max(RESAMPLE_MIN, med) if hi > lo else lo, "pad": hi}.get(policy, int(manifest["window"]))
    stride = getattr(config, "stride", None) or (max(1, int(window) // 2) if policy == "windows" else int(window))
    if policy == "windows" and getattr(config, "window", None) is None and getattr(config, "stride", None) is None:
        stride = int(manifest["stride"])
    return policy, int(window), int(stride), getattr(config, "norm", None) or "global"


def describe_input(manifest: dict[str, Any], config: Any) -> dict[str, Any]:
    """What a sensor model with ``config`` would read, for the Model page before any training: the shaping of
    :func:`default_shaping` and the recording lengths it was chosen from (no TensorFlow)."""
    policy, window, stride, norm = default_shaping(manifest, config)
    lengths = _fit_lengths(manifest)
    return {"policy": policy, "window": window, "stride": stride, "norm": norm,
            "channels": len(manifest["channels"]), "shortest": min(lengths), "longest": max(lengths),
            "select": bool(getattr(config, "select", False))}


def _recordings(project: Any, manifest: dict[str, Any], splits: tuple[str, ...]) -> tuple[list, np.ndarray, list]:
    from studio.core.data.sensor import load_recordings
    from studio.core.data.sensor.shaping import split_recordings

    recs = load_recordings(project)
    signals, labels, ids = [], [], []
    for sp in splits:
        s, y, i = split_recordings(project, sp, manifest, recs)
        signals += s
        labels += list(y)
        ids += i
    return signals, np.asarray(labels, dtype=np.int64), ids


def choose(project: Any, config: Any, reporter: Reporter) -> tuple[Any, dict[str, Any]]:
    """Run the selection on train + val recordings; return the config of the winner and the selection."""
    from studio.core.selection import select_sensor

    manifest = project.load_manifest()
    norm = manifest.get("normalization") or {}
    signals, labels, _ = _recordings(project, manifest, ("train", "val"))
    reporter.status(f"Choosing how to read {len(signals)} recordings: a short search, scored by cross-validation")
    fixed = (int(manifest["window"]), int(manifest["stride"])) if manifest.get("window_source") == "user" else None
    if fixed:
        reporter.status(f"Keeping the window given at import ({fixed[0]} rows every {fixed[1]})")
    sel = select_sensor(signals, labels, len(manifest["classes"]), norm["mean"], norm["std"], reporter,
                        seed=int(config.seed), fixed_window=fixed)
    shp = sel["winner"]["shaping"]
    winner = config.replace(arch=sel["winner"]["arch"], select=False, length_policy=shp["length_policy"],
                            window=shp["window"], stride=shp["stride"], norm=shp["norm"])
    return winner, sel


def train_sensor(project: Any, config: Any, reporter: Reporter, activate: str = "finished") -> Any:
    """The default sensor path: choose by measurement when asked (``config.select``), then fit the winner."""
    if not config.select:
        return _fit_chosen(project, config, reporter, None, activate)
    requested = config
    config, selection = choose(project, config, reporter)
    result = _fit_chosen(project, config, reporter, selection, activate)
    # The run records the winner; the project keeps the user's choice ("Let Studio choose"), so the next
    # training (e.g. after new recordings were added) chooses again instead of refitting this winner.
    project.update({"settings": {"train": {k: getattr(requested, k) for k in CHOSEN_KEYS}}})
    return result


CHOSEN_KEYS = ("select", "arch", "length_policy", "window", "stride", "norm")  # what the selection decides


def _fit_chosen(project: Any, config: Any, reporter: Reporter, selection: dict[str, Any] | None,
                activate: str) -> Any:
    from studio.core.models import get_spec

    if get_spec(config.arch).trained_by == "closed form":
        return fit_minirocket(project, config, reporter, selection, activate=activate)
    from studio.core.fsutil import atomic_write_json, read_json
    from studio.core.train import train

    reporter.status(f"Training the winner, {config.arch}, on {spec_text(sensor_spec(project, project.load_manifest(), config))}")
    result = train(project, config, reporter, activate=activate)
    if selection is not None:
        atomic_write_json(result.path / "selection.json", selection)
        metrics = read_json(result.path / "metrics.json")
        metrics["selection"] = {"why": selection["why"], "cpu_seconds": selection["cpu_seconds"]}
        atomic_write_json(result.path / "metrics.json", metrics)
    return result


def fit_minirocket(project: Any, config: Any, reporter: Reporter, selection: dict[str, Any] | None = None,
                   activate: str = "finished") -> Any:
    """Fit MiniRocket (biases + ridge head) and write a finished run; on tiny data refit on train + val."""
    from studio.core import models
    from studio.core.models import minirocket
    from studio.core.pipeline import sensor_split
    from studio.core.tfenv import load_tf

    t0, c0 = time.perf_counter(), time.process_time()
    manifest = project.load_manifest()
    classes = list(manifest["classes"])
    _, keras = load_tf()
    keras.utils.set_random_seed(int(config.seed))
    spec = sensor_spec(project, manifest, config)
    params = models.resolve_params("minirocket", **config.model_params())
    tr = sensor_split(*_recordings(project, manifest, ("train",)), spec)
    va = sensor_split(*_recordings(project, manifest, ("val",)), spec)
    reporter.status(f"Fitting MiniRocket ({params['features']} features) on {spec_text(spec)}")
    model = models.build_model("minirocket", spec.shape, len(classes), **params)
    fit = minirocket.fit(model, tr.x, tr.y, len(classes), float(params["step"]), int(config.seed))
    check_cancel(reporter)
    reporter.progress(0.8 if config.refit and len(va) else 0.95, "fitted")
    train_acc, val_acc, val_rec = _accuracies(model, tr, va)
    row = {"epoch": 1, "epochs": 1, "loss": None, "accuracy": train_acc, "val_loss": None, "val_accuracy": val_acc,
           "val_recording_accuracy": val_rec, "seconds": round(time.perf_counter() - t0, 3), "best": True}
    reporter.metrics("epoch", dict(row))
    refit = bool(config.refit and len(va))
    if refit:
        reporter.status("Refitting on training + validation recordings (the final model sees all the data)")
        x = np.concatenate([tr.x, va.x])
        y = np.concatenate([tr.y, va.y])
        model = models.build_model("minirocket", spec.shape, len(classes), **params)
        fit = minirocket.fit(model, x, y, len(classes), float(params["step"]), int(config.seed))
    run_id, run_path = project.new_run_dir()
    try:
        result = _write_run(project, run_id, run_path, model, config, params, spec, classes, tr, va, refit, row,
                            fit, selection, val_acc, val_rec, t0, c0, activate)
    except BaseException:  # nothing of this run is usable before model.json (written last): no half run left
        import shutil

        shutil.rmtree(run_path, ignore_errors=True)
        raise
    reporter.progress(1.0, "training finished")
    return result


def _write_run(project: Any, run_id: str, run_path: Any, model: Any, config: Any, params: dict[str, Any],
               spec: Any, classes: list[str], tr: Any, va: Any, refit: bool, row: dict[str, Any], fit: Any,
               selection: dict[str, Any] | None, val_acc: float | None, val_rec: float | None, t0: float,
               c0: float, activate: str) -> Any:
    """The run folder of a closed-form fit: weights, config, metrics, then model.json (the run is then valid);
    then the run contract (:func:`studio.core.run_history.offer_run` with policy ``activate``)."""
    from studio.core.fsutil import atomic_write_json
    from studio.core.run_history import offer_run
    from studio.core.runs import model_json, package_versions, save_weights_atomic
    from studio.core.train import TrainResult

    save_weights_atomic(model, run_path / "weights.h5")
    seconds = time.perf_counter() - t0
    atomic_write_json(run_path / "config.json", {
        "config": config.to_json(), "seed": int(config.seed), "versions": package_versions(), "replicas": 1,
        "n_train": len(tr) + (len(va) if refit else 0), "n_val": len(va), "refit_on_train_and_val": refit,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    })
    if selection is not None:
        atomic_write_json(run_path / "selection.json", selection)
    metrics = {
        "state": "finished", "epochs": [row], "best_epoch": 1, "best_val_accuracy": val_acc, "best_val_recording_accuracy": val_rec,
        "monitor": "closed-form fit (ridge, leave-one-out alpha)", "stopped": False, "stop_reason": None,
        "batches": 0, "seconds": round(seconds, 3), "cpu_seconds": round(time.process_time() - c0, 3),
        "ridge": {"alpha": fit.alpha, "temperature": fit.temperature,
                  "loo_accuracy_per_input": fit.loo_accuracy(np.concatenate([tr.y, va.y]) if refit else tr.y)},
        "refit_on_train_and_val": refit,
        "input": {"length_policy": spec.length_policy, "window": spec.window, "stride": spec.stride,
                  "norm": spec.norm, "description": spec_text(spec)},
    }
    if selection is not None:
        metrics["selection"] = {"why": selection["why"], "cpu_seconds": selection["cpu_seconds"]}
    atomic_write_json(run_path / "metrics.json", metrics)
    atomic_write_json(run_path / "model.json", model_json("minirocket", params, spec, classes, project.task))
    activation = offer_run(project, run_id, "finished", activate, settings=config.to_json())
    return TrainResult(run=run_id, path=run_path, arch="minirocket", params=int(model.count_params()),
                       epochs=[row], best_epoch=1, best_val_accuracy=val_acc, stopped=False, stop_reason=None,
                       seconds=seconds, config=config, activation=activation)


def spec_text(spec: Any) -> str:
    from studio.core.data.sensor.shaping import describe

    return describe(spec.length_policy, spec.window, spec.stride, spec.norm)


def _accuracies(model: Any, tr: Any, va: Any) -> tuple[float, float | None, float | None]:
    from studio.core.evaluate import predict, recording_metrics

    p_tr = predict(model, tr.x)
    train_acc = float((p_tr.argmax(1) == tr.y).mean())
    if not len(va):
        return train_acc, None, None
    p_va = predict(model, va.x)
    rec = recording_metrics(p_va, va.y, va.groups, va.recording_ids, [str(i) for i in range(p_va.shape[1])])
    return train_acc, float((p_va.argmax(1) == va.y).mean()), rec["recording_accuracy"]
