"""Export page jobs: write a bundle; check a bundle the way its device will (the self-test)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.jobs import job


@job("export", "Exporting", writes=True)
def export(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """``request``: ``out`` (folder), ``variant``, ``target``."""
    from studio.core.export import export as core_export

    reporter.status("Writing the bundle…")
    result = core_export(project, request["out"], variant=request.get("variant"), target=request.get("target"),
                         reporter=reporter)
    return result.to_json() if hasattr(result, "to_json") else dict(result)


@job("bundle_selftest", "Running the self-test", needs_project=False)
def bundle_selftest(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """``request["bundle"]``: a bundle folder; ``request["compiled"]``: False never compiles ``main.cc``.

    :func:`studio.core.bundle_check.check_bundle` as plain data: a Linux / phone bundle runs its own
    ``run_model.py --selftest`` (a child Python from source, in-process when frozen); a microcontroller bundle
    its golden data in the TFLite-Micro interpreter and, when a C++ compiler and a TFLite-Micro host build are
    found, ``main.cc`` compiled and run. ``checks`` says which ran and why the others did not."""
    from studio.core.bundle_check import check_bundle

    return check_bundle(Path(request["bundle"]), compiled=request.get("compiled"), reporter=reporter)
