"""A project received from someone else is not trusted (issue 11, "Hostile project" and "Tracebacks")."""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path

import numpy as np
import pytest

from studio.core.errors import ConfigError, ProjectError
from studio.core.export import export
from studio.core.fsutil import atomic_write_json, read_json
from studio.core.project import Project


def _edit(path: Path, change) -> None:
    d = read_json(path)
    change(d)
    atomic_write_json(path, d)


# ---------------------------------------------------------------------------------------------- manifest paths
@pytest.mark.parametrize("bad", ["../../secret.png", "/etc/hostname", "/dev/zero", "disc/../../x.png", "C:\\x.png"])
def test_manifest_paths_outside_the_data_root_are_refused(image_copy, tmp_path: Path, bad: str) -> None:
    _edit(image_copy.manifest_path, lambda m: m["samples"][0].update(path=bad))
    with pytest.raises(ProjectError, match="damaged|outside|climbs|absolute"):
        image_copy.load_manifest()
    with pytest.raises(ProjectError):
        export(image_copy, tmp_path / "bundle")
    assert not (tmp_path / "bundle").exists()


def test_a_link_out_of_the_data_root_is_not_followed(image_copy, tmp_path: Path) -> None:
    from PIL import Image

    from studio.core.data import split_samples

    secret = tmp_path / "private" / "holiday.png"
    secret.parent.mkdir()
    Image.new("RGB", (20, 16), "red").save(secret)
    manifest = image_copy.load_manifest()
    sample = next(s for s in manifest["samples"] if s["split"] == "val")
    root = Path(manifest["roots"][0]["path"])
    link = root / "disc" / "link.png"
    os.symlink(secret, link)
    try:
        _edit(image_copy.manifest_path, lambda m: next(s for s in m["samples"] if s["path"] == sample["path"])
              .update(path="disc/link.png"))
        with pytest.raises(ProjectError, match="outside its data folder"):
            split_samples(image_copy, "val")
        with pytest.raises(ProjectError, match="outside its data folder"):
            export(image_copy, tmp_path / "bundle")
    finally:
        link.unlink()


def test_dev_zero_and_fifos_are_never_read(tmp_path: Path) -> None:
    from studio.core.data.image import check_image, load_image
    from studio.core.errors import DatasetError

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    with pytest.raises(DatasetError, match="named pipe"):
        load_image(fifo, 16, 3)
    with pytest.raises(DatasetError, match="device"):
        load_image("/dev/zero", 16, 3)
    assert "named pipe" in check_image(fifo).reason and "device" in check_image(Path("/dev/zero")).reason
    assert time.monotonic() - t0 < 2


# ---------------------------------------------------------------------------------------------- weights / shapes
def test_weights_declaring_36_gib_are_refused_before_reading(sensor_copy) -> None:
    import h5py

    from studio.core.runs import load_run_model

    weights = sensor_copy.runs_dir / "run-fake" / "weights.h5"
    with h5py.File(weights, "a") as fh:
        name = []
        fh.visititems(lambda n, o: name.append(n) if isinstance(o, h5py.Dataset) and o.ndim == 2 else None)
        del fh[name[0]]
        # 9 * 2**30 float32 = 36 GiB, chunked and never written: a few KB on disk
        fh.create_dataset(name[0], shape=(9 * 2**30,), dtype="float32", chunks=(2**20,), compression="gzip")
    assert weights.stat().st_size < 1_000_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ProjectError, match="weights do not fit"):
        load_run_model(sensor_copy)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB: nothing allocated


def test_weights_with_external_storage_are_refused(sensor_copy, tmp_path: Path) -> None:
    import h5py

    from studio.core.untrusted import check_weights_file

    path = tmp_path / "w.h5"
    (tmp_path / "ext.bin").write_bytes(b"\0" * 64)
    with h5py.File(path, "w") as fh:
        fh.create_dataset("k", shape=(4, 4), dtype="float32", external=[(str(tmp_path / "ext.bin"), 0, 64)])
    with pytest.raises(ProjectError, match="outside the file"):
        check_weights_file(path, [(4, 4)])
    with h5py.File(path, "w") as fh:
        fh["k"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "/x")
    with pytest.raises(ProjectError, match="link"):
        check_weights_file(path, [(4, 4)])


@pytest.mark.parametrize("change", [
    lambda d: d["input_spec"].update(window=64),  # spec disagrees with input_shape
    lambda d: (d["input_spec"].update(window=10**9), d.update(input_shape=[10**9, 3])),  # unbounded window
    lambda d: d.update(input_shape=[32, 3, 1]),
    lambda d: d["input_spec"].update(mean=[0.0]),  # per-channel statistics of the wrong length
    lambda d: d.update(classes=["idle", "idle"]),
    lambda d: d.update(classes="idle"),
])
def test_model_json_that_disagrees_with_itself_is_refused(sensor_copy, change) -> None:
    from studio.core.runs import read_run_info

    _edit(sensor_copy.runs_dir / "run-fake" / "model.json", change)
    with pytest.raises(ProjectError):
        read_run_info(sensor_copy)


def test_image_model_json_size_mismatch_is_refused(image_copy) -> None:
    from studio.core.runs import read_run_info

    _edit(image_copy.runs_dir / "run-fake" / "model.json", lambda d: d["input_spec"].update(size=4096))
    with pytest.raises(ProjectError):
        read_run_info(image_copy)


