"""Jupyter notebooks: the one place that maps between a notebook's three coordinate systems.

- the program: the code cells joined in document order, as IPython runs them (its syntax masked,
  see `torchlint.ipython`), linted as one module so a later cell sees an earlier cell's imports;
- a cell: (cell index, row, column) in the cell's own source text, which is what users see;
- the file: the line of the `.ipynb` JSON where a row of a cell's source is stored, which is what
  CI annotations (GitHub, SARIF, JUnit) must point at.

The engine lints the program and asks `NotebookSource.locate_diagnostic` to put each finding in
its cell (and on its `.ipynb` line); fixes edit cells and write back only the `source` values of
the cells they changed (`NotebookFile.with_sources`); verify maps runtime lines with
`NotebookSource.locate` and `program_row`. Every line split follows `positions.split_lines`.

Public API (stable for the output formats and verify):
    load_notebook(data) -> NotebookSource | None
    NotebookSource.locate(row) -> (cell index, cell row)          program row -> cell
    NotebookSource.program_row(cell, row) -> int                 cell row -> program row
    NotebookSource.file_line(cell, row) -> int | None            cell row -> .ipynb line (1-based)
    NotebookSource.locate_diagnostic(diagnostic) -> Diagnostic   program -> cell coordinates,
                                                                 with `Diagnostic.ipynb_line` set
    ipynb_line(data, cell, row) -> int | None                    the same from the file's bytes
    NotebookFile.file_position(cell, row, column) -> Position    cell -> .ipynb line and column
                                                                 (the CI formats, via output/notebook_lines)
"""

from __future__ import annotations

import codecs
import dataclasses
import json
import re
from bisect import bisect_right
from dataclasses import dataclass
from json.decoder import scanstring
from typing import Callable

from torchlint.diagnostics import Diagnostic, Edit, Note, Position, Span
from torchlint.ipython import mask_cell
from torchlint.positions import line_starts, split_lines
from torchlint.source import SourceError


@dataclass(frozen=True)
class Cell:
    index: int  # 1-based over all cells of the notebook, markdown included
    first_row: int  # 1-based row of the cell's first line in the joined program
    rows: int
    source: str  # the cell's original text
    # Per row of the cell: how many characters IPython strips from its start (common indent,
    # prompts); a program column plus this is the cell column.
    shifts: tuple[int, ...] = ()
    # Per row of the cell: the 1-based line of the .ipynb file where that row is stored.
    file_lines: tuple[int, ...] = ()

    def shift(self, row: int) -> int:
        return self.shifts[row - 1] if 1 <= row <= len(self.shifts) else 0

    def file_line(self, row: int) -> int | None:
        if not self.file_lines:
            return None
        return self.file_lines[min(max(row, 1), len(self.file_lines)) - 1]


