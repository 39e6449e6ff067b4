"""Try it: the LiteRT variant answers files and fake camera frames, beside the float model."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.data import sample_path
from studio.core.errors import DatasetError
from studio.core.project import Project
from studio.core.tryit import FakeFrameSource, explain_frame, LiveClassifier, TryRequest, differs, list_inputs, try_files


def test_fake_source_list_inputs_and_differs(tmp_path) -> None:
    src = FakeFrameSource([np.zeros((4, 4, 3), np.uint8)] * 2)
    assert src.read() is not None and src.read() is not None and src.read() is None
    looping = FakeFrameSource([np.zeros((4, 4, 3), np.uint8)], loop=True)
    assert all(looping.read() is not None for _ in range(5))
    looping.close()
    assert looping.read() is None
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(b"")
    (tmp_path / "a" / "notes.md").write_text("no")
    assert [p.name for p in list_inputs([tmp_path], "image")] == ["x.png"]
    with pytest.raises(DatasetError):
        list_inputs([tmp_path / "a"], "sensor")
    assert differs(np.array([0.6, 0.4]), np.array([0.4, 0.6]))
    assert not differs(np.array([0.6, 0.4]), np.array([0.62, 0.38]))


@pytest.fixture(scope="module")
def int8_project(mark_project: tuple[Project, dict]) -> tuple[Project, dict]:
    from studio.core.optimize import OptimizeConfig, optimize

    project, boxes = mark_project
    optimize(project, OptimizeConfig.for_int8(measure_arena=False, name="int8"))
    return project, boxes


@pytest.mark.slow
def test_try_files_answers_with_the_litert_variant_beside_the_float_model(int8_project: tuple[Project, dict]) -> None:
    from studio.core.measure import run_litert
    from studio.core.optimize import load_variant
    from studio.core.pipeline import InputSpec
    from studio.core.data.image import load_image

    project, boxes = int8_project
    m = project.load_manifest()
    files = [str(sample_path(project, m, s)) for s in m["samples"] if s["split"] == "test"][:4]
    out = try_files(project, TryRequest(paths=tuple(files)))
    assert out["model"]["kind"] == "litert" and out["model"]["quantize"] == "int8"
    assert out["float_model"]["kind"] == "keras"
    data, model_bytes = load_variant(project, "int8")
    spec = InputSpec.from_json(data["input_spec"])
    x = spec.preprocess(np.stack([load_image(f, spec.size, spec.channels) for f in files]))
    device = run_litert(model_bytes, x).probs
    for item, probs in zip(out["items"], device):
        assert item["label"] == data["classes"][int(np.argmax(probs))]  # exactly what LiteRT answers
        assert item["confidence"] == pytest.approx(float(probs.max()), abs=1e-4)
        assert isinstance(item["differs"], bool) and item["float"]["label"] in data["classes"]
        heat = np.asarray(item["why"]["heatmap"])
        assert heat.shape == (32, 32) and 0 <= heat.min() and heat.max() <= 1
    assert out["n_differ"] == sum(i["differs"] for i in out["items"])


@pytest.mark.slow
def test_live_classifier_answers_fake_camera_frames_fast(int8_project: tuple[Project, dict]) -> None:
    from studio.core.inference import litert_backend

    project, _ = int8_project
    m = project.load_manifest()
    files = [sample_path(project, m, s) for s in m["samples"] if s["split"] == "test"][:5]
    live = LiveClassifier(litert_backend(project), FakeFrameSource(files, loop=True, size=(640, 480)))
    seen = []
    assert live.run(seen.append, max_frames=60) == 60
    assert [r.index for r in seen] == list(range(60)) and seen[-1].frame.shape == (480, 640, 3)
    assert seen[-1].label in m["classes"] and seen[-1].fps >= 10, f"{seen[-1].fps} frames/s"
    why = explain_frame(live.backend, seen[0].frame)
    assert why["image_size"] == [640, 480] and 0 <= why["peak"][0] < 640 and 0 <= why["peak"][1] < 480
    stop = iter([False, False, True])
    assert live.run(lambda r: None, should_stop=lambda: next(stop)) == 2


@pytest.mark.slow
def test_report_shows_why_maps_of_the_variants_mistakes_and_the_mislabel_list(
        int8_project: tuple[Project, dict]) -> None:
    from studio.core.evaluate import default_split
    from studio.core.measure import run_litert
    from studio.core.optimize import load_variant
    from studio.core.pipeline import InputSpec, load_split
    from studio.core.report import build_report
    from studio.core.trust_report import MAX_MISTAKES

    project, _ = int8_project
    data, model_bytes = load_variant(project, "int8")
    spec = InputSpec.from_json(data["input_spec"])
    split = load_split(project, default_split(project.load_manifest()), spec)
    wrong = int(np.sum(run_litert(model_bytes, spec.preprocess(split.x)).probs.argmax(1) != split.y))
    html = build_report(project, data, None)
    assert "<h2>Why the model got these wrong</h2>" in html and "<h2>Possibly mislabelled examples</h2>" in html
    assert html.count("<img src='data:image/png;base64,") == min(wrong, MAX_MISTAKES)
    assert (f"{wrong} of {len(split.y)}" in html) if wrong else ("No mistakes" in html)


@pytest.mark.slow
def test_live_model_answers_like_litert_in_a_process_without_tensorflow(int8_project: tuple[Project, dict],
                                                                        tmp_path) -> None:
    """The window's camera path: the worker's live_model job names the .tflite; studio.core.live loads it
    and answers frames exactly as the LiteRT backend does, in a fresh process that never imports TensorFlow."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from studio.core.inference import litert_backend
    from studio.core.reporter import RecordingReporter
    from studio.jobs import run_job

    project, _ = int8_project
    info = run_job("live_model", project, {"variant": "int8"}, RecordingReporter())
    assert info["name"] == "int8" and info["quantize"] == "int8" and info["spec"]["size"] == 32
    m = project.load_manifest()
    files = [str(sample_path(project, m, s)) for s in m["samples"] if s["split"] == "test"][:6]
    expected = [r.label for r in _run(LiveClassifier(litert_backend(project, "int8"), FakeFrameSource(files)))]
    (tmp_path / "info.json").write_text(json.dumps(info))
    code = ("import json, sys; from studio.core.live import FakeFrameSource, LiveClassifier, LiveModel; "
            f"model = LiveModel.load(json.load(open({str(tmp_path / 'info.json')!r}))); seen = []; "
            f"LiveClassifier(model, FakeFrameSource({files!r})).run(seen.append); "
            "print(json.dumps([[r.label for r in seen], 'tensorflow' in sys.modules]))")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    labels, tf_loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert labels == expected and not tf_loaded


def _run(live: LiveClassifier) -> list:
    seen: list = []
    live.run(seen.append)
    return seen


def test_live_classifier_paces_an_unpaced_source_to_max_fps() -> None:
    """Test frames (or a fast camera) come as fast as they are read: answering them faster than ~30 a second
    only takes the window's CPU, so the classifier waits between frames."""
    import time
    from types import SimpleNamespace

    spec = SimpleNamespace(kind="image", size=8, channels=3, preprocess=lambda x: x)
    backend = SimpleNamespace(spec=spec, classes=["a", "b"], predict=lambda x: np.tile([0.3, 0.7], (len(x), 1)))
    frames = [np.zeros((16, 16, 3), np.uint8)] * 9
    t0 = time.perf_counter()
    assert LiveClassifier(backend, FakeFrameSource(frames), max_fps=40).run(lambda r: None) == 9
    assert time.perf_counter() - t0 >= 8 / 40  # eight gaps of at least 1/40 s
    fast = LiveClassifier(backend, FakeFrameSource(frames))  # no cap: the benchmark measures the model alone
    assert fast.min_gap == 0.0 and fast.run(lambda r: None) == 9
