"""Mutation recall for TL402 unregistered-submodule on real code.

Takes the repositories of the ecosystem check, finds every `self.<attr> = nn.ModuleList([...])` /
`nn.ModuleDict({...})` whose argument is a list or dict display or comprehension, unwraps it to
the plain container (the bug), lints the mutated file with TL402 only and counts the mutants
reported on their line. Mutants are chosen by spelling, independently of the rule's resolution.

    python bench/mutation_module_list.py --mirror-root DIR [--family all]
"""

from __future__ import annotations

import argparse
import os
import sys

import libcst as cst

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mutation_softmax_dim import _dotted, _ecosystem  # noqa: E402

WRAPPERS = ("nn.ModuleList", "torch.nn.ModuleList", "nn.ModuleDict", "torch.nn.ModuleDict")
DISPLAYS = (cst.List, cst.ListComp, cst.Dict, cst.DictComp)


class Unwrap(cst.CSTTransformer):
    """`self.x = nn.ModuleList([...])` -> `self.x = [...]`; remembers the mutated statements' rows."""

    def __init__(self) -> None:
        self.mutated = 0

    def leave_Assign(self, original, updated):
        target = updated.targets[0].target if len(updated.targets) == 1 else None
        value = updated.value
        if (isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and target.value.value == "self"
                and isinstance(value, cst.Call) and _dotted(value.func) in WRAPPERS and len(value.args) == 1
                and isinstance(value.args[0].value, DISPLAYS)):
            self.mutated += 1
            return updated.with_changes(value=value.args[0].value,
                                        targets=[updated.targets[0].with_changes(target=target.with_changes(
                                            attr=cst.Name(target.attr.value + "_MUTANT")))])
        return updated


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror-root", required=True, help="a folder of local git mirrors named owner+name")
    parser.add_argument("--family", default="all")
    args = parser.parse_args()
    eco = _ecosystem()
    from torchlint.testing import lint_snippet

    repos, _ = eco.load_family(args.family)
    unique = {(r["name"], r.get("commit")): r for r in repos}
    total = found = 0
    import tempfile

    with tempfile.TemporaryDirectory(prefix="torchlint-mutants-") as dest:
        for repo in unique.values():
            tree = eco.checkout(repo, dest, args.mirror_root)
            repo_total = repo_found = 0
            for root, _, files in os.walk(tree):
                for name in files:
                    if not name.endswith(".py"):
                        continue
                    with open(os.path.join(root, name), encoding="utf-8", errors="replace") as handle:
                        text = handle.read()
                    if "ModuleList(" not in text and "ModuleDict(" not in text:
                        continue
                    try:
                        mutant = cst.parse_module(text).visit(mutator := Unwrap())
                    except Exception:
                        continue
                    if not mutator.mutated:
                        continue
                    code = mutant.code
                    # The attribute is renamed `<attr>_MUTANT` so the mutant's row is easy to find.
                    rows = {i for i, line in enumerate(code.splitlines(), start=1) if "_MUTANT =" in line}
                    reported = {d.span.start.row for d in lint_snippet(code, select=["TL402"])}
                    repo_total += len(rows)
                    repo_found += len(rows & reported)
            if repo_total:
                print(f"{repo['name']:45} mutants {repo_total:4}  reported {repo_found:4}")
            total += repo_total
            found += repo_found
    recall = found / total if total else float("nan")
    print(f"TL402 mutation recall: {found}/{total} = {recall:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
