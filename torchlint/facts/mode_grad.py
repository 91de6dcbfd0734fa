"""Where a file's forwards record an autograd graph: the gradient side of the mode facts.

`Modes` answers which model is in evaluation mode at a forward; this module answers whether
gradients are recorded there: `with torch.no_grad()` / `inference_mode()` blocks (and wrappers
named like them), `set_grad_enabled`, decorated functions and functions only called under them,
models whose parameters are frozen, and scopes that need a graph of their own (saliency).
"""

from __future__ import annotations

from typing import Any, Iterator

from torchlint._lazy import lazy_module
from torchlint.facts.modes_syntax import (
    _ENABLE_GRAD,
    _NO_GRAD,
    _SET_GRAD,
    INLINE_DEPTH,
    _flat_outside_parameter_loops,
    _is_false,
)
from torchlint.facts.dataflow import Dataflow
from torchlint.facts.names import dotted_name, related, within
from torchlint.facts.statements import body_of, child_bodies, iter_statements, small_statements
from torchlint.facts.summaries import AUTOGRAD_FUNCTIONS

cst = lazy_module("libcst")


class Gradients:
    """Gradient-recording state over a `Modes` fact's scopes and calls."""

    def __init__(self, modes) -> None:
        self.modes = modes
        self.names = modes.names
        self._frozen_models: tuple[set, set] | None = None  # (frozen, thawed) models
        self._calls_by_name: dict | None = None  # (kind, name) -> [(scope, gradients disabled)]

    def frozen(self, key: str) -> bool:
        """Are the model's parameters frozen somewhere in the file (`requires_grad_(False)`, or
        `p.requires_grad = False` over its `parameters()`)? Then its forwards record no graph."""
        if self._frozen_models is None:
            frozen, thawed = set(), set()
            for node in iter_statements(self.modes.module.body):
                for call in self.modes._calls_in(node):
                    if isinstance(call.func, cst.Attribute) and call.func.attr.value == "requires_grad_":
                        off = bool(call.args) and _is_false(call.args[0].value)
                        (frozen if off else thawed).add(dotted_name(call.func.value))
                if isinstance(node, cst.For) and isinstance(node.iter, cst.Call) \
                        and isinstance(node.iter.func, cst.Attribute) \
                        and node.iter.func.attr.value in ("parameters", "named_parameters"):
                    text = self.modes.module.code_for_node(node.body)
                    if "requires_grad = False" in text or "requires_grad_(False)" in text:
                        frozen.add(dotted_name(node.iter.func.value))
                    if "requires_grad = True" in text or "requires_grad_()" in text or "requires_grad_(True)" in text:
                        thawed.add(dotted_name(node.iter.func.value))
            # A model frozen, then partly thawed (fine-tuning a head), still records a graph.
            self._frozen_models = ({name for name in frozen if name}, {name for name in thawed if name})
        frozen, thawed = self._frozen_models
        # Freezing `model.features` leaves the rest of `model` recording a graph.
        return any(within(key, name) for name in frozen) and not any(related(key, name) for name in thawed)

    def walk(self, body, no_grad: bool, block) -> Iterator[tuple[Any, bool | None, list]]:
        """(statement, gradients disabled there, its innermost loop or function body), in source order.

        A statement that switches gradients globally (`torch.set_grad_enabled(...)`) yields
        None: what follows depends on state we do not track.
        """
        for statement in body:
            if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                continue
            if isinstance(statement, cst.With):
                state = self._with_grad(statement)
                if state is None:
                    yield statement, None, block
                    continue
                yield from self.walk(body_of(statement.body), no_grad or state, block)
                continue
            if any(self._switches_grad(call) for call in self.modes._calls_in(statement)):
                yield statement, None, block
                continue
            yield statement, no_grad, block
            loop = isinstance(statement, (cst.For, cst.While))
            for index, child in enumerate(child_bodies(statement)):
                yield from self.walk(child, no_grad, child if loop and index == 0 else block)

    def _with_grad(self, statement) -> bool | None:
        """True: the `with` disables gradients; False: it does not touch them; None: it enables them."""
        disabled = False
        for item in statement.items:
            expr = item.item
            target = expr.func if isinstance(expr, cst.Call) else expr
            qualified = self.names.qualified_name(target)
            if self.disables_grad(target):
                disabled = True
            elif qualified in _SET_GRAD:
                args = expr.args if isinstance(expr, cst.Call) else ()
                if args and isinstance(args[0].value, cst.Name) and args[0].value.value == "True":
                    return None
                disabled = True  # `set_grad_enabled(False)` or `set_grad_enabled(phase == "train")`
            elif qualified in _ENABLE_GRAD:
                return None
        return disabled

    def disables_grad(self, target) -> bool:
        """`torch.no_grad`, `torch.inference_mode`, or a wrapper named like them (`smart_inference_mode`)."""
        if self.names.qualified_name(target) in _NO_GRAD:
            return True
        name = dotted_name(target)
        last = name.rsplit(".", 1)[-1].lower() if name else ""
        return "no_grad" in last or "inference_mode" in last

    def _switches_grad(self, call) -> bool:
        qualified = self.names.qualified_name(call.func)
        if qualified in _SET_GRAD:
            return True
        # `torch.no_grad().__enter__()`
        func = call.func
        return isinstance(func, cst.Attribute) and func.attr.value == "__enter__"

    def needs_graph(self, body) -> bool:
        """Does the scope ask for gradients of something other than the model (saliency, attacks)?"""
        for statement in _flat_outside_parameter_loops(body):
            for call in self.modes._calls_in(statement):
                if self.names.qualified_name(call.func) in AUTOGRAD_FUNCTIONS:
                    return True
            for small in small_statements(statement):
                if isinstance(small, cst.Assign) and any(
                        isinstance(t.target, cst.Attribute) and t.target.attr.value == "requires_grad"
                        for t in small.targets) and not _is_false(small.value):
                    return True
        return False

    def disabled_for(self, function, depth: int) -> bool:
        """Is `function` decorated with `no_grad`, nested in one that is, or called under it here?"""
        for decorator in function.decorators:
            expr = decorator.decorator
            if self.disables_grad(expr.func if isinstance(expr, cst.Call) else expr):
                return True
        outer = self.modes.facts.get(Dataflow).enclosing_function(function)
        if outer is not None and self.disabled_for(outer, depth + 1):
            return True
        if depth >= INLINE_DEPTH:
            return False
        return self._called_without_grad(function, depth)

    def _called_without_grad(self, function, depth: int) -> bool:
        """Is some same-module call of `function` made with gradients disabled (or unknown)?"""
        if self._calls_by_name is None:
            self._calls_by_name = {}
            for scope, body in self.modes.scopes():
                for statement, no_grad, _ in self.walk(body, False, body):
                    for call in self.modes._calls_in(statement):
                        func = call.func
                        if isinstance(func, cst.Attribute):
                            self._calls_by_name.setdefault(("attr", func.attr.value), []).append((scope, no_grad))
                        elif isinstance(func, cst.Name):
                            self._calls_by_name.setdefault(("name", func.value), []).append((scope, no_grad))
        kind = "attr" if self.modes.facts.get(Dataflow).defining_class(function) is not None else "name"
        for scope, no_grad in self._calls_by_name.get((kind, function.name.value), ()):
            if no_grad or no_grad is None:
                return True
            if scope is not None and scope is not function and self.disabled_for(scope, depth + 1):
                return True
        return False
