"""A lint's findings as LSP diagnostics, published per part (file, or notebook cell)."""

from __future__ import annotations

from collections.abc import Callable

from lsprotocol import types

from torchlint import codes
from torchlint.diagnostics import Diagnostic, Edit, Severity
from torchlint.server.documents import Linted, Snapshot
from torchlint.server.positions import LineIndex

SOURCE = "torchlint"
_SEVERITY = {Severity.ERROR: types.DiagnosticSeverity.Error, Severity.WARNING: types.DiagnosticSeverity.Warning}
# Findings about code that does nothing (drawn faded) or uses an obsolete API (struck through).
# No rule of the catalogue reports a deprecated API yet; one that does is listed in DEPRECATED.
UNNECESSARY = frozenset({codes.UNUSED_SUPPRESSION})
DEPRECATED: frozenset[str] = frozenset()


class Converter:
    """Positions of one snapshot's parts, in the client's units."""

    def __init__(self, snapshot: Snapshot, units: Callable[[str], int]) -> None:
        self.snapshot = snapshot
        self._indexes = {key: LineIndex(part.text, units) for key, part in snapshot.parts.items()}

    def index(self, cell: int | None) -> LineIndex:
        return self._indexes.get(cell) or next(iter(self._indexes.values()))

    def uri(self, cell: int | None) -> str:
        return self.snapshot.part_for(cell).uri

    def diagnostic(self, finding: Diagnostic) -> types.Diagnostic:
        index = self.index(finding.cell)
        related = [
            types.DiagnosticRelatedInformation(
                location=types.Location(
                    uri=self.uri(note.cell if note.cell is not None else finding.cell),
                    range=self.index(note.cell if note.cell is not None else finding.cell).to_range(note.span),
                ),
                message=note.message,
            )
            if note.span is not None
            else types.DiagnosticRelatedInformation(
                location=types.Location(uri=self.uri(finding.cell), range=index.visible_range(finding.span)),
                message=note.message,
            )
            for note in finding.notes
        ]
        tags = [types.DiagnosticTag.Unnecessary] if finding.code in UNNECESSARY else []
        if finding.code in DEPRECATED:
            tags.append(types.DiagnosticTag.Deprecated)
        return types.Diagnostic(
            range=index.visible_range(finding.span),
            message=finding.message,
            severity=_SEVERITY.get(finding.severity, types.DiagnosticSeverity.Error),
            code=finding.code,
            code_description=_description(finding.code),
            source=SOURCE,
            related_information=related or None,
            tags=tags or None,
        )

    def text_edit(self, edit: Edit) -> tuple[str, types.TextEdit]:
        index = self.index(edit.cell)
        return self.uri(edit.cell), types.TextEdit(range=index.to_range(edit.span), new_text=edit.content)

    def range(self, finding: Diagnostic) -> types.Range:
        return self.index(finding.cell).visible_range(finding.span)


def _description(code: str) -> types.CodeDescription | None:
    from torchlint.registry import lookup

    rule = lookup(code)
    return types.CodeDescription(href=rule.url()) if rule is not None else None


def published(linted: Linted, units: Callable[[str], int]) -> dict[str, list[types.Diagnostic]]:
    """The diagnostics of every part (an empty list clears a part's old ones)."""
    converter = Converter(linted.snapshot, units)
    by_uri: dict[str, list[types.Diagnostic]] = {part.uri: [] for part in linted.snapshot.parts.values()}
    if linted.excluded:
        return by_uri
    for finding in linted.diagnostics:
        by_uri[converter.uri(finding.cell)].append(converter.diagnostic(finding))
    return by_uri
