"""Wording the tensor rules share: size expressions printed as a user would write them."""

from __future__ import annotations

from typing import Any, Sequence

from torchlint._lazy import lazy_module

cst = lazy_module("libcst")

# Operators that bind at least as tightly as `*` and give the same value inside a product.
_PRODUCT_SAFE = ("Multiply", "Power")


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
