"""Channel pruning fine-tunes the last cut twice from the same weights and keeps the try that scores better on
validation (config.CHANNEL_FINETUNE_TRIES): both tries start from the cut, the better one is the model converted
and shipped, the notes say so, one try is the recipe before, and a stop in the second try keeps nothing."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.errors import Cancelled, ConfigError
from studio.core.optimize import OptimizeConfig
from studio.core.reporter import NullReporter, RecordingReporter


def test_two_tries_by_default_for_channel_pruning_only() -> None:
    assert OptimizeConfig(prune=0.5).tries == 2 and OptimizeConfig(prune=0.5).default_name() == "c50-int8"
    assert OptimizeConfig(prune=0.5, finetune_tries=1).tries == 1
    assert OptimizeConfig(prune=0.5, prune_kind="weights").tries == 1 and OptimizeConfig().tries == 1
    assert OptimizeConfig(prune=0.5).to_json()["finetune_tries_used"] == 2
    for bad in (0, 6):
        with pytest.raises(ConfigError):
            OptimizeConfig(prune=0.5, finetune_tries=bad).validated()


@pytest.fixture(scope="module")
def tiny():
    """A 2-class image set a compact CNN separates in a few epochs (bright vs dark) and a model trained on it."""
    from studio.core.models import build_model
    from studio.core.optimize.config import Arrays
    from studio.core.optimize.student import TrainingData
    from studio.core.pipeline import InputSpec, SplitData
    from studio.core.tfenv import load_tf
    from studio.core.train_config import TrainConfig

    _, keras = load_tf()
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(0)

    def images(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n) % 2
        return (rng.uniform(0, 80, (n, 16, 16, 3)) + 120 * y[:, None, None, None]).astype(np.uint8), y

    spec = InputSpec(kind="image", size=16, channels=3, source_channels=3)
    (x, y), (xv, yv) = images(48), images(16)
    data = TrainingData(spec, SplitData(x, y, []), SplitData(xv, yv, []),
                        TrainConfig(arch="compact_cnn", batch_size=8, augment=False))
    arrays = Arrays(["dark", "bright"], spec.preprocess(x), y, spec.preprocess(xv), yv, training=data)
    model = build_model("compact_cnn", spec.shape, 2, width=0.5)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    model.fit(arrays.x_train, y, epochs=4, batch_size=8, verbose=0)
    return model, arrays


def _spy_fits(monkeypatch: pytest.MonkeyPatch, spoil_seed: int | None = None) -> list[dict]:
    """Records each fit_student call (its start weights and seed); the try with ``spoil_seed`` ends with all
    weights zero (a model that answers one class: val accuracy 0.5)."""
    import studio.core.optimize.student as student

    real = student.fit_student
    calls: list[dict] = []

    def fit(model, *a, **k):
        calls.append({"start": [w.copy() for w in model.get_weights()], "seed": k.get("seed"),
                      "average": k.get("average_epochs")})
        out = real(model, *a, **k)
        if spoil_seed is not None and k.get("seed") == spoil_seed and k.get("average_epochs"):
            model.set_weights([np.zeros_like(w) for w in model.get_weights()])
        calls[-1]["end"] = [w.copy() for w in model.get_weights()]
        return out

    monkeypatch.setattr(student, "fit_student", fit)
    return calls


def _config(**kw) -> OptimizeConfig:
    return OptimizeConfig(prune=0.5, finetune_epochs=2, average_epochs=1, representative_samples=16, **kw)


@pytest.mark.slow
@pytest.mark.parametrize("spoiled", [0, 1], ids=["first-try-worse", "second-try-worse"])
def test_both_tries_start_from_the_cut_and_the_better_one_is_converted(tiny, monkeypatch, spoiled) -> None:
    from studio.core.measure import run_litert
    from studio.core.optimize import build_variant

    model, arrays = tiny
    calls = _spy_fits(monkeypatch, spoil_seed=1234 + spoiled)
    rep = RecordingReporter()
    built = build_variant(model, arrays, _config(), rep, 1e-2, progress=(0.05, 0.6))
    # the first cut once, then the last cut twice: from identical weights, with the variant's seed and the next
    assert [c["seed"] for c in calls] == [1234, 1234, 1235] and [c["average"] for c in calls] == [0, 1, 1]
    for a, b in zip(calls[1]["start"], calls[2]["start"]):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(calls[1]["end"], calls[2]["end"]))
    kept = calls[2 - spoiled]  # the try that was not spoiled
    for a, b in zip(built.keras_model.get_weights(), kept["end"]):
        np.testing.assert_array_equal(a, b)
    h = built.history
    assert h["Channel-pruning fine-tune:kept_try"] == [2.0 - spoiled]
    accs = h["Channel-pruning fine-tune:try_val_accuracy"]
    assert accs[spoiled] == 0.5 and accs[1 - spoiled] > 0.5
    # the file shipped is the kept try's, judged through LiteRT on validation
    lite = float(np.mean(run_litert(built.model_bytes, arrays.x_val).probs.argmax(1) == arrays.y_val))
    assert lite == pytest.approx(accs[1 - spoiled])
    note = next(n for n in built.notes if n.startswith("fine-tuned twice from the same cut"))
    assert note.endswith(f"{100 * accs[1 - spoiled]:.1f} % vs 50.0 %") and "better validation accuracy" in note
    assert sum("int8 calibrated on" in n for n in built.notes) == 1
    # progress only moves forward, across both tries, and ends at the span's end
    fractions = [v[0] for kind, v in rep.events if kind == "progress"]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(0.6)
    statuses = [v for kind, v in rep.events if kind == "status"]
    assert any("(try 1 of 2 from the same cut)" in s for s in statuses)
    assert any("(try 2 of 2 from the same cut)" in s for s in statuses)


@pytest.mark.slow
def test_one_try_is_the_recipe_before(tiny, monkeypatch) -> None:
    """tries=1: each cut fine-tuned once with the variant's seed, nothing judged, converted once at the end; and
    its model is the first try of two (same seed, same start)."""
    import studio.core.optimize.build as build

    model, arrays = tiny
    calls = _spy_fits(monkeypatch)
    judged: list[int] = []
    real_judge = build._judge
    monkeypatch.setattr(build, "_judge", lambda *a, **k: judged.append(1) or real_judge(*a, **k))
    rep = RecordingReporter()
    one = build.build_variant(model, arrays, _config(finetune_tries=1), rep, 1e-2, progress=(0.05, 0.6))
    assert [c["seed"] for c in calls] == [1234, 1234] and not judged
    assert not any("from the same cut" in n for n in one.notes)
    assert not any(k.endswith(("kept_try", "try_val_accuracy")) for k in one.history)
    fractions = [v[0] for kind, v in rep.events if kind == "progress"]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(0.6)
    first_of_one = [w.copy() for w in one.keras_model.get_weights()]
    calls.clear()
    build.build_variant(model, arrays, _config(), NullReporter(), 1e-2)
    assert len(judged) == 2
    for a, b in zip(first_of_one, calls[1]["end"]):  # the first of two tries is the one-try model
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


class _StopInSecondTry(NullReporter):
    """Asks to stop once the second try has trained a few batches (as the GUI's Stop button does)."""

    def __init__(self) -> None:
        super().__init__()
        self.second = False
        self.batches = 0

    def status(self, message: str) -> None:
        self.second = self.second or "try 2 of 2" in message

    def progress(self, fraction: float, message: str = "") -> None:
        if self.second:
            self.batches += 1
            if self.batches == 2:
                self.cancel()


@pytest.mark.slow
def test_a_stop_in_the_second_try_raises_and_stores_nothing(tmp_path) -> None:
    from studio.core.data import import_data
    from studio.core.data.synth import make_image_folder
    from studio.core.optimize import optimize
    from studio.core.project import Project
    from studio.core.train import default_config, train

    src = make_image_folder(tmp_path / "images", {"disc": 16, "ring": 16}, size=(20, 16), seed=2)
    project = Project.create(tmp_path / "project", "image")
    import_data(project, src, val_split=0.25, test_split=0.2, seed=1)
    train(project, default_config(project, arch="compact_cnn", input_size=16, width=0.5, epochs=2), NullReporter())
    before = sorted(p.name for p in project.variants_dir.iterdir()) if project.variants_dir.exists() else []
    rep = _StopInSecondTry()
    with pytest.raises(Cancelled):
        optimize(project, OptimizeConfig(prune=0.5, finetune_epochs=3, average_epochs=1), rep)
    assert rep.second and rep.batches >= 2
    after = sorted(p.name for p in project.variants_dir.iterdir()) if project.variants_dir.exists() else []
    assert after == before and Project.open(project.path).data.get("active_variant") is None


def test_cli_tries_reaches_the_config(monkeypatch) -> None:
    import studio.core.optimize as opt
    from studio import cli
    from studio.core.project import Project

    seen: list[OptimizeConfig] = []

    class Info:
        def to_json(self) -> dict:
            return {}

    monkeypatch.setattr(Project, "open", classmethod(lambda cls, path: None))
    monkeypatch.setattr(opt, "optimize", lambda project, config, rep: seen.append(config) or Info())
    for extra, tries in (([], 2), (["--tries", "1"], 1)):
        args = cli.build_parser().parse_args(["optimize", "P", "--prune", "0.5", *extra])
        cli.cmd_optimize(args, None)
        assert seen[-1].tries == tries


@pytest.mark.slow
def test_channel_pruning_then_qat_moves_progress_forward_only(tiny) -> None:
    """Channels + QAT: the channel fine-tunes, then QAT, then the conversion, each in its own part of the span
    (QAT's bar started again at the span's start before)."""
    from studio.core.optimize import build_variant

    model, arrays = tiny
    rep = RecordingReporter()
    built = build_variant(model, arrays, _config(qat=True), rep, 1e-2, progress=(0.05, 0.6))
    assert any("Quantization-aware training" in k for k in built.history)
    fractions = [v[0] for kind, v in rep.events if kind == "progress"]
    assert fractions == sorted(fractions), fractions
    assert fractions[-1] == pytest.approx(0.6)
    qat_start = next(i for i, (kind, v) in enumerate(rep.events)
                     if kind == "status" and v.startswith("Quantization-aware training"))
    later = [v[0] for kind, v in rep.events[qat_start:] if kind == "progress"]
    assert later and min(later) >= 0.05 + 0.55 * 0.48 - 1e-9  # QAT runs after the channel fine-tunes' part
