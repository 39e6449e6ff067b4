"""Evaluation: the metric maths checked by hand, and evaluate() on splits and external labelled data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from studio.core.data import import_data
from studio.core.data.synth import make_image_folder, make_sensor_folder
from studio.core.errors import DatasetError, ProjectError
from studio.core.evaluate import default_split, evaluate
from studio.core.metrics import classification_metrics
from studio.core.project import Project
from studio.core.train import default_config, train


def test_metrics_by_hand() -> None:
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    m = classification_metrics(y_true, y_pred, ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    a, b, c = (m["per_class"][k] for k in "abc")
    assert (a["precision"], a["recall"], a["support"]) == (1.0, pytest.approx(2 / 3), 3)
    assert a["f1"] == pytest.approx(2 * 1.0 * (2 / 3) / (1.0 + 2 / 3))
    assert (b["precision"], b["recall"]) == (pytest.approx(0.5), pytest.approx(0.5))
    assert (c["precision"], c["recall"], c["f1"]) == (pytest.approx(0.5), 1.0, pytest.approx(2 / 3))
    assert m["n"] == 6


def test_metrics_edge_cases_are_zero_not_nan() -> None:
    m = classification_metrics(np.array([0, 0]), np.array([0, 0]), ["a", "b"])
    assert m["per_class"]["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["balanced_accuracy"] == 1.0  # over classes present
    empty = classification_metrics(np.array([], int), np.array([], int), ["a", "b"])
    assert empty["accuracy"] is None and empty["n"] == 0


def test_default_split_prefers_test() -> None:
    assert default_split({"split_counts": {"val": {"a": 2}, "test": {"a": 0}}}) == "val"
    assert default_split({"split_counts": {"val": {"a": 2}, "test": {"a": 1}}}) == "test"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, Path]:
    root = tmp_path_factory.mktemp("eval")
    data = make_image_folder(root / "images", {"a": 10, "b": 10}, size=(16, 16))
    fresh = make_image_folder(root / "fresh", {"a": 3, "b": 3}, size=(16, 16), seed=9)
    project = Project.create(root / "proj", "image")
    import_data(project, data, val_split=0.2, test_split=0.2, seed=1)
    train(project, default_config(project, epochs=2, batch_size=4))
    return project, fresh


@pytest.mark.slow
def test_evaluate_on_splits_and_a_fresh_folder(trained: tuple[Project, Path]) -> None:
    project, fresh = trained
    result = evaluate(project)
    assert result.split == "test" and result.n == 4
    out = result.to_json()
    assert 0.0 <= out["accuracy"] <= 1.0 and out["labels"] == ["a", "b"]
    assert sum(map(sum, out["confusion_matrix"])) == out["n"]
    assert len(out["misclassified"]) == out["n"] - sum(out["confusion_matrix"][i][i] for i in range(2))
    for item in out["misclassified"]:
        assert Path(item["path"]).exists() and item["true"] != item["predicted"] and 0 < item["confidence"] <= 1
    # the verdict and the per-sample predictions it is recomputed from at any threshold
    assert len(out["predictions"]) == out["n"] and out["verdict"]["n"] == out["n"]
    assert out["verdict"]["unit"] == "images" and out["verdict"]["good_class"] is None
    assert [c["correct"] for c in out["verdict"]["classes"]] == [out["confusion_matrix"][i][i] for i in range(2)]
    assert evaluate(project, split="train").n == 12
    ext = evaluate(project, data_path=str(fresh))
    assert ext.n == 6 and ext.source == str(fresh) and ext.split is None


@pytest.mark.slow
def test_evaluate_rejects_unknown_classes(trained: tuple[Project, Path], tmp_path: Path) -> None:
    project, _ = trained
    other = make_image_folder(tmp_path / "other", {"a": 2, "zebra": 2}, size=(16, 16))
    with pytest.raises(DatasetError, match="zebra"):
        evaluate(project, data_path=str(other))


def test_evaluate_without_a_run_is_a_project_error(tmp_path: Path) -> None:
    data = make_sensor_folder(tmp_path / "s", ("idle", "shake"), recordings=3, length=100)
    project = Project.create(tmp_path / "p", "sensor")
    import_data(project, data)
    with pytest.raises(ProjectError, match="no trained model"):
        evaluate(project)
