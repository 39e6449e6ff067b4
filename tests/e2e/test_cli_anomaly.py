"""Anomaly projects through the CLI: new -> import -> train -> evaluate -> threshold -> optimize -> export, and
the bundle's harness (OK / NOT OK) and golden self-test in a clean interpreter, passing as exported and failing
on a swapped model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import main
from studio.core.bundle_check import check_bundle
from studio.core.data.synth import make_anomaly_image_folder, make_anomaly_sensor_folder

EVAL_FIELDS = {"auroc", "threshold", "detection_rate", "false_alarm_rate", "accuracy", "confusion_matrix",
               "per_defect", "most_anomalous"}


def run_json(capsys: pytest.CaptureFixture, *argv: str) -> dict:
    capsys.readouterr()
    code = main([*argv, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def harness(bundle: Path, *args: str) -> subprocess.CompletedProcess:
    """run_model.py in an isolated interpreter (-I: no PYTHONPATH, no Studio on the path)."""
    return subprocess.run([sys.executable, "-I", str(bundle / "run_model.py"), *args], cwd=bundle,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_image_anomaly_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = make_anomaly_image_folder(tmp_path / "data", good=30, defects={"hole": 4, "scratch": 4}, size=(32, 32))
    fresh = make_anomaly_image_folder(tmp_path / "fresh", good=6, defects={"stain": 3, "hole": 3}, size=(32, 32),
                                      normal="ok", seed=9)
    project = str(tmp_path / "P")
    run_json(capsys, "new", project, "--task", "image-anomaly")
    run_json(capsys, "import", project, str(data))
    trained = run_json(capsys, "train", project)
    assert trained["detector"] == "patch" and trained["val_auroc"] >= 0.9 and not trained["stopped"]

    ev = run_json(capsys, "evaluate", project, "--data", str(fresh))
    assert EVAL_FIELDS <= set(ev) and ev["unit"] == "image" and ev["n"] == 12
    assert ev["confusion_matrix"][0][0] + ev["confusion_matrix"][0][1] == 6  # the 'ok' folder is good
    assert set(ev["per_defect"]) == {"stain", "hole"}  # 'stain' was never imported: still evaluated
    assert ev["most_anomalous"][0]["defect"] and "heatmap" in ev["most_anomalous"][0]

    moved = run_json(capsys, "threshold", project, "--value", str(ev["threshold"] * 2))
    assert moved["threshold"] == pytest.approx(ev["threshold"] * 2) and moved["policy"]["kind"] == "value"
    run_json(capsys, "threshold", project, "--false-alarms", "0.01")

    variant = run_json(capsys, "optimize", project, "--quantize", "int8")
    a = variant["anomaly"]
    assert a["auroc"] >= a["keras_auroc"] - 0.02 and variant["arena"]["ok"]
    bundle = tmp_path / "bundle"
    run_json(capsys, "export", project, str(bundle))
    pre = json.loads((bundle / "preprocess.json").read_text())
    assert pre["anomaly"]["threshold"] == pytest.approx(a["threshold"])

    ok = harness(bundle, "--selftest")
    assert ok.returncode == 0 and "SELFTEST PASSED" in ok.stdout, ok.stdout + ok.stderr
    assert "correct on these examples" in ok.stdout
    checked = check_bundle(bundle)  # what the GUI's self-test runs: run_model.py --selftest --json
    assert checked["ok"] and checked["correct"]["total"] == len(checked["items"]), checked["summary"]
    assert {r["predicted"] for r in checked["items"]} <= {"OK", "NOT OK"}
    line = harness(bundle, str(fresh / "hole" / "hole_000.png"), "--map", str(tmp_path / "map.png")).stdout
    assert "NOT OK" in line and "threshold" in line and (tmp_path / "map.png").stat().st_size > 0

    # Try it answers new files as the bundle does (same LiteRT model and threshold), the float detector beside
    hole = fresh / "hole" / "hole_000.png"
    tried = run_json(capsys, "try", project, str(hole), str(fresh / "ok"))
    device = json.loads(harness(bundle, str(hole), "--json").stdout)[0]
    item = tried["items"][0]
    assert len(tried["items"]) == 7 and tried["model"]["kind"] == "litert" and tried["float_model"]["kind"] == "keras"
    assert item["verdict"] == device["verdict"] == "NOT OK"
    assert item["score"] == pytest.approx(device["score"], abs=1e-3) and item["threshold"] == pytest.approx(a["threshold"], abs=1e-3)
    assert item["float"]["verdict"] in ("OK", "NOT OK") and item["differs"] == (item["float"]["verdict"] != "NOT OK")
    why = item["why"]
    assert why["kind"] == "image" and max(map(max, why["heatmap"])) > 0.5 and why["peak"] is not None
    assert tried["n_not_ok"] == sum(i["verdict"] == "NOT OK" for i in tried["items"])

    # another model in the bundle, with the same input, outputs and dtype (the whole-image detector of the same
    # data), and the float model of the same detector: the self-test must catch both
    run_json(capsys, "optimize", project, "--quantize", "float32")
    run_json(capsys, "train", project, "--detector", "global")
    run_json(capsys, "optimize", project, "--quantize", "int8", "--name", "global-int8")
    for other in ("global-int8", "float32"):
        shutil.copyfile(Path(project) / "variants" / other / "model.tflite", bundle / "model.tflite")
        swapped = harness(bundle, "--selftest")
        assert swapped.returncode == 1 and "SELFTEST FAILED" in swapped.stdout, other


@pytest.mark.slow
def test_sensor_anomaly_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_anomaly_sensor_folder(tmp_path / "data", normal=10, defects={"rattle": 4}, length=200)
    project = str(tmp_path / "S")
    run_json(capsys, "new", project, "--task", "sensor-anomaly")
    run_json(capsys, "import", project, str(data), "--window", "64", "--stride", "32")
    trained = run_json(capsys, "train", project)
    assert trained["detector"] == "window"
    ev = run_json(capsys, "evaluate", project)
    assert EVAL_FIELDS <= set(ev) and ev["unit"] == "recording"
    assert ev["n"] == 6 and ev["windows"]["n"] == 6 * 6  # 200 rows: windows at 0..128 plus one at the end
    assert ev["recording_accuracy"] == ev["accuracy"] and ev["recordings"] == len(ev["recording_items"]) == 6
    # the threshold rests on the 2 validation and the 8 training good recordings (each held out of a refit)
    assert (ev["threshold_good_examples"], ev["threshold_val_good"], ev["threshold_held_out_good"]) == (10, 2, 8)
    assert ev["threshold_warning"].startswith("The threshold rests on 10 good recordings; add more good examples")
    assert trained["threshold_good_examples"] == 10 and trained["threshold_warning"] == ev["threshold_warning"]
    assert trained["threshold_unit"] == ev["threshold_unit"] == "recording"
    capsys.readouterr()
    with monkeypatch.context() as m:
        m.delenv("STUDIO_QUIET", raising=False)
        assert main(["evaluate", project]) == 0  # without --json the CLI says it in words
    printed = capsys.readouterr()
    assert "The threshold rests on 10 good recordings; add more good examples" in printed.out + printed.err
    variant = run_json(capsys, "optimize", project, "--quantize", "int8")
    assert variant["anomaly"]["n_good"] == 10  # the bundle's threshold rests on the same goods
    bundle = tmp_path / "bundle"
    run_json(capsys, "export", project, str(bundle), "--target", "cortex-m4")
    assert (bundle / "main.cc").exists()
    checked = check_bundle(bundle, compiled=False)  # the golden data of main.cc through TFLite-Micro
    assert checked["ok"] and checked["reproduces"]["ran"] == ["tflite-micro"], checked["summary"]
    assert {r["predicted"] for r in checked["items"]} <= {"OK", "NOT OK"}
    assert "taken for another class" not in checked["summary"][1]
    ok = harness(bundle, "--selftest")
    assert ok.returncode == 0 and "SELFTEST PASSED" in ok.stdout, ok.stdout + ok.stderr
    out = harness(bundle, str(data / "rattle" / "rec_00.csv"), "--json")
    rec = json.loads(out.stdout)[0]
    assert rec["windows"] == 6 and rec["verdict"] in ("OK", "NOT OK") and "threshold" in rec

    # Try it on the same recording: the bundle's windows, score and verdict; the worst window outlined
    tried = run_json(capsys, "try", project, str(data / "rattle" / "rec_00.csv"))
    item = tried["items"][0]
    assert item["windows"] == rec["windows"] and item["verdict"] == rec["verdict"]
    assert item["score"] == pytest.approx(rec["score"], abs=1e-3)
    start = item["worst_rows"][0]
    assert start == rec["worst_window"] * 32 or (rec["worst_window"] == 5 and start == 200 - 64)
    assert item["why"]["kind"] == "sensor" and item["why"]["span"] == item["worst_rows"]
    from studio.core.overlay import overlay_image

    assert overlay_image(item["why"]).width >= 320  # the recording drawn, its least normal window outlined
