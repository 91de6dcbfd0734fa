"""The program model: the file's structure that every domain asks about, resolved once per file.

- the same-module class hierarchy: which class a base expression names, a class's same-module
  bases in order, the method a call on an instance reaches through them;
- attribute bindings: every `self.<attr> = value` (and `register_buffer`) of a class, from any
  of its methods;
- imports come from `Names` (`facts.names`), bindings at each program point from `Dataflow`.

Everything is computed on first use and cached, so a file whose rules ask nothing pays nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from torchlint._lazy import lazy_module
from torchlint.facts.statements import body_of, iter_statements, small_statements

cst = lazy_module("libcst")


class Program:
    def __init__(self, facts) -> None:
        self.facts = facts
        self.names = facts.names
        self._bases: dict[int, list] = {}
        self._attributes: dict[int, dict[str, list]] = {}

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

    # --- attribute bindings -------------------------------------------------------------------

    def self_attributes(self, class_node) -> dict[str, list]:
        """`self.<attr>` values assigned in any method of the class, and `register_buffer` values.

        An augmented or annotated assignment counts twice: the attribute is not set only once.
        """
        found = self._attributes.get(id(class_node))
        if found is not None:
            return found
        found = {}
        for statement in iter_statements(body_of(class_node.body)):
            for small in small_statements(statement):
                if isinstance(small, cst.Assign):
                    for target in small.targets:
                        if _is_self_attribute(target.target):
                            found.setdefault(target.target.attr.value, []).append(small.value)
                elif isinstance(small, (cst.AnnAssign, cst.AugAssign)):
                    if _is_self_attribute(small.target):
                        found.setdefault(small.target.attr.value, []).extend([small.value, small.value])
                elif isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                    self._registered_buffer(small.value, found)
        self._attributes[id(class_node)] = found
        return found

    @staticmethod
    def _registered_buffer(call, found: dict) -> None:
        """`self.register_buffer("name", value)` binds `self.name`."""
        func, args = call.func, call.args
        if isinstance(func, cst.Attribute) and func.attr.value == "register_buffer" and len(args) >= 2 \
                and isinstance(args[0].value, cst.SimpleString):
            found.setdefault(args[0].value.evaluated_value, []).append(args[1].value)

    def method_names(self, class_node) -> set[str]:
        """Names of the methods defined directly in the class body."""
        return {s.name.value for s in body_of(class_node.body) if isinstance(s, cst.FunctionDef)}


def _is_self_attribute(target) -> bool:
    return isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and target.value.value == "self"
