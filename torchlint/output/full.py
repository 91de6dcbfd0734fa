"""Human-readable reports: the finding, a code frame with the span underlined, evidence, help.

File names, messages and quoted source lines are printed with unprintable characters escaped
(`\\x1b`, `\\u202e`), the underline shifted to match: the checked files never drive the terminal.
"""

from __future__ import annotations

from torchlint.diagnostics import Diagnostic, FileResult, Span
from torchlint.output import printable
from torchlint.output.summary import summary_lines

_MAX_WIDTH = 160  # long lines (minified code) are cut around the span


def render(results, stream, options) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(
        file=stream,
        force_terminal=options.color,
        no_color=not options.color,
        highlight=False,
        width=options.width or 200,
        soft_wrap=True,
    )
    for result in results:
        for diagnostic in result.diagnostics:
            for line in _diagnostic_lines(diagnostic, result):
                console.print(line if isinstance(line, Text) else Text(line))
    for line in summary_lines(results, options):
        console.print(Text(line, style="bold" if line.startswith("Found") else ""))


def _lines_of(result: FileResult, cell: int | None) -> list[str]:
    from torchlint.positions import split_lines

    if cell is not None and result.cell_sources:
        return split_lines(result.cell_sources.get(cell, ""))
    return split_lines(result.source or "")


def _diagnostic_lines(diagnostic: Diagnostic, result: FileResult):
    from rich.text import Text

    style = "bold red" if diagnostic.severity.value == "error" else "bold yellow"
    header = Text()
    header.append(f"{diagnostic.severity.value}[{diagnostic.code}]", style=style)
    header.append(f" {diagnostic.name}: ", style="bold")
    header.append(printable(diagnostic.message), style="bold")
    yield header
    cell = f"cell {diagnostic.cell}:" if diagnostic.cell is not None else ""
    start = diagnostic.span.start
    yield Text(f"  --> {printable(diagnostic.path)}:{cell}{start.row}:{start.column}", style="blue")
    lines = _lines_of(result, diagnostic.cell)
    yield from _frame(lines, diagnostic.span, "^", style, context=1)
    for note in diagnostic.notes:
        label = Text("   = ", style="blue")
        label.append("note: ", style="bold")
        label.append(printable(note.message))
        yield label
        if note.span is not None:
            note_lines = _lines_of(result, note.cell if note.cell is not None else diagnostic.cell)
            note_cell = f"cell {note.cell}:" if note.cell is not None else ""
            yield Text(f"     ::: {printable(diagnostic.path)}:{note_cell}{note.span.start.row}:{note.span.start.column}", style="blue")
            yield from _frame(note_lines, note.span, "-", "cyan", context=0)
    if diagnostic.help:
        text = Text("   = ", style="blue")
        text.append("help: ", style="bold")
        text.append(printable(diagnostic.help))
        yield text
    if diagnostic.fix is not None:
        text = Text("   = ", style="blue")
        text.append(f"fix ({diagnostic.fix.applicability.value}): ", style="bold green")
        text.append(printable(diagnostic.fix.message))
        yield text
    yield Text("")


def _frame(lines: list[str], span: Span, mark: str, style: str, context: int):
    from rich.text import Text

    if not lines or span.start.row > len(lines):
        return
    first = max(1, span.start.row - context)
    last = min(len(lines), max(span.start.row, min(span.end.row, span.start.row + 3)))
    gutter = len(str(last))
    yield Text(" " * (gutter + 1) + "|", style="blue")
    for row in range(first, last + 1):
        raw = lines[row - 1].expandtabs(4)
        start_col = span.start.column if row == span.start.row else len(raw) - len(raw.lstrip()) + 1
        end_col = span.end.column if row == span.end.row else len(raw) + 1
        raw, start_col, end_col = _escaped(raw, start_col, end_col)
        offset = 0
        if len(raw) > _MAX_WIDTH:
            offset = max(0, start_col - 40)
            raw = ("…" if offset else "") + raw[offset : offset + _MAX_WIDTH] + "…"
            start_col, end_col = start_col - offset + (1 if offset else 0), min(end_col - offset, _MAX_WIDTH) + (1 if offset else 0)
        line = Text(f"{row:>{gutter}} | ", style="blue")
        line.append(raw)
        yield line
        if span.start.row <= row <= span.end.row:
            width = max(1, end_col - start_col)
            underline = Text(" " * (gutter + 1) + "| ", style="blue")
            underline.append(" " * (start_col - 1) + mark * width, style=style)
            yield underline
    yield Text(" " * (gutter + 1) + "|", style="blue")


def _escaped(raw: str, start_col: int, end_col: int) -> tuple[str, int, int]:
    """The line with unprintable characters escaped, and the 1-based columns moved to match."""
    if printable(raw) == raw:
        return raw, start_col, end_col
    pieces, start_shift, end_shift = [], 0, 0
    for column, char in enumerate(raw, start=1):
        piece = printable(char)
        pieces.append(piece)
        if column < start_col:
            start_shift += len(piece) - 1
        if column < end_col:
            end_shift += len(piece) - 1
    return "".join(pieces), start_col + start_shift, end_col + end_shift
