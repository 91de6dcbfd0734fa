"""Code actions: each finding's fix, "fix all safe fixes", and "suppress with `# noqa`".

- A finding's fix is a `quickfix`; a safe one is preferred, an unsafe one says so in its title,
  and a display-only one is never offered as an edit.
- `source.fixAll.torchlint` applies every safe fix of the document the way `check --fix` does
  (rounds, re-parsing; for a notebook, all its cells). Computing it lints the document again,
  so when the client can resolve actions it is computed only once chosen.
- `# noqa: CODE` on the line where the finding starts, merged into a `# noqa:` already there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from lsprotocol import types

from torchlint import codes
from torchlint.add_noqa import noqa_edits_in
from torchlint.diagnostics import Applicability, Diagnostic
from torchlint.server.convert import Converter
from torchlint.server.documents import Linted
from torchlint.server.positions import overlaps

FIX_ALL_KIND = "source.fixAll.torchlint"
KINDS = (types.CodeActionKind.QuickFix, FIX_ALL_KIND)
# Findings a `# noqa` cannot silence (the engine reports them whatever the comments say).
_UNSUPPRESSIBLE = frozenset({codes.SYNTAX_ERROR, codes.UNREADABLE_FILE, codes.INTERNAL_ERROR})


def wanted(only: Iterable[str] | None, kind: str) -> bool:
    """Whether a kind was asked for: `only` lists kinds or their parents (`source`, `quickfix`)."""
    if not only:
        return True
    return any(kind == asked or kind.startswith(asked + ".") for asked in only)


def quick_fixes(linted: Linted, uri: str, request: types.Range, units: Callable[[str], int]) -> list[types.CodeAction]:
    converter = Converter(linted.snapshot, units)
    actions = []
    for finding in linted.in_part(uri):
        if not overlaps(converter.range(finding), request):
            continue
        fix_action = _fix_action(finding, converter)
        if fix_action is not None:
            actions.append(fix_action)
        noqa_action = _noqa_action(finding, linted, converter)
        if noqa_action is not None:
            actions.append(noqa_action)
    return actions


def _fix_action(finding: Diagnostic, converter: Converter) -> types.CodeAction | None:
    fix = finding.fix
    if fix is None or not fix.edits:
        return None
    unsafe = fix.applicability is Applicability.UNSAFE
    changes: dict[str, list[types.TextEdit]] = {}
    for edit in fix.edits:
        uri, text_edit = converter.text_edit(edit)
        changes.setdefault(uri, []).append(text_edit)
    return types.CodeAction(
        title=f"{finding.code}: {fix.message}" + (" (unsafe fix: review it)" if unsafe else ""),
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[converter.diagnostic(finding)],
        is_preferred=not unsafe,
        edit=types.WorkspaceEdit(changes=changes),
    )


def _noqa_action(finding: Diagnostic, linted: Linted, converter: Converter) -> types.CodeAction | None:
    if finding.code in _UNSUPPRESSIBLE or finding.code == codes.UNUSED_SUPPRESSION:
        return None
    text = python = linted.snapshot.part_for(finding.cell).text
    if linted.snapshot.is_notebook:
        from torchlint.notebook import mask_ipython

        python = mask_ipython(text)  # same lines; what the tokenizer can read
    edits = noqa_edits_in(text, python, {finding.span.start.row: {finding.code}}, finding.cell)
    if not edits:
        return None
    uri, text_edit = converter.text_edit(edits[0])
    return types.CodeAction(
        title=f"{finding.code}: suppress with `# noqa: {finding.code}`",
        kind=types.CodeActionKind.QuickFix,
        diagnostics=[converter.diagnostic(finding)],
        edit=types.WorkspaceEdit(changes={uri: [text_edit]}),
    )


def has_safe_fix(linted: Linted) -> bool:
    return any(
        d.fix is not None and d.fix.edits and d.fix.applicability is Applicability.SAFE for d in linted.diagnostics
    )


def fix_all_action(data: dict | None = None, edit: types.WorkspaceEdit | None = None) -> types.CodeAction:
    return types.CodeAction(title="torchlint: fix all safe fixes", kind=FIX_ALL_KIND, data=data, edit=edit)


def fix_all_edit(linted: Linted, new_texts: dict[int | None, str], units: Callable[[str], int]) -> types.WorkspaceEdit:
    """One edit per changed part, covering only the changed region (the cursor stays put)."""
    converter = Converter(linted.snapshot, units)
    changes = {}
    for key, new_text in new_texts.items():
        part = linted.snapshot.parts[key]
        changes[part.uri] = [_minimal_edit(part.text, new_text, converter, key)]
    return types.WorkspaceEdit(changes=changes)


def _minimal_edit(old: str, new: str, converter: Converter, key: int | None) -> types.TextEdit:
    from torchlint.diagnostics import Edit, Position, Span

    prefix = 0
    limit = min(len(old), len(new))
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < limit - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    # Never split a \r\n pair: LSP positions cannot point between its two characters.
    if 0 < prefix < len(old) and old[prefix - 1] == "\r" and old[prefix] == "\n":
        prefix -= 1
    if suffix and suffix < len(old) - prefix and old[len(old) - suffix] == "\n" and old[len(old) - suffix - 1] == "\r":
        suffix -= 1
    start, end = _position(old, prefix), _position(old, len(old) - suffix)
    edit = Edit(Span(Position(*start), Position(*end)), new[prefix : len(new) - suffix], key)
    return converter.text_edit(edit)[1]


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based (row, column) of a character offset (never between \r and \n), with LSP's line breaks."""
    row, line_start = 1, 0
    for match in re.finditer(r"\r\n|\r|\n", text[:offset]):
        row, line_start = row + 1, match.end()
    return row, offset - line_start + 1
