"""Applying fixes: text edits in rounds, re-linting between rounds, then an atomic write.

A round takes the findings of the current text whose fix may be applied (safe, or unsafe too when
asked), keeps those whose edits overlap no edit already taken (the others wait for the next
round, when they are recomputed against the new text), checks that the result still parses, and
re-lints. Rounds repeat until nothing changes. A fix whose result does not parse is dropped and
reported, never written.

Python files keep their encoding, BOM and line endings (edits are made on the decoded text, and
the text is encoded back the same way). Notebooks are fixed cell by cell: only the `source` of
the code cells a fix touches changes; outputs, metadata and the other cells stay as they were.
"""

from __future__ import annotations

import codecs
import dataclasses
import difflib
import os
import re
import stat
import tempfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Sequence

from torchlint.diagnostics import Applicability, Diagnostic, Edit, FileResult, Fix, Position, Span
from torchlint.positions import LINE_BREAK, line_starts, split_lines
from torchlint.source import SourceError, decode_python, read_bytes

if TYPE_CHECKING:
    from torchlint.config import Settings

# Ruff stops at 100; our fixes are local, so a file needing more than this is looping.
MAX_ROUNDS = 20
# Python's tokenizer's line breaks (not str.splitlines's, which also splits on \f, \x1c, \u2028).
_NEWLINE = LINE_BREAK


@dataclass(frozen=True)
class DroppedFix:
    """A fix that was not applied because the code it produced does not parse."""

    diagnostic: Diagnostic
    reason: str


@dataclass
class FixOutcome:
    """What fixing one file did. `result` is the lint of the final text (what remains)."""

    path: str
    original: bytes
    fixed: bytes
    result: FileResult
    applied: list[Diagnostic] = field(default_factory=list)
    dropped: list[DroppedFix] = field(default_factory=list)
    converged: bool = True
    error: str | None = None

    @property
    def changed(self) -> bool:
        return self.fixed != self.original


def applicable(fix: Fix | None, unsafe: bool) -> bool:
    """Whether `--fix` (with `--unsafe-fixes` when `unsafe`) may apply this fix."""
    if fix is None or not fix.edits:
        return False
    if fix.applicability is Applicability.SAFE:
        return True
    return unsafe and fix.applicability is Applicability.UNSAFE


def has_applicable_fix(result: FileResult, unsafe: bool) -> bool:
    return any(applicable(d.fix, unsafe) for d in result.diagnostics)


# --- the driver over a run's results ---------------------------------------------------------


def apply_fixes(
    results: Sequence[FileResult], settings: Settings, *, unsafe: bool = False, write: bool = True
) -> tuple[list[FileResult], list[FixOutcome]]:
    """Fix every file of a run that has an applicable fix.

    Returns the results with fixed files re-linted (their remaining findings) and one outcome per
    file that was attempted. With `write=False` nothing is written (`--diff`).
    """
    new_results: list[FileResult] = []
    outcomes: list[FixOutcome] = []
    for result in results:
        if not has_applicable_fix(result, unsafe) or result.path == "-":
            new_results.append(result)
            continue
        outcome = fix_file(result.path, settings, unsafe=unsafe, write=write)
        outcomes.append(outcome)
        new_results.append(outcome.result if outcome.error is None else result)
    return new_results, outcomes


def fix_file(path: str, settings: Settings, *, unsafe: bool = False, write: bool = True) -> FixOutcome:
    """Fix one file on disk; writes it (atomically) only when something changed and `write`."""
    try:
        data = read_bytes(path)
    except SourceError as exc:
        from torchlint.engine import lint_file

        return FixOutcome(path, b"", b"", lint_file(path, settings), error=str(exc))
    outcome = fix_bytes(data, path, settings, unsafe=unsafe)
    if write and outcome.changed and outcome.error is None:
        outcome.error = why_not_written(path)
        if outcome.error is None:
            try:
                write_atomically(path, outcome.fixed)
            except OSError as exc:
                outcome.error = f"cannot write the fixed file: {exc.strerror or exc}"
        if outcome.error is not None:  # nothing was written: the file's findings are all still there
            from torchlint.engine import lint_file

            outcome.result = lint_file(path, settings, data=data)
    return outcome


