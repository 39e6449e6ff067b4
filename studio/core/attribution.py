"""Why-maps: which part of an input made a classifier choose a class.

Two methods, both returning maps over the model's input, scaled to 0..1:

* **Grad-CAM** (Selvaraju et al.) on a tf_keras model: the last feature map with a spatial (images) or time
  (sensors) axis, weighted by the gradient of the class logit, one forward and a partial backward pass per
  batch. Its resolution is the feature map's (6x6 for the compact CNN at 96 px).
* **Occlusion sensitivity** (Zeiler & Fergus): slide a neutral patch over the input and record how much the
  class probability drops. It needs only a ``predict(x) -> probabilities`` function, so it also explains the
  LiteRT variant a device runs, at the cost of one inference per patch position.

Which is better was measured, not assumed (``bench/whymaps.py``, docs/benchmarks.md): see
:data:`DEFAULT_METHOD`. Sensor models get a time profile (where in the window) and a per-channel score
(which channel: the drop when one channel is flattened to its training mean).

This module imports TensorFlow only inside the Grad-CAM functions (through ``load_tf``).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

METHODS = ("occlusion", "gradcam")
DEFAULT_METHOD = "occlusion"
Predict = Callable[[np.ndarray], np.ndarray]  # float32 model input [n, ...] -> probabilities [n, classes]


from studio.core.maps import normalize01, peak, upsample  # noqa: E402,F401 - map helpers, numpy only


# ---------------------------------------------------------------------------------------------- Grad-CAM
def feature_layer(model: Any) -> Any:
    """The last layer whose output still has a spatial (4-D) or time (3-D) axis: what Grad-CAM looks at."""
    rank = len(model.input_shape)
    for layer in reversed(model.layers):
        shape = layer.output_shape
        if isinstance(shape, list):
            continue
        if len(shape) == rank and not layer.__class__.__name__.startswith(("Input", "Dropout")):
            if all(s is None or s > 1 for s in shape[1:-1]):
                return layer
    raise ValueError("the model has no feature map with a spatial or time axis to explain")


def _logit_head(model: Any) -> tuple[Any, Any | None]:
    """(tensor feeding the classifier, Dense layer) when the output is a softmax Dense, else (output, None).

    Grad-CAM wants the class *logit*: the softmax's gradient for a confident prediction is nearly zero.
    """
    last = model.layers[-1]
    act = getattr(last, "activation", None)
    if last.__class__.__name__ == "Dense" and getattr(act, "__name__", "") == "softmax":
        return last.input, last
    return model.output, None


def gradcam(model: Any, x: np.ndarray, classes: np.ndarray | None = None,
            batch_size: int = 32, layer: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM maps of ``x`` (float32 model input) for ``classes`` (default: the predicted class).

    Returns ``(probabilities [n, k], maps [n, *feature_grid])``, each map 0..1 at the feature map's resolution
    (use :func:`upsample` to reach the input's).
    """
    from studio.core.tfenv import load_tf

    tf, keras = load_tf()
    layer = layer or feature_layer(model)
    head_in, dense = _logit_head(model)
    probe = keras.Model(model.inputs, [layer.output, head_in, model.output])
    probs_out, maps_out = [], []
    for start in range(0, len(x), batch_size):
        xb = tf.convert_to_tensor(np.asarray(x[start : start + batch_size], dtype=np.float32))
        with tf.GradientTape() as tape:
            feats, pre, probs = probe(xb, training=False)
            logits = tf.matmul(pre, dense.kernel) + dense.bias if dense is not None else tf.math.log(probs + 1e-9)
            if classes is None:
                cls = tf.argmax(probs, axis=1)
            else:
                cls = tf.convert_to_tensor(np.asarray(classes[start : start + batch_size], dtype=np.int64))
            score = tf.reduce_sum(tf.gather(logits, cls, axis=1, batch_dims=1))
        grads = tape.gradient(score, feats)
        axes = tuple(range(1, len(feats.shape) - 1))
        weights = tf.reduce_mean(grads, axis=axes, keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(weights * feats, axis=-1)).numpy()
        probs_out.append(probs.numpy())
        maps_out.extend(normalize01(c) for c in cam)
    k = int(model.output_shape[-1])
    grid = tuple(int(s) for s in layer.output_shape[1:-1])
    maps = np.stack(maps_out) if maps_out else np.zeros((0,) + grid, np.float32)
    return (np.concatenate(probs_out) if probs_out else np.zeros((0, k), np.float32)), maps


