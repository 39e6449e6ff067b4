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
                seed: int = 1234) -> dict[str, Any]:
    """Train ``model`` in place (best weights kept); returns ``{"epochs": [...], "best_epoch": n, "cancelled"}``.

    With ``teacher`` the loss also pulls towards the teacher's softened outputs; a teacher with a larger or
    smaller image side is fed a resized batch. A stop (``reporter.cancel_requested()``) ends training within a
    batch and keeps the best epoch so far (``cancelled`` is then True; the caller decides what a stop means);
    a stop before any epoch ended raises Cancelled.
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
    return {"epochs": callback.history, "best_epoch": callback.best_epoch, "cancelled": callback.cancelled}
