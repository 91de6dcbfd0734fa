"""The facts layer: what the program means, computed once per file and shared by every rule.

Each kind of fact is a class with a `build(facts)` classmethod; `facts.get(Kind)` builds it on
first use and caches it for the file, so a rule pays only for the facts it asks for and two
rules asking the same question share one answer.

The program model (structure every domain shares):
    statements   syntax helpers: statement bodies, parameters, walking nodes and statements
    names        imports and aliases: what a name or attribute chain refers to
    program      the same-module class hierarchy, methods through bases, `self.<attr>` bindings
    dataflow     per scope (module, class body, function): bindings, uses, aliases, in-place
                 writes (`How`), escapes (`Away`); `flow_of(node)` gives the innermost scope's
    reaching     per scope: reaching definitions (branches merged, loops to a fixpoint)
    summaries    same-module helpers: which def a call runs, which parameter gets which argument,
                 what a def does to its parameters and what it resets or steps (`Act`)
    evidence     the one evidence type: a node and a domain's reason enum, never a sentence
Domain facts (what a value is):
    tensors, layout, layout_ops, fate     tensors: rank, sizes, memory layout; a value's fate
    shape_scope, shape_sizes, shape_modules
                                          tensors at every scope, symbolic sizes, layer outputs
    loops, iteration                      training objects, and what one loop iteration does
    accumulation                          values a loop grows or sums across its iterations
    modes                                 model modes: `eval()` left on in training loops, forwards
                                          in evaluation mode with gradients enabled
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
    # `build` makes a new object for each file, never a shared one: `ModuleFacts.release`
    # empties every fact it built once the file is done.
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

    def release(self) -> None:
        """Forget every fact built, once the file's findings are made; no fact is asked again.

        Facts refer to this table and to one another (a flow to its dataflow and back): emptied,
        they let the file's tree be freed at once, rather than by a later garbage collection.
        """
        for fact in self._cache.values():
            state = getattr(fact, "__dict__", None)
            if type(state) is dict:
                state.clear()
        self._cache.clear()

    @property
    def names(self) -> Names:
        from torchlint.facts.names import Names

        return self.get(Names)