# ---------------------------------------------------------------------------------------------- occlusion
def default_patch(side: int) -> int:
    """Occlusion patch side for an input whose shorter side is ``side`` (see :func:`occlusion`)."""
    return max(2, int(round(side / 8)))


def occlusion_positions(n: int, patch: int, stride: int) -> list[int]:
    """Patch starts covering ``0..n`` with the last patch flush against the end."""
    if patch >= n:
        return [0]
    starts = list(range(0, n - patch + 1, stride))
    if starts[-1] != n - patch:
        starts.append(n - patch)
    return starts


def occlusion(predict: Predict, x: np.ndarray, cls: int, patch: int | None = None, stride: int | None = None,
              baseline: float = 0.0, batch_size: int = 64, channel: int | None = None,
              base: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Occlusion sensitivity of one input ``x`` (float32 model input ``[h, w, c]`` or ``[t, c]``) for ``cls``.

    Each patch position is replaced by ``baseline`` (0 = mid-grey for images scaled to [-1, 1], the training
    mean for normalized sensor windows); the map is the drop of ``cls``'s probability, averaged over the patches
    covering each pixel, then scaled to 0..1. ``channel`` occludes that channel only (sensors: which channel,
    when). ``base`` is ``predict(x[None])[0]`` when the caller has it. Returns ``(probabilities of x, map
    [h, w] or [t])``. The default patch is 1/8 of the shorter side, moved by half a patch: on the mark test
    set (bench/trust.py) it put the peak on the 7 px mark for every correctly classified image at 32, 64 and
    96 px input, where 1/6 missed 3-17 % (worst at 96 px) and 1/12 cost four times as much for 94-100 %.
    """
    x = np.asarray(x, dtype=np.float32)
    spatial = x.shape[:-1]
    side = min(spatial)
    patch = patch or default_patch(side)
    stride = stride or max(1, patch // 2)
    last = (slice(None),) if channel is None else (int(channel),)
    grids = [occlusion_positions(n, min(patch, n), stride) for n in spatial]
    starts = np.array(np.meshgrid(*grids, indexing="ij")).reshape(len(spatial), -1).T
    base = predict(x[None])[0] if base is None else base
    drop = np.zeros(spatial, np.float32)
    hits = np.zeros(spatial, np.float32)
    for b in range(0, len(starts), batch_size):
        chunk = starts[b : b + batch_size]
        batch = np.repeat(x[None], len(chunk), axis=0)
        for i, s in enumerate(chunk):
            sl = tuple(slice(int(v), int(v) + min(patch, n)) for v, n in zip(s, spatial))
            batch[(i,) + sl + last] = baseline
        p = predict(batch)[:, cls]
        for i, s in enumerate(chunk):
            sl = tuple(slice(int(v), int(v) + min(patch, n)) for v, n in zip(s, spatial))
            drop[sl] += float(base[cls] - p[i])
            hits[sl] += 1.0
    m = np.maximum(drop / np.maximum(hits, 1.0), 0.0)
    return base, normalize01(m)


def channel_importance(predict: Predict, x: np.ndarray, cls: int, baseline: float = 0.0) -> np.ndarray:
    """For a sensor window ``[t, c]``: the drop of ``cls``'s probability when each channel is flattened to
    ``baseline`` (its training mean, 0 in normalized units), clipped at 0. Not scaled: 0.4 means 40 points."""
    x = np.asarray(x, dtype=np.float32)
    c = x.shape[-1]
    batch = np.repeat(x[None], c + 1, axis=0)
    for j in range(c):
        batch[j + 1, :, j] = baseline
    p = predict(batch)[:, cls]
    return np.maximum(p[0] - p[1:], 0.0).astype(np.float32)


def keras_predict(model: Any) -> Predict:
    """A :data:`Predict` function over a tf_keras model (inference mode)."""

    def run(x: np.ndarray) -> np.ndarray:
        return np.asarray(model(np.asarray(x, dtype=np.float32), training=False))

    return run
