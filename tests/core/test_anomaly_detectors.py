"""The three detectors on tiny data: they separate defects from good examples, locate them, choose themselves
from the images, and keep their ranking through full-int8 conversion (LiteRT) and TFLite-Micro."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from studio.core.anomaly import detector as D
from studio.core.anomaly.fitting import FITTERS, predict
from studio.core.anomaly.metrics import auroc
from studio.core.data.synth import anomaly_texture


def _textures(n: int, defect: str | None, seed: int, size: int = 32) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([anomaly_texture((size, size), rng, defect) for _ in range(n)]).astype(np.float32) / 127.5 - 1


def _windows(n: int, fault: bool, seed: int, t: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    time = np.arange(t) / 50.0
    x = np.stack([np.stack([np.sin(2 * np.pi * 3 * time + rng.uniform(0, 6)) for _ in range(2)], -1)
                  for _ in range(n)])
    x += rng.normal(0, 0.1, x.shape)
    if fault:
        x[:, 20:40] += 0.8 * np.sin(2 * np.pi * 17 * time[20:40])[None, :, None]
    return x.astype(np.float32)


@pytest.mark.slow
def test_patch_detector_finds_and_locates_holes() -> None:
    good = _textures(24, None, 0)
    spec = D.patch_spec(32, 3)
    model, info = FITTERS["patch"](good, spec)
    assert info["scales"][0]["dim"] == 5 * 5 * 3
    test_good, holes = _textures(8, None, 1), _textures(8, "hole", 2)
    s_good, m_good = predict(model, test_good)
    s_bad, m_bad = predict(model, holes)
    assert auroc(np.r_[s_good.ravel(), s_bad.ravel()], np.r_[np.zeros(8), np.ones(8)]) >= 0.95
    assert m_bad.shape[1:3] == (spec.params["grid"], spec.params["grid"])
    # the map is the score's source: its peak is the score
    np.testing.assert_allclose(m_bad.reshape(8, -1).max(axis=1), s_bad.ravel(), rtol=1e-5)
    # full int8 keeps the ranking: the clipped coordinates and the saturated energy fix the int8 ranges
    # (unclipped, the calibration's strong perturbations put every normal patch in one int8 step)
    from studio.core.anomaly.litert import run_detector
    from studio.core.anomaly.synthetic import representative_set
    from studio.core.convert import convert_model

    data = convert_model(D.export_copy(model, spec), "int8", representative_set(good, "image"), io_dtype="int8")
    y = np.r_[np.zeros(8), np.ones(8)]
    float_auroc = auroc(np.r_[s_good.ravel(), s_bad.ravel()], y)
    lite = run_detector(data, np.concatenate([test_good, holes])).scores
    assert len(set(np.round(lite, 4))) > 4 and auroc(lite, y) >= float_auroc - 0.02


def test_alignment_picks_the_detector_kind() -> None:
    digits = pytest.importorskip("sklearn.datasets").load_digits()
    x = np.repeat(np.repeat(digits.images[digits.target == 0][:40], 4, 1), 4, 2)[..., None] / 8.0 - 1
    assert D.choose_image_kind(x)[0] == "global"
    assert D.choose_image_kind(_textures(20, None, 3))[0] == "patch"


def test_global_detector_separates_one_digit_from_the_others() -> None:
    digits = pytest.importorskip("sklearn.datasets").load_digits()
    imgs = np.repeat(np.repeat(digits.images, 2, 1), 2, 2)[..., None].astype(np.float32) / 8.0 - 1  # 16 px
    zero = np.flatnonzero(digits.target == 0)
    others = np.flatnonzero(digits.target != 0)[:120]
    model, info = FITTERS["global"](imgs[zero[:100]], D.global_spec(16, 1, 256))
    # 100 normal images and 8 shifted copies of each: 900 candidates, a random 256 of them kept
    assert info["bank_candidates"] == 900 and info["bank"] == 256 and info["coreset"]
    # overlapping cells: 3 px every 2 px at 16 px (7 x 7); a run fitted before (no stride) keeps side-by-side cells
    spec = D.global_spec(16, 1, 256)
    assert (spec.params["cell"], spec.params["stride"], spec.params["grid"]) == (3, 2, 7)
    assert D.global_spec(32, 1, 256).params["grid"] == 9
    old = D.DetectorSpec("global", (16, 16, 1), {"orientations": 8, "grid": 8, "cell": 2, "bank": 16, "shift": 1})
    assert D.build_detector(old).get_layer("cells").output.shape[1:] == (8, 8, 8)
    s_good = predict(model, imgs[zero[100:]])[0].ravel()
    s_bad = predict(model, imgs[others])[0].ravel()
    assert auroc(np.r_[s_good, s_bad], np.r_[np.zeros(len(s_good)), np.ones(len(s_bad))]) >= 0.95


def _zeros_and_test() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's digits at 16 px in [-1, 1]: (all images, indices of the zeros, test images: the zeros after
    the first 100, then 60 other digits)."""
    digits = pytest.importorskip("sklearn.datasets").load_digits()
    imgs = np.repeat(np.repeat(digits.images, 2, 1), 2, 2)[..., None].astype(np.float32) / 8.0 - 1
    zero = np.flatnonzero(digits.target == 0)
    return imgs, zero, imgs[np.r_[zero[100:], np.flatnonzero(digits.target != 0)[:60]]]


