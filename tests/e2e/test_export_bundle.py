"""Import -> train -> optimize -> export on tiny synthetic projects, then the bundle is checked the way a
device would use it: the harness in a clean virtualenv without TensorFlow, a swapped model caught by the
self-test, the C array compiled, TFLite-Micro run with the arena the bundle states."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from studio.core.reporter import NullReporter

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def image_bundle(tmp_path_factory: pytest.TempPathFactory):
    from studio.core.data import import_data
    from studio.core.data.synth import make_image_folder
    from studio.core.export import export
    from studio.core.optimize import OptimizeConfig, optimize
    from studio.core.project import Project
    from studio.core.train import default_config, train

    root = tmp_path_factory.mktemp("bundle")
    src = make_image_folder(root / "images", {"disc": 10, "ring": 10, "bar": 10}, size=(20, 16), seed=2)
    project = Project.create(root / "project", "image")
    import_data(project, src, val_split=0.3, seed=1)
    train(project, default_config(project, arch="compact_cnn", input_size=16, width=0.5, epochs=2), NullReporter())
    variant = optimize(project, OptimizeConfig(prune=0.5, prune_kind="weights", quantize="int8", finetune_epochs=1), NullReporter())
    result = export(project, root / "out", target="cortex-m7")
    return project, variant.to_json(), result, src


def _c_ints(text: str, name: str) -> np.ndarray:
    body = text.split(f"{name}[] = {{", 1)[1].split("}", 1)[0]
    return np.array([int(t) for t in body.replace(",", " ").split()])


def test_bundle_files_and_stated_arena_runs_in_tflite_micro(image_bundle) -> None:
    from studio.core.data.image import load_image
    from studio.core.measure import quantize_input
    from studio.core.micro import run_tflm
    from studio.core.pipeline import InputSpec

    project, variant, result, _ = image_bundle
    out = result.out
    for name in ("model.tflite", "labels.txt", "preprocess.json", "run_model.py", "README.md", "requirements.txt",
                 "report.html", "model_data.h", "model_data.cc", "main.cc", "golden_data.cc", "Makefile.inc",
                 "CMakeLists.txt", "studio_model.h", "bundle.json", "golden/golden.json", "golden/golden_tflm.npz"):
        assert (out / name).exists(), name
        assert name in result.files
    assert (out / "labels.txt").read_text().split() == ["bar", "disc", "ring"]
    from studio.core.formats import read_versioned

    bundle = read_versioned("bundle", out / "bundle.json")
    assert bundle["schema_version"] == 1
    arena = bundle["arena"]["bytes"]
    assert arena == result.arena_bytes == variant["arena"]["recommended_bytes"]
    main_cc = (out / "main.cc").read_text()
    assert f"kTensorArenaSize = {arena};" in main_cc
    for op in bundle["ops"]:
        assert f"// {op}" in main_cc
    assert main_cc.count("resolver.Add") == len(bundle["ops"])

    pre = json.loads((out / "preprocess.json").read_text())
    spec = InputSpec.from_json(variant["input_spec"])
    golden = json.loads((out / "golden" / "golden.json").read_text())
    x = spec.preprocess(np.stack([load_image(out / "golden" / it["file"], spec.size, spec.channels)
                                  for it in golden["items"]]))
    xq = quantize_input(x, {"dtype": np.int8, "quantization": (pre["input"]["scale"], pre["input"]["zero_point"])})
    gd = (out / "golden_data.cc").read_text()
    np.testing.assert_array_equal(_c_ints(gd, "g_golden_inputs"), xq.reshape(-1))  # every golden, as decoded
    got = run_tflm((out / "model.tflite").read_bytes(), xq, arena)  # the arena the bundle states
    np.testing.assert_array_equal(got.reshape(-1), _c_ints(gd, "g_golden_expected"))
    labels = _c_ints(gd, "g_golden_labels")
    assert [pre["classes"][i] if i >= 0 else None for i in labels] == [it["label"] for it in golden["items"]]
    assert np.max(np.abs(got - np.array([it["expected"] for it in golden["items"]]))) <= golden["tolerance"]


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")
def test_model_data_compiles(image_bundle, tmp_path: Path) -> None:
    out = image_bundle[2].out
    proc = subprocess.run(["g++", "-std=c++17", "-Wall", "-c", str(out / "model_data.cc"), "-I", str(out),
                           "-o", str(tmp_path / "model_data.o")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "model_data.o").stat().st_size > (out / "model.tflite").stat().st_size


def _clean_venv(root: Path, requirements: Path) -> Path:
    """A virtualenv holding only the bundle's requirements (pip may use its local cache)."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, capture_output=True)
    py = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    proc = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r",
                           str(requirements)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.skip(f"cannot install the harness requirements here (no package index?): {proc.stderr[-300:]}")
    return py


