"""Snapshots of every finding on every fixture folder, rendered as a user reads it (as Ruff does).

The fixture tests compare (row, code) pairs; these compare everything else: the message, the
column and end of the span, the evidence notes, the help line and the fix as a diff. Any change
of wording, span or fix shows up as a diff of `tests/__snapshots__/test_snapshots/*.txt`.

After an intended change, regenerate and review the diff:

    python -m pytest tests/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import difflib
import os
import re

import pytest
from conftest import FIXTURES, fixture_files
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from torchlint.config import SelectionLayer, load_settings
from torchlint.diagnostics import Diagnostic, Edit, FileResult, Span


class TextSnapshot(SingleFileSnapshotExtension):
    """One reviewable text file per fixture folder."""

    _write_mode = WriteMode.TEXT
    file_extension = _file_extension = "txt"  # the attribute's name differs between syrupy versions


FOLDERS = sorted({os.path.basename(os.path.dirname(path)) for path in fixture_files()})


@pytest.mark.parametrize("folder", FOLDERS)
def test_rendered_findings(folder, snapshot):
    assert render_folder(folder) == snapshot(extension_class=TextSnapshot)


def render_folder(folder: str) -> str:
    """Every finding of every rule on the folder's fixtures, one block per finding."""
    from torchlint.engine import lint_file

    settings = load_settings(None, SelectionLayer(), isolated=True)
    blocks = []
    for path in fixture_files():
        if os.path.basename(os.path.dirname(path)) != folder:
            continue
        shown = os.path.relpath(path, FIXTURES).replace(os.sep, "/")
        result = lint_file(path, settings, display_path=shown)
        blocks += [render_diagnostic(d, result) for d in result.diagnostics]
    return f"{len(blocks)} findings in {folder}/\n\n" + "\n".join(blocks)


def render_diagnostic(diagnostic: Diagnostic, result: FileResult) -> str:
    lines = [f"{diagnostic.path}:{_where(diagnostic.cell, diagnostic.span)} {diagnostic.code} [{diagnostic.name}] {diagnostic.severity.value}"]
    lines.append(f"  message: {diagnostic.message}")
    for note in diagnostic.notes:
        where = _where(note.cell, note.span) if note.span is not None else "(no location)"
        lines.append(f"  note {where}: {note.message}")
    if diagnostic.help:
        lines.append(f"  help: {diagnostic.help}")
    if diagnostic.fix is not None:
        lines.append(f"  fix ({diagnostic.fix.applicability.value}): {diagnostic.fix.message}")
        lines += ["    " + line for line in _fix_diff(diagnostic.fix.edits, result)]
    return "\n".join(lines) + "\n"


def _where(cell: int | None, span: Span) -> str:
    prefix = f"cell {cell}:" if cell is not None else ""
    return f"{prefix}{span.start.row}:{span.start.column}-{span.end.row}:{span.end.column}"


def _fix_diff(edits: tuple[Edit, ...], result: FileResult) -> list[str]:
    """The fix applied to the file (or to each notebook cell it edits), as a unified diff."""
    by_cell: dict[int | None, list[Edit]] = {}
    for edit in edits:
        by_cell.setdefault(edit.cell, []).append(edit)
    lines: list[str] = []
    for cell in sorted(by_cell, key=lambda c: c or 0):
        before = result.cell_sources[cell] if cell is not None else result.source
        after = _apply(before, by_cell[cell])
        if cell is not None:
            lines.append(f"cell {cell}:")
        diff = difflib.unified_diff(before.splitlines(), after.splitlines(), n=1, lineterm="")
        lines += [line.rstrip() for index, line in enumerate(diff) if index >= 2]  # no ---/+++ header
    return lines


def _apply(text: str, edits: list[Edit]) -> str:
    starts = [0] + [match.end() for match in re.finditer(r"\r\n|\r|\n", text)]

    def offset(row: int, column: int) -> int:
        return min(starts[row - 1] + column - 1, len(text)) if row <= len(starts) else len(text)

    for edit in sorted(edits, key=lambda e: (e.span.start.row, e.span.start.column), reverse=True):
        start = offset(edit.span.start.row, edit.span.start.column)
        end = offset(edit.span.end.row, edit.span.end.column)
        text = text[:start] + edit.content + text[end:]
    return text
