"""Fine-tuning a variant's Keras model on in-memory arrays: progress, cancel and history through the reporter."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from studio.core.optimize.config import Arrays
from studio.core.reporter import Reporter, check_cancel


class _ReporterCallback:
    """Bridges Keras fit() to the reporter: progress per batch, stop within a batch on cancel."""

    @staticmethod
    def make(keras: Any, reporter: Reporter, lo: float, hi: float, total_steps: int, label: str) -> Any:
        class CB(keras.callbacks.Callback):
            def __init__(self) -> None:
                super().__init__()
                self.step = 0

            def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
                self.step += 1
                if self.step % 5 == 0 or self.step == total_steps:
                    reporter.progress(lo + (hi - lo) * min(1.0, self.step / max(1, total_steps)), label)
                if reporter.cancel_requested():
                    self.model.stop_training = True

            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                logs = dict(logs or {})
                reporter.metrics("epoch", {"stage": label, "epoch": epoch + 1, **{
                    k: float(v) for k, v in logs.items() if isinstance(v, (int, float, np.floating))}})

        return CB()


def fresh_clone(model: Any) -> Any:
    """A new model with new layer objects and the same weights (never share layers across variants)."""
    from studio.core.tfenv import load_tf

    _, keras = load_tf()
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def outputs_probabilities(model: Any) -> bool:
    act = getattr(model.layers[-1], "activation", None)
    return getattr(act, "__name__", "") == "softmax"


def compile_for_finetune(keras: Any, model: Any, lr: float, probs: bool) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=not probs),
        metrics=["accuracy"],
    )


class FineTuner:
    """Runs the fine-tuning stages of one variant, sharing a progress span ``(lo, hi)`` between them.

    Each :meth:`fit` advances a cursor through the span, records the Keras history under ``"<label>:<key>"``
    and raises :class:`~studio.core.errors.Cancelled` after a stage the user stopped.
    """

    def __init__(self, keras: Any, arrays: Arrays, batch_size: int, reporter: Reporter,
                 progress: tuple[float, float], stages: int, teacher: Any = None, distill: Any = None) -> None:
        self.keras = keras
        self.teacher = teacher  # a trained model: each fit() then distils from it (see .distill)
        self.distill = distill
        self.arrays = arrays
        self.batch_size = int(batch_size)
        self.reporter = reporter
        lo, hi = progress
        self.cursor = lo
        self.span = (hi - lo) * 0.8 / max(1, stages)
        self.history: dict[str, list[float]] = {}

    @property
    def steps_per_epoch(self) -> int:
        return max(1, math.ceil(len(self.arrays.x_train) / self.batch_size))

    def fit(self, model: Any, label: str, callbacks: list[Any], n_epochs: int) -> None:
        a, reporter = self.arrays, self.reporter
        total = self.steps_per_epoch * n_epochs
        cb = _ReporterCallback.make(self.keras, reporter, self.cursor, self.cursor + self.span, total, label)
        reporter.status(f"{label}: {n_epochs} epoch(s) on {len(a.x_train)} training samples"
                        + (" with the trained model as teacher" if self.teacher is not None else ""))
        fit_model = model
        if self.teacher is not None:
            from studio.core.optimize.distill import make_distiller

            fit_model = make_distiller(model, self.teacher, self.distill)
            fit_model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"])
        h = fit_model.fit(
            a.x_train,
            a.y_train,
            batch_size=self.batch_size,
            epochs=n_epochs,
            shuffle=True,
            verbose=0,
            callbacks=callbacks + [cb],
            validation_data=(a.x_val, a.y_val) if len(a.x_val) else None,
        )
        for k, v in h.history.items():
            self.history[f"{label}:{k}"] = [float(x) for x in v]
        self.cursor += self.span
        check_cancel(reporter)
