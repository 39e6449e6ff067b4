"""Possibly mislabelled examples: ranking maths, reversible relabel / exclude in the manifest, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from studio.core.data import import_data, split_samples
from studio.core.data.curation import curate, curated
from studio.core.data.synth import make_image_folder, make_sensor_folder
from studio.core.errors import DatasetError
from studio.core.project import Project
from studio.core.suspects import knn_vote, pca_2d, rank


def test_neighbour_vote_and_rank_find_flipped_labels_in_clusters() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 1, (4, 16)) * 4
    labels = np.repeat(np.arange(4), 50)
    emb = centres[labels] + rng.normal(0, 1, (200, 16))
    noisy = labels.copy()
    flipped = rng.choice(200, 10, replace=False)
    noisy[flipped] = (noisy[flipped] + 1) % 4
    votes, dist = knn_vote(emb, noisy, 4)
    model = np.full((200, 4), 0.01)
    model[np.arange(200), noisy] = 0.97  # a model that memorised every label, flipped ones too
    r = rank(model, votes, noisy)
    top = set(np.argsort(-r["score"])[:20].tolist())
    assert len(top & set(flipped.tolist())) >= 9
    assert set(np.nonzero(r["flagged"])[0]) <= set(np.argsort(-r["score"])[: r["flagged"].sum()])
    assert np.all(r["suggested"][flipped] == labels[flipped])
    far = np.vstack([emb, -centres.sum(axis=0)])  # one point pointing away from every cluster
    _, d = knn_vote(far, np.append(noisy, 0), 4)
    assert int(np.argmax(d)) == 200
    assert pca_2d(emb).shape == (200, 2)


def test_relabel_exclude_restore_is_recorded_reversible_and_keeps_the_split(tmp_path: Path) -> None:
    root = make_image_folder(tmp_path / "img", {"a": 8, "b": 8}, size=(12, 10))
    project = Project.create(tmp_path / "p", "image")
    import_data(project, root, val_split=0.25, seed=1)
    before = project.load_manifest()
    train_a = [s["path"] for s in before["samples"] if s["split"] == "train" and s["label"] == "a"]
    out = curate(project, train_a[:2], "relabel", "b")
    assert len(out["changed"]) == 2
    curate(project, [str(root / train_a[2])], "exclude")  # an absolute path works too
    m = project.load_manifest()
    assert m["counts"] == {"a": before["counts"]["a"] - 3, "b": before["counts"]["b"] + 2}
    assert m["split_counts"]["train"]["a"] == before["split_counts"]["train"]["a"] - 3
    assert [s["split"] for s in m["samples"]] == [s["split"] for s in before["samples"]]
    assert {c["name"]: (c["original_label"], c["label"], c["excluded"]) for c in curated(m)} == {
        train_a[0]: ("a", "b", False), train_a[1]: ("a", "b", False), train_a[2]: ("a", "a", True)}
    names = {Path(p).name for p in split_samples(project, "train")[0]}
    assert Path(train_a[2]).name not in names and len(names) == sum(before["split_counts"]["train"].values()) - 1
    assert project.data["data"]["counts"] == m["counts"]  # the project summary follows
    curate(project, train_a[:3], "restore")
    after = project.load_manifest()
    assert after["samples"] == before["samples"] and after["counts"] == before["counts"]
    assert after["split_counts"] == before["split_counts"] and len(after["curation"]) == 6
    with pytest.raises(DatasetError):
        curate(project, train_a[:1], "relabel", "zebra")
    with pytest.raises(DatasetError):
        curate(project, ["no/such.png"], "exclude")


def test_excluding_a_recording_drops_its_windows(tmp_path: Path) -> None:
    from studio.core.data.sensor import split_windows

    root = make_sensor_folder(tmp_path / "s", ("idle", "shake"), recordings=4, length=200)
    project = Project.create(tmp_path / "p", "sensor")
    import_data(project, root, val_split=0.25, seed=1, window=50, stride=50)
    m = project.load_manifest()
    rec = next(r for r in m["recordings"] if r["split"] == "train")
    n_before = len(split_windows(project, "train")[0])
    curate(project, [rec["source"]], "exclude")
    m2 = project.load_manifest()
    assert len(split_windows(project, "train")[0]) == n_before - rec["windows"]
    from studio.core.data.sensor.shaping import split_recordings

    assert rec["id"] not in split_recordings(project, "train")[2]  # what training and evaluation read
    assert m2["recording_counts"][rec["label"]] == m["recording_counts"][rec["label"]] - 1
    assert m2["counts"][rec["label"]] == m["counts"][rec["label"]] - rec["windows"]


@pytest.mark.slow
def test_suspects_lists_labels_flipped_before_training(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from studio.cli import main
    from studio.core.train import default_config, train

    root = make_image_folder(tmp_path / "img", {"a": 30, "b": 30, "c": 30}, size=(16, 16))
    project = Project.create(tmp_path / "p", "image")
    import_data(project, root, val_split=0.2, seed=1)
    m = project.load_manifest()
    train_items = [s for s in m["samples"] if s["split"] == "train"]
    flips = [train_items[i] for i in (0, 25, 50, 70)]  # one or two per class
    for s in flips:
        curate(project, [s["path"]], "relabel", "b" if s["label"] != "b" else "c")
    train(project, default_config(project, input_size=16, epochs=12, patience=0))
    assert main(["suspects", str(project.path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    listed = [s["name"] for s in out["suspects"]]
    assert {"path", "label", "suggested", "score"} <= set(out["suspects"][0])
    assert [s["score"] for s in out["suspects"]] == sorted((s["score"] for s in out["suspects"]), reverse=True)
    found = [s["path"] for s in flips if s["path"] in listed[: 2 * len(flips)]]
    assert len(found) >= 3, f"found {found} of {[s['path'] for s in flips]} in {listed[:8]}"
    first = next(s for s in out["suspects"] if s["name"] in found)
    assert first["suggested"] == next(s["label"] for s in flips if s["path"] == first["name"])
    assert len(out["map"]["points"]) == out["n_ranked"] and len(out["map"]["points"][0]) == 2
    assert main(["suspects", str(project.path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cached"] is True


def test_camera_frames_join_the_dataset_under_a_label(tmp_path: Path) -> None:
    from studio.core.data import sample_path
    from studio.core.data.curation import add_capture
    from studio.core.data.image import load_image

    root = make_image_folder(tmp_path / "img", {"a": 6, "b": 6}, size=(12, 10))
    project = Project.create(tmp_path / "p", "image")
    import_data(project, root, val_split=0.25, seed=1)
    before = project.load_manifest()
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[:, :32] = 255
    entries = [add_capture(project, frame, "b") for _ in range(3)]
    m = project.load_manifest()
    assert m["samples"][: len(before["samples"])] == before["samples"]  # earlier samples and splits untouched
    assert len({e["path"] for e in entries}) == 3 and m["counts"]["b"] == before["counts"]["b"] + 3
    assert sum(sum(v.values()) for v in m["split_counts"].values()) == len(m["samples"])
    new = m["samples"][-1]
    img = load_image(sample_path(project, m, new), 16, 3)
    assert img[:, :4].min() > 200 and img[:, -4:].max() < 50
    assert m["roots"][new["root"]]["rel"] == "data/captures"
    with pytest.raises(DatasetError):
        add_capture(project, frame, "zebra")


def test_suspects_on_an_anomaly_project_says_why_there_is_none(tmp_path: Path) -> None:
    """No labels to disagree with: a plain refusal naming the project and where to look instead (it used to
    fail on the run with a hint naming a Python module)."""
    from studio.core.errors import ProjectError
    from studio.core.project import Project
    from studio.core.suspects import find_suspects

    project = Project.create(tmp_path / "p", "sensor-anomaly")
    with pytest.raises(ProjectError) as err:
        find_suspects(project)
    text = str(err.value)
    assert "no labels for a model to disagree with" in text and "most_anomalous" in text
    assert "studio.core" not in text
