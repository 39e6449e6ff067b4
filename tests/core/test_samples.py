"""The sample generators are deterministic and match the committed data; open_sample makes a ready project."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

from studio.core import samples
from studio.core.errors import ProjectError
from studio.core.project import Project
from studio.resources import samples_root

REPO = Path(__file__).resolve().parents[2]


def _load(rel: str) -> ModuleType:
    path = REPO / rel
    spec = importlib.util.spec_from_file_location(path.parent.name + "_generate", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def inspection() -> ModuleType:
    return _load("samples/inspection/generate.py")


@pytest.fixture(scope="module")
def vibration() -> ModuleType:
    return _load("samples/vibration/generate.py")


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------------------------- generators
def test_inspection_generator_is_deterministic(inspection: ModuleType, tmp_path: Path) -> None:
    a = inspection.generate(tmp_path / "a", counts=2, seed=7, size=64)
    inspection.generate(tmp_path / "b", counts=2, seed=7, size=64)
    inspection.generate(tmp_path / "c", counts=2, seed=8, size=64)
    assert a == {c: 2 for c in inspection.CLASSES}
    first, second, other = _tree(tmp_path / "a"), _tree(tmp_path / "b"), _tree(tmp_path / "c")
    assert len(first) == 8 and first == second
    assert first != other  # the seed matters
    with Image.open(tmp_path / "a" / "crack" / "crack_001.jpg") as img:
        assert img.size == (64, 64) and img.mode == "RGB"


def test_inspection_regeneration_replaces_stale_files(inspection: ModuleType, tmp_path: Path) -> None:
    inspection.generate(tmp_path, counts=3, seed=1, size=48)
    inspection.generate(tmp_path, counts=1, seed=1, size=48)
    assert sorted(p.name for p in (tmp_path / "ok").iterdir()) == ["ok_001.jpg"]


def test_vibration_generator_is_deterministic(vibration: ModuleType, tmp_path: Path) -> None:
    vibration.generate(tmp_path / "a", per_class=1, seed=3)
    vibration.generate(tmp_path / "b", per_class=1, seed=3)
    vibration.generate(tmp_path / "c", per_class=1, seed=4)
    first = _tree(tmp_path / "a")
    assert first == _tree(tmp_path / "b") and first != _tree(tmp_path / "c")
    assert sorted(first) == sorted(f"{c}/{c}_01.csv" for c in vibration.CLASSES)
    lines = first["normal/normal_01.csv"].decode().splitlines()
    assert lines[0] == "time_s,ax,ay,az"
    assert len(lines) == 1 + int(vibration.SAMPLE_RATE_HZ * vibration.DURATION_S)
    table = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    assert table[1, 0] - table[0, 0] == pytest.approx(0.001)
    assert table[:, 3].mean() == pytest.approx(1.0, abs=0.05)  # gravity on the vertical axis


def test_vibration_states_differ_in_the_way_the_physics_says(vibration: ModuleType) -> None:
    """Imbalance raises the 1x line on the radial axes; a bearing fault adds resonance energy well above it
    (modestly: the impacts are short, which is what makes the class less than trivial)."""
    def spectrum(label: str, i: int) -> tuple[np.ndarray, np.ndarray]:
        sig = vibration.recording(np.random.default_rng([99, i, vibration.CLASSES.index(label)]), label)
        x = sig[:, 0] - sig[:, 0].mean()
        return np.fft.rfftfreq(len(x), 1 / vibration.SAMPLE_RATE_HZ), np.abs(np.fft.rfft(x)) / len(x)

    def band(label: str, lo: float, hi: float) -> float:
        vals = []
        for i in range(6):
            f, s = spectrum(label, i)
            vals.append(s[(f >= lo) & (f < hi)].max() if hi - lo < 20 else np.sqrt((s[(f >= lo) & (f < hi)] ** 2).sum()))
        return float(np.median(vals))

    assert band("imbalance", 20, 32) > 2 * band("normal", 20, 32)
    assert band("bearing_fault", 150, 400) > 1.4 * band("normal", 150, 400)


def test_committed_data_is_what_the_generators_make(inspection: ModuleType, vibration: ModuleType) -> None:
    """The first file of every class regenerates to the committed one (pixels and values, within rounding:
    another Pillow's JPEG encoder or NumPy's float formatting may differ in the last digit)."""
    root = samples_root()
    for label in inspection.CLASSES:
        img = inspection.render(inspection._image_rng(inspection.DEFAULT_SEED, label, 0), label)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=inspection.JPEG_QUALITY, optimize=True)
        fresh = np.asarray(Image.open(buf).convert("RGB"), float)
        with Image.open(root / "inspection" / "data" / label / f"{label}_001.jpg") as stored_img:
            stored = np.asarray(stored_img.convert("RGB"), float)
        assert fresh.shape == stored.shape
        assert np.abs(fresh - stored).mean() < 1.0
    for label in vibration.CLASSES:
        sig = vibration.recording(vibration._rec_rng(vibration.DEFAULT_SEED, label, 0), label)
        stored = np.loadtxt(root / "vibration" / "data" / label / f"{label}_01.csv", delimiter=",", skiprows=1)
        np.testing.assert_allclose(stored[:, 1:], sig, atol=0.0006)


def test_committed_data_counts_and_size(inspection: ModuleType, vibration: ModuleType) -> None:
    root = samples_root()
    for label, n in inspection.DEFAULT_COUNTS.items():
        assert len(list((root / "inspection" / "data" / label).glob("*.jpg"))) == n
    for label in vibration.CLASSES:
        assert len(list((root / "vibration" / "data" / label).glob("*.csv"))) == vibration.DEFAULT_PER_CLASS
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert total < 8_000_000, f"samples grew to {total / 1e6:.1f} MB"


# ---------------------------------------------------------------------------------------------- open_sample
@pytest.mark.parametrize("kind", ["image", "sensor"])
def test_open_sample_creates_a_ready_project(kind: str) -> None:
    info = samples.SAMPLES[kind]
    project = samples.open_sample(kind)
    assert project.path == samples.default_sample_dir(kind)
    assert project.task == info.task
    manifest = project.load_manifest()
    assert manifest["classes"] == sorted(info.classes)
    assert all(manifest["counts"][c] > 0 for c in info.classes)
    assert all(manifest["split_counts"]["val"][c] > 0 for c in info.classes)
    assert Path(manifest["source"]) == info.data_dir
    reopened = Project.open(project.path)
    assert reopened.data["data"] is not None  # the import summary is in project.json


def test_open_sample_reopens_without_reimporting() -> None:
    project = samples.open_sample("image")
    project.settings["train"] = {"epochs": 3}
    project.save()
    before = project.manifest_path.stat().st_mtime_ns
    again = samples.open_sample("image")
    assert again.manifest_path.stat().st_mtime_ns == before
    assert again.settings["train"] == {"epochs": 3}  # the user's choices survive


def test_open_sample_reimports_a_stale_project() -> None:
    """After the app moved, the manifest points at the old data folder: the data is imported again in place."""
    project = samples.open_sample("image")
    manifest = json.loads(project.manifest_path.read_text())
    manifest["source"] = "/old/install/samples/inspection/data"
    manifest["roots"] = [{"path": "/old/install/samples/inspection/data", "rel": "../nowhere"}]
    project.manifest_path.write_text(json.dumps(manifest))
    fixed = samples.open_sample("image")
    assert Path(fixed.load_manifest()["source"]) == samples.SAMPLES["image"].data_dir


def test_open_sample_moves_a_broken_project_aside() -> None:
    path = samples.default_sample_dir("sensor")
    path.mkdir(parents=True)
    (path / "project.json").write_text("{not json")
    project = samples.open_sample("sensor")
    assert project.has_data()
    aside = [p for p in path.parent.iterdir() if p.name.startswith(path.name + ".broken-")]
    assert len(aside) == 1 and (aside[0] / "project.json").read_text() == "{not json"


def test_open_sample_into_a_chosen_folder(tmp_path: Path) -> None:
    project = samples.open_sample("sensor", tmp_path / "mine")
    assert project.path == tmp_path / "mine" and project.has_data()
    with pytest.raises(ProjectError):
        samples.open_sample("image", tmp_path / "mine")  # a sensor project is there, not the image sample


def test_unknown_sample_is_a_studio_error() -> None:
    with pytest.raises(ProjectError, match="unknown sample"):
        samples.open_sample("audio")


def test_list_samples_reports_installed_data() -> None:
    listed = {s["id"]: s for s in samples.list_samples()}
    assert set(listed) == {"image", "sensor", "image-anomaly", "sensor-anomaly"}
    assert all(s["installed"] for s in listed.values())
