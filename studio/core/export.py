"""Export bundle: the model, its preprocessing spec, a self-testing harness, and for MCUs the C/C++ files.

The bundle proves itself on the device: ``golden/`` holds real validation samples in their *raw* form (the
original image files, or raw sensor windows), their true labels, and the outputs the host produced for them,
so ``run_model.py --selftest`` exercises the harness's own decoding and scaling as well as the runtime. For
microcontrollers ``main.cc`` runs the same goldens (quantized, in ``golden_data.cc``) at start-up, with an op
resolver listing exactly the model's ops and the arena measured with the real TFLite-Micro interpreter (see
:mod:`studio.core.golden` for how goldens are chosen, :mod:`studio.core.mcu_bundle` for the C/C++ side).

The bundle is written to a hidden staging folder and committed at the end (see
:mod:`studio.core.export_folder`): a new folder in one swap, an earlier export file by file, replacing only
what that export wrote.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io as io_mod
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio import __version__
from studio.core import commit
from studio.core.errors import ConfigError, ProjectError
from studio.core.export_folder import check_output_folder, commit_bundle, file_hashes, previous_bundle
from studio.core.formats import FORMATS
from studio.core.golden import Golden
from studio.core.reporter import NullReporter, Reporter, check_cancel
from studio.core.targets import TargetProfile, get_target

TEMPLATE_FILES = ("run_model.py", "requirements.txt")
VERDICTS = ("OK", "NOT OK")  # a detector's answers on a microcontroller: index 0 and 1 of studio_model_classify


@dataclass
class ExportResult:
    out: Path
    variant: str
    target: str
    files: list[str] = field(default_factory=list)
    arena_bytes: int | None = None
    run_id: str | None = None  # the training run the variant came from

    def to_json(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "variant": self.variant,
            "target": self.target,
            "files": list(self.files),
            "arena_bytes": self.arena_bytes,
            "run_id": self.run_id,
        }


def template_dir() -> Path:
    from studio.resources import resource_path

    return resource_path("harness")


# ---------------------------------------------------------------------------------------------- pieces
def preprocess_json(spec: dict[str, Any], classes: list[str], io: dict[str, Any], model_bytes: bytes) -> dict:
    """preprocess.json: everything a device needs to turn raw input into this model's input."""
    out: dict[str, Any] = {
        "format": "small-model-studio/preprocess",
        "version": 1,
        "task": spec["kind"],
        "classes": list(classes),
        "input": io["input"],
        "output": io["output"],
        "quantization_note": (
            "model input = clip(round(x / input.scale + input.zero_point)) when input.dtype is int8/uint8; "
            "probabilities = (output - output.zero_point) * output.scale"
        ),
        "model_sha256": hashlib.sha256(model_bytes).hexdigest(),
    }
    if spec["kind"] != "image" and io["input"]["dtype"] != "float32" and \
            int(io["input"]["shape"][-1]) == 2 * int(spec["channels"]):
        from studio.core.measure import SPLIT_GAIN

        out["quantization_note"] = (
            f"the input is split (input.shape has twice the channels): each row holds the values' codes "
            f"c = clip(round(v)), v = x / input.scale + input.zero_point, then their residuals "
            f"clip(round((v - c) * {SPLIT_GAIN}), -{SPLIT_GAIN // 2}, {SPLIT_GAIN // 2}) (+ 128 for uint8); "
            "studio_model.h's studio_model_split_window() does it on a microcontroller. "
            "score = (output - output.zero_point) * output.scale")
    if spec["kind"] == "image":
        ch = int(spec["channels"])
        out["image"] = {
            "size": int(spec["size"]),
            "channels": ch,
            "color_order": "RGB" if ch == 3 else "grey (L)",
            "layout": "NHWC",
            "pixel_scale": float(spec["scale"]),
            "pixel_offset": float(spec["offset"]),
            "formula": "x = pixel * pixel_scale + pixel_offset (pixel 0..255)",
            "decode": (
                "Pillow: EXIF orientation applied; 16-bit scaled to 8-bit; CMYK to RGB; palette/alpha composited on "
                "white; converted to grey or RGB; bilinear resize straight to size x size (squashed, not cropped)"
            ),
        }
    else:
        std = [float(s) if float(s) > 0 else 1.0 for s in spec["std"]]
        out["sensor"] = {
            "window": int(spec["window"]),
            "stride": int(spec["stride"]),
            "channels": list(spec.get("channel_names") or []),
            "channel_order": "as listed: the model's input is [window, channels] in this order",
            "mean": [float(m) for m in spec["mean"]],
            "std": std,
            "formula": "x = (value - mean[channel]) / std[channel] per row of the window"
            if spec.get("norm", "global") == "global" else
            "x = (value - mean of the window's rows) / std of the window's rows, per channel",
            "length_policy": spec.get("length_policy", "windows"),
            "norm": spec.get("norm", "global"),
            "description": _describe_sensor(spec),
            "recording_rule": "a recording's class is the argmax of the mean of its windows' probabilities",
        }
    return out


