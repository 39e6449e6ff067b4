"""Anomaly projects without TensorFlow: the normal-class rules, the split, the metrics, thresholds and import."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from studio.core.anomaly import metrics as M
from studio.core.anomaly.data import assign_defect_splits, find_normal_class
from studio.core.anomaly.scoring import anomaly_windows
from studio.core.data import import_data
from studio.core.data.synth import make_anomaly_image_folder, make_anomaly_sensor_folder
from studio.core.errors import ConfigError, DatasetError
from studio.core.project import Project


# ---------------------------------------------------------------------------------------------- normal class
def test_normal_class_is_good_ok_or_normal_in_any_case() -> None:
    assert find_normal_class(["crack", "OK", "scratch"]) == "OK"
    assert find_normal_class(["Good", "hole"]) == "Good"
    assert find_normal_class(["normal"]) == "normal"
    assert find_normal_class(["a", "b"], "B") == "b"  # --normal overrides, case-insensitive


def test_the_only_class_or_label_zero_is_good_and_the_guess_is_said() -> None:
    said: list[str] = []
    assert find_normal_class(["0"], warnings=said) == "0"  # a training series labelled 0 throughout
    assert find_normal_class(["1", "0"], warnings=said) == "0"  # 0 normal, 1 anomaly, as datasets label them
    assert find_normal_class(["-1", "0", "2.0"], warnings=said) == "0"
    assert find_normal_class(["parts"], warnings=said) == "parts"
    assert len(said) == 4 and "class '0' (the only class" in said[0] and "0 among numbered classes" in said[1]
    assert all("--normal NAME" in w for w in said)
    with pytest.raises(DatasetError, match="good, ok or normal"):
        find_normal_class(["0", "scratch"])  # not all numbers: no guess
    with pytest.raises(DatasetError, match="good, ok or normal"):
        find_normal_class(["1", "2"])  # numbers without a 0


def test_normal_class_errors_say_what_to_do() -> None:
    with pytest.raises(DatasetError, match="good, ok or normal"):
        find_normal_class(["crack", "scratch"])
    with pytest.raises(DatasetError, match="--normal"):
        find_normal_class(["good", "ok", "crack"])
    with pytest.raises(DatasetError, match="no class folder named 'fine'"):
        find_normal_class(["good", "crack"], "fine")


def test_defects_never_train_and_share_val_and_test() -> None:
    labels = ["good"] * 20 + ["crack"] * 10 + ["hole"] * 3
    keys = [f"f{i:03d}" for i in range(len(labels))]
    splits = ["train"] * len(labels)  # whatever the stratified split said
    out = assign_defect_splits(labels, keys, splits, "good", 0.2, 0.2, seed=1)
    assert all(s == "train" for s, lab in zip(out, labels) if lab == "good")
    crack = [s for s, lab in zip(out, labels) if lab == "crack"]
    assert "train" not in crack and crack.count("val") == 5 and crack.count("test") == 5
    hole = [s for s, lab in zip(out, labels) if lab == "hole"]
    assert set(hole) == {"val", "test"}
    only_val = assign_defect_splits(labels, keys, splits, "good", 0.2, 0.0, seed=1)
    assert {s for s, lab in zip(only_val, labels) if lab != "good"} == {"val"}


# ---------------------------------------------------------------------------------------------- metrics
def test_auroc_matches_pair_counting_with_ties() -> None:
    rng = np.random.default_rng(0)
    s = np.round(rng.normal(size=60), 1)
    y = rng.random(60) < 0.3
    pos, neg = s[y], s[~y]
    brute = np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])
    assert M.auroc(s, y) == pytest.approx(brute)
    assert M.auroc(s, np.zeros(60, bool)) is None


def test_thresholds_keep_their_promises() -> None:
    rng = np.random.default_rng(1)
    good = rng.normal(0, 1, 500)
    bad = rng.normal(3, 1, 100)
    t = M.choose_threshold(M.ThresholdPolicy("false_alarms", 0.01), good)
    assert (good > t).mean() <= 0.01 and (good > t).sum() == 5
    t = M.choose_threshold(M.ThresholdPolicy("detection", 0.9), good, bad)
    assert (bad > t).mean() >= 0.9
    t_bal = M.choose_threshold(M.ThresholdPolicy("balanced", None), good, bad)
    assert 0.5 < t_bal < 2.5
    assert M.choose_threshold(M.ThresholdPolicy("value", None, 1.25), good) == 1.25
    # fewer than 100 good examples and a 1 % budget: nothing may be flagged
    small = good[:40]
    assert (small > M.choose_threshold(M.ThresholdPolicy(), small)).sum() == 0
    with pytest.raises(ConfigError, match="defect examples"):
        M.choose_threshold(M.ThresholdPolicy("detection", 0.9), good, None)


def test_anomaly_metrics_confusion_and_per_defect() -> None:
    scores = np.array([0.1, 0.2, 0.9, 0.4, 0.8, 0.3])
    is_defect = np.array([False, False, False, True, True, True])
    types = [None, None, None, "crack", "crack", "hole"]
    m = M.anomaly_metrics(scores, is_defect, 0.5, types)
    assert m["confusion_matrix"] == [[2, 1], [2, 1]]  # rows truth good/defect, columns OK / NOT OK
    assert m["false_alarm_rate"] == pytest.approx(1 / 3) and m["detection_rate"] == pytest.approx(1 / 3)
    assert m["per_defect"] == {"crack": {"n": 2, "detected": 1, "detection_rate": 0.5},
                               "hole": {"n": 1, "detected": 0, "detection_rate": 0.0}}
    assert m["accuracy"] == pytest.approx(0.5)
    roc = M.roc_curve(scores, is_defect)
    assert roc["false_alarm_rate"][0] == 0.0 and roc["detection_rate"][-1] == 1.0


# ---------------------------------------------------------------------------------------------- windows
def test_anomaly_windows_cover_the_tail_and_match_the_harness() -> None:
    sig = np.arange(150, dtype=np.float32)[:, None]
    w, starts = anomaly_windows(sig, 64, 32)
    assert starts == [0, 32, 64, 86] and w[-1][-1, 0] == 149
    harness = Path(__file__).resolve().parents[2] / "resources" / "harness" / "run_model.py"
    spec = importlib.util.spec_from_file_location("bundle_harness", harness)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    np.testing.assert_array_equal(mod.anomaly_windows(sig, 64, 32), w)


# ---------------------------------------------------------------------------------------------- import
def test_image_anomaly_import_good_only_and_defects(tmp_path: Path) -> None:
    only_good = make_anomaly_image_folder(tmp_path / "g", good=10, defects={}, size=(16, 16), normal="OK")
    project = Project.create(tmp_path / "p", "image-anomaly")
    res = import_data(project, only_good).to_json()
    assert res["normal_class"] == "OK" and res["classes"] == {"OK": 10}
    assert any("No defect examples" in w for w in res["warnings"])

    data = make_anomaly_image_folder(tmp_path / "d", good=12, defects={"hole": 4, "scratch": 3}, size=(16, 16))
    test = make_anomaly_image_folder(tmp_path / "t", good=3, defects={"stain": 2}, size=(16, 16), normal="Ok")
    res = import_data(project, data, test_source=test).to_json()
    manifest = project.load_manifest()
    assert manifest["anomaly"] and manifest["normal_class"] == "good"
    assert {s["split"] for s in manifest["samples"] if s["label"] != "good"} <= {"val", "test"}
    assert res["splits"]["train"]["hole"] == 0 and res["splits"]["val"]["hole"] == 4
    # the test folder's 'Ok' is the good class; its new defect type 'stain' is kept for evaluation
    assert res["splits"]["test"]["good"] == 3 and res["splits"]["test"]["stain"] == 2
    assert res["good_vs_defect"]["defect"] == 7


def test_image_anomaly_import_needs_a_good_folder(tmp_path: Path) -> None:
    data = make_anomaly_image_folder(tmp_path / "d", good=6, defects={"hole": 2}, size=(16, 16), normal="parts")
    project = Project.create(tmp_path / "p", "image-anomaly")
    with pytest.raises(DatasetError, match="good, ok or normal"):
        import_data(project, data)
    assert import_data(project, data, normal="parts").to_json()["normal_class"] == "parts"
    classifier = Project.create(tmp_path / "c", "image")
    with pytest.raises(ConfigError, match="anomaly projects only"):
        import_data(classifier, data, normal="parts")


def test_sensor_anomaly_import_normalizes_on_good_training_recordings(tmp_path: Path) -> None:
    data = make_anomaly_sensor_folder(tmp_path / "s", normal=6, defects={"rattle": 3}, length=128)
    project = Project.create(tmp_path / "p", "sensor-anomaly")
    res = import_data(project, data, window=64, stride=32).to_json()
    manifest = project.load_manifest()
    recs = manifest["recordings"]
    assert {r["split"] for r in recs if r["label"] == "rattle"} == {"val"}
    assert all(r["label"] == "normal" for r in recs if r["split"] == "train")
    assert res["normal_class"] == "normal" and res["good_vs_defect"]["recordings"] == {"good": 6, "defect": 3}


def test_one_long_labelled_series_counts_what_it_learns_from_in_windows(tmp_path: Path) -> None:
    # One CSV, a label per row: the "recordings" are only the stretches between label changes (here 4 normal
    # ones, 3 in training), but 3,000 normal rows give ~90 windows to learn from: no "only 3 to learn from".
    rng = np.random.default_rng(0)
    rows = []
    for stretch in range(4):
        rows += [(f"{v:.4f}", "normal") for v in np.sin(np.arange(750) / 5.0) + 0.05 * rng.normal(size=750)]
        if stretch < 3:
            rows += [(f"{v:.4f}", "spike") for v in 2.0 + rng.normal(size=40)]
    csv = tmp_path / "series.csv"
    csv.write_text("value,label\n" + "".join(f"{v},{lab}\n" for v, lab in rows))
    project = Project.create(tmp_path / "p", "sensor-anomaly")
    res = import_data(project, csv, window=64, stride=32).to_json()
    assert res["good_vs_defect"]["recordings"] == {"good": 4, "defect": 3}
    assert not any("to learn from" in w for w in res["warnings"]), res["warnings"]
    # the same few stretches as separate recordings (a folder) keep the warning: variety between recordings
    folder = make_anomaly_sensor_folder(tmp_path / "s", normal=4, defects={"rattle": 2}, length=128)
    other = Project.create(tmp_path / "q", "sensor-anomaly")
    warnings = import_data(other, folder, window=64, stride=32).to_json()["warnings"]
    assert any("good recording(s) to learn from" in w for w in warnings), warnings


def test_inspection_sample_opens_as_an_anomaly_project(tmp_path: Path) -> None:
    from studio.core.samples import open_sample

    project = open_sample("image-anomaly", tmp_path / "insp")
    manifest = project.load_manifest()
    assert project.task == "image-anomaly" and manifest["normal_class"] == "ok"
    assert manifest["defect_classes"] == ["crack", "missing_hole", "scratch"]
    assert {s["split"] for s in manifest["samples"] if s["label"] != "ok"} == {"val"}
    assert open_sample("image-anomaly", tmp_path / "insp").path == project.path  # reopened as is


def test_short_recordings_are_padded_to_one_window() -> None:
    w, starts = anomaly_windows(np.arange(10, dtype=np.float32)[:, None], 16, 8)
    assert starts == [0] and w.shape == (1, 16, 1) and w[0, -1, 0] == 9
