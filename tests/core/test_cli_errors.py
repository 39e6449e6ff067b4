"""Every input or environment error of issue 11 is one line and exit 2, never a traceback (exit 1)."""

from __future__ import annotations

import errno
import json
import os
import signal
from pathlib import Path

import pytest

from studio import cli
from studio.core.errors import Cancelled


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    err = capsys.readouterr().err
    return code, err


def one_line_error(code: int, err: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) >= 1 and lines[-1].startswith("error: "), err
    assert sum(1 for line in lines if line.startswith("error: ")) == 1


def _fail_writes(monkeypatch: pytest.MonkeyPatch, code: int, match: str = "") -> None:
    """Every atomic write (rename into place) of a file whose path contains ``match`` fails like a full disk."""
    real = os.replace

    def broken(src, dst, *a, **kw):
        if match in str(dst):
            raise OSError(code, os.strerror(code), str(dst))
        return real(src, dst, *a, **kw)

    monkeypatch.setattr(os, "replace", broken)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_import_on_a_full_or_read_only_disk(capsys, tmp_path: Path, monkeypatch, code: int) -> None:
    from studio.core.data.synth import make_sensor_folder

    src = make_sensor_folder(tmp_path / "rec", ("idle", "shake"), recordings=3, length=64)
    assert run(capsys, "new", str(tmp_path / "p"), "--task", "sensor")[0] == 0
    _fail_writes(monkeypatch, code, "manifest")
    c, err = run(capsys, "import", str(tmp_path / "p"), str(src), "--window", "32")
    one_line_error(c, err)
    assert os.strerror(code) in err
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == [".studio.lock", "project.json"], "no leftovers"


def test_export_and_optimize_on_a_full_disk(capsys, sensor_copy, tmp_path: Path, monkeypatch) -> None:
    _fail_writes(monkeypatch, errno.ENOSPC, "bundle")
    monkeypatch.setattr(Path, "write_bytes", _raise_enospc)
    one_line_error(*run(capsys, "export", str(sensor_copy.path), str(tmp_path / "out")))
    assert not (tmp_path / "out").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]
    monkeypatch.undo()
    _fail_writes(monkeypatch, errno.ENOSPC, "model.tflite")
    one_line_error(*run(capsys, "optimize", str(sensor_copy.path), "--quantize", "float32", "--name", "q"))
    assert sorted(p.name for p in sensor_copy.variants_dir.iterdir()) == ["f32"]


def _raise_enospc(self, data):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))


def test_train_on_a_full_disk_leaves_no_empty_run(capsys, sensor_copy, monkeypatch) -> None:
    _fail_writes(monkeypatch, errno.ENOSPC, "config.json")
    one_line_error(*run(capsys, "train", str(sensor_copy.path), "--epochs", "1"))
    assert sorted(p.name for p in sensor_copy.runs_dir.iterdir()) == ["run-fake"]


@pytest.mark.parametrize("edit", [{"schema_version": -1}, {"schema_version": 99}, {"settings": "x"}])
def test_damaged_project_json(capsys, sensor_copy, edit) -> None:
    path = sensor_copy.path / "project.json"
    path.write_text(json.dumps(dict(json.loads(path.read_text()), **edit)))
    for argv in (["info"], ["evaluate"], ["export", "out"], ["train", "--epochs", "1"]):
        cmd = [argv[0], str(sensor_copy.path)] + argv[1:]
        one_line_error(*run(capsys, *cmd))


def test_schema_version_0_is_one_line(capsys, sensor_copy) -> None:
    """project.json versions start at 1: 0 is refused in one line (it was a KeyError traceback)."""
    path = sensor_copy.path / "project.json"
    path.write_text(json.dumps(dict(json.loads(path.read_text()), schema_version=0)))
    code, err = run(capsys, "info", str(sensor_copy.path))
    one_line_error(code, err)
    assert "schema_version 0" in err


