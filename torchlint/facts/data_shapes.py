"""Shapes of data expressions, read from the syntax alone: which calls build 1-D arrays, which
subscripts select one column, which path literal names a file.
"""

from __future__ import annotations

from typing import Any

from torchlint._lazy import lazy_module
from torchlint.walk import TRIVIA

cst = lazy_module("libcst")


def explicit_categories(node) -> bool:
    for arg in node.args:
        if arg.keyword is not None and arg.keyword.value == "categories":
            return isinstance(arg.value, (cst.List, cst.Tuple, cst.Dict))
    return False


def numpy_1d(node, qualified: str) -> bool:
    """Does this numpy constructor call certainly build a 1-D array?"""
    name = qualified.rsplit(".", 1)[-1]
    args = [a for a in node.args if a.keyword is None]
    keywords = {a.keyword.value: a.value for a in node.args if a.keyword is not None}
    if qualified in ("numpy.array", "numpy.asarray") and args:
        first = args[0].value
        if (
            isinstance(first, (cst.List, cst.Tuple))
            and first.elements
            and all(isinstance(e.value, (cst.Integer, cst.Float, cst.UnaryOperation)) for e in first.elements)
        ):
            return True
        return False
    if qualified in ("numpy.arange", "numpy.linspace", "numpy.logspace"):
        return True
    if qualified in ("numpy.random.rand", "numpy.random.randn") and len(args) == 1 and not keywords:
        return True
    if qualified in ("numpy.zeros", "numpy.ones", "numpy.empty", "numpy.full") and args and is_count(args[0].value):
        return True
    if name in ("normal", "uniform", "randint", "choice", "random", "exponential", "poisson") and qualified.startswith(
        "numpy.random."
    ):
        size = keywords.get("size")
        if size is not None and is_count(size):
            return True
    return False


def file_literal(node):
    """The string literal that ends a path: `"test.csv"`, `DIR + "/test.csv"`, `os.path.join(d, "test.csv")`."""
    if isinstance(node, cst.SimpleString):
        return node
    if isinstance(node, cst.BinaryOperation):
        return file_literal(node.right)
    if (
        isinstance(node, cst.Call)
        and node.args
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "join"
    ):
        return file_literal(node.args[-1].value)
    return None


def is_count(node) -> bool:
    """An integer literal or `len(...)`: a shape of one dimension."""
    if isinstance(node, cst.Integer):
        return True
    return isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "len"


def reshape_1d(node) -> bool:
    args = node.args
    if len(args) != 1 or args[0].keyword is not None or args[0].star:
        return False
    value = args[0].value
    if isinstance(value, cst.UnaryOperation) and isinstance(value.operator, cst.Minus):
        return isinstance(value.expression, cst.Integer) and value.expression.value == "1"
    return is_count(value)


def single_column_index(node, index_values) -> bool:
    """`df["c"]`, `df.loc[:, "c"]`, `df.iloc[:, 0]`: one column selected by a scalar key."""
    elements = node.slice
    indexer = (
        node.value.attr.value
        if isinstance(node.value, cst.Attribute) and node.value.attr.value in ("loc", "iloc")
        else None
    )
    if indexer is None:
        if len(elements) != 1 or not isinstance(elements[0].slice, cst.Index):
            return False
        key = elements[0].slice.value
        return isinstance(key, (cst.SimpleString, cst.FormattedString)) or (
            bool(index_values) and index_values[0].string and isinstance(key, cst.Name)
        )
    if (
        len(elements) != 2
        or not isinstance(elements[0].slice, cst.Slice)
        or not isinstance(elements[1].slice, cst.Index)
    ):
        return False
    first = elements[0].slice
    if first.lower is not None or first.upper is not None or first.step is not None:
        return False
    key = elements[1].slice.value
    if indexer == "iloc":
        return isinstance(key, cst.Integer)
    return isinstance(key, cst.SimpleString)


def column_key(argument) -> Any:
    """The string key of `df["c"]` (or `df["c"].values`) given directly as the argument."""
    node = argument
    if isinstance(node, cst.Attribute) and node.attr.value == "values":
        node = node.value
    if isinstance(node, cst.Subscript) and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
        key = node.slice[0].slice.value
        indexer = isinstance(node.value, cst.Attribute) and node.value.attr.value in ("loc", "iloc")
        if isinstance(key, cst.SimpleString) and not indexer:
            return key
    return None


def drops_rows(call) -> bool:
    """`df.drop(train.index)`: dropping the rows of another selection."""
    first = call.args[0].value if call.args and call.args[0].keyword is None else None
    return isinstance(first, cst.Attribute) and first.attr.value == "index"


def strip_indexers(node):
    """`df.loc` -> `df`: the frame under a `.loc`/`.iloc` indexer."""
    if isinstance(node, cst.Attribute) and node.attr.value in ("loc", "iloc", "at", "iat"):
        return node.value
    return node


_CHILD_KINDS: dict[type, str | None] = {}


def child_kind(cls: type) -> str | None:
    """ "expression" to evaluate, "container" (an argument, element, slice...) to look into, or None.

    Cached per class: LibCST's node classes are abstract-base subclasses, and `isinstance` on
    them is slow enough to matter on every node of a notebook.
    """
    try:
        return _CHILD_KINDS[cls]
    except KeyError:
        pass
    if cls.__name__ in TRIVIA:
        kind = None
    elif issubclass(cls, cst.BaseExpression):
        kind = "expression"
    elif issubclass(cls, _containers()):
        kind = "container"
    else:
        kind = None
    _CHILD_KINDS[cls] = kind
    return kind


def _containers() -> tuple[type, ...]:
    return (
        cst.Arg,
        cst.Element,
        cst.BaseDictElement,
        cst.SubscriptElement,
        cst.Index,
        cst.Slice,
        cst.StarredElement,
        cst.FormattedStringExpression,
        cst.Comparison,
        cst.ComparisonTarget,
    )
