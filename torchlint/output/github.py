"""GitHub Actions workflow commands: one `::error`/`::warning` annotation a finding.

`::error file=src/a.py,line=3,col=9,endLine=3,endColumn=21,title=TL101 repeat-could-be-expand::msg`
GitHub shows each on the pull request's diff. Values are escaped as the runner expects: `%`, CR
and LF everywhere, and `:` and `,` inside properties.
"""

from __future__ import annotations

from torchlint.output.notebook_lines import cell_prefix, file_span


def render(results, stream, options) -> None:
    for result in results:
        for diagnostic in result.diagnostics:
            stream.write(annotation(diagnostic, file_span(result, diagnostic.cell, diagnostic.span)) + "\n")


def annotation(diagnostic, span=None) -> str:
    """The workflow command for one finding; `span`: where it is in the file, if not `diagnostic.span`.

    A notebook finding is annotated at the `.ipynb` line that stores its source line (the cell
    and the row in the cell lead the message).
    """
    span = span or diagnostic.span
    properties = [
        ("file", diagnostic.path),
        ("line", span.start.row),
        ("col", span.start.column),
        ("endLine", span.end.row),
        ("endColumn", span.end.column),
        ("title", f"{diagnostic.code} {diagnostic.name}"),
    ]
    message = cell_prefix(diagnostic) + diagnostic.message
    if diagnostic.help:
        message += f"\nhelp: {diagnostic.help}"
    command = "error" if diagnostic.severity.value == "error" else "warning"
    listed = ",".join(f"{key}={_escape_property(str(value))}" for key, value in properties)
    return f"::{command} {listed}::{_escape_data(message)}"


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")