def why_not_written(path: str) -> str | None:
    """Why `--fix` leaves this file as it is, or None when it may replace it.

    A symbolic link is never written through: its target may lie outside the project. A file with
    several hard links is skipped too: replacing it would silently split it from its other names,
    and writing it in place would change a file elsewhere (package caches hard-link their files).
    A read-only file is left read-only, as an unwritable one would be.
    """
    try:
        status = os.lstat(path)
    except OSError as exc:
        return f"cannot write the fixed file: {exc.strerror or exc}"
    if stat.S_ISLNK(status.st_mode):
        return "it is a symbolic link, and torchlint never writes through one (fix the file it points to)"
    if status.st_nlink > 1:
        return f"it has {status.st_nlink} hard links, and writing it would change or split them all"
    if not status.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        return f"it is read-only (mode {stat.S_IMODE(status.st_mode):04o})"
    return None


def fix_bytes(data: bytes, path: str, settings: Settings, *, unsafe: bool = False) -> FixOutcome:
    """Fix a file's content (`path` decides Python or notebook, and which settings apply)."""
    from torchlint.engine import lint_file

    try:
        document = _Notebook(data) if path.endswith(".ipynb") else _PythonFile(data)
    except (SourceError, ValueError) as exc:
        return FixOutcome(path, data, data, lint_file(path, settings, data=data), error=str(exc))
    outcome = FixOutcome(path, data, data, lint_file(path, settings, data=data))
    seen_texts = {document.key()}
    dropped_keys: set[tuple] = set()
    for _ in range(MAX_ROUNDS):
        candidates = [
            d for d in outcome.result.diagnostics
            if applicable(d.fix, unsafe) and _fix_key(d) not in dropped_keys
        ]
        if not candidates:
            break
        taken = _non_overlapping(candidates)
        good = []
        for diagnostic in taken:
            trial = document.with_edits(diagnostic.fix.edits)
            problem = trial.syntax_problem() if trial is not None else "its edits fall outside the file"
            if problem is None:
                good.append(diagnostic)
            else:
                dropped_keys.add(_fix_key(diagnostic))
                outcome.dropped.append(DroppedFix(diagnostic, problem))
        if not good:
            continue  # only bad fixes this round; the next round looks for others
        combined = document.with_edits([e for d in good for e in d.fix.edits])
        if combined is None or combined.syntax_problem() is not None:
            # Each parses alone but not together: take one now, the rest are recomputed next round.
            good = good[:1]
            combined = document.with_edits(good[0].fix.edits)
        document = combined
        outcome.applied.extend(good)
        if document.key() in seen_texts:
            outcome.converged = False  # a cycle: two fixes undoing each other
            break
        seen_texts.add(document.key())
        try:
            outcome.fixed = document.encode()
        except UnicodeEncodeError as exc:
            outcome.error = f"the fixed text cannot be encoded as {exc.encoding}"
            outcome.fixed = data
            break
        except SourceError as exc:
            outcome.error = str(exc)
            outcome.fixed = data
            break
        outcome.result = lint_file(path, settings, data=outcome.fixed)
    else:
        outcome.converged = False
    outcome.result.fixes_applied = len(outcome.applied)
    return outcome


def _fix_key(diagnostic: Diagnostic) -> tuple:
    fix = diagnostic.fix
    return (diagnostic.code, fix.message, tuple((e.cell, e.content) for e in fix.edits), diagnostic.message)