@dataclass(frozen=True)
class NotebookSource:
    text: str  # the joined, masked program
    cells: tuple[Cell, ...]
    document: dict  # the parsed notebook JSON
    newline: str

    def cell(self, index: int) -> Cell | None:
        return next((cell for cell in self.cells if cell.index == index), None)

    def locate(self, row: int) -> tuple[int, int]:
        """Map a row of the joined program to (cell index, row within that cell)."""
        cell = self._cell_at(row)
        return cell.index, max(row - cell.first_row + 1, 1)

    def program_row(self, cell: int | None, row: int) -> int:
        """Map a cell's row to the joined program's row (`row` itself when `cell` is None)."""
        found = self.cell(cell) if cell is not None else None
        return found.first_row + row - 1 if found is not None else row

    def file_line(self, cell: int, row: int) -> int | None:
        """The 1-based line of the `.ipynb` file where row `row` of cell `cell` is stored."""
        found = self.cell(cell)
        return found.file_line(row) if found is not None else None

    def cell_text(self, index: int) -> str:
        found = self.cell(index)
        return found.source if found is not None else ""

    def _cell_at(self, row: int) -> Cell:
        for cell in self.cells:
            if cell.first_row <= row < cell.first_row + cell.rows:
                return cell
        return self.cells[-1] if self.cells else Cell(1, 1, 1, "")

    # --- program coordinates -> cell coordinates ---

    def locate_diagnostic(self, diagnostic: Diagnostic) -> Diagnostic:
        """A finding on the joined program, moved to its cell (notes and fix edits too)."""
        cell, span = self._locate_span(diagnostic.span)
        notes = tuple(self._locate_note(note) for note in diagnostic.notes)
        fix = diagnostic.fix
        if fix is not None:
            fix = dataclasses.replace(fix, edits=tuple(self._locate_edit(edit) for edit in fix.edits))
        return dataclasses.replace(
            diagnostic, span=span, cell=cell.index, notes=notes, fix=fix,
            ipynb_line=cell.file_line(span.start.row),
        )

    def _locate_span(self, span: Span) -> tuple[Cell, Span]:
        cell = self._cell_at(span.start.row)
        row = max(span.start.row - cell.first_row + 1, 1)
        # Relative to the start's cell: a fix deleting a cell's last line ends at the next cell's row 1.
        end_row = row + span.end.row - span.start.row
        start = Position(row, span.start.column + cell.shift(row))
        end = Position(end_row, span.end.column + cell.shift(end_row))
        return cell, Span(start, end)

    def _locate_note(self, note: Note) -> Note:
        if note.span is None:
            return note
        cell, span = self._locate_span(note.span)
        return Note(note.message, span, cell.index)

    def _locate_edit(self, edit: Edit) -> Edit:
        cell, span = self._locate_span(edit.span)
        return Edit(span, edit.content, cell.index)

    # --- linting cell by cell, as Jupyter compiles them ---

    def lint(self, lint_program: Callable[[str], list[Diagnostic]],
             syntax_error: Callable[[str], Diagnostic | None]) -> list[Diagnostic]:
        """Lint the joined cells; a cell that does not parse is reported and blanked, the rest linted.

        `lint_program(text)` lints a program's text; `syntax_error(code)` is the engine's verdict
        on one cell's code (a TL001 diagnostic in the cell's rows, or None).
        """
        from torchlint import codes

        text = self.text
        errors: list[Diagnostic] = []
        # Jupyter compiles each cell on its own: a cell that does not parse alone is reported at its
        # own line (not where the joined program first notices) and blanked; the rest is linted.
        for cell in self.cells:
            problem = syntax_error(self.cell_code(text, cell))
            if problem is not None:
                errors.append(_moved_rows(problem, cell.first_row - 1))
                text = self.blank_cell(text, cell.index)
        blanked: set[int] = set()
        while True:
            diagnostics = lint_program(text)
            syntax = [d for d in diagnostics if d.code == codes.SYNTAX_ERROR]
            if not syntax:
                break
            bad_cell, _ = self.locate(syntax[0].span.start.row)
            errors.append(syntax[0])
            if bad_cell in blanked:  # the joined program still fails: report once, lint nothing more
                diagnostics = []
                break
            blanked.add(bad_cell)
            text = self.blank_cell(text, bad_cell)
        rest = [d for d in diagnostics if d.code != codes.SYNTAX_ERROR]
        return [self.locate_diagnostic(d) for d in errors + rest]

    def cell_code(self, text: str, cell: Cell) -> str:
        """One cell's (masked) code, cut from the joined program `text`."""
        return "".join(split_lines(text, keepends=True)[cell.first_row - 1 : cell.first_row - 1 + cell.rows])

    def blank_cell(self, text: str, index: int) -> str:
        """`text` with every row of cell `index` emptied (row numbers kept)."""
        lines = split_lines(text, keepends=True)
        cell = self.cell(index)
        if cell is not None:
            for row in range(cell.first_row, cell.first_row + cell.rows):
                if row - 1 < len(lines):
                    lines[row - 1] = "\n"
        return "".join(lines)


def _moved_rows(diagnostic: Diagnostic, offset: int) -> Diagnostic:
    def move(position: Position) -> Position:
        return Position(position.row + offset, position.column)

    return dataclasses.replace(diagnostic, span=Span(move(diagnostic.span.start), move(diagnostic.span.end)))


