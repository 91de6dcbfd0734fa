"""SARIF 2.1.0, the format GitHub code scanning (and other static-analysis dashboards) reads.

One run: `tool.driver` describes torchlint and lists every rule of the catalogue, each result
points at its rule by id and index. Paths below the working directory are relative URIs against
`%SRCROOT%` (the repository root when run from there, as in CI); others are `file://` URIs.
Columns count Unicode code points, as torchlint's do. A notebook finding points at the line of
the `.ipynb` file that stores its source line (the column inside that JSON string), so code
scanning shows it at the right place; `cell`, `cellLine` and `cellColumn` in its properties (and
the message's `cell 3, line 2: ` prefix) say where it is in the notebook.
"""

from __future__ import annotations

import json
import os
import pathlib
from urllib.parse import quote

from torchlint import __version__
from torchlint.diagnostics import Diagnostic, Span
from torchlint.output.notebook_lines import cell_prefix, file_span

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/torchlint/torchlint"


def render(results, stream, options) -> None:
    json.dump(sarif_log(results), stream, indent=2, ensure_ascii=False)
    stream.write("\n")


def sarif_log(results) -> dict:
    """The whole SARIF log for a run's results, as a JSON-ready dict."""
    from torchlint.registry import all_rules

    rules = list(all_rules())
    index = {rule.code: position for position, rule in enumerate(rules)}
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "torchlint",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [_rule_record(rule) for rule in rules],
                    }
                },
                "columnKind": "unicodeCodePoints",
                "originalUriBaseIds": {"%SRCROOT%": {"uri": pathlib.Path(os.getcwd()).as_uri() + "/"}},
                "results": [_result(r, d, index) for r in results for d in r.diagnostics],
            }
        ],
    }


def _rule_record(rule) -> dict:
    sections = rule.doc_sections()
    full = sections.get("What it does") or rule.summary
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": full},
        "help": {"text": rule.summary, "markdown": rule.docs()},
        "helpUri": rule.url(),
        "defaultConfiguration": {"level": rule.severity.value},
        "properties": {"tags": ["torchlint", rule.name]},
    }


def _result(file_result, diagnostic: Diagnostic, index: dict[str, int]) -> dict:
    def in_file(cell, span: Span) -> Span:
        return file_span(file_result, cell, span) or span

    result = {
        "ruleId": diagnostic.code,
        "level": diagnostic.severity.value,
        "message": {
            "text": cell_prefix(diagnostic) + diagnostic.message + (f"\nhelp: {diagnostic.help}" if diagnostic.help else "")
        },
        "locations": [_location(diagnostic.path, in_file(diagnostic.cell, diagnostic.span))],
    }
    if diagnostic.code in index:
        result["ruleIndex"] = index[diagnostic.code]
    related = [
        {
            "id": number,
            **_location(diagnostic.path, in_file(note.cell if note.cell is not None else diagnostic.cell, note.span)),
            "message": {"text": note.message},
        }
        for number, note in enumerate(diagnostic.notes)
        if note.span is not None
    ]
    if related:
        result["relatedLocations"] = related
    if diagnostic.fix is not None and diagnostic.fix.edits and diagnostic.cell is None:
        result["fixes"] = [_fix(diagnostic)]
    if diagnostic.cell is not None:
        start = diagnostic.span.start
        result["properties"] = {"cell": diagnostic.cell, "cellLine": start.row, "cellColumn": start.column}
    return result


def _location(path: str, span: Span) -> dict:
    return {"physicalLocation": {"artifactLocation": _artifact(path), "region": _region(span)}}


def _artifact(path: str) -> dict:
    if path == "-":
        return {"uri": "stdin"}
    if os.path.isabs(path):
        return {"uri": pathlib.Path(path).as_uri()}
    return {"uri": quote(path.replace(os.sep, "/")), "uriBaseId": "%SRCROOT%"}


def _region(span: Span) -> dict:
    region = {"startLine": span.start.row, "startColumn": span.start.column}
    if span.end != span.start:
        region.update(endLine=span.end.row, endColumn=span.end.column)
    return region


def _fix(diagnostic: Diagnostic) -> dict:
    replacements = [
        {"deletedRegion": _deleted(edit.span), "insertedContent": {"text": edit.content}}
        for edit in diagnostic.fix.edits
    ]
    return {
        "description": {"text": f"{diagnostic.fix.message} ({diagnostic.fix.applicability.value})"},
        "artifactChanges": [{"artifactLocation": _artifact(diagnostic.path), "replacements": replacements}],
    }


def _deleted(span: Span) -> dict:
    # An insertion is an empty region: same start and end (SARIF §3.30.2).
    return {"startLine": span.start.row, "startColumn": span.start.column,
            "endLine": span.end.row, "endColumn": span.end.column}
