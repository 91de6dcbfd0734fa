"""The edit that suppresses one finding with `# noqa: CODE` on the line where it starts.

An existing `# noqa: A, B` comment on that line gets the code added (`# noqa: A, B, CODE`); any
other comment is kept and the directive appended after it. A line whose end lies inside a
multi-line string, or that continues with a backslash, cannot take a comment: no edit.
"""

from __future__ import annotations

import io
import re
import tokenize

from torchlint.diagnostics import Edit, Position, Span

# The codes list of a `# noqa:` directive, as the suppression reader accepts it.
_NOQA_CODES = re.compile(r"#\s*noqa:\s*(?P<codes>[\w\-]+(?:[ \t]*,[ \t]*[\w\-]+|[ \t]+[\w\-]+)*)", re.I)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def noqa_edit(text: str, row: int, code: str, cell: int | None = None) -> Edit | None:
    """An edit of `text` (masked as the engine reads it, for a notebook cell) at 1-based `row`."""
    lines = _LINE_BREAK.split(text)
    if not 1 <= row <= len(lines):
        return None
    line = lines[row - 1]
    if line.rstrip().endswith("\\"):
        return None
    comment = _comment_on(text, row)
    if comment is False:
        return None
    if comment is not None:
        start_column, comment_text = comment
        match = _NOQA_CODES.search(comment_text)
        if match is not None:
            written = re.split(r"[\s,]+", match.group("codes"))
            if code.upper() in (word.upper() for word in written):
                return None
            at = start_column + match.end("codes")
            return Edit(Span(Position(row, at + 1), Position(row, at + 1)), f", {code}", cell)
    end = len(line.rstrip())
    return Edit(Span(Position(row, end + 1), Position(row, len(line) + 1)), f"  # noqa: {code}", cell)


def _comment_on(text: str, row: int):
    """(0-based column, text) of the comment on `row`; None if it has none; False if `row`
    ends inside a token that spans lines (a triple-quoted string)."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            (start_row, start_col), (end_row, _) = token.start, token.end
            if start_row > row:
                break
            if start_row <= row < end_row and token.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.DEDENT):
                return False
            if token.type == tokenize.COMMENT and start_row == row:
                return start_col, token.string
    except (tokenize.TokenError, SyntaxError):
        pass
    return None