def _non_overlapping(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """The fixes to apply together, in source order; a fix that overlaps an earlier one waits."""
    taken: list[Diagnostic] = []
    claimed: list[tuple[int | None, tuple[int, int], tuple[int, int]]] = []
    for diagnostic in sorted(diagnostics, key=lambda d: min(_edit_order(e) for e in d.fix.edits)):
        ranges = [(e.cell, _pos(e.span.start), _pos(e.span.end)) for e in diagnostic.fix.edits]
        if _self_overlapping(ranges) or any(_overlap(a, b) for a in ranges for b in claimed):
            continue
        taken.append(diagnostic)
        claimed.extend(ranges)
    return taken


def _edit_order(edit: Edit) -> tuple:
    return (edit.cell or 0, edit.span.start.row, edit.span.start.column)


def _pos(position) -> tuple[int, int]:
    return (position.row, position.column)


def _overlap(a, b) -> bool:
    if a[0] != b[0]:
        return False
    (_, a_start, a_end), (_, b_start, b_end) = a, b
    if a_start == a_end == b_start == b_end:
        return True  # two insertions at one point: their order would be arbitrary
    return a_start < b_end and b_start < a_end or (a_start == a_end and b_start < a_start < b_end) or (
        b_start == b_end and a_start < b_start < a_end
    )


def _self_overlapping(ranges) -> bool:
    return any(_overlap(a, b) for i, a in enumerate(ranges) for b in ranges[i + 1 :])


# --- from node replacements to text edits ---------------------------------------------------

# Tokens for diffing code: names and numbers, runs of blanks, line breaks, any other character.
_TOKEN = re.compile(r"\w+|[ \t]+|\r\n|\r|\n|.", re.S)


def replacement_edits(module, text: str | None, old, new, span: Span) -> list[Edit]:
    """The text edits that turn node `old` (at `span` of `text`) into `new` (a node or code).

    Only the tokens that differ are edited: the old and new code are diffed token by token, and
    each run of changes within a line becomes one edit. Everything else (the indentation of
    continuation lines, comments, line breaks) stays byte for byte. Where the code LibCST
    generates for `old` cannot be matched to `text`, the whole span is replaced (the old way).
    """
    from torchlint.positions import code_and_range

    new_code = new if isinstance(new, str) else code_and_range(module, new)
    try:
        old_code, old_range = code_and_range(module, old)
        before = _syntactic_part(old_code, old_range)
        after = new_code if isinstance(new_code, str) else _syntactic_part(*new_code)
        located = _locator(text, before, span) if text is not None else None
    except (KeyError, ImportError, IndexError):
        located = None
    if located is None:
        content = new_code if isinstance(new_code, str) else _syntactic_part(*new_code)
        return [Edit(span, content)]
    return [
        Edit(Span(located(start), located(end)), _indent_inserted(content, located.indent(start)))
        for start, end, content in _changed_runs(before, after)
    ]


def _syntactic_part(code: str, code_range) -> str:
    starts = line_starts(code)
    start = starts[code_range.start.line - 1] + code_range.start.column
    end = starts[code_range.end.line - 1] + code_range.end.column
    return code[start:end]


def _changed_runs(before: str, after: str) -> list[tuple[int, int, str]]:
    """(start, end, new text) in `before` for each run of changed tokens, merged within a line."""
    a, b = _TOKEN.findall(before), _TOKEN.findall(after)
    a_offsets = [0]
    for token in a:
        a_offsets.append(a_offsets[-1] + len(token))
    runs: list[list] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        start, end, content = a_offsets[i1], a_offsets[i2], "".join(b[j1:j2])
        if runs and not LINE_BREAK.search(before, runs[-1][1], start):
            runs[-1][2] += before[runs[-1][1] : start] + content
            runs[-1][1] = end
        else:
            runs.append([start, end, content])
    return [run for run in (_trimmed(before, *run) for run in runs) if run is not None]


def _trimmed(before: str, start: int, end: int, content: str) -> tuple[int, int, str] | None:
    """A merged run without the tokens it leaves as they were at either end (merging the runs
    of a line can take in an unchanged token between them); None when nothing changes."""
    old, new = _TOKEN.findall(before[start:end]), _TOKEN.findall(content)
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    if head == len(old) == len(new):
        return None
    start += sum(map(len, old[:head]))
    end -= sum(map(len, old[len(old) - tail :]))
    return start, end, "".join(new[head : len(new) - tail])


class _Located:
    """Maps offsets in a node's generated code to positions in the file's text."""

    def __init__(self, line_offsets: list[int], rows: list[tuple[int, int, str]]) -> None:
        self.line_offsets = line_offsets  # offset where each line of the generated code starts
        self.rows = rows  # per generated line: (file row, file column of its first char, indent)

    def _line(self, offset: int) -> int:
        from bisect import bisect_right

        return bisect_right(self.line_offsets, offset) - 1

    def __call__(self, offset: int) -> Position:
        line = self._line(offset)
        row, column, _ = self.rows[line]
        return Position(row, column + offset - self.line_offsets[line])

    def indent(self, offset: int) -> str:
        return self.rows[self._line(offset)][2]


def _locator(text: str, code: str, span: Span) -> _Located | None:
    """Match the node's generated code to the file's text at `span`, line by line.

    LibCST generates a node on its own without the indentation of the block around it: each
    generated line must be the end of the file's line (the first, its start); the difference
    is where the line begins in the file.
    """
    file_lines = split_lines(text)
    code_lines = split_lines(code) or [""]
    if code.endswith(("\n", "\r")):
        code_lines.append("")
    if len(code_lines) != span.end.row - span.start.row + 1 or span.end.row > len(file_lines):
        return None
    rows = []
    for i, generated in enumerate(code_lines):
        row = span.start.row + i
        line = file_lines[row - 1]
        if row == span.end.row:
            line = line[: span.end.column - 1]
        if i == 0:
            if line[span.start.column - 1 :] != generated:
                return None
            indent = line[: len(line) - len(line.lstrip(" \t"))]
            rows.append((row, span.start.column, indent))
        else:
            if not line.endswith(generated):
                return None
            shift = len(line) - len(generated)
            rows.append((row, shift + 1, line[:shift]))
    return _Located(line_starts(code), rows)


def _indent_inserted(content: str, indent: str) -> str:
    """New lines inside inserted code get the indentation LibCST left out."""
    if not indent or not LINE_BREAK.search(content):
        return content
    pieces = LINE_BREAK.split(content)
    breaks = LINE_BREAK.findall(content)
    return pieces[0] + "".join(brk + (indent + piece if piece else piece) for brk, piece in zip(breaks, pieces[1:]))


# --- text edits ------------------------------------------------------------------------------


def apply_edits(text: str, edits: Iterable[Edit]) -> str | None:
    """Apply non-overlapping edits given in 1-based (row, column) positions of `text`.

    Returns None when an edit points outside the text.
    """
    starts = _line_starts(text)
    spans = []
    for edit in edits:
        start, end = _offset(starts, text, edit.span.start), _offset(starts, text, edit.span.end)
        if start is None or end is None or end < start:
            return None
        spans.append((start, end, edit.content))
    for start, end, content in sorted(spans, key=lambda s: (s[0], s[1]), reverse=True):
        text = text[:start] + content + text[end:]
    return text


def _line_starts(text: str) -> list[int]:
    return [0] + [match.end() for match in _NEWLINE.finditer(text)]


def _offset(starts: list[int], text: str, position) -> int | None:
    row, column = position.row, position.column
    if row == len(starts) + 1 and column == 1:
        return len(text)  # just past the last line break
    if not 1 <= row <= len(starts) or column < 1:
        return None
    offset = starts[row - 1] + column - 1
    line_end = starts[row] if row < len(starts) else len(text)
    return offset if offset <= line_end else None


def _parse_problem(text: str) -> str | None:
    from torchlint.engine import lint_text

    diagnostics, parsed = lint_text(text, "<fixed>", [])
    if parsed:
        return None
    first = diagnostics[0]
    return f"the fixed code does not parse ({first.message}, line {first.span.start.row})"


class _PythonFile:
    """A Python file's text with the way to encode it back: encoding, BOM."""

    def __init__(self, data: bytes, text: str | None = None, encoding: str = "utf-8", bom: bool = False):
        if text is None:
            decoded = decode_python(data)
            text, encoding, bom = decoded.text, decoded.encoding, decoded.has_bom
        self.data, self.text, self.encoding, self.bom = data, text, encoding, bom

    def key(self):
        return self.text

    def with_edits(self, edits: Iterable[Edit]) -> _PythonFile | None:
        text = apply_edits(self.text, (_match_newlines(e, self.text) for e in edits))
        return None if text is None else _PythonFile(self.data, text, self.encoding, self.bom)

    def syntax_problem(self) -> str | None:
        return _parse_problem(self.text)

    def encode(self) -> bytes:
        return (codecs.BOM_UTF8 if self.bom else b"") + self.text.encode(self.encoding)


def _match_newlines(edit: Edit, text: str) -> Edit:
    """Write inserted line breaks the way the file already does."""
    if "\n" not in edit.content and "\r" not in edit.content:
        return edit
    newline = _dominant_newline(text)
    return dataclasses.replace(edit, content=_NEWLINE.sub(newline, edit.content))


def _dominant_newline(text: str) -> str:
    first = _NEWLINE.search(text)
    return first.group(0) if first else "\n"


class _Notebook:
    """A notebook's code cells, edited in cell coordinates; written back through `NotebookFile`,
    which replaces only the `source` values of the cells that changed."""

    def __init__(self, data: bytes, notebook=None, sources: dict[int, str] | None = None,
                 touched: frozenset[int] = frozenset()):
        from torchlint.notebook import NotebookFile

        self.data = data
        self.touched = touched  # the cells the last edits changed: the ones to re-check
        if notebook is None:
            try:
                notebook = NotebookFile(data)
            except SourceError as exc:
                raise ValueError(f"cannot read the notebook: {exc}") from None
        self.notebook = notebook
        self.sources = sources if sources is not None else notebook.code_sources()

    def key(self):
        return tuple(sorted(self.sources.items()))

    def with_edits(self, edits: Iterable[Edit]) -> _Notebook | None:
        by_cell: dict[int, list[Edit]] = {}
        for edit in edits:
            if edit.cell not in self.sources:
                return None
            by_cell.setdefault(edit.cell, []).append(edit)
        sources = dict(self.sources)
        for cell, cell_edits in by_cell.items():
            text = apply_edits(sources[cell], cell_edits)
            if text is None:
                return None
            sources[cell] = text
        return _Notebook(self.data, self.notebook, sources, frozenset(by_cell))

    def syntax_problem(self) -> str | None:
        """Whether an edited cell no longer parses. Jupyter runs each cell on its own, so each
        must parse alone; another cell that was already broken does not count against a fix."""
        from torchlint.notebook import mask_ipython

        for cell in sorted(self.touched):
            problem = _parse_problem(mask_ipython(self.sources[cell]))
            if problem is not None:
                return f"cell {cell}: {problem}"
        return None

    def changed_cells(self, other: _Notebook) -> list[int]:
        return [index for index, source in self.sources.items() if other.sources.get(index) != source]

    def encode(self) -> bytes:
        """The original bytes with only the changed cells' `source` values replaced."""
        return self.notebook.with_sources(self.sources)


# --- writing, diffs, reports -----------------------------------------------------------------


def write_atomically(path: str, data: bytes) -> None:
    """Replace a file's content in one step: a temporary file in its directory, then a rename.

    The file's permission bits are kept. Callers check `why_not_written` first (links).
    """
    target = path
    mode = stat.S_IMODE(os.stat(target).st_mode)
    directory = os.path.dirname(target) or "."
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(target)}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def unified_diff(outcome: FixOutcome) -> str:
    """The fix as a unified diff; for a notebook, one hunk group per changed cell."""
    if not outcome.changed:
        return ""
    path = outcome.path
    if path.endswith(".ipynb"):
        before, after = _Notebook(outcome.original), _Notebook(outcome.fixed)
        parts = []
        for index in after.changed_cells(before):
            parts.append(_diff_text(before.sources.get(index, ""), after.sources[index], f"{path}:cell {index}"))
        return "".join(parts)
    before_text = _PythonFile(outcome.original).text
    after_text = _PythonFile(outcome.fixed).text
    return _diff_text(before_text, after_text, path)


