"""Inline suppressions and the report of the ones that suppress nothing (TL003).

- `# noqa` / `# noqa: TL401, dataset-protocol` on the line where a finding starts;
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
_TL_CODE = re.compile(r"^TL\d{3}$", re.I)


@dataclass
class Suppression:
    kind: str  # "noqa", "ignore", "file-ignore"
    row: int
    column: int
    rows: range  # the rows it covers
    codes: dict[str, str] | None  # code -> the text the user wrote; None: every rule
    used: set[str] = field(default_factory=set)
    unknown: list[str] = field(default_factory=list)

    def covers(self, diagnostic: Diagnostic) -> bool:
        if self.kind != "file-ignore" and diagnostic.span.start.row not in self.rows:
            return False
        return self.codes is None or diagnostic.code in self.codes


def apply_suppressions(text: str, diagnostics: list[Diagnostic], enabled: frozenset[str], path: str) -> list[Diagnostic]:
    """Drop suppressed findings and add TL003 for suppressions that matched nothing."""
    if "noqa" not in text and "torchlint" not in text:
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
        for unused in _unused(suppressions, enabled, path):
            if not any(s.covers(unused) for s in suppressions):
                kept.append(unused)
    return kept


def _unused(suppressions: list[Suppression], enabled: frozenset[str], path: str) -> list[Diagnostic]:
    from torchlint.engine import make_diagnostic

    found = []
    for s in suppressions:
        where = {"path": path, "row": s.row, "column": s.column}
        for word in s.unknown:
            found.append(make_diagnostic(codes.UNUSED_SUPPRESSION, f"`{word}` in a torchlint suppression is not a torchlint rule", **where))
        if s.codes is None:
            if s.kind != "noqa" and not s.used:
                found.append(make_diagnostic(codes.UNUSED_SUPPRESSION, f"unused `torchlint: {s.kind}`: it suppresses no finding", **where))
            continue
        for code, written in s.codes.items():
            if code in enabled and code not in s.used and code != codes.UNUSED_SUPPRESSION:
                found.append(make_diagnostic(codes.UNUSED_SUPPRESSION, f"unused suppression of `{written}`: no {code} finding here", **where))
    return found


def find_suppressions(text: str) -> list[Suppression]:
    comments = list(_comments(text))
    if not comments:
        return []
    logical = None
    suppressions = []
    for row, column, comment, own_line in comments:
        for match in _NOQA.finditer(comment):
            selected, unknown = _parse_codes(match.group("codes"), strict=False) if match.group("codes") else (None, [])
            if selected == {} and not unknown:  # only other linters' codes
                continue
            suppressions.append(Suppression("noqa", row, column + match.start() + 1, range(row, row + 1), selected, unknown=unknown))
        for match in _DIRECTIVE.finditer(comment):
            kind = match.group("kind").lower()
            selected, unknown = _parse_codes(match.group("codes"), strict=True) if match.group("codes") else (None, [])
            if kind == "ignore" and own_line:
                if logical is None:
                    logical = _logical_lines(text)
                rows = _next_statement(logical, row)
            else:
                rows = range(row, row + 1)
            suppressions.append(Suppression(kind, row, column + match.start() + 1, rows, selected, unknown=unknown))
    return suppressions


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
    lines = text.splitlines()
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT and ("noqa" in token.string.lower() or "torchlint" in token.string):
                row, column = token.start
                own_line = not lines[row - 1][:column].strip()
                yield row, column, token.string, own_line
    except (tokenize.TokenError, SyntaxError):
        return


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

