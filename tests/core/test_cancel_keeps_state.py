"""A stopped command keeps the work or leaves the project as it was (issue 11, "Interrupts keep work"):
SIGINT and SIGTERM during a real `studio train` keep a stopped run that `studio evaluate` uses (exit 130, one
line); a cancelled re-import or variant rebuild leaves every file of the project as it was."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from studio import cli
from studio.core.errors import Cancelled
from studio.core.reporter import NullReporter


def _tree(root: Path) -> dict[str, bytes]:
    """Every file of a project and its bytes (the lock file is the OS's business, not the project's state)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".studio.lock"}


class CancelAt(NullReporter):
    """Asks to stop the first time ``when(kind, value)`` holds (as the GUI's Stop or a first Ctrl-C does)."""

    def __init__(self, when) -> None:
        super().__init__()
        self.when = when
        self.hit = False

    def _see(self, kind: str, value) -> None:
        if not self.hit and self.when(kind, value):
            self.hit = True
            self.cancel()

    def progress(self, fraction: float, message: str = "") -> None:
        self._see("progress", (fraction, message))

    def status(self, message: str) -> None:
        self._see("status", message)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_after_a_few_epochs_of_train_keeps_a_run_evaluate_uses(capsys, sensor_copy, monkeypatch,
                                                                        sig) -> None:
    """The real CLI path in this process: the signal arrives after epoch 3 of 500."""
    real = cli.CliReporter.metrics

    def metrics(self, kind, values):
        real(self, kind, values)
        if kind == "epoch" and values.get("epoch") == 3:
            os.kill(os.getpid(), sig)

    monkeypatch.setattr(cli.CliReporter, "metrics", metrics)
    p = str(sensor_copy.path)
    handler = signal.getsignal(sig)
    capsys.readouterr()
    code = cli.main(["train", p, "--epochs", "500", "--patience", "0", "--arch", "dense", "--batch-size", "64"])
    err = capsys.readouterr().err
    assert code == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("stopped: kept the best weights"), err
    [run_id] = [r for r in sensor_copy.list_runs() if r != "run-fake"]
    metrics_json = json.loads((sensor_copy.runs_dir / run_id / "metrics.json").read_text())
    assert metrics_json["state"] == "stopped" and metrics_json["stopped"]
    assert 3 <= len(metrics_json["epochs"]) < 500
    # a stopped run never replaces a usable model by itself (the GUI asks; `studio use` sets it)
    assert json.loads((sensor_copy.path / "project.json").read_text())["active_run"] == "run-fake"
    assert cli.main(["evaluate", p, "--run", run_id, "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["run"] == run_id, out.err
    assert signal.getsignal(sig) == handler  # restored after the command


def test_a_cancelled_reimport_leaves_the_earlier_data(sensor_copy, tmp_path: Path) -> None:
    from studio.core.data import import_data
    from studio.core.data.synth import make_sensor_folder

    src = make_sensor_folder(tmp_path / "rec", ("idle", "shake", "spin"), recordings=40, length=96)
    before = _tree(sensor_copy.path)
    rep = CancelAt(lambda kind, v: kind == "progress" and v[0] > 0)
    with pytest.raises(Cancelled):
        import_data(sensor_copy, src, window=32, stride=16, reporter=rep)
    assert rep.hit
    assert _tree(sensor_copy.path) == before
    assert not [p for p in sensor_copy.path.rglob(".*") if p.name != ".studio.lock"], "no staging left"


@pytest.mark.parametrize("at", ["data loaded", "before the commit"])
def test_a_cancelled_variant_rebuild_leaves_the_variant(sensor_copy, at: str) -> None:
    from studio.core.optimize import OptimizeConfig, load_variant, optimize

    before = _tree(sensor_copy.path)
    if at == "data loaded":
        rep = CancelAt(lambda kind, v: kind == "progress" and v[1] == "data loaded")
    else:  # the last step before the variant is written: the measurement is done
        rep = CancelAt(lambda kind, v: kind == "progress" and v[0] >= 0.9)
    with pytest.raises(Cancelled):
        optimize(sensor_copy, OptimizeConfig(quantize="float32", name="f32", measure_arena=False), rep)
    assert rep.hit
    assert _tree(sensor_copy.path) == before
    load_variant(sensor_copy, "f32")