def test_global_detector_fixed_range_form_keeps_the_float_scores_and_old_runs_their_graph() -> None:
    """New runs saturate the cells at cell_cap (above every training cell) and score each bank row in one
    FULLY_CONNECTED + RELU6: the float scores are the former graph's; a run fitted before (no "fixed") keeps it."""
    imgs, zero, test = _zeros_and_test()
    spec = D.global_spec(16, 1, 256)
    assert spec.params["fixed"] == 1
    old = D.DetectorSpec(spec.kind, spec.input_shape, {k: v for k, v in spec.params.items() if k != "fixed"})
    fitted = {name: FITTERS["global"](imgs[zero[:100]], sp) for name, sp in (("new", spec), ("old", old))}
    new_model, info = fitted["new"]
    assert info["cell_cap"] > 0 and "cell_cap" not in fitted["old"][1]
    weights = {w.name.split("/")[-1].split(":")[0] for w in fitted["old"][0].weights}
    assert "cell_cap" not in weights  # an old run's weights.h5 still fits its graph
    assert not fitted["old"][0].get_layer("cells").fixed and new_model.get_layer("cells").fixed
    s_new, m_new = predict(new_model, test)
    s_old, m_old = predict(fitted["old"][0], test)
    np.testing.assert_allclose(s_new, s_old, atol=1e-3)  # same bank, same scores, same clamp [-4, 32]
    np.testing.assert_allclose(m_new, m_old, atol=1e-3)


def test_global_detector_scores_the_mean_of_its_four_nearest_bank_rows_and_old_runs_the_nearest() -> None:
    """New runs: an image's score is the mean of its 4 nearest bank rows' clamped scores, normalized by the
    training images' leave-one-out mean distance to their 4 nearest (other images') rows; a run fitted before
    (no "neighbours" in its spec) scores its nearest row alone."""
    from studio.core.tfenv import load_tf

    _, keras = load_tf()
    imgs, zero, test = _zeros_and_test()
    spec = D.global_spec(16, 1, 256)
    assert spec.params["neighbours"] == 4
    old = D.DetectorSpec(spec.kind, spec.input_shape, {k: v for k, v in spec.params.items() if k != "neighbours"})
    for sp, k in ((spec, 4), (old, 1)):
        model, info = FITTERS["global"](imgs[zero[:100]], sp)
        assert info["neighbours"] == k
        near = model.get_layer("nearest")
        consts = {w.name.split("/")[-1].split(":")[0]: np.asarray(w) for w in near.weights}
        cells = predict(keras.Model(model.input, model.get_layer("cells").output), test).reshape(len(test), -1)
        v = cells / np.linalg.norm(cells, axis=1, keepdims=True)
        centre, inv = consts["norm"]
        z = np.clip((2.0 - 2.0 * v @ consts["bank"].T - centre) * inv, D.MAP_FLOOR, D.IMAGE_CAP)
        expected = np.sort(z, axis=1)[:, :k].mean(axis=1)
        np.testing.assert_allclose(predict(model, test)[0].ravel(), expected, atol=2e-3)


