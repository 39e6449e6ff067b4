"""The one way text from a project (class names, op names) gets into generated source code.

Class names come from folder names or CSV cells, and a project may come from someone else: a name can hold a
quote, a backslash, a newline, ``??/`` (a trigraph for ``\\`` under -std=c++11) or any Unicode. Every generated
C/C++ or Python source writes such text only through :func:`c_string` / :func:`py_string`, and text that must
stand outside a string literal (an op name in a method call) only after :func:`c_identifier_part` accepted it.
"""

from __future__ import annotations

import re
import unicodedata

_C_SIMPLE = {'"': '\\"', "\\": "\\\\", "?": "\\?"}
_IDENTIFIER_PART = re.compile(r"[A-Za-z0-9_]+")
MAX_CLASS_NAME = 200


def c_string(text: str) -> str:
    """``text`` as a double-quoted C/C++ string literal holding its UTF-8 bytes.

    Printable ASCII stays readable; ``"``, ``\\`` and ``?`` (trigraphs) are backslash-escaped; every other byte
    (control characters, non-ASCII UTF-8) becomes a three-digit octal escape. Octal rather than hex: a hex
    escape swallows every hex digit after it (``"\\xe9e"`` is one out-of-range character), an octal one stops
    at three digits, so the literal means exactly these bytes in C89 through C++23.
    """
    out = []
    for byte in str(text).encode("utf-8", errors="surrogatepass"):
        ch = chr(byte)
        if ch in _C_SIMPLE:
            out.append(_C_SIMPLE[ch])
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def py_string(text: str) -> str:
    """``text`` as a Python string literal (ASCII only, evaluates back to ``text``)."""
    return ascii(str(text))


def c_comment_text(text: str) -> str:
    """``text`` made safe inside a ``//`` comment: printable ASCII without ``?`` or ``\\`` (no newline, no
    trigraph or backslash at the end of the line can continue the comment onto the code below)."""
    return "".join(ch if 0x20 <= ord(ch) < 0x7F and ch not in "?\\" else "_" for ch in str(text))


def c_identifier_part(text: str) -> bool:
    """True when ``text`` may be pasted into an identifier (letters, digits and underscores only)."""
    return bool(_IDENTIFIER_PART.fullmatch(str(text)))


def class_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a class name (empty, too long, control or invisible format characters), else None.

    Class names end up in ``labels.txt`` (one per line), C arrays and reports: a newline would add a class
    line, a control character garbles a terminal. Everything else (spaces, quotes, any script) is allowed and
    escaped where it is written.
    """
    name = str(name)
    if not name.strip():
        return "the class name is empty"
    if len(name) > MAX_CLASS_NAME:
        return f"the class name is longer than {MAX_CLASS_NAME} characters"
    for ch in name:
        if unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp"):
            return f"the class name contains a control character (U+{ord(ch):04X})"
    return None


__all__ = ["c_string", "py_string", "c_comment_text", "c_identifier_part", "class_name_problem", "MAX_CLASS_NAME"]