def test_harness_selftest_in_clean_venv_and_swapped_model_fails(image_bundle, tmp_path: Path) -> None:
    from studio.core.convert import convert_model
    from studio.core.models import build_model

    _, variant, result, src = image_bundle
    bundle = tmp_path / "device"
    shutil.copytree(result.out, bundle)
    py = _clean_venv(tmp_path, bundle / "requirements.txt")
    no_tf = subprocess.run([str(py), "-c", "import tensorflow"], capture_output=True, text=True)
    assert no_tf.returncode != 0, "the clean venv must not have TensorFlow"

    ok = subprocess.run([str(py), "run_model.py", "--selftest"], cwd=bundle, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "SELFTEST PASSED" in ok.stdout

    run = subprocess.run([str(py), "run_model.py", str(src / "ring"), "--top-k", "2"], cwd=bundle,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("ring_0") == 10 and "latency: mean" in run.stdout

    # another model with the same input and output: the self-test must catch it
    shape = tuple(variant["io"]["input"]["shape"][1:])
    other = build_model("compact_cnn", shape, 3, width=0.5)
    rep = np.random.default_rng(0).uniform(-1, 1, (16,) + shape).astype(np.float32)
    (bundle / "model.tflite").write_bytes(convert_model(other, "int8", rep))
    bad = subprocess.run([str(py), "run_model.py", "--selftest"], cwd=bundle, capture_output=True, text=True)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "SELFTEST FAILED" in bad.stdout and "checksum differs" in bad.stdout


def test_harness_runs_in_process_when_frozen(image_bundle, monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.core.selftest import run_harness

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    code, output = run_harness(image_bundle[2].out, ["--selftest"])
    assert code == 0 and "SELFTEST PASSED" in output


def test_variants_listing_and_cancel_leaves_no_variant(image_bundle) -> None:
    from studio.core.errors import Cancelled
    from studio.core.optimize import OptimizeConfig, list_variants, optimize
    from studio.core.reporter import RecordingReporter

    project = image_bundle[0]
    rows = list_variants(project)
    assert [r["name"] for r in rows] == ["p50-int8"]
    row = rows[0]
    for key in ("name", "path", "bytes", "gzip_bytes", "sparsity", "accuracy", "agreement", "latency_ms", "fits"):
        assert row[key] is not None, key
    assert abs(row["sparsity"] - 0.5) <= 0.02 and row["fits"]["cortex-m7"] is True

    class CancelLater(RecordingReporter):
        def cancel_requested(self) -> bool:
            return any(kind == "progress" and value[0] > 0.2 for kind, value in self.events)

    with pytest.raises(Cancelled):
        optimize(project, OptimizeConfig(prune=0.3, quantize="int8", finetune_epochs=2), CancelLater())
    assert sorted(p.name for p in project.variants_dir.iterdir()) == ["p50-int8"]


@pytest.fixture(scope="module")
def sensor_bundle(tmp_path_factory: pytest.TempPathFactory):
    from studio.core.data import import_data
    from studio.core.data.synth import make_sensor_folder
    from studio.core.export import export
    from studio.core.optimize import OptimizeConfig, optimize
    from studio.core.project import Project
    from studio.core.train import default_config, train

    root = tmp_path_factory.mktemp("sensor")
    src = make_sensor_folder(root / "rec", ("idle", "shake", "spin"), recordings=4, length=160)
    project = Project.create(root / "project", "sensor")
    import_data(project, src, window=32, stride=16, val_split=0.25, seed=1)
    train(project, default_config(project, epochs=2), NullReporter())
    optimize(project, OptimizeConfig(quantize="float32", measure_arena=False), NullReporter())
    return project, export(project, root / "out", target="linux"), src


def test_sensor_bundle_selftest_and_csv(sensor_bundle, tmp_path: Path) -> None:
    _, result, src = sensor_bundle
    out = result.out
    assert not (out / "main.cc").exists() and result.arena_bytes is None
    pre = json.loads((out / "preprocess.json").read_text())
    assert pre["task"] == "sensor" and pre["sensor"]["window"] == 32 and pre["sensor"]["channels"]
    with np.load(out / "golden" / "golden_windows.npz") as g:
        raw = g["windows"]
    # golden windows are raw signal, not normalized: the harness's normalization is part of the test
    normalized = (raw - np.array(pre["sensor"]["mean"])) / np.array(pre["sensor"]["std"])
    assert np.max(np.abs(normalized - raw)) > 0.1
    ok = subprocess.run([sys.executable, str(out / "run_model.py"), "--selftest"], capture_output=True, text=True)
    assert ok.returncode == 0 and "SELFTEST PASSED" in ok.stdout, ok.stdout + ok.stderr
    csv = sorted((src / "shake").glob("*.csv"))[0]
    run = subprocess.run([sys.executable, str(out / "run_model.py"), str(csv), "--json"], capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    out_json = json.loads(run.stdout)
    rows = out_json["windows"]
    assert len(rows) == 1 + (160 - 32) // 16 and all(len(r["top"]) == 3 for r in rows)
    rec = out_json["recording"]  # the whole recording: windows, then the mean of their probabilities
    assert rec["windows"] == len(rows) and "mean" in rec["rule"] and len(rec["top"]) == 3
    text = subprocess.run([sys.executable, str(out / "run_model.py"), str(csv)], capture_output=True, text=True)
    assert "mean of the windows' probabilities over 9 window(s)" in text.stdout, text.stdout
    # a corrupted golden window changes the outputs: the self-test fails (on a copy: the fixture is shared)
    out = Path(shutil.copytree(out, tmp_path / "corrupted"))
    np.savez(out / "golden" / "golden_windows.npz", windows=raw[::-1].copy())
    bad = subprocess.run([sys.executable, str(out / "run_model.py"), "--selftest"], capture_output=True, text=True)
    assert bad.returncode == 1 and "SELFTEST FAILED" in bad.stdout


def test_check_bundle_separates_reproducing_from_correct(sensor_bundle, tmp_path: Path) -> None:
    """A bundle can reproduce Studio's answers while the model is wrong on its golden examples: the self-test
    says both, and never gives a plain pass then."""
    from studio.core.selftest import check_bundle

    bundle = tmp_path / "b"
    shutil.copytree(sensor_bundle[1].out, bundle)
    good = check_bundle(bundle)
    n = good["reproduces"]["total"]
    assert good["ok"] and good["reproduces"]["ran"] == ["litert"] and good["reproduces"]["matched"] == n
    assert good["summary"][0].startswith(f"Reproduces Studio's answers on {n} of {n}")
    k, labelled = good["correct"]["n"], good["correct"]["total"]  # boundary blends have no label
    assert f"Correct on {k} of {labelled}" in good["summary"][1] and 2 <= labelled <= n
    meta = json.loads((bundle / "bundle.json").read_text())  # sensors: the per-recording figure, as Evaluate
    assert good["summary"][1].endswith(f"(validation accuracy {meta['recording_accuracy'] * 100:.1f} % per recording).")
    assert "% per recording (" in (bundle / "README.md").read_text()
    assert k == sum(it["predicted"] == it["label"] for it in good["items"])
    # a model wrong on every golden (here: labels that disagree with every prediction)
    gj = bundle / "golden" / "golden.json"
    golden = json.loads(gj.read_text())
    classes = json.loads((bundle / "preprocess.json").read_text())["classes"]
    for it, row in zip(golden["items"], good["items"]):
        it["label"] = next(c for c in classes if c != row["predicted"])
    gj.write_text(json.dumps(golden))
    wrong = check_bundle(bundle)
    assert wrong["ok"] is True  # the device still reproduces Studio's answers ...
    assert wrong["correct"] == wrong["correct"] | {"n": 0, "total": n, "all": False}  # ... but the model is wrong
    assert wrong["summary"][1].startswith(f"Correct on 0 of {n} golden examples ({n} taken for another class)")
    assert len(wrong["correct"]["wrong"]) == n
    out = subprocess.run([sys.executable, str(bundle / "run_model.py"), "--selftest"], capture_output=True, text=True)
    assert out.returncode == 0 and f"CORRECT ON 0 OF {n}" in out.stdout


def test_export_refuses_foreign_folder(sensor_bundle, tmp_path: Path) -> None:
    from studio.core.errors import ConfigError
    from studio.core.export import export

    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(ConfigError):
        export(sensor_bundle[0], tmp_path)
    assert (tmp_path / "mine.txt").read_text() == "keep me"
