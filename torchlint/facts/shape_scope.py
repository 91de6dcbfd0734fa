"""Dataflow for tensor facts at every program level: functions, module-level code, class bodies.

Scripts and notebooks (a notebook is one module-level program) keep their tensors in module
scope. `ScopedDataflow` is the `Dataflow` the tensor facts and rules use: its `function_of(node)`
is the program model's `flow_of(node)`, the reaching definitions of the innermost scope that
`node` is evaluated in (a def, a class body, or the module), so that every question the tensor
domain asks (`fate_of`, bindings, writes) is answered at module level as inside a function.

    dataflow = self.facts.get(ScopedDataflow)
    flow = dataflow.function_of(node)     # the innermost scope's flow, never None
"""

from __future__ import annotations

from torchlint.facts.dataflow import Dataflow, Flow


class ScopedDataflow(Dataflow):
    """Fact kind: `Dataflow` whose `function_of` answers for every scope, not only defs."""

    def __init__(self, facts) -> None:
        # the same indices and flows as the program model's Dataflow: nothing is walked twice
        self.__dict__ = facts.get(Dataflow).__dict__

    @classmethod
    def build(cls, facts) -> ScopedDataflow:
        return cls(facts)

    def function_of(self, node) -> Flow:
        return self.flow_of(node)
