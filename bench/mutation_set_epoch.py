"""Mutation recall for TL208 sampler-epoch-not-set on real code.

Takes the repositories of the ecosystem check and, in every file that mentions
`DistributedSampler`, finds each statement `<x>.set_epoch(...)` that runs inside a loop. Each such
statement gives one mutant: the statement replaced by `pass` (the line count kept). Each mutant is
linted with TL208 only and counts as found when TL208 reports a row of the loop that held the
call. The mutants are chosen by spelling, independently of the rule's own name resolution. A
second figure counts only the mutants whose epoch loop holds a `for` over a name the file assigns
a `DataLoader(...)` (the loader is iterated in that file, not by an imported `train_one_epoch`).

    python bench/mutation_set_epoch.py --mirror-root DIR [--family all]
"""

from __future__ import annotations

import os
import sys

import libcst as cst

from torchlint.facts.names import dotted_name

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mutation_softmax_dim import run_recall  # noqa: E402


def _is_set_epoch(statement) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    return (isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)
            and isinstance(small.value.func, cst.Attribute) and small.value.func.attr.value == "set_epoch")


class Sites(cst.CSTVisitor):
    """(set_epoch statement, innermost enclosing loop) pairs."""

    def __init__(self) -> None:
        self.loops: list = []
        self.sites: list[tuple] = []

    def visit_For(self, node):
        self.loops.append(node)

    def leave_For(self, node):
        self.loops.pop()

    def visit_While(self, node):
        self.loops.append(node)

    def leave_While(self, node):
        self.loops.pop()

    def visit_FunctionDef(self, node):
        self.loops.append(None)  # a nested definition runs elsewhere

    def leave_FunctionDef(self, node):
        self.loops.pop()

    def visit_SimpleStatementLine(self, node):
        if self.loops and self.loops[-1] is not None and _is_set_epoch(node):
            self.sites.append((node, self.loops[-1]))


IN_REACH = [0, 0]  # mutants whose epoch loop iterates a loader with a `for` in this file; found


def _loader_names(module) -> set[str]:
    """Names and attributes the file assigns a `DataLoader(...)` call (by spelling)."""
    names: set[str] = set()

    class Find(cst.CSTVisitor):
        def visit_Assign(self, node):
            func = node.value.func if isinstance(node.value, cst.Call) else None
            if func is not None and (dotted_name(func) or "").rsplit(".", 1)[-1] == "DataLoader":
                names.update(dotted_name(t.target) or "" for t in node.targets)

    module.visit(Find())
    return names - {""}


def _iterates_here(loop, loaders: set[str]) -> bool:
    """Does the epoch loop hold a `for` over one of the file's DataLoaders (the loader is iterated
    in this file, not by an imported `train_one_epoch`)?"""
    found = []

    class Find(cst.CSTVisitor):
        def visit_For(self, node):
            names: list = []

            class Names(cst.CSTVisitor):
                def visit_Attribute(self, attribute):
                    names.append(dotted_name(attribute))

                def visit_Name(self, name):
                    names.append(name.value)

            node.iter.visit(Names())
            found.extend(n for n in names if n in loaders)

    loop.body.visit(Find())
    return bool(found)


def _score(text: str):
    from libcst.metadata import PositionProvider

    from torchlint.testing import lint_snippet

    try:
        wrapper = cst.MetadataWrapper(cst.parse_module(text), unsafe_skip_copy=True)
    except Exception:
        return None
    sites = Sites()
    wrapper.visit(sites)
    if not sites.sites:
        return None
    positions = wrapper.resolve(PositionProvider)
    loaders = _loader_names(wrapper.module)
    lines = text.splitlines(keepends=True)
    found = set()
    for index, (statement, loop) in enumerate(sites.sites):
        start, end = positions[statement].start, positions[statement].end
        mutant = list(lines)
        indent = lines[start.line - 1][: len(lines[start.line - 1]) - len(lines[start.line - 1].lstrip())]
        mutant[start.line - 1] = indent + "pass\n"
        for row in range(start.line, end.line):
            mutant[row] = "\n"
        first, last = positions[loop].start.line, positions[loop].end.line
        reported = any(first <= d.span.start.row <= last for d in lint_snippet("".join(mutant), select=["TL208"]))
        if reported:
            found.add(index)
        if _iterates_here(loop, loaders):
            IN_REACH[0] += 1
            IN_REACH[1] += reported
    return set(range(len(sites.sites))), found


def main() -> int:
    status = run_recall(__doc__, "TL208", lambda text: "DistributedSampler" in text and "set_epoch" in text, _score)
    # A loader iterated by a function of another module (`train_one_epoch(loader, ...)` imported
    # from an engine module) is out of a one-file rule's reach; this figure leaves those out.
    total, found = IN_REACH
    print(f"TL208 recall where the epoch loop iterates a DataLoader of the same file: {found}/{total}"
          + (f" = {found / total:.3f}" if total else ""))
    return status


if __name__ == "__main__":
    sys.exit(main())
