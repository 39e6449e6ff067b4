"""Helpers shared by the benchmarks: child processes (with their own peak RSS), medians, result rows, machine
facts, and the results file / markdown report.

Every heavy measurement runs in a *fresh* interpreter (``run_child``): TensorFlow's thread pools, tracing
caches and allocator state from one measurement must not leak into the next, and the parent (which only
orchestrates) never imports TensorFlow.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
RESULTS_JSON = ROOT / "bench" / "results.json"
REPORT_MD = ROOT / "docs" / "benchmarks.md"


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("STUDIO_QUIET", "1")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def time_command(argv: list[str], runs: int = 5, env: dict[str, str] | None = None) -> list[float]:
    """Wall seconds of each of ``runs`` executions of a whole process."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env or child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return times


def time_commands_interleaved(commands: dict[str, list[str]], runs: int,
                              env: dict[str, str] | None = None) -> dict[str, list[float]]:
    """Run each command ``runs`` times, interleaved (a, b, b, a, a, b, ...) so slow drifts of the machine's
    load hit both sides alike. One untimed run of each first warms the OS page cache."""
    names = list(commands)
    for name in names:
        time_command(commands[name], 1, env)
    out: dict[str, list[float]] = {n: [] for n in names}
    for i in range(runs):
        order = names if i % 2 == 0 else names[::-1]
        for name in order:
            out[name] += time_command(commands[name], 1, env)
    return out


def run_python(code: str, timeout: float = 1800, env: dict[str, str] | None = None) -> str:
    """Run ``code`` in a fresh interpreter and return its stdout's last line (benchmarks print JSON there)."""
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env or child_env(), capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{proc.stderr[-3000:]}")
    return proc.stdout.strip().splitlines()[-1]


@dataclass
class ChildResult:
    data: dict[str, Any]  # the JSON object the child printed last
    wall: float  # seconds, launch to exit
    maxrss_mb: float  # peak resident set of exactly this child (wait4 rusage), MiB


def run_child(module: str, payload: dict[str, Any], timeout: float = 1200,
              env: dict[str, str] | None = None) -> ChildResult:
    """Run ``python -m <module> --child '<payload json>'`` and return the JSON object it printed last.

    The child is reaped with ``os.wait4`` so its own peak RSS is known exactly (``RUSAGE_CHILDREN`` would be
    the maximum over every child the parent ever waited for). A child running past ``timeout`` is killed.
    """
    argv = [sys.executable, "-m", module, "--child", json.dumps(payload)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env or child_env(), stdout=out, stderr=err, cwd=str(ROOT))
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child {module} failed (exit {proc.returncode}):\n{stderr[-3000:]}")
    lines = [ln for ln in stdout.strip().splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"benchmark child {module} printed no JSON:\n{stdout[-1000:]}\n{stderr[-2000:]}")
    return ChildResult(json.loads(lines[-1]), wall, usage.ru_maxrss / 1024.0)


def child_main(argv: list[str] | None, fn: Callable[[dict[str, Any]], dict[str, Any]]) -> int:
    """Entry point of a benchmark child: ``--child '<json>'`` -> ``fn(payload)`` printed as one JSON line."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] != "--child":
        raise SystemExit("usage: python -m bench.<module> --child '<json payload>'")
    result = fn(json.loads(argv[1]))
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def self_peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---------------------------------------------------------------------------------------------- rows
@dataclass
class Row:
    """One measured quantity. ``check`` is (on, op, threshold): on "ratio" or "value", op ">=" or "<="."""

    section: str
    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    check: tuple[str, str, float] | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    issue: bool = False  # the target comes from issue 6 (else: a regression guard set by the benchmark)

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline

    @property
    def target(self) -> str:
        if not self.check:
            return ""
        on, op, thr = self.check
        op_txt = {">=": "≥", "<=": "≤"}[op]
        return f"{'ratio' if on == 'ratio' else 'value'} {op_txt} {thr:g}"

    @property
    def ok(self) -> bool | None:
        if not self.check:
            return None
        on, op, thr = self.check
        x = self.ratio if on == "ratio" else self.value
        if x is None:
            return None
        return x >= thr if op == ">=" else x <= thr

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["check"] = list(self.check) if self.check else None
        d["ratio"] = self.ratio
        d["target"] = self.target
        d["ok"] = self.ok
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Row":
        keys = {"section", "name", "value", "unit", "baseline", "baseline_name", "note", "extra", "issue"}
        row = cls(**{k: d[k] for k in keys if k in d})
        row.check = tuple(d["check"]) if d.get("check") else None  # type: ignore[assignment]
        return row


def fmt_num(x: float | None, unit: str = "") -> str:
    if x is None:
        return "—"
    ax = abs(x)
    if ax >= 1000:
        s = f"{x:,.0f}"
    elif ax >= 100:
        s = f"{x:.0f}"
    elif ax >= 10:
        s = f"{x:.1f}"
    elif ax >= 1:
        s = f"{x:.2f}"
    else:
        s = f"{x:.3f}"
    return f"{s} {unit}".strip()


def print_rows(rows: list[Row], file: Any = None) -> None:
    file = file or sys.stdout
    for r in rows:
        ratio = f"ratio {r.ratio:.3f}" if r.ratio is not None else ""
        base = f"vs {fmt_num(r.baseline, r.unit)} ({r.baseline_name})" if r.baseline is not None else ""
        verdict = {True: "PASS", False: "FAIL", None: ""}[r.ok]
        target = f"[{r.target}: {verdict}]" if r.check else ""
        print(f"  {r.section:<14} {r.name:<46} {fmt_num(r.value, r.unit):>14} {base} {ratio} {target}".rstrip(),
              file=file, flush=True)


# ---------------------------------------------------------------------------------------------- machine
def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine_info() -> dict[str, Any]:
    """CPU model, cores, RAM, OS, and the load average (the cores here are shared: load explains noise)."""
    cpu = platform.processor() or platform.machine()
    for line in _read("/proc/cpuinfo").splitlines():
        if line.lower().startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    ram_gb = None
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            ram_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = os.cpu_count()
    return {
        "cpu": cpu,
        "cores": affinity,
        "ram_gb": ram_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def versions() -> dict[str, str]:
    """Package versions from metadata (no import: the parent stays free of TensorFlow and Qt)."""
    from importlib import metadata

    out = {}
    for name in ("small-model-studio", "tensorflow", "tf_keras", "tensorflow-model-optimization", "ai-edge-litert",
                 "PySide6", "numpy", "pillow"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    try:
        from studio import __version__

        out["studio"] = __version__
    except Exception:  # noqa: BLE001 - a version string must never break a benchmark run
        pass
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip()
        if commit:
            out["git"] = commit
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def now_iso() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------------------- results
def load_results(path: Path = RESULTS_JSON) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def save_results(results: dict[str, Any], path: Path = RESULTS_JSON) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def write_digits(out: Path) -> Path:
    """scikit-learn's 1,797 8x8 digits as grey PNGs in class folders: a small real public dataset, offline."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    for i, (img, label) in enumerate(zip(d.images, d.target)):
        folder = out / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(img * 255.0 / 16.0, 0, 255).astype(np.uint8), "L").save(folder / f"{i:04d}.png")
    return out
