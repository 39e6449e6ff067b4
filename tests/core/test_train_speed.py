"""What makes train() cheap per epoch without changing what it does: the best weights are written from the
copy the callback keeps, in exactly Keras's HDF5 layout (not by a second ``model.save_weights`` pass), and
precise BatchNorm comes from the epoch's last training batches (not from an extra forward pass)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.core import models
from studio.core.runs import WeightsLayout


def _walk(path: Path) -> list[tuple[Any, ...]]:
    """Every group / dataset / attribute of an HDF5 file, with shapes, dtypes and values of the attributes."""
    import h5py

    out: list[tuple[Any, ...]] = []
    with h5py.File(path, "r") as f:
        def attrs(name: str, obj: Any) -> None:
            for k, v in sorted(obj.attrs.items()):
                out.append(("attr", name, k, np.asarray(v).tolist(), str(np.asarray(v).dtype)))

        attrs("/", f)

        def visit(name: str, obj: Any) -> None:
            kind = "dataset" if isinstance(obj, h5py.Dataset) else "group"
            out.append((kind, name, tuple(obj.shape) if kind == "dataset" else None,
                        str(obj.dtype) if kind == "dataset" else None))
            attrs(name, obj)

        f.visititems(visit)
    return out


def _model(arch: str, shape: tuple[int, ...], freeze: bool = False) -> Any:
    from studio.core.tfenv import load_tf

    _, keras = load_tf()
    keras.backend.clear_session()
    model = models.build_model(arch, shape, 3, **models.resolve_params(arch))
    if freeze:  # a frozen layer: its weights move to non_trainable_weights
        next(layer for layer in model.layers if layer.weights).trainable = False
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(size=w.shape).astype(w.dtype) for w in model.get_weights()])
    return model


@pytest.mark.parametrize("arch, shape, freeze", [("compact_cnn", (16, 16, 3), False),
                                                 ("compact_cnn", (16, 16, 1), True),
                                                 ("cnn1d", (32, 3), False)])
def test_weights_written_from_a_copy_are_keras_own_file(tmp_path: Path, arch: str, shape: tuple, freeze: bool) -> None:
    from studio.core.untrusted import check_weights_file

    model = _model(arch, shape, freeze)
    ours, theirs = tmp_path / "ours.h5", tmp_path / "theirs.h5"
    snapshot = [w.copy() for w in model.get_weights()]
    WeightsLayout(model).write(ours, snapshot)
    model.save_weights(str(theirs))
    assert _walk(ours) == _walk(theirs)
    check_weights_file(ours, [tuple(w.shape) for w in model.weights])
    fresh = _model(arch, shape, freeze)
    fresh.set_weights([np.zeros_like(w) for w in snapshot])
    fresh.load_weights(str(ours))
    for a, b in zip(fresh.get_weights(), snapshot):
        np.testing.assert_array_equal(a, b)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # atomic: no temp file left
    with pytest.raises(ValueError, match="arrays for a model"):
        WeightsLayout(model).write(ours, snapshot[:-1])


def _bn_net(keras: Any) -> Any:
    """Conv -> BN -> ReLU -> Conv -> BN (frozen) -> pool -> softmax: one updating BN and one frozen one."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(4, 3, padding="same")(inp)
    x = keras.layers.BatchNormalization(momentum=0.99, name="bn_live")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(4, 3, padding="same")(x)
    frozen = keras.layers.BatchNormalization(name="bn_frozen")
    x = frozen(x)
    frozen.trainable = False
    out = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")  # weights fixed
    return model


