"""Architecture registry, MAC counting, size estimates and the ImageNet weights lookup."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from studio.core import models, weights
from studio.core.errors import ConfigError, WeightsUnavailableError


def _keras():
    from studio.core.tfenv import load_tf

    return load_tf()[1]


def _assert_flat_and_clean(model) -> None:
    keras = _keras()
    for layer in model.layers:
        assert not isinstance(layer, keras.Model), f"nested model {layer.name}: QAT needs a flat model"
        assert not isinstance(layer, (keras.layers.Lambda, keras.layers.Rescaling)), layer.name


@pytest.mark.parametrize(
    "arch, shape",
    [
        ("compact_cnn", (16, 16, 1)),
        ("compact_cnn", (96, 96, 3)),
        ("mobilenetv2", (32, 32, 1)),
        ("cnn1d", (24, 3)),
        ("dense", (8, 2)),
    ],
)
def test_registry_builds_flat_models_that_predict(arch: str, shape: tuple) -> None:
    model = models.build_model(arch, shape, 3)
    _assert_flat_and_clean(model)
    assert tuple(model.input_shape[1:]) == shape
    out = model(np.zeros((2, *shape), np.float32), training=False).numpy()
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-5)  # softmax


def test_compact_cnn_is_small() -> None:
    n = models.build_model("compact_cnn", (32, 32, 3), 10).count_params()
    assert 10_000 < n < 100_000


def test_mobilenet_bn_momentum_is_settable_and_defaults_low() -> None:
    keras = _keras()
    model = models.build_model("mobilenetv2", (32, 32, 3), 2)
    moms = {layer.momentum for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)}
    assert moms == {0.9}
    model = models.build_model("mobilenetv2", (32, 32, 3), 2, bn_momentum=0.99)
    moms = {layer.momentum for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)}
    assert moms == {0.99}


def test_params_and_shapes_are_validated() -> None:
    with pytest.raises(ConfigError, match="width"):
        models.build_model("mobilenetv2", (96, 96, 3), 2, width=0.4)
    with pytest.raises(ConfigError, match="unknown architecture"):
        models.get_spec("resnet")
    with pytest.raises(ConfigError, match="sensor"):
        models.get_spec("cnn1d", task="image")
    with pytest.raises(ConfigError, match="32 to 224"):
        models.build_model("mobilenetv2", (16, 16, 3), 2)
    with pytest.raises(ConfigError, match="no parameter"):
        models.resolve_params("dense", bn_momentum=0.9)
    assert models.resolve_params("mobilenetv2", width=0.5)["width"] == 0.5


def test_count_macs_matches_hand_computation() -> None:
    keras = _keras()
    L = keras.layers
    inp = keras.Input((8, 8, 3))
    x = L.Conv2D(4, 3, padding="same")(inp)  # 8*8 * 3*3*3*4 = 6912
    x = L.DepthwiseConv2D(3, strides=2, padding="same")(x)  # 4*4 * 3*3*4 = 576
    x = L.SeparableConv2D(6, 3, padding="valid")(x)  # 2*2*3*3*4 + 2*2*4*6 = 144 + 96 = 240
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(5)(x)  # 6*5 = 30
    model = keras.Model(inp, out)
    assert models.count_macs(model) == 6912 + 576 + 240 + 30

    inp = keras.Input((10, 2))
    out = L.Conv1D(3, 5, padding="valid")(inp)  # 6 * 5*2*3 = 180
    assert models.count_macs(keras.Model(inp, out)) == 180


def test_estimate_dense_by_hand_and_sizes() -> None:
    est = models.estimate("dense", (8, 2), 3)
    # flatten 16 -> 64 -> 32 -> 3
    assert est.macs == 16 * 64 + 64 * 32 + 32 * 3
    kernels = 16 * 64 + 64 * 32 + 32 * 3
    biases = 64 + 32 + 3
    assert est.params == kernels + biases
    overhead = est.float32_bytes - 4 * (kernels + biases)
    assert 0 < overhead < 10_000
    assert est.int8_bytes == kernels + 4 * biases + overhead  # dense layers: per-tensor scales, int32 biases
    assert models.estimate("dense", (8, 2), 3) is est  # cached


def test_int8_estimate_counts_per_channel_quantization() -> None:
    """The estimate is within 15 % of a real int8 conversion (counting weights and biases alone was ~40 % short:
    every conv output channel carries a float32 scale and an int64 zero point for its kernel and its bias)."""
    from studio.core.convert import convert_model

    model = models.build_model("compact_cnn", (16, 16, 1), 4, width=0.5)
    real = len(convert_model(model, "int8", np.random.default_rng(0).random((4, 16, 16, 1), np.float32),
                             io_dtype="int8"))
    est = models.estimate("compact_cnn", (16, 16, 1), 4, width=0.5)
    assert 0.85 * real <= est.int8_bytes <= 1.15 * real, (est.int8_bytes, real)
    kernels = sum(int(np.prod(w.shape)) for w in model.weights if "kernel" in w.name)
    assert est.int8_bytes > kernels + 4 * 600  # more than weights + int32 biases


def test_describe_architectures_lists_by_task() -> None:
    ids = [a["id"] for a in models.describe_architectures(task="sensor")]
    assert ids == ["cnn1d", "dense", "minirocket", "fcn", "resnet1d", "inception"]
    image = models.describe_architectures(task="image", estimate=True, input_size=32)
    assert {a["id"] for a in image} == {"mobilenetv2", "compact_cnn"}
    for a in image:
        assert a["estimate"]["macs"] > 0 and a["estimate"]["int8_bytes"] < a["estimate"]["float32_bytes"]


# ---------------------------------------------------------------------------------------------- weights
@pytest.fixture
def keras_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "keras-home"
    (home / "models").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setenv("STUDIO_OFFLINE", "1")
    return home


def _fake_imagenet_file(folder: Path, alpha: float = 0.35, rows: int = 96) -> Path:
    """A no-top file in Keras's own format: a plain Keras MobileNetV2 base with known (seeded) weights."""
    keras = _keras()
    keras.utils.set_random_seed(7)
    base = keras.applications.MobileNetV2(input_shape=(rows, rows, 3), alpha=alpha, include_top=False, weights=None)
    path = folder / weights.weights_filename(alpha, rows)
    base.save_weights(str(path))
    return path


