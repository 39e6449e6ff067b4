"""End to end through the CLI on tiny sensor recordings: new -> import -> train -> evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.cli import main
from studio.core.data.synth import make_sensor_folder, make_sensor_single_csv


def run_json(capsys: pytest.CaptureFixture, *argv: str) -> dict:
    capsys.readouterr()
    code = main([*argv, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


@pytest.mark.slow
def test_sensor_project_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = make_sensor_folder(tmp_path / "data", ("idle", "shake"), recordings=6, length=256)
    fresh = make_sensor_single_csv(tmp_path / "fresh.csv", ("idle", "shake"), recordings=2, length=256, seed=4)
    project = str(tmp_path / "S")
    run_json(capsys, "new", project, "--task", "sensor")
    imported = run_json(capsys, "import", project, str(data), "--window", "64", "--stride", "32")
    assert set(imported["classes"]) == {"idle", "shake"}

    capsys.readouterr()
    assert main(["train", project, "--arch", "compact_cnn"]) == 2
    assert "image" in capsys.readouterr().err

    trained = run_json(capsys, "train", project)  # default: a short search, then MiniRocket
    assert trained["arch"] == "minirocket" and Path(trained["path"], "selection.json").exists()
    trained = run_json(capsys, "train", project, "--arch", "cnn1d", "--epochs", "2", "--batch-size", "8")
    assert trained["arch"] == "cnn1d" and len(trained["epochs"]) == 2
    trained = run_json(capsys, "train", project, "--arch", "dense", "--epochs", "1")
    assert trained["arch"] == "dense"

    ev = run_json(capsys, "evaluate", project)
    assert ev["labels"] == ["idle", "shake"] and ev["n"] > 0 and 0.0 <= ev["accuracy"] <= 1.0
    assert sum(map(sum, ev["confusion_matrix"])) == ev["n"]
    ev2 = run_json(capsys, "evaluate", project, "--data", str(fresh))
    assert ev2["n"] == 2 * 2 * 7  # 2 recordings per class, (256 - 64) / 32 + 1 windows each
    assert ev2["recordings"] == 4 and len(ev2["recording_confusion_matrix"]) == 2  # windows -> mean per recording
    assert 0.0 <= ev2["recording_accuracy"] <= 1.0
