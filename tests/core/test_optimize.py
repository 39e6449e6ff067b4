"""Optimize core on a tiny Keras model and synthetic arrays: pruning sparsity, LiteRT vs TFLite-Micro, arena,
variant storage and listing, config checks. No project training involved."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from studio.core.errors import Cancelled, ConfigError
from studio.core.optimize import (
    Arrays,
    OptimizeConfig,
    build_variant,
    list_variants,
    measure_variant,
    pruning_schedule,
    write_variant,
)
from studio.core.reporter import NullReporter, RecordingReporter


def _data(n: int = 96, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three classes of 12x12 grey images: bright top, bright left, dark - easy enough for 2 epochs."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.normal(0, 0.3, (n, 12, 12, 1)).astype(np.float32)
    x[y == 0, :4] += 1.5
    x[y == 1, :, :4] += 1.5
    x[y == 2] -= 0.5
    return x, y


@pytest.fixture(scope="module")
def trained():
    from studio.core.tfenv import load_tf

    _, keras = load_tf()
    keras.utils.set_random_seed(0)
    L = keras.layers
    inp = keras.Input((12, 12, 1))
    h = L.Conv2D(16, 3, padding="same", activation="relu")(inp)
    h = L.DepthwiseConv2D(3, padding="same", activation="relu")(h)
    h = L.Conv2D(24, 1, activation="relu")(h)
    h = L.GlobalAveragePooling2D()(h)
    h = L.Dense(16, activation="relu")(h)
    out = L.Dense(3, activation="softmax")(h)
    model = keras.Model(inp, out)
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", ["accuracy"])
    x, y = _data()
    xv, yv = _data(48, seed=1)
    model.fit(x, y, epochs=4, batch_size=16, verbose=0)
    return model, Arrays(["top", "left", "dark"], x, y, xv, yv)


@pytest.mark.slow
def test_pruning_reaches_target_sparsity_on_stripped_model(trained) -> None:
    model, arrays = trained
    before = [w.copy() for w in model.get_weights()]
    built = build_variant(model, arrays, OptimizeConfig(prune=0.6, prune_kind="weights", quantize="float32", finetune_epochs=2))
    # the stripped model has no pruning wrappers left and measures 60 % +- 2 points on its prunable kernels
    assert not any("PruneLowMagnitude" in type(layer).__name__ for layer in built.keras_model.layers)
    assert abs(built.sparsity["sparsity"] - 0.6) <= 0.02, built.sparsity
    # depthwise kernels are reported, never pruned, and the overall figure is honest (below the target)
    assert built.sparsity["sparsity_depthwise"] < 0.1
    assert built.sparsity["sparsity_all"] < built.sparsity["sparsity"]
    kernels = [w for layer in built.keras_model.layers if type(layer).__name__ == "Dense"
               for w in layer.get_weights()[:1]]
    assert all(abs(np.mean(k == 0) - 0.6) <= 0.02 for k in kernels)
    # the trained model itself was not touched (variants are built from a fresh clone)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_int8_runs_identically_in_litert_and_tflite_micro(trained) -> None:
    from studio.core.measure import litert_interpreter, quantize_input
    from studio.core.micro import find_arena, run_tflm

    model, arrays = trained
    built = build_variant(model, arrays, OptimizeConfig(quantize="int8"))
    rep = RecordingReporter()
    m = measure_variant(built.model_bytes, model, arrays, "int8", rep)
    assert m["io"]["input"]["dtype"] == "int8" and m["io"]["output"]["dtype"] == "int8"
    assert m["accuracy"] >= m["keras_accuracy"] - 0.05 and m["agreement"] >= 0.9
    assert m["val"]["n"] == 48 and sum(c["support"] for c in m["val"]["per_class"].values()) == 48
    # a busy host makes a few invokes very slow: the mean can pass p95, the median cannot
    assert m["latency_ms"] > 0 and 0 < m["latency_median_ms"] <= m["latency_p95_ms"]
    assert 0 < m["gzip_bytes"] < m["bytes"]
    assert m["macs"] == 12 * 12 * (16 * 9 + 16 * 9 + 24 * 16) + 24 * 16 + 16 * 3
    arena = m["arena"]
    assert arena["ok"] and arena["min_bytes"] < arena["recommended_bytes"]

    interp = litert_interpreter(built.model_bytes, delegates=False)
    detail = interp.get_input_details()[0]
    xq = quantize_input(arrays.x_val[:8], detail)
    lite = []
    for i in range(len(xq)):
        interp.set_tensor(detail["index"], xq[i : i + 1])
        interp.invoke()
        lite.append(interp.get_tensor(interp.get_output_details()[0]["index"])[0].copy())
    tflm = run_tflm(built.model_bytes, xq, arena["min_bytes"])
    np.testing.assert_array_equal(tflm, np.stack(lite))
    # the search is reproducible and its minimum really is the smallest (to its granularity)
    again = find_arena(built.model_bytes, xq[:1], granularity=64)
    assert abs(again.min_bytes - arena["min_bytes"]) <= 64


@pytest.mark.slow
def test_cancel_during_finetune_raises(trained) -> None:
    model, arrays = trained
    rep = NullReporter()
    rep.cancel()
    with pytest.raises(Cancelled):
        build_variant(model, arrays, OptimizeConfig(prune=0.5, finetune_epochs=1), rep)


def test_pruning_schedule_ends_on_an_update_step() -> None:
    from studio.core.tfenv import load_tfmot

    tfmot = load_tfmot()
    for steps in (10, 37, 250, 10_000):
        _, info = pruning_schedule(tfmot, 0.5, steps)
        assert info["end_step"] % info["frequency"] == 0
        assert info["end_step"] <= steps * 0.7 + 1
    _, info = pruning_schedule(tfmot, 0.5, 3)
    assert info["kind"] == "constant"


def test_config_validation_and_names() -> None:
    with pytest.raises(ConfigError):
        OptimizeConfig(quantize="float16", qat=True).validated()
    with pytest.raises(ConfigError):
        OptimizeConfig(prune=0.95).validated()
    with pytest.raises(ConfigError):
        OptimizeConfig(quantize="int4").validated()
    assert OptimizeConfig(prune=0.5, prune_kind="weights", qat=True).default_name() == "p50-qat-int8"
    assert OptimizeConfig(prune=0.5, qat=True).default_name() == "c50-qat-int8"  # channels: the default kind
    assert OptimizeConfig(quantize="float32").epochs == 0
    assert OptimizeConfig(prune=0.5, finetune_epochs=0).epochs == 1
    w = {"prune_kind": "weights"}
    assert OptimizeConfig(prune=0.5, **w).epochs == 4 and OptimizeConfig(prune=0.8, **w).epochs == 8


def test_variant_written_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.core.optimize import store as opt_store
    from studio.core.project import Project

    project = Project.create(tmp_path / "p", "image")
    write_variant(project.variants_dir, "int8", b"old", {"name": "int8", "bytes": 3, "quantize": "int8"})

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(opt_store, "atomic_write_json", boom)
    with pytest.raises(OSError):
        write_variant(project.variants_dir, "int8", b"new", {"name": "int8"})
    assert (project.variants_dir / "int8" / "model.tflite").read_bytes() == b"old"
    assert sorted(p.name for p in project.variants_dir.iterdir()) == ["int8"]  # no temp folder left
    monkeypatch.undo()
    data = {"name": "x", "bytes": 200 * 1024, "quantize": "int8", "accuracy": 0.9,
            "arena": {"ok": True, "min_bytes": 600 * 1024, "recommended_bytes": 700 * 1024}}
    write_variant(project.variants_dir, "x", b"m" * 10, data)
    rows = {r["name"]: r for r in list_variants(project)}
    assert rows["x"]["fits"]["cortex-m7"] is True and rows["x"]["fits"]["esp32-s3"] is False
    assert rows["x"]["path"].endswith("model.tflite") and rows["x"]["accuracy"] == 0.9
    only = list_variants(project, target="esp32-s3")
    assert set(only[0]["fits"]) == {"esp32-s3"}


def test_a_variant_of_a_model_refitted_on_validation_says_its_accuracy_is_no_fair_test(tmp_path: Path) -> None:
    import json
    from types import SimpleNamespace

    from studio.core.optimize.stage import _val_seen

    (tmp_path / "config.json").write_text(json.dumps({"refit_on_train_and_val": True}))
    assert "refitted" in _val_seen(SimpleNamespace(path=tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"refit_on_train_and_val": False}))
    assert _val_seen(SimpleNamespace(path=tmp_path)) is None
