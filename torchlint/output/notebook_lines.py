"""Where a notebook finding sits in the `.ipynb` file itself, for the CI formats.

Findings in a notebook count rows from their cell's first line (`nb.ipynb:cell 3:2:5`). GitHub
annotations, SARIF and JUnit point at lines of the file on disk, so they need the line of the
`.ipynb` JSON that stores that source line (and the column inside that JSON string).

`file_position(result, cell, position)` is the one call the formats make. It reads the notebook the
result came from and asks `NotebookFile.file_position` (the one mapping, in `torchlint.notebook`).
It answers None, and the formats keep cell-relative rows, when the file cannot be read or no longer
holds the cells that were linted (stdin, an edit since).
"""

from __future__ import annotations

import os
from functools import lru_cache

from torchlint.diagnostics import Position, Span
from torchlint.notebook import NotebookFile
from torchlint.source import SourceError


def file_position(result, cell: int, position: Position) -> Position | None:
    """The line and column in the `.ipynb` file of `position`, a row and column of cell `cell`."""
    notebook = _notebook_at(result.path)
    if notebook is None or not _same_cells(notebook, result.cell_sources):
        return None
    return notebook.file_position(cell, position.row, position.column)


def file_span(result, cell: int | None, span: Span) -> Span | None:
    """`span` of cell `cell` as a span of the `.ipynb` file; None when it cannot be mapped."""
    if cell is None:
        return None
    start, end = file_position(result, cell, span.start), file_position(result, cell, span.end)
    return Span(start, end) if start is not None and end is not None else None


def cell_prefix(diagnostic) -> str:
    """`cell 3, line 2: ` before a notebook finding's message in the CI formats; else empty."""
    if diagnostic.cell is None:
        return ""
    return f"cell {diagnostic.cell}, line {diagnostic.span.start.row}: "


def _same_cells(notebook: NotebookFile, linted: dict | None) -> bool:
    if not linted:
        return False
    now = notebook.code_sources()
    return all(now.get(index) == source for index, source in linted.items())


def _notebook_at(path: str) -> NotebookFile | None:
    try:
        status = os.stat(path)
        return _read(path, status.st_mtime_ns, status.st_size)
    except (OSError, SourceError):
        return None


@lru_cache(maxsize=8)
def _read(path: str, mtime_ns: int, size: int) -> NotebookFile:
    """The notebook at `path` as it is now (the arguments after `path` key the cache)."""
    with open(path, "rb") as handle:
        return NotebookFile(handle.read())