def test_weights_lookup_finds_keras_cache_and_loads_into_flat_model(keras_home: Path) -> None:
    assert not weights.imagenet_available(0.35)
    path = _fake_imagenet_file(keras_home / "models")
    assert weights.imagenet_available(0.35, 128)
    assert weights.resolve_weights("imagenet", 0.35, 128) == path
    model = models.build_model("mobilenetv2", (64, 64, 3), 4)
    loaded = weights.load_imagenet(model, path, 0.35)
    assert loaded > 50
    keras = _keras()
    ref = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, include_top=False, weights=None)
    ref.load_weights(str(path))
    np.testing.assert_array_equal(model.get_layer("Conv1").get_weights()[0], ref.get_layer("Conv1").get_weights()[0])


def test_weights_offline_and_missing_fails_fast(keras_home: Path) -> None:
    start = time.monotonic()
    with pytest.raises(WeightsUnavailableError, match="not on this machine"):
        weights.resolve_weights("imagenet", 0.5, 96)
    assert time.monotonic() - start < 5
    with pytest.raises(WeightsUnavailableError, match="not found"):
        weights.resolve_weights(str(keras_home / "nope.h5"), 0.35, 96)
    assert weights.resolve_weights("none", 0.35, 96) is None


def test_is_online_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that accepts connections but never answers must not make the check hang."""
    import socket

    monkeypatch.delenv("STUDIO_OFFLINE", raising=False)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        port = server.getsockname()[1]
        start = time.monotonic()
        assert weights.is_online(f"http://127.0.0.1:{port}/w.h5", timeout=0.5) is False
        assert time.monotonic() - start < 3
    finally:
        server.close()
    assert weights.is_online("http://nonexistent.invalid/w.h5", timeout=0.5) is False


def test_weights_of_wrong_width_are_refused(keras_home: Path) -> None:
    path = _fake_imagenet_file(keras_home / "models", alpha=0.5)
    model = models.build_model("mobilenetv2", (32, 32, 3), 2, width=0.35)
    with pytest.raises(WeightsUnavailableError, match="do not fit"):
        weights.load_imagenet(model, path, 0.35)
