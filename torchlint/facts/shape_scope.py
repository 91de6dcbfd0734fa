"""Dataflow for tensor facts at every program level: functions, and module-level code.

Scripts and notebooks (a notebook is one module-level program) keep their tensors in module
scope. `ScopedDataflow` is the `Dataflow` the tensor facts and rules use: inside a function it
answers as `Dataflow` does; for a statement at module level it answers with the reaching
definitions of the module body, walked as if it were one function without parameters (nested
functions and classes bind their names; the globals they read count as captured, so the fate of
such a value stays unknown). Class bodies outside methods have no flow (None).

    dataflow = self.facts.get(ScopedDataflow)
    flow = dataflow.function_of(node)     # the function's flow, the module's, or None
"""

from __future__ import annotations

from torchlint._lazy import lazy_module
from torchlint.facts.dataflow import Dataflow, FunctionFlow

cst = lazy_module("libcst")


class _ModuleBody:
    """The module seen as a function without parameters (what the reaching builder walks)."""

    def __init__(self, module) -> None:
        self.params = cst.Parameters()
        self.body = cst.IndentedBlock(body=module.body)


class ScopedDataflow(Dataflow):
    """Fact kind: `Dataflow` whose flows also cover module-level statements."""

    def __init__(self, facts) -> None:
        base = facts.get(Dataflow)
        # share the base's indices and function flows: nothing is walked twice
        self.facts = facts
        self.base = base
        self._parents = base._parents
        self._function_of = base._function_of
        self._flows = base._flows
        self._module_flow: FunctionFlow | None = None

    @classmethod
    def build(cls, facts) -> ScopedDataflow:
        return cls(facts)

    def function_of(self, node) -> FunctionFlow | None:
        flow = super().function_of(node)
        if flow is not None:
            return flow
        if isinstance(node, cst.Module) or self.enclosing_class(node) is None and self.parent(node) is not None:
            return self.module_flow()
        return None

    def module_flow(self) -> FunctionFlow:
        if self._module_flow is None:
            from torchlint.facts.reaching import Builder

            self._module_flow = Builder(self, _ModuleBody(self.facts.module)).build()
        return self._module_flow

    def at_module_level(self, node) -> bool:
        """Is `node` a module-level statement's part (not inside a function or class)?"""
        return self.enclosing_function(node) is None and self.enclosing_class(node) is None