@pytest.mark.slow
def test_global_detector_int8_keeps_its_scores_stores_its_bank_once_and_runs_in_tflite_micro() -> None:
    """The inspection sample's parts (good = ok): the former int8 graph scored 0.51-0.57 AUROC against float
    0.64 (correlation 0.67-0.80: the averaged cells took a few int8 values, their L2 normalization came out up
    to 4 % long) and held the bank twice; GATHER read int64 positions, which TFLite-Micro refuses."""
    from studio.core.anomaly.litert import output_roles, run_detector, share_bank
    from studio.core.anomaly.synthetic import representative_set
    from studio.core.convert import convert_model
    from studio.core.data.image import load_image
    from studio.core.measure import litert_interpreter, quantize_input
    from studio.core.micro import find_arena
    from studio.resources import samples_root

    root = samples_root() / "inspection" / "data"
    load = lambda paths: np.stack([load_image(p, 128, 3) for p in paths]).astype(np.float32) / 127.5 - 1  # noqa: E731
    ok = sorted((root / "ok").iterdir())
    order = np.random.default_rng(0).permutation(len(ok))
    train = load([ok[i] for i in order[:96]])
    defects = [f for d in ("crack", "missing_hole", "scratch") for f in sorted((root / d).iterdir())[:30]]
    test = load([ok[i] for i in order[96:126]] + defects)
    y = np.r_[np.zeros(30), np.ones(len(defects))]
    spec = D.global_spec(128, 3, 8192)
    model, info = FITTERS["global"](train, spec)
    spec = D.DetectorSpec(spec.kind, spec.input_shape, dict(spec.params, bank=info["bank"]))
    keras_scores, keras_maps = predict(model, test)
    keras_scores = keras_scores.ravel()
    data = convert_model(D.export_copy(model, spec), "int8", representative_set(train, "image", flat_images=True),
                         io_dtype="int8", per_tensor_dense=True)
    shared = share_bank(data)
    bank_bytes = info["bank"] * 9 * 9 * 8
    assert len(data) > 1.9 * bank_bytes and len(shared) < 1.1 * bank_bytes  # the bank once
    run, before = run_detector(shared, test), run_detector(data, test)
    np.testing.assert_array_equal(run.raw_scores, before.raw_scores)
    assert np.corrcoef(run.scores, keras_scores)[0, 1] > 0.95
    assert auroc(run.scores, y) >= auroc(keras_scores, y) - 0.02
    assert np.corrcoef(run.maps.ravel(), keras_maps[..., 0].ravel())[0, 1] > 0.85  # the map, not one value
    interp = litert_interpreter(shared, delegates=False)
    score_scale, score_zero = output_roles(interp.get_output_details())["score"]["quantization"]
    # the score's int8 range reaches the cap (the flat calibration images): clearer defects do not all tie at
    # the perturbed images' highest score (4.2 normal spreads here before)
    assert score_scale * (127 - score_zero) >= 0.9 * D.IMAGE_CAP
    detail = interp.get_input_details()[0]
    arena = find_arena(shared, quantize_input(test[:1], detail))
    assert arena.ok, arena.error


@pytest.mark.slow
def test_window_detector_int8_keeps_its_ranking_and_runs_in_tflite_micro() -> None:
    from studio.core.anomaly.litert import run_detector
    from studio.core.anomaly.synthetic import representative_set
    from studio.core.anomaly.variant import convert_detector
    from studio.core.measure import litert_interpreter, quantize_input
    from studio.core.micro import find_arena

    train = _windows(40, False, 0)
    spec = D.window_spec(64, 2, 256)
    model, info = FITTERS["window"](train, spec)
    test = np.concatenate([_windows(12, False, 1), _windows(12, True, 2)])
    y = np.r_[np.zeros(12), np.ones(12)]
    keras_scores = predict(model, test).ravel()
    assert auroc(keras_scores, y) >= 0.95
    spec = D.DetectorSpec(spec.kind, spec.input_shape, dict(spec.params, bank=info["bank"]))
    data = convert_detector(model, spec, "int8", representative_set(train, "sensor", margin=spec.params["margin"]))
    run = run_detector(data, test)
    assert auroc(run.scores, y) >= auroc(keras_scores, y) - 0.02
    # clearly abnormal windows keep their float scores: the calibration (with its flat windows) reaches the
    # high distances, so int8 does not clip every defect to one ceiling
    assert np.corrcoef(run.scores, keras_scores)[0, 1] > 0.95
    assert run.scores[12:].max() > 0.5 * keras_scores[12:].max()
    # any input (the arena does not depend on it), split as the device's (twice the channels)
    x0 = quantize_input(test[:1], litert_interpreter(data, delegates=False).get_input_details()[0])
    assert x0.shape == (1, 64, 4)
    arena = find_arena(data, x0)
    assert arena.ok and arena.min_bytes < 256 * 1024


