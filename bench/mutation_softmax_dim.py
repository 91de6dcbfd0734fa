"""Mutation recall for TL107 softmax-implicit-dim on real code.

Takes the repositories of the ecosystem check, finds every softmax call that passes its dimension
(`F.softmax(x, dim=-1)`, `nn.LogSoftmax(1)`, `torch.nn.functional.softmin(x, 0)`...), removes the
dimension, lints the mutated file with TL107 only and counts the mutants reported on their line.
The mutants are chosen by spelling, independently of the rule's own name resolution.

    python bench/mutation_softmax_dim.py --mirror-root DIR [--family all]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile

import libcst as cst

from torchlint.facts.names import dotted_name

HERE = os.path.dirname(os.path.abspath(__file__))
FUNCTIONS = ("softmax", "log_softmax", "softmin")
MODULES = ("Softmax", "LogSoftmax", "Softmin")
FUNCTION_OWNERS = ("F", "nn.functional", "torch.nn.functional", "functional")
MODULE_OWNERS = ("nn", "torch.nn")


def _ecosystem():
    spec = importlib.util.spec_from_file_location("ecosystem_check", os.path.join(HERE, "ecosystem_check.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Mutate(cst.CSTTransformer):
    """Drop the dimension argument of every softmax call spelled the usual way."""

    def __init__(self) -> None:
        self.mutated = 0

    def leave_Call(self, original, updated):
        name = dotted_name(updated.func)
        if name is None or "." not in name:
            return updated
        owner, _, last = name.rpartition(".")
        if last in FUNCTIONS and owner in FUNCTION_OWNERS:
            position = 1
        elif last in MODULES and owner in MODULE_OWNERS:
            position = 0
        else:
            return updated
        args = list(updated.args)
        if any(a.star for a in args):
            return updated
        positional = [i for i, a in enumerate(args) if a.keyword is None]
        keyword = [i for i, a in enumerate(args) if a.keyword is not None and a.keyword.value == "dim"]
        drop = keyword[0] if keyword else (positional[position] if len(positional) > position else None)
        if drop is None:
            return updated
        del args[drop]
        if args:
            args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        self.mutated += 1
        return updated.with_changes(args=args)


def run_recall(description: str, code: str, wanted, score) -> int:
    """The mutation-recall driver both mutation scripts share: for each pinned repository of the
    ecosystem check, every `.py` file for which `wanted(text)` holds is given to `score(text)`,
    which answers (rows of its mutants, rows the rule reported) or None; recall is printed."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--mirror-root", required=True, help="a folder of local git mirrors named owner+name")
    parser.add_argument("--family", default="all")
    args = parser.parse_args()
    eco = _ecosystem()
    repos, _ = eco.load_family(args.family)
    unique = {(r["name"], r.get("commit")): r for r in repos}
    total = found = 0
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
                    scored = score(text) if wanted(text) else None
                    if scored is not None:
                        rows, reported = scored
                        repo_total += len(rows)
                        repo_found += len(rows & reported)
            if repo_total:
                print(f"{repo['name']:45} mutants {repo_total:4}  reported {repo_found:4}")
            total += repo_total
            found += repo_found
    recall = found / total if total else float("nan")
    print(f"{code} mutation recall: {found}/{total} = {recall:.3f}")
    return 0



def visit_sites(text: str, sites):
    """Run the visitor `sites` over `text` with position metadata: the wrapper, or None when the
    text does not parse."""
    try:
        wrapper = cst.MetadataWrapper(cst.parse_module(text), unsafe_skip_copy=True)
    except Exception:
        return None
    wrapper.visit(sites)
    return wrapper


def reported_rows(code: str, rule: str) -> set[int]:
    """The rows where `rule` reports a finding in the source `code`."""
    from torchlint.testing import lint_snippet

    return {d.span.start.row for d in lint_snippet(code, select=[rule])}


def score_mutants(mutants, code: str):
    """For mutants given as (text, first row, last row): (their indices, the indices whose rows
    `code` reported), or None when there are none."""
    from torchlint.testing import lint_snippet

    rows, reported = set(), set()
    for index, (mutant, first, last) in enumerate(mutants):
        rows.add(index)
        if any(first <= d.span.start.row <= last for d in lint_snippet(mutant, select=[code])):
            reported.add(index)
    return (rows, reported) if rows else None

def _score(text: str):
    from torchlint.testing import lint_snippet

    try:
        module = cst.parse_module(text)
    except Exception:
        return None
    # One mutant per call: mutate all, then map each mutated call to its row.
    mutator = Mutate()
    wrapper = cst.MetadataWrapper(module.visit(mutator), unsafe_skip_copy=True)
    if not mutator.mutated:
        return None
    # Calls that had no dimension before the mutation are not mutants.
    rows = _mutated_rows(wrapper) - _mutated_rows(cst.MetadataWrapper(module, unsafe_skip_copy=True))
    return rows, reported_rows(wrapper.module.code, "TL107")


def main() -> int:
    return run_recall(__doc__, "TL107", lambda text: "oftm" in text, _score)


def _mutated_rows(wrapper) -> set[int]:
    """Rows of the softmax calls spelled the usual way that pass no dimension."""
    from libcst.metadata import PositionProvider

    positions = wrapper.resolve(PositionProvider)
    rows = set()
    for node, position in positions.items():
        if isinstance(node, cst.Call):
            name = dotted_name(node.func)
            if name is None or "." not in name:
                continue
            owner, _, last = name.rpartition(".")
            function = last in FUNCTIONS and owner in FUNCTION_OWNERS
            module = last in MODULES and owner in MODULE_OWNERS
            if (function or module) and not any(a.keyword is not None and a.keyword.value == "dim" for a in node.args):
                given = [a for a in node.args if a.keyword is None]
                if len(given) <= (1 if function else 0):
                    rows.add(position.start.line)
    return rows


if __name__ == "__main__":
    sys.exit(main())
