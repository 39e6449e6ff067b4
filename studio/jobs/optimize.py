"""Optimize page jobs: build a variant, list the variants (instant)."""

from __future__ import annotations

from typing import Any

from studio.jobs import job

@job("optimize", "Building a variant", writes=True)
def optimize(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """``request``: fields of :class:`studio.core.optimize.OptimizeConfig` (prune, prune_kind, quantize, qat...);
    None values take the config's defaults."""
    from dataclasses import fields

    from studio.core.errors import ConfigError
    from studio.core.optimize import OptimizeConfig, optimize as core_optimize

    names = {f.name for f in fields(OptimizeConfig)}
    unknown = sorted(k for k in request if k not in names)
    if unknown:
        raise ConfigError(f"unknown optimization setting(s): {', '.join(unknown)}")
    config = OptimizeConfig(**{k: v for k, v in request.items() if v is not None}).validated()
    reporter.status("Building the variant…")
    result = core_optimize(project, config, reporter)
    return result.to_json() if hasattr(result, "to_json") else dict(result)


@job("variants", "Reading the variants", lane="query")
def variants(project: Any, request: dict[str, Any], reporter: Any) -> dict[str, Any]:
    """``request["target"]``: the device for the fits column. Returns ``{"variants": [...]}``."""
    from studio.core.optimize import list_variants

    return {"variants": list_variants(project, target=request.get("target"))}
