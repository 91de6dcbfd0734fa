"""Parsing an edited document again, statement by statement: the unchanged ones are reused.

Typing changes one top-level statement at a time, yet LibCST parses the whole file again (about a
third of a re-lint). `Reparser` cuts the text where top-level statements start (the rows come
from CPython's tree of the same text, which the engine builds first anyway), parses each piece as
a module of its own, keeps those parses keyed by their text, and joins the pieces into the
module a whole-file parse gives:

- the blank and comment lines that end a piece are its module's footer; in the whole file they
  are the leading lines of the next piece's first statement, and are moved there;
- a piece's blocks record their indentation relative to the module's default (the first
  indented block of the text): every piece that has an indented block must agree on it;
- a piece met twice in one text is parsed again for its second place, so no node appears twice
  in a tree (facts key their answers by node identity);
- a piece whose module does not give its text back is not joined: LibCST loses a blank line
  above an indented comment at the end of a module, which a piece's end may be but the file's
  middle is not.

Only plain text is cut: text with carriage returns, form feeds, vertical tabs or a byte order
mark, and any cut that a backslash continues, is parsed whole, as is every text where a piece
does not parse or its parts do not line up. Tests check the joined module against the
whole-file parse (`deep_equals`) on tricky layouts; `bench/server_latency.py --check-reparse DIR`
does so on every file of a tree, edited and not.
"""

from __future__ import annotations

from typing import Any

from torchlint._lazy import lazy_module

cst = lazy_module("libcst")

# Characters whose line handling differs between CPython's rows and a cut at "\n".
_NOT_CUT = ("\r", "\f", "\v", "\ufeff", "\x00")


class Reparser:
    """Parses successive versions of one document, reusing the pieces of the last version."""

    def __init__(self) -> None:
        self._pieces: dict[str, Any] = {}  # piece text -> its parsed module (the last version's)
        self.reused = 0  # pieces taken from the last version in the last parse, for benchmarks

    def __call__(self, text: str, tree) -> Any:
        """The module LibCST's `parse_module(text)` gives, or None (parse the text whole)."""
        self.reused = 0
        try:
            pieces = _pieces(text, tree)
            if pieces is None:
                return None
            modules = self._parse_pieces(pieces)
            return None if modules is None else _joined(modules)
        except Exception:  # LibCST rejects a piece, or a layout this module does not know
            return None

    def _parse_pieces(self, pieces: list[str]) -> list | None:
        known, kept, used = self._pieces, {}, set()
        modules = []
        for piece in pieces:
            module = known.get(piece) if piece not in used else None
            if module is None:
                module = cst.parse_module(piece)
                if module.code != piece:  # LibCST drops a blank line above a last, indented comment
                    return None
            else:
                self.reused += 1
            used.add(piece)
            kept.setdefault(piece, module)
            modules.append(module)
        self._pieces = kept
        return modules


def _pieces(text: str, tree) -> list[str] | None:
    """The text cut where top-level statements start (the first piece from the text's start)."""
    if tree is None or any(mark in text for mark in _NOT_CUT):
        return None
    lines = text.split("\n")
    starts = set()
    for statement in tree.body[1:]:  # the lines above the first statement are the module's header
        decorators = getattr(statement, "decorator_list", None)
        row = decorators[0].lineno if decorators else statement.lineno
        at_start = lines[row - 1].startswith("@") if decorators else statement.col_offset == 0
        if row == 1 or not at_start:
            continue  # not at column 0 (`a = 1; b = 2`): inside the statement line before
        if lines[row - 2].endswith("\\"):
            continue  # continues the line before
        starts.add(row)
    cuts = [0, *sorted(row - 1 for row in starts), len(lines)]
    pieces = []
    for start, end in zip(cuts, cuts[1:]):
        piece = "\n".join(lines[start:end])
        pieces.append(piece + "\n" if end < len(lines) else piece)
    return pieces


def _joined(modules: list) -> Any:
    """The whole-file module from its pieces' modules (see the module docstring)."""
    indent = None
    body: list = []
    owed: Any = ()  # the footer of the piece before: the leading lines of this piece's first statement
    for index, module in enumerate(modules):
        if _has_indented_block(module):
            if indent is None:
                indent = module.default_indent
            elif module.default_indent != indent:
                return None
        statements = list(module.body)
        if index:
            if module.header or not statements or statements[0].leading_lines:
                return None
            if owed:
                statements[0] = statements[0].with_changes(leading_lines=owed)
        elif not statements and len(modules) > 1:
            return None
        body += statements
        owed = module.footer
    first, last = modules[0], modules[-1]
    return cst.Module(
        body=body,
        header=first.header,
        footer=last.footer,
        encoding=first.encoding,
        default_indent=indent if indent is not None else first.default_indent,
        default_newline=first.default_newline,
        has_trailing_newline=last.has_trailing_newline,
    )


def _has_indented_block(module) -> bool:
    """Does the module hold an indented block (which sets its default indentation)?"""
    return any(_statement_has_indented_block(statement) for statement in module.body)


def _statement_has_indented_block(statement) -> bool:
    for block in _blocks(statement):
        if type(block) is cst.IndentedBlock:
            return True
    return False


def _blocks(statement):
    """The suites directly under a compound statement, `elif`/`else` chains followed."""
    for name in ("body", "orelse", "finalbody"):
        part = getattr(statement, name, None)
        if part is None or type(part) is list or type(part) is tuple:
            continue  # a simple statement line's body is its small statements
        if type(part) is cst.If:
            yield from _blocks(part)
        elif type(part) in (cst.Else, cst.Finally):
            yield part.body
        else:
            yield part
    for handler in getattr(statement, "handlers", ()) or ():
        yield handler.body
    for case in getattr(statement, "cases", ()) or ():
        yield case.body
