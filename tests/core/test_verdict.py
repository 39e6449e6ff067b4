"""The quality verdict on known confusion matrices: counts, rates, what missed cases were taken for, the
threshold's effect, and the plain "not ready yet" reason (studio.core.verdict)."""

from __future__ import annotations

import numpy as np
import pytest

from studio.core.verdict import good_class, prediction_rows, quality_verdict, verdict_of

# The inspection case from issue 15: 14 of 22 scratches and 13 of 22 cracks predicted "ok".
LABELS = ["crack", "missing_hole", "ok", "scratch"]
CM = [[8, 0, 13, 1],   # crack
      [0, 20, 2, 0],   # missing_hole
      [1, 0, 57, 2],   # ok
      [0, 0, 14, 8]]   # scratch


def _rows(cm: list[list[int]], sure: float = 0.9, unsure: float = 0.5) -> list[list[float]]:
    """Predictions reproducing ``cm``: right answers confident, wrong ones unsure."""
    return [[t, p, sure if t == p else unsure] for t, row in enumerate(cm) for p, c in enumerate(row) for _ in range(c)]


def test_good_class_found_by_name_any_case() -> None:
    assert good_class(["crack", "OK", "scratch"]) == "OK"
    assert good_class(["bearing_fault", "imbalance", "normal"]) == "normal"
    assert good_class(["Good", "bad"]) == "Good"
    assert good_class(["a", "b"]) is None


def test_counts_on_a_known_confusion_matrix() -> None:
    v = quality_verdict(LABELS, CM, unit="images")
    assert v["n"] == 126 and v["good_class"] == "ok"
    assert v["passed_as_good"] == {"count": 13 + 2 + 14, "of": 66, "rate": pytest.approx(29 / 66)}
    assert v["good_rejected"] == {"count": 3, "of": 60, "rate": pytest.approx(3 / 60)}
    crack = v["classes"][0]
    assert (crack["support"], crack["correct"], crack["missed"]) == (22, 8, 14)
    assert crack["taken_for"] == [{"class": "ok", "count": 13}, {"class": "scratch", "count": 1}]
    assert crack["recall"] == pytest.approx(8 / 22) and crack["defect"] and not v["classes"][2]["defect"]
    assert v["ready"] is False
    assert [r.split(" ")[0] for r in v["not_ready"]] == ["crack", "scratch"]  # missing_hole: 20/22 is enough
    assert "14 passed as ok" in v["not_ready"][1]
    assert v["headline"].startswith("Not ready yet: crack found in only 8 of 22 (36 %)")
    assert "Defects passed as good (ok): 29 of 66 (44 %)." in v["lines"]
    assert "Good parts rejected: 3 of 60 (5 %)." in v["lines"]
    assert "crack: 8 of 22 right; missed 14: 13 taken for ok, 1 for scratch." in v["lines"]


def test_ready_when_every_defect_class_is_found() -> None:
    v = quality_verdict(["crack", "ok"], [[19, 1], [5, 45]])
    assert v["ready"] is True and v["not_ready"] == []
    assert v["headline"].startswith("Ready to try")
    assert v["good_rejected"]["count"] == 5  # many good parts rejected is a cost, not a "not ready"


def test_without_a_good_class_every_class_counts_and_no_pass_rates() -> None:
    v = quality_verdict(["a", "b", "c"], [[10, 0, 0], [0, 10, 0], [4, 0, 6]])
    assert v["good_class"] is None and v["passed_as_good"] is None and v["good_rejected"] is None
    assert v["not_ready"] == ["c found in only 6 of 10 (60 %) — 4 taken for a"]


def test_threshold_sends_uncertain_cases_to_check_by_hand() -> None:
    rows = _rows(CM)
    plain = quality_verdict(LABELS, predictions=rows)
    assert plain["passed_as_good"]["count"] == 29 and plain["to_check"]["count"] == 0  # same as the matrix
    v = quality_verdict(LABELS, predictions=rows, threshold=0.6, unit="images")
    # every wrong answer was unsure (0.5 < 0.6): all go to a person, none are passed or rejected
    assert v["to_check"] == {"count": 33, "of": 126, "rate": pytest.approx(33 / 126), "wrong_caught": 33}
    assert v["passed_as_good"]["count"] == 0 and v["good_rejected"]["count"] == 0
    assert v["classes"][0]["to_check"] == 14 and v["classes"][0]["missed"] == 0
    assert v["ready"] is True  # a defect a person looks at is not passed
    assert any(line.startswith("Sent to check by hand (less than 60 % sure): 33 of 126") for line in v["lines"])
    # any threshold: at 0.95 everything is unsure; at 0 nothing is
    assert quality_verdict(LABELS, predictions=rows, threshold=0.95)["to_check"]["count"] == 126
    assert quality_verdict(LABELS, predictions=rows, threshold=0.0)["to_check"]["count"] == 0


def test_threshold_needs_predictions_and_shapes_are_checked() -> None:
    with pytest.raises(ValueError, match="per-sample"):
        quality_verdict(LABELS, CM, threshold=0.5)
    with pytest.raises(ValueError, match="4 x 4"):
        quality_verdict(LABELS, [[1, 0], [0, 1]])
    assert quality_verdict(LABELS, np.zeros((4, 4)))["ready"] is None


def test_few_examples_are_flagged() -> None:
    v = quality_verdict(["crack", "ok"], [[2, 0], [0, 30]])
    assert v["notes"] == ["Only 2 examples of crack: too few to trust its figures."]


def test_evaluation_json_is_judged_per_recording_for_sensors() -> None:
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    rows = prediction_rows([0, 0, 1], probs)
    assert rows == [[0, 0, 0.9], [0, 1, 0.8], [1, 0, 0.6]]
    result = {"labels": ["fault", "normal"], "predictions": rows, "confusion_matrix": [[1, 1], [1, 0]],
              "recording_predictions": [[0, 0, 0.7], [1, 1, 0.9]], "recording_confusion_matrix": [[1, 0], [0, 1]]}
    v = verdict_of(result, "sensor")
    assert v["unit"] == "recordings" and v["n"] == 2 and v["ready"] is True
    assert verdict_of(result, "sensor", threshold=0.8)["to_check"]["count"] == 1
    del result["recording_predictions"]
    assert verdict_of(result, "sensor")["unit"] == "windows"


def test_a_result_on_data_the_model_saw_is_not_called_ready() -> None:
    result = {"labels": ["crack", "ok"], "confusion_matrix": [[5, 0], [0, 5]],
              "predictions": [[0, 0, 0.99]] * 5 + [[1, 1, 0.99]] * 5}
    assert verdict_of(result)["headline"].startswith("Ready to try")
    seen = verdict_of(dict(result, seen_in_training="these are the examples the model was trained on"))
    assert seen["headline"] == ("Not a fair test: these are the examples the model was trained on. Check on the "
                                "test examples or on a folder of new images.")
    assert seen["lines"][1].startswith("Ready to try") and seen["seen_in_training"]
    chosen = verdict_of(dict(result, chosen_on="these validation recordings also took part in choosing the model"))
    assert chosen["headline"].startswith("Ready to try") and chosen["lines"][-1].startswith("Note: these validation")
