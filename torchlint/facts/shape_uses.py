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

Also where a tensor goes that copies it anyway or out of sight (`handed_on(facts, call)`):
the weight of a torch convolution (conv2d copies a stride-0 weight into contiguous memory on
every call: torch.profiler shows `aten::contiguous` of the weight's size), directly or through
a `self.<attr>` the class passes as a weight; and a dict, list or tuple display handed to a
call torchlint cannot see (the consumers of batched outputs in a container, such as DETR's
matcher, flatten them, which copies an expanded tensor again).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from torchlint._lazy import lazy_module
from torchlint.facts.shape_joins import CONCATENATIONS
from torchlint.facts.shape_scope import ScopedDataflow

cst = lazy_module("libcst")

CONVOLUTIONS = frozenset({
    "torch.nn.functional.conv1d", "torch.nn.functional.conv2d", "torch.nn.functional.conv3d",
    "torch.nn.functional.conv_transpose1d", "torch.nn.functional.conv_transpose2d",
    "torch.nn.functional.conv_transpose3d", "torch.conv1d", "torch.conv2d", "torch.conv3d",
})


class HandedOn(enum.Enum):
    """Where a value goes that copies it anyway, or that cannot be seen."""

    CONV_WEIGHT = enum.auto()  # the weight of a torch convolution (made contiguous there)
    IN_DISPLAY = enum.auto()  # inside a dict/list/tuple display passed to an unseen call


@dataclass(frozen=True)
class Handed:
    how: HandedOn
    node: Any  # the convolution or the call that receives the display


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


def handed_on(facts, call) -> Handed | None:
    """Does the value of `call` (or a name bound to it, through aliases such as `.to()`) go
    where it is copied anyway or out of sight (see the module docstring)? The first such use."""
    dataflow = facts.get(ScopedDataflow)
    flow = dataflow.function_of(call)
    for carrier in _carriers(call, flow, dataflow):
        top = dataflow.alias_top(carrier)
        node, parent = top, dataflow.parent(top)
        displays = 0
        while isinstance(parent, (cst.Element, cst.DictElement, cst.StarredElement, cst.Dict, cst.List, cst.Tuple, cst.Set)):
            displays += isinstance(parent, (cst.Dict, cst.List, cst.Tuple, cst.Set))
            node, parent = parent, dataflow.parent(parent)
        consumer = dataflow.parent(parent) if isinstance(parent, cst.Arg) else None
        if isinstance(consumer, cst.Call):
            if displays == 0 and _is_conv_weight(consumer, parent, facts):
                return Handed(HandedOn.CONV_WEIGHT, consumer)
            if displays and _unseen(consumer, facts):
                return Handed(HandedOn.IN_DISPLAY, consumer)
        attribute = _stored_on_self(top, parent)
        if attribute is not None:
            weight = _conv_weight_in_class(attribute, top, dataflow, facts)
            if weight is not None:
                return Handed(HandedOn.CONV_WEIGHT, weight)
    return None


def _carriers(call, flow, dataflow) -> list:
    """`call` and every load of a name bound to it (or to an alias of it)."""
    top = dataflow.alias_top(call)
    parent = dataflow.parent(top)
    found = [call]
    if isinstance(parent, cst.Assign) and parent.value is top and len(parent.targets) == 1 \
            and isinstance(parent.targets[0].target, cst.Name):
        binding = flow.binding_for_target(parent.targets[0].target)
        if binding is not None:
            found += [use for alias in flow.aliases(binding) for use in flow.uses(alias)]
    return found


def _is_conv_weight(consumer, argument, facts) -> bool:
    if facts.names.qualified_name(consumer.func) not in CONVOLUTIONS:
        return False
    if argument.keyword is not None:
        return argument.keyword.value == "weight"
    positional = [a for a in consumer.args if a.keyword is None]
    return len(positional) > 1 and positional[1] is argument


def _unseen(consumer, facts) -> bool:
    """A call torchlint cannot look into: not a torch function, not a same-module def."""
    qualified = facts.names.qualified_name(consumer.func)
    if qualified is not None and qualified.startswith("torch."):
        return False
    from torchlint.facts.summaries import Summaries

    return facts.get(Summaries).callee(consumer) is None


def _stored_on_self(top, parent):
    if isinstance(parent, cst.Assign) and parent.value is top and len(parent.targets) == 1:
        target = parent.targets[0].target
        if isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and target.value.value == "self":
            return target.attr.value
    return None


def _conv_weight_in_class(attribute, node, dataflow, facts):
    """A torch convolution anywhere in the class whose weight is `self.<attribute>`."""
    from torchlint.walk import children

    cls = dataflow.enclosing_class(node)
    stack = [cls] if cls is not None else []
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Call) and facts.names.qualified_name(current.func) in CONVOLUTIONS:
            for argument in current.args:
                value = argument.value
                if isinstance(value, cst.Attribute) and value.attr.value == attribute \
                        and isinstance(value.value, cst.Name) and value.value.value == "self" \
                        and _is_conv_weight(current, argument, facts):
                    return current
        stack.extend(children(current))
    return None