@pytest.mark.parametrize("n, batch, k", [(40, 8, 3), (36, 8, 2), (16, 8, 5)])
def test_precise_bn_from_the_last_batches_is_their_exact_statistics(n: int, batch: int, k: int) -> None:
    """With the weights held fixed (learning rate 0), the moving statistics after an epoch are the average of
    the last k batches' own statistics (the partial last batch counted like the others), the frozen layer is
    untouched, and no extra forward pass ran."""
    from studio.core.reporter import NullReporter
    from studio.core.tfenv import load_tf
    from studio.core.precise_bn import batchnorm_layers
    from studio.core.train_callbacks import make_callback

    tf, keras = load_tf()
    model = _bn_net(keras)
    live, frozen = model.get_layer("bn_live"), model.get_layer("bn_frozen")
    assert batchnorm_layers(keras, model) == [live]
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 1.0, (n, 8, 8, 2)).astype(np.float32) * np.linspace(0.5, 3.0, n)[:, None, None, None]
    y = rng.integers(0, 3, n)
    frozen.moving_mean.assign(np.full(4, 0.7, np.float32))
    steps = -(-n // batch)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)
    cb = make_callback(keras, NullReporter(), 1, steps, None, 0, True, precise_bn=k)
    model.fit(ds, validation_data=ds, epochs=1, callbacks=[cb], verbose=0)

    feats = keras.Model(model.input, live.input)
    first = max(0, steps - k)
    used = min(k, steps)
    weights = np.array([0.99 ** (used - 1 - j) for j in range(used)])
    stats = [feats(x[i * batch:(i + 1) * batch]).numpy() for i in range(first, steps)]
    mean = sum(w * s.mean(axis=(0, 1, 2)) for w, s in zip(weights, stats)) / weights.sum()
    np.testing.assert_allclose(live.moving_mean.numpy(), mean, rtol=1e-4, atol=1e-5)
    # Keras's fused BN updates the moving variance with the Bessel-corrected batch variance
    var = sum(w * s.var(axis=(0, 1, 2), ddof=1) for w, s in zip(weights, stats)) / weights.sum()
    np.testing.assert_allclose(live.moving_variance.numpy(), var, rtol=1e-3, atol=1e-5)
    np.testing.assert_array_equal(frozen.moving_mean.numpy(), np.full(4, 0.7, np.float32))
    np.testing.assert_array_equal(frozen.moving_variance.numpy(), np.ones(4, np.float32))


def test_precise_bn_only_for_few_steps_and_one_device() -> None:
    from studio.core.precise_bn import PRECISE_BN_MAX_STEPS, precise_bn_batches

    assert precise_bn_batches(25, 32, False) == 2  # issue 16's MobileNetV2: 800 images, batch 32 -> 64 samples
    assert precise_bn_batches(2, 32, False) == 2
    assert precise_bn_batches(1, 32, False) == 1
    assert precise_bn_batches(10, 8, False) == 8
    assert precise_bn_batches(PRECISE_BN_MAX_STEPS, 32, False) is None  # many steps: the averages keep up
    assert precise_bn_batches(25, 32, True) is None


def test_augmented_batches_get_an_extra_pass_over_clean_inputs_instead() -> None:
    from studio.core.pipeline import InputSpec
    from studio.core.precise_bn import precise_bn_plan

    spec = InputSpec(kind="image", size=8, channels=3, source_channels=3)
    x = np.random.default_rng(0).integers(0, 256, (800, 8, 8, 3), dtype=np.uint8)
    assert precise_bn_plan(x, spec, 1, 25, 32, False, augmented=False) == (2, None)
    batches, cal = precise_bn_plan(x, spec, 1, 25, 32, False, augmented=True)
    assert batches is None and cal.shape == (64, 8, 8, 3) and cal.dtype == np.float32
    assert precise_bn_plan(None, spec, 1, 25, 32, False, augmented=True) == (2, None)  # streamed: the window
    assert precise_bn_plan(x, spec, 1, 60, 32, False, augmented=True) == (None, None)


def test_best_weights_snapshot_is_get_weights_and_stays_put() -> None:
    """The callback's compiled snapshot equals ``get_weights()`` and does not follow later training steps."""
    from studio.core.reporter import NullReporter
    from studio.core.tfenv import load_tf
    from studio.core.train_callbacks import make_callback

    tf, keras = load_tf()
    model = _bn_net(keras)
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    cb = make_callback(keras, NullReporter(), 1, 1, None, 0, False)
    cb.set_model(model)
    before = [w.copy() for w in model.get_weights()]
    snap = cb._snapshot()
    assert len(snap) == len(before) and all(np.array_equal(a, b) for a, b in zip(snap, before))
    rng = np.random.default_rng(2)
    model.fit(rng.normal(size=(8, 8, 8, 2)).astype(np.float32), rng.integers(0, 3, 8), epochs=1, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(model.get_weights(), before))  # training moved them
    assert all(np.array_equal(a, b) for a, b in zip(snap, before))
