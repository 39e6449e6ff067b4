"""The `studio` command: the wizard's steps, headless.

Every sub-command takes ``--json``: one JSON object on stdout, progress on stderr. Bad input exits with code 2
and one line on stderr, never a traceback. This module imports neither TensorFlow nor Qt at import time:
``studio --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Callable

from studio import __version__
from studio.core.errors import Cancelled, StudioError
from studio.core.reporter import EventReporter

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # like a shell's exit status after Ctrl-C


class UsageError(StudioError):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line (and exit code 2) like every other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}", hint=f"see '{self.prog} --help'")


class CliReporter(EventReporter):
    """Progress on stderr: a redrawn bar on a terminal, sparse status lines otherwise.

    Built on the core's :class:`~studio.core.reporter.EventReporter` like the worker process: with
    ``events=True`` (``--events``) stderr gets the very JSON lines the window receives from its worker.
    """

    def __init__(self, quiet: bool = False, events: bool = False) -> None:
        super().__init__(self._render)
        self.tty = sys.stderr.isatty()
        self.quiet = quiet
        self.events = events
        self._last_line = 0.0
        self._last_fraction = -1.0
        self._bar_open = False

    def _render(self, event: dict[str, Any]) -> None:
        if self.events:
            from studio.core.protocol import encode

            sys.stderr.write(encode(event) + "\n")
            sys.stderr.flush()
            return
        if self.quiet:
            return
        kind = event["type"]
        if kind == "progress":
            self._progress_line(float(event["fraction"]), str(event.get("message") or ""))
        elif kind == "status":
            self._write(str(event["message"]))
        elif kind == "metrics" and event.get("kind") == "epoch":
            self._write(epoch_line(event["values"]))

    def _write(self, text: str) -> None:
        if self._bar_open:
            sys.stderr.write("\n")
            self._bar_open = False
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def _progress_line(self, fraction: float, message: str) -> None:
        if self.tty:
            width = 30
            filled = int(round(width * fraction))
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {fraction * 100:5.1f}% {message[:60]:<60}")
            sys.stderr.flush()
            self._bar_open = fraction < 1.0
            if fraction >= 1.0:
                sys.stderr.write("\n")
        else:
            now = time.monotonic()
            if fraction >= 1.0 or fraction - self._last_fraction >= 0.1 or now - self._last_line > 10:
                self._last_fraction = fraction
                self._last_line = now
                sys.stderr.write(f"{fraction * 100:5.1f}% {message}\n")
                sys.stderr.flush()

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called (Ctrl-C, see :class:`Interrupts`)."""
        return self.cancel_requested()


class Interrupts:
    """SIGINT / SIGTERM during a command behave like the GUI's Stop button.

    The first signal asks the running step to stop at its next safe point (training keeps its best weights,
    an import / optimize / export leaves the project as it was); a second one interrupts at once. Handlers
    are installed only in the main thread and restored afterwards.
    """

    def __init__(self, rep: CliReporter) -> None:
        self.rep = rep
        self.signal: int | None = None
        self._saved: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.rep.cancelled:
            raise KeyboardInterrupt
        self.signal = signum
        self.rep.cancel()
        sys.stderr.write("\nstopping at the next safe point (press Ctrl-C again to stop at once)\n")
        sys.stderr.flush()

    def __enter__(self) -> "Interrupts":
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        import signal

        for sig, handler in self._saved.items():
            signal.signal(sig, handler)


def epoch_line(values: dict[str, Any]) -> str:
    parts = [f"epoch {values.get('epoch', '?')}/{values.get('epochs', '?')}"]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        if values.get(key) is not None:
            parts.append(f"{key} {values[key]:.4f}")
    if values.get("seconds") is not None:
        parts.append(f"{values['seconds']:.1f}s")
    return "  ".join(parts)


# ---------------------------------------------------------------------------------------------- commands
def cmd_new(args: argparse.Namespace, rep: CliReporter) -> dict[str, Any]:
    from studio.core.project import Project

    project = Project.create(args.project, args.task, name=args.name)
    rep.status(f"Created {project.task} project at {project.path}")
    return {"project": str(project.path), "task": project.task, "name": project.name}


def cmd_import(args: argparse.Namespace, rep: CliReporter) -> dict[str, Any]:
    from studio.core.data import import_data
    from studio.core.project import Project

    project = Project.open(args.project)
    channels = [c.strip() for c in args.channels.split(",")] if args.channels else None
    result = import_data(
        project,
        args.data,
        test_source=args.test,
        val_split=args.val_split,
        test_split=args.test_split,
        seed=args.seed,
        window=args.window,
        stride=args.stride,
        label_column=args.label_column,
        recording_column=args.recording_column,
        channels=channels,
        reporter=rep,
        normal=args.normal,
    )
    out = result.to_json()
    for warning in out.get("warnings", []):
        rep.status(f"warning: {warning}")
    if out.get("skipped"):
        rep.status(f"skipped {len(out['skipped'])} file(s); see 'skipped' in --json output")
    return out