def _describe_sensor(spec: dict[str, Any]) -> str:
    from studio.core.data.sensor.shaping import describe

    return describe(spec.get("length_policy", "windows"), int(spec["window"]), int(spec["stride"]),
                    spec.get("norm", "global"))


def write_bundle(
    folder: Path,
    *,
    model_bytes: bytes,
    variant: dict[str, Any],
    spec: dict[str, Any],
    classes: list[str],
    target: TargetProfile,
    golden: Golden,
    project_name: str,
    report_html: str | None = None,
    reporter: Reporter | None = None,
    generation: str | None = None,
) -> tuple[list[str], int | None]:
    """Write every bundle file into ``folder`` (which exists and is empty). Returns (files, arena bytes).

    ``bundle.json`` lists every file with its SHA-256 and the commit's ``generation``: a re-export replaces
    exactly these files, and a reader can tell a complete bundle from a mix (``export_folder.verify_bundle``)."""
    from studio.core import golden as golden_mod
    from studio.core import mcu_bundle, measure
    from studio.core.cescape import class_name_problem

    reporter = reporter or NullReporter()
    folder = Path(folder)
    tdir = template_dir()
    if not (tdir / "run_model.py").exists():
        raise ConfigError("the harness templates are missing from this installation", path=tdir,
                          hint="reinstall Small Model Studio")
    for name in classes:
        if class_name_problem(name):
            raise ConfigError(f"class {name!r} cannot be exported: {class_name_problem(name)}",
                              hint="rename the class folder (or label) and import, train and optimize again")
    if target.mcu and variant.get("quantize") not in ("int8", "float32"):
        raise ConfigError(f"{target.title} runs TFLite-Micro, which cannot run a {variant.get('quantize')} model",
                          hint="export an int8 variant for microcontrollers")
    files: list[str] = []

    def put(name: str, data: bytes | str) -> None:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        files.append(name)

    anomaly = variant.get("anomaly")  # an anomaly detector's bundle: threshold, scores (studio.core.anomaly.bundle)
    if anomaly:
        from studio.core.anomaly import bundle as anomaly_bundle
        from studio.core.anomaly.litert import io_details as anomaly_io
    try:
        io = anomaly_io(model_bytes) if anomaly else measure.io_details(model_bytes)
    except (ValueError, RuntimeError) as exc:
        raise ProjectError(f"variant {variant.get('name')!r} has a damaged model.tflite ({exc})",
                           hint="build the variant again with 'studio optimize'") from exc
    put("model.tflite", model_bytes)
    put("labels.txt", "".join(c + "\n" for c in classes))
    pre = preprocess_json(spec, classes, io, model_bytes)
    if anomaly:
        pre.update(anomaly_bundle.preprocess_extra(variant, io))
    put("preprocess.json", json.dumps(pre, indent=2))
    for name in TEMPLATE_FILES:
        put(name, (tdir / name).read_bytes())

    reporter.status("Recording golden outputs for the self-test")
    gold_json = _put_golden_files(put, folder, spec, golden)
    x = golden_mod.model_inputs(spec, golden, folder / "golden")
    arena = None
    if target.mcu:
        reporter.status("Measuring the TFLite-Micro arena and writing the C/C++ files")
        arena = mcu_bundle.arena_for_bundle(model_bytes, variant, x, io)
    tflm_expected = _golden_outputs(gold_json, model_bytes, spec, golden, folder, x, io, arena, anomaly)
    if target.mcu:
        gold_json["tflm"] = mcu_bundle.write_mcu_files(
            put, tdir=tdir, folder=folder, model_bytes=model_bytes, io=io,
            classes=list(VERDICTS) if anomaly else classes,  # a detector answers OK / NOT OK from its score
            arena=arena, x=x, expected=tflm_expected,
            # -1: no class index (a boundary blend); a detector's goldens: 0 good, 1 defect
            labels=[-1 if label is None else (int(label != anomaly["normal_class"]) if anomaly else
                                              classes.index(label)) for label in golden.labels],
            tolerance=gold_json["tolerance"], input_note=_input_text(spec, io),
            threshold=float(anomaly["threshold"]) if anomaly else None)
        for item, out in zip(gold_json["items"], tflm_expected):
            item["expected_tflm"] = np.asarray(out).reshape(-1).tolist()
    put("golden/golden.json", json.dumps(gold_json, indent=1))
    check_cancel(reporter)

    readme = _readme(tdir, project_name, variant, target, classes, spec, io, gold_json, arena)
    if anomaly:
        readme += anomaly_bundle.readme_section(variant)
    put("README.md", readme)
    if report_html:
        put("report.html", report_html)
    meta = _bundle_json(project_name, variant, target, model_bytes, arena, golden, files)
    meta.update(generation=generation, sha256=file_hashes(folder, sorted(files)))
    put("bundle.json", json.dumps(meta, indent=2))
    return sorted(files), arena["recommended_bytes"] if arena else None