def test_damaged_variant_and_class_change(capsys, sensor_copy, tmp_path: Path) -> None:
    from studio.core.data.synth import make_sensor_folder

    model = sensor_copy.variants_dir / "f32" / "model.tflite"
    good = model.read_bytes()
    model.write_bytes(good[: len(good) // 2])
    one_line_error(*run(capsys, "export", str(sensor_copy.path), str(tmp_path / "a")))
    model.write_bytes(good)
    src = make_sensor_folder(tmp_path / "rec3", ("idle", "shake", "spin"), recordings=3, length=96)
    assert run(capsys, "import", str(sensor_copy.path), str(src), "--window", "32")[0] == 0
    c, err = run(capsys, "export", str(sensor_copy.path), str(tmp_path / "b"))
    one_line_error(c, err)
    assert "train and optimize again" in err
    c, err = run(capsys, "evaluate", str(sensor_copy.path))
    one_line_error(c, err)


def test_fifo_as_the_csv(capsys, tmp_path: Path) -> None:
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    assert run(capsys, "new", str(tmp_path / "p"), "--task", "sensor")[0] == 0
    c, err = run(capsys, "import", str(tmp_path / "p"), str(fifo))
    one_line_error(c, err)
    assert "named pipe" in err


def test_export_into_the_project_is_refused(capsys, sensor_copy) -> None:
    before = sorted(str(p) for p in sensor_copy.path.rglob("*"))
    for out in (sensor_copy.path, sensor_copy.path.parent, sensor_copy.data_dir):
        one_line_error(*run(capsys, "export", str(sensor_copy.path), str(out)))
    assert sorted(str(p) for p in sensor_copy.path.rglob("*")) == before


def test_epochs_message_names_the_limit(capsys, sensor_copy) -> None:
    c, err = run(capsys, "train", str(sensor_copy.path), "--epochs", "100000")
    one_line_error(c, err)
    assert "between 1 and 10000" in err


def test_optimize_name_dot_keeps_the_variants(capsys, sensor_copy) -> None:
    for name in (".", ".."):
        code, err = run(capsys, "optimize", str(sensor_copy.path), "--quantize", "float32", "--name", name)
        assert code == 0, err
    names = sorted(p.name for p in sensor_copy.variants_dir.iterdir())
    assert names == ["f32", "item"] and (sensor_copy.variants_dir / "f32" / "variant.json").exists()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_a_command_like_the_stop_button(capsys, monkeypatch, sig) -> None:
    """First signal: the step sees cancel_requested() and stops cleanly (exit 130, one line)."""
    seen = []

    def command(args, rep):
        os.kill(os.getpid(), sig)
        for _ in range(1000):
            if rep.cancel_requested():
                seen.append(True)
                raise Cancelled("the import was stopped")
        raise AssertionError("the signal did not reach the reporter")

    monkeypatch.setattr(cli, "cmd_targets", command)
    before = signal.getsignal(sig)
    code, err = run(capsys, "targets")
    assert code == 130 and seen and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("stopped: the import was stopped")
    assert signal.getsignal(sig) == before  # the handler is restored after the command


def test_damage_to_project_json_during_training_is_one_error_and_keeps_the_run(sensor_copy) -> None:
    """`"settings": "x"` written while training ran: the final save refuses it in one line; the run is kept."""
    from studio.core.errors import ProjectError
    from studio.core.reporter import NullReporter
    from studio.core.runs import load_run_model, run_state
    from studio.core.train import default_config, train

    class Damaging(NullReporter):
        def metrics(self, kind, values):
            if kind == "epoch" and values.get("epoch") == 1:
                path = sensor_copy.path / "project.json"
                path.write_text(json.dumps(dict(json.loads(path.read_text()), settings="x")))

    config = default_config(sensor_copy, arch="dense", epochs=2, patience=0)
    with pytest.raises(ProjectError, match="'settings' holds str"):
        train(sensor_copy, config, Damaging())
    [run] = [r for r in sorted(p.name for p in sensor_copy.runs_dir.iterdir()) if r != "run-fake"]
    assert run_state(sensor_copy.runs_dir / run) == "finished"
    assert (sensor_copy.runs_dir / run / "model.json").exists() and (sensor_copy.runs_dir / run / "weights.h5").exists()


def _damage(project, case: str) -> None:
    """Break ``project`` the way one of issue 11's reproductions did."""
    import h5py

    def edit(path, change):
        d = json.loads(path.read_text())
        change(d)
        path.write_text(json.dumps(d))

    run = project.runs_dir / "run-fake"
    if case == "manifest-classes":
        edit(project.manifest_path, lambda m: m.update(classes="idle"))
    elif case == "manifest-window":
        edit(project.manifest_path, lambda m: m.update(window=10**9))
    elif case == "model-json-spec":
        edit(run / "model.json", lambda d: d["input_spec"].update(window=64))
    elif case == "weights-36-gib":
        with h5py.File(run / "weights.h5", "a") as fh:
            names = []
            fh.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) and o.ndim == 2 else None)
            del fh[names[0]]
            fh.create_dataset(names[0], shape=(9 * 2**30,), dtype="float32", chunks=(2**20,))
    elif case == "variant-truncated":
        model = project.variants_dir / "f32" / "model.tflite"
        model.write_bytes(model.read_bytes()[:1000])
    elif case == "recordings-of-another-import":
        edit(project.manifest_path, lambda m: m.update(generation="19990101000000-deadbeef"))
    elif case == "settings-x":
        edit(project.path / "project.json", lambda d: d.update(settings="x"))
    elif case == "schema-minus-1":
        edit(project.path / "project.json", lambda d: d.update(schema_version=-1))


@pytest.mark.parametrize("case", ["manifest-classes", "manifest-window", "model-json-spec", "weights-36-gib",
                                  "variant-truncated", "recordings-of-another-import", "settings-x",
                                  "schema-minus-1"])
def test_no_command_exits_1_with_a_traceback(capsys, sensor_copy, tmp_path: Path, case: str) -> None:
    """The sweep: every command on every damaged project ends in 0 or one line with exit 2."""
    _damage(sensor_copy, case)
    p = str(sensor_copy.path)
    commands = [["info", p], ["variants", p], ["evaluate", p], ["export", p, str(tmp_path / "out")],
                ["optimize", p, "--quantize", "float32", "--name", "z"]]
    if case not in ("weights-36-gib", "model-json-spec", "variant-truncated"):  # training would just work
        commands.append(["train", p, "--epochs", "1"])
    for argv in commands:
        code, err = run(capsys, *argv)
        assert "Traceback" not in err and code in (0, 2), (argv, code, err)
        if code == 2:
            one_line_error(code, err)
