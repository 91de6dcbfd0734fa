"""The facts layer: what the program means, computed once per file and shared by every rule.

Each kind of fact is a class with a `build(facts)` classmethod; `facts.get(Kind)` builds it on
first use and caches it for the file, so a rule pays only for the facts it asks for and two
rules asking the same question share one answer.

The program model (structure every domain shares):
    statements   syntax helpers: statement bodies, parameters, walking nodes and statements
    names        imports and aliases: what a name or attribute chain refers to
    program      the same-module class hierarchy, methods through bases, `self.<attr>` bindings
    dataflow     per function: bindings, uses, aliases, in-place writes (`How`), escapes (`Away`)
    reaching     per function: reaching definitions (branches merged, loops to a fixpoint)
    evidence     the one evidence type: a node and a domain's reason enum, never a sentence
Domain facts (what a value is):
    tensors, layout, layout_ops, fate     tensors: rank, sizes, memory layout; a value's fate
    loops, iteration                      training objects, and what one loop iteration does
    schedules                             scheduler/optimizer step order, samplers never given an epoch
    data, data_interpreter, data_words, data_shapes
                                          data: frames, 1-D values, train/test/validation roles,
                                          fitted objects, fits and splits
Facts return typed answers (dataclasses, enums); rules in `torchlint.rules` judge and word them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    import libcst as cst

    from torchlint.facts.names import Names

T = TypeVar("T", bound="FactKind")


class FactKind(Protocol):
    @classmethod
    def build(cls: type[T], facts: ModuleFacts) -> T: ...


class ModuleFacts:
    def __init__(self, module: cst.Module, *, path: str = "<string>", options: dict | None = None):
        self.module = module
        self.path = path
        self.options = options or {}
        self._cache: dict[type, Any] = {}

    def get(self, kind: type[T]) -> T:
        try:
            return self._cache[kind]
        except KeyError:
            value = self._cache[kind] = kind.build(self)
            return value

    @property
    def names(self) -> Names:
        from torchlint.facts.names import Names

        return self.get(Names)
