"""End to end through the CLI on a tiny image folder: new -> import -> train -> evaluate, plus bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.cli import main
from studio.core.data.synth import make_image_folder


def run_json(capsys: pytest.CaptureFixture, *argv: str) -> dict:
    capsys.readouterr()
    code = main([*argv, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def run_fail(capsys: pytest.CaptureFixture, *argv: str) -> str:
    capsys.readouterr()
    code = main(list(argv))
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.slow
def test_image_project_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = make_image_folder(tmp_path / "data", {"crack": 8, "ok": 8, "scratch": 8}, size=(24, 24))
    fresh = make_image_folder(tmp_path / "fresh", {"crack": 2, "ok": 2, "scratch": 2}, size=(24, 24), seed=5)
    project = str(tmp_path / "P")
    run_json(capsys, "new", project, "--task", "image")
    assert "no data imported" in run_fail(capsys, "train", project)
    imported = run_json(capsys, "import", project, str(data), "--val-split", "0.25")
    assert imported["classes"] == {"crack": 8, "ok": 8, "scratch": 8}
    assert "sensor" in run_fail(capsys, "train", project, "--arch", "cnn1d")
    assert "unknown architecture" in run_fail(capsys, "train", project, "--arch", "resnet9000")
    assert "input sizes" in run_fail(capsys, "train", project, "--input-size", "4")

    trained = run_json(capsys, "train", project, "--epochs", "2", "--batch-size", "6", "--input-size", "16")
    assert len(trained["epochs"]) == 2 and trained["params"] > 0 and trained["run"]
    assert 0.0 <= trained["best_val_accuracy"] <= 1.0
    for row in trained["epochs"]:
        assert row["seconds"] > 0 and row["loss"] > 0

    ev = run_json(capsys, "evaluate", project)
    assert ev["n"] == 6 and ev["labels"] == ["crack", "ok", "scratch"] and 0.0 <= ev["accuracy"] <= 1.0
    assert set(ev["per_class"]) == {"crack", "ok", "scratch"}
    assert len(ev["confusion_matrix"]) == 3
    ev2 = run_json(capsys, "evaluate", project, "--data", str(fresh))
    assert ev2["n"] == 6


def test_archs_lists_image_and_sensor_models(capsys: pytest.CaptureFixture) -> None:
    out = run_json(capsys, "archs")
    ids = {a["id"]: a["task"] for a in out["architectures"]}
    assert ids == {"mobilenetv2": "image", "compact_cnn": "image", "cnn1d": "sensor", "dense": "sensor",
                   "minirocket": "sensor", "fcn": "sensor", "resnet1d": "sensor", "inception": "sensor"}
