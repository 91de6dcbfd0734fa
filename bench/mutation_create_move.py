"""Mutation recall for TL106 create-then-move on real code.

Takes the repositories of the ecosystem check, finds every tensor factory spelled `torch.<factory>(...)`
(`zeros`, `ones`, `empty`, `full`, `rand`, `randn`, `randint`, `arange`, `eye`) that passes
`device=` (and no `generator=`, `*args` or `**kwargs`), moves the device into a trailing move
(`torch.zeros(n, device=d)` -> `torch.zeros(n).to(d)`), lints the mutated file with TL106 only and
counts the mutants reported on one of their rows. The mutants are chosen by spelling,
independently of the rule's own name resolution; every device expression the code passes is kept
as written, so the figure also measures which device spellings the rule accepts.

    python bench/mutation_create_move.py --mirror-root DIR [--family all]
"""

from __future__ import annotations

import os
import sys

import libcst as cst

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mutation_softmax_dim import reported_rows, run_recall  # noqa: E402

from torchlint.facts.names import dotted_name  # noqa: E402

FACTORIES = ("zeros", "ones", "empty", "full", "rand", "randn", "randint", "arange", "eye")


class Move(cst.CSTTransformer):
    """`torch.<factory>(..., device=d)` -> `torch.<factory>(...).to(d)`; remembers the new calls."""

    def __init__(self) -> None:
        self.created: list = []

    def leave_Call(self, original, updated):
        name = dotted_name(updated.func)
        if name not in {f"torch.{f}" for f in FACTORIES}:
            return updated
        args = list(updated.args)
        if any(a.star for a in args) or any(a.keyword is not None and a.keyword.value == "generator" for a in args):
            return updated
        devices = [i for i, a in enumerate(args) if a.keyword is not None and a.keyword.value == "device"]
        if len(devices) != 1:
            return updated
        device = args.pop(devices[0]).value
        if args:
            args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        moved = cst.Call(func=cst.Attribute(value=updated.with_changes(args=args), attr=cst.Name("to")),
                         args=[cst.Arg(value=device)])
        self.created.append(moved)
        return moved


def spans(wrapper, nodes) -> list[tuple[int, int]]:
    """(first row, last row) of each node in the mutated module."""
    from libcst.metadata import PositionProvider

    positions = wrapper.resolve(PositionProvider)
    return [(positions[n].start.line, positions[n].end.line) for n in nodes if n in positions]


def score_spans(code: str, ranges: list[tuple[int, int]], rule: str):
    """(mutants, mutants reported): a mutant is found when the rule reports a row of its span."""
    reported = reported_rows(code, rule)
    rows = {start for start, _ in ranges}
    found = {start for start, end in ranges if any(start <= row <= end for row in reported)}
    return rows, found


def _score(text: str):
    try:
        module = cst.parse_module(text)
    except Exception:
        return None
    mutator = Move()
    mutated = module.visit(mutator)
    if not mutator.created:
        return None
    wrapper = cst.MetadataWrapper(mutated, unsafe_skip_copy=True)
    return score_spans(mutated.code, spans(wrapper, mutator.created), "TL106")


def main() -> int:
    return run_recall(__doc__, "TL106", lambda text: "device=" in text and "torch." in text, _score)


if __name__ == "__main__":
    sys.exit(main())
