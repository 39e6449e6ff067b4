"""Data: importing a folder of 10,000 small images against a bare walk + image header read of the same files.

The benchmark writes the folder itself (4 classes of 32x32 PNGs, the kind of small images a sensor camera or
a digits-like dataset has) into a temporary directory. Studio's ``import_data`` lists the class folders,
decodes every file completely (a truncated file must be found at import, not at epoch 7), hashes it for
duplicate detection, freezes a stratified split and writes the manifest. The baseline is the least any
importer must do: ``os.walk`` and ``PIL.Image.open(path).size`` per file. Both run several times in this
process, interleaved, after one untimed pass that warms the OS page cache; medians are compared.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Row, median


def generate(root: Path, n: int, classes: int = 4, side: int = 32, seed: int = 0) -> Path:
    from studio.core.data.synth import make_image_folder

    per = n // classes
    return make_image_folder(root, {f"class{i}": per for i in range(classes)}, size=(side, side), seed=seed)


def bare_walk(root: Path) -> int:
    from PIL import Image

    n = 0
    for folder, _, files in os.walk(root):
        for name in files:
            with Image.open(os.path.join(folder, name)) as img:
                _ = img.size
            n += 1
    return n


def studio_import(root: Path, work: Path, i: int) -> int:
    from studio.core.data import import_data
    from studio.core.project import Project

    project = Project.create(work / f"project{i}", "image", "import-bench")
    result = import_data(project, root, val_split=0.2, seed=1234)
    return int(sum(result.to_json()["classes"].values()))


def run(quick: bool = False, log: Any = print) -> list[Row]:
    n = 2000 if quick else 10000
    runs = 1 if quick else 3
    work = Path(tempfile.mkdtemp(prefix="smsbench-data-"))
    try:
        t = time.perf_counter()
        root = generate(work / "images", n)
        gen_s = time.perf_counter() - t
        bare_walk(root)  # warm the page cache for both sides
        times: dict[str, list[float]] = {"studio": [], "bare": []}
        counts = {}
        for i in range(runs):
            for side in (("studio", "bare") if i % 2 == 0 else ("bare", "studio")):
                t = time.perf_counter()
                counts[side] = studio_import(root, work, i) if side == "studio" else bare_walk(root)
                times[side].append(time.perf_counter() - t)
        log(f"    generated {n} images in {gen_s:.1f} s; import {', '.join(f'{s:.2f}' for s in times['studio'])} s;"
            f" bare {', '.join(f'{s:.2f}' for s in times['bare'])} s")
        if counts["studio"] != n or counts["bare"] != n:
            raise RuntimeError(f"expected {n} images, import found {counts['studio']}, walk {counts['bare']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    s, b = median(times["studio"]), median(times["bare"])
    return [Row("data", f"import {n:,} 32x32 PNGs (import_data)", s, "s", baseline=b,
                baseline_name="os.walk + PIL header read", check=("ratio", "<=", 8.0),
                note=f"{runs} interleaved run(s) each, warm page cache; {n / s:,.0f} images/s",
                extra=times)]