def _bundle_json(project_name: str, variant: dict[str, Any], target: TargetProfile, model_bytes: bytes,
                 arena: dict[str, Any] | None, golden: Golden, files: list[str]) -> dict[str, Any]:
    from studio.core import measure

    return {
        "schema_version": FORMATS["bundle"].current,  # read back with formats.read_versioned("bundle", ...)
        "studio_version": __version__,
        "exported": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "project": project_name,
        "variant": variant.get("name"),
        "run_id": variant.get("run_id"),
        "target": target.to_json(),
        "quantize": variant.get("quantize"),
        "accuracy": variant.get("accuracy"),
        "recording_accuracy": variant.get("recording_accuracy"),  # sensors: per recording (mean of its windows)
        "bytes": len(model_bytes),
        "gzip_bytes": measure.gzip_size(model_bytes),
        "arena": dict(arena, bytes=arena["recommended_bytes"]) if arena else None,
        "golden": len(golden.labels),
        "ops": measure.op_names(model_bytes),
        "files": sorted(files + ["bundle.json"]),
        **(_anomaly_extra(variant) if variant.get("anomaly") else {}),
    }


def _anomaly_extra(variant: dict[str, Any]) -> dict[str, Any]:
    from studio.core.anomaly import bundle as anomaly_bundle

    return anomaly_bundle.bundle_extra(variant)


