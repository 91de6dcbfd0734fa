"""The facts layer: what the program means, computed once per file and shared by every rule.

Each kind of fact is a class with a `build(facts)` classmethod; `facts.get(Kind)` builds it on
first use and caches it for the file, so a rule pays only for the facts it asks for and two
rules asking the same question share one answer.
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