def _raised(n: int, seed: int, level: float = 1.0) -> np.ndarray:
    """[n, 64, 1]: a quiet line with one raised stretch (6-30 samples long, anywhere) at ``level``, as a
    gesture or a machine cycle; normal windows are raised to 1."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.05, (n, 64, 1))
    for i in range(n):
        length = int(rng.integers(6, 31))
        start = int(rng.integers(0, 64 - length))
        x[i, start:start + length] += level
    return x.astype(np.float32)


@pytest.mark.slow
def test_a_surge_past_the_normal_values_stays_anomalous_on_the_device() -> None:
    """The int8 input spans the normal range widened by half of it on each side ("margin" in the spec): a
    stretch raised to 3 where normal ones reach 1 is clipped at ~1.5 on the device, still beyond every normal
    value, and scores above every normal window through LiteRT. With the former 5 % margin it was clipped to
    about the normal peak and looked like a normal raised stretch (on a long GunPoint series a spike window
    scored 14.1 in float and 2.1 in int8, below normal windows)."""
    from studio.core.anomaly.fitting import input_step
    from studio.core.anomaly.litert import run_detector
    from studio.core.anomaly.synthetic import input_range, representative_set
    from studio.core.anomaly.variant import convert_detector
    from studio.core.measure import litert_interpreter

    train = _raised(60, 0)
    spec = D.window_spec(64, 1, 256)
    assert spec.params["margin"] == D.WINDOW_INPUT_MARGIN == 0.5
    model, info = FITTERS["window"](train, spec)
    spec = D.DetectorSpec(spec.kind, spec.input_shape, dict(spec.params, bank=info["bank"]))
    test = np.concatenate([_raised(16, 1), _raised(8, 2, level=3.0)])
    y = np.r_[np.zeros(16), np.ones(8)]
    rep = representative_set(train, "sensor", margin=spec.params["margin"])
    lo, hi = input_range(train, spec.params["margin"])
    assert np.isclose(rep.min(), lo.min()) and np.isclose(rep.max(), hi.max())  # the range the fit assumed
    data = convert_detector(model, spec, "int8", rep)
    scale = litert_interpreter(data, delegates=False).get_input_details()[0]["quantization"][0]
    assert abs(scale - input_step(train, spec.params["margin"])) < 0.02 * scale
    assert auroc(predict(model, test).ravel(), y) == 1.0
    lite = run_detector(data, test).scores
    assert lite[y == 1].min() > lite[y == 0].max()  # every surge above every normal window on the device


def test_window_detector_fixed_range_form_and_the_former_one() -> None:
    """New runs clip standardized features at +-zclip (every int8 range fixed by an op); a run fitted before
    (no zclip in its spec) keeps the former graph, and both separate the faults."""
    train = _windows(30, False, 0)
    test = np.concatenate([_windows(8, False, 1), _windows(8, True, 2)])
    y = np.r_[np.zeros(8), np.ones(8)]
    spec = D.window_spec(64, 2, 256)
    assert spec.params["zclip"] == D.WINDOW_ZCLIP and spec.params["cap"] == D.WINDOW_CAP
    old = D.DetectorSpec(spec.kind, spec.input_shape, {k: v for k, v in spec.params.items() if k not in ("zclip", "cap")})
    scores = {}
    for name, sp in (("new", spec), ("old", old)):
        model, _ = FITTERS["window"](train, sp)
        scores[name] = predict(model, test).ravel()
        assert auroc(scores[name], y) >= 0.95
        assert predict(model, train[:5]).ravel().max() < 1e-3  # a bank member is at distance 0
    assert scores["new"].max() <= D.WINDOW_CAP + 1e-4
    features = D.build_detector(spec).get_layer("features")
    assert features.zclip == D.WINDOW_ZCLIP and D.build_detector(old).get_layer("features").zclip == 0


def _digit_folder(root: Path, groups: dict[str, tuple[int, int]]) -> Path:
    """``root/<name>/`` PNGs of scikit-learn digits at 32 px: name -> (digit, count)."""
    from PIL import Image

    digits = pytest.importorskip("sklearn.datasets").load_digits()
    for name, (digit, n) in groups.items():
        (root / name).mkdir(parents=True)
        for i, img in enumerate(digits.images[digits.target == digit][:n]):
            Image.fromarray((img * 255 / 16).astype(np.uint8)).resize((32, 32)).save(root / name / f"{i:03d}.png")
    return root


def test_defect_images_in_validation_choose_the_image_detector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With defect images in validation both image detectors are fitted and the one that separates them better
    is kept, even against the alignment index; without them the alignment index decides."""
    from studio.core.anomaly.config import default_config
    from studio.core.anomaly.train import train_anomaly
    from studio.core.data import import_data
    from studio.core.project import Project

    from studio.core.anomaly import scoring

    monkeypatch.setattr(D, "ALIGNED_INDEX", 1.01)  # the alignment index now says "patch" even for digits
    decoded: list[list[str]] = []
    real_decode = scoring.decode
    monkeypatch.setattr(scoring, "decode", lambda paths, *a: decoded.append(list(paths)) or real_decode(paths, *a))
    project = Project.create(tmp_path / "p", "image-anomaly")
    import_data(project, _digit_folder(tmp_path / "d", {"good": (0, 40), "eight": (8, 16)}))
    trained = train_anomaly(project, default_config(project))
    val_paths = scoring.image_split(project, project.load_manifest(), "val")[0]
    assert len(val_paths) >= 10 and decoded.count(val_paths) == 1  # the choice and the threshold share one decode
    fit = json.loads((trained.path / "model.json").read_text())["fit"]
    assert trained.detector == "global" and fit["chosen"] == "automatically, by the validation defects"
    assert fit["validation_auroc"]["global"] > fit["validation_auroc"]["patch"] + 0.1
    from studio.core.anomaly.runs import read_anomaly_run

    assert read_anomaly_run(project).detector.params["moves"] == 8  # the new spec passes the run's checks
    other = Project.create(tmp_path / "q", "image-anomaly")
    import_data(other, _digit_folder(tmp_path / "g", {"good": (0, 30)}))
    assert train_anomaly(other, default_config(other)).detector == "patch"


