"""Export pieces that need no TensorFlow: the harness's image decoder, C code generation, preprocess.json,
device verdicts and the HTML report."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.core import mcu_bundle
from studio.core.data.image import load_image as studio_load_image
from studio.core.export import preprocess_json
from studio.core.report import confusion_html, render_report, svg_curves
from studio.core.targets import TARGETS, check_fit, describe_targets, get_target
from studio.core.errors import ConfigError
from studio.resources import resource_path

HARNESS = resource_path("harness", "run_model.py")


def _harness():
    spec = importlib.util.spec_from_file_location("exported_run_model", HARNESS)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------------------------------------- odd images
def _odd_images(folder: Path) -> list[Path]:
    rng = np.random.default_rng(5)
    out = []
    rgb = rng.integers(0, 256, (23, 31, 3), dtype=np.uint8)
    p = folder / "rgb16.png"  # 16-bit grey
    Image.fromarray((rng.integers(0, 65536, (19, 27))).astype(np.uint16)).save(p)
    out.append(p)
    p = folder / "palette_transparent.png"
    pal = Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=16)
    pal.info["transparency"] = 3
    pal.save(p, transparency=3)
    out.append(p)
    p = folder / "rgba.png"
    rgba = np.dstack([rgb, rng.integers(0, 256, (23, 31), dtype=np.uint8)])
    Image.fromarray(rgba, "RGBA").save(p)
    out.append(p)
    p = folder / "cmyk.jpg"
    Image.fromarray(rgb).convert("CMYK").save(p, quality=90)
    out.append(p)
    p = folder / "exif_rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.fromarray(rgb).save(p, exif=exif.tobytes(), quality=90)
    out.append(p)
    p = folder / "la.png"
    Image.fromarray(np.dstack([rgb[:, :, 0], rgb[:, :, 1]]), "LA").save(p)
    out.append(p)
    p = folder / "float.tif"
    Image.fromarray(rng.random((12, 14)).astype(np.float32), "F").save(p)
    out.append(p)
    p = folder / "bilevel.bmp"
    Image.fromarray(rgb[:, :, 0] > 128).convert("1").save(p)
    out.append(p)
    return out


def test_harness_decoder_matches_studio_on_odd_images(tmp_path: Path) -> None:
    harness = _harness()
    files = _odd_images(tmp_path)
    for f in files:
        for size, channels in ((16, 3), (16, 1), (31, 3), (40, 1)):
            ours = studio_load_image(f, size, channels)
            theirs = harness.load_image(f, size, channels)
            assert theirs.dtype == np.uint8 and theirs.shape == (size, size, channels)
            np.testing.assert_array_equal(theirs, ours, err_msg=f"{f.name} at {size}px x{channels}")
    # the EXIF orientation was really applied (portrait after rotation), so the test is not vacuous
    with Image.open(tmp_path / "exif_rotated.jpg") as img:
        assert img.size == (31, 23)
    assert harness.load_image(tmp_path / "exif_rotated.jpg", 16, 3).shape == (16, 16, 3)


def test_harness_sensor_preprocessing_matches_pipeline(tmp_path: Path) -> None:
    from studio.core.data.sensor.shaping import normalize
    from studio.core.pipeline import InputSpec

    harness = _harness()
    rng = np.random.default_rng(0)
    sig = rng.normal(3, 2, (100, 3)).astype(np.float32)
    csv = tmp_path / "rec.csv"
    csv.write_text("time,ax,ay,az\n" + "".join(f"{i},{a},{b},{c}\n" for i, (a, b, c) in enumerate(sig)))
    spec = InputSpec(kind="sensor", channels=3, window=32, stride=16, channel_names=("az", "ax", "ay"),
                     mean=(1.0, 2.0, 3.0), std=(2.0, 0.0, 0.5))
    pre = preprocess_json(spec.to_json(), ["a", "b"], _io("float32"), b"x")["sensor"]
    read = harness.read_csv_channels(csv, pre)
    np.testing.assert_allclose(read, sig[:, [2, 0, 1]], rtol=1e-6)
    wins = harness.shape_recording(read, pre["window"], pre["stride"], pre["length_policy"])
    from studio.core.data.sensor import cut_windows

    np.testing.assert_array_equal(wins, cut_windows(read, 32, 16))
    ours = normalize(wins, spec.norm, spec.mean, spec.std)
    theirs = np.stack([harness.normalize_window(w, pre) for w in wins])
    np.testing.assert_array_equal(theirs, ours)


def _io(dtype: str) -> dict:
    return {
        "input": {"dtype": dtype, "shape": [1, 16, 16, 1], "scale": 0.0078, "zero_point": -1},
        "output": {"dtype": dtype, "shape": [1, 3], "scale": 1 / 256, "zero_point": -128},
    }


def test_preprocess_json_image_fields() -> None:
    from studio.core.pipeline import InputSpec

    spec = InputSpec(kind="image", channels=3, size=48, scale=1 / 127.5, offset=-1.0, source_channels=1)
    pre = preprocess_json(spec.to_json(), ["ok", "crack"], _io("int8"), b"model")
    assert pre["image"] == pre["image"] | {"size": 48, "channels": 3, "color_order": "RGB",
                                           "pixel_scale": 1 / 127.5, "pixel_offset": -1.0}
    assert pre["input"]["dtype"] == "int8" and pre["input"]["zero_point"] == -1
    assert pre["classes"] == ["ok", "crack"] and len(pre["model_sha256"]) == 64


# ---------------------------------------------------------------------------------------------- C code
def test_resolver_method_names() -> None:
    assert mcu_bundle.resolver_method("CONV_2D") == "AddConv2D"
    assert mcu_bundle.resolver_method("DEPTHWISE_CONV_2D") == "AddDepthwiseConv2D"
    assert mcu_bundle.resolver_method("FULLY_CONNECTED") == "AddFullyConnected"
    assert mcu_bundle.resolver_method("MAX_POOL_2D") == "AddMaxPool2D"
    assert mcu_bundle.resolver_method("RELU6") == "AddRelu6"
    assert mcu_bundle.resolver_method("EXPAND_DIMS") == "AddExpandDims"
    assert mcu_bundle.resolver_method("MEAN") == "AddMean"


# ---------------------------------------------------------------------------------------------- targets
def test_fit_verdicts_use_measured_arena() -> None:
    variant = {"bytes": 300 * 1024, "quantize": "int8",
               "arena": {"recommended_bytes": 600 * 1024, "min_bytes": 540 * 1024}}
    assert check_fit(variant, TARGETS["cortex-m7"])["ok"]
    esp = check_fit(variant, TARGETS["esp32-s3"])
    assert esp["flash_ok"] and not esp["ram_ok"] and not esp["ok"] and "RAM" in esp["reason"]
    big = dict(variant, bytes=3 * 1024 * 1024)
    assert not check_fit(big, TARGETS["cortex-m7"])["flash_ok"]
    assert check_fit(big, TARGETS["linux"])["ok"]
    f16 = dict(variant, quantize="float16", arena=None)
    assert not check_fit(f16, TARGETS["cortex-m7"])["ok"]
    assert check_fit(f16, TARGETS["android"])["ok"]
    unmeasured = dict(variant, arena={"ok": False, "recommended_bytes": None, "error": "no kernel"})
    assert not check_fit(unmeasured, TARGETS["cortex-m4"])["ok"]


def test_targets_table() -> None:
    ids = [t["id"] for t in describe_targets()]
    assert {"linux", "android", "cortex-m7", "esp32-s3"} <= set(ids)
    assert get_target("cortex-m7").ram_bytes == 1024 * 1024 and get_target("cortex-m7").mcu
    with pytest.raises(ConfigError):
        get_target("pdp-11")


# ---------------------------------------------------------------------------------------------- report
def test_report_html_has_sections() -> None:
    variant = {"name": "p50-int8", "quantize": "int8", "prune": 0.5, "accuracy": 0.9, "keras_accuracy": 0.91,
               "classes": ["a", "b"], "run_id": "run-1", "arch": "compact_cnn",
               "val": {"confusion_matrix": [[9, 1], [0, 10]],
                       "per_class": {"a": {"precision": 1, "recall": 0.9, "f1": 0.95, "support": 10},
                                     "b": {"precision": 0.9, "recall": 1, "f1": 0.95, "support": 10}}}}
    html = render_report(title="T <&>", variant=variant, variants=[variant], target="linux",
                         manifest={"classes": ["a", "b"], "split_counts": {"train": {"a": 40, "b": 40}}},
                         curves={"Loss": {"loss": [1.0, 0.5, 0.2], "val_loss": [1.1, 0.7, 0.4]}})
    assert "T &lt;&amp;&gt;" in html and "<svg" in html and "<polyline" in html
    assert html.count("<td style=") == 4  # the 2x2 confusion matrix
    assert "p50-int8" in html and "90.0%" in html
    assert "No loss recorded" in svg_curves({}, "Loss")
    assert "<table class='cm'>" in confusion_html(["x"], [[3]])
