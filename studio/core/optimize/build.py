"""Building one variant without a project: fine-tune a fresh clone (prune / QAT) and convert it to .tflite."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from studio.core.convert import convert_model, representative_indices
from studio.core.optimize.config import (
    CHANNEL_AVERAGE_EPOCHS,
    CHANNEL_LR_FACTOR,
    CHANNEL_PATIENCE,
    CHANNEL_STEP,
    CHANNEL_STEP_EPOCHS,
    CHANNEL_STEP_PATIENCE,
    DEFAULT_CHANNEL_FINETUNE_EPOCHS,
    FINETUNE_LR_FACTOR,
    Arrays,
    BuiltVariant,
    OptimizeConfig,
)
from studio.core.optimize.finetune import FineTuner, compile_for_finetune, fresh_clone, outputs_probabilities
from studio.core.optimize.magnitude import magnitude_prune, quantization_aware
from studio.core.optimize.rebuild import prune_channels
from studio.core.reporter import NullReporter, Reporter, check_cancel

QUANT_LABELS = {"float32": "float32", "float16": "float16", "dynamic": "dynamic-range", "int8": "full int8"}


def build_variant(
    model: Any,
    arrays: Arrays,
    config: OptimizeConfig,
    reporter: Reporter | None = None,
    base_learning_rate: float | None = None,
    progress: tuple[float, float] = (0.0, 0.6),
) -> BuiltVariant:
    """Prune / QAT-fine-tune a fresh clone of ``model`` and convert it. Does not touch any file."""
    from studio.core.measure import keras_sparsity
    from studio.core.tfenv import load_tf

    reporter = reporter or NullReporter()
    config = config.validated()
    _, keras = load_tf()
    notes: list[str] = []
    probs = outputs_probabilities(model)
    lr = finetune_learning_rate(config, base_learning_rate)
    epochs = config.epochs
    keras.utils.set_random_seed(config.seed)
    plan, history, kept = None, {}, None
    fitted = config.channels and epochs > 0 and arrays.training is not None  # like a training run
    lo, hi = progress
    fit_span = tuner_span = progress
    if fitted and config.qat:
        # the channel fine-tunes take the first 60 % of the span (their own last fifth left unused), QAT and the
        # conversion the rest (both started at the span's start before, so the bar went back when QAT began)
        fit_span, tuner_span = (lo, lo + (hi - lo) * 0.6), (lo + (hi - lo) * 0.48, hi)
    if fitted:
        work, plan, history, kept = _prune_and_fit(model, arrays, config, lr, reporter, fit_span)
        notes.append(channel_note(plan, model, work))
        cuts = history["Channel-pruning fine-tune:cuts"]
        notes.append(f"{len(cuts)} cut(s) ({', '.join(f'{c:.0%}' for c in cuts)}), each fine-tuned with the run's "
                     f"augmentation, the last up to {int(history['Channel-pruning fine-tune:max_epochs'][0])} "
                     f"epoch(s): epoch {int(history['Channel-pruning fine-tune:best_epoch'][0])} kept (lowest "
                     f"validation loss), lr {lr:g}")
        averaged = int(history["Channel-pruning fine-tune:averaged_epochs"][0])
        if averaged:
            notes.append(f"then {averaged} more epoch(s) at half that learning rate, their weights averaged "
                         "(stochastic weight averaging, batch-norm statistics recomputed)")
        if kept is not None:
            notes.append(tries_note(*kept, config))
    elif config.channels:
        reporter.status(f"Removing {config.prune:.0%} of the channels (ranked by {config.channel_rank})")
        work, plan = prune_channels(model, config.prune, config.channel_rank)
        notes.append(channel_note(plan, model, work))
    else:
        work = fresh_clone(model)
    stages = (1 if config.prune > 0 and not fitted else 0) + (1 if config.qat else 0)
    tuner = FineTuner(keras, arrays, config.batch_size, reporter, tuner_span, stages,
                      teacher=model if config.distills else None, distill=config.distill_config())
    tuner.history.update(history)
    if config.distills:
        d = config.distill_config()
        notes.append(f"fine-tuned against the trained model's outputs (distillation, alpha {d.alpha:g}, "
                     f"temperature {d.temperature:g})")
    if config.prune > 0 and not config.channels:
        work = magnitude_prune(keras, work, config.prune, epochs, lr, probs, tuner, notes)
    if config.qat:
        work = quantization_aware(keras, work, config.prune > 0 and not config.channels, epochs, lr, probs,
                                  tuner, notes)
    elif fitted:
        tuner.cursor = lo + (hi - lo) * 0.8
    elif (config.channels or config.prune == 0) and epochs > 0:
        compile_for_finetune(keras, work, lr, probs)
        tuner.fit(work, "Channel-pruning fine-tune" if config.channels else "Fine-tune", [], epochs)
        if config.channels:
            notes.append(f"{epochs} fine-tune epoch(s), lr {lr:g}")
    sparsity = keras_sparsity(work)
    check_cancel(reporter)
    if kept is not None and kept[0].model_bytes is not None:  # the kept try was converted to be judged
        model_bytes = kept[0].model_bytes
        notes.extend(kept[0].notes)
        reporter.progress(hi, "converted")
    else:
        model_bytes = convert_variant(work, arrays, config, reporter, (tuner.cursor, hi), notes)
    return BuiltVariant(work, model_bytes, sparsity, notes, tuner.history, plan)


def finetune_learning_rate(config: OptimizeConfig, base_learning_rate: float | None) -> float:
    """The fine-tune's learning rate: the user's, else the run's (1e-3 if unknown) times CHANNEL_LR_FACTOR for
    channel pruning (learning-rate rewinding) or FINETUNE_LR_FACTOR for magnitude pruning and QAT."""
    if config.learning_rate:
        return float(config.learning_rate)
    return (base_learning_rate or 1e-3) * (CHANNEL_LR_FACTOR if config.channels else FINETUNE_LR_FACTOR)


def averaged_epochs(config: OptimizeConfig, epochs: int) -> int:
    """Epochs of the averaged tail after the last cut's fine-tune: the user's (``average_epochs``), else
    CHANNEL_AVERAGE_EPOCHS, never longer than the fine-tune (one asked to be short, --finetune-epochs, stays short)."""
    return min(CHANNEL_AVERAGE_EPOCHS, int(epochs)) if config.average_epochs is None else int(config.average_epochs)


def channel_schedule(config: OptimizeConfig, run_config: Any) -> tuple[int, int]:
    """(epochs, patience) of the fine-tune after the last cut: the user's epochs, else as long as the run
    trained (at least DEFAULT_CHANNEL_FINETUNE_EPOCHS / CHANNEL_PATIENCE)."""
    if config.finetune_epochs is not None:
        return int(config.epochs), CHANNEL_PATIENCE
    return (max(DEFAULT_CHANNEL_FINETUNE_EPOCHS, int(getattr(run_config, "epochs", 0) or 0)),
            max(CHANNEL_PATIENCE, int(getattr(run_config, "patience", 0) or 0)))


def _prune_and_fit(model: Any, arrays: Arrays, config: OptimizeConfig, lr: float, reporter: Reporter,
                   progress: tuple[float, float]) -> tuple[Any, dict[str, Any], dict[str, list[float]], Any]:
    """Channel-prune gradually (:func:`.rebuild.prune_gradually`), each cut fine-tuned like a training run (see
    :mod:`.student`), the last ``config.tries`` times from the same cut weights (:func:`_best_try`); (narrow
    model, plan, history by key, (the kept :class:`Try`, the others) when there were several, else None)."""
    from studio.core.optimize.rebuild import channel_steps, prune_gradually
    from studio.core.optimize.student import fit_student
    from studio.core.reporter import ScaledReporter

    lo, hi = progress
    epochs, patience = channel_schedule(config, arrays.training.config)
    cuts = channel_steps(config.prune, CHANNEL_STEP)
    averaged = averaged_epochs(config, epochs)
    tries = config.tries
    # progress: the short fine-tunes between cuts take about a fifth of the time each, then each try of the last;
    # several tries convert their candidates themselves (the last 5 % of each try), one leaves that to the caller
    weights = [0.2] * (len(cuts) - 1) + [1.0] * tries
    top = hi if tries > 1 and not config.qat else lo + (hi - lo) * 0.8
    edges = [lo + (top - lo) * sum(weights[:i]) / sum(weights) for i in range(len(weights) + 1)]
    n_cuts = len(cuts)

    def fit_once(narrow: Any, i: int, k: int) -> dict[str, Any]:
        last = i == n_cuts - 1
        a, b = edges[i + k], edges[i + k + 1]
        sub = ScaledReporter(reporter, a, a + (b - a) * (0.95 if tries > 1 else 1.0) if last else b,
                             stage="Channel-pruning fine-tune")
        if k:  # a new start for the try's own random draws (the data order follows its seed, see fit_student)
            from studio.core.tfenv import load_tf

            load_tf()[1].utils.set_random_seed(config.seed + k)
        reporter.status(f"Channel pruning: {cuts[i]:.0%} of the channels removed (cut {i + 1} of {n_cuts}), "
                        f"fine-tuning up to {epochs if last else CHANNEL_STEP_EPOCHS} epoch(s) on "
                        f"{len(arrays.x_train)} training samples"
                        + (" with the trained model as teacher" if config.distills else "")
                        + (f" (try {k + 1} of {tries} from the same cut)" if last and tries > 1 else ""))
        result = fit_student(narrow, arrays.training, epochs if last else min(epochs, CHANNEL_STEP_EPOCHS), lr, sub,
                             patience if last else CHANNEL_STEP_PATIENCE,
                             teacher=model if config.distills else None, distill=config.distill_config(),
                             batch_size=arrays.training.config.batch_size, seed=config.seed + k,
                             average_epochs=averaged if last else 0)
        check_cancel(reporter)
        return result

    kept: list[Try] = []

    def fit(narrow: Any, i: int, n: int) -> dict[str, Any]:
        if i < n - 1 or tries == 1:
            return fit_once(narrow, i, 0)
        best, others = _best_try(narrow, tries, lambda k: fit_once(narrow, i, k), arrays, config, reporter,
                                 [(edges[i + k] + (edges[i + k + 1] - edges[i + k]) * 0.95, edges[i + k + 1])
                                  for k in range(tries)])
        kept.extend([best, *others])
        return best.result

    work, plan, results = prune_gradually(model, config.prune, config.channel_rank, CHANNEL_STEP, fit)
    rows = [r for res in results for r in res["epochs"]]  # the cuts' fine-tunes, then the kept try's
    out = {f"Channel-pruning fine-tune:{k}": [r[k] for r in rows if r.get(k) is not None]
           for k in ("loss", "accuracy", "val_loss", "val_accuracy")}
    out["Channel-pruning fine-tune:best_epoch"] = [float(results[-1]["best_epoch"])]
    out["Channel-pruning fine-tune:max_epochs"] = [float(epochs)]
    out["Channel-pruning fine-tune:cuts"] = [float(c) for c in cuts]
    out["Channel-pruning fine-tune:averaged_epochs"] = [float(results[-1].get("averaged", 0))]
    if kept:
        by_try = sorted(kept, key=lambda t: t.index)
        out["Channel-pruning fine-tune:tries"] = [float(tries)]
        out["Channel-pruning fine-tune:kept_try"] = [float(kept[0].index + 1)]
        out["Channel-pruning fine-tune:try_val_accuracy"] = [t.accuracy for t in by_try]
        out["Channel-pruning fine-tune:try_val_loss"] = [t.loss for t in by_try]
        out["Channel-pruning fine-tune:try_seed"] = [float(config.seed + t.index) for t in by_try]
    return work, plan, out, ((kept[0], kept[1:]) if kept else None)


@dataclass
class Try:
    """One fine-tune of the last cut: its fit result, weights, validation figures and (when judged on the
    converted file) its .tflite bytes and the conversion's notes."""

    index: int
    result: dict[str, Any]
    weights: list[Any]
    accuracy: float
    loss: float
    judged_on: str  # "file": the converted .tflite through LiteRT; "keras": the float model (QAT follows)
    model_bytes: bytes | None = None
    notes: list[str] = field(default_factory=list)


