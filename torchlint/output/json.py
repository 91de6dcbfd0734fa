"""A JSON list of findings with Ruff's field names, plus `severity`, `notes` and `help`."""

from __future__ import annotations

import json
import os

from torchlint.diagnostics import Diagnostic, Span
from torchlint.output import all_diagnostics


def _location(span: Span | None) -> dict:
    if span is None:
        return {"location": None, "end_location": None}
    return {
        "location": {"row": span.start.row, "column": span.start.column},
        "end_location": {"row": span.end.row, "column": span.end.column},
    }


def diagnostic_record(diagnostic: Diagnostic) -> dict:
    from torchlint.registry import lookup

    rule = lookup(diagnostic.code)
    fix = None
    if diagnostic.fix is not None:
        fix = {
            "applicability": diagnostic.fix.applicability.value,
            "message": diagnostic.fix.message,
            "edits": [{"content": e.content, "cell": e.cell, **_location(e.span)} for e in diagnostic.fix.edits],
        }
    return {
        "code": diagnostic.code,
        "name": diagnostic.name,
        "message": diagnostic.message,
        "severity": diagnostic.severity.value,
        "filename": os.path.abspath(diagnostic.path) if diagnostic.path != "-" else "-",
        **_location(diagnostic.span),
        "cell": diagnostic.cell,
        "fix": fix,
        "help": diagnostic.help,
        "notes": [{"message": n.message, "cell": n.cell, **_location(n.span)} for n in diagnostic.notes],
        "url": rule.url() if rule else None,
    }


def render(results, stream, options) -> None:
    records = [diagnostic_record(d) for d in all_diagnostics(results)]
    json.dump(records, stream, indent=2, ensure_ascii=False)
    stream.write("\n")
