"""``studio --selftest``: the whole chain on a tiny synthetic project, headless, in a temporary folder.

Proves an installation (source checkout or frozen app) can do everything a user's first session needs:
TensorFlow and tfmot load, data imports, a model trains, pruning and int8 conversion work, the model runs in
LiteRT and in TFLite-Micro with the same outputs, an MCU bundle is written and its Python harness passes its
golden self-test. Each step is timed; the first failure stops the run and is reported with its cause.

In a PyInstaller app ``sys.executable`` is the app itself, so the harness runs in-process through ``runpy``;
from source it runs in a child Python, as a user would run it.
"""

from __future__ import annotations

import contextlib
import io
import runpy
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

from studio.core.bundle_check import check_bundle  # noqa: F401 - a bundle's self-test, beside the installation's
from studio.core.reporter import NullReporter, Reporter

STEPS = ("tensorflow", "data", "train", "prune-int8", "litert", "tflite-micro", "export", "harness")


def run_harness_in_process(bundle: Path, args: list[str]) -> tuple[int, str]:
    """Run ``bundle/run_model.py args`` in this interpreter (runpy); returns (exit code, output).

    For frozen apps, whose ``sys.executable`` is the app rather than a Python. The harness finds its files from
    its own ``__file__``, so the working directory is left alone (changing it from a worker thread would move
    every other thread too).
    """
    script = bundle / "run_model.py"
    buf = io.StringIO()
    old_argv = sys.argv
    sys.argv = [str(script), *args]
    code: int = 0
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            try:
                runpy.run_path(str(script), run_name="__main__")
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = old_argv
    return code, buf.getvalue()


