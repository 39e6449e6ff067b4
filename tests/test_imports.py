"""Start-up hygiene: the CLI never pays for TensorFlow until a command needs it; the core never touches Qt."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ENV = dict(os.environ, STUDIO_QUIET="1")


def _run(code: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_studio_and_cli_do_not_import_tensorflow() -> None:
    out = _run(
        "import sys, json, studio, studio.cli, studio.core.models, studio.core.pipeline, studio.core.train, "
        "studio.core.evaluate, studio.core.weights\n"
        "print(json.dumps({'tf': 'tensorflow' in sys.modules, 'keras': 'tf_keras' in sys.modules}))"
    )
    assert out == {"tf": False, "keras": False}


def test_studio_help_and_archs_do_not_import_tensorflow() -> None:
    out = _run(
        "import sys, json, io, contextlib\n"
        "from studio.cli import main\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "    main(['archs'])\n"
        "print(json.dumps({'tf': 'tensorflow' in sys.modules, 'help': 'usage' in buf.getvalue()}))"
    )
    assert out == {"tf": False, "help": True}
    proc = subprocess.run([sys.executable, "-m", "studio", "--help"], capture_output=True, text=True, env=ENV,
                          timeout=60)
    assert proc.returncode == 0 and "usage" in proc.stdout


def test_core_modules_never_import_qt() -> None:
    out = _run(
        "import sys, json, pkgutil, importlib, studio.core\n"
        "names = [m.name for m in pkgutil.walk_packages(studio.core.__path__, 'studio.core.')]\n"
        "for n in names:\n"
        "    importlib.import_module(n)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6'))\n"
        "print(json.dumps({'n': len(names), 'qt': bad, 'tf': 'tensorflow' in sys.modules}))"
    )
    assert out["n"] >= 8
    assert out["qt"] == []
    assert out["tf"] is False
