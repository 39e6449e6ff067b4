"""Projects with a run and a variant made in seconds, without training: for the hardening tests (issue 11).

A "fake" run is a real one except that its weights are the initial random ones: model.json, weights.h5 and
metrics.json are written the way ``train`` writes them, the variant is a real float32 conversion, so
evaluate, export and the loaders see exactly what they see after a real run. Templates are built once per
test session and copied for each test (:func:`copy_project`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from studio.core.data import import_data
from studio.core.data.synth import make_image_folder, make_sensor_folder
from studio.core.fsutil import atomic_write_json
from studio.core.project import Project


def fake_run(project: Project, arch: str, input_size: int | None = None, run_id: str = "run-fake") -> str:
    """Write runs/<run_id>/ for an untrained ``arch`` model and make it the active run."""
    from studio.core import models
    from studio.core.pipeline import spec_for_project
    from studio.core.tfenv import load_tf
    from studio.core.train import model_json

    _, keras = load_tf()
    keras.utils.set_random_seed(3)
    manifest = project.load_manifest()
    spec = spec_for_project(project, manifest, input_size)
    params = models.resolve_params(arch)
    model = models.build_model(arch, spec.shape, len(manifest["classes"]), **params)
    folder = project.runs_dir / run_id
    folder.mkdir(parents=True)
    model.save_weights(str(folder / "weights.h5"))
    atomic_write_json(folder / "model.json", model_json(arch, params, spec, manifest["classes"], project.task))
    atomic_write_json(folder / "metrics.json", {"epochs": [{"epoch": 1, "val_accuracy": 0.5}], "best_epoch": 1,
                                                "best_val_accuracy": 0.5, "stopped": False, "stop_reason": None,
                                                "state": "finished"})
    atomic_write_json(folder / "config.json", {"config": {"arch": arch, "learning_rate": 1e-3}})
    project.data["active_run"] = run_id
    project.save()
    return run_id


def fake_variant(project: Project, name: str = "f32") -> str:
    """variants/<name>/ from the active run: a real float32 .tflite, measured fields filled in plainly."""
    from studio.core.convert import convert_model
    from studio.core.measure import gzip_size
    from studio.core.optimize import write_variant
    from studio.core.train import load_run_model

    model, info = load_run_model(project)
    model_bytes = convert_model(model, "float32", None, io_dtype="float32")
    data = {
        "name": name, "run_id": info.run_id, "arch": info.arch, "arch_params": info.params,
        "input_spec": info.spec.to_json(), "classes": info.classes, "quantize": "float32", "prune": 0.0,
        "qat": False, "io_dtype": "float32", "bytes": len(model_bytes), "gzip_bytes": gzip_size(model_bytes),
        "accuracy": 0.5, "keras_accuracy": 0.5, "agreement": 1.0, "arena": None, "notes": [],
        "created": "2026-01-01T00:00:00+00:00",
    }
    write_variant(project.variants_dir, name, model_bytes, data)
    project.data["active_variant"] = name
    project.save()
    return name


def build_sensor_template(root: Path) -> Project:
    src = make_sensor_folder(root / "recordings", ("idle", "shake"), recordings=4, length=96)
    project = Project.create(root / "project", "sensor")
    import_data(project, src, window=32, stride=16, val_split=0.25, seed=1)
    fake_run(project, "dense")
    fake_variant(project)
    return Project.open(project.path)


def build_image_template(root: Path) -> Project:
    src = make_image_folder(root / "images", {"disc": 6, "ring": 6}, size=(20, 16), seed=2)
    project = Project.create(root / "project", "image")
    import_data(project, src, val_split=0.3, seed=1)
    fake_run(project, "compact_cnn", input_size=16)
    fake_variant(project)
    return Project.open(project.path)


def copy_project(template: Project, dest: Path) -> Project:
    """A private copy of a template project (its data folder is shared: tests must not change it)."""
    shutil.copytree(template.path, dest)
    return Project.open(dest)
