"""Engine positions (1-based rows, 1-based columns in code points) <-> LSP positions.

LSP counts lines from 0, ends them at `\\n`, `\\r\\n` or `\\r` (as LibCST and the tokenizer do, and
unlike `str.splitlines`, which also breaks at form feeds and separators), and counts columns in
the code units the client and server agreed on (UTF-16 unless negotiated otherwise).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lsprotocol import types

from torchlint.diagnostics import Position, Span

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class LineIndex:
    """One text's lines, for converting positions both ways."""

    def __init__(self, text: str, units: Callable[[str], int]) -> None:
        self.lines = _LINE_BREAK.split(text)
        self._units = units  # code units of a string in the negotiated encoding

    def to_lsp(self, position: Position) -> types.Position:
        line = min(max(position.row - 1, 0), len(self.lines))
        if line == len(self.lines):  # just past the last line break
            return types.Position(line=line, character=0)
        text = self.lines[line]
        column = min(max(position.column - 1, 0), len(text))
        return types.Position(line=line, character=self._units(text[:column]))

    def to_range(self, span: Span) -> types.Range:
        return types.Range(start=self.to_lsp(span.start), end=self.to_lsp(span.end))

    def visible_range(self, span: Span) -> types.Range:
        """The span, widened to one character when it is a point (TL001): an empty range is
        drawn by few clients."""
        if span.start != span.end:
            return self.to_range(span)
        start = self.to_lsp(span.start)
        line = self.lines[start.line] if start.line < len(self.lines) else ""
        column = min(max(span.start.column - 1, 0), len(line))
        if column < len(line):
            end = types.Position(line=start.line, character=start.character + self._units(line[column]))
            return types.Range(start=start, end=end)
        if column > 0:
            begin = types.Position(line=start.line, character=start.character - self._units(line[column - 1]))
            return types.Range(start=begin, end=start)
        return types.Range(start=start, end=start)

    def from_lsp(self, position: types.Position) -> Position:
        """The engine position of an LSP position (clamped into the text)."""
        if position.line >= len(self.lines):
            return Position(len(self.lines), len(self.lines[-1]) + 1)
        text = self.lines[max(position.line, 0)]
        units = 0
        for column, character in enumerate(text):
            if units >= position.character:
                return Position(position.line + 1, column + 1)
            units += self._units(character)
        return Position(position.line + 1, len(text) + 1)


def contains(span_range: types.Range, position: types.Position) -> bool:
    start, end = span_range.start, span_range.end
    after_start = (position.line, position.character) >= (start.line, start.character)
    before_end = (position.line, position.character) <= (end.line, end.character)
    return after_start and before_end


def overlaps(a: types.Range, b: types.Range) -> bool:
    return contains(a, b.start) or contains(a, b.end) or contains(b, a.start)
