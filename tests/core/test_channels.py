"""Channel pruning's graph rules, checked the strict way: a narrowed model must compute exactly what the original
computes when the removed channels are silenced (their filters, biases and batch-norm shifts set to zero).

That equivalence holds for any correct rebuild and fails for any inconsistent one (a residual add whose two
sides keep different channels, a consumer reading the wrong rows, a concat offset off by one...), so it is
checked on every registry architecture and on graphs with the shapes other architectures use.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from studio.core.errors import ConfigError
from studio.core.optimize.channels import analyze
from studio.core.optimize.rebuild import (
    _entries_by_name,
    _kept_leaves,
    apply_plan,
    copy_surviving_weights,
    make_plan,
    prune_channels,
)


@pytest.fixture(scope="module")
def keras():
    from studio.core.tfenv import load_tf

    return load_tf()[1]


def _randomize(model, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for w in model.weights:
        shape = tuple(w.shape)
        value = rng.uniform(0.5, 2.0, shape) if "moving_variance" in w.name else rng.normal(0, 0.4, shape)
        w.assign(value.astype(np.float32))


def _silenced(keras, model, plan):
    """A copy of ``model`` whose removed channels output exact zeros everywhere they flow."""
    g = analyze(model)
    kept = _kept_leaves(g, _entries_by_name(model, plan))
    out = keras.models.clone_model(model)
    out.set_weights(model.get_weights())
    for layer in out.layers:
        rec = g.layers[layer.name]
        ws = [w.copy() for w in layer.get_weights()]
        if not ws:
            continue
        if rec.role == "producer":
            gone = np.setdiff1d(np.arange(sum(s.size for s in rec.output)), g.indices(rec.output, kept))
            k = 1 if rec.cls.startswith("SeparableConv") else 0
            ws[k][..., gone] = 0
            if len(ws) > k + 1:
                ws[k + 1][gone] = 0
        elif rec.role == "passthrough":
            gone = np.setdiff1d(np.arange(sum(s.size for s in rec.inputs[0])), g.indices(rec.inputs[0], kept))
            names = [w.name.split("/")[-1].split(":")[0] for w in layer.weights]
            for w, name in zip(ws, names):
                if name in ("beta", "moving_mean", "bias"):
                    w[gone] = 0
        layer.set_weights(ws)
    return out


def _logits(keras, model, x):
    """Pre-softmax outputs (a softmax can hide differences when it saturates)."""
    last = model.layers[-1]
    features = np.asarray(keras.Model(model.input, last.input)(x, training=False))  # eager: no tracing
    kernel, bias = last.get_weights()
    return features.reshape(len(x), -1) @ kernel + bias


def _check(keras, model, fraction: float = 0.5, expect_narrowed: bool = True):
    _randomize(model)
    x = np.random.default_rng(1).normal(size=(3,) + tuple(model.input_shape[1:])).astype(np.float32)
    narrow, plan = prune_channels(model, fraction)
    np.testing.assert_allclose(_logits(keras, narrow, x), _logits(keras, _silenced(keras, model, plan), x),
                               rtol=1e-4, atol=1e-4)
    if expect_narrowed:
        assert narrow.count_params() < 0.8 * model.count_params(), plan["summary"]
    return narrow, plan


def _registry_cases() -> list:
    from studio.core.models import REGISTRY

    small = {"image": (24, 24, 3), "sensor": (48, 3)}
    # MobileNetV2 (its smallest input, 32 px) is ~150 layers: cloned and rebuilt it takes most of a minute
    return [pytest.param(spec.id, (32, 32, 3), marks=pytest.mark.slow) if spec.id == "mobilenetv2"
            else (spec.id, small[spec.task]) for spec in REGISTRY.values()]


@pytest.mark.parametrize("arch,shape", _registry_cases())
def test_every_registry_architecture_narrows_consistently(keras, arch, shape) -> None:
    """Every architecture in the registry, including ones added after this test was written."""
    from studio.core.models import build_model

    model = build_model(arch, shape, 3)
    g = analyze(model)
    trainable_producers = [r for r in g.producers() if model.layers[r.index].trainable]
    narrow, plan = _check(keras, model, 0.3 if arch == "mobilenetv2" else 0.5,
                          expect_narrowed=len(trainable_producers) > 2)
    # the classifier keeps one output per class; the input keeps its channels
    assert narrow.output_shape == model.output_shape and narrow.input_shape == model.input_shape
    if len(trainable_producers) > 2:
        assert plan["summary"]["narrowed_layers"] >= 2, plan["summary"]


def test_residual_concat_flatten_and_gating_graphs(keras) -> None:
    L = keras.layers
    inp = keras.Input((12, 12, 3))
    a = L.ReLU()(L.BatchNormalization()(L.Conv2D(8, 3, padding="same")(inp)))
    b = L.BatchNormalization()(L.SeparableConv2D(8, 3, padding="same")(a))
    c = L.ReLU()(L.Add()([a, b]))  # residual: both sides must keep the same channels
    c = L.DepthwiseConv2D(3, padding="same")(c)
    cat = L.BatchNormalization()(L.Concatenate()([L.Conv2D(6, 1)(c), L.Conv2D(10, 1)(c)]))
    gate = L.Dense(16, activation="sigmoid")(L.Dense(4, activation="relu")(L.GlobalAveragePooling2D()(cat)))
    cat = L.Multiply()([cat, L.Reshape((1, 1, 16))(gate)])  # squeeze-excite gating
    flat = L.Flatten()(L.MaxPooling2D(4)(cat))  # Dense rows follow the kept channels at every position
    out = L.Dense(3)(L.Dense(12, activation="relu")(flat))
    _, plan = _check(keras, keras.Model(inp, out))
    assert plan["summary"]["whole_reasons"] == ["model output"]


def test_inception_shortcut_is_split_to_line_up_with_the_concat(keras) -> None:
    L = keras.layers
    inp = keras.Input((24, 2))
    branches = [L.Conv1D(4, k, padding="same", use_bias=False)(inp) for k in (3, 5)]
    branches.append(L.Conv1D(4, 1, use_bias=False)(L.MaxPooling1D(3, 1, padding="same")(inp)))
    cat = L.BatchNormalization()(L.Concatenate()(branches))
    shortcut = L.BatchNormalization()(L.Conv1D(12, 1, use_bias=False)(inp))
    y = L.GlobalAveragePooling1D()(L.ReLU()(L.Add()([cat, shortcut])))
    model = keras.Model(inp, L.Dense(3)(y))
    _, plan = _check(keras, model)
    assert sorted((e["from"], e["to"]) for e in plan["layers"]) == [(4, 2), (4, 2), (4, 2), (12, 6)]
    # the shortcut keeps 2 of each branch's 4 channels, at the matching offsets
    shortcut_kept = [e for e in plan["layers"] if e["from"] == 12][0]["kept"]
    assert [k // 4 for k in shortcut_kept] == [0, 0, 1, 1, 2, 2]


def test_layers_that_mix_channels_are_left_whole_and_stay_correct(keras) -> None:
    L = keras.layers
    inp = keras.Input((10, 4))
    a = L.Conv1D(8, 3, padding="same")(inp)
    n = L.LayerNormalization()(a)  # normalizes across channels: removing one changes the others
    b = L.Conv1D(8, 3, padding="same", activation="relu")(n)
    out = L.Dense(2)(L.GlobalAveragePooling1D()(b))
    _, plan = _check(keras, keras.Model(inp, out), expect_narrowed=False)
    names = {e["name"] for e in plan["layers"]}
    assert a._keras_history.layer.name not in names and b._keras_history.layer.name in names


def test_plan_is_json_and_rebuilds_the_narrow_model_from_the_registry(keras) -> None:
    from studio.core.models import build_model

    trained = build_model("compact_cnn", (16, 16, 1), 4, width=0.5)
    _randomize(trained, seed=3)
    narrow, plan = prune_channels(trained, 0.5, rank="bn")
    stored = json.loads(json.dumps(plan))
    keras.backend.clear_session()  # a new session: auto-generated names would differ, positions do not
    rebuilt = apply_plan(build_model("compact_cnn", (16, 16, 1), 4, width=0.5), stored)
    fresh = build_model("compact_cnn", (16, 16, 1), 4, width=0.5)
    fresh.set_weights(trained.get_weights())
    copy_surviving_weights(fresh, rebuilt, stored)
    x = np.random.default_rng(0).normal(size=(2, 16, 16, 1)).astype(np.float32)
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0), narrow.predict(x, verbose=0), atol=1e-6)
    assert [w.shape for w in rebuilt.weights] == [w.shape for w in narrow.weights]
    with pytest.raises(ConfigError, match="does not fit"):
        apply_plan(build_model("cnn1d", (32, 3), 4), stored)
    assert make_plan(trained, 0.0)["layers"] == []


@pytest.mark.parametrize("damage", [
    lambda e: e.update(to=10**9),  # wider than the layer: would allocate without limit
    lambda e: e.update(to=0),
    lambda e: e.update(to="12"),
    lambda e: e.update(index=-1),
    lambda e: e.update(key="kernel_size"),
    lambda e: e.pop("class"),
])
def test_a_damaged_plan_from_variant_json_is_refused(keras, damage) -> None:
    """A variant.json from elsewhere may only narrow the producer layers the model has (issue 11)."""
    from studio.core.models import build_model

    model = build_model("compact_cnn", (16, 16, 1), 4, width=0.5)
    plan = json.loads(json.dumps(make_plan(model, 0.5)))
    damage(plan["layers"][0])
    with pytest.raises(ConfigError, match="does not fit"):
        apply_plan(model, plan)
    for bad in ("x", {"format": 1, "layers": "x"}, {"format": "1"}):
        with pytest.raises(ConfigError):
            apply_plan(model, bad)