def cmd_train(args: argparse.Namespace, rep: CliReporter) -> dict[str, Any]:
    from studio.core.project import Project
    from studio.core.train import default_config, train

    project = Project.open(args.project)
    if project.is_anomaly:
        return _train_anomaly(project, args, rep)
    overrides = {
        "arch": args.arch,
        "input_size": args.input_size,
        "width": args.width,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.lr,
        "pretrained": args.pretrained,
        "seed": args.seed,
        "distribute": args.distribute,
        "patience": args.patience,
        "teacher": args.teacher,
    }
    for key in ("window", "stride", "length_policy", "norm", "features"):
        if getattr(args, key, None) is not None:
            overrides[key] = getattr(args, key)
    if getattr(args, "no_refit", False):
        overrides["refit"] = False
    if args.no_augment:
        overrides["augment"] = False
    if getattr(args, "flip", False):
        overrides["flip"] = True
    config = default_config(project, **{k: v for k, v in overrides.items() if v is not None})
    if config.select:
        rep.status("Choosing a model for this data: a short search scored by cross-validation, then the winner")
    elif models_closed_form(config.arch):
        rep.status(f"Fitting {config.arch} in closed form (no epochs)")
    else:
        rep.status(f"Training {config.arch} for up to {config.epochs} epochs (batch {config.batch_size})")
    result = train(project, config, rep)
    out = result.to_json()
    activation = out.get("activation") or {}
    if activation.get("note"):
        rep.status(activation["note"])
    if activation.get("reason") in ("stopped", "worse"):
        rep.status(f"To make this run the model: studio use {args.project} {out['run']}")
    elif activation.get("replaced_better"):
        rep.status(f"To go back: studio use {args.project} {activation['previous_run']}")
    return out


def models_closed_form(arch: str) -> bool:
    from studio.core.models import REGISTRY

    return REGISTRY[arch].trained_by == "closed form"


def _train_anomaly(project: Any, args: argparse.Namespace, rep: CliReporter) -> dict[str, Any]:
    """`studio train` in an anomaly project: fit the detector on the good examples, calibrate the threshold."""
    from studio.core.anomaly.config import default_config
    from studio.core.anomaly.train import train_anomaly

    config = default_config(project, detector=args.detector or args.arch, input_size=args.input_size,
                            bank=args.bank, false_alarms=args.false_alarms, seed=args.seed)
    rep.status(f"Fitting the anomaly detector ({config.detector}) on the good examples")
    out = train_anomaly(project, config, rep).to_json()
    unit = out.get("threshold_unit")
    what = f"{unit}s" if unit in ("recording", "window") else "examples"
    rep.status(f"{out['detector']} detector: validation AUROC {_fmt(out['val_auroc'])}, threshold "
               f"{out['threshold']:.4g} ({out['val'].get('false_alarm_rate', 0) * 100:.1f} % false alarms on "
               f"validation good {what}; it rests on {out['threshold_good_examples']} good {what} the detector was "
               "not fitted on)")
    if out.get("threshold_warning"):
        rep.status(out["threshold_warning"])
    return out


def _fmt(value: Any, pct: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value * 100:.1f}%" if pct else f"{value:.3f}"