def _golden_outputs(gold_json: dict[str, Any], model_bytes: bytes, spec: dict[str, Any], golden: Golden,
                    folder: Path, x: np.ndarray, io: dict[str, Any], arena: dict[str, Any] | None,
                    anomaly: dict[str, Any] | None) -> np.ndarray | None:
    """Fill golden.json's tolerance and items from the host's outputs; returns TFLite-Micro's outputs (MCU)."""
    from studio.core import golden as golden_mod

    arena_bytes = arena["recommended_bytes"] if arena else None
    if anomaly:  # a detector: score (and map) per golden, verdicts at the threshold (studio.core.anomaly.bundle)
        from studio.core.anomaly import bundle as anomaly_bundle
        from studio.core.mcu_bundle import quantized
        from studio.core.micro import run_tflm

        gold_json.update(anomaly_bundle.golden_tolerance(io))
        gold_json["items"] = anomaly_bundle.expected_items(model_bytes, spec, golden, folder / "golden",
                                                           float(anomaly["threshold"]), anomaly["normal_class"])
        for item, why in zip(gold_json["items"], golden.why):
            item["why"] = why
        return run_tflm(model_bytes, quantized(x, io), arena_bytes) if arena_bytes else None
    outputs = golden_mod.host_outputs(model_bytes, x, io, arena_bytes)
    tol = golden_mod.tolerance(outputs)
    gold_json.update(tolerance=tol["tolerance"], tolerance_note=tol["note"], kernel_diffs=tol["kernel_diffs"],
                     items=golden_mod.items(spec, golden, outputs["litert_xnnpack"]))
    return outputs.get("tflm_reference")


def _put_golden_files(put: Any, folder: Path, spec: dict[str, Any], golden: Golden) -> dict[str, Any]:
    """The raw golden inputs (image files, or the windows as .npz); returns the start of golden.json."""
    (folder / "golden").mkdir()
    gold_json: dict[str, Any] = {
        "format": "small-model-studio/golden", "version": 2,
        "runtime": "expected: ai-edge-litert (XNNPACK) on the host that exported this bundle",
    }
    if spec["kind"] == "image":
        for name, data in golden.files or []:
            put(f"golden/{name}", data)
    else:
        buf = io_mod.BytesIO()
        np.savez(buf, windows=np.asarray(golden.windows, dtype=np.float32))
        put("golden/golden_windows.npz", buf.getvalue())
        gold_json["windows_file"] = "golden_windows.npz"
    return gold_json


def _input_text(spec: dict[str, Any], io: dict[str, Any]) -> str:
    if spec["kind"] == "image":
        return (f"{spec['size']}x{spec['size']} {'RGB' if int(spec['channels']) == 3 else 'grey'} image (HWC), "
                f"pixel * {spec['scale']:g} + {spec['offset']:g}, then {io['input']['dtype']}")
    return (f"window of {spec['window']} rows x channels {', '.join(spec.get('channel_names') or [])}, "
            f"normalized per channel, then {io['input']['dtype']}")


def _readme(tdir: Path, project_name: str, variant: dict[str, Any], target: TargetProfile, classes: list[str],
            spec: dict[str, Any], io: dict[str, Any], gold_json: dict[str, Any], arena: dict | None) -> str:
    from studio.core import mcu_bundle

    text = (tdir / "README.md").read_text(encoding="utf-8")
    if target.mcu:
        device = mcu_bundle.readme_section(tdir, arena or {}, gold_json, len(classes))
    else:
        device = (tdir / "README_linux.md").read_text(encoding="utf-8").replace(
            "@EXAMPLE@", "photo.jpg    # or a folder of images" if spec["kind"] == "image"
            else "recording.csv    # columns named as in preprocess.json")
    acc, rec = variant.get("accuracy"), variant.get("recording_accuracy")
    acc_text = "–" if acc is None else f"{acc * 100:.1f}%"
    if rec is not None and acc is not None:
        acc_text = f"{rec * 100:.1f}% per recording ({acc * 100:.1f}% per window)"
    return (
        text.replace("@DEVICE_SECTION@", device)
        .replace("@PROJECT_NAME@", project_name)
        .replace("@STUDIO_VERSION@", __version__)
        .replace("@DATE@", _dt.date.today().isoformat())
        .replace("@VARIANT@", str(variant.get("name")))
        .replace("@TARGET@", target.title)
        .replace("@CLASSES@", ", ".join(classes))
        .replace("@BYTES@", str(variant.get("bytes")))
        .replace("@GZIP_BYTES@", str(variant.get("gzip_bytes")))
        .replace("@QUANTIZE@", str(variant.get("quantize")))
        .replace("@ACCURACY@", acc_text)
        .replace("@INPUT@", _input_text(spec, io))
        .replace("@GOLDEN_COUNT@", str(len(gold_json.get("items", []))))
        .replace("@TOLERANCE@", f"{gold_json['tolerance']:g}")
    )


