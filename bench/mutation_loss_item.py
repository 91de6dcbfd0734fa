"""Mutation recall for TL203 loss-kept-with-graph on real code.

Takes the repositories of the ecosystem check and finds every loop that calls `N.backward()` and
accumulates that same name detached (`total += N.item()`, `total = total + N.item() * k`,
`losses.append(N.item())`, also `.detach()`, `float(N)` and `N.data`), removes the detaching
(`total += N`: the bug), lints the mutated file with TL203 only and counts the mutants reported on
their line. Mutants are chosen by spelling, independently of the rule's own resolution; only
back-propagated names are mutated, so that every mutant keeps a graph (a criterion output under
`no_grad` would not).

    python bench/mutation_loss_item.py --mirror-root DIR [--family all]
"""

from __future__ import annotations

import os
import sys

import libcst as cst
from libcst.metadata import PositionProvider

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mutation_softmax_dim import reported_rows, run_recall, visit_sites  # noqa: E402

from torchlint.facts.names import dotted_name  # noqa: E402

DETACHING_METHODS = ("item", "detach")


def _detached_name(expr) -> str | None:
    """`N` for `N.item()`, `N.detach()`, `float(N)`, `N.data`."""
    if isinstance(expr, cst.Call):
        if isinstance(expr.func, cst.Attribute) and expr.func.attr.value in DETACHING_METHODS and not expr.args:
            return dotted_name(expr.func.value)
        if isinstance(expr.func, cst.Name) and expr.func.value == "float" and len(expr.args) == 1:
            return dotted_name(expr.args[0].value)
    if isinstance(expr, cst.Attribute) and expr.attr.value == "data":
        return dotted_name(expr.value)
    return None


def _nodes(node, into_loops=True):
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        for child in current.children:
            if isinstance(child, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                continue
            stack.append(child)


def _accumulated(small):
    """(accumulator, accumulated expression) of `acc += e`, `acc = acc + e`, `acc.append(e)`."""
    if isinstance(small, cst.AugAssign) and isinstance(small.operator, cst.AddAssign):
        return dotted_name(small.target), small.value
    if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.value, cst.BinaryOperation) \
            and isinstance(small.value.operator, cst.Add):
        target = dotted_name(small.targets[0].target)
        if target is not None and dotted_name(small.value.left) == target:
            return target, small.value.right
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) and isinstance(small.value.func, cst.Attribute) \
            and small.value.func.attr.value == "append" and len(small.value.args) == 1:
        return dotted_name(small.value.func.value), small.value.args[0].value
    return None, None


class Sites(cst.CSTVisitor):
    """The detaching expressions to strip, keyed by id, with the row of their statement."""

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self) -> None:
        self.strip: dict[int, int] = {}  # id(detaching expression) -> row

    def _loop(self, loop) -> None:
        backward = set()
        for node in _nodes(loop):
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "backward":
                name = dotted_name(node.func.value)
                if name is not None:
                    backward.add(name)
        for node in _nodes(loop):
            target, value = _accumulated(node)
            if target is None or value is None or target in backward:
                continue
            for inner in _nodes(value):
                name = _detached_name(inner)
                if name is not None and name in backward:
                    self.strip[id(inner)] = self.get_metadata(PositionProvider, node).start.line

    def visit_For(self, node) -> None:
        self._loop(node)

    def visit_While(self, node) -> None:
        self._loop(node)


class Strip(cst.CSTTransformer):
    def __init__(self, strip) -> None:
        self.strip = strip

    def _bare(self, original, updated):
        if id(original) not in self.strip:
            return updated
        if isinstance(updated, cst.Attribute):
            return updated.value
        if isinstance(updated.func, cst.Name):
            return updated.args[0].value
        return updated.func.value

    leave_Call = _bare
    leave_Attribute = _bare


def _score(text: str):
    sites = Sites()
    wrapper = visit_sites(text, sites)
    if wrapper is None or not sites.strip:
        return None
    mutant = wrapper.module.visit(Strip(sites.strip)).code  # stripping never moves a line
    return set(sites.strip.values()), reported_rows(mutant, "TL203")


def main() -> int:
    return run_recall(__doc__, "TL203", lambda text: "backward(" in text, _score)


if __name__ == "__main__":
    sys.exit(main())
