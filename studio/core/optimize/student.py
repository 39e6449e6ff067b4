"""Training a student — a channel-pruned model being fine-tuned, or a smaller searched candidate — the way
``train()`` trains: the run's augmentation and class weights through the same tf.data pipeline, the same
callback (best weights by validation loss, learning-rate cuts on plateaus, early stopping, precise batch norm,
cancel within a batch), and optionally a teacher (:mod:`.distill`).

Plain fine-tuning on in-memory arrays without augmentation (enough for magnitude pruning's gradual schedule)
does not recover a model that just lost half its filters: on the inspection sample a 50 % channel-pruned
compact CNN reached 54-63 % after 12-24 such epochs against 86 % unpruned, so channel pruning trains like this.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from studio.core.errors import Cancelled
from studio.core.reporter import Reporter

# Stochastic weight averaging after a channel-pruning fine-tune (see average_tail): the learning rate of the
# averaged epochs, as a fraction of the fine-tune's.
AVERAGE_LR_FACTOR = 0.5


@dataclass
class TrainingData:
    """Raw splits and the run's training choices (augmentation, flips, class weights, batch, seed)."""

    spec: Any  # pipeline.InputSpec
    train: Any  # pipeline.SplitData, raw (uint8 images / normalized windows)
    val: Any
    config: Any  # train_config.TrainConfig of the run


def run_train_config(project: Any, run: Any) -> Any:
    """The TrainConfig a run was trained with (its config.json), else the defaults for its architecture."""
    from studio.core.runs import read_run_config
    from studio.core.train_config import TrainConfig

    try:
        return TrainConfig.from_json(read_run_config(run.path))
    except (TypeError, ValueError):
        return TrainConfig(arch=run.arch)


def fit_student(model: Any, data: TrainingData, epochs: int, learning_rate: float, reporter: Reporter,
                patience: int, teacher: Any = None, distill: Any = None, batch_size: int | None = None,
                seed: int = 1234, average_epochs: int = 0) -> dict[str, Any]:
    """Train ``model`` in place (best weights kept); returns ``{"epochs": [...], "best_epoch": n, "cancelled"}``.

    With ``teacher`` the loss also pulls towards the teacher's softened outputs; a teacher with a larger or
    smaller image side is fed a resized batch. A stop (``reporter.cancel_requested()``) ends training within a
    batch and keeps the best epoch so far (``cancelled`` is then True; the caller decides what a stop means);
    a stop before any epoch ended raises Cancelled.

    ``average_epochs`` > 0: after the best epoch is restored, train that many more epochs at a constant learning
    rate and keep the average of their end-of-epoch weights, batch-norm statistics recomputed for them
    (:func:`average_tail`, stochastic weight averaging).
    """
    from studio.core.optimize.distill import make_distiller, resize_for_teacher
    from studio.core.tfenv import load_tf
    from studio.core.train import _datasets, class_weights_for
    from studio.core.precise_bn import precise_bn_plan
    from studio.core.train_callbacks import StopNow, make_callback

    _, keras = load_tf()
    batch = int(batch_size or data.config.batch_size)
    cfg = data.config.replace(seed=int(seed))
    train_ds, val_ds = _datasets(data.train, data.val, data.spec, cfg, batch)
    steps = max(1, math.ceil(len(data.train) / batch))
    cw = class_weights_for(data.train.y, int(model.output_shape[-1])) if cfg.class_weights else None
    model.compile(optimizer=keras.optimizers.Adam(float(learning_rate)),
                  loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    fit_model = model
    if teacher is not None:
        fit_model = make_distiller(model, teacher, distill, resize_for_teacher(teacher, model.input_shape[1:]))
        fit_model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"])
    has_val = len(data.val) > 0
    precise_bn, calibration = precise_bn_plan(data.train.x, data.spec, int(seed), steps, batch, False,
                                              bool(cfg.augment))
    callback = make_callback(keras, reporter, int(epochs), steps, None, int(patience), has_val,
                             precise_bn=precise_bn, calibration=calibration)
    try:
        fit_model.fit(train_ds, validation_data=val_ds, epochs=int(epochs), class_weight=cw,
                      callbacks=[callback], verbose=0)
    except StopNow:
        pass
    if callback.best_weights is None:
        raise Cancelled("stopped before the first epoch finished")
    model.set_weights(callback.best_weights)  # with the batch-norm statistics calibrated for them
    out = {"epochs": callback.history, "best_epoch": callback.best_epoch, "cancelled": callback.cancelled,
           "averaged": 0}
    if average_epochs > 0 and not callback.cancelled:
        out["averaged"] = average_tail(keras, fit_model, model, train_ds, int(average_epochs),
                                       float(learning_rate) * AVERAGE_LR_FACTOR, cw, data, int(seed), reporter)
    return out


def average_tail(keras: Any, fit_model: Any, model: Any, train_ds: Any, epochs: int, learning_rate: float,
                 cw: Any, data: TrainingData, seed: int, reporter: Reporter) -> int:
    """Stochastic weight averaging: ``epochs`` more epochs of ``fit_model`` at ``learning_rate``, then ``model``
    gets the mean of the end-of-epoch weights and batch-norm statistics of that mean (one training-mode pass over
    up to PRECISE_BN_MAX_SAMPLES clean training inputs). Returns how many epochs were averaged (0 when a stop
    came first: the model keeps the weights it had)."""
    from studio.core.precise_bn import PRECISE_BN_MAX_SAMPLES, clean_inputs, recalibrate_batchnorm

    if data.train.x is None or len(data.train.x) == 0:  # streamed: no inputs to recompute the statistics on
        return 0
    start = model.get_weights()
    sums: list[Any] = []
    count = [0]

    class Average(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            if reporter.cancel_requested():
                self.model.stop_training = True

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            if reporter.cancel_requested():
                return
            w = model.get_weights()
            sums[:] = w if not sums else [a + b for a, b in zip(sums, w)]
            count[0] += 1

    keras.backend.set_value(fit_model.optimizer.learning_rate, learning_rate)
    fit_model.fit(train_ds, epochs=epochs, class_weight=cw, callbacks=[Average()], verbose=0)
    if count[0] < epochs:
        model.set_weights(start)
        return 0
    model.set_weights([(s / count[0]).astype(w.dtype) for s, w in zip(sums, start)])
    recalibrate_batchnorm(keras, model, clean_inputs(data.train.x, data.spec, seed, PRECISE_BN_MAX_SAMPLES))
    return count[0]