def _diff_text(before: str, after: str, name: str) -> str:
    lines = difflib.unified_diff(
        _diff_lines(before), _diff_lines(after), fromfile=f"a/{name}", tofile=f"b/{name}"
    )
    return "".join(lines)


def _diff_lines(text: str) -> list[str]:
    lines = [line.rstrip("\r\n") + "\n" for line in _NEWLINE.split(text)]
    if text.endswith(("\n", "\r")):
        lines.pop()  # the empty piece after the last line break
    elif lines:
        lines[-1] = lines[-1][:-1] + "\n\\ No newline at end of file\n"
    return lines


def fixes_summary(outcomes: Sequence[FixOutcome]) -> list[str]:
    """`--show-fixes`: per file, how many findings of each rule were fixed."""
    from collections import Counter

    lines = []
    fixed = [o for o in outcomes if o.applied and o.changed and o.error is None]
    total = sum(len(o.applied) for o in fixed)
    if not total:
        return ["No fixes applied."] if outcomes else []
    lines.append(f"Fixed {total} finding{'s' if total != 1 else ''}:")
    for outcome in fixed:
        lines.append(f"- {outcome.path}:")
        counts = Counter((d.code, d.name) for d in outcome.applied)
        for (code, name), count in sorted(counts.items()):
            lines.append(f"    {count} × {code} ({name})")
    return lines


