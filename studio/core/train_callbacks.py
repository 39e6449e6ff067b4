"""The bridge between Keras's ``fit`` and Studio: one callback, its stopping rules, and precise BatchNorm.

:class:`TrainingMonitor` is the bookkeeping of a run in plain Python (no Keras, unit-tested): which epoch is
the best, when to cut the learning rate, when to stop early. The Keras callback (:func:`make_callback`) only
reads the logs, asks the monitor, and applies its decision (copy/save the best weights, set the learning rate,
stop); it also reports batch/epoch metrics and stops within one batch when cancel is requested.
"""

from __future__ import annotations

import functools
import math
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from studio.core.reporter import Reporter
from studio.core.runs import WeightsLayout

LR_FACTOR = 0.3
MIN_LR = 1e-6
# Small data (few steps per epoch): validation uses exact BatchNorm statistics of the current weights
# ("precise BN", see precise_bn_plan): from the epoch's last training batches (at least PRECISE_BN_SAMPLES
# samples) when they are the data as it is, else from an extra pass over PRECISE_BN_SAMPLES..256 training inputs.
PRECISE_BN_MAX_STEPS = 50
PRECISE_BN_SAMPLES = 64
PRECISE_BN_MAX_SAMPLES = 256
# ...never more than 1/16 of the training set: the extra pass costs a forward per epoch (~10 % of a 960-image
# epoch at 256 samples, bench/train_throughput.py); per-channel statistics over 64 images are already tight.
PRECISE_BN_FRACTION = 16


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


# ---------------------------------------------------------------------------------------------- precise BN
def precise_bn_batches(steps: int, batch_size: int, distributed: bool) -> int | None:
    """How many of an epoch's last training batches set the BatchNorm statistics for validation, or None when
    the moving averages are left alone (many steps per epoch: they keep up; distributed: replicated variables)."""
    if distributed or steps >= PRECISE_BN_MAX_STEPS:
        return None
    return max(1, min(int(steps), math.ceil(PRECISE_BN_SAMPLES / max(1, int(batch_size)))))


