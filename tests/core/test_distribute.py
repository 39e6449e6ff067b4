"""--distribute: MirroredStrategy over two logical CPU devices, in a subprocess.

Logical devices must be configured before TensorFlow initialises its devices, which the other tests in
this process have already done; a child interpreter keeps that from disturbing them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from studio.core.errors import ConfigError
from studio.core.train import TrainConfig, make_strategy

CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from studio.core.tfenv import load_tf
    tf, keras = load_tf()
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )
    from studio.core.data import import_data
    from studio.core.data.synth import make_image_folder
    from studio.core.evaluate import evaluate
    from studio.core.fsutil import read_json
    from studio.core.project import Project
    from studio.core.train import default_config, load_run_model, train

    root = Path(sys.argv[1])
    data = make_image_folder(root / "images", {"a": 8, "b": 8}, size=(16, 16))
    project = Project.create(root / "proj", "image")
    import_data(project, data, val_split=0.25, seed=1)
    config = default_config(project, epochs=2, batch_size=4, distribute="mirrored")
    result = train(project, config)
    cfg = read_json(project.runs_dir / result.run / "config.json")
    model, info = load_run_model(project)
    print(json.dumps({
        "replicas": cfg["replicas"],
        "global_batch": cfg["global_batch_size"],
        "epochs": len(result.epochs),
        "accuracy": evaluate(project).accuracy,
        "logical_cpus": len(tf.config.list_logical_devices("CPU")),
    }))
    """
)


@pytest.mark.slow
def test_mirrored_on_two_logical_cpus(tmp_path: Path) -> None:
    env = dict(os.environ, STUDIO_QUIET="1", TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["logical_cpus"] == 2
    assert out["replicas"] == 2 and out["global_batch"] == 8
    assert out["epochs"] == 2 and 0.0 <= out["accuracy"] <= 1.0


def test_multiworker_needs_tf_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        make_strategy("multiworker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        make_strategy("multiworker")


def test_unknown_distribution_is_rejected() -> None:
    with pytest.raises(ConfigError, match="distribution"):
        TrainConfig(arch="cnn1d", distribute="tpu").validate("sensor")
