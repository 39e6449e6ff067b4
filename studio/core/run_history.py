"""Run history: every training run of a project, which one is the project's model, and choosing another.

**The run contract** (shared by the CLI, the GUI and every stage that trains): a new run becomes the project's
model (``project.json``'s ``active_run``) automatically only when it *finished*, or when the project has no
usable model; a stopped, interrupted or failed run never replaces a usable one. :func:`offer_run` applies it
(policy ``"finished"``, the default). The GUI trains with policy ``"better"``: a finished run that is worse on
validation than the current model does not replace it either, and the window asks the user (who then calls
:func:`use_run`). Whatever the policy, the result says what happened in a sentence, so a replacement is never
silent. ``studio runs P`` lists the history (:func:`run_history`), ``studio use P RUN`` picks the model.

A run is *usable* when its files are complete (``Project.list_runs``) and it was trained on the classes the
data has now (evaluation refuses a run trained on other classes).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from studio.core.errors import ProjectError
from studio.core.fsutil import read_json

POLICIES = ("finished", "better")
SETTING_KEYS = ("epochs", "batch_size", "learning_rate", "input_size", "width", "pretrained", "augment",
                "patience", "teacher", "length_policy", "window", "stride", "norm", "features")


def _read(path: Path) -> Any:
    try:
        return read_json(path)
    except (OSError, ValueError):
        return None


def _started(run_id: str, metrics: dict[str, Any], config: dict[str, Any]) -> str | None:
    """ISO date-time the run started: metrics.json, else config.json, else the id's stamp."""
    for value in (metrics.get("started"), config.get("started")):
        if isinstance(value, str) and value:
            return value
    try:
        stamp = _dt.datetime.strptime(run_id[4:19], "%Y%m%d-%H%M%S")
    except ValueError:
        return None
    return stamp.isoformat()


def validation_score(run: dict[str, Any]) -> float | None:
    """The figure runs are compared on: validation accuracy per recording (sensors) else per sample."""
    for key in ("best_val_recording_accuracy", "best_val_accuracy"):
        value = run.get(key)
        if isinstance(value, (int, float)):
            return float(value)
    return None


def describe_run(project: Any, run_id: str, classes: list[str] | None = None) -> dict[str, Any]:
    """One run as plain data: date, state, architecture, settings, best validation result, usable."""
    from studio.core.runs import run_state

    folder = project.runs_dir / run_id
    model = _read(folder / "model.json")
    model = model if isinstance(model, dict) else {}
    metrics = _read(folder / "metrics.json")
    metrics = metrics if isinstance(metrics, dict) else {}
    config_file = _read(folder / "config.json")
    config_file = config_file if isinstance(config_file, dict) else {}
    config = config_file.get("config") if isinstance(config_file.get("config"), dict) else {}
    epochs = metrics.get("epochs") if isinstance(metrics.get("epochs"), list) else []
    best = metrics.get("best_val_accuracy")
    if not isinstance(best, (int, float)):
        vals = [e.get("val_accuracy") for e in epochs if isinstance(e, dict)]
        vals = [v for v in vals if isinstance(v, (int, float))]
        best = max(vals) if vals else None
    out: dict[str, Any] = {
        "id": run_id,
        "started": _started(run_id, metrics, config_file),
        "state": run_state(folder),
        "stop_reason": metrics.get("stop_reason"),
        "arch": model.get("arch"),
        "settings": {k: config.get(k) for k in SETTING_KEYS if config.get(k) is not None},
        "epochs_run": len(epochs),
        "best_epoch": metrics.get("best_epoch"),
        "best_val_accuracy": None if best is None else float(best),
        "best_val_recording_accuracy": metrics.get("best_val_recording_accuracy"),
        "seconds": metrics.get("seconds"),
        "selection": bool((metrics.get("selection") or {}).get("why")) if isinstance(metrics.get("selection"),
                                                                                      dict) else False,
        "active": project.data.get("active_run") == run_id,
    }
    out["title"] = _arch_title(out["arch"])
    out["problem"] = _problem(model, classes)
    out["usable"] = out["problem"] is None
    out["settings_text"] = settings_text(out)
    return out


def _arch_title(arch: Any) -> str:
    from studio.core.models import REGISTRY

    spec = REGISTRY.get(str(arch)) if arch else None
    return spec.title if spec is not None else str(arch or "unknown model")


def _problem(model: dict[str, Any], classes: list[str] | None) -> str | None:
    if not model:
        return "its files are incomplete"
    trained = [str(c) for c in model.get("classes") or []]
    if classes is not None and trained != list(classes):
        return f"it was trained on other classes ({', '.join(trained)}) than the data has now"
    return None


