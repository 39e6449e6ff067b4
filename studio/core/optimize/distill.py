"""Knowledge distillation: a small student learns from a finished run's model (the teacher) as well as labels.

tf_keras has no distillation module; as in the Keras "knowledge distillation" example, :func:`make_distiller`
returns a ``keras.Model`` subclass whose ``train_step`` minimises

    alpha * CE(labels, student) + (1 - alpha) * T^2 * KL(softmax(teacher / T) || softmax(student / T))

where ``teacher`` and ``student`` are logits (Studio's models end in a softmax, so the log-probabilities are
used: they are the logits up to a constant, which softmax ignores). The temperature ``T`` softens both
distributions so the student also learns how the teacher ranks the wrong classes; ``T^2`` keeps the gradient
scale independent of ``T`` (Hinton et al. 2015).

The teacher may take a different input than the student (a larger image side): ``teacher_input`` maps the
student's batch to the teacher's. It is called on every training batch, so augmented batches are seen by both.
Only the student is tracked: ``get_weights`` / ``set_weights`` / ``save_weights`` are the student's, so the
training callback that keeps the best weights works on the distiller unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from studio.core.errors import ConfigError

# Measured on development data (see docs/benchmarks.md, "Distillation"): chosen defaults.
DEFAULT_ALPHA = 0.5
DEFAULT_TEMPERATURE = 4.0
_EPS = 1e-7


@dataclass(frozen=True)
class DistillConfig:
    alpha: float = DEFAULT_ALPHA  # weight of the label loss; 1 - alpha goes to the teacher
    temperature: float = DEFAULT_TEMPERATURE

    def validated(self) -> "DistillConfig":
        if not 0.0 <= float(self.alpha) <= 1.0:
            raise ConfigError(f"distillation alpha must be between 0 and 1, got {self.alpha}")
        if not float(self.temperature) >= 1.0:
            raise ConfigError(f"distillation temperature must be 1 or more, got {self.temperature}")
        return self


class _Held:
    """Holds the teacher out of Keras' attribute tracking (its weights are not the distiller's)."""

    def __init__(self, model: Any) -> None:
        self.model = model


def make_distiller(student: Any, teacher: Any, config: DistillConfig | None = None,
                   teacher_input: Callable[[Any], Any] | None = None) -> Any:
    """A compile-and-fit-able model that trains ``student`` against ``teacher``'s softened outputs."""
    from studio.core.tfenv import load_tf

    tf, keras = load_tf()
    cfg = (config or DistillConfig()).validated()
    alpha, temp = float(cfg.alpha), float(cfg.temperature)

    class Distiller(keras.Model):
        def __init__(self) -> None:
            super().__init__(name="distiller")
            self.student = student
            self._teacher = _Held(teacher)
            self.distill_tracker = keras.metrics.Mean(name="distill_loss")

        def call(self, x: Any, training: bool = False) -> Any:
            return self.student(x, training=training)

        def train_step(self, data: Any) -> dict[str, Any]:
            x, y, sw = keras.utils.unpack_x_y_sample_weight(data)
            tx = teacher_input(x) if teacher_input is not None else x
            t_logits = tf.math.log(tf.clip_by_value(self._teacher.model(tx, training=False), _EPS, 1.0))
            soft_t = tf.stop_gradient(tf.nn.softmax(t_logits / temp))
            with tf.GradientTape() as tape:
                probs = self.student(x, training=True)
                label_loss = self.compiled_loss(y, probs, sw, regularization_losses=self.student.losses)
                s_log = tf.nn.log_softmax(tf.math.log(tf.clip_by_value(probs, _EPS, 1.0)) / temp)
                kl = tf.reduce_sum(soft_t * (tf.math.log(tf.clip_by_value(soft_t, _EPS, 1.0)) - s_log), axis=-1)
                distill_loss = tf.reduce_mean(kl) * (temp * temp)
                total = alpha * label_loss + (1.0 - alpha) * distill_loss
            variables = self.student.trainable_variables
            self.optimizer.apply_gradients(zip(tape.gradient(total, variables), variables))
            self.compiled_metrics.update_state(y, probs, sw)
            self.distill_tracker.update_state(distill_loss)
            return {m.name: m.result() for m in self.metrics}

        # the student is what is kept: the best-weights bookkeeping of the training callback sees only it
        def get_weights(self) -> list[Any]:
            return self.student.get_weights()

        def set_weights(self, weights: list[Any]) -> None:
            self.student.set_weights(weights)

        def save_weights(self, *args: Any, **kwargs: Any) -> Any:
            return self.student.save_weights(*args, **kwargs)

    return Distiller()


def resize_for_teacher(teacher: Any, student_shape: tuple[int, ...]) -> Callable[[Any], Any] | None:
    """``teacher_input`` for an image student smaller or larger than the teacher (bilinear resize), or None
    when both take the same input. A sensor teacher with another window cannot be fed: ConfigError."""
    from studio.core.tfenv import load_tf

    tf, _ = load_tf()
    t_shape = tuple(int(v) for v in teacher.input_shape[1:])
    s_shape = tuple(int(v) for v in student_shape)
    if t_shape == s_shape:
        return None
    if len(t_shape) == 3 and len(s_shape) == 3 and t_shape[2] == s_shape[2]:
        size = (t_shape[0], t_shape[1])
        return lambda x: tf.image.resize(x, size, method="bilinear")
    raise ConfigError(f"the teacher takes inputs of shape {t_shape}, the student {s_shape}",
                      hint="distil only between models with the same window (sensors) or channels (images)")
