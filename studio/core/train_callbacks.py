"""The bridge between Keras's ``fit`` and Studio: one callback and its stopping rules.

:class:`TrainingMonitor` is the bookkeeping of a run in plain Python (no Keras, unit-tested): which epoch is
the best, when to cut the learning rate, when to stop early. The Keras callback (:func:`make_callback`) only
reads the logs, asks the monitor, and applies its decision (copy/save the best weights, set the learning rate,
stop); it also reports batch/epoch metrics, stops within one batch when cancel is requested, and applies the
run's precise-BatchNorm plan (:mod:`studio.core.precise_bn`) before each validation.
"""

from __future__ import annotations

import functools
import math
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from studio.core.precise_bn import BatchNormWindow, batchnorm_forward, batchnorm_layers, recalibrate_batchnorm
from studio.core.reporter import Reporter
from studio.core.runs import WeightsLayout

LR_FACTOR = 0.3
MIN_LR = 1e-6
# ------------------------------------------------------------------------------------------- stopping rules
class EpochDecision(NamedTuple):
    """What the monitor decided after one epoch."""

    best: bool  # this epoch's weights are the best so far: keep them
    learning_rate: float | None  # the new learning rate when it is cut now, else None
    stop: bool  # patience ran out: stop training


class TrainingMonitor:
    """Best epoch, plateau learning-rate cuts and early stopping, from each epoch's loss and accuracy.

    Best = lowest loss (ties within 1e-9: higher accuracy). On a small validation split accuracy moves in
    coarse steps and saturates (1.0 at an early, lucky epoch on sklearn digits, which then tested below an
    SVM); the loss uses every sample's confidence and picks steadier weights. The first epoch is always the
    best so far.
    An epoch *improves* when the loss drops by more than 1e-4 or the accuracy rises. When nothing improved for
    half the patience (at least 2 epochs), the learning rate is multiplied by ``lr_factor`` (never below
    ``min_lr``; the last epochs of a constant-rate Adam run bounce around the optimum, a smaller step settles
    into it), and again half a patience after that. When nothing improved for ``patience`` epochs, training
    stops. ``patience`` 0 turns both off. A NaN (or missing) loss counts as infinitely bad, a NaN accuracy as
    -1: such an epoch is never better than a finite one and never an improvement.
    """

    def __init__(self, patience: int, *, lr_factor: float = LR_FACTOR, min_lr: float = MIN_LR) -> None:
        self.patience = int(patience)
        self.plateau = max(2, self.patience // 2) if self.patience > 0 else 0
        self.lr_factor = float(lr_factor)
        self.min_lr = float(min_lr)
        self.best_epoch = 0  # 1-based; 0 until the first epoch
        self.best_loss = math.inf
        self.best_acc = -1.0
        self.early_stopped = False
        self._min_loss = math.inf
        self._max_acc = -1.0
        self._last_improved = 0
        self._last_lr_change = 0

    def update(self, epoch: int, loss: float | None, accuracy: float | None,
               learning_rate: float) -> EpochDecision:
        """Take the metrics of ``epoch`` (0-based, as Keras counts) trained at ``learning_rate``."""
        acc = -1.0 if accuracy is None or math.isnan(accuracy) else float(accuracy)
        loss = math.inf if loss is None or math.isnan(loss) else float(loss)
        tie = loss <= self.best_loss + 1e-9 and acc > self.best_acc + 1e-9
        best = loss < self.best_loss - 1e-9 or tie or self.best_epoch == 0
        if best:
            self.best_epoch, self.best_acc, self.best_loss = epoch + 1, acc, loss
        if loss < self._min_loss - 1e-4 or acc > self._max_acc + 1e-9:
            self._last_improved = epoch
        self._min_loss = min(self._min_loss, loss)
        self._max_acc = max(self._max_acc, acc)
        new_lr = None
        if self.plateau and epoch - max(self._last_improved, self._last_lr_change) >= self.plateau:
            cut = float(learning_rate) * self.lr_factor
            if cut >= self.min_lr:
                new_lr = cut
            self._last_lr_change = epoch
        stop = self.patience > 0 and epoch - self._last_improved >= self.patience
        if stop:
            self.early_stopped = True
        return EpochDecision(best, new_lr, stop)


# ---------------------------------------------------------------------------------------------- the callback
class StopNow(Exception):
    """Raised inside fit() to skip the validation pass of an epoch the user cancelled."""


class _StudioCallbackBase:
    """Reports metrics, stops within one batch on cancel, keeps the best weights, stops early.

    Mixed into ``keras.callbacks.Callback`` by :func:`make_callback` (Keras is not imported at module load).
    Per batch it only checks the cancel flag and the clock; metrics are read from the logs (tensors, no numpy
    round trip: ``_supports_tf_logs``) at most every ``interval`` seconds.
    """

    def __init__(self, keras: Any, reporter: Reporter, epochs: int, steps: int, weights_path: Path | None,
                 patience: int, has_val: bool, interval: float, precise_bn: int | None,
                 calibration: np.ndarray | None = None, recorder: Any = None) -> None:
        super().__init__()
        self.recorder = recorder  # studio.core.runs.RunRecorder: keeps the run folder valid after each epoch
        self._supports_tf_logs = True
        self._keras, self.reporter, self.epochs, self.steps = keras, reporter, epochs, steps
        self.weights_path, self.has_val, self.interval = weights_path, has_val, interval
        self.precise_bn = precise_bn  # the number of last batches of an epoch for BatchNormWindow, or None
        self.calibration = calibration  # or the inputs of an extra precise-BN pass (see precise_bn_plan)
        self._bn_forward: Any = None  # compiled on first use (see batchnorm_forward)
        self._bns: list[Any] | None = None
        self.monitor = TrainingMonitor(patience)
        self.history: list[dict[str, Any]] = []
        self.cancelled = False
        self.batches = 0
        self.best_weights: list[np.ndarray] | None = None
        self._last_report = 0.0
        self._t0 = 0.0
        self._epoch = 0
        self._bn_window: BatchNormWindow | None = None  # made on first use (the model is set by then)
        self._layout: WeightsLayout | None = None
        self._read_weights: Any = None  # compiled on first use (see _snapshot)

    @property
    def best_epoch(self) -> int:
        return self.monitor.best_epoch

    @property
    def early_stopped(self) -> bool:
        return self.monitor.early_stopped

    def _precise_bn(self) -> None:
        """Before validation (or, without a validation split, before the epoch's weights are kept)."""
        if self._bn_window is not None:
            self._bn_window.end()
        if self.calibration is not None:
            if self._bn_forward is None:
                self._bn_forward = batchnorm_forward(self.model)
                self._bns = batchnorm_layers(self._keras, self.model)
            recalibrate_batchnorm(self._keras, self.model, self.calibration, self._bn_forward, self._bns)

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._epoch = epoch
        self._t0 = time.perf_counter()

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        if self.precise_bn is None:
            return
        steps = (self.params or {}).get("steps") or self.steps  # what fit counted, else ours
        if batch == max(0, int(steps) - self.precise_bn):
            if self._bn_window is None:
                self._bn_window = BatchNormWindow(self._keras, self.model)
            self._bn_window.begin()

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.batches += 1
        if self._bn_window is not None and self._bn_window.active:
            self._bn_window.seen += 1
        if self.reporter.cancel_requested():
            self.cancelled = True
            self.model.stop_training = True
            return
        now = time.monotonic()
        if now - self._last_report >= self.interval and logs:
            self._last_report = now
            values = {"epoch": self._epoch + 1, "epochs": self.epochs, "batch": batch + 1,
                      "steps": self.steps}
            for key in ("loss", "accuracy"):
                if key in logs:
                    values[key] = float(logs[key])
            self.reporter.metrics("batch", values)
            self.reporter.progress((self._epoch + (batch + 1) / self.steps) / self.epochs,
                                   f"epoch {self._epoch + 1}/{self.epochs}")

    def on_test_begin(self, logs: Any = None) -> None:
        if self.cancelled:
            raise StopNow()
        self._precise_bn()

    def on_test_batch_end(self, batch: int, logs: Any = None) -> None:
        if self.reporter.cancel_requested():
            self.cancelled = True
            raise StopNow()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if self.cancelled:  # a partial epoch: not a result
            return
        if not self.has_val:  # the kept weights get the statistics all the same
            self._precise_bn()
        row = self._epoch_row(epoch, logs or {})
        self.history.append(row)
        lr = self.model.optimizer.learning_rate
        key = "val_" if self.has_val else ""
        decision = self.monitor.update(epoch, row[key + "loss"], row[key + "accuracy"],
                                       float(self._keras.backend.get_value(lr)))
        if decision.best or self.best_weights is None:
            self.best_weights = self._snapshot()
            if self.weights_path is not None:
                self._save_best()
        row["best"] = self.monitor.best_epoch == epoch + 1
        if decision.learning_rate is not None:
            self._keras.backend.set_value(lr, decision.learning_rate)
            row["learning_rate"] = decision.learning_rate
        if self.recorder is not None:
            self.recorder.running(self.summary())
        self.reporter.metrics("epoch", dict(row))
        self.reporter.progress((epoch + 1) / self.epochs, f"epoch {epoch + 1}/{self.epochs}")
        if decision.stop:
            self.model.stop_training = True

    def _snapshot(self) -> list[np.ndarray]:
        """A copy of ``model.get_weights()`` from one compiled call (262 eager variable reads for MobileNetV2
        cost ~20 ms CPU an epoch; this ~3 ms): the arrays of the weights Keras saves, in the same order."""
        if self._read_weights is None:
            from studio.core.tfenv import load_tf

            tf, _ = load_tf()
            # the model whose weights get_weights() returns: a distiller's are its student's
            weights = list(getattr(self.model, "student", self.model).weights)
            self._read_weights = tf.function(lambda: [tf.identity(w) for w in weights])
        return [np.array(t) for t in self._read_weights()]

    def _save_best(self) -> None:
        """``weights.h5`` from the copy just taken (:class:`~studio.core.runs.WeightsLayout`: a fraction of the
        time of ``model.save_weights``), then tell the recorder the run has a best epoch."""
        if self._layout is None:
            # the model whose weights get_weights() returns: a distiller's are its student's
            self._layout = WeightsLayout(getattr(self.model, "student", self.model))
        self._layout.write(self.weights_path, self.best_weights)
        if self.recorder is not None:
            self.recorder.best_saved()

    def summary(self) -> dict[str, Any]:
        """The body of ``metrics.json`` so far (the final write adds stopped / stop_reason / seconds)."""
        best = self.history[self.best_epoch - 1] if self.best_epoch and self.history else {}
        return {
            "epochs": list(self.history),
            "best_epoch": self.best_epoch,
            "best_val_accuracy": best.get("val_accuracy") if self.has_val else None,
            "monitor": ("val_loss, then val_accuracy" if self.has_val
                        else "loss, then accuracy (no validation split)"),
            "batches": self.batches,
        }

    def _epoch_row(self, epoch: int, logs: Any) -> dict[str, Any]:
        def num(key: str) -> float | None:
            return float(logs[key]) if key in logs and logs[key] is not None else None

        return {
            "epoch": epoch + 1,
            "epochs": self.epochs,
            "loss": num("loss"),
            "accuracy": num("accuracy"),
            "val_loss": num("val_loss"),
            "val_accuracy": num("val_accuracy"),
            "seconds": round(time.perf_counter() - self._t0, 3),
        }


@functools.lru_cache(maxsize=None)
def _callback_class(keras: Any) -> type:
    return type("StudioCallback", (_StudioCallbackBase, keras.callbacks.Callback), {})


def make_callback(keras: Any, reporter: Reporter, epochs: int, steps: int, weights_path: Path | None,
                  patience: int, has_val: bool, interval: float = 0.1,
                  precise_bn: int | None = None, calibration: np.ndarray | None = None,
                  recorder: Any = None) -> Any:
    """The one callback between Keras and Studio (see :class:`_StudioCallbackBase`); ``precise_bn`` and
    ``calibration``: see :func:`precise_bn_plan`."""
    return _callback_class(keras)(keras, reporter, epochs, steps, weights_path, patience, has_val, interval,
                                  precise_bn, calibration, recorder)
