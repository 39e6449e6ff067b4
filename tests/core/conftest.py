"""Shared fixtures for core tests: tiny image folders and sensor CSVs written into tmp_path.

The factories are plain functions in :mod:`datagen` (and :mod:`studio.core.data.synth`); the fixtures here
hand them out so a test can say ``def test_x(image_folder): ...`` or call the factory with its own sizes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from datagen import make_image_folder, make_sensor_folder, make_sensor_single_csv  # noqa: E402

from studio.core.project import Project  # noqa: E402


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """Two classes, 6 RGB PNGs each (20x16)."""
    return make_image_folder(tmp_path / "images", {"a": 6, "b": 6}, size=(20, 16))


@pytest.fixture
def sensor_folder(tmp_path: Path) -> Path:
    """Layout (a): two classes, 4 recordings of 200 rows each, channels ax/ay/az plus a time column."""
    return make_sensor_folder(tmp_path / "sensors", ("idle", "shake"), recordings=4, length=200)


@pytest.fixture
def sensor_csv(tmp_path: Path) -> Path:
    """Layout (b): one CSV with label and recording columns, 3 recordings of 200 rows per class."""
    return make_sensor_single_csv(tmp_path / "one.csv", ("idle", "shake"), recordings=3, length=200)


@pytest.fixture
def image_project(tmp_path: Path) -> Project:
    return Project.create(tmp_path / "proj-image", "image")


@pytest.fixture
def sensor_project(tmp_path: Path) -> Project:
    return Project.create(tmp_path / "proj-sensor", "sensor")


@pytest.fixture(scope="session")
def mark_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, dict[str, list[int]]]:
    """Cross / ring / ok parts at 64x48 px (the mark alone decides the class: its box is known), a compact CNN
    trained at 32 px. Shared by the why-map and Try-it tests (one training per session)."""
    from studio.core.data import import_data
    from studio.core.data.synth import make_mark_folder
    from studio.core.train import default_config, train

    base = tmp_path_factory.mktemp("marks")
    root, boxes = make_mark_folder(base / "data", per_class=50, seed=1)
    project = Project.create(base / "proj", "image")
    import_data(project, root, val_split=0.2, test_split=0.3, seed=3)
    train(project, default_config(project, input_size=32, epochs=18, patience=0))
    return project, boxes


@pytest.fixture(scope="session")
def sensor_template(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A sensor project with a fake (untrained) run and a float32 variant, built once per session."""
    from fakeproject import build_sensor_template

    return build_sensor_template(tmp_path_factory.mktemp("sensor-template"))


@pytest.fixture(scope="session")
def image_template(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """An image project with a fake (untrained) compact-CNN run and a float32 variant, built once per session."""
    from fakeproject import build_image_template

    return build_image_template(tmp_path_factory.mktemp("image-template"))


@pytest.fixture
def sensor_copy(sensor_template: Project, tmp_path: Path) -> Project:
    from fakeproject import copy_project

    return copy_project(sensor_template, tmp_path / "sensor-project")


@pytest.fixture
def image_copy(image_template: Project, tmp_path: Path) -> Project:
    from fakeproject import copy_project

    return copy_project(image_template, tmp_path / "image-project")