def cmd_evaluate(args: argparse.Namespace, rep: CliReporter) -> dict[str, Any]:
    from studio.core.evaluate import evaluate
    from studio.core.project import Project

    project = Project.open(args.project)
    result = evaluate(project, run_id=args.run, split=args.split, data_path=args.data, reporter=rep)
    out = result.to_json()
    if args.threshold is not None and project.is_anomaly:
        raise UsageError("--threshold is a classifier's confidence for 'check by hand'; a detector's threshold "
                         "is moved with 'studio threshold'", hint=f"studio threshold {args.project} --value X")
    if args.threshold is not None:
        from studio.core.verdict import verdict_of

        if not 0.0 <= args.threshold <= 1.0:
            raise UsageError(f"--threshold {args.threshold:g} is not between 0 and 1",
                             hint="e.g. --threshold 0.8: below 80 % confidence a sample goes to check by hand")
        out["verdict"] = verdict_of(out, project.modality, threshold=args.threshold)
    if not args.json and project.is_anomaly:
        rep.status(f"AUROC {_fmt(out['auroc'])}, detection {_fmt(out['detection_rate'], True)}, false alarms "
                   f"{_fmt(out['false_alarm_rate'], True)} at threshold {out['threshold']:.4g} on {out['n']} "
                   f"{out['unit']}s")
        if out.get("events"):
            caught = sum(e["verdict"] == "NOT OK" for e in out["events"])
            rep.status(f"anomalous stretches caught (a window over them flagged): {caught} of {len(out['events'])}")
        if out.get("threshold_warning"):
            rep.status(out["threshold_warning"])
    elif not args.json:
        if "recording_accuracy" in out:
            rep.status(f"per recording: accuracy {out['recording_accuracy'] * 100:.1f}% on {out['recordings']} "
                       f"recordings (mean of each recording's window probabilities)")
            rep.status(f"per window: accuracy {out['accuracy'] * 100:.1f}% on {out['n']} windows "
                       f"({out.get('input_policy', '')})")
        else:
            rep.status(f"accuracy {out['accuracy'] * 100:.1f}% on {out['n']} samples")
        for line in out["verdict"]["lines"]:
            rep.status(line)
    return out


def cmd_runs(args: argparse.Namespace, rep: CliReporter) -> dict[str, Any]:
    from studio.core.project import Project
    from studio.core.run_history import run_history

    out = run_history(Project.open(args.project))
    if not args.json:
        for run in out["runs"]:
            score = run["best_val_recording_accuracy"] if run["best_val_recording_accuracy"] is not None \
                else run["best_val_accuracy"]
            sys.stdout.write(
                f"{'*' if run['active'] else ' '} {run['id']}  {(run['started'] or '')[:16]:16}  {run['state']:11}  "
                f"{'-' if score is None else f'{100 * score:.1f} %':>7}  {run['title']}: {run['settings_text']}"
                + (f"  (not usable: {run['problem']})" if run["problem"] else "") + "\n")
        if not out["runs"]:
            sys.stdout.write("no runs yet: train one with 'studio train'\n")
        elif out["active_run"]:
            sys.stdout.write("* = the project's model (best validation accuracy shown)\n")
    return out


def cmd_use(args: argparse.Namespace, rep: CliReporter) -> dict[str, Any]:
    from studio.core.project import Project
    from studio.core.run_history import use_run

    out = use_run(Project.open(args.project), args.run)
    rep.status(f"{out['active_run']} is now the project's model"
               + (f" (was {out['previous_run']})" if out["previous_run"] else ""))
    return out


def cmd_threshold(args: argparse.Namespace, rep: CliReporter) -> dict[str, Any]:
    """Move an anomaly run's threshold (no refit): a false-alarm budget, a detection target, balanced, a value."""
    from studio.core.anomaly.runs import move_threshold, read_anomaly_run, read_calibration
    from studio.core.project import Project

    project = Project.open(args.project)
    chosen = [k for k in ("false_alarms", "detection", "balanced", "value") if getattr(args, k) not in (None, False)]
    if len(chosen) > 1:
        raise UsageError("give one of --false-alarms, --detection, --balanced, --value")
    if not chosen:
        return read_calibration(read_anomaly_run(project, args.run).path)
    kind = chosen[0]
    rate = getattr(args, kind) if kind in ("false_alarms", "detection") else None
    record = move_threshold(project, args.run, kind, rate, args.value)
    m = record["metrics"]
    rep.status(f"threshold {record['threshold']:.4g} ({record['policy_text']}): on validation "
               f"{_fmt(m['false_alarm_rate'], True)} false alarms, {_fmt(m['detection_rate'], True)} of defects caught")
    if record.get("warning"):
        rep.status(record["warning"])
    return record


def cmd_info(args: argparse.Namespace, rep: CliReporter) -> dict[str, Any]:
    from studio.core.info import project_info
    from studio.core.project import Project

    return project_info(Project.open(args.project))


def cmd_archs(args: argparse.Namespace, rep: CliReporter) -> dict[str, Any]:
    from studio.core.models import describe_architectures

    return {"architectures": describe_architectures(task=args.task, estimate=args.estimate, input_size=args.input_size)}


def cmd_optimize(args: argparse.Namespace, rep: CliReporter) -> dict[str, Any]:
    from studio.core.optimize import OptimizeConfig, optimize
    from studio.core.project import Project

    project = Project.open(args.project)
    config = OptimizeConfig(
        prune=args.prune,
        prune_kind=args.prune_kind or OptimizeConfig.prune_kind,
        channel_rank=args.channel_rank,
        distill=args.distill,
        distill_alpha=args.distill_alpha,
        distill_temperature=args.distill_temperature,
        quantize=args.quantize,
        qat=args.qat,
        finetune_epochs=args.finetune_epochs,
        finetune_tries=args.tries,
        run_id=args.run,
        name=args.name,
    )
    return optimize(project, config, rep).to_json()


