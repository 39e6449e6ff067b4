"""Microcontroller bundles built and run against the real TFLite-Micro library (the host kit), by every route the
bundle README documents: the kit's build.sh, the README's g++ line, CMake, and TFLM's Makefile loading the
bundle's Makefile.inc. The harness must pass its golden check, fail with another model's model_data.cc, refuse
to compile without -DTF_LITE_STATIC_MEMORY, and use no more arena than the bundle states.

The kit is found through STUDIO_TFLM_KIT, else <repo>/../shared/tflm-host-kit; without it (or without g++)
every test here is skipped with the reason. Everything is compiled once per bundle (module fixtures)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from studio.core.reporter import NullReporter
from studio.core.tflm_build import KIT_ENV, find_compiler, find_kit, parse_output

pytestmark = pytest.mark.slow

KIT = find_kit()
CXX = find_compiler()
if KIT is None or CXX is None:
    pytest.skip(f"no TFLite-Micro host kit ({KIT_ENV} or ../shared/tflm-host-kit) or no C++ compiler: "
                "the C++ harness cannot be built here", allow_module_level=True)

KIT_FLAGS = ["-std=c++17", "-O2", "-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics",
             "-DTF_LITE_STATIC_MEMORY", "-DTF_LITE_DISABLE_X86_NEON",
             f"-I{KIT}/include", f"-I{KIT}/include/gemmlowp"]
# the warnings TFLite-Micro's own Makefile compiles examples with, as errors
TFLM_WARNINGS = ["-Werror", "-Wsign-compare", "-Wdouble-promotion", "-Wunused-variable", "-Wunused-function",
                 "-Wswitch", "-Wvla", "-Wall", "-Wextra", "-Wmissing-field-initializers", "-Wstrict-aliasing",
                 "-Wno-unused-parameter", "-Wnon-virtual-dtor"]


def _run(cmd: list[str], cwd: Path | None = None, env: dict | None = None, timeout: float = 300
         ) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))


def _build_sh(bundle: Path) -> tuple[subprocess.CompletedProcess, dict]:
    proc = _run(["bash", str(KIT / "build.sh"), str(bundle)])
    return proc, parse_output(proc.stdout + proc.stderr)


def _other_model_data(project, variant: dict) -> bytes:
    """Another model with the same input and output: the same trained run with its last layer's weights moved by
    a fifth of their spread (an untrained model is no good: its degenerate quantization aborts TFLite-Micro)."""
    from studio.core.convert import convert_model
    from studio.core.train import load_run_model

    model, _ = load_run_model(project, variant["run_id"])
    layer = [lay for lay in model.layers if lay.get_weights()][-1]
    rng = np.random.default_rng(0)
    layer.set_weights([w + rng.normal(0, 0.2 * (float(np.std(w)) or 1.0), w.shape).astype(w.dtype)
                       for w in layer.get_weights()])
    shape = tuple(model.input_shape[1:])
    rep = rng.uniform(-1, 1, (32,) + shape).astype(np.float32)
    return convert_model(model, variant["quantize"], rep)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Image and sensor projects, each exported for cortex-m7 as int8 and float32, each built once with build.sh."""
    from studio.core.data import import_data
    from studio.core.data.synth import make_image_folder, make_sensor_folder
    from studio.core.export import export
    from studio.core.optimize import OptimizeConfig, optimize
    from studio.core.project import Project
    from studio.core.train import default_config, train

    root = tmp_path_factory.mktemp("mcu")
    img = Project.create(root / "img", "image")
    import_data(img, make_image_folder(root / "images", {"disc": 10, "ring": 10, "bar": 10}, size=(20, 16), seed=2),
                val_split=0.3, seed=1)
    train(img, default_config(img, arch="compact_cnn", input_size=16, width=0.5, epochs=1), NullReporter())
    sen = Project.create(root / "sen", "sensor")
    import_data(sen, make_sensor_folder(root / "rec", ("idle", "shake", "spin"), recordings=4, length=160),
                window=32, stride=16, val_split=0.25, seed=1)
    train(sen, default_config(sen, epochs=1), NullReporter())
    out: dict[str, dict] = {}
    for kind, project in (("image", img), ("sensor", sen)):
        for quant in ("int8", "float32"):
            info = optimize(project, OptimizeConfig(quantize=quant, name=quant), NullReporter()).to_json()
            result = export(project, root / f"{kind}-{quant}", variant=quant, target="cortex-m7")
            build = root / f"{kind}-{quant}-build"
            shutil.copytree(result.out, build)
            proc, parsed = _build_sh(build)
            out[f"{kind}-{quant}"] = {"project": project, "variant": info, "bundle": result.out, "build": build,
                                      "proc": proc, "parsed": parsed}
    return out


