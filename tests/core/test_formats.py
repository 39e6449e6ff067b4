"""Versioned project files: real files from before versioning load and migrate, newer ones are refused clearly.

``formats/v0/`` holds files written by Studio at commit 5ae8550 (before manifest, variant and bundle files
carried a version): an image and a sensor manifest, a run's model.json, a variant.json, a bundle.json and a
project.json, made by scratch runs of import -> train -> optimize -> export on tiny generated data (absolute
paths replaced by /home/user/studio-data).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from studio.core import formats
from studio.core.errors import ProjectError
from studio.core.formats import FileFormat, migrator, read_versioned, upgrade
from studio.core.project import Project

OLD = Path(__file__).parent / "formats" / "v0"


def old(name: str) -> dict[str, Any]:
    return json.loads((OLD / name).read_text(encoding="utf-8"))


def _with_manifest(tmp_path: Path, name: str, task: str) -> Project:
    project = Project.create(tmp_path / name, task)
    project.data_dir.mkdir()
    shutil.copy(OLD / name, project.manifest_path)
    return project


def test_old_manifests_load_and_migrate(tmp_path: Path) -> None:
    for name, task in (("manifest_image.json", "image"), ("manifest_sensor.json", "sensor")):
        before = old(name)
        assert "schema_version" not in before  # really a pre-versioning file
        m = _with_manifest(tmp_path, name, task).load_manifest()
        assert m["schema_version"] == formats.FORMATS["manifest"].current == 1
        assert {k: m[k] for k in before} == before  # nothing the old file said is changed
    data = old("manifest_sensor.json")
    del data["recording_counts"], data["sample_rate_hz"]  # what an even older sensor manifest lacked
    upgraded = upgrade("manifest", data)
    assert upgraded["recording_counts"] == {"idle": 3, "shake": 3} and upgraded["sample_rate_hz"] is None
    assert upgrade("manifest", old("manifest_sensor.json"))["sample_rate_hz"] == 50.0  # kept when present


def test_old_image_manifest_still_drives_the_data_layer(tmp_path: Path) -> None:
    from studio.core.data import split_samples

    project = _with_manifest(tmp_path, "manifest_image.json", "image")
    paths, labels, ids = split_samples(project, "train")
    assert len(paths) == 6 and sorted(labels.tolist()) == [0, 0, 0, 1, 1, 1]


def test_a_new_import_writes_the_current_version(tmp_path: Path, image_folder: Path) -> None:
    from studio.core.data import import_data

    project = Project.create(tmp_path / "p", "image")
    result = import_data(project, image_folder)
    on_disk = json.loads(project.manifest_path.read_text())
    assert on_disk["schema_version"] == 1
    assert "schema_version" not in result.manifest  # stamping does not mutate the caller's dict


def test_old_model_json_is_read_and_its_format_checked(tmp_path: Path) -> None:
    from studio.core.runs import read_run_info

    project = Project.create(tmp_path / "p", "image")
    run = project.runs_dir / "run-1"
    run.mkdir(parents=True)
    (run / "weights.h5").write_bytes(b"")
    model = old("model.json")
    assert model["format"] == 1
    (run / "model.json").write_text(json.dumps(model))
    info = read_run_info(project, "run-1")
    assert info.arch == "compact_cnn" and info.classes == ["disc", "ring"] and info.input_shape == (16, 16, 3)
    del model["format"], model["task"], model["n_classes"]  # a model.json from before "format" existed
    (run / "model.json").write_text(json.dumps(model))
    info = read_run_info(project, "run-1")
    assert info.extra["format"] == 1 and info.extra["task"] == "image" and info.extra["n_classes"] == 2
    (run / "model.json").write_text(json.dumps(dict(old("model.json"), format=2)))
    with pytest.raises(ProjectError, match="made by a newer Studio.*update") as err:
        read_run_info(project, "run-1")
    assert err.value.path is not None and str(err.value.path).endswith("model.json")


def test_old_variant_loads_and_a_newer_one_is_refused_or_left_out(tmp_path: Path) -> None:
    from studio.core.optimize import list_variants
    from studio.core.optimize.store import load_variant, write_variant

    project = Project.create(tmp_path / "p", "image")
    folder = project.variants_dir / "int8"
    folder.mkdir(parents=True)
    (folder / "model.tflite").write_bytes(b"TFL3")
    shutil.copy(OLD / "variant.json", folder / "variant.json")
    data, blob = load_variant(project, "int8")
    assert data["schema_version"] == 1 and data["quantize"] == "int8" and blob == b"TFL3"
    assert [v["name"] for v in list_variants(project)] == ["int8"]
    write_variant(project.variants_dir, "newer", b"TFL3", dict(old("variant.json"), schema_version=7))
    assert json.loads((project.variants_dir / "newer" / "variant.json").read_text())["schema_version"] == 1
    (project.variants_dir / "newer" / "variant.json").write_text(
        json.dumps(dict(old("variant.json"), schema_version=7)))
    with pytest.raises(ProjectError, match="variant.json was made by a newer Studio"):
        load_variant(project, "newer")
    assert [v["name"] for v in list_variants(project)] == ["int8"]  # the unreadable one is not listed


def test_old_bundle_and_project_files(tmp_path: Path) -> None:
    bundle = read_versioned("bundle", OLD / "bundle.json")
    assert bundle["schema_version"] == 1 and bundle["variant"] == "int8" and bundle["run_id"].startswith("run-")
    (tmp_path / "p").mkdir()
    shutil.copy(OLD / "project.json", tmp_path / "p" / "project.json")
    p = Project.open(tmp_path / "p")
    assert p.name == "old image" and p.modality == "image" and p.data["schema_version"] == 1
    with pytest.raises(ProjectError, match="bundle.json was made by a newer Studio"):
        upgrade("bundle", dict(bundle, schema_version=2))
    with pytest.raises(ProjectError, match="invalid"):
        upgrade("bundle", dict(bundle, schema_version="1"))


def test_migrator_chain_runs_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(formats.FORMATS, "demo", FileFormat("demo", "v", 3, "demo.json"))
    monkeypatch.setitem(formats._MIGRATORS, "demo", {})
    with pytest.raises(RuntimeError, match="no migrator for demo"):
        formats._check_chains()

    @migrator("demo", 0)
    def _to_1(d: dict) -> dict:
        d["steps"] = ["0->1"]
        return d

    @migrator("demo", 1)
    def _to_2(d: dict) -> dict:
        d["steps"].append("1->2")
        d["name"] = d.pop("title")
        return d

    @migrator("demo", 2)
    def _to_3(d: dict) -> dict:
        d["steps"].append("2->3")
        return d

    formats._check_chains()
    assert upgrade("demo", {"title": "x"}) == {"steps": ["0->1", "1->2", "2->3"], "name": "x", "v": 3}
    assert upgrade("demo", {"v": 2, "steps": [], "name": "y"}) == {"steps": ["2->3"], "name": "y", "v": 3}
    with pytest.raises(ValueError, match="two migrators"):
        migrator("demo", 1)(_to_2)
    with pytest.raises(ValueError, match="unknown file kind"):
        migrator("nothing", 0)