def cell_source_text(cell: dict) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(str(part) for part in source)
    return str(source)


def mask_ipython(code: str) -> str:
    """A cell's code as Python, one line per line of `code` (see `torchlint.ipython`)."""
    return "\n".join(mask_cell(code).lines)


def load_notebook(data: bytes) -> NotebookSource | None:
    """Parse notebook JSON; None for a notebook of another language (not ours to lint)."""
    notebook = NotebookFile(data)
    if not _is_python(notebook.document):
        return None
    cells: list[Cell] = []
    parts: list[str] = []
    row = 1
    for index, original in notebook.code_sources().items():
        masked = mask_cell(original)
        rows = len(masked.lines)
        cells.append(Cell(index, row, rows, original, masked.shifts, notebook.file_lines(index, original)))
        parts.extend(line + "\n" for line in masked.lines)
        row += rows
    return NotebookSource(text="".join(parts), cells=tuple(cells), document=notebook.document,
                          newline=notebook.newline)


def ipynb_line(data: bytes, cell: int, row: int) -> int | None:
    """The 1-based line of the `.ipynb` file `data` where row `row` of cell `cell` is stored."""
    try:
        notebook = NotebookFile(data)
    except SourceError:
        return None
    source = notebook.code_sources().get(cell)
    if source is None:
        return None
    lines = notebook.file_lines(cell, source)
    return lines[min(max(row, 1), len(lines)) - 1] if lines else None


def _is_python(document: dict) -> bool:
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        return True
    for key, field in (("language_info", "name"), ("kernelspec", "language")):
        info = metadata.get(key)
        if isinstance(info, dict) and isinstance(info.get(field), str):
            return info[field].lower() in ("python", "python3", "ipython", "")
    return True


# --- the notebook file: JSON, and where each cell's source is stored in it ---------------------


@dataclass(frozen=True)
class _StoredSource:
    """A cell's `source` value in the JSON text: its offsets, and each string's if it is a list."""

    start: int
    end: int
    items: tuple[tuple[int, int, str], ...] | None  # (start, end, decoded) per list item; None: a string


