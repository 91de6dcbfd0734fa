"""Where a notebook finding sits in the `.ipynb` file itself, for the CI formats.

Findings in a notebook count rows from their cell's first line (`nb.ipynb:cell 3:2:5`). GitHub
annotations, SARIF and JUnit point at lines of the file on disk, so they need the line of the
`.ipynb` JSON that stores that source line (and the column inside that JSON string).

`file_position(result, cell, position)` is the one call the formats make. It reads the notebook
the result came from, finds each code cell's `source` strings with their offsets in the JSON, and
maps a (cell, row, column) into them. It answers None, and the formats keep cell-relative rows,
when the file cannot be read or no longer holds the cells that were linted (stdin, an edit since).
"""

from __future__ import annotations

import bisect
import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache

from torchlint.diagnostics import Position, Span

_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # Python's tokenizer's line breaks, as cell rows count them
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_RAW_CHAR = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}|\\.|.", re.S)
_DECODER = json.JSONDecoder()


def file_position(result, cell: int, position: Position) -> Position | None:
    """The line and column in the `.ipynb` file of `position`, a row and column of cell `cell`."""
    stored = _stored_cells(result.path)
    if stored is None or not _same_cells(stored, result.cell_sources):
        return None
    pieces = stored.cells.get(cell)
    if not pieces:
        return None
    return stored.locate(pieces, position)


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


@dataclass(frozen=True)
class _StoredCell:
    texts: tuple[str, ...]  # the decoded strings of the cell's `source` (a list, or one string)
    quotes: tuple[int, ...]  # offset of each string's opening quote in the file's text


@dataclass(frozen=True)
class _Notebook:
    text: str
    cells: dict  # 1-based cell index -> _StoredCell (code cells and others alike)
    line_starts: tuple[int, ...]  # offset of each line of the file (lines end at "\n")

    def locate(self, cell: _StoredCell, position: Position) -> Position:
        joined = "".join(cell.texts)
        rows = [0] + [match.end() for match in _LINE_BREAK.finditer(joined)]
        row_start = rows[min(position.row, len(rows)) - 1]
        offset = min(row_start + position.column - 1, len(joined))
        starts = []
        total = 0
        for text in cell.texts:
            starts.append(total)
            total += len(text)
        index = max(bisect.bisect_right(starts, offset) - 1, 0)
        while index > 0 and offset == starts[index] and not cell.texts[index]:
            index -= 1  # an empty string at the end: stay on the last non-empty one
        quote = cell.quotes[index]
        raw_start = quote + 1 + _raw_length(self.text, quote + 1, offset - starts[index])
        line = bisect.bisect_right(self.line_starts, raw_start) - 1
        return Position(line + 1, raw_start - self.line_starts[line] + 1)


def _raw_length(text: str, start: int, decoded: int) -> int:
    """How many characters of JSON string text, from `start`, spell `decoded` characters."""
    position = start
    for _ in range(decoded):
        match = _RAW_CHAR.match(text, position)
        if match is None or text[position] == '"':
            break
        position = match.end()
    return position - start


def _same_cells(stored: _Notebook, linted: dict | None) -> bool:
    if not linted:
        return False
    return all(index in stored.cells and "".join(stored.cells[index].texts) == source for index, source in linted.items())


def _stored_cells(path: str) -> _Notebook | None:
    try:
        status = os.stat(path)
        return _read(path, status.st_mtime_ns, status.st_size)
    except (OSError, ValueError, IndexError, RecursionError):
        return None


@lru_cache(maxsize=8)
def _read(path: str, mtime_ns: int, size: int) -> _Notebook:
    """The notebook at `path` as it is now (the arguments after `path` key the cache)."""
    with open(path, "rb") as handle:
        return _parse(handle.read())


def _parse(data: bytes) -> _Notebook:
    text = data.decode("utf-8-sig")
    scanner = _Scanner(text)
    cells: dict[int, _StoredCell] = {}
    for key in scanner.members():
        if key != "cells":
            scanner.skip()
            continue
        for index in scanner.items():
            cells[index] = _cell(scanner)
    line_starts = (0,) + tuple(match.end() for match in re.finditer("\n", text))
    return _Notebook(text, cells, line_starts)


def _cell(scanner: _Scanner) -> _StoredCell:
    if scanner.peek() != "{":
        scanner.skip()
        return _StoredCell((), ())
    found: list[tuple[str, int]] = []
    for key in scanner.members():
        if key != "source":
            scanner.skip()
        elif scanner.peek() == "[":
            found = []
            for _ in scanner.items():
                if scanner.peek() == '"':
                    found.append(scanner.string())
                else:
                    scanner.skip()
        elif scanner.peek() == '"':
            found = [scanner.string()]
        else:
            scanner.skip()
    return _StoredCell(tuple(text for text, _ in found), tuple(quote for _, quote in found))


class _Scanner:
    """A JSON reader that keeps offsets: just enough to find the cells' `source` strings."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        self.pos = _WHITESPACE.match(self.text, self.pos).end()
        return self.text[self.pos : self.pos + 1]

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise ValueError(f"expected {char!r} at offset {self.pos}")
        self.pos += 1

    def string(self) -> tuple[str, int]:
        quote = self.pos if self.peek() == '"' else -1
        self.expect('"')
        value, self.pos = json.decoder.scanstring(self.text, self.pos)
        return value, quote

    def skip(self) -> None:
        self.peek()
        _, self.pos = _DECODER.raw_decode(self.text, self.pos)

    def members(self):
        """Each key of the object here; the caller reads (or skips) its value before the next."""
        self.expect("{")
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            key, _ = self.string()
            self.expect(":")
            yield key
            if self.peek() == ",":
                self.pos += 1
                continue
            self.expect("}")
            return

    def items(self):
        """The 1-based index of each item of the array here; the caller reads each item."""
        self.expect("[")
        if self.peek() == "]":
            self.pos += 1
            return
        index = 1
        while True:
            yield index
            index += 1
            if self.peek() == ",":
                self.pos += 1
                continue
            self.expect("]")
            return
