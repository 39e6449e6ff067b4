"""One long labelled series (a CSV with a label column and no recording column): windows over the whole series,
a window overlapping an anomalous row is a defect window, verdicts and the threshold per window, and the
anomalous stretches reported as events."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from studio.core.anomaly.evaluate import figures
from studio.core.anomaly.scoring import Scored, labelled_series
from studio.core.data.sensor.recordings import Recording, parse_sensor_source


def _runs(lengths_labels: list[tuple[int, str]]) -> list[Recording]:
    """Consecutive label runs of one file (data starts on line 2), values = the row number."""
    out, row = [], 0
    for k, (n, label) in enumerate(lengths_labels):
        sig = np.arange(row, row + n, dtype=np.float32)[:, None]
        out.append(Recording(f"r{k + 1:04d}", label, "s.csv", (row + 2, row + n + 1), sig))
        row += n
    return out


SPEC = SimpleNamespace(window=32, stride=16, mean=[0.0], std=[1.0], channels=1)


def test_a_short_anomaly_is_seen_in_its_context_and_labels_the_windows_over_it() -> None:
    runs = _runs([(100, "normal"), (10, "spike"), (90, "normal")])  # rows 100-109 anomalous, 200 rows
    mapping = {"normal": "normal", "spike": "spike"}
    x, labels, ids, recs, sources, events = labelled_series(runs, SPEC, mapping, "normal")
    starts = list(range(0, 200 - 32 + 1, 16)) + [168]  # and one ending at the last row
    assert x.shape == (len(starts), 32, 1)
    assert [float(w[0, 0]) for w in x] == [float(s) for s in starts]  # windows over the whole series, unpadded
    overlapping = [i for i, s in enumerate(starts) if s < 110 and s + 32 > 100]
    assert [i for i, lab in enumerate(labels) if lab == "spike"] == overlapping == [5, 6]
    assert set(labels) == {"normal", "spike"}
    assert ids[5] == "s.csv:82" and recs == ["r0001"] * len(starts)  # data row 80 is file line 82
    assert sources == {"r0001": "s.csv (lines 2-201)"}
    assert events == [{"label": "spike", "lines": [102, 111], "rows": 10, "window_index": [5, 6]}]


def test_window_verdicts_and_events_of_a_labelled_series() -> None:
    runs = _runs([(100, "normal"), (10, "spike"), (90, "normal"), (8, "flat"), (40, "normal")])
    mapping = {"normal": "normal", "spike": "spike", "flat": "flat"}
    x, labels, ids, recs, sources, events = labelled_series(runs, SPEC, mapping, "normal")
    scores = np.where(np.array(labels) == "spike", 5.0, 1.0)  # the spike's windows stand out, the flat's do not
    scored = Scored(scores, None, labels, ids, None, "normal", recs, sources, per_window=True, events=events)
    assert scored.unit == "window" and scored.units()["ids"] == ids  # every window is a verdict
    m = figures(scored, threshold=2.0)
    assert m["unit"] == "window" and m["n"] == len(ids) and m["recordings"] == 1
    assert m["n_defect"] == sum(lab != "normal" for lab in labels) and m["windows"]["auroc"] == m["auroc"]
    assert m["per_defect"]["spike"]["detection_rate"] == 1.0 and m["per_defect"]["flat"]["detection_rate"] == 0.0
    assert [(e["label"], e["verdict"], e["score"]) for e in m["events"]] == [("spike", "NOT OK", 5.0),
                                                                             ("flat", "OK", 1.0)]
    assert m["event_detection_rate"] == 0.5 and "recording_items" not in m


def test_a_recording_still_scores_its_highest_window() -> None:
    scored = Scored(np.array([1.0, 3.0, 2.0, 0.5]), None, ["normal", "normal", "bad", "bad"],
                    ["a@0", "a@8", "b@0", "b@8"], None, "normal", ["a", "a", "b", "b"], {})
    assert scored.unit == "recording"
    assert scored.units()["scores"].tolist() == [3.0, 2.0]


def test_an_anomaly_projects_series_without_label_column_is_all_good(tmp_path: Path) -> None:
    csv = tmp_path / "run.csv"
    csv.write_text("time_s,value\n" + "".join(f"{i / 100:.2f},{np.sin(i / 5):.4f}\n" for i in range(300)))
    parsed = parse_sensor_source(csv, label_column=None, recording_column=None, channels=None, unlabelled="normal")
    assert [(r.label, r.length, r.rows) for r in parsed.recordings] == [("normal", 300, (2, 301))]
    assert parsed.channels == ["value"] and parsed.sample_rate_hz == pytest.approx(100.0)
    assert any("No label column" in w for w in parsed.warnings)
    from studio.core.errors import DatasetError

    with pytest.raises(DatasetError, match="no label column found"):  # a classifier still needs the labels
        parse_sensor_source(csv, label_column=None, recording_column=None, channels=None)


def _series(n: int, rng: np.random.Generator, spikes: tuple[int, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    v = np.sin(2 * np.pi * np.arange(n) / 40.0) + 0.05 * rng.normal(size=n)
    y = np.zeros(n, bool)
    for s in spikes:
        v[s: s + 12] = 3.0  # a 12-row plateau, shorter than the 64-row window
        y[s: s + 12] = True
    return v, y


def _write(path: Path, v: np.ndarray, y: np.ndarray | None) -> Path:
    head = "value" + (",label" if y is not None else "")
    rows = [f"{a:.4f}" + ("" if y is None else f",{'anomaly' if b else 'normal'}") for a, b in
            zip(v, y if y is not None else v)]
    path.write_text(head + "\n" + "\n".join(rows) + "\n")
    return path


def test_an_anomaly_import_counts_the_windows_the_detector_scores(tmp_path: Path) -> None:
    from studio.core.anomaly.scoring import anomaly_windows
    from studio.core.data import import_data
    from studio.core.data.sensor import load_recordings
    from studio.core.project import Project

    train = _write(tmp_path / "train.csv", _series(6000, np.random.default_rng(0))[0], None)
    project = Project.create(tmp_path / "p", "sensor-anomaly")
    warnings = import_data(project, train, window=128, stride=64).to_json()["warnings"]
    manifest = project.load_manifest()
    signals = load_recordings(project)
    # 1,200-row parts: the stride's 17 windows end at row 1,152, the detector adds one ending at the last row
    assert [r["windows"] for r in manifest["recordings"]] == [18] * 5
    assert all(r["windows"] == len(anomaly_windows(signals[r["id"]], 128, 64)[1]) for r in manifest["recordings"])
    assert manifest["split_counts"]["val"]["normal"] == 18
    assert any(w.startswith("Only 18 good window(s) in validation") for w in warnings), warnings


def test_phase_windows_are_the_phases_after_each_window_of_the_cut() -> None:
    from studio.core.anomaly.train import phase_windows

    sig = np.arange(100, dtype=np.float32)[:, None]
    spec = SimpleNamespace(window=32, stride=16, mean=[10.0], std=[2.0])
    w, of = phase_windows(sig, spec, 8)  # the cut: 0, 16, 32, 48, 64 and 68 (the tail); phases 2, 4, ..., 14 after
    starts = [int(v) for v in (w[:, 0, 0] * 2.0 + 10.0)]
    cut = [0, 16, 32, 48, 64, 68]
    assert list(zip(of.tolist(), starts)) == [(i, s + o) for i, s in enumerate(cut) for o in range(2, 16, 2)
                                              if s + o <= 68]
    assert w.shape[1:] == (32, 1) and np.allclose(w[:, 1, 0] - w[:, 0, 0], 0.5)  # normalized: (x - 10) / 2
    assert len(phase_windows(sig, spec, 1)[0]) == 0  # one phase: the stride's own cut, nothing more
    assert len(phase_windows(sig[:31], spec, 8)[0]) == 0  # shorter than a window


def test_held_out_windows_of_one_series_keep_their_highest_phase() -> None:
    pytest.importorskip("tensorflow")
    from studio.core.anomaly import detector as D
    from studio.core.anomaly.config import AnomalyConfig
    from studio.core.anomaly.scoring import recording_windows
    from studio.core.anomaly.train import _refit_held_out
    from studio.core.reporter import NullReporter

    rng = np.random.default_rng(0)
    t = np.arange(1500)
    spec = SimpleNamespace(window=32, stride=16, mean=[0.0], std=[1.0], channels=1)
    parts = {f"p{k}": (np.sin(2 * np.pi * (t + 300 * k) / 37.0) + rng.normal(0, 0.1, len(t)))[:, None]
             .astype(np.float32) for k in range(4)}
    parts["p2"][700:705] += 3.0  # a short bump that the stride's cut may straddle
    cut = {r: recording_windows(v, spec)[0] for r, v in parts.items()}
    x = np.concatenate(list(cut.values()))
    groups = [r for r, w in cut.items() for _ in range(len(w))]
    dspec = D.window_spec(32, 1, 1024, False)
    config = AnomalyConfig()
    plain = _refit_held_out(x, groups, dspec, config, {}, None, NullReporter(), per_window=True)
    phased = _refit_held_out(x, groups, dspec, config, {}, None, NullReporter(), per_window=True,
                             shifted=(parts, spec))
    assert len(plain) == len(phased) == len(x)  # one score per window of the cut, as many as before
    assert np.all(phased >= plain - 1e-6) and np.mean(phased > plain + 1e-6) > 0.5
    assert phased.max() >= plain.max()


def test_long_series_project_thresholds_and_judges_windows(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    from studio.core.anomaly.config import default_config
    from studio.core.anomaly.evaluate import evaluate_anomaly
    from studio.core.anomaly.train import train_anomaly
    from studio.core.data import import_data
    from studio.core.project import Project

    rng = np.random.default_rng(3)
    train = _write(tmp_path / "train.csv", _series(2400, rng)[0], None)  # no label column: all good
    v, y = _series(1200, rng, spikes=(300, 800))
    test = _write(tmp_path / "test.csv", v, y)
    project = Project.create(tmp_path / "p", "sensor-anomaly")
    warnings = import_data(project, train, window=64, stride=32).to_json()["warnings"]
    manifest = project.load_manifest()
    val_windows = sum(r["windows"] for r in manifest["recordings"] if r["split"] == "val")
    assert any(w.startswith(f"Only {val_windows} good window(s) in validation") for w in warnings), warnings
    assert not any("recording(s) in validation" in w for w in warnings)  # one series: its parts are no sessions
    assert manifest["normal_class"] == "normal" and manifest["label_column"] is None
    res = train_anomaly(project, default_config(project))
    cal = json.loads((Path(res.path) / "calibration.json").read_text())
    train_windows = sum(r["windows"] for r in manifest["recordings"] if r["split"] == "train")
    # the threshold rests on windows: each training window's held-out score and each validation window's
    assert cal["unit"] == "window" and len(cal["val"]["good"]) == val_windows
    assert cal["n_held_out_good"] == train_windows and cal["n_good"] == train_windows + val_windows
    assert res.to_json()["threshold_unit"] == "window"  # the CLI says "good windows", not "good examples"
    ev = evaluate_anomaly(project, data_path=str(test)).to_json()
    starts = list(range(0, 1200 - 64 + 1, 32)) + [1200 - 64]
    assert ev["unit"] == "window" and ev["n"] == len(starts)
    under = [s for s in starts for a in (300, 800) if s < a + 12 and s + 64 > a]
    assert ev["n_defect"] == len(under) == 4  # each 12-row plateau lies under 2 windows (stride 32, window 64)
    assert [e["rows"] for e in ev["events"]] == [12, 12] and ev["event_detection_rate"] == 1.0
    assert ev["auroc"] > 0.95 and ev["false_alarm_rate"] <= 0.05


def test_a_series_labelled_0_and_1_imports_with_0_as_good(tmp_path: Path) -> None:
    """Datasets label anomalies 1 and normal rows 0: the training series (all 0) is good, said in a warning, and
    a test series labelled 0 / 1 is judged with 0 as good, whatever the project's good class is called."""
    from studio.core.anomaly.scoring import external_labels
    from studio.core.data import import_data
    from studio.core.project import Project

    rng = np.random.default_rng(5)
    v, _ = _series(2400, rng)
    train = tmp_path / "train.csv"
    train.write_text("value,label\n" + "".join(f"{a:.4f},0\n" for a in v))
    project = Project.create(tmp_path / "p", "sensor-anomaly")
    out = import_data(project, train, label_column="label", window=64, stride=32).to_json()
    assert project.load_manifest()["normal_class"] == "0"
    assert any("taken to be class '0' (the only class" in w for w in out["warnings"]), out["warnings"]
    assert external_labels(["0", "1"], "normal", tmp_path) == {"0": "normal", "1": "1"}
    assert external_labels(["0", "1"], "0", tmp_path) == {"0": "0", "1": "1"}