@pytest.mark.parametrize("change", [
    lambda m: m.update(window=10**9),
    lambda m: m.update(stride=0),
    lambda m: m.update(classes=["idle", "bad\nname"]),
    lambda m: m["recordings"][0].update(label="nope"),
    lambda m: m["normalization"].update(mean=[0.0]),
])
def test_sensor_manifest_out_of_bounds_is_refused(sensor_copy, change) -> None:
    _edit(sensor_copy.manifest_path, change)
    with pytest.raises(ProjectError, match="manifest"):
        sensor_copy.load_manifest()


def test_recordings_of_another_import_are_refused(sensor_copy) -> None:
    """The crash window of issue 11: new recordings.npz beside the old manifest evaluated silently wrong."""
    from studio.core.data.sensor import load_recordings

    _edit(sensor_copy.manifest_path, lambda m: m.update(generation="20260101000000-00000000"))
    with pytest.raises(ProjectError, match="another import"):
        load_recordings(sensor_copy)


def test_recordings_bigger_than_the_manifest_says_are_refused(sensor_copy) -> None:
    from studio.core.data.sensor import load_recordings

    _edit(sensor_copy.manifest_path, lambda m: m["recordings"][0].update(length=10**12))
    with pytest.raises(ProjectError, match="shape"):
        load_recordings(sensor_copy)


# ---------------------------------------------------------------------------------------------- labels
def test_a_label_with_a_newline_is_not_exported(sensor_copy, tmp_path: Path) -> None:
    for f in (sensor_copy.variants_dir / "f32" / "variant.json",):
        _edit(f, lambda d: d.update(classes=["idle\nextra", "shake"]))
    _edit(sensor_copy.manifest_path, lambda m: m.update(classes=["idle\nextra", "shake"]))
    with pytest.raises(ProjectError):  # the manifest refuses it on load
        export(sensor_copy, tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_write_bundle_refuses_control_characters(tmp_path: Path) -> None:
    from studio.core.export import Golden, write_bundle
    from studio.core.targets import get_target

    with pytest.raises(ConfigError, match="control character"):
        write_bundle(tmp_path, model_bytes=b"", variant={}, spec={"kind": "sensor"}, classes=["a\nb", "c"],
                     target=get_target("linux"), golden=Golden(["a"]), project_name="p")


# ---------------------------------------------------------------------------------------------- project.json
@pytest.mark.parametrize("edit", [
    {"schema_version": -1}, {"schema_version": "1"}, {"settings": "x"}, {"data": [1]}, {"active_run": 7},
])
def test_damaged_project_json_is_one_error(sensor_copy, edit) -> None:
    path = sensor_copy.path / "project.json"
    d = json.loads(path.read_text())
    d.update(edit)
    path.write_text(json.dumps(d))
    with pytest.raises(ProjectError, match="project.json"):
        Project.open(sensor_copy.path)


def test_hostile_npz_cannot_make_studio_allocate(sensor_copy) -> None:
    """A recordings.npz whose array header declares far more rows than the manifest is refused unread."""
    import zipfile

    from studio.core.data.sensor import load_recordings

    path = sensor_copy.data_dir / "recordings.npz"
    rid = sensor_copy.load_manifest()["recordings"][0]["id"]
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 3), np.float32))
    header["shape"] = (10**10, 3)
    with zipfile.ZipFile(path, "a") as zf:
        with zf.open(f"{rid}.npy", "w", force_zip64=True) as fh:
            np.lib.format.write_array_header_1_0(fh, header)
    with pytest.raises(ProjectError):
        load_recordings(sensor_copy)


# ---------------------------------------------------------------------------------------------- pipes and devices
class Hung(BaseException):
    """Raised by the alarm: a command blocked (no ``except Exception`` or ``except OSError`` swallows it)."""


PROJECT_FILES = ["project.json", "data/manifest.json", "data/recordings.npz", "runs/run-fake/model.json",
                 "runs/run-fake/weights.h5", "variants/f32/variant.json", "variants/f32/model.tflite"]


@pytest.mark.parametrize("kind", ["fifo", "device"])
@pytest.mark.parametrize("name", PROJECT_FILES)
def test_a_project_file_that_is_a_pipe_or_a_device_is_one_line_never_a_hang(capsys, sensor_copy, tmp_path: Path,
                                                                             name: str, kind: str) -> None:
    """A project from elsewhere with a named pipe, or a link to a device, in a file's place: every command
    ends at once (a pipe blocked the open forever, /dev/zero read until memory ran out)."""
    import signal

    from studio import cli

    target = sensor_copy.path / name
    target.unlink()
    os.mkfifo(target) if kind == "fifo" else os.symlink("/dev/null", target)
    p = str(sensor_copy.path)

    def hung(signum, frame):
        raise Hung(f"blocked on {name}")

    old = signal.signal(signal.SIGALRM, hung)
    errors = []
    try:
        for argv in (["info", p], ["variants", p], ["evaluate", p], ["export", p, str(tmp_path / "out")]):
            signal.alarm(30)
            code = cli.main(argv)
            signal.alarm(0)
            err = capsys.readouterr().err
            assert code in (0, 2) and "Traceback" not in err, (argv, code, err)
            errors += [line for line in err.splitlines() if line.startswith("error: ")]
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert any("not a regular file" in e for e in errors), errors
