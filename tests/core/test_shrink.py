"""Channel pruning, distillation and the fit-my-device search on a tiny trained project, plus their plain-Python
parts (names, sizes, Pareto fronts, budgets) without TensorFlow."""

from __future__ import annotations

import json

import numpy as np
import pytest

from studio.core.errors import ConfigError
from studio.core.optimize import OptimizeConfig
from studio.core.optimize.search_space import (
    Candidate,
    SearchConfig,
    image_sides,
    pareto_front,
    pareto_keep,
    thin_out,
)
from studio.core.reporter import NullReporter, RecordingReporter


# ---------------------------------------------------------------------------------------------- plain Python
def test_names_epochs_and_distillation_defaults() -> None:
    c50 = OptimizeConfig(prune=0.5, prune_kind="channels")
    assert c50.default_name() == "c50-int8" and not c50.distills and c50.epochs == 40
    assert OptimizeConfig(prune=0.5, prune_kind="channels", distill=True).default_name() == "c50-kd-int8"
    w50 = OptimizeConfig(prune=0.5, prune_kind="weights")
    assert w50.default_name() == "p50-int8" and not w50.distills and w50.epochs == 4
    assert OptimizeConfig(prune=0.5, prune_kind="weights", distill=True).default_name() == "p50-kd-int8"
    for bad in (dict(prune_kind="filters"), dict(channel_rank="random"), dict(distill=True),
                dict(prune=0.5, distill_alpha=1.5), dict(prune=0.5, distill_temperature=0.5)):
        with pytest.raises(ConfigError):
            OptimizeConfig(**bad).validated()


def test_channel_pruning_retrains_at_the_runs_learning_rate() -> None:
    """Learning-rate rewinding: channel pruning fine-tunes at the run's own rate, magnitude pruning at half."""
    from studio.core.optimize.build import finetune_learning_rate

    assert finetune_learning_rate(OptimizeConfig(prune=0.5, prune_kind="channels"), 2e-3) == pytest.approx(2e-3)
    assert finetune_learning_rate(OptimizeConfig(prune=0.5, prune_kind="weights"), 2e-3) == pytest.approx(1e-3)
    assert finetune_learning_rate(OptimizeConfig(qat=True), 2e-3) == pytest.approx(1e-3)
    assert finetune_learning_rate(OptimizeConfig(prune=0.5, learning_rate=3e-4), 2e-3) == pytest.approx(3e-4)
    assert finetune_learning_rate(OptimizeConfig(prune=0.5), None) == pytest.approx(1e-3)


def test_channel_pruning_averages_thirty_epochs_unless_the_fine_tune_is_shorter() -> None:
    """The averaged tail after the last cut: 30 epochs by default (15 before: on 14 paired runs its worst case was
    -1.39 points against -0.83), never longer than the fine-tune, or the user's own count."""
    from studio.core.optimize.build import averaged_epochs

    assert averaged_epochs(OptimizeConfig(prune=0.5, prune_kind="channels"), 150) == 30
    assert averaged_epochs(OptimizeConfig(prune=0.5, prune_kind="channels"), 12) == 12
    assert averaged_epochs(OptimizeConfig(prune=0.5, prune_kind="channels", average_epochs=5), 150) == 5


def test_flash_bytes_and_comparison_with_the_unpruned_int8_model() -> None:
    from studio.core.measure import flash_bytes
    from studio.core.optimize.store import compare_with_reference

    assert flash_bytes(1000) == 1022  # 15 bytes of alignment, 3 of padding, the 4-byte length
    ref = {"bytes": 100_000, "flash_bytes": 100_022, "gzip_bytes": 80_000, "arena_bytes": 40_000, "macs": 4_000_000,
           "latency_median_ms": 0.4, "accuracy": 0.9, "test_accuracy": 0.88}
    v = {"bytes": 50_000, "flash_bytes": 50_022, "gzip_bytes": 30_000, "arena": {"min_bytes": 20_000},
         "macs": 1_000_000, "latency_median_ms": 0.2, "accuracy": 0.89, "test_accuracy": 0.9, "reference": ref}
    vs = compare_with_reference(v)
    assert vs["bytes"] == 0.5 and vs["arena_bytes"] == 0.5 and vs["macs"] == 0.25
    assert vs["accuracy_points"] == -1.0 and vs["test_accuracy_points"] == 2.0
    assert vs["recording_accuracy_points"] is None  # images: no recordings
    ref["recording_accuracy"], v["recording_accuracy"] = 0.875, 0.8125
    assert compare_with_reference(v)["recording_accuracy_points"] == -6.25
    assert compare_with_reference({"bytes": 1}) is None


