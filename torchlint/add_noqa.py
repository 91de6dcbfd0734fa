"""`torchlint check --add-noqa`: silence every current finding with a `# noqa: CODE` on its line.

For adopting torchlint in an existing code base: the findings of today are marked where they are,
and only new code has to be clean. As Ruff's `--add-noqa`:

- a line gets one `# noqa: CODE1, CODE2` with the codes of the findings that start on it;
- an existing `# noqa: E501` (another linter's, or torchlint's) is extended in place:
  `# noqa: E501, TL101`; another comment is kept and the directive appended after it;
- a finding on a line inside a multi-line string, or on a line continued by a backslash, gets its
  comment at the end of the last of those lines (where Python allows a comment, and where
  torchlint looks for it);
- notebooks: the comment goes on the line of the code cell (only those cells' sources change);
- running it again changes nothing, and `torchlint check` then reports none of those findings.

Syntax errors, unreadable files, internal errors and unused suppressions (TL001-TL004) cannot be
silenced by a comment on their line; they are returned for the caller to show.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from torchlint import codes
from torchlint.diagnostics import Diagnostic, Edit, FileResult, Position, Span
from torchlint.source import SourceError, decode_python, read_bytes

NOT_BY_NOQA = frozenset({codes.SYNTAX_ERROR, codes.UNREADABLE_FILE, codes.INTERNAL_ERROR, codes.UNUSED_SUPPRESSION})
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass
class NoqaOutcome:
    """What `--add-noqa` did to one file."""

    path: str
    directives: int = 0  # comments added or extended
    error: str | None = None


@dataclass
class NoqaRun:
    outcomes: list[NoqaOutcome] = field(default_factory=list)
    left: list[Diagnostic] = field(default_factory=list)  # findings a `# noqa` cannot silence

    @property
    def directives(self) -> int:
        return sum(outcome.directives for outcome in self.outcomes)

    def report_lines(self) -> list[str]:
        files = sum(1 for outcome in self.outcomes if outcome.directives)
        count = self.directives
        lines = [f"Added {count} noqa directive{'s' if count != 1 else ''}"
                 + (f" to {files} file{'s' if files != 1 else ''}." if count else ".")]
        lines += [f"torchlint: error: {outcome.path}: {outcome.error}" for outcome in self.outcomes if outcome.error]
        return lines


def add_noqa(results: Sequence[FileResult], *, write: bool = True) -> NoqaRun:
    """Add `# noqa` comments for the findings of a run's results to their files."""
    run = NoqaRun()
    for result in results:
        wanted = [d for d in result.diagnostics if d.code not in NOT_BY_NOQA]
        run.left += [d for d in result.diagnostics if d.code in NOT_BY_NOQA]
        if wanted and result.path != "-":
            run.outcomes.append(add_noqa_to_file(result.path, wanted, write=write))
    return run


def add_noqa_to_file(path: str, diagnostics: Iterable[Diagnostic], *, write: bool = True) -> NoqaOutcome:
    from torchlint.fixes import edited_bytes, write_atomically

    try:
        data = read_bytes(path)
        edits = noqa_edits(data, path, diagnostics)
        if not edits:
            return NoqaOutcome(path)
        new = edited_bytes(data, path, edits)
        if new is None:
            return NoqaOutcome(path, error="the file changed since it was checked; run again")
        if write and new != data:
            write_atomically(path, new)
        return NoqaOutcome(path, directives=len(edits))
    except (SourceError, ValueError) as exc:
        return NoqaOutcome(path, error=str(exc))
    except OSError as exc:
        return NoqaOutcome(path, error=f"cannot write the file: {exc.strerror or exc}")


def noqa_edits(data: bytes, path: str, diagnostics: Iterable[Diagnostic]) -> list[Edit]:
    """The edits that put each finding's code into a `# noqa` on its line (cell edits in notebooks)."""
    units = _units(data, path)  # cell (None for a Python file) -> (original text, Python text)
    wanted: dict[int | None, dict[int, set[str]]] = {}
    for diagnostic in diagnostics:
        if diagnostic.cell in units:
            wanted.setdefault(diagnostic.cell, {}).setdefault(diagnostic.span.start.row, set()).add(diagnostic.code)
    edits = []
    for cell in sorted(wanted, key=lambda cell: cell or 0):
        original, python = units[cell]
        edits += noqa_edits_in(original, python, wanted[cell], cell)
    return edits


def noqa_edits_in(original: str, python: str, wanted: dict[int, set[str]], cell: int | None = None) -> list[Edit]:
    """Edits of one program (a file, or one cell whose masked text is `python`) that put the codes
    wanted at each 1-based row into a `# noqa` comment; a row inside a multi-line string or before
    a backslash continuation takes its comment on the last row of that run."""
    last_rows = _last_rows(python)
    moved: dict[int, set[str]] = {}
    for row, found in wanted.items():
        moved.setdefault(last_rows.get(row, row), set()).update(c for c in found if c not in NOT_BY_NOQA)
    lines = _LINE_BREAK.split(original)
    comments = _comments(python)
    edits = []
    for row, found in sorted(moved.items()):
        if found and row <= len(lines):
            edit = _line_edit(lines[row - 1], row, sorted(found), comments.get(row))
            if edit is not None:
                edits.append(Edit(edit.span, edit.content, cell))
    return edits


def _units(data: bytes, path: str) -> dict[int | None, tuple[str, str]]:
    if not path.endswith(".ipynb"):
        text = decode_python(data).text
        return {None: (text, text)}
    from torchlint.notebook import load_notebook, mask_ipython

    notebook = load_notebook(data)
    if notebook is None:
        return {}
    return {cell.index: (cell.source, mask_ipython(cell.source)) for cell in notebook.cells}


def _last_rows(text: str) -> dict[int, int]:
    """Each row whose comment must go on a later row (inside a multi-line string, before `\\`)."""
    from torchlint.suppressions import unbreakable_lines

    return {row: last for first, last in unbreakable_lines(text) for row in range(first, last)}


def _comments(text: str) -> dict[int, str]:
    """The comment ending each line that has one (by the tokenizer: a `#` in a string is not one)."""
    found: dict[int, str] = {}
    if "#" not in text:
        return found
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                found[token.start[0]] = token.string
    except (tokenize.TokenError, SyntaxError):
        pass
    return found


def _line_edit(line: str, row: int, wanted: list[str], comment: str | None) -> Edit | None:
    from torchlint.suppressions import _NOQA, _parse_codes

    code_end = len(line.rstrip())
    if comment is not None:
        at = line.rfind(comment)
        match = _NOQA.search(comment) if at >= 0 else None
        if match is not None:
            if not match.group("codes"):
                return None  # a blanket `# noqa` already silences every finding on the line
            listed, _ = _parse_codes(match.group("codes"), strict=False)
            missing = [code for code in wanted if code not in listed]
            if not missing:
                return None
            column = at + match.end("codes") + 1
            return Edit(Span(Position(row, column), Position(row, column)), ", " + ", ".join(missing))
    return Edit(Span(Position(row, code_end + 1), Position(row, len(line) + 1)), "  # noqa: " + ", ".join(wanted))