def _smooth(n: int, seed: int, t: int = 128) -> np.ndarray:
    """Slow waves with a faint hiss: the high-frequency bands lie below one int8 input step."""
    rng = np.random.default_rng(seed)
    tt = np.arange(t) / t
    f = rng.uniform(1, 3, (n, 1))
    x = np.sin(2 * np.pi * f * tt + rng.uniform(0, 6, (n, 1))) + 0.3 * np.sin(2 * np.pi * 2 * f * tt)
    return (x + rng.normal(0, 0.002, x.shape))[..., None].astype(np.float32)


def test_window_spectrum_is_the_int8_inputs_expected_one() -> None:
    """New runs ("rounding" in the spec) compute the float spectrum as the int8 input's expected one: the int8
    graph on rounded windows then agrees with the float graph on average, where the plain spectrum read the quiet
    high bands higher in int8 (the rounding noise's magnitude added to theirs). Runs fitted before keep it."""
    from studio.core.anomaly.fitting import input_step
    from studio.core.tfenv import load_tf

    _, keras = load_tf()
    train, test = _smooth(40, 0), _smooth(40, 1)
    spec = D.window_spec(128, 1, 256)
    # runs between 2026-12-02 and the split input (test_a_split_input_gives_the_device_the_unrounded_spectrum)
    spec = D.DetectorSpec(spec.kind, spec.input_shape, {k: v for k, v in spec.params.items() if k != "split"})
    step = input_step(train, spec.params["margin"])
    rounded = np.round(test / step) * step  # what the int8 input holds (one scale for the tensor)
    assert spec.params["rounding"] == D.WINDOW_ROUNDING == 1
    old = D.DetectorSpec(spec.kind, spec.input_shape, {k: v for k, v in spec.params.items() if k != "rounding"})
    bias = {}
    for name, sp in (("new", spec), ("old", old)):
        model, info = FITTERS["window"](train, sp)
        sp = D.DetectorSpec(sp.kind, sp.input_shape, dict(sp.params, bank=info["bank"]))
        as_int8 = D.build_detector(sp, int8=True)
        as_int8.set_weights(model.get_weights())
        feats = [keras.Model(m.input, m.get_layer("features").output) for m in (model, as_int8)]
        f = model.get_layer("features")
        spectrum = slice(f.raw_dim, f.raw_dim + f.spec_dim)
        z = [(predict(m, x)[:, spectrum] - 3.0) * D.WINDOW_ZCLIP / 3.0 for m, x in zip(feats, (test, rounded))]
        bias[name] = np.abs((z[1] - z[0]).mean(axis=0))  # per band, in normal spreads
    # relative: the bias left grows with the input step (2026-12-03's wider int8 input: largest band 0.21 -> 0.30
    # normal spreads, mean 0.064 -> 0.087; the plain spectrum's 0.90 -> 0.93, mean 0.41 -> 0.48)
    assert bias["old"].max() > 0.5 and bias["new"].max() < 0.35 * bias["old"].max()
    assert bias["new"].mean() < 0.25 * bias["old"].mean()
    layers = {name: D.build_detector(sp).get_layer("features") for name, sp in (("new", spec), ("old", old))}
    assert layers["new"].rounding == 1 and layers["old"].rounding == 0
    assert any("dft_noise" in w.name for w in layers["new"].weights)
    assert not any("dft_noise" in w.name for w in layers["old"].weights)  # older runs' weights.h5 still fit