def precise_bn_plan(x: np.ndarray | None, spec: Any, seed: int, steps: int, batch_size: int, distributed: bool,
                    augmented: bool) -> tuple[int | None, np.ndarray | None]:
    """``(precise_bn, calibration)`` for :func:`make_callback`: how precise BN gets its statistics, if at all.

    Training batches as they are (no augmentation): from the epoch's last batches (:class:`BatchNormWindow`,
    free). Augmented batches are not what validation and inference see (rotated, shifted, re-lit images with
    filled borders; noisy, scaled recordings): their statistics made worse models (tests/core/test_explain.py's
    why-map check: 83 % of peaks on the mark instead of >= 90 %), so an extra training-mode pass over clean
    training inputs gives them (:func:`recalibrate_batchnorm`), or the window when the data is streamed.
    """
    batches = precise_bn_batches(steps, batch_size, distributed)
    if batches is None or not augmented or x is None:
        return batches, None
    n_cal = min(PRECISE_BN_MAX_SAMPLES, max(PRECISE_BN_SAMPLES, len(x) // PRECISE_BN_FRACTION))
    pick = np.random.default_rng(int(seed)).permutation(len(x))[:n_cal]
    return None, spec.preprocess(x[np.sort(pick)])


def batchnorm_layers(keras: Any, model: Any) -> list[Any]:
    """The BatchNormalization layers of ``model`` that training updates: nested ones included (a distiller,
    studio.core.optimize.distill, wraps the student it trains), frozen ones (inference mode) left out."""
    return [m for m in model.submodules if isinstance(m, keras.layers.BatchNormalization) and m.trainable]


class BatchNormWindow:
    """Precise BatchNorm from the last ``k`` training batches of each epoch, without an extra forward pass.

    On small data a few dozen steps are too few for the moving averages (momentum 0.99, 0.999 in MobileNetV2)
    to catch up with weights that keep changing, so inference-mode BN sees the wrong statistics and a deep net
    (MobileNetV2 from scratch) evaluates at chance while training accuracy climbs. The fix is statistics of the
    current weights ("precise BN"). An extra training-mode forward pass of 64 images before each validation
    costs 2.8 % of a MobileNetV2-0.35 epoch's CPU time (96 px, 800 images); when the training batches are the
    data as it is (no augmentation) the training pass itself provides them instead: :meth:`begin`, before the
    first of the last ``k`` batches, sets every moving mean and variance to 0; the usual updates of those
    batches then leave ``(1 - m) * sum_j m^(k-j) s_j``, and :meth:`end` divides by ``1 - m^k`` (Adam's bias
    correction): the average of the ``k`` batches' statistics (weights ``m^(k-j)``, nearly equal), under
    weights at most ``k - 1`` steps older than the final ones. A layer whose statistics did not move gets its
    values back. Costs a few ms an epoch.
    """

    def __init__(self, keras: Any, model: Any) -> None:
        self.bns = batchnorm_layers(keras, model)
        self.seen = 0  # batches trained since begin()
        self._saved: list[tuple[np.ndarray, np.ndarray]] | None = None

    @property
    def active(self) -> bool:
        return self._saved is not None

    def begin(self) -> None:
        self._saved = [(b.moving_mean.numpy(), b.moving_variance.numpy()) for b in self.bns]
        self.seen = 0
        for b, (mean, var) in zip(self.bns, self._saved):
            b.moving_mean.assign(np.zeros_like(mean))
            b.moving_variance.assign(np.zeros_like(var))

    def end(self) -> None:
        """The bias-corrected statistics of the batches since :meth:`begin` (a no-op when it was not called)."""
        if self._saved is None:
            return
        for b, (mean, var) in zip(self.bns, self._saved):
            m_now, v_now = b.moving_mean.numpy(), b.moving_variance.numpy()
            correction = 1.0 - float(b.momentum) ** self.seen
            if correction <= 0.0 or not (m_now.any() or v_now.any()):
                b.moving_mean.assign(mean)
                b.moving_variance.assign(var)
            else:
                b.moving_mean.assign(m_now / correction)
                b.moving_variance.assign(v_now / correction)
        self._saved = None


def recalibrate_batchnorm(keras: Any, model: Any, x: Any, forward: Any = None,
                          bns: list[Any] | None = None) -> None:
    """Set every BatchNorm's moving statistics to the exact statistics of ``x`` under the current weights: one
    forward pass in training mode with momentum 0 (each layer gets its population statistics, layer by layer).

    ``forward`` is an optional compiled ``x -> model(x, training=True)`` (see :func:`batchnorm_forward`); it
    must have been traced while the momenta were 0, which the first call here guarantees. ``bns``: the
    model's :func:`batchnorm_layers`, when the caller keeps them.
    """
    bns = batchnorm_layers(keras, model) if bns is None else bns
    if not bns or len(x) == 0:
        return
    saved = [layer.momentum for layer in bns]
    try:
        for layer in bns:
            layer.momentum = 0.0
        if forward is not None:
            forward(x)
        else:
            model(x, training=True)
    finally:
        for layer, m in zip(bns, saved):
            layer.momentum = m


def batchnorm_forward(model: Any) -> Any:
    """A graph-compiled training-mode forward pass of ``model`` for :func:`recalibrate_batchnorm`.

    Run eagerly, the once-per-epoch calibration pass dispatches every op from Python: measured by
    ``bench/train_throughput.py`` (compact CNN, 32 px, 960 images) it cost ~15 % of an epoch's wall time on a
    busy 2-core machine and made ``train()`` ~0.8x as fast as a plain ``fit``; compiled once (traced with the
    BN momenta at 0, as every call runs) it takes about a third of that wall time.
    """
    from studio.core.tfenv import load_tf

    tf, _ = load_tf()
    return tf.function(lambda t: model(t, training=True))


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
            self.best_weights = [w.copy() for w in self.model.get_weights()]
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
