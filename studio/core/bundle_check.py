"""The self-test of an exported bundle, as plain data: ``check_bundle(folder) -> dict``.

Two questions, answered separately because a quality engineer acts on each differently:

- **Reproduces Studio's answers?** The device check: every output value of every golden input is within the
  bundle's tolerance of what Studio recorded. A failure means a wrong model file, build or runtime.
- **Correct on these examples?** The golden inputs carry their true labels: "correct on N of M" says how the
  *model* does on them. They are deliberately the least confident samples, so this is not an accuracy figure;
  but a model that misclassifies them is never reported as a plain pass.

What runs depends on the target. Linux / phone bundles: their own ``run_model.py --selftest --json``
(LiteRT). Microcontroller bundles: the golden data of ``main.cc`` through the TFLite-Micro interpreter on this
PC (in a child process), and, when a C++ compiler and a TFLite-Micro host build are found, ``main.cc`` itself
compiled and run. The result lists each check with ``ran`` and, when it did not run, the reason.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.errors import ConfigError
from studio.core.reporter import NullReporter, Reporter

TFLM_TITLE = "TFLite-Micro interpreter on this PC"
COMPILED_TITLE = "main.cc compiled against TFLite-Micro and run on this PC"
LITERT_TITLE = "the bundle's run_model.py (LiteRT) on this PC"


def _read(bundle: Path) -> tuple[dict, dict, dict]:
    from studio.core.formats import read_versioned

    try:
        meta = read_versioned("bundle", bundle / "bundle.json")  # a bundle from a newer Studio: ProjectError
        golden = json.loads((bundle / "golden" / "golden.json").read_text(encoding="utf-8"))
        pre = json.loads((bundle / "preprocess.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError("this folder is not a complete Small Model Studio bundle", path=Path(exc.filename or bundle),
                          hint="choose the folder Studio exported (it holds bundle.json)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"a bundle file is damaged ({exc})", path=bundle, hint="export the bundle again") from None
    return meta, golden, pre


def _compare(got: np.ndarray, expected: np.ndarray, tol: float, classes: list[str], labels: list[str | None],
             pre: dict | None = None) -> list[dict[str, Any]]:
    rows = []
    for i in range(len(expected)):
        g = np.asarray(got[i], np.float64).reshape(-1)
        e = np.asarray(expected[i], np.float64).reshape(-1)
        diff = float(np.max(np.abs(g - e))) if g.shape == e.shape and g.size else float("inf")
        predicted = (_verdict(g, pre) if (pre or {}).get("anomaly") else classes[int(np.argmax(g))]) if g.size else None
        rows.append({"predicted": predicted, "max_diff": diff, "ok": diff <= tol, "label": labels[i]})
    return rows


def _verdict(raw: np.ndarray, pre: dict) -> str:
    """An anomaly detector's verdict from its raw score output: NOT OK when the score is above the threshold."""
    out = (pre.get("outputs") or {}).get("score") or pre["output"]
    score = float(raw[0]) if out["dtype"] == "float32" else (float(raw[0]) - out["zero_point"]) * out["scale"]
    return "NOT OK" if score > float(pre["anomaly"]["threshold"]) else "OK"


def _is_correct(predicted: str | None, label: str | None, item: dict, pre: dict) -> bool | None:
    """Whether a golden's answer is right: its class, or for a detector OK / NOT OK against good / defect."""
    if predicted is None or label is None:
        return None
    if pre.get("anomaly"):
        return (predicted == "NOT OK") == bool(item.get("defect"))
    return predicted == label


def _model_array_matches(bundle: Path, model_bytes: bytes) -> bool | None:
    """Whether model_data.cc holds exactly model.tflite (None when there is no C array)."""
    path = bundle / "model_data.cc"
    if not path.exists():
        return None
    text = path.read_text(encoding="utf-8", errors="replace")
    body = text.split("{", 1)[1].split("}", 1)[0] if "{" in text else ""
    data = bytes(int(tok, 16) for tok in re.findall(r"0x([0-9a-fA-F]{2})", body))
    return hashlib.sha256(data).digest() == hashlib.sha256(model_bytes).digest()