def _best_try(narrow: Any, tries: int, fit_try: Any, arrays: Arrays, config: OptimizeConfig, reporter: Reporter,
              spans: list[tuple[float, float]]) -> tuple[Try, list[Try]]:
    """Fine-tune ``narrow`` ``tries`` times from its current weights (``fit_try(k)`` trains it in place), judge
    each on the validation split, leave ``narrow`` with the best one's weights; (best, the others).

    Judged through LiteRT on the file the variant would ship (what the user is measured on; converting costs a
    few seconds against minutes of fine-tuning), unless quantization-aware training follows, which changes the
    model again: then on the float model. Better validation accuracy wins, ties go to the lower validation loss,
    then to the earlier try."""
    start = narrow.get_weights()
    done: list[Try] = []
    for k in range(tries):
        if k:
            narrow.set_weights(start)
        result = fit_try(k)
        done.append(_judge(narrow, k, result, arrays, config, reporter, spans[k]))
    best = min(done, key=lambda t: (-t.accuracy, t.loss, t.index))
    narrow.set_weights(best.weights)
    return best, [t for t in done if t is not best]


def _judge(narrow: Any, k: int, result: dict[str, Any], arrays: Arrays, config: OptimizeConfig,
           reporter: Reporter, span: tuple[float, float]) -> Try:
    """Validation accuracy and mean cross-entropy of try ``k`` (see :func:`_best_try`)."""
    import numpy as np

    weights = narrow.get_weights()
    model_bytes, notes = None, []
    if config.qat:
        probs = np.asarray(narrow.predict(arrays.x_val, verbose=0, batch_size=256), np.float64)
    else:
        from studio.core.measure import run_litert

        model_bytes = convert_variant(narrow, arrays, config, reporter, span, notes)
        probs = np.asarray(run_litert(model_bytes, arrays.x_val).probs, np.float64)
    y = np.asarray(arrays.y_val)
    accuracy = float(np.mean(probs.argmax(1) == y))
    loss = float(np.mean(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-7, 1.0))))
    check_cancel(reporter)
    return Try(k, result, weights, accuracy, loss, "keras" if config.qat else "file", model_bytes, notes)


