"""Precise BatchNorm: exact BatchNorm statistics of the current weights before each validation, on small data.

On small data a few dozen steps are too few for the moving averages (momentum 0.99, 0.999 in MobileNetV2) to
catch up with weights that keep changing, so inference-mode BN sees the wrong statistics and a deep net
(MobileNetV2 from scratch) evaluates at chance while training accuracy climbs. :func:`precise_bn_plan` decides
how the statistics are made: from the epoch's own last training batches (:class:`BatchNormWindow`, free) or by an
extra training-mode pass over clean training inputs (:func:`recalibrate_batchnorm`). The training callback
(:mod:`studio.core.train_callbacks`) applies it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# Small data (few steps per epoch): validation uses exact BatchNorm statistics of the current weights
# ("precise BN", see precise_bn_plan): from the epoch's last training batches (at least PRECISE_BN_SAMPLES
# samples) when they are the data as it is, else from an extra pass over PRECISE_BN_SAMPLES..256 training inputs.
PRECISE_BN_MAX_STEPS = 50
PRECISE_BN_SAMPLES = 64
PRECISE_BN_MAX_SAMPLES = 256
# ...never more than 1/16 of the training set: the extra pass costs a forward per epoch (~10 % of a 960-image
# epoch at 256 samples, bench/train_throughput.py); per-channel statistics over 64 images are already tight.
PRECISE_BN_FRACTION = 16


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
    return None, clean_inputs(x, spec, seed, n_cal)


def clean_inputs(x: np.ndarray, spec: Any, seed: int, n: int) -> np.ndarray:
    """``n`` training inputs picked by ``seed`` (in their order), preprocessed as inference sees them (no
    augmentation): what :func:`recalibrate_batchnorm` computes batch-norm statistics on."""
    pick = np.random.default_rng(int(seed)).permutation(len(x))[:n]
    return spec.preprocess(x[np.sort(pick)])


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
    values back. Costs ~2 ms an epoch.
    """

    def __init__(self, keras: Any, model: Any) -> None:
        from studio.core.tfenv import load_tf

        tf, _ = load_tf()
        self.bns = batchnorm_layers(keras, model)
        self.seen = 0  # batches trained since begin()
        self.active = False
        layers = [(b.moving_mean, b.moving_variance, float(b.momentum)) for b in self.bns]
        # the statistics at begin(): plain tf.Variables held here, never tracked by the model
        saved = [(tf.Variable(mean, trainable=False), tf.Variable(var, trainable=False)) for mean, var, _ in layers]

        # One graph call each (eager, the 4 ops per layer cost ~30 ms CPU an epoch for MobileNetV2's 52 layers);
        # TensorFlow runs the reads and writes of each variable in the order written.
        @tf.function(input_signature=[])
        def begin() -> None:
            for (mean, var, _), (s_mean, s_var) in zip(layers, saved):
                s_mean.assign(mean)
                s_var.assign(var)
                mean.assign(tf.zeros_like(mean))
                var.assign(tf.zeros_like(var))

        @tf.function(input_signature=[tf.TensorSpec([], tf.float32)])
        def end(seen: Any) -> None:
            for (mean, var, m), (s_mean, s_var) in zip(layers, saved):
                correction = 1.0 - tf.pow(tf.constant(m, tf.float32), seen)
                moved = tf.logical_and(correction > 0.0, tf.logical_or(tf.reduce_any(tf.not_equal(mean, 0.0)),
                                                                       tf.reduce_any(tf.not_equal(var, 0.0))))
                c = tf.cast(correction, mean.dtype)
                mean.assign(tf.where(moved, mean / c, s_mean))
                var.assign(tf.where(moved, var / c, s_var))

        self._begin, self._end = begin, end

    def begin(self) -> None:
        self.seen = 0
        self.active = True
        self._begin()

    def end(self) -> None:
        """The bias-corrected statistics of the batches since :meth:`begin` (a no-op when it was not called)."""
        if self.active:
            self._end(float(self.seen))
            self.active = False


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
