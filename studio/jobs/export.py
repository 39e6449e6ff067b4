"""Export page jobs: write a bundle; run a bundle's self-test in this process (the frozen app's way)."""

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
    """``request["bundle"]``: a bundle folder; runs its ``run_model.py --selftest`` here (no other Python is
    at hand in a frozen app). Returns ``code`` (the exit code) and ``output``."""
    from studio.core.selftest import run_harness_in_process

    code, output = run_harness_in_process(Path(request["bundle"]), ["--selftest"])
    return {"code": int(code), "output": output}
