"""`path:line:col: CODE message`, one finding a line: what editors' problem matchers parse."""

from __future__ import annotations

from torchlint.output import all_diagnostics, location_text
from torchlint.output.summary import summary_lines


def render(results, stream, options) -> None:
    for diagnostic in all_diagnostics(results):
        fixable = " [*]" if diagnostic.fix is not None and diagnostic.fix.applicability.value == "safe" else ""
        stream.write(f"{location_text(diagnostic)}: {diagnostic.code}{fixable} {diagnostic.message}\n")
    for line in summary_lines(results, options):
        stream.write(line + "\n")
