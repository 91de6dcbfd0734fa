"""Mutation recall for TL402 unregistered-submodule on real code.

Takes the repositories of the ecosystem check, finds every `self.<attr> = nn.ModuleList([...])` /
`nn.ModuleDict({...})` whose argument is a list or dict display or comprehension, unwraps it to
the plain container (the bug), lints the mutated file with TL402 only and counts the mutants
reported on their line. Mutants are chosen by spelling, independently of the rule's resolution.

    python bench/mutation_module_list.py --mirror-root DIR [--family all]
"""

from __future__ import annotations

import os
import sys

import libcst as cst

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mutation_softmax_dim import run_recall  # noqa: E402

from torchlint.facts.names import dotted_name  # noqa: E402

WRAPPERS = ("nn.ModuleList", "torch.nn.ModuleList", "nn.ModuleDict", "torch.nn.ModuleDict")
DISPLAYS = (cst.List, cst.ListComp, cst.Dict, cst.DictComp)


MARK = "# torchlint-mutant"


class Unwrap(cst.CSTTransformer):
    """`self.x = nn.ModuleList([...])` -> `self.x = [...]`, with a marker comment on the line
    above each mutated statement so that the mutant's row is easy to find. The attribute keeps its
    name: `self.x.append(block)` later in `__init__` still fills the (now plain) container."""

    def __init__(self) -> None:
        self.mutated = 0
        self._pending = False

    def leave_Assign(self, original, updated):
        target = updated.targets[0].target if len(updated.targets) == 1 else None
        value = updated.value
        if (isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and target.value.value == "self"
                and isinstance(value, cst.Call) and dotted_name(value.func) in WRAPPERS and len(value.args) == 1
                and isinstance(value.args[0].value, DISPLAYS)):
            self.mutated += 1
            self._pending = True
            return updated.with_changes(value=value.args[0].value)
        return updated

    def leave_SimpleStatementLine(self, original, updated):
        if not self._pending:
            return updated
        self._pending = False
        mark = cst.EmptyLine(comment=cst.Comment(MARK))
        return updated.with_changes(leading_lines=[*updated.leading_lines, mark])


def _score(text: str):
    from torchlint.testing import lint_snippet

    try:
        mutant = cst.parse_module(text).visit(mutator := Unwrap())
    except Exception:
        return None
    if not mutator.mutated:
        return None
    code = mutant.code
    rows = {i + 1 for i, line in enumerate(code.splitlines(), start=1) if line.strip() == MARK}
    return rows, {d.span.start.row for d in lint_snippet(code, select=["TL402"])}


def main() -> int:
    return run_recall(__doc__, "TL402", lambda text: "ModuleList(" in text or "ModuleDict(" in text, _score)


if __name__ == "__main__":
    sys.exit(main())