@pytest.mark.slow
def test_a_split_input_gives_the_device_the_unrounded_spectrum() -> None:
    """New runs ("split" in the spec) take each value's int8 code and its rounding residual (1/250 of a step)
    on the device and add the residual's DFT to the spectrum: on slow waves whose high bands lie below one input
    step, the int8 scores follow the float ones (measured: mean |difference| 0.05 typical normal distances,
    correlation 0.997), where a run fitted before (no "split") is 2.1 off with correlation 0.75. Its int8 file
    stores the spectrum weights once; runs fitted before keep their single input."""
    from studio.core.anomaly.litert import run_detector
    from studio.core.anomaly.synthetic import representative_set
    from studio.core.anomaly.variant import convert_detector
    from studio.core.measure import litert_interpreter

    train, test = _smooth(40, 0), np.concatenate([_smooth(20, 1), 1.05 * _smooth(20, 2)])
    spec = D.window_spec(128, 1, 256)
    assert spec.params["split"] == D.WINDOW_SPLIT == 250
    old = D.DetectorSpec(spec.kind, spec.input_shape, {k: v for k, v in spec.params.items() if k != "split"})
    off, corr, sizes = {}, {}, {}
    for name, sp in (("new", spec), ("old", old)):
        model, info = FITTERS["window"](train, sp)
        sp = D.DetectorSpec(sp.kind, sp.input_shape, dict(sp.params, bank=info["bank"]))
        data = convert_detector(model, sp, "int8", representative_set(train, "sensor", margin=sp.params["margin"]))
        shape = litert_interpreter(data, delegates=False).get_input_details()[0]["shape"]
        assert list(shape) == [1, 128, 2 if name == "new" else 1]
        k, lite = predict(model, test).ravel(), run_detector(data, test).scores
        off[name], corr[name] = float(np.abs(k - lite).mean()), float(np.corrcoef(k, lite)[0, 1])
        sizes[name] = len(data)
    assert off["new"] < 0.15 and off["old"] > 1.0 and off["new"] < 0.1 * off["old"]
    assert corr["new"] > 0.98 and corr["new"] > corr["old"] + 0.1
    # the residual's DFT reads the value DFT's int8 codes: the [4 * 64, 128] weights are not stored twice
    assert sizes["new"] - sizes["old"] < 4 * 64 * 128 // 2


