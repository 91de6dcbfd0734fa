"""`path:line:col: CODE message`, one finding a line: what editors' problem matchers parse.

A newline or an escape sequence in a file name or a message is written escaped (`\\n`,
`\\x1b`), so nothing can forge a finding line or reach the terminal.
"""

from __future__ import annotations

from torchlint.output import all_diagnostics, location_text, printable
from torchlint.output.summary import summary_lines


def render(results, stream, options) -> None:
    for diagnostic in all_diagnostics(results):
        fixable = " [*]" if diagnostic.fix is not None and diagnostic.fix.applicability.value == "safe" else ""
        stream.write(f"{location_text(diagnostic)}: {diagnostic.code}{fixable} {printable(diagnostic.message)}\n")
    for line in summary_lines(results, options):
        stream.write(line + "\n")
