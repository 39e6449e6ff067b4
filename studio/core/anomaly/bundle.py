"""What an anomaly bundle adds to an export: the threshold in ``preprocess.json``, golden scores (and maps), a
README section, and the facts in ``bundle.json``. The harness (``run_model.py``) reads ``preprocess.json``'s
``anomaly`` block and prints OK / NOT OK with the score and the threshold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

INT_TOLERANCE = 2  # LSBs, as for classifiers
FLOAT_TOLERANCE = 1e-3  # relative to max(1, |expected|): scores are not probabilities


def preprocess_extra(variant: dict[str, Any], io: dict[str, Any]) -> dict[str, Any]:
    a = variant["anomaly"]
    outputs = io.get("outputs") or {"score": io["output"]}
    return {
        "anomaly": {
            "threshold": float(a["threshold"]),
            "normal_class": a.get("normal_class"),
            "rule": "NOT OK when score > threshold (score = the 'score' output, dequantized)",
            "unit": a.get("unit", "image"),
            "recording_rule": "a recording's score is its highest window score; windows at the stride plus one "
                              "ending at the last row when the stride leaves a tail",
            "policy": a.get("policy"),
            "outputs": outputs,
            "auroc_validation": a.get("auroc"),
            "detector": (variant.get("detector") or {}).get("kind"),
        },
        "outputs": outputs,
    }


def _role_details(model_bytes: bytes) -> dict[str, dict[str, Any]]:
    from studio.core.measure import litert_interpreter

    from .litert import output_roles

    interp = litert_interpreter(model_bytes)
    return output_roles(interp.get_output_details())


def expected_items(model_bytes: bytes, spec: dict[str, Any], golden: Any, folder: Path, threshold: float,
                   normal: str) -> list[dict[str, Any]]:
    """golden.json items: true label, the host's raw score (and map) and its verdict."""
    from studio.core.golden import model_inputs

    from .litert import run_detector

    run = run_detector(model_bytes, model_inputs(spec, golden, folder))
    names = [name for name, _ in golden.files or []] if spec["kind"] == "image" else [None] * len(run.scores)
    items = []
    for i, name in enumerate(names):
        item: dict[str, Any] = {
            "label": golden.labels[i],
            "defect": golden.labels[i] != normal,
            "expected_score": np.asarray(run.raw_scores[i]).reshape(-1).tolist(),
            "score": float(run.scores[i]),
            "expected_verdict": "NOT OK" if run.scores[i] > threshold else "OK",
        }
        if run.raw_maps is not None:
            item["expected_map"] = np.asarray(run.raw_maps[i]).reshape(-1).tolist()
        if name is not None:
            item["file"] = name
        items.append(item)
    return items


def golden_tolerance(io: dict[str, Any]) -> dict[str, Any]:
    dtype = io["output"]["dtype"]
    if dtype in ("int8", "uint8"):
        return {"tolerance": INT_TOLERANCE, "tolerance_kind": "absolute", "output_dtype": dtype,
                "tolerance_note": "max |device - host| per raw output value (LSBs)"}
    return {"tolerance": FLOAT_TOLERANCE, "tolerance_kind": "relative", "output_dtype": dtype,
            "tolerance_note": "max |device - host| / max(1, |host|) per output value (float model)"}


def readme_section(variant: dict[str, Any]) -> str:
    a = variant["anomaly"]
    unit = a.get("unit") if a.get("unit") in ("recording", "window") else "image"
    sensor = unit != "image"
    return (
        "\n## Anomaly detector\n"
        f"Learned from good examples ('{a.get('normal_class')}') only. `run_model.py` prints **OK** or **NOT OK** per "
        f"{'recording' if sensor else unit}, with the score and the threshold ({float(a['threshold']):.4g}, "
        f"{a.get('policy', {}).get('kind')}): NOT OK when the score is above it. "
        + ("A recording's score is its highest window score. " if sensor else
           "`--map out.png` also writes the anomaly map (which regions look unlike the good examples). ")
        + ("The threshold was set on windows of one long series (at most its false-alarm share of good windows "
           "flagged): on a stream, judge each window by it (`--json` lists every window's score). "
           if unit == "window" else "")
        + f"Validation AUROC through LiteRT: {a.get('auroc') if a.get('auroc') is not None else '–'}.\n"
        "To move the threshold, edit `anomaly.threshold` in preprocess.json (or set it in Studio and export "
        "again); `--threshold X` overrides it for one run.\n"
        "In a microcontroller bundle, `studio_model_classify()` returns 0 (OK) or 1 (NOT OK): the score output, "
        "dequantized, against `STUDIO_MODEL_THRESHOLD` in `studio_model.h`"
        + (" (call it on each window: a recording is NOT OK when any of its windows is)" if sensor else "") + "; the start-up self-test prints each golden's answer beside its true one.\n"
    )


def bundle_extra(variant: dict[str, Any]) -> dict[str, Any]:
    a = variant["anomaly"]
    return {"anomaly": {"threshold": a["threshold"], "auroc": a.get("auroc"), "keras_auroc": a.get("keras_auroc"),
                        "normal_class": a.get("normal_class"), "unit": a.get("unit")}}