def test_zero_sum_int8_weights_cancel_the_mean_exactly() -> None:
    """Each DFT column is stored on its int8 grid with codes summing to zero (a window's mean cancels in the
    int32 sum), its largest code kept at 127 (so a conversion's per-column scale gives back these codes), and
    every value within one step of the centred column."""
    from studio.core.anomaly.fitting import dft_constants, zero_sum_int8

    cos, sin, _ = dft_constants(100, 50, 12)
    for w in (cos, sin, np.random.default_rng(0).normal(size=(37, 9))):
        q = zero_sum_int8(w)
        step = np.abs(q).max(axis=0) / 127.0
        codes = q / step
        assert np.allclose(codes, np.round(codes), atol=1e-3)
        assert np.all(np.abs(np.round(codes).sum(axis=0)) == 0)
        centred = w - w.mean(axis=0)
        assert np.isclose(step, np.abs(centred).max(axis=0) / 127.0, rtol=1e-5).all()
        assert np.all(np.abs(q - centred) <= step * 1.0001)


def test_split_codes_hold_the_value_to_a_fraction_of_a_step_and_the_harness_agrees() -> None:
    """measure.split_codes: a value's code, then its residual in 1/250 of a step (centred in the type's range),
    so code and residual give the value back within 1/500 of a step; resources/harness/run_model.py's copy gives
    the same codes (int8 and uint8), and a tensor with as many channels as the input is quantized plainly."""
    import importlib.util

    from studio.core.measure import SPLIT_GAIN, quantize_input, split_codes

    x = np.random.default_rng(0).uniform(-1.2, 1.3, (3, 50, 2)).astype(np.float32)
    scale, zero = 2.0 / 255, -3  # codes span [-0.98, 1.02]: the rest is clipped, its residual at most half a step
    codes = split_codes(x, scale, zero, np.int8).astype(np.float64)
    assert codes.shape == (3, 50, 4)
    back = (codes[..., :2] - zero) * scale + codes[..., 2:] * scale / SPLIT_GAIN
    inside = (x > -0.98) & (x < 1.02)
    assert inside.mean() > 0.7 and np.abs(back - x)[inside].max() <= scale / (2 * SPLIT_GAIN) * 1.01
    assert np.array_equal(codes[..., :2][~inside], np.where(x[~inside] > 0, 127, -128))
    assert np.abs(codes[..., 2:]).max() <= SPLIT_GAIN // 2
    path = Path(__file__).resolve().parents[2] / "resources" / "harness" / "run_model.py"
    spec = importlib.util.spec_from_file_location("harness_run_model", path)
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)  # type: ignore[union-attr]
    assert harness.SPLIT_GAIN == SPLIT_GAIN
    for dtype, z in ((np.int8, zero), (np.uint8, zero + 128)):
        for channels in (4, 2):
            detail = {"dtype": dtype, "quantization": (scale, z), "shape": [1, 50, channels]}
            model = harness.Model.__new__(harness.Model)
            model.inp = detail
            mine, theirs = quantize_input(x[:1], detail), model.quantize(x[:1])
            assert mine.dtype == theirs.dtype == dtype and mine.shape == (1, 50, channels)
            assert np.array_equal(mine, theirs)


def test_window_spectrum_counts_each_band_once() -> None:
    """New runs pool each frequency band once: log-spaced bands rounded to DFT bins merge on short windows, and the
    last one used to fill the remaining features (a 24-sample window: 12 features, 8 different bands, the highest
    counted 5 times). Runs fitted before keep their stored band count, and their pooling is in their weights."""
    from studio.core.anomaly.fitting import dft_constants

    for window in (10, 24, 100, 128, 427):
        spec = D.window_spec(window, 1, 64)
        bins, bands = spec.params["bins"], spec.params["bands"]
        _, _, pool = dft_constants(window, bins, bands)
        assert pool.shape == (bins, bands)
        assert ((pool > 0).sum(axis=1) == 1).all()  # every frequency in exactly one band
        assert len({tuple(col) for col in (pool > 0).T}) == bands  # no band twice
    assert D.window_spec(24, 1, 64).params["bands"] == 8 and D.window_spec(427, 1, 64).params["bands"] == 15
    old = D.DetectorSpec("window", (24, 1), dict(D.window_spec(24, 1, 64).params, bands=12))
    assert D.build_detector(old).get_layer("features").spec_dim == 12
