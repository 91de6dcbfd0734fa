"""The program model: the file's structure that every domain asks about, resolved once per file.

- the same-module class hierarchy: which class a base expression names, a class's same-module
  bases in order, the method a call on an instance reaches through them;
- attribute bindings: every store to `self.<attr>` in the methods of a class, with the method
  it is in and how it binds (assignment, unpacking, loop or `with` target, augmented assignment,
  `register_buffer`), and whether a method sets attributes by name (`setattr(self, ...)`); one
  walk per class, of which `self_attributes` (the values by attribute) is a view;
- the relatives of a class: the classes whose methods may run on the same instance as its own
  (its same-module bases, and its same-module subclasses with their bases);
- imports come from `Names` (`facts.names`), bindings at each program point from `Dataflow`.

Everything is computed on first use and cached, so a file whose rules ask nothing pays nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from torchlint._lazy import lazy_module
from torchlint.facts.names import dotted_name
from torchlint.facts.statements import body_of, iter_statements

cst = lazy_module("libcst")


class StoreKind(enum.Enum):
    """How a method binds `self.<attr>` (the spellings of `dataflow.BindingKind` for names)."""

    ASSIGN = enum.auto()  # `self.x = v`, `self.x: T = v`: `value` is v
    UNPACK = enum.auto()  # an element of a tuple or list target: `source` is the right-hand side
    FOR = enum.auto()  # `for self.x in ...`
    WITH = enum.auto()  # `with ... as self.x`
    AUGMENT = enum.auto()  # `self.x += v`: `source` is v, the value it makes is unknown
    REGISTER = enum.auto()  # `self.register_buffer("x", v)`: `value` is v


@dataclass(frozen=True)
class AttributeStore:
    """One binding of `self.<attr>` in a method of a class."""

    target: Any  # the `self.<attr>` node assigned; for `register_buffer`, the name's string literal
    value: Any  # the bound expression (ASSIGN, REGISTER); None when not known whole
    method: Any  # the FunctionDef of the class body the store is in (nested defs: their method);
    # for `a.<attr>`, the scope (def, class or module)
    kind: StoreKind = StoreKind.ASSIGN
    source: Any = None  # UNPACK: the unpacked expression; AUGMENT: the operand
    index: int | None = None  # UNPACK: the position in a flat target without a starred element


@dataclass
class AttributeStores:
    """Attribute bindings by key, in source order: of one class, every store to `self.<attr>` in
    its methods (key: the attribute); of one scope, every store to `a.<attr>` (key: the dotted
    target, `a.b.c`)."""

    by_name: dict[str, list[AttributeStore]] = field(default_factory=dict)
    dynamic: bool = False  # `setattr(self, ...)` or `self.__dict__`: any attribute may be set


class Program:
    def __init__(self, facts) -> None:
        self.facts = facts
        self.names = facts.names
        self._bases: dict[int, list] = {}
        self._attributes: dict[int, dict[str, list]] = {}
        self._stores: dict[int, AttributeStores] = {}
        self._objects: dict[int, AttributeStores] = {}
        self._relatives: dict[int, list] = {}

    @classmethod
    def build(cls, facts) -> Program:
        return cls(facts)

    # --- the class hierarchy ------------------------------------------------------------------

    def local_class(self, base) -> Any:
        """The class a base expression names when it is defined exactly once in this module."""
        if not isinstance(base, cst.Name) or self.names.qualified_name(base) is not None:
            return None
        candidates = self.names.classes.get(base.value, [])
        return candidates[0] if len(candidates) == 1 else None

    def bases(self, class_node) -> list:
        """The same-module classes among a class's bases, in base order."""
        found = self._bases.get(id(class_node))
        if found is None:
            found = [local for arg in class_node.bases if (local := self.local_class(arg.value)) is not None]
            self._bases[id(class_node)] = found
        return found

    def lineage(self, class_node) -> Iterator:
        """The class, then its same-module bases depth first in base order; each once, cycles cut."""
        seen: set[int] = set()
        stack = [class_node]
        while stack:
            current = stack.pop()
            if id(current) in seen:
                continue
            seen.add(id(current))
            yield current
            stack.extend(reversed(self.bases(current)))

    def method(self, class_node, name: str) -> Any:
        """The method `name` that an instance of the class reaches, through same-module bases."""
        for cls in self.lineage(class_node):
            for statement in body_of(cls.body):
                if isinstance(statement, cst.FunctionDef) and statement.name.value == name:
                    return statement
        return None

    def has_unseen_base(self, class_node) -> bool:
        """Does the class (or a same-module base) derive from a class defined elsewhere?"""
        for cls in self.lineage(class_node):
            for arg in cls.bases:
                base = arg.value
                if self.local_class(base) is None and not (isinstance(base, cst.Name) and base.value == "object"):
                    return True
        return False

    def relatives(self, class_node) -> list:
        """The classes whose methods may run on an instance that runs the class's own methods:
        its lineage, then each same-module subclass (found by base name, so a class defined twice
        counts for both) with its lineage; each once."""
        found = self._relatives.get(id(class_node))
        if found is not None:
            return found
        found, seen = [], set()
        for root in [class_node, *self._subclasses(class_node)]:
            for cls in self.lineage(root):
                if id(cls) not in seen:
                    seen.add(id(cls))
                    found.append(cls)
        self._relatives[id(class_node)] = found
        return found

    def _subclasses(self, class_node) -> list:
        """Same-module classes deriving from the class, directly or not, by the names of their bases."""
        found, names, seen = [], [class_node.name.value], {id(class_node)}
        while names:
            name = names.pop()
            for candidates in self.names.classes.values():
                for cls in candidates:
                    if id(cls) not in seen and any(isinstance(a.value, cst.Name) and a.value.value == name for a in cls.bases):
                        seen.add(id(cls))
                        found.append(cls)
                        names.append(cls.name.value)
        return found

    # --- attribute bindings -------------------------------------------------------------------

    def self_stores(self, class_node) -> AttributeStores:
        """The attribute bindings of the class: every store to `self.<attr>` in its methods and
        the defs nested in them (unpacked, loop and `with` targets, augmented assignments and
        `self.register_buffer("name", value)` included), and whether a method sets attributes by
        name. Not the methods of nested classes (their `self` is another instance), not the class
        body's own statements (no `self` there), and not `del self.x` or annotations alone."""
        found = self._stores.get(id(class_node))
        if found is not None:
            return found
        found = AttributeStores()
        for method in iter_statements(body_of(class_node.body), into_functions=False, into_classes=False):
            if type(method) is cst.FunctionDef:
                for statement in iter_statements(body_of(method.body), into_classes=False):
                    _collect_stores(statement, method, found, _self_key)
        self._stores[id(class_node)] = found
        return found

    def object_stores(self, scope) -> AttributeStores:
        """Stores to attributes of objects other than `self` (`state.opt = ...`, `a.b.c = ...`) in
        one scope's own statements (a def, a class body or the module; not the defs and classes
        in it), by dotted target; kinds as for `self_stores`."""
        found = self._objects.get(id(scope))
        if found is None:
            found = self._objects[id(scope)] = AttributeStores()
            body = scope.body if type(scope) is cst.Module else body_of(scope.body)
            for statement in iter_statements(body, into_functions=False, into_classes=False):
                _collect_stores(statement, scope, found, _object_key)
        return found

    def self_attributes(self, class_node) -> dict[str, list]:
        """A view of `self_stores`: each attribute's bound values, in source order, one per store;
        None for a store whose value is not known whole (unpacked, loop or `with` target,
        augmented assignment). Empty of the same-module bases: walk `lineage` for those."""
        found = self._attributes.get(id(class_node))
        if found is None:
            found = {name: [store.value for store in stores] for name, stores in self.self_stores(class_node).by_name.items()}
            self._attributes[id(class_node)] = found
        return found

    def method_names(self, class_node) -> set[str]:
        """Names of the methods defined directly in the class body."""
        return {s.name.value for s in body_of(class_node.body) if isinstance(s, cst.FunctionDef)}


