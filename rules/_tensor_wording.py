"""Wording shared by the tensor rules: layout evidence as notes, why a reshape copies, and size products as a user would write them."""

from __future__ import annotations

from typing import Any, Sequence

from torchlint._lazy import lazy_module
from torchlint.facts.dataflow import Away, Escape, How, Write
from torchlint.facts.evidence import Evidence
from torchlint.facts.layout_reshape import CopyingReshape
from torchlint.facts.tensors import Shows
from torchlint.rule import NodeNote

cst = lazy_module("libcst")

# Operators that bind at least as tightly as `*` and give the same value inside a product.
_PRODUCT_SAFE = ("Multiply", "Power")


def layout_label(evidence: Evidence) -> str:
    """"dim 0 has size 1: `unsqueeze(0)` here", "non-contiguous: `transpose(1, 2)` here"..."""
    reason, shown, dim = evidence.reason, evidence.name, evidence.dim
    if reason is Shows.SIZE_ONE:
        return f"dim {dim} has size 1"
    if reason is Shows.SIZE_ONE_BY:
        return f"dim {dim} has size 1: `{shown}` here"
    if reason is Shows.SIZE_ONE_LITERAL:
        return f"dim {dim} has size 1: `{shown}(...)` with a literal 1 here"
    if reason is Shows.SIZE_ONE_INDEXED:
        return f"dim {dim} has size 1: `[{shown}]` indexing here"
    if reason is Shows.SIZE_ONE_SLICE:
        return f"dim {dim} has size 1: length-1 slice `[{shown}]` here"
    if reason is Shows.NONCONTIGUOUS_BY:
        return f"non-contiguous: `{shown}` here"
    if reason is Shows.NONCONTIGUOUS_SLICE:
        return f"non-contiguous: slice `[{shown}]` here"
    if reason is Shows.NONCONTIGUOUS_EXPAND:
        return "non-contiguous: `expand` here gives stride-0 dims"
    if reason is Shows.EXPANDED:
        return "expanded here: dims grown by `expand` share one memory location (stride 0)"
    if reason is Shows.EXPANDED_AS:
        return "expanded here: `expand_as(...)` shares memory across the repeated dims"
    raise ValueError(f"no wording for {reason}")


def _operation(evidence: Evidence) -> str:
    """The operation an evidence points at, as written in backticks in its label."""
    if evidence.reason is Shows.NONCONTIGUOUS_SLICE:
        return f"[{evidence.name}]"
    if evidence.reason is Shows.NONCONTIGUOUS_EXPAND:
        return "expand"
    return evidence.name


def merge_explanation(found: CopyingReshape) -> str:
    """"it merges dims 1 and 2, which are not adjacent in memory after `transpose(1, 2)`"."""
    items = [str(p) for p in found.merged]
    dims = f"dims {items[0]} and {items[1]}" if len(items) == 2 else "dims " + ", ".join(items[:-1]) + f" and {items[-1]}"
    cause = found.layout.noncontig
    because = f" after `{_operation(cause).split('`')[0]}`" if cause is not None and _operation(cause) else ""
    if found.into:
        return (f"it puts {dims} into {found.into} dims, but they lie in {found.runs} separate runs of memory"
                f"{because}: dims that are not adjacent in memory must merge")
    return f"it merges {dims}, which are not adjacent in memory{because}"


def cause_notes(found: CopyingReshape) -> list[NodeNote]:
    """A note where the receiver became non-contiguous, when one operation shows it, and one at
    the definition on whose path the copy happens."""
    cause = found.cause
    notes = [NodeNote(cause.node, layout_label(cause))] if cause is not None else []
    if found.when is not None and found.when.value is not None:
        notes.append(NodeNote(found.when.value, f"on the path where `{found.when.name}` is defined here, it copies"))
    return notes


def path_clause(module: Any, found: CopyingReshape) -> str:
    """" when `x` comes from `attn @ v`" for a copy on one path, else ""."""
    when = found.when
    if when is None or when.value is None:
        return ""
    source = module.code_for_node(when.value)
    if len(source) > 40 or "\n" in source:
        return f" on the path where `{when.name}` is defined as noted"
    return f" when `{when.name}` comes from `{source}`"


_AWAY = {
    Away.RETURNED: "returned",
    Away.YIELDED: "yielded",
    Away.STORED: "stored",
    Away.IN_CONTAINER: "stored in a container",
    Away.PASSED: "passed to an unknown call",
    Away.CAPTURED: "captured by a nested function",
    Away.ON_SELF: "stored on `self`",
}


def escape_text(escape: Escape) -> str:
    """"returned", "passed to an unknown call"...: where a value leaves the function."""
    return _AWAY[escape.away]


def write_text(write: Write) -> str:
    """"written in place by `.add_()`", "assigned in place"...: how a value is written."""
    if write.how is How.ASSIGNED:
        return "assigned in place"
    if write.how is How.AUGMENTED:
        return "updated in place with an augmented assignment"
    if write.how is How.METHOD:
        return f"written in place by `.{write.name}()`"
    if write.how is How.OUT:
        return "written through `out=`"
    if write.how is How.INPLACE_FLAG:
        return "written in place by `inplace=True`"
    return f"written in place by `{write.name}()`"


def product_text(module: Any, factors: Sequence[Any]) -> str:
    """`a * b * c` for factor nodes, each parenthesised where `*` would change its meaning.

    `h * w` stays as it is; `(a - b) * c`, `c * (n // k)` and `c * (x if y else z)` keep their
    parentheses, so the printed product is the number the code computes.
    """
    return " * ".join(_factor_text(module, node) for node in factors)


def _factor_text(module: Any, node: Any) -> str:
    text = module.code_for_node(node)
    if getattr(node, "lpar", ()):
        return text  # already parenthesised in the source
    if isinstance(node, cst.BinaryOperation) and type(node.operator).__name__ in _PRODUCT_SAFE:
        return text
    loose = (cst.BinaryOperation, cst.BooleanOperation, cst.Comparison, cst.IfExp, cst.Lambda, cst.NamedExpr)
    if isinstance(node, loose) or (isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not)):
        return f"({text})"
    return text
