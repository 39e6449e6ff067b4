"""Compile and run a bundle's C++ harness against a TFLite-Micro host build, when one is on this machine.

A *kit* is a relocatable host build of TFLite-Micro: ``include/`` (TFLM, flatbuffers, gemmlowp, ruy headers),
``lib/libtensorflow-microlite.a`` and ``build.sh BUNDLE`` (compiles ``BUNDLE/*.cc`` into ``BUNDLE/harness`` and
runs it). It is found through ``STUDIO_TFLM_KIT``, else beside a source checkout (``../shared/tflm-host-kit``).
Nothing here is needed to export a bundle: it is how Studio proves, on a PC, that the exact ``main.cc`` a
firmware engineer will flash compiles against the real library and passes its golden check.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

KIT_ENV = "STUDIO_TFLM_KIT"
KIT_LIBRARY = "lib/libtensorflow-microlite.a"

_GOLDEN_LINE = re.compile(r"golden (\d+): true (.*), predicted (.*), max \|diff\| (-?\d+) (\S+): (ok|DIFFERS)")
_ARENA_LINE = re.compile(r"arena used: (\d+) of (\d+) bytes")
_CORRECT_LINE = re.compile(r"CORRECT ON (\d+) OF (\d+)")


def default_kit_path() -> Path:
    """Where a source checkout keeps the kit: ``<repo>/../shared/tflm-host-kit``."""
    return Path(__file__).resolve().parents[2].parent / "shared" / "tflm-host-kit"


def is_kit(path: Path) -> bool:
    return (path / "build.sh").is_file() and (path / KIT_LIBRARY).is_file() and (path / "include").is_dir()


def find_kit(explicit: str | Path | None = None) -> Path | None:
    """The kit to use: ``explicit``, else ``$STUDIO_TFLM_KIT``, else :func:`default_kit_path`; None if absent."""
    for cand in (explicit, os.environ.get(KIT_ENV), default_kit_path()):
        if cand and is_kit(Path(cand).expanduser()):
            return Path(cand).expanduser().resolve()
    return None


def find_compiler() -> str | None:
    """A C++ compiler: ``$CXX``, else g++, c++ or clang++ on PATH."""
    cxx = os.environ.get("CXX")
    if cxx and shutil.which(cxx):
        return cxx
    for name in ("g++", "c++", "clang++"):
        if shutil.which(name):
            return name
    return None


def why_not_available(kit: Path | None, cxx: str | None) -> str | None:
    """None when a compiled check can run, else the reason in plain words."""
    if cxx is None:
        return "no C++ compiler found (install g++ or clang, or set CXX)"
    if kit is None:
        return (f"no TFLite-Micro host build found (set {KIT_ENV} to a folder with include/, "
                f"{KIT_LIBRARY} and build.sh)")
    return None


def parse_output(text: str) -> dict[str, Any]:
    """What the harness printed: arena use, one entry per golden, the verdict and the correct count."""
    out: dict[str, Any] = {"arena_used": None, "arena_bytes": None, "items": [], "passed": None,
                           "correct": None, "total": None}
    for line in text.replace("\r", "").splitlines():
        if (m := _ARENA_LINE.search(line)):
            out["arena_used"], out["arena_bytes"] = int(m.group(1)), int(m.group(2))
        elif (m := _GOLDEN_LINE.search(line)):
            scale = 1e-6 if m.group(5) == "e-6" else 1.0
            out["items"].append({"index": int(m.group(1)), "label": m.group(2), "predicted": m.group(3),
                                 "max_diff": int(m.group(4)) * scale, "ok": m.group(6) == "ok"})
        elif "SELFTEST PASSED" in line:
            out["passed"] = True
        elif "SELFTEST FAILED" in line:
            out["passed"] = False
        elif (m := _CORRECT_LINE.search(line)):
            out["correct"], out["total"] = int(m.group(1)), int(m.group(2))
    return out


def build_and_run(bundle: str | Path, kit: Path, cxx: str | None = None, timeout: float = 600) -> dict[str, Any]:
    """Copy the bundle's C/C++ sources to a temporary folder, build them with the kit's ``build.sh`` and run the
    result (the bundle itself is left untouched). Returns ``{"built", "exit_code", "output", **parse_output}``."""
    from studio.core.mcu_bundle import HARNESS_SOURCES

    bundle = Path(bundle)
    with tempfile.TemporaryDirectory(prefix="studio-harness-") as tmp:
        work = Path(tmp)
        for src in bundle.iterdir():
            if src.suffix in (".cc", ".h") and src.is_file():
                shutil.copy2(src, work / src.name)
        missing = [n for n in HARNESS_SOURCES if not (work / n).exists()]
        if missing:
            return {"built": False, "exit_code": None, "output": "missing " + ", ".join(missing),
                    **parse_output("")}
        env = dict(os.environ)
        if cxx:
            env["CXX"] = cxx
        try:
            proc = subprocess.run(["bash", str(kit / "build.sh"), str(work)], capture_output=True, text=True,
                                  timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return {"built": (work / "harness").exists(), "exit_code": None,
                    "output": f"timed out after {timeout:.0f} s", **parse_output("")}
        output = proc.stdout + proc.stderr
        return {"built": (work / "harness").exists(), "exit_code": proc.returncode, "output": output,
                **parse_output(output)}
