"""What makes train() cheap per epoch without changing what it writes: the best weights are written from the
copy the callback keeps, in exactly Keras's HDF5 layout (not by a second ``model.save_weights`` pass)."""

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


def test_batchnorm_layers_are_found_once_and_reused() -> None:
    from studio.core.tfenv import load_tf
    from studio.core.train_callbacks import batchnorm_layers, recalibrate_batchnorm

    _, keras = load_tf()
    model = _model("compact_cnn", (16, 16, 3))
    bns = batchnorm_layers(keras, model)
    assert bns and all(isinstance(b, keras.layers.BatchNormalization) for b in bns)
    x = np.random.default_rng(1).normal(3.0, 2.0, (16, 16, 16, 3)).astype(np.float32)
    recalibrate_batchnorm(keras, model, x, bns=bns)
    first = bns[0]
    # momentum 0 during the pass: the first BN's moving mean is exactly the batch mean of its input
    inp = keras.Model(model.input, first.input)(x, training=True).numpy()
    np.testing.assert_allclose(first.moving_mean.numpy(), inp.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-4)
    assert all(b.momentum not in (0.0,) for b in bns)  # restored