def _tflm_check(bundle: Path, golden: dict, classes: list[str], labels: list[str], pre: dict) -> dict[str, Any]:
    from studio.core.micro import run_tflm_isolated

    check: dict[str, Any] = {"id": "tflite-micro", "title": TFLM_TITLE, "ran": False}
    info = golden.get("tflm") or {}
    path = bundle / "golden" / str(info.get("file") or "golden_tflm.npz")
    if not path.exists():
        return dict(check, reason="this bundle has no TFLite-Micro golden data (exported by an older Studio): "
                                  "export it again")
    with np.load(path, allow_pickle=False) as data:
        inputs, expected = data["inputs"], data["expected"]
    model_bytes = (bundle / "model.tflite").read_bytes()
    try:
        got = run_tflm_isolated(model_bytes, inputs, int(info["arena_bytes"]))
    except (RuntimeError, OSError, KeyError, ValueError) as exc:
        return dict(check, ran=True, ok=False, rows=[], detail=f"the model did not run: {exc}")
    rows = _compare(got, expected, float(golden["tolerance"]), classes, labels, pre)
    array = _model_array_matches(bundle, model_bytes)
    ok = all(r["ok"] for r in rows) and array is not False
    detail = f"arena {info['arena_bytes']} bytes, the size main.cc states"
    if array is False:
        detail += "; model_data.cc does NOT hold model.tflite"
    return dict(check, ran=True, ok=ok, rows=rows, detail=detail, model_array_matches=array)


def _compiled_check(bundle: Path, meta: dict, labels: list[str], compiled: bool | None, kit: Any,
                    tol: float) -> dict[str, Any]:
    from studio.core import tflm_build

    check: dict[str, Any] = {"id": "compiled", "title": COMPILED_TITLE, "ran": False}
    if compiled is False:
        return dict(check, reason="not requested")
    kit_path, cxx = tflm_build.find_kit(kit), tflm_build.find_compiler()
    reason = tflm_build.why_not_available(kit_path, cxx)
    if reason:
        return dict(check, reason=reason)
    run = tflm_build.build_and_run(bundle, kit_path, cxx)
    tail = "\n".join(run["output"].strip().splitlines()[-12:])
    if not run["built"]:
        return dict(check, ran=True, ok=False, rows=[], detail="main.cc did not compile or link", output=tail)
    by_index = {r["index"]: r for r in run["items"]}
    rows = []
    for i, label in enumerate(labels):
        r = by_index.get(i)
        rows.append({"predicted": r["predicted"] if r else None, "max_diff": r["max_diff"] if r else float("inf"),
                     "ok": bool(r and r["ok"]), "label": label})
    stated = (meta.get("arena") or {}).get("bytes")
    ok = run["exit_code"] == 0 and bool(run["passed"]) and all(r["ok"] for r in rows)
    detail = f"kit {kit_path}"
    if run["arena_used"] is not None:
        detail += f"; arena used {run['arena_used']} of {run['arena_bytes']} bytes"
    return dict(check, ran=True, ok=ok, rows=rows, detail=detail, output=tail, arena_used=run["arena_used"],
                arena_bytes=run["arena_bytes"] or stated)


def _litert_check(bundle: Path, labels: list[str]) -> dict[str, Any]:
    from studio.core.selftest import run_harness

    check: dict[str, Any] = {"id": "litert", "title": LITERT_TITLE, "ran": True}
    code, output = run_harness(bundle, ["--selftest", "--json"])
    start = output.find("{")
    try:
        result = json.JSONDecoder().raw_decode(output[start:])[0] if start >= 0 else None
    except json.JSONDecodeError:
        result = None
    if not isinstance(result, dict):
        tail = "\n".join(output.strip().splitlines()[-8:])
        return dict(check, ok=False, rows=[], detail=f"run_model.py exited {code} without a result", output=tail)
    rows = [{"predicted": r.get("predicted"), "max_diff": r.get("max_diff"), "ok": bool(r.get("ok")),
             "label": labels[i] if i < len(labels) else r.get("label")} for i, r in enumerate(result["items"])]
    detail = result.get("warning") or ""
    return dict(check, ok=code == 0 and bool(result.get("ok")), rows=rows, detail=detail)


def check_bundle(bundle: str | Path, *, compiled: bool | None = None, kit: str | Path | None = None,
                 reporter: Reporter | None = None) -> dict[str, Any]:
    """Check an exported bundle the way its device will (see the module docstring). ``compiled``: None = compile
    ``main.cc`` when possible, False = never. ``kit``: a TFLite-Micro host build (default: found). Plain data."""
    reporter = reporter or NullReporter()
    bundle = Path(bundle).expanduser().absolute()
    meta, golden, pre = _read(bundle)
    target = meta.get("target") or {}
    mcu = bool(target.get("mcu") or target.get("runtime") == "tflm")
    classes = list(pre.get("classes") or [])
    items = golden.get("items") or []
    labels = [None if it.get("label") is None else str(it["label"]) for it in items]  # None: a boundary blend
    tol = float(golden.get("tolerance", 0))
    checks = []
    if mcu:
        reporter.progress(0.1, "running the golden inputs in TFLite-Micro")
        checks.append(_tflm_check(bundle, golden, classes, labels, pre))
        reporter.progress(0.4, "compiling main.cc against TFLite-Micro")
        checks.append(_compiled_check(bundle, meta, labels, compiled, kit, tol))
    else:
        reporter.progress(0.1, "running the bundle's run_model.py --selftest")
        checks.append(_litert_check(bundle, labels))
    if pre.get("anomaly"):  # main.cc prints the score's index, not a verdict: Studio's verdict where it matched
        for c in checks:
            for r, it in zip((c.get("rows") or []) if c["id"] == "compiled" else [], items):
                r["predicted"] = it.get("expected_verdict") if r["ok"] else None
    reporter.progress(1.0, "self-test done")
    return _result(bundle, meta, target, mcu, items, labels, classes, tol, checks, pre)