def cmd_search(args: argparse.Namespace, rep: CliReporter) -> dict[str, Any]:
    from studio.core.optimize.search import search
    from studio.core.optimize.search_space import SearchConfig
    from studio.core.project import Project

    project = Project.open(args.project)

    def floats(text: str | None) -> tuple[float, ...] | None:
        return tuple(float(v) for v in text.split(",")) if text else None

    config = SearchConfig(
        target=args.target,
        budget_min=args.budget_min,
        max_bytes=int(args.max_kb * 1024) if args.max_kb else None,
        quantize=tuple(q.strip() for q in args.quantize.split(",")),
        archs=tuple(a.strip() for a in args.archs.split(",")) if args.archs else None,
        widths=floats(args.widths),
        input_sizes=tuple(int(v) for v in floats(args.input_sizes) or ()) or None,
        channel_fractions=floats(args.channels) or SearchConfig.channel_fractions,
        distill=args.distill,
        keep=not args.no_keep,
        max_candidates=args.max_candidates or SearchConfig.max_candidates,
        epochs=args.epochs,
        max_latency_ms=args.max_latency_ms,
    )
    out = search(project, config, rep).to_json()
    if not args.json:
        for p in out["frontier"]:
            s = p["settings"]
            rep.status(f"{p['name'] or '-'}: {p['bytes'] / 1024:.1f} KB, arena {(p['arena_bytes'] or 0) / 1024:.1f} KB, "
                       f"accuracy {p['accuracy'] * 100:.1f}%{' fits' if p['fits'] else ''} ({s.get('arch')})")
    return out


def cmd_variants(args: argparse.Namespace, rep: CliReporter) -> dict[str, Any]:
    from studio.core.optimize import list_variants
    from studio.core.project import Project

    project = Project.open(args.project)
    return {"variants": list_variants(project, target=args.target)}


def cmd_export(args: argparse.Namespace, rep: CliReporter) -> dict[str, Any]:
    from studio.core.export import export
    from studio.core.project import Project

    project = Project.open(args.project)
    return export(project, args.out, variant=args.variant, target=args.target, reporter=rep).to_json()


def cmd_targets(args: argparse.Namespace, rep: CliReporter) -> dict[str, Any]:
    from studio.core.targets import describe_targets

    return {"targets": describe_targets()}


def cmd_gui(args: argparse.Namespace, rep: CliReporter) -> dict[str, Any] | None:
    from studio.gui.app import main as gui_main

    argv = []
    if getattr(args, "project", None):
        argv.append(args.project)
    if getattr(args, "sample", None):
        argv += ["--sample", args.sample]
    raise SystemExit(gui_main(argv))


def cmd_explain(args: argparse.Namespace, rep: CliReporter) -> dict[str, Any]:
    from studio.core.explain import ExplainRequest, explain
    from studio.core.project import Project

    project = Project.open(args.project)
    request = ExplainRequest(method=args.method, run_id=args.run, variant=args.variant, target=args.target,
                             use_cache=not args.no_cache)
    out = explain(project, args.file, request, reporter=rep)
    if args.out:
        from studio.core.overlay import save_overlay

        out["overlay"] = str(save_overlay(out, args.out))
    if not args.json:
        rep.status(out["legend"] + (f" Picture: {out['overlay']}" if args.out else ""))
    return out


def cmd_try(args: argparse.Namespace, rep: CliReporter) -> dict[str, Any]:
    from studio.core.project import Project
    from studio.core.tryit import TryRequest, try_files

    project = Project.open(args.project)
    request = TryRequest(paths=tuple(args.paths), variant=None if args.float_only else args.variant,
                         compare_float=not args.no_float, why=not args.no_why)
    out = try_files(project, request, rep)
    if not args.json:
        for item in out["items"]:
            if "error" in item:
                rep.status(f"{item['path']}: {item['error']}")
                continue
            if out.get("anomaly"):
                line = f"{item['path']}: {item['verdict']} (score {item['score']:.4g}, threshold {item['threshold']:.4g})"
                if item.get("differs"):
                    line += f"; float detector: {item['float']['verdict']} (score {item['float']['score']:.4g})"
            else:
                line = f"{item['path']}: {item['label']} ({item['confidence'] * 100:.0f} %)"
                if item.get("differs"):
                    line += f"; float model: {item['float']['label']} ({item['float']['confidence'] * 100:.0f} %)"
            rep.status(line)
    return out


