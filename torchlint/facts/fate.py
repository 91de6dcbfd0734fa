"""The fate of a tensor value inside its function: read only, viewed, written, kept as module
state, or escaping (and where), followed through aliases and views with `Dataflow`.

A rule that wants to replace a copy by a view (`repeat` -> `expand`) asks `fate_of(call)`: a view
is safe to hand out only when nothing writes, views or keeps the result.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from torchlint._lazy import lazy_module
from torchlint.facts.dataflow import Away, Escape, is_inplace_name
from torchlint.walk import children

cst = lazy_module("libcst")


class Fate(enum.Enum):
    READ_ONLY = enum.auto()  # only read: nothing writes, views or keeps it
    ESCAPES = enum.auto()  # leaves the function's sight (`escape` says where)
    WRITTEN = enum.auto()  # written in place, itself or through an alias
    VIEWED = enum.auto()  # viewed, reshaped or copied afterwards: its memory layout matters
    STATE = enum.auto()  # becomes module state (`nn.Parameter`, `register_buffer`)
    UNKNOWN = enum.auto()  # bound in a way the analysis does not follow


@dataclass(frozen=True)
class Fated:
    fate: Fate
    escape: Escape | None = None


# Uses after which `expand` would raise (`view`) or copy anyway: nothing to save.
COPYING_OR_VIEWING = frozenset({
    "view", "view_as", "reshape", "reshape_as", "flatten", "unflatten", "contiguous", "numpy",
    "data_ptr", "storage", "untyped_storage", "as_strided", "resize_", "set_", "stride",
    "is_contiguous", "share_memory_", "pin_memory",
})
PURE_BUILTINS = frozenset({"len", "print", "isinstance", "tuple", "list", "repr", "str", "zip", "enumerate"})


def fate_of(call, dataflow, facts) -> Fated:
    """What happens to the value of `call` (a tensor-producing call inside a function)."""
    node = call
    while True:
        parent = dataflow.parent(node)
        method = isinstance(parent, cst.Attribute) and parent.value is node
        if method and parent.attr.value in COPYING_OR_VIEWING:
            return Fated(Fate.VIEWED)
        if method and is_inplace_name(parent.attr.value) and _is_called(parent, dataflow):
            return Fated(Fate.WRITTEN)
        above = dataflow.alias_step(node)
        if above is None:
            if method:
                return Fated(Fate.READ_ONLY)  # a method or attribute that reads and returns new memory
            break
        node = above
    if dataflow.write_at(node, None) is not None:
        return Fated(Fate.WRITTEN)
    if _becomes_state(node, dataflow, facts):
        return Fated(Fate.STATE)
    parent = dataflow.parent(node)
    flow = dataflow.function_of(call)
    if isinstance(parent, cst.Assign) and parent.value is node and len(parent.targets) == 1:
        target = parent.targets[0].target
        if isinstance(target, cst.Name):
            binding = flow.binding_for_target(target)
            return _binding_fate(binding, flow, dataflow, facts) if binding is not None else Fated(Fate.UNKNOWN)
        if isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and target.value.value == "self":
            if _self_attribute_written(target.attr.value, call, dataflow):
                return Fated(Fate.WRITTEN)
            return Fated(Fate.ESCAPES, Escape(parent, Away.ON_SELF))
        return Fated(Fate.UNKNOWN)
    if isinstance(parent, (cst.Assign, cst.AnnAssign, cst.AugAssign, cst.NamedExpr, cst.For, cst.With)):
        return Fated(Fate.UNKNOWN)
    escape = dataflow.escape_at(node, lambda c, a: _is_pure_call(c, facts))
    return Fated(Fate.ESCAPES, escape) if escape is not None else Fated(Fate.READ_ONLY)


def _binding_fate(binding, flow, dataflow, facts) -> Fated:
    if binding.name in flow.captured:
        return Fated(Fate.UNKNOWN)
    for alias in flow.aliases(binding):
        for use in flow.uses(alias):
            if dataflow.write_at(use, alias) is not None:
                return Fated(Fate.WRITTEN)
            if _viewed_or_copied(use, dataflow):
                return Fated(Fate.VIEWED)
            if _becomes_state(dataflow.alias_top(use), dataflow, facts):
                return Fated(Fate.STATE)
    escapes = flow.escapes(binding, lambda c, a: _is_pure_call(c, facts))
    return Fated(Fate.ESCAPES, escapes[0]) if escapes else Fated(Fate.READ_ONLY)


def _becomes_state(node, dataflow, facts) -> bool:
    """`nn.Parameter(y)`, `register_buffer("b", y)`: an optimizer or the module writes it later."""
    parent = dataflow.parent(node)
    if not isinstance(parent, cst.Arg):
        return False
    call = dataflow.parent(parent)
    if not isinstance(call, cst.Call):
        return False
    func = call.func
    if isinstance(func, cst.Attribute) and func.attr.value in ("register_buffer", "register_parameter"):
        return True
    return facts.names.qualified_name(func) in ("torch.nn.Parameter", "torch.nn.parameter.Parameter")


def _viewed_or_copied(use, dataflow) -> bool:
    node = use
    while True:
        parent = dataflow.parent(node)
        if isinstance(parent, cst.Attribute) and parent.value is node and parent.attr.value in COPYING_OR_VIEWING:
            return True
        above = dataflow.alias_step(node)
        if above is None:
            break
        node = above
    parent = dataflow.parent(node)
    if isinstance(parent, cst.Arg):
        call = dataflow.parent(parent)
        func = call.func if isinstance(call, cst.Call) else None
        name = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else None
        return name in ("flatten", "reshape", "view", "rearrange")
    return False


def _is_called(attribute, dataflow) -> bool:
    call = dataflow.parent(attribute)
    return isinstance(call, cst.Call) and call.func is attribute


def _is_pure_call(call, facts) -> bool:
    """Calls known to only read their tensor arguments (torch functions without `out=`)."""
    if any(a.keyword is not None and a.keyword.value in ("out", "inplace") for a in call.args):
        return False
    if isinstance(call.func, cst.Name) and call.func.value in PURE_BUILTINS and facts.names.qualified_name(call.func) is None:
        return True
    qualified = facts.names.qualified_name(call.func)
    if qualified is None or not qualified.startswith("torch."):
        return False
    last = qualified.rsplit(".", 1)[-1]
    return not last.endswith("_") and not last[:1].isupper() and not qualified.startswith("torch.nn.init")


def _self_attribute_written(attr, node, dataflow) -> bool:
    """Does any method of the enclosing class write `self.<attr>` in place?"""
    cls = dataflow.enclosing_class(node)
    if cls is None:
        return True
    stack = [cls.body]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Attribute) and current.attr.value == attr and isinstance(current.value, cst.Name) \
                and current.value.value == "self":
            if dataflow.write_at(current, None) is not None:
                return True
        stack.extend(children(current))
    return False
