"""A read-only walk over a LibCST tree that calls rules' `visit_*`/`leave_*` methods.

LibCST's own `visit` rebuilds every node it passes (each `_visit_and_replace_children` constructs
and validates a fresh node), which costs about as much as parsing. A linter only reads the tree,
so this walk reads each node's children straight from its fields, in the order LibCST itself
visits them, and never builds anything. Whitespace, comments, brackets and punctuation ("trivia")
are skipped unless an enabled rule asks to visit such a node, and so are the nodes that cannot hold
a node any rule visits (names, numbers, strings, operators: about half of real code's nodes).

Dispatch follows LibCST's batched visitors: `visit_<Class>` before the children, `leave_<Class>`
after; return values are ignored. (LibCST's per-field `visit_<Class>_<field>` handlers are not
supported: no rule needed them. A catalogue test checks every handler names a node class.)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable

# Nodes that hold only layout: they can contain nothing but other trivia.
TRIVIA = frozenset({
    "SimpleWhitespace", "ParenthesizedWhitespace", "TrailingWhitespace", "EmptyLine", "Comment",
    "Newline", "LeftParen", "RightParen", "LeftSquareBracket", "RightSquareBracket",
    "LeftCurlyBrace", "RightCurlyBrace", "Comma", "Semicolon", "Colon", "Dot", "AssignEqual",
    "ImportStar", "Asynchronous", "ParamSlash", "ParamStar",
})

_FIELDS: dict[type, tuple[str, ...]] = {}


def child_fields(cls: type) -> tuple[str, ...]:
    """The fields of a node class that hold child nodes, in LibCST's visiting order.

    LibCST visits children inside `_visit_and_replace_children` by calls such as
    `visit_required(self, "name", ...)`; the field names are that method's string constants,
    and the compiler keeps constants in order of first use, which is the visiting order.
    """
    try:
        return _FIELDS[cls]
    except KeyError:
        pass
    names = [f.name for f in dataclasses.fields(cls)]
    method = getattr(cls, "_visit_and_replace_children", None)
    code = getattr(method, "__code__", None)
    ordered: list[str] = []
    if code is not None:
        known = set(names)
        for constant in code.co_consts:
            if isinstance(constant, str) and constant in known and constant not in ordered:
                ordered.append(constant)
    fields = tuple(ordered) if ordered else tuple(names)
    _FIELDS[cls] = fields
    return fields


class Dispatch:
    """The rules' handlers, grouped by node class name."""

    def __init__(self, handlers: Iterable[tuple[str, Callable[[Any], Any]]]) -> None:
        self.enter: dict[str, list[Callable]] = {}
        self.leave: dict[str, list[Callable]] = {}
        for name, handler in handlers:
            kind, _, node = name.partition("_")
            table = self.enter if kind == "visit" else self.leave
            table.setdefault(node, []).append(handler)
        handled = set(self.enter) | set(self.leave)
        self.skip = frozenset() if handled & TRIVIA else TRIVIA
        self.handled = frozenset(handled)


def walked_fields(skip: frozenset, handled: frozenset) -> dict[type, tuple[str, ...]]:
    """Per node class, the fields a walk must read: those that may hold a node it enters.

    A walk enters no node of a class in `skip`, nor one below which no node a handler wants
    can be: a leaf (`Name`, `Integer`, the operators: about half the nodes of real code), and,
    when no handler wants a node inside expressions (rules of classes or of the whole module),
    every expression. Read from LibCST's field annotations.
    """
    key = (skip, handled)
    table = _WALKED.get(key)
    if table is None:
        table = _WALKED[key] = _walked_fields(skip, handled)
    return table


_WALKED: dict[tuple[frozenset, frozenset], dict[type, tuple[str, ...]]] = {}
_KNOWN: set[type] = set()  # the node classes the tables were made from
_HOLDS: dict[type, dict[str, set]] = {}  # node class -> field -> the node classes it may hold


def _walked_fields(skip: frozenset, handled: frozenset) -> dict[type, tuple[str, ...]]:
    import libcst

    classes = _node_classes(libcst.CSTNode)
    _KNOWN.update(classes)
    if len(_HOLDS) != len(classes):  # what each field may hold: the same for every table
        _HOLDS.update({cls: {field: _held_classes(hint) for field, hint in _field_hints(cls).items()} for cls in classes})
    holds = _HOLDS
    candidates = {cls for cls in classes if cls.__name__ not in skip}

    def leads(cls: type, field: str, entered: set) -> bool:
        held = holds[cls].get(field, {object})
        return object in held or not held.isdisjoint(entered)

    # Entered: a wanted class, or one with a field that may hold an entered class (to a fixpoint).
    entered = {cls for cls in candidates if cls.__name__ in handled}
    while True:
        more = {cls for cls in candidates - entered if any(leads(cls, f, entered) for f in child_fields(cls))}
        if not more:
            break
        entered |= more
    return {cls: tuple(f for f in child_fields(cls) if leads(cls, f, entered)) for cls in entered}


def _node_classes(base: type) -> set[type]:
    """`base` and every class derived from it."""
    found = {base}
    stack = [base]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                stack.append(sub)
    return found