def cmd_suspects(args: argparse.Namespace, rep: CliReporter) -> dict[str, Any]:
    from studio.core.project import Project
    from studio.core.suspects import find_suspects

    project = Project.open(args.project)
    out = find_suspects(project, args.run, rep, top=args.top, use_cache=not args.no_cache)
    if not args.json:
        rep.status(f"{out['n_flagged']} of {out['n_ranked']} examples are possibly mislabelled")
        for s in out["suspects"][:20]:
            rep.status(f"  {s['score']:.2f}  {s['name']}: labelled {s['label']}, looks like {s['suggested']}")
    return out


def cmd_curate(args: argparse.Namespace, rep: CliReporter) -> dict[str, Any]:
    from studio.core.data.curation import curate
    from studio.core.project import Project

    project = Project.open(args.project)
    label = getattr(args, "label", None)
    out = curate(project, args.samples, args.command, label)
    if not args.json:
        rep.status(f"{len(out['changed'])} changed, {out['unchanged']} already so")
    return out


def cmd_selftest(args: argparse.Namespace, rep: CliReporter) -> dict[str, Any]:
    from studio.core.selftest import run_selftest

    return run_selftest(rep)


def cmd_check_bundle(args: argparse.Namespace, rep: CliReporter) -> dict[str, Any]:
    from studio.core.selftest import check_bundle

    result = check_bundle(args.bundle, compiled=False if args.no_compile else None, kit=args.kit, reporter=rep)
    if not args.json:
        for check in result["checks"]:
            state = ("passed" if check["ok"] else "FAILED") if check["ran"] else "not run"
            extra = check.get("detail") if check["ran"] else check.get("reason")
            sys.stdout.write(f"{check['title']}: {state}" + (f" ({extra})" if extra else "") + "\n")
        sys.stdout.write("\n".join(result["summary"]) + "\n")
    return result