def tries_note(best: Try, others: list[Try], config: OptimizeConfig) -> str:
    """In plain words: how many fine-tunes ran from the last cut and which one the variant kept, and why."""
    n = len(others) + 1
    times = {2: "twice", 3: "three times"}.get(n, f"{n} times")
    on = ("its file through LiteRT, as on the device" if best.judged_on == "file"
          else "the float model, before quantization-aware training")
    figures = " vs ".join(f"{100 * t.accuracy:.1f} %" for t in [best, *sorted(others, key=lambda t: t.index)])
    text = (f"fine-tuned {times} from the same cut, each time in its own random order (seeds "
            f"{', '.join(str(config.seed + i) for i in range(n))}); kept the one with the "
            f"{'better' if n == 2 else 'best'} validation accuracy ({on}): {figures}")
    if any(t.accuracy == best.accuracy for t in others):
        text += f"; a tie on accuracy, so the one with the lower validation loss ({best.loss:.3f})"
    return text


def channel_note(plan: dict[str, Any], model: Any, narrow: Any) -> str:
    """One sentence on what channel pruning removed (and what it had to leave whole)."""
    summary = plan.get("summary") or {}
    text = (f"removed {plan['fraction']:.0%} of the channels of {summary.get('narrowed_layers', 0)} layer(s) "
            f"(ranked by {'batch-norm scale' if plan['rank'] == 'bn' else 'filter L1 norm'}): "
            f"{model.count_params():,} -> {narrow.count_params():,} parameters")
    whole = [r for r in summary.get("whole_reasons", []) if r != "model output"]
    if whole:
        text += f"; {summary.get('whole_layers')} layer(s) kept whole ({'; '.join(whole[:3])})"
    return text


