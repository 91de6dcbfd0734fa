"""Output formats. Each format is a module with `render(results, stream, options)`."""

from __future__ import annotations

import importlib
import os
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
    return f"{diagnostic.path}:{cell}{start.row}:{start.column}"


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