# ---------------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="studio",
        description="Small Model Studio: build, shrink and export small neural networks for images and sensors.",
        epilog="Run 'studio' with no command to open the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--selftest", action="store_true", help="run a headless end-to-end self-test and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def add(name: str, func: Callable, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        p.add_argument("--events", action="store_true",
                       help="progress, status and metrics as JSON lines on stderr (the worker protocol)")
        p.set_defaults(func=func)
        return p

    p = add("new", cmd_new, "create a new project folder")
    p.add_argument("project", help="project folder to create")
    p.add_argument("--task", choices=["image", "sensor", "image-anomaly", "sensor-anomaly"], required=True,
                   help="image / sensor: classify named classes; *-anomaly: learn 'good' from good examples only")
    p.add_argument("--name", help="display name (default: folder name)")

    p = add("import", cmd_import, "import a data folder (or CSV) into a project")
    p.add_argument("project")
    p.add_argument("data", help="folder of class sub-folders, or one CSV with a label column")
    p.add_argument("--test", help="a separate labelled folder used as the test split")
    p.add_argument("--val-split", type=float, default=0.2, help="fraction for validation (default 0.2)")
    p.add_argument("--test-split", type=float, default=0.0, help="fraction held out for test (default 0)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--window", type=int, help="sensor window length in rows")
    p.add_argument("--stride", type=int, help="sensor window stride in rows")
    p.add_argument("--label-column", help="sensor CSV: the column holding the class")
    p.add_argument("--recording-column", help="sensor CSV: the column holding a recording id")
    p.add_argument("--channels", help="sensor: comma-separated channel columns to use (default: all numeric)")
    p.add_argument("--normal", metavar="NAME",
                   help="anomaly projects: the class folder of good examples (default: good, ok or normal)")

    p = add("train", cmd_train, "train a model on the imported data")
    p.add_argument("project")
    p.add_argument("--arch", help="architecture id (see 'studio archs')")
    p.add_argument("--input-size", type=int, help="image side in pixels")
    p.add_argument("--width", type=float, help="MobileNetV2 width multiplier (0.35, 0.5, 0.75, 1.0)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--patience", type=int, help="early-stopping patience in epochs")
    p.add_argument("--no-augment", action="store_true", help="turn data augmentation off")
    p.add_argument("--flip", action="store_true", help="also mirror images left-right when augmenting")
    p.add_argument("--pretrained", help="none, imagenet, or a path to a weights .h5 file")
    p.add_argument("--seed", type=int)
    p.add_argument("--distribute", choices=["none", "mirrored", "multiworker"], help="tf.distribute strategy")
    p.add_argument("--teacher", metavar="RUN",
                   help="a finished run to learn from as well as the labels (distillation), e.g. for a smaller width")
    p.add_argument("--window", type=int, help="sensors: model input length in rows (skips the search)")
    p.add_argument("--stride", type=int, help="sensors: rows between windows (with --length-policy windows)")
    p.add_argument("--length-policy", choices=["resample", "pad", "windows"],
                   help="sensors: whole recordings resampled or padded to one length, or windows")
    p.add_argument("--norm", choices=["global", "recording"],
                   help="sensors: per-channel training statistics, or z-normalize each input")
    p.add_argument("--features", type=int, help="MiniRocket feature count (840, 2016, 5040, 10000)")
    p.add_argument("--no-refit", action="store_true",
                   help="MiniRocket: keep the model fitted on the training split only (no refit on train + val)")
    p.add_argument("--detector", choices=["auto", "patch", "global", "window"],
                   help="anomaly projects: patch (textures, parts anywhere), global (aligned images), window (sensors)")
    p.add_argument("--bank", type=int, help="anomaly projects: memory-bank size (global and window detectors)")
    p.add_argument("--false-alarms", type=float,
                   help="anomaly projects: share of good examples the detector was not fitted on that the threshold "
                        "may flag (default 0.01)")

    p = add("evaluate", cmd_evaluate, "evaluate the trained model")
    p.add_argument("project")
    p.add_argument("--data", help="a labelled folder (or CSV) with the same classes")
    p.add_argument("--split", choices=["val", "test", "train"], default=None)
    p.add_argument("--run", help="run id (default: the active run)")
    p.add_argument("--threshold", type=float, metavar="F",
                   help="0..1: below this confidence a sample goes to 'check by hand' in the verdict")

    p = add("runs", cmd_runs, "list the training runs (newest first) and which one is the project's model")
    p.add_argument("project")

    p = add("use", cmd_use, "make a training run the project's model (see 'studio runs')")
    p.add_argument("project")
    p.add_argument("run", help="run id, as 'studio runs' lists it")

    p = add("threshold", cmd_threshold, "show or move an anomaly detector's threshold (no refit)")
    p.add_argument("project")
    p.add_argument("--false-alarms", type=float, help="flag at most this share of the good examples the detector was not fitted on")
    p.add_argument("--detection", type=float, help="catch at least this share of validation defects")
    p.add_argument("--balanced", action="store_true", help="best detection minus false alarms on validation")
    p.add_argument("--value", type=float, help="this threshold exactly")
    p.add_argument("--run", help="run id (default: the active run)")

    p = add("explain", cmd_explain, "show why the model answers what it does for one file (a why-map)")
    p.add_argument("project")
    p.add_argument("file", help="an image, or a sensor CSV holding one recording")
    p.add_argument("--out", help="also write the why-map picture (PNG) here")
    p.add_argument("--method", choices=["occlusion", "gradcam"], default="occlusion",
                   help="occlusion (default; works on variants too) or gradcam (trained model only)")
    p.add_argument("--variant", help="explain a variant through LiteRT ('active' = the active variant)")
    p.add_argument("--run", help="run id (default: the active run)")
    p.add_argument("--class", dest="target", help="explain this class instead of the predicted one")
    p.add_argument("--no-cache", action="store_true", help="recompute even if a cached why-map exists")

    p = add("try", cmd_try, "answer new files with the variant a device runs (LiteRT), beside the float model "
            "(anomaly projects: OK / NOT OK, score and threshold)")
    p.add_argument("project")
    p.add_argument("paths", nargs="+", help="images, sensor CSV files, or folders of them")
    p.add_argument("--variant", default="active", help="variant name (default: the active variant)")
    p.add_argument("--float-only", action="store_true", help="use the trained float model, no variant")
    p.add_argument("--no-float", action="store_true", help="do not add the float model's answer")
    p.add_argument("--no-why", action="store_true", help="skip the why-maps (faster)")

    p = add("suspects", cmd_suspects, "list training / validation examples that are possibly mislabelled")
    p.add_argument("project")
    p.add_argument("--run", help="run id (default: the active run)")
    p.add_argument("--top", type=int, default=200, help="at most this many suspects (default 200)")
    p.add_argument("--no-cache", action="store_true", help="recompute even if the list is cached")

    p = add("relabel", cmd_curate, "give samples another label (recorded in the manifest; 'restore' undoes it)")
    p.add_argument("project")
    p.add_argument("label", help="the new class")
    p.add_argument("samples", nargs="+", help="sample paths or names as 'studio suspects' lists them")
    p = add("exclude", cmd_curate, "leave samples out of training and evaluation ('restore' undoes it)")
    p.add_argument("project")
    p.add_argument("samples", nargs="+", help="sample paths or names as 'studio suspects' lists them")
    p = add("restore", cmd_curate, "undo relabel / exclude: back to the imported label")
    p.add_argument("project")
    p.add_argument("samples", nargs="+", help="sample paths or names as 'studio suspects' lists them")

    p = add("info", cmd_info, "summarize a project")
    p.add_argument("project")

    p = add("archs", cmd_archs, "list the available architectures")
    p.add_argument("--task", choices=["image", "sensor"])
    p.add_argument("--estimate", action="store_true", help="also build each model to count parameters/MACs")
    p.add_argument("--input-size", type=int, help="image size used for --estimate")

    p = add("optimize", cmd_optimize, "build an optimized (pruned / quantized) variant of the trained model")
    p.add_argument("project")
    p.add_argument("--prune", type=float, default=0.0,
                   help="0..0.9: fraction of channels removed (--prune-kind channels) or of weights zeroed (weights)")
    p.add_argument("--prune-kind", choices=["channels", "weights"], default=None,
                   help="channels: remove whole filters, a smaller file, arena and latency; weights: zero weights, "
                        "only the zipped file shrinks (default: %s)" % "channels")
    p.add_argument("--channel-rank", choices=["l1", "bn"], default="l1",
                   help="channels: rank filters by kernel L1 norm or batch-norm scale")
    p.add_argument("--distill", dest="distill", action="store_true", default=None,
                   help="fine-tune against the trained model's outputs too (off by default: not better on our data)")
    p.add_argument("--no-distill", dest="distill", action="store_false", help="fine-tune on labels only")
    p.add_argument("--distill-alpha", type=float, help="weight of the label loss, 0..1")
    p.add_argument("--distill-temperature", type=float, help="softening temperature, 1 or more")
    p.add_argument("--quantize", choices=["float32", "float16", "dynamic", "int8"], default="int8")
    p.add_argument("--qat", action="store_true", help="quantization-aware training")
    p.add_argument("--finetune-epochs", type=int, default=None)
    p.add_argument("--tries", type=int, default=None,
                   help="channels: fine-tune the last cut N times from the same weights and keep the one with the "
                        "best validation accuracy (default 2; 1 takes half the time of the last fine-tune)")
    p.add_argument("--run", help="run id (default: the active run)")
    p.add_argument("--name", help="variant name (default: derived from the settings)")

    p = add("search", cmd_search, "search the most accurate models that fit a device, within a time budget")
    p.add_argument("project")
    p.add_argument("--target", required=True, help="device profile id (see 'studio targets')")
    p.add_argument("--budget-min", type=float, default=10.0, help="time budget in minutes (default 10)")
    p.add_argument("--max-kb", type=float, help="largest model file worth trying, in KB (default: the flash)")
    p.add_argument("--quantize", default="int8", help="comma-separated quantizations to measure (default int8)")
    p.add_argument("--archs", help="comma-separated architecture ids (default: every one for the data)")
    p.add_argument("--widths", help="comma-separated widths (default: each architecture's)")
    p.add_argument("--input-sizes", help="comma-separated image sides (default: the run's and smaller)")
    p.add_argument("--channels", help="comma-separated channel-pruning fractions (default 0.25,0.5,0.75)")
    p.add_argument("--max-candidates", type=int, help="architectures / widths / sizes trained from scratch (default 6)")
    p.add_argument("--max-latency-ms", type=float,
                   help="host latency budget in ms (LiteRT, batch 1): slower points do not fit (default: none)")
    p.add_argument("--epochs", type=int, help="epochs of a fully trained candidate (default: Studio's)")
    p.add_argument("--distill", dest="distill", action="store_true", default=None,
                   help="candidates learn from the trained run (off by default: not better on our data)")
    p.add_argument("--no-distill", dest="distill", action="store_false")
    p.add_argument("--no-keep", action="store_true", help="do not keep the frontier points as variants")

    p = add("variants", cmd_variants, "list optimized variants with their measurements")
    p.add_argument("project")
    p.add_argument("--target", help="device profile id for the fits column")

    p = add("export", cmd_export, "write a deployable bundle for a variant")
    p.add_argument("project")
    p.add_argument("out", help="output folder")
    p.add_argument("--variant", help="variant name (default: the active variant)")
    p.add_argument("--target", help="device profile id (see 'studio targets')")

    add("targets", cmd_targets, "list device profiles")

    p = add("selftest", cmd_check_bundle,
            "check an exported bundle: does it reproduce Studio's answers, and is the model correct on its golden "
            "examples (exit 1 when it does not reproduce them)")
    p.add_argument("bundle", help="the exported bundle folder")
    p.add_argument("--no-compile", action="store_true", help="MCU bundles: do not compile main.cc")
    p.add_argument("--kit", help="a TFLite-Micro host build (default: $STUDIO_TFLM_KIT)")

    p = sub.add_parser("gui", help="open the desktop app", description="open the desktop app")
    p.add_argument("project", nargs="?", help="project folder to open")
    p.add_argument("--sample", choices=["image", "sensor", "image-anomaly", "sensor-anomaly"],
                   help="open a copy of a bundled sample project")
    p.set_defaults(func=cmd_gui, json=False)
    return parser