def test_pareto_front_and_two_objective_halving() -> None:
    pts = [{"id": 0, "bytes": 100, "accuracy": 0.9}, {"id": 1, "bytes": 50, "accuracy": 0.85},
           {"id": 2, "bytes": 60, "accuracy": 0.80}, {"id": 3, "bytes": 200, "accuracy": 0.9},
           {"id": 4, "bytes": 30, "accuracy": None}]
    assert [p["id"] for p in pareto_front(pts)] == [1, 0]
    cands = [Candidate("a", w, 16, est_bytes=b, est_macs=b) for w, b in ((0.5, 10), (1.0, 20), (1.5, 30), (2.0, 40))]
    for c, loss in zip(cands, (0.9, 0.5, 0.6, 0.2)):
        c.val_loss = loss
    kept, dropped = pareto_keep(cands, 2)
    # the smallest survives although three others are more accurate: it is not dominated
    assert {c.width for c in kept} == {0.5, 2.0} and len(dropped) == 2
    assert image_sides(96) == [96, 64, 48, 32] and image_sides(16) == [16]
    assert [c.est_bytes for c in thin_out(cands, 3)] == [10, 30, 40]
    with pytest.raises(ConfigError):
        SearchConfig(target="nowhere").validated()
    with pytest.raises(ConfigError):
        SearchConfig(target="cortex-m4", quantize=("int4",)).validated()


# ---------------------------------------------------------------------------------------------- a trained project
def test_gradual_cuts_compose_into_one_plan_and_the_fit_fraction() -> None:
    from studio.core.optimize.rebuild import channel_steps, compose_plans
    from studio.core.optimize.search_space import fit_fraction

    assert channel_steps(0.5, 0.25) == [0.25, 0.5] and channel_steps(0.75, 0.25) == [0.25, 0.5, 0.75]
    assert channel_steps(0.2, 0.25) == [0.2] and channel_steps(0.9, 0.25) == [0.225, 0.45, 0.675, 0.9]
    first = {"rank": "l1", "layers": [{"index": 1, "name": "a", "class": "Conv2D", "key": "filters", "from": 8,
                                       "to": 6, "kept": [0, 2, 3, 5, 6, 7]}]}
    second = {"rank": "l1", "layers": [
        {"index": 1, "name": "a", "class": "Conv2D", "key": "filters", "from": 6, "to": 4, "kept": [1, 2, 4, 5]},
        {"index": 3, "name": "b", "class": "Dense", "key": "units", "from": 10, "to": 5, "kept": [0, 1, 2, 3, 4]}]}
    plan = compose_plans(first, second, 0.5)
    assert plan["fraction"] == 0.5 and [e["index"] for e in plan["layers"]] == [1, 3]
    assert plan["layers"][0] == {**first["layers"][0], "to": 4, "kept": [2, 3, 6, 7]}  # original filter indices
    assert plan["layers"][1]["from"] == 10 and plan["layers"][1]["kept"] == [0, 1, 2, 3, 4]
    sizes = {round(0.05 * i, 4): 100_000 * (1 - 0.05 * i) for i in range(1, 19)}  # falls with the fraction
    assert fit_fraction(sizes.get, 50_000) == 0.55  # 45,000 <= 0.92 * 50,000 = 46,000
    assert fit_fraction(sizes.get, 5_000) is None


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    from studio.core.data import import_data
    from studio.core.data.synth import make_image_folder
    from studio.core.project import Project
    from studio.core.train import default_config, train

    root = tmp_path_factory.mktemp("shrink")
    src = make_image_folder(root / "images", {"disc": 16, "ring": 16, "bar": 16}, size=(20, 16), seed=2)
    project = Project.create(root / "project", "image")
    import_data(project, src, val_split=0.25, test_split=0.2, seed=1)
    train(project, default_config(project, arch="compact_cnn", input_size=16, width=1.0, epochs=6), NullReporter())
    return project


