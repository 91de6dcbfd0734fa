"""Mutation recall for TL208 sampler-epoch-not-set on real code.

Takes the repositories of the ecosystem check and, in every file that mentions
`DistributedSampler`, finds each statement `<x>.set_epoch(...)` that runs inside a loop. Each such
statement gives one mutant: the statement replaced by `pass` (the line count kept). Each mutant is
linted with TL208 only and counts as found when TL208 reports a row of the loop that held the
call. The mutants are chosen by spelling, independently of the rule's own name resolution.

The first figure counts every mutant. The second counts only the mutants a one-file rule can
judge: the file itself shows the sampler (a `DistributedSampler(...)` call), the iteration (the
epoch loop, or a function of the file it calls, holds a `for` over a loader of the file) and the
missing `set_epoch`. A mutant whose loader is iterated by an imported `train_one_epoch`, or comes
from a framework (`distr_dl` returned by a DeepSpeed/Horovod `distribute`), looks exactly like a
correct program whose imported code sets the epoch, so no one-file linter can report it without
reporting those too; `--show-unjudgeable` lists them.

`--with-helpers` adds the mutants of `set_epoch` calls that sit in a helper of the file (outside
any loop of it) called from a loop of the file (`self._run_epoch(epoch)` in `train()`), judged at
the calling loop.

    python bench/mutation_set_epoch.py --mirror-root DIR [--family all] [--show-unjudgeable] [--with-helpers]
"""

from __future__ import annotations

import os
import sys

import libcst as cst

from torchlint.facts.names import dotted_name

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mutation_softmax_dim import run_recall, visit_sites  # noqa: E402


def _is_set_epoch(statement) -> bool:
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    small = statement.body[0]
    return (isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)
            and isinstance(small.value.func, cst.Attribute) and small.value.func.attr.value == "set_epoch")


class Sites(cst.CSTVisitor):
    """(set_epoch statement, innermost enclosing loop) pairs; with `helpers`, also a set_epoch
    statement outside any loop of its def, paired with each loop of the file that calls that def
    by name (`self._run_epoch(epoch)` in the epoch loop)."""

    def __init__(self, helpers: bool = False) -> None:
        self.loops: list = []
        self.sites: list[tuple] = []
        self.helpers = helpers
        self.defs: list = []
        self.in_helpers: dict[str, list] = {}  # def name -> its set_epoch statements outside loops
        self.calls: list[tuple] = []  # (called name, innermost enclosing loop)

    def visit_Call(self, node):
        if self.loops and self.loops[-1] is not None:
            self.calls.append(((dotted_name(node.func) or "").rsplit(".", 1)[-1], self.loops[-1]))

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
        self.defs.append(node.name.value)

    def leave_FunctionDef(self, node):
        self.loops.pop()
        self.defs.pop()

    def visit_SimpleStatementLine(self, node):
        if self.loops and self.loops[-1] is not None and _is_set_epoch(node):
            self.sites.append((node, self.loops[-1]))
        elif self.defs and self.loops and self.loops[-1] is None and _is_set_epoch(node):
            self.in_helpers.setdefault(self.defs[-1], []).append(node)

    def leave_Module(self, node):
        if self.helpers:
            for name, loop in self.calls:
                for statement in self.in_helpers.get(name, []):
                    if (statement, loop) not in self.sites:
                        self.sites.append((statement, loop))


FAIR = [0, 0]  # mutants a one-file rule can judge; found


def _call_name(call) -> str:
    return (dotted_name(call.func) or "").rsplit(".", 1)[-1]


class _File(cst.CSTVisitor):
    """What the file spells: its defs by name, its `DistributedSampler(...)` calls, its calls and
    assignments (all by spelling, independently of the rule's name resolution)."""

    def __init__(self) -> None:
        self.defs: dict[str, list] = {}
        self.calls: list = []
        self.assigns: list = []
        self.samplers = 0

    def visit_FunctionDef(self, node):
        self.defs.setdefault(node.name.value, []).append(node)

    def visit_Call(self, node):
        self.calls.append(node)
        self.samplers += _call_name(node) == "DistributedSampler"

    def visit_Assign(self, node):
        self.assigns.append(node)


def _builds_loader(function) -> bool:
    found = []

    class Find(cst.CSTVisitor):
        def visit_Call(self, node):
            found.append(_call_name(node) == "DataLoader")

    function.visit(Find())
    return any(found)