NAMES = ["image-int8", "image-float32", "sensor-int8", "sensor-float32"]


@pytest.mark.parametrize("name", NAMES)
def test_build_sh_passes_golden_check_within_stated_arena(bundles, name: str) -> None:
    b = bundles[name]
    proc, parsed = b["proc"], b["parsed"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    meta = json.loads((b["bundle"] / "bundle.json").read_text())
    golden = json.loads((b["bundle"] / "golden" / "golden.json").read_text())
    n = len(golden["items"])
    labelled = sum(g["label"] is not None for g in golden["items"])
    assert parsed["passed"] is True and n == meta["golden"] >= 4 and parsed["total"] == labelled >= 2
    assert [it["ok"] for it in parsed["items"]] == [True] * n
    # every golden carries its true label (a boundary blend none), and the harness reports it
    assert [it["label"] for it in parsed["items"]] == [g["label"] or "(blend)" for g in golden["items"]]
    assert parsed["correct"] == sum(it["label"] == it["predicted"] for it in parsed["items"])
    # arena truth: the compiled build uses no more than the stated arena, and no more than the Python-measured
    # minimum (TFLite-Micro's Python interpreter records allocations, which costs arena); the stated size keeps
    # the explicit headroom (optimized kernels' scratch + margin) on top of what the build really uses
    arena = meta["arena"]
    used = parsed["arena_used"]
    assert parsed["arena_bytes"] == arena["bytes"] == arena["recommended_bytes"]
    assert f"kTensorArenaSize = {arena['bytes']};" in (b["bundle"] / "main.cc").read_text()
    assert 0 < used <= arena["min_bytes"] <= arena["bytes"]
    assert arena["bytes"] - used >= arena["kernel_scratch_bytes"] + arena["margin_bytes"]
    if name.endswith("int8"):
        assert arena["kernel_scratch_bytes"] > 0 and arena["kernel_scratch_op"]
    else:
        assert arena["kernel_scratch_bytes"] == 0  # CMSIS-NN has no float kernels
    print(f"\n{name}: C++ arena used {used} of {arena['bytes']} stated; Python-measured minimum "
          f"{arena['min_bytes']}; kernel scratch {arena['kernel_scratch_bytes']}; margin {arena['margin_bytes']}")


@pytest.mark.parametrize("name", NAMES)
def test_goldens_are_not_saturated_and_the_python_harness_uses_the_same(bundles, name: str) -> None:
    b = bundles[name]
    golden = json.loads((b["bundle"] / "golden" / "golden.json").read_text())
    with np.load(b["bundle"] / "golden" / "golden_tflm.npz") as data:
        inputs, expected, labels = data["inputs"], data["expected"], data["labels"]
    classes = json.loads((b["bundle"] / "preprocess.json").read_text())["classes"]
    assert len(inputs) == len(golden["items"])
    assert [classes[i] if i >= 0 else None for i in labels] == [g["label"] for g in golden["items"]]
    top = expected.max(axis=1)
    # not one-hot: graded outputs, which a slightly different model cannot reproduce. A model saturated on every
    # real sample gets boundary blends (label None) instead of some of them.
    unsaturated = top < 127 if expected.dtype == np.int8 else top < 1.0 - 1e-3
    assert unsaturated.sum() >= 2, expected
    if expected.dtype == np.int8:
        assert golden["tolerance"] >= 2 and golden["kernel_diffs"]
    blends = [g for g in golden["items"] if g["label"] is None]
    assert all(g["blend"] and g["why"].startswith("boundary blend") for g in blends)
    assert len(golden["items"]) - len(blends) >= 2
    for item, exp in zip(golden["items"], expected):  # the C harness compares the values golden.json records
        assert item["expected_tflm"] == exp.tolist() and item["why"]
        assert np.max(np.abs(np.asarray(item["expected"]) - exp)) <= golden["tolerance"]
    print(f"\n{name} golden outputs ({golden['tolerance']:g} tolerance):\n{expected}")
    print(f"\n{name} golden items: " + "; ".join(g["why"] for g in golden["items"]))
    run = _run([sys.executable, str(b["bundle"] / "run_model.py"), "--selftest"])
    assert run.returncode == 0 and "SELFTEST PASSED" in run.stdout and "CORRECT ON" in run.stdout, run.stdout


@pytest.fixture(scope="module")
def other_models(bundles) -> dict[str, bytes]:
    return {name: _other_model_data(bundles[name]["project"], bundles[name]["variant"])
            for name in ("image-int8", "sensor-int8")}


@pytest.mark.parametrize("name", ["image-int8", "sensor-int8"])
def test_another_models_model_data_fails_the_golden_check(bundles, other_models, name: str, tmp_path: Path) -> None:
    from studio.core.mcu_bundle import model_data_files

    b = bundles[name]
    other = other_models[name]
    swapped = tmp_path / "swapped"
    shutil.copytree(b["bundle"], swapped)
    (swapped / "model_data.cc").write_text(model_data_files(other)["model_data.cc"])
    proc, parsed = _build_sh(swapped)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert parsed["passed"] is False and not all(it["ok"] for it in parsed["items"])
    assert parsed["arena_used"] is not None  # it ran: the golden comparison caught it, not a load failure


def test_arena_used_is_the_real_minimum_of_the_build(bundles, tmp_path: Path) -> None:
    """The arena the compiled harness reports using is what it needs: at that size it passes, 16 bytes less
    fails (so the Python-measured minimum can be compared with the real build's)."""
    b = bundles["image-int8"]
    used = b["parsed"]["arena_used"]
    objs = []
    for src in ("model_data.cc", "golden_data.cc"):
        obj = tmp_path / (src + ".o")
        assert _run([CXX, *KIT_FLAGS, f"-I{b['bundle']}", "-c", str(b["bundle"] / src), "-o", str(obj)]).returncode == 0
        objs.append(str(obj))
    results = {}
    for size in (used, used - 16):
        main = tmp_path / f"main_{size}.cc"
        main.write_text(re.sub(r"kTensorArenaSize = \d+;", f"kTensorArenaSize = {size};",
                               (b["bundle"] / "main.cc").read_text()))
        exe = tmp_path / f"harness_{size}"
        build = _run([CXX, *KIT_FLAGS, "-O0", f"-I{b['bundle']}", str(main), *objs,  # -O0: same arena, faster
                      f"{KIT}/lib/libtensorflow-microlite.a", "-lm", "-o", str(exe)])
        assert build.returncode == 0, build.stderr
        results[size] = _run([str(exe)]).returncode
    assert results == {used: 0, used - 16: 1}


def test_readme_gpp_line_builds_and_passes(bundles, tmp_path: Path) -> None:
    b = bundles["sensor-int8"]
    readme = (b["bundle"] / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.S)
    gpp = next(block for block in blocks if "g++" in block)
    assert "-DTF_LITE_STATIC_MEMORY" in gpp and "build.sh" not in gpp
    script = re.sub(r"export TFLM=\S+", f"export TFLM={KIT}", gpp)
    work = tmp_path / "bundle"
    shutil.copytree(b["bundle"], work)
    proc = _run(["bash", "-ec", script], cwd=work, env={"CXX": CXX})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SELFTEST PASSED" in proc.stderr + proc.stdout


def test_cmake_route_with_tflm_root(bundles, tmp_path: Path) -> None:
    if shutil.which("cmake") is None:
        pytest.skip("cmake not installed")
    b = bundles["image-int8"]
    build = tmp_path / "build"
    conf = _run(["cmake", "-S", str(b["bundle"]), "-B", str(build), f"-DTFLM_ROOT={KIT}",
                 f"-DCMAKE_CXX_COMPILER={shutil.which(CXX)}"])
    assert conf.returncode == 0, conf.stdout + conf.stderr
    made = _run(["cmake", "--build", str(build)])
    assert made.returncode == 0, made.stdout + made.stderr
    run = _run([str(build / "studio_model")])
    assert run.returncode == 0 and "SELFTEST PASSED" in run.stderr, run.stderr
    # without TFLite-Micro the configure step stops with the fix, instead of a build that cannot link
    bad = _run(["cmake", "-S", str(b["bundle"]), "-B", str(tmp_path / "nothing")])
    assert bad.returncode != 0 and "TFLM_ROOT" in bad.stderr


STANDIN_MAKEFILE = """\
# Stand-in for tensorflow/lite/micro/tools/make/Makefile: the parts an example relies on, as in TFLM (loading of
# examples/*/Makefile.inc at depth 2, the microlite_test(name, srcs, hdrs) helper, run_<name>, gen/ layout,
# its compile flags and warnings as errors), with the library and headers from the host kit.
TENSORFLOW_ROOT :=
MAKEFILE_DIR := $(TENSORFLOW_ROOT)tensorflow/lite/micro/tools/make
INCLUDES := -I. -I{kit}/include -I{kit}/include/gemmlowp
CXXFLAGS := -std=c++17 -fno-rtti -fno-exceptions -fno-threadsafe-statics -fno-unwind-tables \\
  -ffunction-sections -fdata-sections -DTF_LITE_STATIC_MEMORY -DTF_LITE_DISABLE_X86_NEON -DTF_LITE_USE_CTIME \\
  {warnings}
LDFLAGS := -Wl,--fatal-warnings -Wl,--gc-sections
GENDIR := gen/linux_x86_64_default_gcc/
CORE_OBJDIR := $(GENDIR)obj/core/
BINDIR := $(GENDIR)bin/
MICROLITE_LIB_PATH := {kit}/lib/libtensorflow-microlite.a

define microlite_test
$(1)_LOCAL_OBJS := $$(addprefix $$(CORE_OBJDIR),$$(patsubst %.cc,%.o,$(2)))
$(1)_BINARY := $$(BINDIR)$(1)
$$($(1)_BINARY): $$($(1)_LOCAL_OBJS)
\t@mkdir -p $$(dir $$@)
\t$$(CXX) $$(CXXFLAGS) -o $$@ $$^ $$(MICROLITE_LIB_PATH) $$(LDFLAGS) -lm
$(1): $$($(1)_BINARY)
run_$(1): $$($(1)_BINARY)
\t$$($(1)_BINARY)
endef

$(CORE_OBJDIR)%.o: %.cc
\t@mkdir -p $(dir $@)
\t$(CXX) $(CXXFLAGS) -Os $(INCLUDES) -c $< -o $@

MICRO_LITE_EXAMPLE_TESTS := $(shell find $(TENSORFLOW_ROOT)tensorflow/lite/micro/examples/ -maxdepth 2 -name Makefile.inc)
include $(MICRO_LITE_EXAMPLE_TESTS)
"""


def test_tflm_tree_route_makefile_inc(bundles, tmp_path: Path) -> None:
    """TFLM only loads examples/*/Makefile.inc: the bundle copied there becomes a make target named after its
    folder, and builds with TFLM's flags (warnings as errors) and runs."""
    b = bundles["sensor-float32"]
    tree = tmp_path / "tflite-micro"
    make_dir = tree / "tensorflow/lite/micro/tools/make"
    make_dir.mkdir(parents=True)
    (make_dir / "Makefile").write_text(STANDIN_MAKEFILE.format(kit=KIT, warnings=" ".join(TFLM_WARNINGS)))
    examples = tree / "tensorflow/lite/micro/examples"
    (examples / "another_example").mkdir(parents=True)  # other examples are loaded in the same include
    (examples / "another_example" / "Makefile.inc").write_text("ANOTHER_EXAMPLE_SRCS := x.cc\n")
    shutil.copytree(b["bundle"], examples / "vibration_check")
    proc = _run(["make", "-f", "tensorflow/lite/micro/tools/make/Makefile", f"CXX={CXX}", "run_vibration_check"],
                cwd=tree)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SELFTEST PASSED" in proc.stderr
    assert (tree / "gen/linux_x86_64_default_gcc/bin/vibration_check").exists()


def test_omitting_tf_lite_static_memory_cannot_build(bundles, tmp_path: Path) -> None:
    b = bundles["image-int8"]
    flags = [f for f in KIT_FLAGS if f != "-DTF_LITE_STATIC_MEMORY"]
    proc = _run([CXX, *flags, f"-I{b['bundle']}", "-c", str(b["bundle"] / "main.cc"), "-o", str(tmp_path / "m.o")])
    assert proc.returncode != 0 and "#error" in proc.stderr and "TF_LITE_STATIC_MEMORY" in proc.stderr
    assert proc.stderr.count("error:") == 1, proc.stderr  # one clear message, not a cascade from the headers


def test_check_bundle_runs_tflite_micro_and_the_compiled_harness(bundles, other_models, tmp_path: Path) -> None:
    from studio.core.reporter import NullReporter
    from studio.core.selftest import check_bundle
    from studio.jobs import run_job

    b = bundles["image-int8"]
    # the GUI's self-test is the worker job: plain data, no project needed
    result = run_job("bundle_selftest", None, {"bundle": str(b["bundle"])}, NullReporter())
    assert [(c["id"], c["title"], c["ran"]) for c in result["checks"]] == [
        ("tflite-micro", "TFLite-Micro interpreter on this PC", True),
        ("compiled", "main.cc compiled against TFLite-Micro and run on this PC", True)]
    assert result["ok"] and result["mcu"] and result["reproduces"]["ran"] == ["tflite-micro", "compiled"]
    n = result["reproduces"]["total"]
    assert result["reproduces"]["matched"] == n and result["correct"]["total"] == n
    assert result["arena"]["used_by_compiled"] == b["parsed"]["arena_used"]
    assert "TFLite-Micro" in result["summary"][0] and f"of {n}" in result["summary"][1]
    off = check_bundle(b["bundle"], compiled=False)
    assert off["reproduces"]["ran"] == ["tflite-micro"] and off["checks"][1]["reason"] == "not requested"

    # another model in model.tflite: TFLite-Micro does not reproduce Studio's answers (the compiled harness
    # failing on another model_data.cc is tested above); a C array that is not model.tflite is reported too
    swapped = tmp_path / "swapped"
    shutil.copytree(b["bundle"], swapped)
    (swapped / "model.tflite").write_bytes(other_models["image-int8"])
    bad = check_bundle(swapped, compiled=False)
    assert bad["ok"] is False and bad["checks"][0]["ran"] and not bad["checks"][0]["ok"]
    assert bad["checks"][0]["model_array_matches"] is False and "NOT hold" in bad["checks"][0]["detail"]
    assert bad["summary"][0].startswith("Does NOT reproduce") and bad["reproduces"]["matched"] < n


@pytest.mark.parametrize("task", ["image-anomaly", "sensor-anomaly"])
def test_detector_bundle_answers_ok_not_ok_on_tflite_micro(task: str, tmp_path: Path) -> None:
    """An int8 detector exported for a microcontroller builds against TFLite-Micro, passes its golden check
    within the stated arena, and answers OK / NOT OK at the bundle's threshold for each golden, counted against
    good / defect (it used to print 'predicted score' and 'CORRECT ON 0 OF 0')."""
    from studio.core import tflm_build
    from studio.core.anomaly.config import default_config
    from studio.core.anomaly.train import train_anomaly
    from studio.core.data import import_data
    from studio.core.data.synth import make_anomaly_image_folder, make_sensor_folder
    from studio.core.export import export
    from studio.core.optimize import OptimizeConfig, optimize
    from studio.core.project import Project

    project = Project.create(tmp_path / "p", task)
    if task == "image-anomaly":
        data = make_anomaly_image_folder(tmp_path / "d", good=30, defects={"hole": 4, "scratch": 4}, size=(32, 32))
    else:
        data = make_sensor_folder(tmp_path / "d", ("normal", "shake"), recordings=10, length=160)
    import_data(project, data)
    train_anomaly(project, default_config(project))
    optimize(project, OptimizeConfig(quantize="int8", name="int8"), NullReporter())
    bundle = export(project, tmp_path / "b", variant="int8", target="cortex-m7").out
    assert "#define STUDIO_MODEL_THRESHOLD" in (bundle / "studio_model.h").read_text()
    run = tflm_build.build_and_run(bundle, KIT, CXX)
    assert run["built"] and run["passed"] and run["exit_code"] == 0, run["output"][-2000:]
    assert {it["predicted"] for it in run["items"]} <= {"OK", "NOT OK"}
    assert {it["label"] for it in run["items"]} == {"OK", "NOT OK"}  # good and defect goldens
    assert run["total"] == len(run["items"]) > 0 and run["correct"] >= run["total"] - 1
    if task == "sensor-anomaly":
        _split_window_matches_the_goldens(bundle, tmp_path)


def _split_window_matches_the_goldens(bundle: Path, tmp_path: Path) -> None:
    """A sensor detector's int8 input is split (each value's code, then its rounding residual): the header's
    studio_model_split_window(), compiled with TFLite-Micro's warnings as errors, turns the golden windows (as the
    bundle's run_model.py normalizes them) into the very codes the golden check feeds (Studio's measure.split_codes), within one residual
    code where float32 rounds differently from Python's float64."""
    import importlib.util

    loader = importlib.util.spec_from_file_location("bundle_run_model", bundle / "run_model.py")
    harness = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(harness)  # type: ignore[union-attr]
    sensor = json.loads((bundle / "preprocess.json").read_text())["sensor"]
    raw = np.load(bundle / "golden" / "golden_windows.npz")["windows"]
    windows = np.stack([harness.normalize_window(w, sensor) for w in raw])
    codes = np.load(bundle / "golden" / "golden_tflm.npz")["inputs"]
    assert codes.shape == windows.shape[:-1] + (2 * windows.shape[-1],)
    values = ", ".join(f"{v:.9g}f" for v in windows.ravel())
    (tmp_path / "split.cc").write_text(f"""#include <stdio.h>
#include "studio_model.h"
static const float kWindows[] = {{{values}}};
int main() {{
  static int8_t input[STUDIO_MODEL_INPUT_LEN];
  for (int g = 0; g < {len(windows)}; ++g) {{
    studio_model_split_window(&kWindows[g * (STUDIO_MODEL_INPUT_LEN / 2)], input);
    for (int i = 0; i < STUDIO_MODEL_INPUT_LEN; ++i) printf("%d\\n", input[i]);
  }}
  return 0;
}}
""")
    exe = tmp_path / "split"
    built = _run([CXX, "-std=c++17", *TFLM_WARNINGS, f"-I{bundle}", str(tmp_path / "split.cc"), "-o", str(exe), "-lm"])
    assert built.returncode == 0, built.stderr[-2000:]
    out = np.array([int(v) for v in _run([str(exe)]).stdout.split()]).reshape(codes.shape)
    # code + residual / 250: the value in steps (a value half-way between two codes may round either way, with
    # its residual at +125 or -125: the same value)
    channels = windows.shape[-1]
    value = out[..., :channels] + out[..., channels:] / 250.0
    expected = codes[..., :channels].astype(int) + codes[..., channels:].astype(int) / 250.0
    assert np.abs(value - expected).max() <= 1.0 / 250 + 1e-9
    assert (out == codes).mean() > 0.99
