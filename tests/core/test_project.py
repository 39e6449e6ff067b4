"""Project folder: create / open / save, the errors a damaged or foreign folder gives, and `studio info`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from datagen import make_image_folder, make_sensor_folder
from studio.core import fsutil
from studio.core.data import import_data
from studio.core.errors import ProjectError
from studio.core.info import project_info
from studio.core.fsutil import safe_name
from studio.core.project import SCHEMA_VERSION, Project, is_anomaly_task, modality_of


def test_create_and_open_round_trip(tmp_path: Path) -> None:
    p = Project.create(tmp_path / "p", "sensor", name="Pump vibration")
    p.settings["train"] = {"epochs": 3}
    p.save()
    q = Project.open(tmp_path / "p")
    assert q.task == "sensor" and q.name == "Pump vibration"
    assert q.settings["train"] == {"epochs": 3}
    assert q.data["schema_version"] == SCHEMA_VERSION
    # Opening by the project.json path works too.
    assert Project.open(tmp_path / "p" / "project.json").path == q.path


def test_create_refuses_bad_targets(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="unknown task"):
        Project.create(tmp_path / "a", "audio")
    Project.create(tmp_path / "b", "image")
    with pytest.raises(ProjectError, match="already exists"):
        Project.create(tmp_path / "b", "image")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    with pytest.raises(ProjectError, match="not empty"):
        Project.create(tmp_path / "full", "image")
    (tmp_path / "f").write_text("x")
    with pytest.raises(ProjectError, match="a file"):
        Project.create(tmp_path / "f", "image")


def test_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = Project.create(tmp_path / "p", "image")
    before = (p.path / "project.json").read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(fsutil.os, "replace", crash)
    p.data["name"] = "changed"
    with pytest.raises(OSError):
        p.save()
    monkeypatch.undo()
    assert (p.path / "project.json").read_bytes() == before
    assert sorted(os.listdir(p.path)) == ["project.json"]  # no temporary file left behind


def test_corrupt_project_json(tmp_path: Path) -> None:
    p = Project.create(tmp_path / "p", "image")
    (p.path / "project.json").write_text('{"schema_version": 1, "task": "ima')
    with pytest.raises(ProjectError, match="corrupt") as err:
        Project.open(p.path)
    assert err.value.path.endswith("project.json")
    (p.path / "project.json").write_text("[1, 2]")
    with pytest.raises(ProjectError, match="not a Studio project"):
        Project.open(p.path)
    (p.path / "project.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ProjectError):
        Project.open(p.path)


def test_newer_schema_is_refused_with_a_hint(tmp_path: Path) -> None:
    p = Project.create(tmp_path / "p", "image")
    data = json.loads((p.path / "project.json").read_text())
    data["schema_version"] = SCHEMA_VERSION + 1
    (p.path / "project.json").write_text(json.dumps(data))
    with pytest.raises(ProjectError, match="newer Studio") as err:
        Project.open(p.path)
    assert "update" in (err.value.hint or "")


def test_not_a_project_folder(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    with pytest.raises(ProjectError, match="no project here"):
        Project.open(tmp_path / "photos")
    with pytest.raises(ProjectError, match="no project here"):
        Project.open(tmp_path / "missing")


def test_unknown_task_in_file(tmp_path: Path) -> None:
    p = Project.create(tmp_path / "p", "image")
    data = json.loads((p.path / "project.json").read_text())
    data["task"] = "video"
    (p.path / "project.json").write_text(json.dumps(data))
    with pytest.raises(ProjectError, match="unknown task"):
        Project.open(p.path)


def test_corrupt_manifest_is_a_project_error(tmp_path: Path) -> None:
    p = Project.create(tmp_path / "p", "image")
    with pytest.raises(ProjectError, match="no data imported"):
        p.load_manifest()
    p.data_dir.mkdir()
    p.manifest_path.write_text("{oops")
    with pytest.raises(ProjectError, match="manifest is corrupt"):
        p.load_manifest()


def test_info_summarizes_data_runs_and_variants(tmp_path: Path) -> None:
    p = Project.create(tmp_path / "p", "image", name="Widgets")
    empty = project_info(p)
    assert empty["data"] is None and empty["runs"] == [] and empty["variants"] == []
    folder = make_image_folder(tmp_path / "d", {"ok": 6, "bad": 3})
    import_data(p, folder)
    run = p.runs_dir / "run-20260101-000000"
    run.mkdir(parents=True)
    (run / "model.json").write_text(json.dumps({"arch": "compact_cnn", "params": {"input_size": 32}}))
    (run / "weights.h5").write_bytes(b"w")
    (run / "metrics.json").write_text(json.dumps({"epochs": [{"val_accuracy": 0.5}, {"val_accuracy": 0.75}]}))
    broken = p.runs_dir / "run-20260102-000000"
    broken.mkdir()
    (broken / "model.json").write_text("{")
    (broken / "weights.h5").write_bytes(b"w")
    (p.variants_dir / "int8").mkdir(parents=True)
    (p.variants_dir / "int8" / "variant.json").write_text("{}")
    p.data["active_run"] = run.name
    p.save()
    info = project_info(Project.open(p.path))
    assert info["name"] == "Widgets" and info["task"] == "image" and info["schema_version"] == SCHEMA_VERSION
    assert info["data"]["classes"] == ["bad", "ok"]
    assert info["data"]["counts"] == {"bad": 3, "ok": 6}
    assert info["data"]["split_counts"]["val"] == {"bad": 1, "ok": 1}
    assert info["data"]["n_warnings"] == 1 and "only 3 images" in info["data"]["warnings"][0]
    assert info["data"]["channels"] == 3
    assert info["runs"][0] == {
        "id": run.name,
        "arch": "compact_cnn",
        "params": {"input_size": 32},
        "best_val_accuracy": 0.75,
        "epochs": 2,
    }
    assert info["runs"][1]["arch"] is None and info["runs"][1]["best_val_accuracy"] is None
    assert info["active_run"] == run.name
    assert info["variants"] == ["int8"]
    json.dumps(info)


def test_cli_info_for_a_sensor_project(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from studio.cli import main

    folder = make_sensor_folder(tmp_path / "s", ("a", "b"), recordings=3, length=300)
    p = Project.create(tmp_path / "p", "sensor")
    import_data(p, folder)
    assert main(["info", str(p.path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["task"] == "sensor"
    assert out["data"]["window"] == 300 and out["data"]["channels"] == ["ax", "ay", "az"]
    assert out["data"]["n_recordings"] == 6
    assert main(["info", str(tmp_path / "nothing")]) == 2
    assert "no project here" in capsys.readouterr().err


@pytest.mark.parametrize(
    "task, modality, anomaly",
    [("image", "image", False), ("sensor", "sensor", False), ("image-anomaly", "image", True),
     ("sensor-anomaly", "sensor", True)],
)
def test_modality_and_anomaly_follow_the_task(tmp_path: Path, task: str, modality: str, anomaly: bool) -> None:
    assert modality_of(task) == modality and is_anomaly_task(task) is anomaly
    project = Project(tmp_path, {"task": task})  # the anomaly tasks are not creatable yet; the derivation is
    assert project.modality == modality and project.is_anomaly is anomaly
    assert Project.create(tmp_path / "p", "sensor").modality == "sensor"


@pytest.mark.parametrize(
    "text, expected",
    [("int8 esp32", "int8-esp32"), ("v1.0_final", "v1.0_final"), ("..", "item"), (".", "item"), ("", "item"),
     ("  / \\ ", "item"), (".hidden", "hidden"), ("name.", "name"), ("con", "con-"), ("NUL.txt", "NUL.txt-"),
     ("Ünïcode ok?", "n-code-ok"), ("a" * 300, "a" * 100)],
)
def test_safe_name_is_always_a_usable_visible_name(text: str, expected: str) -> None:
    assert safe_name(text) == expected
    assert Project.safe_name(text) == expected


def test_safe_name_never_escapes_or_hides(tmp_path: Path) -> None:
    for k, text in enumerate(("../../etc", "a/../b", "...", "-.-", "x" * 1000, "\x00\n\t", "C:\\temp\\x")):
        name = safe_name(text)
        assert name not in ("", ".", "..") and not name.startswith(".") and "/" not in name and "\\" not in name
        (tmp_path / str(k) / name).mkdir(parents=True)  # a real folder can be made with it, inside its parent
        assert [p.name for p in (tmp_path / str(k)).iterdir()] == [name]


def test_atomic_path_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "weights.h5"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with fsutil.atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(".") and tmp.suffix == ".h5"
            tmp.write_bytes(b"half")
            raise RuntimeError("writer failed")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["weights.h5"]
    with fsutil.atomic_path(target) as tmp:
        tmp.write_bytes(b"new")  # a writer that opens the file by name (Keras, np.savez)
    assert target.read_bytes() == b"new" and os.listdir(tmp_path) == ["weights.h5"]
    with fsutil.atomic_open(tmp_path / "sub" / "x.bin") as fh:
        fh.write(b"abc")
    assert (tmp_path / "sub" / "x.bin").read_bytes() == b"abc" and len(os.listdir(tmp_path / "sub")) == 1