def _loader_names(spelled: _File) -> set[str]:
    """Names the file binds to a DataLoader: targets of `DataLoader(...)` or of a call of a def of
    this file that builds one (also unpacked), then, to a fixed point, names assigned such a name
    and the parameters of this file's defs that one of its calls passes such a name."""
    builders = {name for name, defs in spelled.defs.items() if any(_builds_loader(d) for d in defs)}
    names: set[str] = set()
    for node in spelled.assigns:
        if isinstance(node.value, cst.Call) and (_call_name(node.value) == "DataLoader" or _call_name(node.value) in builders):
            for target in node.targets:
                unpacked = isinstance(target.target, (cst.Tuple, cst.List))
                elements = [e.value for e in target.target.elements] if unpacked else [target.target]
                names.update(dotted_name(e) or "" for e in elements)
    while True:
        added = {dotted_name(t.target) or "" for node in spelled.assigns if dotted_name(node.value) in names
                 for t in node.targets}  # `self.train_data = train_data`
        for call in spelled.calls:
            for function in spelled.defs.get(_call_name(call), []):
                params = [p.name.value for p in (*function.params.posonly_params, *function.params.params)]
                if params[:1] == ["self"]:
                    params = params[1:]
                for index, arg in enumerate(call.args):
                    name = arg.keyword.value if arg.keyword is not None else (params[index] if index < len(params) else None)
                    if name is not None and not arg.star and dotted_name(arg.value) in names:
                        added.add(name)
        if added <= names:
            return names - {""}
        names |= added


def _loader_candidates(expr) -> list:
    """What a `for` iterates: the first argument of wrappers (`enumerate(x)`, `tqdm(x)`,
    `logger.log_every(x, ...)`), both arms of `a if c else b`."""
    if isinstance(expr, cst.IfExp):
        return _loader_candidates(expr.body) + _loader_candidates(expr.orelse)
    if isinstance(expr, cst.Call):
        positional = [a for a in expr.args if a.keyword is None and not a.star]
        return _loader_candidates(positional[0].value) if positional else [None]
    return [dotted_name(expr)]


def _iterates_a_loader(node, spelled: _File, loaders: set[str], depth: int = 0) -> bool:
    """Does `node` (the epoch loop's body, or a def it calls, three levels deep) hold a `for`
    over the file's loaders?"""
    fors, called = [], []

    class Find(cst.CSTVisitor):
        def visit_For(self, inner):
            fors.append(inner)

        def visit_Call(self, call):
            called.append(_call_name(call))

        def visit_FunctionDef(self, inner):
            return False  # a nested definition runs elsewhere

    node.visit(Find())
    if any(all(c in loaders for c in _loader_candidates(f.iter)) for f in fors):
        return True
    return depth < 3 and any(_iterates_a_loader(d.body, spelled, loaders, depth + 1)
                             for name in set(called) for d in spelled.defs.get(name, []))


def _score(text: str):
    from libcst.metadata import PositionProvider

    from torchlint.testing import lint_snippet

    sites = Sites(HELPERS)
    wrapper = visit_sites(text, sites)
    if wrapper is None or not sites.sites:
        return None
    positions = wrapper.resolve(PositionProvider)
    spelled = _File()
    wrapper.module.visit(spelled)
    loaders = _loader_names(spelled)
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
        if spelled.samplers and _iterates_a_loader(loop.body, spelled, loaders):
            FAIR[0] += 1
            FAIR[1] += reported
        elif SHOW:
            print(f"    not judgeable in one file: line {start.line}: {lines[start.line - 1].strip()}")
    return set(range(len(sites.sites))), found


SHOW = False
HELPERS = False


def main() -> int:
    global SHOW, HELPERS
    SHOW, HELPERS = "--show-unjudgeable" in sys.argv, "--with-helpers" in sys.argv
    for flag in ("--show-unjudgeable", "--with-helpers"):
        if flag in sys.argv:
            sys.argv.remove(flag)  # the shared driver parses the rest
    status = run_recall(__doc__, "TL208", lambda text: "DistributedSampler" in text and "set_epoch" in text, _score)
    total, found = FAIR
    print(f"TL208 recall on the mutants a one-file rule can judge: {found}/{total}"
          + (f" = {found / total:.3f}" if total else ""))
    return status


if __name__ == "__main__":
    sys.exit(main())
