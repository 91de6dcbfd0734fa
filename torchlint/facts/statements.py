"""Syntax helpers every fact shares: statement bodies, parameters, walking nodes and statements."""

from __future__ import annotations

from typing import Iterator

from torchlint._lazy import lazy_module
from torchlint.walk import TRIVIA, child_fields, children_in, walked_fields

cst = lazy_module("libcst")


def child_bodies(statement) -> Iterator:
    """The statement lists directly inside a compound statement (body, else, handlers...)."""
    for attr in ("body", "orelse", "finalbody"):
        block = getattr(statement, attr, None)
        if block is None:
            continue
        kind = type(block)  # exact classes: LibCST's node classes here have no subclasses
        if kind is cst.Else or kind is cst.Finally:
            block = block.body
        elif kind is cst.If:  # elif chain
            yield [block]
            continue
        yield from _block_statements(block)
    for handler in getattr(statement, "handlers", ()) or ():
        yield from _block_statements(handler.body)
    for case in getattr(statement, "cases", ()) or ():
        yield from _block_statements(case.body)


def _block_statements(block) -> Iterator:
    kind = type(block)
    if kind is cst.IndentedBlock:
        yield block.body
    elif kind is cst.SimpleStatementSuite:
        yield [block]  # `if x: a = 1`: the suite stands for one statement line


def iter_statements(body, *, into_functions: bool = True, into_classes: bool = True) -> Iterator:
    """Every statement in `body` and, recursively, inside its compound statements."""
    stack = [iter(body)]
    while stack:
        try:
            statement = next(stack[-1])
        except StopIteration:
            stack.pop()
            continue
        yield statement
        kind = type(statement)  # exact classes, not isinstance (an ABC check): this runs per statement
        if kind is cst.SimpleStatementLine or kind is cst.SimpleStatementSuite:
            continue
        if kind is cst.FunctionDef and not into_functions:
            continue
        if kind is cst.ClassDef and not into_classes:
            continue
        for inner in child_bodies(statement):
            stack.append(iter(inner))


def small_statements(statement) -> Iterator:
    """The `import`, assignment and expression statements of one statement line."""
    kind = type(statement)
    if kind is cst.SimpleStatementLine or kind is cst.SimpleStatementSuite:
        yield from statement.body


def body_of(block) -> list:
    """The statements of a block: an indented block's lines, or a one-line suite as itself."""
    return list(block.body) if type(block) is cst.IndentedBlock else [block]


def parameters(params) -> list:
    """Every `Param` of a signature: positional-only, ordinary, keyword-only, `*args`, `**kwargs`."""
    found = list(params.posonly_params) + list(params.params) + list(params.kwonly_params)
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            found.append(star)
    return found


# Fields that hold only layout (whitespace, brackets, commas, colons...): never code.
_LAYOUT_FIELDS = frozenset({
    "lpar", "rpar", "lbracket", "rbracket", "lbrace", "rbrace", "comma", "semicolon", "colon",
    "equal", "dot", "leading_lines", "lines_after_decorators", "header", "footer", "newline",
    "trailing_whitespace", "asynchronous", "relative", "first_colon", "second_colon",
    "leading_whitespace", "first_line", "empty_lines", "last_line", "comment",
})
_CODE_FIELDS: dict[type, tuple[str, ...]] = {}


def code_children(node) -> list:
    """A node's children without layout (whitespace, punctuation), in source order."""
    fields = _CODE_FIELDS.get(type(node))
    return children_in(node, code_fields(type(node)) if fields is None else fields)


def code_fields(cls: type) -> tuple[str, ...]:
    """The fields of a node class that may hold code (not layout), in source order."""
    fields = _CODE_FIELDS.get(cls)
    if fields is None:
        fields = _CODE_FIELDS[cls] = tuple(
            f for f in child_fields(cls) if f not in _LAYOUT_FIELDS and not f.startswith("whitespace"))
    return fields


def walk_nodes(node) -> Iterator:
    """Every node under `node` (itself included), depth first, layout skipped."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(code_children(current))


def is_true(expr) -> bool:
    """The literal `True`."""
    return isinstance(expr, cst.Name) and expr.value == "True"


def snippet(node, limit: int = 40) -> str:
    """The source text of a small expression on one line, cut to `limit` characters."""
    text = " ".join(cst.Module(body=[]).code_for_node(node).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


_NOT_ENTERED = frozenset({"Lambda", "FunctionDef", "ClassDef"}) | TRIVIA


def calls_in(node) -> Iterator:
    """Calls in an expression, callees' arguments before the call (execution order).

    Lambdas and nested definitions are not entered: their bodies run later, if ever; nor is
    what cannot hold a call (names, numbers, operators: see `walk.walked_fields`).
    """
    found: list = []
    _collect_calls(node, walked_fields(_NOT_ENTERED, _CALL), cst.Call, found)
    return iter(found)


_CALL = frozenset({"Call"})


def _collect_calls(node, fields_of: dict, call: type, found: list) -> None:
    fields = fields_of.get(type(node))
    if fields is None:  # not entered, or not a node
        return
    for field in fields:
        value = getattr(node, field)
        if type(value) is list or type(value) is tuple:
            for child in value:
                _collect_calls(child, fields_of, call, found)
        else:
            _collect_calls(value, fields_of, call, found)
    if type(node) is call:
        found.append(node)


def header_expressions(statement) -> list:
    """The expressions a statement evaluates itself, not its body's: a line's small statements,
    an `if`/`while` test, a `for`'s iterable, a `with`'s items."""
    kind = type(statement)
    if kind is cst.SimpleStatementLine or kind is cst.SimpleStatementSuite:
        return list(statement.body)
    if kind is cst.If or kind is cst.While:
        return [statement.test]
    if kind is cst.For:
        return [statement.iter]
    if kind is cst.With:
        return [item.item for item in statement.items]
    return []


def header_calls(statement) -> Iterator:
    """The calls a statement makes itself (`header_expressions`), not its body's, in execution order."""
    for root in header_expressions(statement):
        yield from calls_in(root)
