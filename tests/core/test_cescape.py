"""Hostile class names reach generated sources only through studio.core.cescape (issue 11)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from studio.core import mcu_bundle as micro
from studio.core.cescape import c_comment_text, c_string, class_name_problem, py_string
from studio.core.errors import ConfigError
from studio.resources import resource_path

HOSTILE = [
    "ok",
    'cr"ack',
    "back\\slash",
    "tri??/graph",  # ??/ is a backslash under -std=c++11: it would escape the closing quote
    "??=??(??)??'??<??!??>??-",
    "new\nline",
    "tab\tcr\r",
    "\u00fcn\u00ef \u20ac caf\u00e9",  # UTF-8 bytes followed by hex-looking letters
    "\u00e9e",
    "*/ /* // end",
    "ends with \\",
    "\U0001F600 emoji",
]
CPP = shutil.which("g++")


def test_python_literal_round_trips() -> None:
    for text in HOSTILE:
        lit = py_string(text)
        assert lit.isascii() and "\n" not in lit
        assert eval(lit) == text  # noqa: S307 - the point: the literal means exactly the text


def test_comment_text_cannot_end_the_comment() -> None:
    for text in HOSTILE:
        safe = c_comment_text(text)
        assert "\n" not in safe and "\r" not in safe and "\\" not in safe and "?" not in safe and safe.isascii()


def test_class_name_problems() -> None:
    assert class_name_problem("crack") is None
    assert class_name_problem('cr"ack ??/ \u00e9') is None
    assert "control" in class_name_problem("new\nline")
    assert "control" in class_name_problem("tab\there")
    assert "empty" in class_name_problem("  ")
    assert "longer" in class_name_problem("x" * 500)


@pytest.mark.skipif(CPP is None, reason="g++ not installed")
@pytest.mark.parametrize("std", ["c++11", "c++17"])
def test_hostile_labels_compile_and_mean_exactly_their_bytes(tmp_path: Path, std: str) -> None:
    items = ", ".join(c_string(t) for t in HOSTILE)
    src = tmp_path / "labels.cc"
    src.write_text(
        "#include <stdio.h>\n"
        f"static const char* kLabels[] = {{{items}}};\n"
        "int main() {\n"
        f"  for (int i = 0; i < {len(HOSTILE)}; ++i) {{ fputs(kLabels[i], stdout); fputc(0, stdout); }}\n"
        "  return 0;\n}\n"
    )
    exe = tmp_path / "labels"
    proc = subprocess.run([CPP, f"-std={std}", "-Wall", "-Werror", str(src), "-o", str(exe)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = subprocess.run([str(exe)], capture_output=True, check=True).stdout
    assert out.split(b"\0")[:-1] == [t.encode("utf-8") for t in HOSTILE]


@pytest.mark.skipif(CPP is None, reason="g++ not installed")
@pytest.mark.parametrize("std", ["c++11", "c++17"])
def test_main_cc_with_hostile_labels_compiles(tmp_path: Path, std: str) -> None:
    """The generated harness compiles with these labels and prints them back byte for byte."""
    from test_mcu_bundle import labels_through_main_cc

    assert labels_through_main_cc(tmp_path, std, HOSTILE) == HOSTILE


def test_main_cc_refuses_an_op_name_that_is_not_an_identifier() -> None:
    template = resource_path("harness", "main.cc").read_text()
    with pytest.raises(ConfigError):
        micro.main_cc(template, ["CONV_2D", "X() ; system(\"rm -rf /\"); //"], 1024, ["a", "b"], _io_int8())


def _io_int8() -> dict:
    q = {"dtype": "int8", "shape": [1, 4], "scale": 0.1, "zero_point": 0}
    return {"input": q, "output": q}