def _result(bundle: Path, meta: dict, target: dict, mcu: bool, items: list[dict], labels: list[str],
            classes: list[str], tol: float, checks: list[dict], pre: dict) -> dict[str, Any]:
    ran = [c for c in checks if c["ran"]]
    total = len(items)
    reproduced = bool(ran) and all(c["ok"] for c in ran)
    matched = min((sum(r["ok"] for r in c["rows"]) for c in ran), default=0)
    # correctness from what the device-like runtime answered; Studio's own answers when nothing ran
    first = next((c for c in ran if c["rows"]), None)
    names = [it.get("file") or it.get("name") or f"golden {i}" for i, it in enumerate(items)]
    rows = []
    for i, it in enumerate(items):
        top1 = it.get("expected_top1")
        studio = classes[int(top1)] if isinstance(top1, int) and 0 <= top1 < len(classes) else it.get("expected_verdict")
        row = {"name": names[i], "label": labels[i], "why": it.get("why")}
        predicted = first["rows"][i]["predicted"] if first and i < len(first["rows"]) else studio
        row["predicted"] = predicted
        row["correct"] = _is_correct(predicted, labels[i], it, pre)
        for c in ran:
            r = c["rows"][i] if i < len(c["rows"]) else {}
            row[c["id"]] = {"predicted": r.get("predicted"), "max_diff": r.get("max_diff"), "ok": r.get("ok")}
        rows.append(row)
    n_correct = sum(1 for r in rows if r["correct"])
    labelled = sum(1 for label in labels if label is not None)
    wrong = [{"name": r["name"], "label": r["label"], "predicted": r["predicted"]} for r in rows if r["correct"] is False]
    which = "; ".join(c["title"] for c in ran) or "nothing could run"
    if not ran:
        line1 = f"Could not check the bundle: {'; '.join(c.get('reason', '') for c in checks)}"
    elif reproduced:
        line1 = f"Reproduces Studio's answers on {total} of {total} golden examples ({which})."
    else:
        line1 = (f"Does NOT reproduce Studio's answers: {matched} of {total} golden examples match "
                 f"({which}).")
    line2 = f"Correct on {n_correct} of {labelled} golden examples"
    if wrong:
        line2 += (f" ({len(wrong)} wrong verdicts: missed defects or false alarms)" if pre.get("anomaly") else
                  f" ({len(wrong)} taken for another class)")
    if labelled < total:
        line2 += f", plus {total - labelled} boundary blends without a label"
    line2 += ": the least confident samples, picked to test the device, not an accuracy figure"
    if meta.get("recording_accuracy") is not None:  # sensors: the figure the Evaluate page leads with
        line2 += f" (validation accuracy {meta['recording_accuracy'] * 100:.1f} % per recording)."
    else:
        line2 += f" (validation accuracy {meta['accuracy'] * 100:.1f} %)." if meta.get("accuracy") is not None else "."
    out: dict[str, Any] = {
        "bundle": str(bundle), "target": target.get("id"), "target_title": target.get("title"), "mcu": mcu,
        "ok": reproduced,
        "reproduces": {"ok": reproduced, "matched": matched, "total": total, "tolerance": tol,
                       "ran": [c["id"] for c in ran]},
        "correct": {"n": n_correct, "total": labelled, "all": n_correct == labelled, "wrong": wrong},
        "checks": [{k: v for k, v in c.items() if k != "rows"} for c in checks],
        "items": rows,
        "validation_accuracy": meta.get("accuracy"),
        "summary": [line1, line2],
    }
    if mcu:
        compiled = next((c for c in checks if c["id"] == "compiled" and c["ran"]), None)
        arena = meta.get("arena") or {}
        out["arena"] = {"stated": arena.get("bytes"), "python_min": arena.get("min_bytes"),
                        "kernel_scratch": arena.get("kernel_scratch_bytes"),
                        "used_by_compiled": compiled.get("arena_used") if compiled else None}
    return out

