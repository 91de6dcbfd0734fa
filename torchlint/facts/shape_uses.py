"""Sizes told by how a value is used later: `torch.cat` of a slice's repeat with its source.

    last = x[:, -1:]
    last = last.repeat(1, n, 1, 1, 1)
    x = torch.cat([x, last], dim=1)

`repeat` with k factors returns a k-dim tensor, and `torch.cat` raises unless its tensors have
the same number of dims (checked in torch: "Tensors must have same number of dimensions: got 4
and 5"), so `x` has k dims, and so has `x[:, -1:]` (plain slices keep every dim). The slice's
source must be one binding of one name at both places (the same value), and the slice must
take at least two dims (a 1-D empty tensor, which `cat` skips, cannot be indexed so).

    found = concatenated_with_source(facts, repeat_call)   # Concatenation, or None
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torchlint._lazy import lazy_module
from torchlint.facts.shape_scope import ScopedDataflow

cst = lazy_module("libcst")

CONCATENATIONS = frozenset({"torch.cat", "torch.concat", "torch.concatenate"})


@dataclass(frozen=True)
class Concatenation:
    """The result of a call is concatenated with the tensor its receiver slices."""

    concatenation: Any  # the `torch.cat(...)` call
    source: Any  # the Name of the sliced tensor inside that call


def concatenated_with_source(facts, call) -> Concatenation | None:
    """For `s.repeat(...)` where `s` is `x[:, a:b]` (plain slices): the `torch.cat` that joins
    the result with `x` itself, which proves that `s` has as many dims as the call's result."""
    dataflow = facts.get(ScopedDataflow)
    flow = dataflow.function_of(call)
    subscript = _slice_of(call.func.value, flow)
    if subscript is None:
        return None
    base = subscript.value
    source = flow.binding_at(base) if isinstance(base, cst.Name) else None
    if source is None:
        return None
    for element, concatenation in _concatenated(call, flow, dataflow, facts):
        for other in _elements(concatenation):
            if other is element or not isinstance(other, cst.Name) or other.value != base.value:
                continue
            if flow.binding_at(other) is source:
                return Concatenation(concatenation, other)
    return None


def _slice_of(receiver, flow):
    """`x[:, -1:]`, or a name bound once to it: the subscript when it holds plain slices only
    (at least two), so the result has exactly the dims of `x`."""
    if isinstance(receiver, cst.Name):
        binding = flow.binding_at(receiver)
        if binding is None or binding.kind != "assign":
            return None
        receiver = binding.value
    if not isinstance(receiver, cst.Subscript) or len(receiver.slice) < 2:
        return None
    if not all(isinstance(element.slice, cst.Slice) for element in receiver.slice):
        return None
    return receiver


def _concatenated(call, flow, dataflow, facts):
    """(the expression that carries `call`'s result, the `torch.cat` it is an element of)."""
    parent = dataflow.parent(call)
    carriers = [call]
    if isinstance(parent, cst.Assign) and parent.value is call and len(parent.targets) == 1 \
            and isinstance(parent.targets[0].target, cst.Name):
        binding = flow.binding_for_target(parent.targets[0].target)
        carriers = flow.uses(binding) if binding is not None else []
    for carrier in carriers:
        element = dataflow.parent(carrier)
        sequence = dataflow.parent(element) if isinstance(element, cst.Element) else None
        argument = dataflow.parent(sequence) if isinstance(sequence, (cst.List, cst.Tuple)) else None
        concatenation = dataflow.parent(argument) if isinstance(argument, cst.Arg) else None
        if not isinstance(concatenation, cst.Call) or argument.value is not sequence:
            continue
        if argument.keyword is not None and argument.keyword.value != "tensors":
            continue
        if argument.keyword is None and concatenation.args[0] is not argument:
            continue
        if facts.names.qualified_name(concatenation.func) in CONCATENATIONS:
            yield carrier, concatenation


def _elements(concatenation) -> list:
    argument = next((a for a in concatenation.args if a.keyword is None or a.keyword.value == "tensors"), None)
    if argument is None or not isinstance(argument.value, (cst.List, cst.Tuple)):
        return []
    return [e.value for e in argument.value.elements if isinstance(e, cst.Element)]
