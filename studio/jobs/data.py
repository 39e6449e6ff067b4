"""Data page jobs: import a folder or CSV, open a bundled sample."""

from __future__ import annotations

from typing import Any

from studio.jobs import job

IMPORT_OPTIONS = ("test_source", "val_split", "test_split", "seed", "window", "stride", "label_column",
                  "recording_column", "channels", "normal")


@job("import", "Importing", writes=True)
def import_data(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """``request``: ``source`` and any of the keyword options of :func:`studio.core.data.import_data`."""
    from studio.core.data import import_data as core_import

    options = {k: request[k] for k in IMPORT_OPTIONS if request.get(k) is not None}
    reporter.status("Reading your files…")
    return core_import(project, request["source"], reporter=reporter, **options).to_json()


@job("open_sample", "Opening the sample", needs_project=False)
def open_sample(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """``request["kind"]``: "image", "sensor", "image-anomaly" or "sensor-anomaly"; returns the sample
    project's ``path``."""
    from studio.core.samples import open_sample as core_open

    kind = str(request["kind"])
    reporter.status(f"Preparing the {kind} sample…")
    return {"path": str(core_open(kind, reporter=reporter).path)}
