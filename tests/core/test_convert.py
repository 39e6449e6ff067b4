"""Converter: each quantization gives the file it promises; calibration data is balanced over classes."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.convert import convert_model, representative_indices
from studio.core.errors import ConfigError


def test_representative_indices_are_balanced_and_deterministic() -> None:
    y = np.array([0] * 90 + [1] * 8 + [2] * 2)
    idx = representative_indices(y, 12, seed=3)
    assert len(idx) == len(set(idx.tolist())) == 12
    counts = np.bincount(y[idx], minlength=3)
    assert counts.tolist() == [5, 5, 2]  # round-robin: a rare class gives every sample it has
    np.testing.assert_array_equal(idx, representative_indices(y, 12, seed=3))
    assert len(representative_indices(y, 1000)) == 100


@pytest.fixture(scope="module")
def dense_model():
    from studio.core.tfenv import load_tf

    _, keras = load_tf()
    keras.utils.set_random_seed(1)
    inp = keras.Input((20, 3))
    h = keras.layers.Flatten()(inp)
    h = keras.layers.Dense(256, activation="relu")(h)
    out = keras.layers.Dense(4, activation="softmax")(h)
    return keras.Model(inp, out)


@pytest.mark.slow
def test_quantizations(dense_model) -> None:
    from studio.core.measure import io_details, run_litert

    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (40, 20, 3)).astype(np.float32)
    ref = dense_model.predict(x, verbose=0)
    sizes = {}
    for q in ("float32", "float16", "dynamic"):
        data = convert_model(dense_model, q)
        sizes[q] = len(data)
        np.testing.assert_allclose(run_litert(data, x[:8]).probs, ref[:8], atol=0.05)
    assert sizes["float16"] < 0.6 * sizes["float32"] and sizes["dynamic"] < 0.4 * sizes["float32"]
    for io in ("int8", "uint8"):
        data = convert_model(dense_model, "int8", x, io_dtype=io)
        d = io_details(data)
        assert d["input"]["dtype"] == io and d["output"]["dtype"] == io
        assert np.mean(run_litert(data, x).probs.argmax(1) == ref.argmax(1)) >= 0.9
    with pytest.raises(ConfigError):
        convert_model(dense_model, "int8", None)