# ---------------------------------------------------------------------------------------------- project side
def _check_same_classes(project: Any, variant: dict[str, Any]) -> None:
    """The golden labels come from the current data: refuse a variant trained on other classes."""
    manifest = project.load_manifest()
    now, then = list(manifest.get("classes") or []), list(variant.get("classes") or [])
    if now != then:
        raise ConfigError(
            f"variant '{variant.get('name')}' was trained on classes {then} but the data now has {now}",
            path=project.manifest_path,
            hint="train and optimize again after a re-import, then export",
        )


def export(
    project: Any,
    out: str | Path,
    variant: str | None = None,
    target: str | None = None,
    reporter: Reporter | None = None,
) -> ExportResult:
    """Write the bundle of ``variant`` (default: the active one) for ``target`` (default: the project's)."""
    from studio.core import golden as golden_mod
    from studio.core import measure
    from studio.core.optimize import load_variant
    from studio.core.report import build_report

    reporter = reporter or NullReporter()
    target_id = target or project.settings.get("target") or None
    profile = get_target(target_id)
    data, model_bytes = load_variant(project, variant)
    out = Path(out).expanduser().absolute()
    check_output_folder(project, out)
    previous = previous_bundle(out)
    if previous is None:
        raise ConfigError("the output folder exists and is not an earlier Studio export", path=out,
                          hint="choose a new or empty folder (an export never deletes files it did not write)")
    spec = data["input_spec"]
    classes = list(data["classes"])
    _check_same_classes(project, data)
    reporter.status(f"Exporting variant '{data['name']}' for {profile.title}")
    reporter.progress(0.05, "collecting golden inputs")
    inp = measure.io_details(model_bytes)["input"]
    in_bytes = int(np.prod(inp["shape"][1:])) * np.dtype(inp["dtype"]).itemsize
    golden = golden_mod.from_project(project, spec, classes, model_bytes,
                                     golden_mod.golden_limit(len(classes), in_bytes if profile.mcu else None),
                                     progress=lambda f: reporter.progress(0.05 + 0.2 * f, "choosing golden inputs"),
                                     detector=data.get("anomaly"))
    check_cancel(reporter)
    reporter.progress(0.3, "writing the bundle")
    in_place = bool(previous)
    generation = commit.new_generation()
    staged = commit.staging_dir(out if in_place else out.parent, "bundle" if in_place else out.name)
    try:
        report_html = build_report(project, data, profile.id, reporter)
        files, arena = write_bundle(
            staged, model_bytes=model_bytes, variant=data, spec=spec, classes=classes, target=profile,
            golden=golden, project_name=project.name, report_html=report_html, reporter=reporter,
            generation=generation,
        )
        check_cancel(reporter)
    except BaseException:
        commit.discard(staged)
        raise
    commit_bundle(out, staged, files + ["bundle.json"], previous, generation)
    project.update(settings={"target": profile.id})
    reporter.progress(1.0, "exported")
    reporter.status(f"Wrote {len(files)} files to {out}")
    return ExportResult(out, data["name"], profile.id, files, arena, run_id=data.get("run_id"))


__all__ = ["export", "ExportResult", "Golden", "write_bundle", "preprocess_json"]