class NotebookFile:
    """A notebook's bytes, parsed, and the places in them where each cell's source is stored.

    Raises SourceError for bytes that are not a notebook.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.bom = data.startswith(codecs.BOM_UTF8)
        try:
            self.text = data.decode("utf-8-sig")
            document = json.loads(self.text)
        except UnicodeDecodeError as exc:
            raise SourceError(f"notebook is not valid UTF-8: {exc.reason}") from None
        except json.JSONDecodeError as exc:
            raise SourceError(
                f"invalid notebook JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
        except RecursionError:
            raise SourceError("invalid notebook JSON: nested too deeply") from None
        if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
            if isinstance(document, dict) and "worksheets" in document:
                raise SourceError("unsupported notebook format (nbformat 3); convert it to nbformat 4")
            raise SourceError("not a Jupyter notebook: the JSON has no 'cells' list")
        for index, cell in enumerate(document["cells"], start=1):
            if not isinstance(cell, dict):
                raise SourceError(f"not a Jupyter notebook: cell {index} is not an object")
        self.document = document
        self.newline = "\r\n" if b"\r\n" in data else "\n"
        self._stored: dict[int, _StoredSource] | None = None
        self._line_starts: list[int] | None = None
        self._layouts: dict[int, tuple] = {}

    def code_sources(self) -> dict[int, str]:
        """{cell index (1-based over all cells): source text} of the code cells, in order."""
        return {
            index: cell_source_text(cell)
            for index, cell in enumerate(self.document["cells"], start=1)
            if cell.get("cell_type") == "code"
        }

    @property
    def stored(self) -> dict[int, _StoredSource]:
        if self._stored is None:
            self._stored = _stored_sources(self.text)
        return self._stored

    def file_lines(self, index: int, source: str) -> tuple[int, ...]:
        """Per row of cell `index` (whose text is `source`), the .ipynb line that stores it."""
        if index not in self.stored:
            return ()
        rows = max(len(split_lines(source)), 1)
        return tuple(self.file_position(index, row, 1).row for row in range(1, rows + 1))

    def file_position(self, index: int, row: int, column: int) -> Position | None:
        """Where row `row`, column `column` of cell `index` is spelled in the `.ipynb` text: the
        file's 1-based line, and the column there (an escape such as `\\u00e9` counts as spelled).
        Rows and columns past the cell's end stay at its end; None for a cell with no `source`."""
        layout = self._layout(index)
        if layout is None:
            return None
        pieces, piece_starts, rows = layout
        total = piece_starts[-1] + len(pieces[-1][1]) if pieces else 0
        offset = min(rows[min(row, len(rows)) - 1] + column - 1, total)
        if not pieces:  # `"source": []`: just inside the brackets
            raw = self.stored[index].start + 1
        else:
            piece = max(bisect_right(piece_starts, offset) - 1, 0)
            while piece > 0 and offset == piece_starts[piece] and not pieces[piece][1]:
                piece -= 1  # an empty string at the end: stay on the last non-empty one
            quote = pieces[piece][0]
            raw = quote + 1 + _raw_length(self.text, quote + 1, offset - piece_starts[piece])
        line = self._line_of(raw)
        return Position(line, raw - self._line_starts[line - 1] + 1)

    def _layout(self, index: int) -> tuple[tuple[tuple[int, str], ...], list[int], list[int]] | None:
        """Cell `index`'s source strings as (opening quote offset, decoded text), the offset of
        each in the joined source, and where each row of the joined source starts."""
        if index not in self._layouts:
            stored = self.stored.get(index)
            if stored is None:
                return None
            if stored.items is None:
                pieces: tuple[tuple[int, str], ...] = ((stored.start, scanstring(self.text, stored.start + 1)[0]),)
            else:
                pieces = tuple((start, value) for start, _, value in stored.items)
            piece_starts = []
            total = 0
            for _, value in pieces:
                piece_starts.append(total)
                total += len(value)
            self._layouts[index] = (pieces, piece_starts, line_starts("".join(value for _, value in pieces)))
        return self._layouts[index]

    def _line_of(self, offset: int) -> int:
        if self._line_starts is None:
            self._line_starts = line_starts(self.text)
        return bisect_right(self._line_starts, offset)

    def with_sources(self, sources: dict[int, str]) -> bytes:
        """The original bytes with only the `source` values of the cells whose text changed
        replaced; every other byte (numbers, escapes, key order, indentation) stays."""
        old = self.code_sources()
        changed = {index: text for index, text in sources.items() if old.get(index) != text}
        if not changed:
            return self.data
        missing = [index for index in changed if index not in self.stored]
        if missing:
            raise SourceError(f"cannot find where cell {missing[0]}'s source is stored in the notebook")
        ascii_only = not any(ord(ch) > 127 for ch in self.text) and "\\u" in self.text
        pieces = []
        cursor = 0
        for index in sorted(changed, key=lambda i: self.stored[i].start):
            stored = self.stored[index]
            pieces.append(self.text[cursor : stored.start])
            pieces.append(_render_source(self.text, stored, changed[index], ascii_only))
            cursor = stored.end
        pieces.append(self.text[cursor:])
        return (codecs.BOM_UTF8 if self.bom else b"") + "".join(pieces).encode("utf-8")