def test_a_labelled_test_series_imported_with_the_project_is_judged_as_evaluate_data_judges_it(
        tmp_path: Path) -> None:
    """`import --test series.csv`: the label runs were each a recording (a 12-row anomaly, shorter than the
    window, was dropped at import as too short). They are kept in order and scored as one series: the test
    split's figures are those of `evaluate --data` on the same file."""
    pytest.importorskip("tensorflow")
    from studio.core.anomaly.config import default_config
    from studio.core.anomaly.evaluate import evaluate_anomaly
    from studio.core.anomaly.train import train_anomaly
    from studio.core.data import import_data
    from studio.core.project import Project

    rng = np.random.default_rng(5)
    train = _write(tmp_path / "train.csv", _series(2400, rng)[0], None)
    v, y = _series(1200, rng, spikes=(300, 800))
    test = _write(tmp_path / "test.csv", v, y)
    project = Project.create(tmp_path / "p", "sensor-anomaly")
    import_data(project, train, test_source=test, window=64, stride=32)
    manifest = project.load_manifest()
    tests = [r for r in manifest["recordings"] if r["split"] == "test"]
    assert manifest["test_series"] and sum(r["length"] for r in tests) == 1200  # nothing dropped
    assert [r["length"] for r in tests if r["label"] != "normal"] == [12, 12]
    # counted as scored (the Data page's figures): 37 windows over the series, 4 of them over an anomaly
    assert manifest["split_counts"]["test"] == {"anomaly": 4, "normal": 33}
    train_anomaly(project, default_config(project))
    on_split = evaluate_anomaly(project, split="test").to_json()
    on_file = evaluate_anomaly(project, data_path=str(test)).to_json()
    assert on_split["unit"] == "window" and on_split["n"] == on_file["n"] == 37
    for key in ("n_defect", "auroc", "false_alarm_rate", "detection_rate", "event_detection_rate"):
        assert on_split[key] == pytest.approx(on_file[key]), key
    assert [e["rows"] for e in on_split["events"]] == [12, 12]