def run_harness(bundle: Path, args: list[str], timeout: float = 300) -> tuple[int, str]:
    """Run ``bundle/run_model.py args``: a child Python from source, in-process (runpy) when frozen."""
    if getattr(sys, "frozen", False):
        return run_harness_in_process(bundle, args)
    proc = subprocess.run([sys.executable, str(bundle / "run_model.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=str(bundle))
    return proc.returncode, proc.stdout + proc.stderr


def run_selftest(reporter: Reporter | None = None, keep: str | Path | None = None) -> dict[str, Any]:
    """Run every step; returns ``{"ok", "steps": [{name, ok, seconds, detail}], "seconds"}``.

    ``keep``: a folder to keep the temporary project and bundle in (for debugging); default a temp dir.
    """
    reporter = reporter or NullReporter()
    started = time.monotonic()
    steps: list[dict[str, Any]] = []
    tmp = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="studio-selftest-"))
    tmp.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {}

    def step(name: str, fn: Callable[[], str]) -> bool:
        reporter.progress(len(steps) / len(STEPS), f"self-test: {name}")
        t0 = time.monotonic()
        try:
            detail, ok = fn(), True
        except Exception as exc:  # noqa: BLE001 - the self-test reports every failure, whatever its type
            ok = False
            detail = f"{type(exc).__name__}: {exc}"
            state.setdefault("tracebacks", {})[name] = traceback.format_exc()
        steps.append({"name": name, "ok": ok, "seconds": round(time.monotonic() - t0, 2), "detail": detail})
        reporter.status(f"{'ok  ' if ok else 'FAIL'} {name} ({steps[-1]['seconds']:.1f}s): {detail}")
        return ok

    def s_tensorflow() -> str:
        from studio.core.tfenv import load_tf, load_tfmot

        tf, keras = load_tf()
        tfmot = load_tfmot()
        import ai_edge_litert  # noqa: F401
        from tflite_micro.python.tflite_micro import runtime  # noqa: F401

        return f"TensorFlow {tf.__version__}, tf_keras {keras.__version__}, tfmot {tfmot.__version__}"

    def s_data() -> str:
        from studio.core.data import import_data
        from studio.core.data.synth import make_image_folder
        from studio.core.project import Project

        src = make_image_folder(tmp / "images", {"red": 8, "green": 8, "blue": 8}, size=(20, 16), seed=3)
        project = Project.create(tmp / "project", "image", name="selftest")
        result = import_data(project, src, val_split=0.25, seed=1)
        state["project"] = project
        return f"imported {sum(result.to_json()['classes'].values())} images in 3 classes"

    def s_train() -> str:
        from studio.core.train import default_config, train

        project = state["project"]
        config = default_config(project, arch="compact_cnn", input_size=16, width=0.5, epochs=1, patience=1)
        result = train(project, config, NullReporter()).to_json()
        return f"1 epoch of compact_cnn, {result.get('params')} parameters"

    def s_prune_int8() -> str:
        from studio.core.optimize import OptimizeConfig, optimize

        project = state["project"]
        info = optimize(project, OptimizeConfig(prune=0.5, prune_kind="weights", quantize="int8", finetune_epochs=1), NullReporter())
        v = info.to_json()
        state["variant"] = v
        state["variant_path"] = info.path
        if abs(v["sparsity"] - 0.5) > 0.02:
            raise AssertionError(f"sparsity {v['sparsity']:.3f} after pruning to 0.5")
        if v["io"]["input"]["dtype"] != "int8":
            raise AssertionError(f"input type {v['io']['input']['dtype']}, expected int8")
        return f"{v['bytes']} bytes ({v['gzip_bytes']} gzip), sparsity {v['sparsity']:.2f}"

    def s_litert() -> str:
        from studio.core.measure import litert_interpreter, quantize_input, run_litert

        v = state["variant"]
        model_bytes = (state["variant_path"] / "model.tflite").read_bytes()
        rng = np.random.default_rng(0)
        shape = v["io"]["input"]["shape"]
        x = rng.uniform(-1, 1, size=[4] + shape[1:]).astype(np.float32)
        run = run_litert(model_bytes, x)
        if not np.all(np.isfinite(run.probs)):
            raise AssertionError("LiteRT produced non-finite outputs")
        # TFLite-Micro is compared with LiteRT's builtin kernels; XNNPACK (the default delegate, used above)
        # may round an int8 output differently by a step or two, which the golden tolerance allows for.
        interp = litert_interpreter(model_bytes, delegates=False)
        inp, outp = interp.get_input_details()[0], interp.get_output_details()[0]
        xq = quantize_input(x, inp)
        builtin = []
        for i in range(len(xq)):
            interp.set_tensor(inp["index"], xq[i : i + 1])
            interp.invoke()
            builtin.append(interp.get_tensor(outp["index"])[0].copy())
        state["model_bytes"], state["xq"], state["litert_raw"] = model_bytes, xq, np.stack(builtin)
        state["xnnpack_raw"] = run.raw
        return f"4 samples, accuracy on val {v['accuracy']:.2f}, latency {v['latency_ms']:.3f} ms"

    def s_tflm() -> str:
        from studio.core.micro import run_tflm

        arena = state["variant"]["arena"]
        if not arena or not arena.get("ok"):
            raise AssertionError(f"arena search failed: {(arena or {}).get('error')}")
        out = run_tflm(state["model_bytes"], state["xq"], arena["recommended_bytes"])
        diff = int(np.max(np.abs(out.astype(np.int32) - state["litert_raw"].astype(np.int32))))
        # Reference (TFLite-Micro) and optimized (LiteRT builtin) int8 kernels may each round a requantization
        # differently; over the compact CNN's 8 conv layers that adds up to 2 output steps on some weights
        # (seen after fine-tuning started from the run's learning rate): the bundle's golden tolerance.
        if diff > 2:
            raise AssertionError(f"TFLite-Micro and LiteRT (builtin kernels) outputs differ by {diff}")
        xnn = int(np.max(np.abs(out.astype(np.int32) - state["xnnpack_raw"].astype(np.int32))))
        return (f"arena {arena['min_bytes']} bytes (using {arena['recommended_bytes']}); max |diff| vs LiteRT "
                f"builtin kernels {diff}, vs XNNPACK {xnn} (tolerance 2)")

    def s_export() -> str:
        from studio.core.export import export

        result = export(state["project"], tmp / "bundle", target="cortex-m7")
        state["bundle"] = result.out
        missing = [f for f in ("model.tflite", "run_model.py", "main.cc", "model_data.cc", "report.html")
                   if f not in result.files]
        if missing:
            raise AssertionError("bundle lacks " + ", ".join(missing))
        return f"{len(result.files)} files, arena {result.arena_bytes} bytes"

    def s_harness() -> str:
        code, output = run_harness(state["bundle"], ["--selftest"])
        lines = [ln for ln in output.splitlines() if "SELFTEST" in ln]
        last = lines[-1] if lines else (output.strip().splitlines() or [""])[-1]
        if code != 0:
            raise AssertionError(f"run_model.py --selftest exited {code}: {last}")
        return last

    try:
        for name, fn in zip(STEPS, (s_tensorflow, s_data, s_train, s_prune_int8, s_litert, s_tflm, s_export,
                                    s_harness)):
            if not step(name, fn):
                break
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    ok = len(steps) == len(STEPS) and all(s["ok"] for s in steps)
    reporter.progress(1.0, "self-test passed" if ok else "self-test FAILED")
    out: dict[str, Any] = {"ok": ok, "steps": steps, "seconds": round(time.monotonic() - started, 1)}
    if state.get("tracebacks"):
        out["tracebacks"] = state["tracebacks"]
    return out