def settings_text(run: dict[str, Any]) -> str:
    """"20 epochs (stopped after 3), batch 32, learning rate 0.001, 96 px" — the run's settings in words."""
    s = run.get("settings") or {}
    parts = []
    if s.get("epochs") is not None and run.get("arch") != "minirocket":
        text = plural(int(s["epochs"]), "epoch")
        if run.get("epochs_run") and run["epochs_run"] != s["epochs"]:
            text += f" (ran {run['epochs_run']})"
        parts.append(text)
    if s.get("batch_size") and run.get("arch") != "minirocket":
        parts.append(f"batch {s['batch_size']}")
    if s.get("learning_rate") and run.get("arch") != "minirocket":
        parts.append(f"learning rate {float(s['learning_rate']):g}")
    if s.get("input_size"):
        parts.append(f"{s['input_size']} px")
    if s.get("width"):
        parts.append(f"width {float(s['width']):g}")
    if s.get("pretrained") not in (None, "none"):
        parts.append("from ImageNet" if s["pretrained"] == "imagenet" else "from a weights file")
    if s.get("length_policy"):
        parts.append({"windows": f"windows of {s.get('window')}", "pad": "whole recordings (padded)",
                      "resample": "whole recordings (resampled)"}.get(s["length_policy"], str(s["length_policy"])))
    if s.get("teacher"):
        parts.append(f"taught by {s['teacher']}")
    if run.get("selection"):
        parts.append("chosen by measurement")
    return ", ".join(parts)


def plural(n: int, word: str, words: str | None = None) -> str:
    """"1 epoch", "2 epochs": the one place counts meet nouns."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


def _classes(project: Any) -> list[str] | None:
    try:
        return [str(c) for c in project.load_manifest()["classes"]]
    except (ProjectError, KeyError, TypeError):
        return None


def run_history(project: Any) -> dict[str, Any]:
    """``studio runs P``: every run, newest first, and which one is the project's model."""
    classes = _classes(project)
    runs = [describe_run(project, r, classes) for r in reversed(project.list_runs())]
    active = project.data.get("active_run")
    return {"runs": runs, "active_run": active if any(r["id"] == active for r in runs) else None,
            "model_usable": any(r["active"] and r["usable"] for r in runs)}


def usable_active(project: Any, classes: list[str] | None = None) -> dict[str, Any] | None:
    """The project's current model as :func:`describe_run` describes it, or None when it has no usable one."""
    active = project.data.get("active_run")
    if not active or active not in project.list_runs():
        return None
    run = describe_run(project, active, classes if classes is not None else _classes(project))
    return run if run["usable"] else None


def use_run(project: Any, run_id: str) -> dict[str, Any]:
    """Make ``run_id`` the project's model (``studio use P RUN``); refuses a run that is not usable."""
    runs = project.list_runs()
    if run_id not in runs:
        raise ProjectError(f"no run named {run_id!r}", path=project.runs_dir,
                           hint=("runs: " + ", ".join(reversed(runs))) if runs else "train one first ('studio train')")
    run = describe_run(project, run_id, _classes(project))
    if not run["usable"]:
        raise ProjectError(f"run {run_id} cannot be the model: {run['problem']}", path=project.runs_dir / run_id,
                           hint="train again on the current data")
    previous = project.data.get("active_run")
    project.update(active_run=run_id)
    run["active"] = True
    return {"active_run": run_id, "previous_run": previous if previous != run_id else None, "run": run}


def offer_run(project: Any, run_id: str, state: str, policy: str = "finished",
              settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Apply the run contract to a run that just ended (or reached its first best epoch) in ``state``.

    Returns ``{"active": bool, "active_run", "previous_run", "previous_score", "score", "reason", "note"}``:
    ``reason`` is "finished", "no usable model", "stopped" (state not finished), "worse" (policy "better") or
    "already"; ``note`` says it in a sentence. ``settings`` (the train settings the run used) are recorded too.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown activation policy {policy!r}")
    classes = _classes(project)
    current = usable_active(project, classes)
    mine = describe_run(project, run_id, classes) if run_id in project.list_runs() else {"id": run_id}
    score, previous_score = validation_score(mine), validation_score(current) if current else None
    if current is not None and current["id"] == run_id:
        reason = "already"
    elif current is None:
        reason = "no usable model"
    elif state != "finished":
        reason = "stopped"
    elif policy == "better" and score is not None and previous_score is not None and score < previous_score:
        reason = "worse"
    else:
        reason = "finished"
    active = reason in ("already", "no usable model", "finished")
    changes: dict[str, Any] = {}
    if active and project.data.get("active_run") != run_id:
        changes["active_run"] = run_id
    if settings:
        changes["settings"] = {"train": settings}
    if changes:
        project.update(changes)
    out = {"active": active, "active_run": run_id if active else current["id"],
           "previous_run": current["id"] if current and current["id"] != run_id else None,
           "previous_score": previous_score, "score": score, "reason": reason}
    out["note"] = _offer_note(out, state)
    out["replaced_better"] = bool(active and out["previous_run"] and score is not None
                                  and previous_score is not None and score < previous_score)
    return out


def _pct(value: float | None) -> str:
    return "?" if value is None else f"{100 * value:.1f} %"


def _offer_note(o: dict[str, Any], state: str) -> str:
    prev = o["previous_run"]
    if o["reason"] == "stopped":
        return (f"This run {state} ({_pct(o['score'])} on validation): the project's model is still {prev} "
                f"({_pct(o['previous_score'])}).")
    if o["reason"] == "worse":
        return (f"This run reached {_pct(o['score'])} on validation, below the project's model {prev} "
                f"({_pct(o['previous_score'])}), which stays the model.")
    if prev and o["score"] is not None and o["previous_score"] is not None and o["score"] < o["previous_score"]:
        return (f"This run ({_pct(o['score'])} on validation) is now the project's model, replacing {prev}, "
                f"which was better ({_pct(o['previous_score'])}).")
    if prev:
        return f"This run is now the project's model (it replaces {prev})."
    return "This run is the project's model."
