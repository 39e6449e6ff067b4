"""Sensor import: both CSV layouts, column detection, windows, split by recording, and every
malformed-CSV case of issue 2 item 4 (each error must name the file and the line)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from datagen import make_sensor_folder, make_sensor_single_csv
from studio.core.data import import_data, read_labelled
from studio.core.data.sensor.csvfile import read_csv_table
from studio.core.data.sensor.recordings import load_recordings
from studio.core.data.sensor.windows import choose_window, cut_windows, normalize_windows, split_windows
from studio.core.errors import DatasetError, ProjectError
from studio.core.project import Project


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def two_class_folder(root: Path, bad_name: str, bad_text: str) -> Path:
    """A valid layout-(a) folder plus one extra recording with the given (broken) content."""
    make_sensor_folder(root, ("idle", "shake"), recordings=3, length=64)
    write(root / "shake" / bad_name, bad_text)
    return root


# ---------------------------------------------------------------------------------------------- layout (a)
def test_folder_layout_imports_channels_and_ignores_time(
    sensor_project: Project, sensor_folder: Path
) -> None:
    out = import_data(sensor_project, sensor_folder).to_json()
    assert out["channels"] == ["ax", "ay", "az"]
    assert out["time_column"] == "time_s"
    assert out["layout"] == "folders"
    # 200-row recordings of equal length: each recording is one window by default.
    assert out["window"] == 200 and out["stride"] == 200
    assert out["classes"] == {"idle": 4, "shake": 4}
    assert out["recordings"] == {"idle": 4, "shake": 4}
    assert out["splits"]["val"] == {"idle": 1, "shake": 1}
    assert out["sample_rate_hz"] == pytest.approx(50.0)
    manifest = sensor_project.load_manifest()
    recs = load_recordings(sensor_project)
    assert set(recs) == {r["id"] for r in manifest["recordings"]}
    assert all(a.dtype == np.float32 and a.shape == (200, 3) for a in recs.values())
    # The summary in project.json is what `studio info` shows.
    summary = Project.open(sensor_project.path).data["data"]
    assert summary["window"] == 200 and summary["channels"] == ["ax", "ay", "az"]
    json.dumps(out)


def test_normalization_uses_train_recordings_only(sensor_project: Project, sensor_folder: Path) -> None:
    import_data(sensor_project, sensor_folder)
    manifest = sensor_project.load_manifest()
    recs = load_recordings(sensor_project)
    train = np.concatenate([recs[r["id"]] for r in manifest["recordings"] if r["split"] == "train"])
    every = np.concatenate(list(recs.values()))
    mean = np.asarray(manifest["normalization"]["mean"])
    assert np.allclose(mean, train.mean(axis=0), atol=1e-5)
    assert not np.allclose(mean, every.mean(axis=0), atol=1e-5)
    x, y, ids = split_windows(sensor_project, "train")
    assert x.dtype == np.float32
    assert np.allclose(x.reshape(-1, 3).mean(axis=0), 0, atol=1e-4)
    assert np.allclose(x.reshape(-1, 3).std(axis=0), 1, atol=1e-3)


def test_channel_naming_selects_and_orders_columns(sensor_project: Project, sensor_folder: Path) -> None:
    out = import_data(sensor_project, sensor_folder, channels=["az", "ax"]).to_json()
    assert out["channels"] == ["az", "ax"]
    assert load_recordings(sensor_project)["r0001"].shape[1] == 2
    with pytest.raises(DatasetError, match="no channel column named 'gyro'.*'ax'") as caught:
        import_data(sensor_project, sensor_folder, channels=["gyro"])
    assert caught.value.hint and "needs the channel column(s) 'gyro'" in caught.value.hint


def test_long_recordings_get_a_window_and_half_stride(tmp_path: Path, sensor_project: Project) -> None:
    folder = make_sensor_folder(tmp_path / "s", ("a", "b"), recordings=3, length=1500)
    out = import_data(sensor_project, folder).to_json()
    assert out["window"] == 128 and out["stride"] == 64
    per_rec = 1 + (1500 - 128) // 64
    assert out["classes"] == {"a": 3 * per_rec, "b": 3 * per_rec}
    assert out["splits"]["val"] == {"a": per_rec, "b": per_rec}


def test_user_window_and_short_recordings_padded_not_skipped(tmp_path: Path, sensor_project: Project) -> None:
    folder = make_sensor_folder(tmp_path / "s", ("a", "b"), recordings=3, length=100)
    make_sensor_folder(tmp_path / "short", ("a",), recordings=1, length=20, seed=9)
    (tmp_path / "short" / "a" / "rec_00.csv").rename(folder / "a" / "short.csv")
    out = import_data(sensor_project, folder, window=50, stride=25).to_json()
    assert out["window"] == 50 and out["stride"] == 25
    assert not any(s["path"].startswith("a/short.csv") for s in out["skipped"])
    assert any("shorter than the window" in w and "padded" in w for w in out["warnings"])
    manifest = sensor_project.load_manifest()
    short = [r for r in manifest["recordings"] if r["source"] == "a/short.csv"]
    assert len(short) == 1 and short[0]["windows"] == 1


def test_choose_window_defaults() -> None:
    assert choose_window([300] * 6, ["a", "a", "a", "b", "b", "b"]) == (300, 300)
    assert choose_window([300] * 2, ["a", "b"]) == (128, 64)  # one per class: windows, not whole
    assert choose_window([2000, 5000, 3000]) == (128, 64)
    assert choose_window([100, 90, 120, 200]) == (64, 32)
    assert choose_window([10, 12]) == (10, 5)
    assert choose_window([2, 3, 30]) == (4, 2)


def test_split_is_by_recording_without_leakage(tmp_path: Path, sensor_project: Project) -> None:
    folder = make_sensor_folder(tmp_path / "s", ("a", "b", "c"), recordings=6, length=400)
    import_data(sensor_project, folder, val_split=0.25, test_split=0.2, seed=3)
    manifest = sensor_project.load_manifest()
    by_split: dict[str, set[str]] = {"train": set(), "val": set(), "test": set()}
    for r in manifest["recordings"]:
        by_split[r["split"]].add(r["source"])
    assert by_split["val"] and by_split["test"]
    assert not (by_split["train"] & by_split["val"]) and not (by_split["train"] & by_split["test"])
    assert not (by_split["val"] & by_split["test"])
    _, _, train_ids = split_windows(sensor_project, "train")
    _, yv, val_ids = split_windows(sensor_project, "val")
    assert {i.split("@")[0] for i in train_ids}.isdisjoint({i.split("@")[0] for i in val_ids})
    assert set(yv.tolist()) == {0, 1, 2}
    counts = manifest["split_counts"]
    assert sum(counts["val"].values()) == len(val_ids)


def test_single_recording_per_class_is_cut_into_parts(tmp_path: Path, sensor_project: Project) -> None:
    path = make_sensor_single_csv(
        tmp_path / "one.csv", ("walk", "run"), recordings=1, length=1500, recording_column=None
    )
    out = import_data(sensor_project, path).to_json()
    assert out["window"] == 128
    assert out["recordings"] == {"run": 5, "walk": 5}
    assert out["splits"]["val"]["walk"] > 0 and out["splits"]["train"]["walk"] > 0
    assert any("only one recording; it was cut into 5 consecutive parts" in w for w in out["warnings"])
    recs = sensor_project.load_manifest()["recordings"]
    walk = sorted((r["rows"] for r in recs if r["label"] == "walk"))
    for (_, a1), (b0, _) in zip(walk, walk[1:]):
        assert b0 == a1 + 1  # contiguous, non-overlapping parts of the original rows


# ---------------------------------------------------------------------------------------------- layout (b)
def test_single_csv_with_recording_column(sensor_project: Project, sensor_csv: Path) -> None:
    out = import_data(sensor_project, sensor_csv).to_json()
    assert out["layout"] == "table"
    assert out["label_column"] == "label" and out["recording_column"] == "recording"
    assert out["channels"] == ["ax", "ay", "az"]
    assert out["recordings"] == {"idle": 3, "shake": 3}
    recs = sensor_project.load_manifest()["recordings"]
    assert {r["recording"] for r in recs} == {f"{c}-{i}" for c in ("idle", "shake") for i in range(3)}
    assert recs[0]["rows"] == [2, 201]


def test_a_readme_beside_the_data_is_skipped_not_counted(tmp_path: Path, sensor_project: Project,
                                                         sensor_csv: Path) -> None:
    """A folder holding one labelled CSV and a README.txt imports the CSV and lists the README as skipped (it
    said "found 2 CSV files but no class sub-folders"); a folder with only the README says it holds no data
    (it said the README "has a header but no data rows", as if it were the data); the project is unchanged."""
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "data.csv").write_bytes(sensor_csv.read_bytes())
    (folder / "README.txt").write_text("Recorded on line 3 in March.\nSensor: ADXL345, 100 Hz\n")
    (folder / "empty.csv").write_bytes(b"")
    out = import_data(sensor_project, folder).to_json()
    assert out["layout"] == "table" and out["recordings"] == {"idle": 3, "shake": 3}
    assert {s["path"]: s["reason"] for s in out["skipped"]} == {
        "README.txt": "no numbers (text, not a recording)", "empty.csv": "empty file (0 bytes)"}
    before = sensor_project.manifest_path.read_bytes()
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "README.txt").write_text("nothing here yet\n")
    with pytest.raises(DatasetError, match=r"found no data: README.txt: no data rows \(header only\)") as err:
        import_data(sensor_project, notes)
    assert "choose the folder with the recordings" in str(err.value.hint)
    assert sensor_project.manifest_path.read_bytes() == before


def test_single_csv_segments_without_recording_column(tmp_path: Path, sensor_project: Project) -> None:
    path = make_sensor_single_csv(
        tmp_path / "seg.csv", ("idle", "shake"), recordings=3, length=150, recording_column=None
    )
    out = import_data(sensor_project, path).to_json()
    assert out["recording_column"] is None
    # Classes alternate in the file, so each run of one label is its own segment.
    assert out["recordings"] == {"idle": 3, "shake": 3}


def test_label_column_autodetected_case_insensitive_and_by_name(
    tmp_path: Path, sensor_project: Project
) -> None:
    path = make_sensor_single_csv(tmp_path / "a.csv", label_column="Activity", recording_column=None)
    assert import_data(sensor_project, path).to_json()["label_column"] == "Activity"
    path = make_sensor_single_csv(tmp_path / "b.csv", label_column="what", recording_column="take")
    with pytest.raises(DatasetError) as err:
        import_data(sensor_project, path)
    assert "no label column found" in str(err.value) and "'what'" in str(err.value)
    out = import_data(sensor_project, path, label_column="what", recording_column="take").to_json()
    assert out["recordings"] == {"idle": 3, "shake": 3}
    with pytest.raises(DatasetError, match="no column named 'nope'"):
        import_data(sensor_project, path, label_column="nope")


def test_semicolon_bom_and_decimal_comma(tmp_path: Path, sensor_project: Project) -> None:
    lines = ["zeit;x;y;label"]
    rng = np.random.default_rng(0)
    for lab, off in (("a", 0.0), ("b", 3.0), ("a", 0.0), ("b", 3.0)):
        for k in range(40):
            x, y = rng.normal(off, 1, 2)
            lines.append(f"{k};{x:.3f};{y:.3f};{lab}".replace(".", ","))
    path = write(tmp_path / "eu.csv", "\ufeff" + "\r\n".join(lines) + "\r\n", encoding="utf-8")
    out = import_data(sensor_project, path, channels=["x", "y"]).to_json()
    assert out["channels"] == ["x", "y"] and out["label_column"] == "label"
    recs = load_recordings(sensor_project)
    assert abs(float(recs["r0002"][:, 0].mean()) - 3.0) < 0.6


def test_tab_delimited_utf16(tmp_path: Path) -> None:
    text = "time\tax\tay\n0\t1.5\t2\n1\t2.5\t3\n"
    table = read_csv_table(write(tmp_path / "t.tsv", text, encoding="utf-16"))
    assert table.header == ["time", "ax", "ay"] and table.delimiter == "\t" and table.lines == [2, 3]


def test_text_columns_are_ignored_not_channels(tmp_path: Path, sensor_project: Project) -> None:
    path = make_sensor_single_csv(tmp_path / "x.csv", recording_column=None)
    lines = path.read_text().splitlines()
    lines = [lines[0] + ",operator"] + [ln + ",Ann" for ln in lines[1:]]
    path.write_text("\n".join(lines) + "\n")
    out = import_data(sensor_project, path).to_json()
    assert out["channels"] == ["ax", "ay", "az"]
    assert {"column": "operator", "reason": "not numeric"} in out["ignored_columns"]


# ---------------------------------------------------------------------------------------------- malformed CSV
BAD_CASES = {
    "missing": ("time,ax,ay\n0,1,2\n1,,3\n2,1,2\n", 3, "missing value in column 'ax'"),
    "nan": ("time,ax,ay\n0,1,2\n1,2,3\n2,NaN,2\n", 4, "missing value ('NaN') in column 'ax'"),
    "text": (
        "time,ax,ay\n0,1,2\n1,2,3\n2,3,4\n3,4,oops\n",
        5,
        "text 'oops' in a numeric column in column 'ay'",
    ),
    "ragged": ("time,ax,ay\n0,1,2\n1,2\n2,1,2\n", 3, "ragged row: 2 field(s) but the header has 3"),
    "ragged_long": ("time,ax,ay\n0,1,2\n1,2,3,4\n", 3, "ragged row: 4 field(s)"),
    "no_header": ("0,1,2\n1,2,3\n2,3,4\n", 1, "no header row"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_malformed_csv_in_folder_names_file_and_line(
    case: str, tmp_path: Path, sensor_project: Project
) -> None:
    text, line, message = BAD_CASES[case]
    folder = two_class_folder(
        tmp_path / "s", "broken.csv", text.replace("ax", "ax").replace("time,", "time_s,")
    )
    with pytest.raises(DatasetError) as err:
        import_data(sensor_project, folder, channels=["ax", "ay"])
    assert err.value.path and err.value.path.endswith("broken.csv")
    assert err.value.line == line
    assert message in str(err.value)
    assert f"broken.csv, line {line}: " in str(err.value)
    assert not sensor_project.has_data()


@pytest.mark.parametrize("case", ["missing", "text", "ragged", "no_header"])
def test_malformed_single_csv_names_file_and_line(case: str, tmp_path: Path, sensor_project: Project) -> None:
    good = make_sensor_single_csv(tmp_path / "one.csv", recording_column=None, length=30)
    lines = good.read_text().splitlines()  # header: time_s,ax,ay,az,label
    if case == "missing":
        lines[7] = lines[7].replace(lines[7].split(",")[2], "", 1)
        expect = 8
    elif case == "text":
        parts = lines[12].split(",")
        parts[1] = "high"
        lines[12] = ",".join(parts)
        expect = 13
    elif case == "ragged":
        lines[20] = ",".join(lines[20].split(",")[:-2])
        expect = 21
    else:
        lines = lines[1:]
        expect = 1
    good.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError) as err:
        import_data(sensor_project, good)
    assert err.value.line == expect and err.value.path.endswith("one.csv")


def test_missing_label_and_mixed_recording_labels(tmp_path: Path, sensor_project: Project) -> None:
    path = make_sensor_single_csv(tmp_path / "one.csv", length=20)
    lines = path.read_text().splitlines()
    lines[5] = lines[5].rsplit(",", 2)[0] + ",," + lines[5].rsplit(",", 1)[1]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match="missing label") as err:
        import_data(sensor_project, path)
    assert err.value.line == 6
    path2 = make_sensor_single_csv(tmp_path / "two.csv", length=20)
    lines = path2.read_text().splitlines()
    lines[3] = lines[3].replace(",idle,", ",shake,")
    path2.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match="recording 'idle-0' has rows labelled 'idle' and 'shake'"):
        import_data(sensor_project, path2)


def test_folder_files_with_different_channels_or_one_class(tmp_path: Path, sensor_project: Project) -> None:
    folder = make_sensor_folder(tmp_path / "s", ("a", "b"), recordings=2, length=40)
    make_sensor_folder(tmp_path / "o", ("b",), recordings=1, length=40, channels=("ax", "ay"))
    (tmp_path / "o" / "b" / "rec_00.csv").rename(folder / "b" / "zz.csv")
    with pytest.raises(DatasetError, match="missing channel column.*'az'") as err:
        import_data(sensor_project, folder)
    assert err.value.path.endswith("zz.csv")
    one = make_sensor_folder(tmp_path / "one", ("only",), recordings=3, length=40)
    with pytest.raises(DatasetError, match="only 1 class with usable recordings: 'only'"):
        import_data(sensor_project, one)


def test_hidden_empty_and_header_only_files_are_skipped(tmp_path: Path, sensor_project: Project) -> None:
    folder = make_sensor_folder(tmp_path / "s", ("a", "b"), recordings=3, length=40)
    write(folder / "a" / ".~lock.rec.csv#", "x")
    write(folder / "a" / "._rec_00.csv", "\x00\x05")
    write(folder / "b" / "empty.csv", "")
    write(folder / "b" / "header.csv", "time_s,ax,ay,az\n")
    write(folder / "b" / "notes.md", "# notes")
    write(folder / "loose.csv", "time_s,ax,ay,az\n0,1,2,3\n")
    out = import_data(sensor_project, folder).to_json()
    reasons = {s["path"]: s["reason"] for s in out["skipped"]}
    assert "hidden" in reasons["a/._rec_00.csv"]
    assert "empty" in reasons["b/empty.csv"]
    assert "no data rows" in reasons["b/header.csv"]
    assert "not a CSV file" in reasons["b/notes.md"]
    assert "not in a class folder" in reasons["loose.csv"]
    assert out["recordings"] == {"a": 3, "b": 3}


def test_failed_reimport_keeps_previous_data(
    tmp_path: Path, sensor_project: Project, sensor_folder: Path
) -> None:
    import_data(sensor_project, sensor_folder)
    manifest = sensor_project.manifest_path.read_bytes()
    recordings = (sensor_project.data_dir / "recordings.npz").read_bytes()
    bad = two_class_folder(tmp_path / "bad", "broken.csv", "time_s,ax,ay,az\n0,1,2\n")
    with pytest.raises(DatasetError):
        import_data(sensor_project, bad)
    assert sensor_project.manifest_path.read_bytes() == manifest
    assert (sensor_project.data_dir / "recordings.npz").read_bytes() == recordings
    assert not [p for p in sensor_project.data_dir.iterdir() if ".tmp" in p.name]


# ------------------------------------------------------------------------------------ windows & reading
def test_cut_windows_and_normalize() -> None:
    sig = np.arange(20, dtype=np.float64).reshape(10, 2)
    w = cut_windows(sig, 4, 3)
    assert w.shape == (3, 4, 2) and w.dtype == np.float32
    assert w[1, 0].tolist() == [6.0, 7.0] and w[2, -1].tolist() == [18.0, 19.0]
    short = cut_windows(sig, 11, 1)  # shorter than the window: padded with its last row, not dropped
    assert short.shape == (1, 11, 2) and short[0, -1].tolist() == [18.0, 19.0]
    n = normalize_windows(np.ones((1, 2, 2)), [1.0, 2.0], [2.0, 4.0])
    assert n.dtype == np.float32 and n[0, 0].tolist() == [0.0, -0.25]
    zero = normalize_windows(np.full((1, 2, 2), 5.0), [5.0, 1.0], [0.0, 2.0])  # a zero std counts as 1
    assert zero[0, 0].tolist() == [0.0, 2.0] and np.isfinite(zero).all()


def test_read_labelled_sensors_folder_and_csv(
    tmp_path: Path, sensor_project: Project, sensor_folder: Path
) -> None:
    import_data(sensor_project, sensor_folder)
    fresh = make_sensor_folder(tmp_path / "fresh", ("shake", "idle"), recordings=2, length=200, seed=4)
    x, y, ids = read_labelled(sensor_project, fresh)
    assert x.shape == (4, 200, 3) and x.dtype == np.float32
    assert sorted(y.tolist()) == [0, 0, 1, 1] and len(ids) == 4
    raw, y2, _ = read_labelled(sensor_project, fresh, normalized=False)
    norm = sensor_project.load_manifest()["normalization"]
    assert np.allclose(normalize_windows(raw, norm["mean"], norm["std"]), x) and (y2 == y).all()
    wrong = make_sensor_folder(tmp_path / "wrong", ("idle", "jump"), recordings=1, length=200)
    with pytest.raises(DatasetError, match="'jump'"):
        read_labelled(sensor_project, wrong)
    missing = make_sensor_folder(
        tmp_path / "fewer", ("idle", "shake"), recordings=1, length=200, channels=("ax", "ay")
    )
    with pytest.raises(DatasetError, match="'az'"):
        read_labelled(sensor_project, missing)


def test_separate_test_source_for_sensors(
    tmp_path: Path, sensor_project: Project, sensor_folder: Path
) -> None:
    test = make_sensor_folder(tmp_path / "t", ("idle", "shake"), recordings=2, length=200, seed=8)
    out = import_data(sensor_project, sensor_folder, test_source=test).to_json()
    assert out["splits"]["test"] == {"idle": 2, "shake": 2}
    x, y, _ = split_windows(sensor_project, "test")
    assert x.shape == (4, 200, 3)


def test_missing_recordings_file_is_a_project_error(sensor_project: Project, sensor_folder: Path) -> None:
    import_data(sensor_project, sensor_folder)
    (sensor_project.data_dir / "recordings.npz").write_bytes(b"not a zip")
    with pytest.raises(ProjectError, match="unreadable"):
        load_recordings(sensor_project)


def test_cli_sensor_import_and_bad_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from studio.cli import main

    csv_path = make_sensor_single_csv(tmp_path / "d.csv", length=100)
    proj = tmp_path / "p"
    assert main(["new", str(proj), "--task", "sensor"]) == 0
    capsys.readouterr()
    assert main(["import", str(proj), str(csv_path), "--json", "--window", "50", "--channels", "ax,ay"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["window"] == 50 and out["stride"] == 25 and out["channels"] == ["ax", "ay"]
    bad = write(tmp_path / "bad.csv", "t,ax,label\n0,1,a\n1,x,b\n")
    assert main(["import", str(proj), str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "bad.csv, line 3: text 'x' in a numeric column in column 'ax'" in err[0]


def test_cancel_leaves_sensor_project_untouched(sensor_project: Project, sensor_folder: Path) -> None:
    from studio.core.errors import Cancelled
    from studio.core.reporter import NullReporter

    rep = NullReporter()
    rep.cancel()
    with pytest.raises(Cancelled):
        import_data(sensor_project, sensor_folder, reporter=rep)
    assert not sensor_project.has_data()
    assert not (sensor_project.data_dir / "recordings.npz").exists()


def test_ragged_row_of_a_one_column_recording_says_one_value(tmp_path: Path, sensor_project: Project) -> None:
    """A one-column recording (one value per line, as in the UCR archive) with two values on a line: the hint
    says 'exactly one value', not 'exactly 1 values separated by ...'."""
    root = tmp_path / "one"
    for cls in ("idle", "shake"):
        for i in range(3):
            write(root / cls / f"r{i}.csv", "power\n" + "\n".join(str(v) for v in range(40)) + "\n")
    write(root / "shake" / "broken.csv", "power\n1\n2\n3,4\n5\n")
    with pytest.raises(DatasetError) as err:
        import_data(sensor_project, root)
    assert err.value.line == 4 and "broken.csv, line 4: ragged row: 2 field(s) but the header has 1" in str(err.value)
    assert "exactly one value" in str(err.value) and "1 values" not in str(err.value)