def _emit(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:  # the window's TensorFlow process (studio.jobs.worker), source and frozen
        from studio.jobs.worker import main as worker_main

        return worker_main(argv[1:])
    if argv[:1] == ["--tflm-probe"]:  # TFLite-Micro arena probe worker (studio.core.micro) in a frozen app
        from studio.core.micro import probe_main

        return probe_main(argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    if args.selftest:
        args.func, args.json = cmd_selftest, False
    elif args.command is None:
        from studio.gui.app import main as gui_main

        return gui_main([])
    rep = CliReporter(quiet=bool(os.environ.get("STUDIO_QUIET")), events=bool(getattr(args, "events", False)))
    try:
        with Interrupts(rep), command_lock(args):
            result = args.func(args, rep)
    except Cancelled as exc:
        sys.stderr.write(f"stopped: {exc}; the project is as it was before this command\n")
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; the project is as it was before this command (or holds what it "
                         "finished)\n")
        return EXIT_INTERRUPTED
    except StudioError as exc:
        if rep.events:
            from studio.core.protocol import encode, error_event

            sys.stderr.write(encode(error_event(exc)) + "\n")
        else:
            sys.stderr.write(f"error: {exc}\n")
        return EXIT_USAGE
    except OSError as exc:
        sys.stderr.write(f"error: {os_error_text(exc)}\n")
        return EXIT_USAGE
    except MemoryError:
        sys.stderr.write("error: out of memory — close other programs, or use smaller images / a smaller "
                         "batch size\n")
        return EXIT_USAGE
    if result is None:
        return EXIT_OK
    if args.json:
        _emit(result)
    elif args.command in ("info", "archs", "variants", "targets", "import", "export") or args.selftest:
        _emit(result)
    if isinstance(result, dict) and result.get("stopped") and rep.cancelled:
        sys.stderr.write(f"stopped: {result.get('stop_note') or 'kept the work finished so far'}\n")
        return EXIT_INTERRUPTED
    if isinstance(result, dict) and result.get("ok") is False:
        return EXIT_FAILED
    return EXIT_OK


# Commands that write a project hold its lock from start to end (one writer per project across processes;
# the GUI's worker does the same for its jobs). Reading commands (info, evaluate, variants) never wait.
WRITERS = {"import": "importing data", "train": "training", "optimize": "building a variant",
           "export": "exporting", "use": "choosing the model", "threshold": "setting the threshold"}


def command_lock(args: argparse.Namespace) -> Any:
    """The project lock for a writing command (refused at once, naming the holder, if another process has it)."""
    import contextlib
    from pathlib import Path

    from studio.core.lock import project_lock

    project = getattr(args, "project", None)
    if args.command not in WRITERS or not project:
        return contextlib.nullcontext()
    path = Path(project).expanduser().absolute()
    if path.name == "project.json":
        path = path.parent
    if not (path / "project.json").is_file():
        return contextlib.nullcontext()  # Project.open explains what is wrong
    return project_lock(path, WRITERS[args.command])


def os_error_text(exc: OSError) -> str:
    """One line for a file-system error, naming the file and what to do."""
    import errno

    where = exc.filename if exc.filename is not None else ""
    what = exc.strerror or str(exc)
    hints = {
        errno.ENOSPC: "free some disk space and run the command again",
        errno.EROFS: "the folder is read-only: choose a folder you can write to",
        errno.EACCES: "you lack permission: choose a folder you can write to, or fix its permissions",
        errno.EPERM: "you lack permission: choose a folder you can write to, or fix its permissions",
    }
    if hasattr(errno, "EDQUOT"):
        hints[errno.EDQUOT] = "your disk quota is full: free some space"
    hint = hints.get(exc.errno or 0, "check the file and the folder, then run the command again")
    return (f"{where}: " if where else "") + f"{what} — {hint}"


if __name__ == "__main__":
    raise SystemExit(main())