def convert_variant(work: Any, arrays: Arrays, config: OptimizeConfig, reporter: Reporter,
                    progress: tuple[float, float], notes: list[str]) -> bytes:
    """Convert ``work`` as ``config`` says, int8 calibrated on balanced training samples."""
    rep_idx = representative_indices(arrays.y_train, config.representative_samples, seed=config.seed)
    rep = arrays.x_train[rep_idx]
    clipped = config.quantize == "int8" and getattr(work, "name", None) == "minirocket"
    if clipped:
        from studio.core.models.minirocket import CALIBRATION_PERCENT, calibration_inputs, snap_head

        snap_head(work, rep)  # a clone of the run's model: the float reference is untouched
        rep = calibration_inputs(rep)
    reporter.status(
        f"Converting to {QUANT_LABELS[config.quantize]}"
        + (f" (calibrating on {len(rep)} training samples)" if config.quantize == "int8" else "")
    )
    lo, hi = progress

    def conv_progress(f: float) -> None:
        reporter.progress(lo + (hi - lo) * f, "calibrating" if f < 1 else "converted")

    model_bytes = convert_model(
        work,
        config.quantize,
        rep if config.quantize == "int8" else None,
        io_dtype=config.io_dtype if config.quantize == "int8" else "float32",
        sparse=False,
        progress=conv_progress,
    )
    if config.quantize == "int8":
        notes.append(f"int8 calibrated on {len(rep)} training samples (balanced over classes)"
                     + (f"; input range from their {CALIBRATION_PERCENT:g}th to {100 - CALIBRATION_PERCENT:g}th "
                        "percentiles (rarer extremes saturate; MiniRocket counts signs, not sizes); head weights "
                        "on the int8 grid with the bias corrected for their rounding" if clipped else ""))
    check_cancel(reporter)
    return model_bytes