def _render_source(text: str, stored: _StoredSource, source: str, ascii_only: bool) -> str:
    """A cell's new `source` JSON value, in the style of the value it replaces."""
    if stored.items is None:
        return json.dumps(source, ensure_ascii=ascii_only)
    items = stored.items
    old_values = [value for _, _, value in items]
    # Jupyter splits after each "\n"; nbformat's writer with str.splitlines: follow the file.
    if any(not value.endswith("\n") for value in old_values[:-1]):
        values = source.splitlines(keepends=True)
    else:
        values = [line + "\n" for line in source.split("\n")]
        values[-1] = values[-1][:-1]
        if not values[-1]:
            values.pop()
    if not values:
        return "[]"
    raw_of: dict[str, str] = {}
    for start, end, value in items:
        raw_of.setdefault(value, text[start:end])  # unchanged lines keep their exact spelling
    encoded = [raw_of.get(value) or json.dumps(value, ensure_ascii=ascii_only) for value in values]
    if not items:
        return "[" + ", ".join(encoded) + "]"
    opening = text[stored.start : items[0][0]]
    closing = text[items[-1][1] : stored.end]
    separator = text[items[0][1] : items[1][0]] if len(items) > 1 else "," + opening[1:]
    return opening + separator.join(encoded) + closing


def _raw_length(text: str, start: int, decoded: int) -> int:
    """How many characters of the JSON string text from `start` spell `decoded` characters of it."""
    position = start
    for _ in range(decoded):
        match = _RAW_CHAR.match(text, position)
        if match is None or text[position] == '"':
            break
        position = match.end()
    return position - start


# One decoded character of a JSON string as spelled: a surrogate pair, an escape, or itself.
_RAW_CHAR = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}|\\.|.", re.S)
_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _stored_sources(text: str) -> dict[int, _StoredSource]:
    """{cell index: where its `source` value is} for the notebook JSON `text` ({} if unreadable)."""
    found: dict[int, _StoredSource] = {}

    def top_member(key: str, at: int) -> int:
        if key != "cells" or text[at] != "[":
            return _skip(text, at)
        found.clear()  # a repeated "cells" key: JSON readers keep the last one
        return _array(text, at, cell)

    def cell(index: int, at: int) -> int:
        if text[at] != "{":
            return _skip(text, at)

        def member(key: str, value_at: int) -> int:
            if key != "source":
                return _skip(text, value_at)
            end, items = _source_value(text, value_at)
            found[index + 1] = _StoredSource(value_at, end, items)
            return end

        return _object(text, at, member)

    try:
        _object(text, _space(text, 0), top_member)
    except (ValueError, IndexError, StopIteration):
        return {}
    return found


def _space(text: str, at: int) -> int:
    return _JSON_SPACE.match(text, at).end()


def _skip(text: str, at: int) -> int:
    return _DECODER.raw_decode(text, at)[1]


def _object(text: str, at: int, member: Callable[[str, int], int]) -> int:
    """Scan the object at `at`; `member(key, value_start)` returns its value's end."""
    if text[at] != "{":
        raise ValueError("not an object")
    at = _space(text, at + 1)
    if text[at] == "}":
        return at + 1
    while True:
        if text[at] != '"':
            raise ValueError("expected a key")
        key, at = scanstring(text, at + 1)
        at = _space(text, at)
        if text[at] != ":":
            raise ValueError("expected ':'")
        at = _space(text, member(key, _space(text, at + 1)))
        if text[at] == "}":
            return at + 1
        if text[at] != ",":
            raise ValueError("expected ','")
        at = _space(text, at + 1)


def _array(text: str, at: int, item: Callable[[int, int], int]) -> int:
    """Scan the array at `at`; `item(index, value_start)` returns its value's end."""
    at = _space(text, at + 1)
    if text[at] == "]":
        return at + 1
    index = 0
    while True:
        at = _space(text, item(index, at))
        index += 1
        if text[at] == "]":
            return at + 1
        if text[at] != ",":
            raise ValueError("expected ','")
        at = _space(text, at + 1)


def _source_value(text: str, at: int) -> tuple[int, tuple[tuple[int, int, str], ...] | None]:
    if text[at] == '"':
        return scanstring(text, at + 1)[1], None
    if text[at] != "[":
        raise ValueError("a cell source is a string or a list of strings")
    items: list[tuple[int, int, str]] = []

    def item(_: int, item_at: int) -> int:
        if text[item_at] != '"':
            raise ValueError("a cell source list holds strings")
        value, end = scanstring(text, item_at + 1)
        items.append((item_at, end, value))
        return end

    return _array(text, at, item), tuple(items)

