"""Mutation recall for TL204 softmax-before-cross-entropy on real code.

Takes the repositories of the ecosystem check, finds every cross-entropy call spelled the usual way
(`F.cross_entropy(x, y)`, `torch.nn.functional.cross_entropy(...)`, or a call of a name or
`self.<attr>` that every assignment in its scope binds to `nn.CrossEntropyLoss(...)`; a function
parameter is no such name) and every
`F.binary_cross_entropy_with_logits(...)` / `nn.BCEWithLogitsLoss` call the same way, wraps the
first argument in a normalisation (`x.softmax(dim=1)`, `x.sigmoid()`), lints the mutated file with
TL204 only and counts the mutants reported on one of their rows. The mutants are chosen by
spelling, independently of the rule's own name resolution.

    python bench/mutation_softmax_ce.py --mirror-root DIR [--family all]
"""

from __future__ import annotations

import os
import sys

import libcst as cst

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mutation_create_move import score_spans, spans  # noqa: E402
from mutation_softmax_dim import run_recall  # noqa: E402

from torchlint.facts.names import dotted_name  # noqa: E402

OWNERS = ("F", "nn.functional", "torch.nn.functional", "functional")
FUNCTIONS = {"cross_entropy": "softmax", "binary_cross_entropy_with_logits": "sigmoid"}
MODULES = {"CrossEntropyLoss": "softmax", "BCEWithLogitsLoss": "sigmoid"}


def _loss_kind(value) -> str | None:
    if not isinstance(value, cst.Call):
        return None
    owner, _, last = (dotted_name(value.func) or "").rpartition(".")
    return MODULES[last] if last in MODULES and owner in ("nn", "torch.nn") else None


class Bindings(cst.CSTVisitor):
    """Per scope (None: module level and `self.<attr>`s), what each name is assigned: the loss's
    normalisation, or None for anything else (a parameter, another value)."""

    def __init__(self) -> None:
        self.scopes: list = [None]
        self.bound: dict = {}

    def _add(self, key: str, kind) -> None:
        scope = None if key.startswith("self.") else self.scopes[-1]
        self.bound.setdefault((scope, key), []).append(kind)

    def visit_FunctionDef(self, node):
        self.scopes.append(node)
        params = node.params
        for param in [*params.posonly_params, *params.params, *params.kwonly_params]:
            self._add(param.name.value, None)

    def leave_FunctionDef(self, node):
        self.scopes.pop()

    def visit_Assign(self, node):
        for target in node.targets:
            key = dotted_name(target.target)
            if key is not None:
                self._add(key, _loss_kind(node.value))

    def kind(self, key: str, scope) -> str | None:
        """The normalisation of the loss `key` holds in `scope`, when every assignment agrees."""
        kinds = self.bound.get((scope, key))
        if kinds is None and scope is not None and not key.startswith("self."):
            kinds = self.bound.get((None, key))
        if not kinds or len(set(kinds)) != 1:
            return None
        return kinds[0]


class Normalise(cst.CSTTransformer):
    """Wrap the first argument of each loss call in the normalisation the loss applies itself."""

    def __init__(self, bindings: Bindings) -> None:
        self.bindings = bindings
        self.scopes: list = [None]
        self.created: list = []

    def visit_FunctionDef(self, node):
        self.scopes.append(node)

    def leave_FunctionDef(self, original, updated):
        self.scopes.pop()
        return updated

    def leave_Call(self, original, updated):
        name = dotted_name(updated.func) or ""
        owner, _, last = name.rpartition(".")
        if last in FUNCTIONS and owner in OWNERS:
            kind = FUNCTIONS[last]
        else:
            kind = self.bindings.kind(name, self.scopes[-1]) if name else None
        if kind is None:
            return updated
        args = list(updated.args)
        if not args or args[0].star or args[0].keyword is not None:
            return updated
        value = args[0].value
        if not isinstance(value, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)):
            value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        method_args = [cst.Arg(value=cst.Integer("1"), keyword=cst.Name("dim"),
                               equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))]
        wrapped = cst.Call(func=cst.Attribute(value=value, attr=cst.Name(kind)),
                           args=method_args if kind == "softmax" else [])
        args[0] = args[0].with_changes(value=wrapped)
        mutated = updated.with_changes(args=args)
        self.created.append(mutated)
        return mutated


def _score(text: str):
    try:
        module = cst.parse_module(text)
    except Exception:
        return None
    bindings = Bindings()
    module.visit(bindings)
    mutator = Normalise(bindings)
    mutated = module.visit(mutator)
    if not mutator.created:
        return None
    wrapper = cst.MetadataWrapper(mutated, unsafe_skip_copy=True)
    return score_spans(mutated.code, spans(wrapper, mutator.created), "TL204")


def main() -> int:
    return run_recall(__doc__, "TL204", lambda text: "cross_entropy" in text or "CrossEntropyLoss" in text
                      or "BCEWithLogitsLoss" in text, _score)


if __name__ == "__main__":
    sys.exit(main())
