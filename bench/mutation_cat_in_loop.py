"""Mutation recall for TL105 cat-in-loop on real code.

Takes the repositories of the ecosystem check and finds every list that a loop only appends to
and that is concatenated once after the loop (`pieces = []`, `pieces.append(e)` in the loop,
`torch.cat(pieces, dim)` / `np.concatenate` / `np.vstack` / `np.hstack` after it), and turns it
into the quadratic form: `pieces = None` before, `piece_ = e; pieces = piece_ if pieces is None
else torch.cat([pieces, piece_], dim)` in the loop, `pieces` after it. The mutated file is linted
with TL105 only; a mutant counts as found when a finding lies on its statement. Mutants are chosen
by spelling, independently of the rule's resolution; lists read in the loop other than by the
`append` (whose mutant would need every intermediate result) are not mutated.

    python bench/mutation_cat_in_loop.py --mirror-root DIR [--family all]
"""

from __future__ import annotations

import os
import sys

import libcst as cst
from libcst.metadata import PositionProvider

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mutation_softmax_dim import reported_rows, run_recall, visit_sites  # noqa: E402

from torchlint.facts.names import dotted_name  # noqa: E402

ONCE = ("torch.cat", "torch.concat", "torch.concatenate", "np.concatenate", "np.vstack", "np.hstack",
        "numpy.concatenate", "numpy.vstack", "numpy.hstack")


def _nodes(node):
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(c for c in current.children if not isinstance(c, (cst.FunctionDef, cst.ClassDef, cst.Lambda)))


def _body(block):
    return list(block.body) if isinstance(block, cst.IndentedBlock) else []


def _small_literal_loop(loop) -> bool:
    if not isinstance(loop, cst.For):
        return False
    it = loop.iter
    if isinstance(it, (cst.List, cst.Tuple)):
        return len(it.elements) <= 4
    return (isinstance(it, cst.Call) and dotted_name(it.func) == "range" and len(it.args) == 1
            and isinstance(it.args[0].value, cst.Integer) and int(it.args[0].value.value, 0) <= 4)


class Sites(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self) -> None:
        self.appends: dict[int, tuple] = {}  # id(append statement line) -> (list name, final call)
        self.finals: set[int] = set()  # id(final concatenation call)
        self.inits: set[int] = set()  # id(`pieces = []` statement line)
        self.rows: dict[int, tuple[int, int]] = {}  # id(append line) -> (first row, last row)

    def _body_of(self, statements) -> None:
        for index, loop in enumerate(statements):
            if not isinstance(loop, (cst.For, cst.While)) or _small_literal_loop(loop):
                continue
            for later in statements[index + 1:]:
                for call in _nodes(later):
                    if isinstance(call, cst.Call) and dotted_name(call.func) in ONCE and call.args \
                            and isinstance(call.args[0].value, cst.Name) and call.args[0].keyword is None:
                        self._candidate(statements[:index], loop, call.args[0].value.value, call)

    def _candidate(self, before, loop, name: str, final) -> None:
        if id(final) in self.finals:
            return
        uses = [n for n in _nodes(loop) if isinstance(n, cst.Name) and n.value == name]
        appends = [n for n in _nodes(loop) if isinstance(n, cst.SimpleStatementLine) and len(n.body) == 1
                   and isinstance(n.body[0], cst.Expr) and isinstance(n.body[0].value, cst.Call)
                   and isinstance(n.body[0].value.func, cst.Attribute) and n.body[0].value.func.attr.value == "append"
                   and dotted_name(n.body[0].value.func.value) == name and len(n.body[0].value.args) == 1]
        if len(appends) != 1 or len(uses) != 1:
            return  # read in the loop, or appended twice
        init = next((s for s in reversed(before) if isinstance(s, cst.SimpleStatementLine) and len(s.body) == 1
                     and isinstance(s.body[0], cst.Assign) and dotted_name(s.body[0].targets[0].target) == name), None)
        if init is None or not (isinstance(init.body[0].value, cst.List) and not init.body[0].value.elements):
            return
        line = appends[0]
        self.appends[id(line)] = (name, final)
        self.finals.add(id(final))
        self.inits.add(id(init))
        position = self.get_metadata(PositionProvider, line)
        self.rows[id(line)] = (position.start.line, position.end.line)

    def visit_Module(self, node) -> None:
        self._body_of(list(node.body))

    def visit_IndentedBlock(self, node) -> None:
        self._body_of(list(node.body))


class Mutate(cst.CSTTransformer):
    def __init__(self, sites: Sites) -> None:
        self.sites = sites

    def leave_SimpleStatementLine(self, original, updated):
        if id(original) in self.sites.inits:
            return updated.with_changes(body=[updated.body[0].with_changes(value=cst.Name("None"))])
        found = self.sites.appends.get(id(original))
        if found is None:
            return updated
        name, final = found
        piece = updated.body[0].value.args[0].value
        options = "".join(", " + cst.Module([]).code_for_node(a) for a in final.args[1:])
        grow = cst.parse_statement(f"{name} = piece_ if {name} is None else {dotted_name(final.func)}"
                                   f"([{name}, piece_]{options})\n").body[0]
        store = cst.Assign(targets=[cst.AssignTarget(cst.Name("piece_"))], value=piece)
        return updated.with_changes(body=[store, grow])

    def leave_Call(self, original, updated):
        if id(original) in self.sites.finals:
            return updated.args[0].value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        return updated


def _score(text: str):
    sites = Sites()
    wrapper = visit_sites(text, sites)
    if wrapper is None or not sites.appends:
        return None
    mutant = wrapper.module.visit(Mutate(sites)).code  # lines before each final call stay where they were
    spans = list(sites.rows.values())
    reported = reported_rows(mutant, "TL105")
    found = {first for first, last in spans if any(first <= row <= last for row in reported)}
    return {first for first, _ in spans}, found


def main() -> int:
    return run_recall(__doc__, "TL105", lambda text: "append(" in text and ("cat(" in text or "stack(" in text
                                                                              or "concatenate(" in text), _score)


if __name__ == "__main__":
    sys.exit(main())
