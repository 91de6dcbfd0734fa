"""Helpers for testing rules against their fixtures and their embedded examples.

A fixture is a runnable Python file (or notebook) under `tests/fixtures/<CODE>_<name>/` whose
expected findings are written on the lines where they must be reported:

    y = x.repeat(4, 1)  # expect: TL101
    z = w.view(-1)      # expect: TL103, TL102

The same markers are what the runtime-verify mode checks at run time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>TL\d{3}(?:\s*,\s*TL\d{3})*)")


@dataclass(frozen=True, order=True)
class Expectation:
    row: int
    code: str
    cell: int | None = None


def expectations_in_text(text: str, cell: int | None = None) -> set[Expectation]:
    found = set()
    from torchlint.positions import split_lines

    for row, line in enumerate(split_lines(text), start=1):
        match = _EXPECT.search(line)
        if match:
            for code in re.split(r"\s*,\s*", match.group("codes")):
                found.add(Expectation(row, code.upper(), cell))
    return found


def expectations_in_file(path: str) -> set[Expectation]:
    """The `# expect:` markers of a fixture (`.py`, or each code cell of an `.ipynb`)."""
    if path.endswith(".ipynb"):
        import json

        from torchlint.notebook import cell_source_text

        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
        found: set[Expectation] = set()
        for index, cell in enumerate(document.get("cells", []), start=1):
            if cell.get("cell_type") == "code":
                found |= expectations_in_text(cell_source_text(cell), index)
        return found
    with open(path, encoding="utf-8") as handle:
        return expectations_in_text(handle.read())


def findings_as_expectations(diagnostics) -> set[Expectation]:
    return {Expectation(d.span.start.row, d.code, d.cell) for d in diagnostics}


def lint_snippet(source: str, select: list[str] | None = None, path: str = "snippet.py"):
    """Lint a source string with the engine (as `torchlint check` would); returns diagnostics."""
    from torchlint.config import SelectionLayer, load_settings
    from torchlint.engine import lint_file

    settings = load_settings(None, SelectionLayer(select=select), isolated=True)
    return lint_file(path, settings, data=source.encode("utf-8")).diagnostics


def lint_fixture(path: str, select: list[str] | None = None):
    from torchlint.config import SelectionLayer, load_settings
    from torchlint.engine import lint_file

    settings = load_settings(None, SelectionLayer(select=select), isolated=True)
    return lint_file(path, settings).diagnostics


def describe_mismatch(expected: set[Expectation], found: set[Expectation], diagnostics=()) -> str:
    lines = []
    for e in sorted(expected - found):
        lines.append(f"  missing: line {e.row}{f' (cell {e.cell})' if e.cell else ''}: {e.code}")
    for e in sorted(found - expected):
        message = next((d.message for d in diagnostics if d.span.start.row == e.row and d.code == e.code), "")
        lines.append(f"  unexpected: line {e.row}{f' (cell {e.cell})' if e.cell else ''}: {e.code} {message}")
    return "\n".join(lines)
