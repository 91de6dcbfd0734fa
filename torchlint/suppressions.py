"""Inline suppressions and the report of the ones that suppress nothing (TL003).

- `# noqa` / `# noqa: TL401, dataset-protocol` on the line where a finding starts, or (as Ruff
  does) at the end of the multi-line string or backslash-continued lines that line is part of,
  since no comment can end a line inside them;
- `# torchlint: ignore[TL401]` trailing code (that line) or on its own line (the next statement,
  through its decorators to the `def`/`class` line);
- `# torchlint: file-ignore[TL401]` anywhere: the whole file. Without `[...]`: every rule.

`# noqa` codes that are not torchlint's belong to other linters and are left alone, and a blanket
`# noqa` is never reported as unused, since it may be there for another tool.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field

from torchlint import codes
from torchlint.diagnostics import Diagnostic

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[\w\-]+(?:[\s,]+[\w\-]+)*))?", re.I)
_DIRECTIVE = re.compile(r"#\s*torchlint\s*:\s*(?P<kind>ignore|file-ignore)\b(?:\[(?P<codes>[^\]]*)\])?", re.I)
_ANY_NOQA = re.compile("noqa", re.I)
_TL_CODE = re.compile(r"^TL\d{3}$", re.I)
_NEWLINE = re.compile(r"\r\n|\r|\n")  # LibCST's and the tokenizer's line breaks


@dataclass
class Suppression:
    kind: str  # "noqa", "ignore", "file-ignore"
    row: int
    column: int
    rows: range  # the rows it covers
    codes: dict[str, str] | None  # code -> the text the user wrote; None: every rule
    used: set[str] = field(default_factory=set)
    unknown: list[str] = field(default_factory=list)
    # Where the comment is, for the fix that removes it: see `_Written`.
    written: _Written | None = None

    def covers(self, diagnostic: Diagnostic) -> bool:
        if self.kind != "file-ignore" and diagnostic.span.start.row not in self.rows:
            return False
        return self.codes is None or diagnostic.code in self.codes


@dataclass(frozen=True)
class _Written:
    """The text of a suppression on its line, in 1-based columns (ends exclusive)."""

    line: str
    comment: tuple[int, int]  # the whole `# ...` comment
    directive: tuple[int, int]  # `noqa: A, B` / `torchlint: ignore[A, B]` within it
    words: tuple[tuple[str, int, int], ...]  # each code or name written, with its columns
    own_line: bool


def apply_suppressions(text: str, diagnostics: list[Diagnostic], enabled: frozenset[str], path: str) -> list[Diagnostic]:
    """Drop suppressed findings and add TL003 for suppressions that matched nothing."""
    if "torchlint" not in text and not _ANY_NOQA.search(text):
        return diagnostics
    suppressions = find_suppressions(text)
    if not suppressions:
        return diagnostics
    kept = []
    for diagnostic in diagnostics:
        if diagnostic.code in (codes.SYNTAX_ERROR, codes.UNREADABLE_FILE):
            kept.append(diagnostic)
            continue
        hits = [s for s in suppressions if s.covers(diagnostic)]
        for suppression in hits:
            suppression.used.add(diagnostic.code)
        if not hits:
            kept.append(diagnostic)
    if codes.UNUSED_SUPPRESSION in enabled:
        for source, unused in _unused(suppressions, enabled, path):
            # Another suppression may silence a TL003, but none silences its own report.
            if not any(s.covers(unused) for s in suppressions if s is not source):
                kept.append(unused)
    return kept


def _unused(suppressions: list[Suppression], enabled: frozenset[str], path: str) -> list[tuple[Suppression, Diagnostic]]:
    from torchlint.registry import make_diagnostic

    found = []
    for s in suppressions:
        where = {"path": path, "row": s.row, "column": s.column}
        for word in s.unknown:
            found.append((s, make_diagnostic(codes.UNUSED_SUPPRESSION, f"`{word}` in a torchlint suppression is not a torchlint rule", **where)))
        if s.codes is None:
            if s.kind != "noqa" and not s.used:
                fix = _removal_fix(s, None, [])
                found.append((s, make_diagnostic(codes.UNUSED_SUPPRESSION, f"unused `torchlint: {s.kind}`: it suppresses no finding", **where, fix=fix)))
            continue
        unused = [code for code in s.codes if code in enabled and code not in s.used and code != codes.UNUSED_SUPPRESSION]
        for code in unused:
            written = s.codes[code]
            fix = _removal_fix(s, written, unused)
            found.append((s, make_diagnostic(codes.UNUSED_SUPPRESSION, f"unused suppression of `{written}`: no {code} finding here", **where, fix=fix)))
    return found


def _removal_fix(s: Suppression, word: str | None, unused: list[str]):
    """Remove an unused code from its comment, or the whole directive when nothing else is in it.

    Removing a comment never changes what the program does. Words we do not know (another
    linter's code, a misspelt rule) are kept.
    """
    from torchlint.diagnostics import Applicability, Edit, Fix, Position, Span

    w = s.written
    if w is None:
        return None
    unused_words = {s.codes[code] for code in unused}
    words = [entry[0] for entry in w.words]
    if word not in words and word is not None:
        return None
    # Another linter's code or a misspelt one stays, so removing single codes never leaves a
    # bare `# noqa` (which would silence everything).
    if set(words) <= unused_words:
        start, end = _directive_removal(w)
        message = "Remove the unused suppression comment"
    else:
        index = words.index(word)
        if index > 0:
            start, end = w.words[index - 1][2], w.words[index][2]
        else:
            start, end = w.words[0][1], w.words[1][1]
        message = f"Remove `{word}` from the suppression"
    if (start, end) == ("line", "line"):
        span = Span(Position(s.row, 1), Position(s.row + 1, 1))
    else:
        span = Span(Position(s.row, start), Position(s.row, end))
    return Fix(message, Applicability.SAFE, (Edit(span, ""),))


def _directive_removal(w: _Written) -> tuple:
    """Columns to delete to drop the directive, with the whitespace that would be left over."""
    line, (c_start, c_end), (d_start, d_end) = w.line, w.comment, w.directive
    before = line[c_start - 1 : d_start - 1]  # `# ` or `# type: ignore  # `
    after = line[d_end - 1 : c_end - 1]
    if before.strip() in ("#", "") and not after.strip():
        if w.own_line:
            return "line", "line"
        code_end = len(line[: c_start - 1].rstrip()) + 1
        return code_end, c_end
    if before.strip() in ("#", ""):
        # `# noqa: TL101  # why`: keep the rest of the comment as the comment
        rest = len(after) - len(after.lstrip())
        return d_start, d_end + rest
    # `# type: ignore  # noqa: TL101`: drop the directive (it starts at its own `#`)
    return len(line[: d_start - 1].rstrip()) + 1, d_end


def find_suppressions(text: str) -> list[Suppression]:
    comments = list(_comments(text))
    if not comments:
        return []
    logical = None
    suppressions = []
    lines = _NEWLINE.split(text)
    noqa_rows = None
    for row, column, comment, own_line in comments:
        def written(match):
            return _written_at(lines[row - 1], column, comment, match, own_line)

        for match in _NOQA.finditer(comment):
            selected, unknown = _parse_codes(match.group("codes"), strict=False) if match.group("codes") else (None, [])
            if selected == {} and not unknown:  # only other linters' codes
                continue
            if noqa_rows is None:
                noqa_rows = {last: first for first, last in unbreakable_lines(text)}
            rows = range(noqa_rows.get(row, row), row + 1)
            suppressions.append(Suppression("noqa", row, column + match.start() + 1, rows, selected, unknown=unknown, written=written(match)))
        for match in _DIRECTIVE.finditer(comment):
            kind = match.group("kind").lower()
            selected, unknown = _parse_codes(match.group("codes"), strict=True) if match.group("codes") else (None, [])
            if kind == "ignore" and own_line:
                if logical is None:
                    logical = _logical_lines(text)
                rows = _next_statement(logical, row)
            else:
                rows = range(row, row + 1)
            suppressions.append(Suppression(kind, row, column + match.start() + 1, rows, selected, unknown=unknown, written=written(match)))
    return suppressions


def _written_at(line: str, column: int, comment: str, match, own_line: bool) -> _Written:
    base = column + 1  # 1-based column of the comment's `#`
    words = ()
    if match.group("codes"):
        offset = base + match.start("codes")
        words = tuple((m.group(0), offset + m.start(), offset + m.end()) for m in re.finditer(r"[^\s,]+", match.group("codes")))
    return _Written(
        line=line,
        comment=(base, base + len(comment)),
        directive=(base + match.start(), base + match.end()),
        words=words,
        own_line=own_line,
    )


def _parse_codes(raw: str, *, strict: bool) -> tuple[dict[str, str], list[str]]:
    from torchlint.registry import lookup

    selected: dict[str, str] = {}
    unknown: list[str] = []
    for word in filter(None, re.split(r"[\s,]+", raw)):
        rule = lookup(word)
        if rule is not None:
            selected[rule.code] = word
        elif strict or _TL_CODE.match(word):
            unknown.append(word)
    return selected, unknown


def _comments(text: str):
    """(row, 0-based column, text, stands alone on its line) of each comment mentioning us."""
    from torchlint.positions import split_lines

    lines = split_lines(text)
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT and ("noqa" in token.string.lower() or "torchlint" in token.string):
                row, column = token.start
                own_line = not lines[row - 1][:column].strip()
                yield row, column, token.string, own_line
    except (tokenize.TokenError, SyntaxError):
        return


def unbreakable_lines(text: str) -> list[tuple[int, int]]:
    """(first row, last row) of each run of lines that only the last can end with a comment.

    Those are the lines of a multi-line string (a comment on its inner lines would be string
    text) and lines joined by a trailing backslash (a comment after it is a syntax error). A
    `# noqa` for any of these rows goes at the end of the last one. Empty for code that does not
    tokenize.
    """
    if '"""' not in text and "'''" not in text and "\\\n" not in text and "\\\r" not in text:
        return []
    runs: list[tuple[int, int]] = []
    comment_rows: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                comment_rows.add(token.start[0])
            elif token.end[0] > token.start[0] and token.type not in (tokenize.NEWLINE, tokenize.NL):
                runs.append((token.start[0], token.end[0]))
    except (tokenize.TokenError, SyntaxError):
        return []
    inside = {row for first, last in runs for row in range(first, last)}
    for row, line in enumerate(_NEWLINE.split(text), start=1):
        if line.endswith("\\") and row not in inside and row not in comment_rows:
            runs.append((row, row + 1))
    merged: list[tuple[int, int]] = []
    for first, last in sorted(runs):
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _logical_lines(text: str) -> list[tuple[int, int, bool]]:
    """(first row, last row, starts with a decorator) of each logical line."""
    result = []
    start = None
    first_token = None
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING):
                continue
            if start is None:
                start, first_token = token.start[0], token.string
            if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                result.append((start, token.start[0], first_token == "@"))
                start = None
    except (tokenize.TokenError, SyntaxError):
        pass
    return result


def _next_statement(logical: list[tuple[int, int, bool]], row: int) -> range:
    for index, (first, last, decorator) in enumerate(logical):
        if first > row:
            while decorator and index + 1 < len(logical):
                index += 1
                first_next, last, decorator = logical[index]
            return range(row, last + 1)
    return range(row, row + 1)

