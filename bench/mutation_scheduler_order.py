"""Mutation recall for TL207 scheduler-before-optimizer on real code.

Takes the repositories of the ecosystem check and finds, inside loops, every scheduler step that
runs after its optimizer's update: a statement `<sched>.step()` (no arguments, a receiver named
like a scheduler; alone, or the whole body of an `if`) that follows, in the same block, either an update statement (`<opt>.step(...)`
with a receiver named like an optimizer, or `<scaler>.step(<opt>)`) or a loop whose body holds
one (an epoch-level scheduler after the batch loop). Each such step gives one mutant: the
scheduler step moved just before that update or loop (the order of PyTorch before 1.1). Each
mutant is linted with TL207 only and counts as found when TL207 reports the moved line. The
mutants are chosen by spelling, independently of the rule's own name resolution.

    python bench/mutation_scheduler_order.py --mirror-root DIR [--family all]
"""

from __future__ import annotations

import os
import re
import sys

import libcst as cst

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mutation_softmax_dim import run_recall  # noqa: E402

from torchlint.facts.names import dotted_name  # noqa: E402

SCHEDULER = re.compile(r"sched", re.I)
OPTIMIZER = re.compile(r"opt", re.I)
MARK = "# TL207-MUTANT"


def _step_call(statement):
    """The `x.step(...)` call of a one-call statement line, or None."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
        call = small.value
        if isinstance(call.func, cst.Attribute) and call.func.attr.value == "step":
            return call
    return None


def is_scheduler_step(statement) -> bool:
    """`<sched>.step()`, alone or as the whole body of an `if` without `else`."""
    if isinstance(statement, cst.If) and statement.orelse is None and isinstance(statement.body, cst.IndentedBlock) \
            and len(statement.body.body) == 1:
        statement = statement.body.body[0]
    call = _step_call(statement)
    receiver = dotted_name(call.func.value) if call is not None else None
    return receiver is not None and not call.args and bool(SCHEDULER.search(receiver.rsplit(".", 1)[-1]))


def is_update(statement) -> bool:
    call = _step_call(statement)
    receiver = dotted_name(call.func.value) if call is not None else None
    if receiver is None:
        return False
    last = receiver.rsplit(".", 1)[-1]
    if "scaler" in last.lower():
        return bool(call.args)
    return bool(OPTIMIZER.search(last)) and not SCHEDULER.search(last)


def holds_update(statement) -> bool:
    """A loop statement with an update statement anywhere in its body."""
    found = []

    class Find(cst.CSTVisitor):
        def visit_SimpleStatementLine(self, node):
            if is_update(node):
                found.append(node)

    statement.visit(Find())
    return bool(found)


class Sites(cst.CSTVisitor):
    """(block, index of the update or loop, index of the scheduler step) in loop bodies."""

    def __init__(self) -> None:
        self.sites: list[tuple] = []
        self.loops = 0

    def visit_For(self, node):
        self.loops += 1

    def leave_For(self, node):
        self.loops -= 1

    def visit_While(self, node):
        self.loops += 1

    def leave_While(self, node):
        self.loops -= 1

    def visit_IndentedBlock(self, node):
        if not self.loops:
            return
        body = list(node.body)
        for j, statement in enumerate(body):
            if not is_scheduler_step(statement):
                continue
            for i in range(j):
                if is_update(body[i]) or (isinstance(body[i], (cst.For, cst.While)) and holds_update(body[i])):
                    self.sites.append((node, i, j))
                    break


class Move(cst.CSTTransformer):
    def __init__(self, site) -> None:
        self.block, self.to, self.source = site

    def leave_IndentedBlock(self, original, updated):
        if original is not self.block:
            return updated
        body = list(updated.body)
        moved = body.pop(self.source)
        mark = cst.TrailingWhitespace(whitespace=cst.SimpleWhitespace("  "), comment=cst.Comment(MARK))
        if isinstance(moved, cst.If):  # the mark goes on the step itself
            step = moved.body.body[0].with_changes(trailing_whitespace=mark)
            moved = moved.with_changes(body=moved.body.with_changes(body=[step]))
        else:
            moved = moved.with_changes(trailing_whitespace=mark)
        body.insert(self.to, moved)
        return updated.with_changes(body=body)


def _score(text: str):
    from torchlint.testing import lint_snippet

    try:
        module = cst.parse_module(text)
    except Exception:
        return None
    sites = Sites()
    module.visit(sites)
    if not sites.sites:
        return None
    found = set()
    for index, site in enumerate(sites.sites):
        code = module.visit(Move(site)).code
        row = next(i for i, line in enumerate(code.splitlines(), start=1) if MARK in line)
        if any(d.span.start.row == row for d in lint_snippet(code, select=["TL207"])):
            found.add(index)
    return set(range(len(sites.sites))), found


def main() -> int:
    return run_recall(__doc__, "TL207", lambda text: "sched" in text.lower() and ".step(" in text, _score)


if __name__ == "__main__":
    sys.exit(main())