def _collect_stores(statement, method, found: AttributeStores, key_of) -> None:
    """The attribute stores of one statement (its own header and lines, not its body's), each
    under `key_of(target)` (None: not a store of this kind).
    Node kinds are told by exact class, not isinstance (an ABC check): this runs per statement."""
    kind = type(statement)
    if kind is cst.For:
        _add_targets(statement.target, method, found, key_of, StoreKind.FOR)
    elif kind is cst.With:
        for item in statement.items:
            if item.asname is not None:
                _add_targets(item.asname.name, method, found, key_of, StoreKind.WITH)
    elif kind is not cst.SimpleStatementLine and kind is not cst.SimpleStatementSuite:
        return
    for small in statement.body if kind is cst.SimpleStatementLine or kind is cst.SimpleStatementSuite else ():
        small_kind = type(small)
        if small_kind is cst.Assign:
            for target in small.targets:
                _add_targets(target.target, method, found, key_of, StoreKind.ASSIGN, small.value)
        elif small_kind is cst.AnnAssign:
            if small.value is not None:
                _add_targets(small.target, method, found, key_of, StoreKind.ASSIGN, small.value)
        elif small_kind is cst.AugAssign:
            _add_targets(small.target, method, found, key_of, StoreKind.AUGMENT, small.value)
        elif small_kind is cst.Expr and type(small.value) is cst.Call:
            if _sets_attributes_by_name(small):
                found.dynamic = True
            elif key_of is _self_key:
                _add_registered(small.value, method, found)