@pytest.mark.slow
def test_channel_pruned_variant_is_smaller_everywhere_and_rebuilds_from_json(trained) -> None:
    from studio.core.optimize import list_variants, load_variant_model, optimize
    from studio.core.measure import run_litert

    project = trained
    info = optimize(project, OptimizeConfig(prune=0.5, prune_kind="channels", finetune_epochs=1, distill=True),
                    NullReporter())
    v = info.to_json()
    ref = v["reference"]
    assert v["prune_kind"] == "channels" and v["distill"]["alpha"] > 0
    assert any("2 cut(s) (25%, 50%)" in n for n in v["notes"])  # gradually: the plan composes both cuts
    assert any(n.endswith("lr 0.002") for n in v["notes"])  # the run's learning rate (compact CNN: 2e-3)
    # by default the last fine-tune ends with weight averaging, no longer than the fine-tune asked for (1 epoch)
    assert any("then 1 more epoch(s) at half that learning rate, their weights averaged" in n for n in v["notes"])
    # a genuinely narrower model: file, flash, arena, MACs all below the unpruned int8 model of the same run
    assert v["bytes"] < 0.6 * ref["bytes"] and v["flash_bytes"] == v["bytes"] + 22
    assert v["arena"]["min_bytes"] < ref["arena_bytes"] and v["macs"] < 0.5 * ref["macs"]
    assert v["params"] < 0.4 * v["trained_params"]
    row = {r["name"]: r for r in list_variants(project)}[info.name]
    assert row["vs_int8"]["bytes"] < 0.6 and row["vs_int8"]["arena_bytes"] < 1.0 and row["reference"]
    # JSON + weights rebuild the Keras model that was converted: it agrees with the .tflite
    stored = json.loads((info.path / "variant.json").read_text())
    assert stored["channel_plan"]["layers"] and stored["weights"] == "weights.h5"
    model = load_variant_model(project, info.name)
    from studio.core.pipeline import InputSpec, load_split_arrays

    x, _, _ = load_split_arrays(project, "val", InputSpec.from_json(stored["input_spec"]))
    keras_pred = model.predict(x, verbose=0).argmax(1)
    lite_pred = run_litert((info.path / "model.tflite").read_bytes(), x).probs.argmax(1)
    assert np.mean(keras_pred == lite_pred) >= 0.9
    assert model.count_params() == v["params"]


@pytest.mark.slow
def test_distiller_trains_only_the_student(trained) -> None:
    from studio.core.models import build_model
    from studio.core.optimize.distill import DistillConfig, make_distiller
    from studio.core.runs import load_run_model
    from studio.core.tfenv import load_tf

    _, keras = load_tf()
    teacher, info = load_run_model(trained)
    before = [w.copy() for w in teacher.get_weights()]
    student = build_model("compact_cnn", info.spec.shape, 3, width=0.5)
    d = make_distiller(student, teacher, DistillConfig(alpha=0.2, temperature=3.0))
    d.compile(optimizer=keras.optimizers.Adam(1e-2), loss=keras.losses.SparseCategoricalCrossentropy(),
              metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32,) + tuple(info.spec.shape)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    h = d.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert h.history["distill_loss"][-1] < h.history["distill_loss"][0]
    assert len(d.get_weights()) == len(student.get_weights())
    for a, b in zip(before, teacher.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ConfigError):
        DistillConfig(alpha=2.0).validated()
    # 'studio train --teacher RUN': a smaller width learns from the run; a missing teacher leaves no run behind
    from studio.core.errors import ProjectError
    from studio.core.train import default_config, train

    runs = trained.list_runs()
    result = train(trained, default_config(trained, arch="compact_cnn", input_size=16, width=0.5, epochs=1,
                                           teacher=info.run_id), NullReporter())
    assert result.epochs and len(trained.list_runs()) == len(runs) + 1
    assert json.loads((result.path / "config.json").read_text())["config"]["teacher"] == info.run_id
    with pytest.raises(ProjectError):
        train(trained, default_config(trained, arch="compact_cnn", input_size=16, epochs=1, teacher="run-nope"),
              NullReporter())
    assert len(trained.list_runs()) == len(runs) + 1


