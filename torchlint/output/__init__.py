"""Output formats. Each format is a module with `render(results, stream, options)`."""

from __future__ import annotations

import importlib
import os
import re
import sys
from dataclasses import dataclass
from typing import IO, Sequence

from torchlint.diagnostics import Diagnostic, FileResult

FORMATS = ("full", "concise", "json", "sarif", "github", "junit")


@dataclass(frozen=True)
class RenderOptions:
    color: bool = False
    show_fixes: bool = False
    width: int | None = None


def render(fmt: str, results: Sequence[FileResult], stream: IO[str], options: RenderOptions) -> None:
    module = importlib.import_module(f"torchlint.output.{fmt}")
    module.render(results, stream, options)


def location_text(diagnostic: Diagnostic) -> str:
    """`path:row:col`, or `path:cell N:row:col` inside a notebook."""
    start = diagnostic.span.start
    cell = f"cell {diagnostic.cell}:" if diagnostic.cell is not None else ""
    return f"{printable(diagnostic.path)}:{cell}{start.row}:{start.column}"


# What must never reach a terminal or a log verbatim: C0/C1 controls (newlines forge finding lines,
# ESC and OSC sequences drive the terminal), line and paragraph separators, bidirectional
# overrides ("Trojan Source"), and lone surrogates (undecodable bytes in a file name).
_UNPRINTABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(text: str) -> str:
    """`text` with every unprintable character written as a Python escape (`\\x1b`, `\\n`, `\\u202e`)."""
    return _UNPRINTABLE.sub(_escape, text) if _UNPRINTABLE.search(text) else text


def _escape(match: re.Match) -> str:
    char = match.group()
    code = ord(char)
    if char == "\n":
        return "\\n"
    if char == "\r":
        return "\\r"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def all_diagnostics(results: Sequence[FileResult]) -> list[Diagnostic]:
    return [d for result in results for d in result.diagnostics]


def use_color(flag: bool | None = None) -> bool:
    """Colour when asked; else never with NO_COLOR, always with FORCE_COLOR, otherwise on a terminal."""
    if flag is not None:
        return flag
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty()
