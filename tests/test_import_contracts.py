"""The import-linter contracts in pyproject.toml ([tool.importlinter]) hold for this checkout.

Run as a test so CI checks them; the same check by hand: ``lint-imports`` in the repository root.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter", reason="import-linter is in the 'test' extra: pip install -e .[test]")

ROOT = Path(__file__).resolve().parents[1]


def _lint(config: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    code = ("import sys; from importlinter.cli import lint_imports; "
            f"sys.exit(lint_imports(config_filename={str(config)!r}, no_cache=True, no_logo=True))")
    env = dict(os.environ, PYTHONPATH=str(ROOT))  # this checkout's studio, not an installed copy
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_import_contracts_are_kept() -> None:
    proc = _lint(ROOT / "pyproject.toml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "studio.core never imports Qt" in proc.stdout and "KEPT" in proc.stdout
    assert "studio.gui) never imports TensorFlow" in proc.stdout
    assert "BROKEN" not in proc.stdout


def test_a_broken_contract_is_reported(tmp_path: Path) -> None:
    """The linter really sees the imports: the GUI imports PySide6, so forbidding that must fail."""
    config = tmp_path / "contracts.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["studio"]\ninclude_external_packages = true\n\n'
        '[[tool.importlinter.contracts]]\nname = "gui without Qt"\ntype = "forbidden"\n'
        'source_modules = ["studio.gui"]\nforbidden_modules = ["PySide6"]\n',
        encoding="utf-8",
    )
    proc = _lint(config, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "BROKEN" in proc.stdout and "studio.gui" in proc.stdout


def test_tensorflow_reached_through_a_core_module_is_seen(tmp_path: Path) -> None:
    """The GUI contract is not vacuous: the jobs layer reaches TensorFlow only through core modules that import
    it inside functions (studio.core.tfenv), and the linter still reports it."""
    config = tmp_path / "contracts.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["studio"]\ninclude_external_packages = true\n\n'
        '[[tool.importlinter.contracts]]\nname = "jobs without TensorFlow"\ntype = "forbidden"\n'
        'source_modules = ["studio.jobs"]\nforbidden_modules = ["tensorflow"]\n',
        encoding="utf-8",
    )
    proc = _lint(config, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "BROKEN" in proc.stdout and "studio.core.tfenv" in proc.stdout