def _add_targets(target, method, found: AttributeStores, key_of, kind: StoreKind, value=None, index=None) -> None:
    """The stores of one target: `value` is what an ASSIGN target is given whole, or what an
    AUGMENT reads; the elements of a tuple or list target are UNPACK stores of it."""
    target_kind = type(target)
    if target_kind is cst.Tuple or target_kind is cst.List:
        flat = not any(type(e) is cst.StarredElement for e in target.elements) and index is None
        for position, element in enumerate(target.elements):
            element_kind = StoreKind.UNPACK if kind is StoreKind.ASSIGN else kind
            _add_targets(element.value, method, found, key_of, element_kind, value, position if flat else -1)
    elif target_kind is cst.StarredElement:
        _add_targets(target.value, method, found, key_of, kind, value, -1)
    elif target_kind is cst.Attribute:
        key = key_of(target)
        if key is not None:
            if kind is StoreKind.ASSIGN:
                store = AttributeStore(target, value, method)
            elif kind is StoreKind.UNPACK or kind is StoreKind.AUGMENT:
                store = AttributeStore(target, None, method, kind, value, None if index is None or index < 0 else index)
            else:
                store = AttributeStore(target, None, method, kind)
            found.by_name.setdefault(key, []).append(store)
    elif target_kind is cst.Subscript and _is_self_dict(target.value):
        found.dynamic = True  # `self.__dict__[key] = value`


def _self_key(target) -> str | None:
    """`self.<attr>`: the attribute."""
    value = target.value
    return target.attr.value if type(value) is cst.Name and value.value == "self" else None


def _object_key(target) -> str | None:
    """`a.<attr>`, `a.b.<attr>` of an object other than `self`: the dotted target."""
    key = dotted_name(target)
    return None if key is None or key.startswith("self.") else key


def _add_registered(call, method, found: AttributeStores) -> None:
    """`self.register_buffer("name", value)` binds `self.name` (a computed name binds none we know)."""
    func = call.func
    if not (type(func) is cst.Attribute and func.attr.value == "register_buffer" and _is_self(func.value)):
        return
    positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
    name = positional[0].value if positional else None
    value = positional[1].value if len(positional) >= 2 else next(
        (arg.value for arg in call.args if arg.keyword is not None and arg.keyword.value == "tensor"), None)
    if type(name) is cst.SimpleString and value is not None:
        found.by_name.setdefault(name.evaluated_value, []).append(AttributeStore(name, value, method, StoreKind.REGISTER))


def _sets_attributes_by_name(small) -> bool:
    """`setattr(self, ...)`, `self.__dict__.update(...)` or `vars(self).update(...)` as a statement."""
    if not isinstance(small, cst.Expr) or not isinstance(small.value, cst.Call):
        return False
    call = small.value
    func = call.func
    if isinstance(func, cst.Name) and func.value == "setattr":
        return bool(call.args) and _is_self(call.args[0].value)
    return isinstance(func, cst.Attribute) and func.attr.value == "update" and _is_self_dict(func.value)


def _is_self_dict(expr) -> bool:
    """`self.__dict__` or `vars(self)`."""
    if isinstance(expr, cst.Attribute):
        return expr.attr.value == "__dict__" and _is_self(expr.value)
    return (
        isinstance(expr, cst.Call)
        and isinstance(expr.func, cst.Name)
        and expr.func.value == "vars"
        and len(expr.args) == 1
        and _is_self(expr.args[0].value)
    )


def _is_self(expr) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "self"