def problem_lines(outcomes: Sequence[FixOutcome]) -> list[str]:
    """Fixes that were dropped, files that could not be fixed or whose fixes did not settle."""
    from torchlint.output import location_text

    lines = []
    for outcome in outcomes:
        if outcome.error:
            lines.append(f"torchlint: {outcome.path}: not fixed: {outcome.error}")
        for dropped in outcome.dropped:
            where = location_text(dropped.diagnostic)
            lines.append(f"torchlint: {where}: {dropped.diagnostic.code} fix dropped: {dropped.reason}")
        if not outcome.converged:
            lines.append(f"torchlint: {outcome.path}: fixes did not settle after {MAX_ROUNDS} rounds; the file was fixed as far as they agree")
    return lines


# --- what `torchlint check --fix/--diff` does with a run ---------------------------------------


@dataclass
class FixRun:
    """The fix step of one `check` invocation, and what it prints."""

    results: list[FileResult]  # what remains to report
    outcomes: list[FixOutcome]
    diff_only: bool

    @property
    def would_change(self) -> bool:
        return any(o.changed for o in self.outcomes)

    def report_lines(self, show_fixes: bool) -> list[str]:
        """Lines for the user after the findings: what was fixed, what could not be."""
        # Only what was written counts: a file that could not be written keeps its findings.
        applied = sum(len(o.applied) for o in self.outcomes if o.changed and o.error is None)
        lines = []
        if self.diff_only:
            if applied:
                lines.append(f"Would fix {applied} finding{'s' if applied != 1 else ''}.")
        elif show_fixes:
            lines.extend(fixes_summary(self.outcomes) or ["No fixes applied."])
        elif applied:
            lines.append(f"Fixed {applied} finding{'s' if applied != 1 else ''}.")
        return lines


def fix_run(results: Sequence[FileResult], settings: Settings, *, unsafe: bool, diff: bool) -> FixRun:
    """`--fix` (write the files) or `--diff` (write nothing) over a run's results."""
    new_results, outcomes = apply_fixes(results, settings, unsafe=unsafe, write=not diff)
    return FixRun(new_results, outcomes, diff_only=diff)


def fix_stdin(data: bytes, path: str, settings: Settings, *, unsafe: bool) -> FixOutcome:
    """Fix source read from stdin (never written anywhere; the caller prints it)."""
    return fix_bytes(data, path, settings, unsafe=unsafe)


def edited_bytes(data: bytes, path: str, edits: Sequence[Edit]) -> bytes | None:
    """`data` with `edits` applied, encoded as the file was (a notebook when `path` says so: its
    edits name their cells, and only those cells' sources change). None when an edit falls
    outside the text. Raises SourceError or ValueError for content that cannot be read.
    """
    document = _Notebook(data) if path.endswith(".ipynb") else _PythonFile(data)
    edited = document.with_edits(edits)
    return None if edited is None else edited.encode()
