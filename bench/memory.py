"""Memory: peak RSS of a MobileNetV2-0.35 training at 96x96, batch 32, a few steps on generated images.

Each measurement is one fresh process reaped with ``os.wait4``, whose ``ru_maxrss`` is that process's own
peak resident set (TensorFlow, the model, decoded images, tf.data buffers, everything). Studio's ``train()``
is compared with a plain tf_keras ``fit`` of the same model on the same data through the same pipeline
(see :mod:`bench.train_throughput`), so the ratio is what Studio's own machinery adds.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench.common import Row, median, run_child
from bench.train_throughput import make_project

MODULE = "bench.train_throughput"


def run(quick: bool = False, log: Any = print) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix="smsbench-mem-"))
    # 4 classes x 40 images: 128 train (4 steps of 32) + 32 val; two epochs, so validation, a best-weights
    # copy and weights.h5 all happen at least once.
    try:
        project = make_project(work, classes=4, per_class=40, image=96)
        payload = {"project": str(project), "arch": "mobilenetv2", "width": 0.35, "size": 96, "batch": 32,
                   "epochs": 2}
        rss: dict[str, list[float]] = {"studio": [], "keras": []}
        pairs = 1 if quick else 2
        for i in range(pairs):
            for mode in (("studio", "keras") if i % 2 == 0 else ("keras", "studio")):
                r = run_child(MODULE, dict(payload, mode=mode))
                rss[mode].append(r.maxrss_mb)
                log(f"    {mode:<6} peak RSS {r.maxrss_mb:.0f} MiB (wall {r.wall:.0f} s)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return [Row("memory", "peak RSS, MobileNetV2-0.35 96x96 batch 32 training", median(rss["studio"]), "MiB",
                baseline=median(rss["keras"]), baseline_name="plain tf_keras fit, same model and data",
                check=("ratio", "<=", 1.15),
                note=f"128 generated training images, 2 epochs of 4 steps + validation; {pairs} process(es) each",
                extra=rss)]