def _field_hints(cls: type) -> dict[str, Any]:
    try:
        return {f.name: f.type for f in dataclasses.fields(cls)}
    except TypeError:  # not a dataclass: every field may hold anything
        return {}


def _held_classes(hint: Any) -> set:
    """The node classes a field annotated `hint` may hold ({object}: anything; str: none)."""
    import typing

    import libcst

    if isinstance(hint, type):
        if issubclass(hint, libcst.CSTNode):
            return _node_classes(hint)
        return set() if issubclass(hint, (str, libcst.MaybeSentinel)) else {object}
    if typing.get_origin(hint) is typing.Literal:
        return set()
    if isinstance(hint, typing.ForwardRef):  # `Optional["CompIf"]`: a node class named in a string
        named = {cls for cls in _node_classes(libcst.CSTNode) if cls.__name__ == hint.__forward_arg__}
        return set().union(*map(_node_classes, named)) if named else {object}
    arguments = typing.get_args(hint)
    if not arguments or isinstance(hint, str):  # an unresolved or bare annotation: anything
        return {object}
    held: set = set()
    for argument in arguments:
        held |= set() if argument is type(None) else _held_classes(argument)
    return held


def walk(module: Any, dispatch: Dispatch, on_statement: Callable[[Any], Any] | None = None) -> None:
    """Visit `module` and every node below it once, in source order.

    `on_statement`, if given, is called with each top-level statement before it is visited, and
    with None when the module's body is done (so a finding can be traced to its statement cheaply).
    """
    enter, leave = dispatch.enter, dispatch.leave
    fields_of = walked_fields(dispatch.skip, dispatch.handled)
    wanted: dict[type, bool] = {}

    def is_wanted(cls: type) -> bool:
        answer = cls in fields_of
        if not answer and cls not in _KNOWN and is_node_type(cls) and cls.__name__ not in dispatch.skip:
            fields_of[cls] = child_fields(cls)  # a node class LibCST did not have at first walk
            answer = True
        wanted[cls] = answer
        return answer

    def visit(node: Any) -> None:
        cls = type(node)
        name = cls.__name__
        handlers = enter.get(name)
        if handlers:
            for handler in handlers:
                handler(node)
        for field in fields_of[cls]:
            value = getattr(node, field)
            kind = type(value)
            if kind is list or kind is tuple:
                for child in value:
                    child_kind = type(child)
                    if wanted.get(child_kind) if child_kind in wanted else is_wanted(child_kind):
                        visit(child)
            elif wanted.get(kind) if kind in wanted else is_wanted(kind):
                visit(value)
        handlers = leave.get(name)
        if handlers:
            for handler in handlers:
                handler(node)

    try:
        _walk_module(module, visit, enter, leave, wanted, is_wanted, on_statement)
    finally:
        # `visit` calls itself through its closure: a reference cycle that would keep the rules,
        # and through them the whole tree, alive until the garbage collector's next full pass.
        visit = is_wanted = None  # noqa: F841


def _walk_module(module, visit, enter, leave, wanted, is_wanted, on_statement) -> None:
    if on_statement is None or type(module).__name__ != "Module":
        visit(module)
        return
    module_fields = child_fields(type(module))
    # The module's handlers and fields as `visit` takes them, with the hook around its body.
    for handler in enter.get("Module", ()):
        handler(module)
    for field in module_fields:
        for child in getattr(module, field):
            if field == "body":
                on_statement(child)
            child_kind = type(child)
            if wanted.get(child_kind) if child_kind in wanted else is_wanted(child_kind):
                visit(child)
        if field == "body":
            on_statement(None)
    for handler in leave.get("Module", ()):
        handler(module)


def children(node: Any) -> list[Any]:
    """`node.children` without LibCST's cost: the same nodes, in the same (source) order.

    LibCST's `children` property rebuilds the node through `_visit_and_replace_children` to find
    them; this reads the fields instead. Trivia (whitespace, commas...) is included, as there.
    """
    return children_in(node, _FIELDS.get(type(node)) or child_fields(type(node)))


def children_in(node: Any, fields: tuple[str, ...]) -> list[Any]:
    """The child nodes held in these fields of `node`, in the order given.

    Facts walk the tree through this function tens of thousands of times per file, so whether a
    value's type is a node is looked up by type, not asked of `isinstance` (an ABC check).
    """
    found: list[Any] = []
    is_node = _IS_NODE
    for field in fields:
        value = getattr(node, field)
        kind = type(value)
        if kind is list or kind is tuple:
            for child in value:
                child_kind = type(child)
                if is_node[child_kind] if child_kind in is_node else is_node_type(child_kind):
                    found.append(child)
        elif is_node[kind] if kind in is_node else is_node_type(kind):
            found.append(value)
    return found


_IS_NODE: dict[type, bool] = {}  # type -> whether it is a LibCST node class (see `is_node_type`)


def is_node_type(kind: type) -> bool:
    """Whether values of this type are LibCST nodes; remembered in `_IS_NODE` for hot loops."""
    from libcst import CSTNode

    answer = _IS_NODE[kind] = issubclass(kind, CSTNode)
    return answer
