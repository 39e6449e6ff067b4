"""Export never deletes what it did not write, refuses the project's own folders, honours the umask
(issue 11, "Export deletes a folder's contents" and "project files are created 0600")."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from studio.core import commit
from studio.core.errors import ConfigError, ProjectError
from studio.core.export import export
from studio.core.export_folder import verify_bundle
from studio.core.optimize import list_variants


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_reexport_keeps_the_users_files_and_replaces_only_its_own(sensor_copy, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    export(sensor_copy, out)
    first = json.loads((out / "bundle.json").read_text())
    (out / "build").mkdir()
    (out / "build" / "firmware.elf").write_bytes(b"\x7fELF user build")
    (out / "notes.txt").write_text("my notes")
    # a file the earlier export wrote that the new one does not: removed; one the user edited since: kept
    (out / "golden" / "99_stale.npz").write_bytes(b"old golden")
    (out / "golden" / "98_edited.npz").write_bytes(b"old golden, edited below")
    first["files"] += ["golden/99_stale.npz", "golden/98_edited.npz"]
    first["sha256"]["golden/99_stale.npz"] = _sha(out / "golden" / "99_stale.npz")
    first["sha256"]["golden/98_edited.npz"] = _sha(out / "golden" / "98_edited.npz")
    (out / "bundle.json").write_text(json.dumps(first))
    (out / "golden" / "98_edited.npz").write_bytes(b"the user changed this file")

    export(sensor_copy, out)
    second = json.loads((out / "bundle.json").read_text())
    assert second["generation"] != first["generation"]
    assert (out / "build" / "firmware.elf").read_bytes() == b"\x7fELF user build"
    assert (out / "notes.txt").read_text() == "my notes"
    assert not (out / "golden" / "99_stale.npz").exists()
    assert (out / "golden" / "98_edited.npz").read_bytes() == b"the user changed this file"
    assert verify_bundle(out) == []
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no staging folder or journal left"


def test_export_refuses_the_project_and_its_data(sensor_copy, tmp_path: Path) -> None:
    project = sensor_copy
    manifest = project.load_manifest()
    source = Path(manifest["source"])
    before = sorted(p.relative_to(project.path) for p in project.path.rglob("*"))
    for out in (project.path, project.path.parent, project.data_dir, project.runs_dir / "x", source,
                source / "idle" / "bundle", source.parent):
        with pytest.raises(ConfigError):
            export(project, out)
    assert sorted(p.relative_to(project.path) for p in project.path.rglob("*")) == before
    assert (source / "idle").is_dir()
    # inside P/exports is where the GUI puts bundles: allowed
    assert export(project, project.exports_dir / "f32-linux").out.is_dir()


def test_export_refuses_a_folder_of_other_files(sensor_copy, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "mine.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not an earlier Studio export"):
        export(sensor_copy, mine)
    assert [p.name for p in mine.iterdir()] == ["mine.txt"] and (mine / "mine.txt").read_text() == "keep me"


def test_files_and_folders_follow_the_umask(sensor_copy, tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        sensor_copy.save()
        out = export(sensor_copy, tmp_path / "bundle").out
        staged = commit.staging_dir(tmp_path, "x")
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(sensor_copy.path / "project.json") == 0o640
    assert mode(out) == 0o750 and mode(out / "golden") == 0o750
    assert mode(out / "bundle.json") == 0o640 and mode(out / "model.tflite") == 0o640
    assert mode(staged) == 0o750
    old = os.umask(0o022)
    try:
        sensor_copy.save()
    finally:
        os.umask(old)
    assert mode(sensor_copy.path / "project.json") == 0o644
    variant = sensor_copy.variants_dir / "f32"
    assert mode(variant) == 0o755 and mode(variant / "variant.json") == 0o644  # written under the default umask


def test_export_refuses_a_variant_of_other_classes(sensor_copy, tmp_path: Path) -> None:
    from studio.core.data import import_data
    from studio.core.data.synth import make_sensor_folder

    src = make_sensor_folder(tmp_path / "rec3", ("idle", "shake", "spin"), recordings=3, length=96)
    import_data(sensor_copy, src, window=32, stride=16, seed=1)
    with pytest.raises(ConfigError, match="trained on classes"):
        export(sensor_copy, tmp_path / "b1")
    # same number of classes, other names: the golden labels would be silently wrong
    src = make_sensor_folder(tmp_path / "rec2", ("calm", "shake"), recordings=3, length=96)
    import_data(sensor_copy, src, window=32, stride=16, seed=1)
    with pytest.raises(ConfigError, match="trained on classes"):
        export(sensor_copy, tmp_path / "b2")
    assert not (tmp_path / "b1").exists() and not (tmp_path / "b2").exists()


def test_damaged_variant_is_one_error(sensor_copy, tmp_path: Path) -> None:
    model = sensor_copy.variants_dir / "f32" / "model.tflite"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(ProjectError, match="damaged"):
        export(sensor_copy, tmp_path / "b")
    model.write_bytes(b"not a model at all")
    with pytest.raises(ProjectError, match="damaged"):
        export(sensor_copy, tmp_path / "b")


def test_leftovers_of_a_crashed_swap_are_never_listed_and_are_cleaned(sensor_copy, monkeypatch) -> None:
    from studio.core.project import Project

    vdir = sensor_copy.variants_dir
    # as a kill between the two renames of a replacement leaves them
    staged = commit.staging_dir(vdir, "f32")
    (staged / "variant.json").write_text("{}")
    os.replace(vdir / "f32", vdir / f".f32.studio-old-{os.getpid()}-20260101000000-abcd")
    assert sensor_copy.list_variants() == [] and list_variants(sensor_copy) == []
    assert commit.recover(vdir) == [], "the process that made them is alive: a commit in progress, untouched"
    monkeypatch.setattr(commit, "creator_alive", lambda pid: False)  # as seen by the next process
    Project.open(sensor_copy.path)  # opening cleans up
    assert sensor_copy.list_variants() == ["f32"]
    assert sorted(p.name for p in vdir.iterdir()) == ["f32"]


def test_leftovers_of_studio_before_commits_are_cleaned_too(sensor_copy, monkeypatch) -> None:
    """A project made by the earlier replace_dir, killed between its renames: '.f32.old-<pid>-<ns>' with no
    f32 in place, and a '.f32.<mkdtemp>.tmp' staging folder. Never listed; the next open puts f32 back."""
    from studio.core.project import Project

    vdir = sensor_copy.variants_dir
    (vdir / ".f32.k3j_x9q2.tmp").mkdir()
    (vdir / ".f32.k3j_x9q2.tmp" / "variant.json").write_text("{}")
    os.replace(vdir / "f32", vdir / ".f32.old-4242-1764590000123456789")
    (vdir / ".notes.tmp").write_text("not Studio's: kept")
    assert sensor_copy.list_variants() == [] and list_variants(sensor_copy) == []
    monkeypatch.setattr(commit, "creator_alive", lambda pid: False)
    Project.open(sensor_copy.path)
    assert sensor_copy.list_variants() == ["f32"] and list_variants(sensor_copy)[0]["name"] == "f32"
    assert sorted(p.name for p in vdir.iterdir()) == [".notes.tmp", "f32"]


def test_a_cancelled_reexport_leaves_the_earlier_bundle(sensor_copy, tmp_path: Path) -> None:
    from studio.core.errors import Cancelled
    from studio.core.reporter import NullReporter

    class StopWhileWriting(NullReporter):
        def status(self, message: str) -> None:
            if message.startswith("Recording golden outputs"):
                self.cancel()

    out = tmp_path / "bundle"
    export(sensor_copy, out)
    (out / "notes.txt").write_text("mine")
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(Cancelled):
        export(sensor_copy, out, reporter=StopWhileWriting())
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert verify_bundle(out) == []
