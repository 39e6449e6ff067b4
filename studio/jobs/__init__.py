"""The wizard's work as plain functions: ``fn(project, request: dict, reporter) -> dict``, no Qt.

Each page of the window builds a *request* (plain data), the worker process (:mod:`studio.jobs.worker`) runs
the job with the core's reporter, and the page renders the *result* (plain data). The same functions run in
tests without a window or a process (``run_job("train", project, {...}, RecordingReporter())``), the way
Orange keeps a widget's work in a module-level ``run()``.

A job is registered with :func:`job`:

    @job("evaluate", "Evaluating")
    def evaluate(project, request, reporter):
        ...
        return result.to_json()

``title`` names the work in the window's busy messages ("Evaluating is running: wait or stop it");
``writes`` makes the worker hold the project's lock (:mod:`studio.core.lock`) while the job runs; ``lane="query"``
marks an instant read that never loads TensorFlow and runs beside a long job (the Model page's choices while a
model trains). Job modules import the core inside the functions, so starting the worker stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from studio.core.errors import ConfigError, ProjectError
from studio.core.protocol import to_plain

LANES = ("job", "query")


@dataclass(frozen=True)
class JobSpec:
    name: str
    fn: Callable[[Any, dict[str, Any], Any], dict[str, Any]]
    title: str  # "Training": shown as "Training is running: wait or stop it"
    writes: bool = False  # holds the project lock while it runs
    lane: str = "job"  # "job": one at a time, may load TensorFlow; "query": instant, beside a job
    needs_project: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "writes": self.writes, "lane": self.lane,
                "needs_project": self.needs_project}


JOBS: dict[str, JobSpec] = {}


def job(name: str, title: str, *, writes: bool = False, lane: str = "job",
        needs_project: bool = True) -> Callable[[Callable], Callable]:
    """Register ``fn`` as the job ``name`` (see the module docstring)."""
    if lane not in LANES:
        raise ValueError(f"unknown lane {lane!r}")

    def register(fn: Callable) -> Callable:
        if name in JOBS:
            raise ValueError(f"job {name!r} registered twice")
        JOBS[name] = JobSpec(name, fn, title, writes, lane, needs_project)
        return fn

    return register


def get_job(name: str) -> JobSpec:
    _load()
    try:
        return JOBS[name]
    except KeyError:
        raise ConfigError(f"unknown job {name!r}", hint=f"use one of {', '.join(sorted(JOBS))}") from None


def run_job(name: str, project: Any, request: dict[str, Any] | None, reporter: Any) -> dict[str, Any]:
    """Run job ``name`` here and now and return its result as plain data (what the worker sends back)."""
    spec = get_job(name)
    if spec.needs_project and project is None:
        raise ProjectError(f"the job {name!r} needs an open project")
    result = spec.fn(project, dict(request or {}), reporter)
    return to_plain(result if result is not None else {})


def describe_jobs() -> dict[str, dict[str, Any]]:
    _load()
    return {name: spec.to_json() for name, spec in JOBS.items()}


def _load() -> None:
    """Import the job modules (they register themselves); cheap: they import the core lazily."""
    from studio.jobs import (  # noqa: F401
        anomaly, data, evaluate, export, model, optimize, project, runs, search, train, trust,
    )
