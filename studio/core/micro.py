"""TFLite-Micro: the arena a model really needs, and running a model in the real interpreter.

(The C/C++ sources of a microcontroller bundle are written by :mod:`studio.core.mcu_bundle`.)

There is no formula for the arena: it depends on the memory planner, kernel scratch buffers and alignment. So
we ask the real TFLite-Micro interpreter (the ``tflite-micro`` package): the smallest arena in which the model
both allocates *and* invokes, found by bisection, plus stated headroom for target-specific kernels (CMSIS-NN
/ ESP-NN scratch buffers) and 32-bit pointer layouts.

The interpreter segfaults on some too-small arenas instead of returning an error, so every probe runs in a
child process (a persistent worker that is restarted after a crash). From source the worker is
``python -m studio.core.micro``; in a PyInstaller app it is the app itself with ``--tflm-probe`` (handled
at the top of ``studio.cli.main``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

HEADROOM_FRACTION = 0.10
HEADROOM_BYTES = 1024
MAX_ARENA = 64 * 1024 * 1024


@dataclass
class ArenaResult:
    ok: bool
    min_bytes: int | None  # smallest arena that allocated and invoked on this host
    recommended_bytes: int | None  # min_bytes + headroom, rounded up to 16 bytes: what the bundle uses
    headroom: str
    probes: int
    output: list[int | float] | None  # TFLite-Micro's output for the probe input, at min_bytes
    error: str | None = None
    kernel_scratch_bytes: int = 0  # part of the headroom: optimized kernels' largest scratch buffer

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def recommended_arena(min_bytes: int, kernel_scratch: int = 0) -> int:
    """The arena a bundle states: the measured minimum + optimized kernels' scratch + a margin, 16-aligned."""
    raw = min_bytes * (1 + HEADROOM_FRACTION) + HEADROOM_BYTES + kernel_scratch
    return int((int(raw) + 15) // 16 * 16)


HEADROOM_TEXT = (
    "measured minimum on the host TFLite-Micro interpreter (reference kernels) + the largest scratch buffer "
    "CMSIS-NN's optimized int8 kernels (Cortex-M4/M7/M33) ask for in this model + "
    f"{int(HEADROOM_FRACTION * 100)}% + {HEADROOM_BYTES} bytes (memory-planner packing, other kernels)"
)


def _round_up(n: int, k: int) -> int:
    return (int(n) + k - 1) // k * k


def kernel_scratch(model_bytes: bytes) -> dict[str, Any]:
    """Largest scratch buffer CMSIS-NN's int8 kernels request for one op of this model (reference kernels need
    none): ``{"bytes", "op"}``.

    Scratch buffers live only while their op runs, so the arena grows by at most the largest one. Sizes follow
    CMSIS-NN's ``*_get_buffer_size`` functions for cores with the DSP extension (Cortex-M4/M7/M33, the MCUs
    Studio targets), as upper bounds (padding assumed wherever it would matter). Float32 models get 0: CMSIS-NN
    has no float kernels, TFLite-Micro runs them with its reference kernels. ESP-NN's buffers are not modelled;
    the proportional margin is what covers them.
    """
    from studio.core.measure import litert_interpreter

    interp = litert_interpreter(model_bytes, delegates=False)
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    best: dict[str, Any] = {"bytes": 0, "op": None}
    for k, op in enumerate(interp._get_ops_details()):  # noqa: SLF001 - see measure.op_names
        ins = [i for i in op["inputs"] if i >= 0]
        if not ins or np.dtype(tensors[ins[0]]["dtype"]) != np.int8:
            continue
        name, x, size = op["op_name"], tensors[ins[0]]["shape"], 0
        w = tensors[ins[1]]["shape"] if len(ins) > 1 else None
        if name == "CONV_2D" and w is not None:  # w [out_c, kh, kw, in_c]: int16 im2col of two columns
            size = 0 if w[1] == w[2] == 1 else 4 * _round_up(int(w[1] * w[2] * w[3]), 4)
        elif name == "DEPTHWISE_CONV_2D" and w is not None:  # w [1, kh, kw, out_c]: int16 im2col of one patch
            size = 2 * int(x[-1] * w[1] * w[2])
        elif name == "AVERAGE_POOL_2D":  # int32 accumulators, one per channel
            size = 4 * int(x[-1])
        if size > best["bytes"]:
            best = {"bytes": int(size), "op": f"{name} (op {k})"}
    return best


def arena_plan(model_bytes: bytes, min_bytes: int) -> dict[str, Any]:
    """The stated arena and how it is made up: measured minimum, kernel scratch, margin."""
    scratch = kernel_scratch(model_bytes)
    total = recommended_arena(min_bytes, scratch["bytes"])
    return {"min_bytes": int(min_bytes), "kernel_scratch_bytes": scratch["bytes"], "kernel_scratch_op": scratch["op"],
            "margin_bytes": total - int(min_bytes) - scratch["bytes"], "recommended_bytes": total,
            "how": HEADROOM_TEXT}


# ---------------------------------------------------------------------------------------------- worker
def _worker_loop(model_path: str, input_path: str) -> int:
    """Child side: read arena sizes from stdin, answer 'ok <values>' or 'fail <reason>' per line."""
    from tflite_micro.python.tflite_micro import runtime

    model = Path(model_path).read_bytes()
    x = np.load(input_path, allow_pickle=False)
    # Silence TFLM's C-level error prints: the parent only needs the verdict.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        arena = int(line)
        try:
            interp = runtime.Interpreter.from_bytes(model, arena_size=arena)
            interp.set_input(x, 0)
            interp.invoke()
            out = np.asarray(interp.get_output(0)).reshape(-1)
            sys.stdout.write("ok " + " ".join(str(v) for v in out.tolist()) + "\n")
        except Exception as exc:  # noqa: BLE001 - TFLM raises RuntimeError/ValueError; any means "no"
            sys.stdout.write("fail " + str(exc).replace("\n", " ")[:200] + "\n")
        sys.stdout.flush()
    return 0


def probe_main(argv: list[str]) -> int:
    """Entry for the worker process: ``<model.tflite> <input.npy>`` (arena probes), or
    ``--run <model.tflite> <inputs.npy> <arena> <outputs.npy>`` (one run of :func:`run_tflm`)."""
    if argv[:1] == ["--run"]:
        model, inputs, arena, out = argv[1:5]
        np.save(out, run_tflm(Path(model).read_bytes(), np.load(inputs, allow_pickle=False), int(arena)),
                allow_pickle=False)
        return 0
    return _worker_loop(argv[0], argv[1])


def _worker_command(*args: str) -> list[str]:
    if getattr(sys, "frozen", False):
        return [sys.executable, "--tflm-probe", *args]
    return [sys.executable, "-m", "studio.core.micro", *args]


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if not getattr(sys, "frozen", False):  # a source checkout that is not pip-installed must import too
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


class _Prober:
    """Keeps one worker alive across probes; a crashed worker means 'this arena fails' and is restarted."""

    def __init__(self, model_path: str, input_path: str) -> None:
        self.cmd = _worker_command(model_path, input_path)
        self.proc: subprocess.Popen | None = None
        self.count = 0

    def _start(self) -> subprocess.Popen:
        return subprocess.Popen(
            self.cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=_worker_env(),
        )

    def probe(self, arena: int) -> tuple[bool, str]:
        self.count += 1
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(f"{arena}\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:  # the worker died (segfault on a too-small arena)
            self.close()
            return False, "crashed"
        kind, _, rest = line.strip().partition(" ")
        return kind == "ok", rest

    def close(self) -> None:
        if self.proc is not None:
            try:
                if self.proc.stdin:
                    self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
            self.proc = None


def _parse_output(text: str) -> list[int | float]:
    vals: list[int | float] = []
    for tok in text.split():
        vals.append(float(tok) if any(c in tok for c in ".eEn") else int(tok))
    return vals


def find_arena(
    model_bytes: bytes,
    sample_input: np.ndarray,
    progress: Callable[[float], None] | None = None,
    granularity: int = 64,
) -> ArenaResult:
    """Smallest arena (bytes) in which TFLite-Micro allocates and invokes ``model_bytes`` on ``sample_input``.

    ``sample_input`` is one input in the model's input dtype and shape (e.g. int8 ``[1, 32, 32, 1]``).
    Doubling finds an upper bound, bisection the minimum to within ``granularity`` bytes.
    """
    with tempfile.TemporaryDirectory(prefix="studio-tflm-") as tmp:
        model_path = os.path.join(tmp, "model.tflite")
        input_path = os.path.join(tmp, "input.npy")
        Path(model_path).write_bytes(model_bytes)
        np.save(input_path, np.ascontiguousarray(sample_input), allow_pickle=False)
        prober = _Prober(model_path, input_path)
        try:
            hi = 16 * 1024
            last_error = ""
            out_text = ""
            while True:
                ok, text = prober.probe(hi)
                if ok:
                    out_text = text
                    break
                last_error = text
                if hi >= MAX_ARENA:
                    return ArenaResult(False, None, None, HEADROOM_TEXT, prober.count, None,
                                       error=_explain(last_error))
                hi *= 2
                if progress:
                    progress(0.1)
            lo = 0  # known failing (or trivially too small)
            if hi > 16 * 1024:
                lo = hi // 2
            steps_total = max(1, int(np.ceil(np.log2(max(2, (hi - lo) / granularity)))))
            step = 0
            while hi - lo > granularity:
                mid = (lo + hi) // 2 // 16 * 16
                if mid <= lo:
                    break
                ok, text = prober.probe(mid)
                if ok:
                    hi, out_text = mid, text
                else:
                    lo = mid
                step += 1
                if progress:
                    progress(min(1.0, 0.1 + 0.9 * step / steps_total))
            scratch = kernel_scratch(model_bytes)["bytes"]
            return ArenaResult(True, hi, recommended_arena(hi, scratch), HEADROOM_TEXT, prober.count,
                               _parse_output(out_text), kernel_scratch_bytes=scratch)
        finally:
            prober.close()


def _explain(error: str) -> str:
    if "crashed" in error:
        return "TFLite-Micro crashed while loading the model"
    if not error:
        return "TFLite-Micro could not run the model"
    return f"TFLite-Micro could not run the model ({error})"


def run_tflm(model_bytes: bytes, x: np.ndarray, arena_size: int) -> np.ndarray:
    """Run samples ``x`` (model input dtype, ``[n, ...]``) through TFLite-Micro in *this* process.

    Only call with an arena known to work (from :func:`find_arena`): TFLM may crash on too-small arenas.
    """
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(model_bytes, arena_size=int(arena_size))
    outs = []
    for i in range(len(x)):
        interp.set_input(np.ascontiguousarray(x[i : i + 1]), 0)
        interp.invoke()
        outs.append(np.asarray(interp.get_output(0))[0].copy())
        interp.reset()
    return np.stack(outs)


def run_tflm_isolated(model_bytes: bytes, x: np.ndarray, arena_size: int, timeout: float = 300) -> np.ndarray:
    """:func:`run_tflm` in a child process: for models and arenas not known to be safe (a bundle on disk, which
    anyone may have edited), so that a TFLite-Micro crash cannot take the caller with it. Raises RuntimeError
    with the reason when the run fails."""
    with tempfile.TemporaryDirectory(prefix="studio-tflm-run-") as tmp:
        paths = [os.path.join(tmp, n) for n in ("model.tflite", "inputs.npy", "outputs.npy")]
        Path(paths[0]).write_bytes(model_bytes)
        np.save(paths[1], np.ascontiguousarray(x), allow_pickle=False)
        proc = subprocess.run(_worker_command("--run", paths[0], paths[1], str(int(arena_size)), paths[2]),
                              capture_output=True, text=True, timeout=timeout, env=_worker_env())
        if proc.returncode != 0 or not os.path.exists(paths[2]):
            last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            how = f"crashed (signal {-proc.returncode})" if proc.returncode < 0 else f"failed: {last[:200]}"
            raise RuntimeError(f"TFLite-Micro {how}")
        return np.load(paths[2], allow_pickle=False)


if __name__ == "__main__":  # the arena probe worker (see module docstring)
    raise SystemExit(probe_main(sys.argv[1:]))