@pytest.mark.slow
def test_search_measures_points_keeps_the_frontier_and_stops_on_cancel(trained) -> None:
    from studio.core.optimize import list_variants
    from studio.core.optimize.search import search

    project = trained
    project.update(active_run=project.list_runs()[0])  # the width-1.0 run (another test may have trained more)
    rep = RecordingReporter()
    # a budget far above what this tiny space needs (about 1-2 min on 2 idle CPUs): at 10 min, on a machine
    # loaded 8-fold, the run's channel-pruning share of the budget ran out before its fitting point was built
    cfg = SearchConfig(target="cortex-m4", budget_min=30, archs=("compact_cnn",), widths=(0.5,),
                       input_sizes=(16,), channel_fractions=(0.5,), epochs=1, max_bytes=60_000)
    out = search(project, cfg, rep).to_json()
    # a small space ends before its budget (the budget is a limit, not a target: see the timing fields)
    assert out["timing"]["total_s"] < 1800 and out["timing"]["measuring_s"] > 0 and not out["stopped"]
    # the run (~100 KB) is larger than asked; the widest channel-pruned run that fits the 60 KB is found from the
    # estimated sizes and does fit, measured
    assert not out["baseline"]["fits"] and "asked for" in out["baseline"]["fit_reason"]
    fit = [p for p in out["points"] if p["kind"] == "channels" and p["settings"]["channels"] < 0.5]
    assert len(fit) == 1 and fit[0]["bytes"] <= 60_000 and fit[0]["fits"] and fit[0]["settings"]["source"] == "run"
    assert {p["settings"]["channels"] for p in out["points"]} == {0.0, 0.5, fit[0]["settings"]["channels"]}
    kinds = {p["kind"] for p in out["points"]}
    assert {"run", "searched"} <= kinds and out["baseline"]["bytes"] > 0
    for p in out["points"]:
        assert p["bytes"] > 0 and p["arena_bytes"] > 0 and p["accuracy"] is not None and p["macs"] > 0
    assert out["frontier"] and all(p["name"] and p["on_frontier"] for p in out["frontier"])
    assert all(set(p) >= {"name", "bytes", "arena_bytes", "accuracy", "fits", "settings"} for p in out["frontier"])
    listed = {r["name"] for r in list_variants(project)}
    assert {p["name"] for p in out["frontier"]} <= listed
    live = [v for k, v in rep.events if k == "search_point"]
    assert len(live) == len(out["points"]) and any(k == "search_frontier" for k, _ in rep.events)
    assert json.loads((project.path / "search" / "search.json").read_text())["format"] == 1

    class StopAfterFirstPoint(RecordingReporter):
        def cancel_requested(self) -> bool:
            return any(k == "search_point" for k, _ in self.events)

    stopped = search(project, SearchConfig(**{**cfg.to_json(), "keep": False}), StopAfterFirstPoint()).to_json()
    assert stopped["stopped"] and stopped["stop_reason"] == "cancelled"
    assert len(stopped["points"]) == 1 and stopped["frontier"][0]["id"] == 0 and stopped["frontier"][0]["name"] is None
    # one click later: the point becomes a variant, rebuildable from its JSON and weights
    from studio.core.optimize import load_variant_model
    from studio.core.optimize.search import keep_point

    name = keep_point(project, 0, name="kept-run")
    assert name in {r["name"] for r in list_variants(project)}
    assert load_variant_model(project, name).count_params() == stopped["frontier"][0]["params"]


def test_weight_averaged_tail_keeps_the_mean_of_its_epochs_with_fresh_batchnorm_statistics() -> None:
    """fit_student(average_epochs=N): after the best epoch, N more epochs whose end-of-epoch weights are averaged
    (stochastic weight averaging), batch-norm statistics recomputed for the mean; a stop keeps the best epoch."""
    from studio.core.models import build_model
    from studio.core.optimize.student import TrainingData, fit_student
    from studio.core.pipeline import InputSpec, SplitData
    from studio.core.tfenv import load_tf
    from studio.core.train_config import TrainConfig

    _, keras = load_tf()
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(0)
    y = np.arange(24) % 2
    x = (rng.uniform(0, 80, (24, 16, 16, 3)) + 120 * y[:, None, None, None]).astype(np.uint8)
    spec = InputSpec(kind="image", size=16, channels=3, source_channels=3)
    data = TrainingData(spec, SplitData(x, y, []), SplitData(x[:8], y[:8], []),
                        TrainConfig(arch="compact_cnn", batch_size=8, augment=False))
    model = build_model("compact_cnn", spec.shape, 2, width=0.5)
    seen: list[list[np.ndarray]] = []

    class Spy(keras.callbacks.Callback):  # the weights at the end of each averaged epoch, in fit order
        def on_epoch_end(self, epoch, logs=None):
            seen.append(model.get_weights())

    import studio.core.optimize.student as student

    real_fit = keras.Model.fit
    calls = []

    def fit(self, *a, callbacks=None, **k):
        calls.append(1)
        return real_fit(self, *a, callbacks=(callbacks or []) + ([Spy()] if len(calls) == 2 else []), **k)

    keras.Model.fit = fit
    try:
        out = fit_student(model, data, 1, 1e-2, NullReporter(), 2, batch_size=8, average_epochs=2)
    finally:
        keras.Model.fit = real_fit
    assert out["averaged"] == 2 and len(seen) == 2 and student.AVERAGE_LR_FACTOR < 1
    bn = {id(v) for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)
          for v in (layer.moving_mean, layer.moving_variance)}
    for i, w in enumerate(model.weights):
        if id(w) not in bn:  # trained weights: the mean of the two epochs
            np.testing.assert_allclose(w.numpy(), np.mean([s[i] for s in seen], axis=0), rtol=1e-5, atol=1e-6)
    stats = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    first = stats[0]
    conv = model.get_layer(index=[l.name for l in model.layers].index(first.name) - 1)  # the conv it normalizes
    h = conv(spec.preprocess(x)).numpy()  # the statistics of the averaged weights on the training inputs
    np.testing.assert_allclose(first.moving_mean.numpy(), h.mean(axis=(0, 1, 2)), rtol=1e-3, atol=1e-3)
