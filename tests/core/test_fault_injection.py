"""Kill the process at every rename and removal of import, train, optimize and export, then check the project
(issue 11, "Crash windows"; SQLite's crash-test discipline).

An in-process hook counts every ``os.replace`` / ``os.rename`` / ``os.unlink`` / ``os.rmdir`` /
``shutil.rmtree`` call (including the removals inside ``rmtree``, so a kill can land half-way through one). At
call number k it "kills" the process: the call does not happen, :class:`Killed` is raised, and from then on
every file-system change (those calls, and opening a file for writing, creating a folder) raises again
without doing anything, so no clean-up handler can tidy up after the kill. Then a "next process" opens the
project (leftovers of the dead one are recognised as such) and the invariants are checked:

- the project opens; no hidden staging or set-aside folder is left after that open (or after the next export
  for an export folder);
- the variants listed are the old set or the new one, each loads and its model matches its variant.json;
- the data evaluates to the old result or the new one, never a mix (a re-import of the same recordings with
  the class names swapped: accuracy p before, 1 - p after);
- every listed run loads; the active run is a listed run;
- an export folder holds the user's files unchanged, and either no bundle or a complete one (every file
  matching bundle.json), the old or the new.
"""

from __future__ import annotations

import builtins
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest

from studio.core import commit
from studio.core.project import Project

MUTATIONS = ("replace", "rename", "unlink", "rmdir")


class Killed(BaseException):
    """The simulated death of the process (a BaseException: no ``except Exception`` swallows it)."""


class Injector:
    """Kill points are the mutations of paths under ``root`` (TensorFlow's own temporary files elsewhere are
    not the project's state), and every removal inside an ``rmtree`` of such a path."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
        self.root = str(root)
        self.kill_at: int | None = None
        self.count = 0
        self.dead = False
        self.where = ""
        self.in_tree = 0
        for name in MUTATIONS:
            monkeypatch.setattr(os, name, self._point(name, getattr(os, name)))
        real_rmtree = shutil.rmtree

        def rmtree(path: Any, *a: Any, **kw: Any) -> Any:
            if not self._ours(path):
                return real_rmtree(path, *a, **kw)
            self._count("rmtree", path)
            self.in_tree += 1
            try:
                return real_rmtree(path, *a, **kw)
            finally:
                self.in_tree -= 1

        monkeypatch.setattr(shutil, "rmtree", rmtree)
        monkeypatch.setattr(os, "mkdir", self._guard(os.mkdir))
        real_open, real_os_open = builtins.open, os.open
        writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT

        def guarded_open(file: Any, mode: str = "r", *a: Any, **kw: Any) -> Any:
            if self.dead and any(c in mode for c in "wax+"):
                raise Killed("write after death")
            return real_open(file, mode, *a, **kw)

        def guarded_os_open(path: Any, flags: int, *a: Any, **kw: Any) -> int:
            if self.dead and flags & writes:
                raise Killed("write after death")
            return real_os_open(path, flags, *a, **kw)

        monkeypatch.setattr(builtins, "open", guarded_open)
        monkeypatch.setattr(os, "open", guarded_os_open)

    def _ours(self, path: Any) -> bool:
        return self.in_tree > 0 or str(os.fspath(path)).startswith(self.root)

    def _count(self, name: str, *args: Any) -> None:
        if self.dead:
            raise Killed("after death")
        self.count += 1
        if self.kill_at == self.count:
            self.dead = True
            self.where = f"{name}({', '.join(str(a) for a in args[:2])})"
            raise Killed(self.where)

    def _point(self, name: str, real: Callable) -> Callable:
        def call(*args: Any, **kwargs: Any) -> Any:
            if self._ours(args[0]) or (args[1:] and self._ours(args[1])):
                self._count(name, *args)
            elif self.dead:
                raise Killed("after death")
            return real(*args, **kwargs)

        return call

    def _guard(self, real: Callable) -> Callable:
        def call(*args: Any, **kwargs: Any) -> Any:
            if self.dead:
                raise Killed("after death")
            return real(*args, **kwargs)

        return call

    def run(self, op: Callable[[], Any], kill_at: int | None) -> bool:
        """Run ``op`` with a kill at mutation ``kill_at`` (None: never). True when it completed."""
        self.count, self.kill_at, self.dead = 0, kill_at, False
        try:
            op()
            return True
        except Killed:
            return False
        finally:
            self.kill_at, self.dead = None, False


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != ".studio.lock") \
        if folder.exists() else []


def _crash_everywhere(tmp_path: Path, template: Project, op: Callable[[Project], Any],
                      check: Callable[[Project, bool], None], monkeypatch: pytest.MonkeyPatch,
                      prepare: Callable[[Project], None] | None = None) -> int:
    """Run ``op`` once to count its kill points, then once per kill point on a fresh copy; ``check`` the
    invariants after each (``completed`` says whether the op ran to its end). Returns the number of points."""
    from fakeproject import copy_project

    def fresh(name: str) -> Project:
        project = copy_project(template, tmp_path / name)
        if prepare is not None:
            prepare(project)
        return project

    with monkeypatch.context() as m:
        inj = Injector(m, tmp_path)
        counting = fresh("count")
        assert inj.run(lambda: op(counting), None)
        points = inj.count
        assert points >= 2, "the operation should commit through several renames"
        results = []
        for k in range(1, points + 2):  # points + 1: never killed
            m.undo()
            project = fresh(f"kill-{k}")
            inj = Injector(m, tmp_path)
            completed = inj.run(lambda: op(project), k)
            assert completed == (k > points), f"kill point {k} of {points} was not reached"
            results.append((k, inj.where))
            m.undo()
            with monkeypatch.context() as nxt:
                # "the next process": the dead one's leftovers are no commit in progress
                nxt.setattr(commit, "creator_alive", lambda pid: False)
                try:
                    check(Project.open(project.path), completed)
                except AssertionError as exc:
                    raise AssertionError(f"after a kill at {inj.where} (point {k} of {points}): {exc}") from exc
    return points


def _variants_ok(project: Project, allowed: list[set[str]]) -> None:
    from studio.core.optimize import list_variants, load_variant

    names = set(project.list_variants())
    assert names in allowed, names
    assert {v["name"] for v in list_variants(project)} == names
    for name in names:
        load_variant(project, name)  # checks model.tflite against variant.json
    assert _hidden(project.variants_dir) == [], "leftovers after the next open"


# ---------------------------------------------------------------------------------------------- import
def test_import_is_old_or_new_at_every_kill_point(sensor_template, tmp_path: Path, monkeypatch) -> None:
    from studio.core.data import import_data
    from studio.core.evaluate import evaluate

    source = Path(sensor_template.load_manifest()["source"])
    swapped = tmp_path / "swapped"
    shutil.copytree(source / "idle", swapped / "shake")
    shutil.copytree(source / "shake", swapped / "idle")
    before = evaluate(sensor_template).accuracy
    probe = Project.open(shutil.copytree(sensor_template.path, tmp_path / "probe"))
    import_data(probe, swapped, window=32, stride=16, val_split=0.25, seed=1)
    after = evaluate(probe).accuracy
    assert abs(before - after) > 0.05, "the two imports must evaluate differently for this test to mean much"

    def op(project: Project) -> None:
        import_data(project, swapped, window=32, stride=16, val_split=0.25, seed=1)

    def check(project: Project, completed: bool) -> None:
        acc = evaluate(project).accuracy
        assert acc in (before, after) and (not completed or acc == after), acc
        assert _hidden(project.path) == [] and (project.data_dir / "recordings.npz").exists()

    points = _crash_everywhere(tmp_path, sensor_template, op, check, monkeypatch)
    print(f"import: {points} kill points")


# ---------------------------------------------------------------------------------------------- optimize
def test_optimize_replacing_a_variant_at_every_kill_point(sensor_template, tmp_path: Path, monkeypatch) -> None:
    from studio.core import optimize as opt
    from studio.core.optimize import OptimizeConfig, optimize

    # The conversion and measuring touch no file: computed once, replayed (the kill points are in the commit).
    def once(real: Callable) -> Callable:
        memo: list[Any] = []

        def call(*a: Any, **k: Any) -> Any:
            if not memo:
                memo.append(real(*a, **k))
            return memo[0]

        return call

    monkeypatch.setattr(opt.stage, "build_variant", once(opt.stage.build_variant))
    real_measure = once(opt.stage.measure_variant)
    monkeypatch.setattr(opt.stage, "measure_variant", lambda *a, **k: dict(real_measure(*a, **k)))
    config = OptimizeConfig(quantize="float32", name="f32", measure_arena=False)
    old = json.loads((sensor_template.variants_dir / "f32" / "variant.json").read_text())["generation"]

    def check(project: Project, completed: bool) -> None:
        _variants_ok(project, [{"f32"}])
        gen = json.loads((project.variants_dir / "f32" / "variant.json").read_text())["generation"]
        assert completed is False or gen != old
        assert project.data.get("active_variant") == "f32"

    points = _crash_everywhere(tmp_path, sensor_template, lambda p: optimize(p, config), check, monkeypatch)
    new_name = OptimizeConfig(quantize="float32", name="other", measure_arena=False)
    points += _crash_everywhere(tmp_path / "new", sensor_template, lambda p: optimize(p, new_name),
                                lambda p, done: _variants_ok(p, [{"f32"}, {"f32", "other"}] if not done
                                                             else [{"f32", "other"}]), monkeypatch)
    print(f"optimize: {points} kill points")


# ---------------------------------------------------------------------------------------------- export
def test_export_at_every_kill_point(sensor_template, tmp_path: Path, monkeypatch) -> None:
    from studio.core.export import export
    from studio.core.export_folder import previous_bundle, verify_bundle

    out_of = lambda project: project.path.with_name(project.path.name + "-bundle")  # noqa: E731

    def with_earlier_export(project: Project) -> None:
        out = out_of(project)
        export(project, out)
        (out / "build").mkdir()
        (out / "build" / "firmware.elf").write_bytes(b"user build")
        (out / "notes.txt").write_text("my notes")

    def check(project: Project, completed: bool, in_place: bool) -> None:
        out = out_of(project)
        if in_place:
            assert (out / "build" / "firmware.elf").read_bytes() == b"user build"
            assert (out / "notes.txt").read_text() == "my notes"
        if out.exists() and (out / "bundle.json").exists():
            assert verify_bundle(out) == [], "bundle.json vouches for a mix"
        previous_bundle(out)  # what the next export does first: finish or undo the interrupted one
        if in_place or completed:
            assert verify_bundle(out) == []
        assert _hidden(out) == [] and [p for p in _hidden(out.parent) if out.name in p] == []

    fresh = _crash_everywhere(tmp_path / "fresh", sensor_template, lambda p: export(p, out_of(p)),
                              lambda p, done: check(p, done, False), monkeypatch)
    again = _crash_everywhere(tmp_path / "again", sensor_template, lambda p: export(p, out_of(p)),
                              lambda p, done: check(p, done, True), monkeypatch, prepare=with_earlier_export)
    print(f"export: {fresh} + {again} kill points")


# ---------------------------------------------------------------------------------------------- train
def test_train_at_every_kill_point(sensor_template, tmp_path: Path, monkeypatch) -> None:
    from studio.core.runs import load_run_model, run_state
    from studio.core.train import default_config, train

    config = default_config(sensor_template, arch="dense", epochs=2, patience=0, batch_size=64)

    def check(project: Project, completed: bool) -> None:
        runs = project.list_runs()
        assert "run-fake" in runs and len(runs) <= 2
        assert project.data.get("active_run") in runs
        for run_id in runs:
            load_run_model(project, run_id)
            assert run_state(project.runs_dir / run_id) in ("finished", "interrupted")
        if completed:
            [new] = [r for r in runs if r != "run-fake"]
            assert run_state(project.runs_dir / new) == "finished" and project.data["active_run"] == new
        assert all(_hidden(project.runs_dir / r) == [] for r in runs)

    points = _crash_everywhere(tmp_path, sensor_template, lambda p: train(p, config), check, monkeypatch)
    print(f"train: {points} kill points")
