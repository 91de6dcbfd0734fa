"""TL206 at run time: a forward in evaluation mode returns an output with a graph that nothing uses."""

from __future__ import annotations

from torchlint.rules.oracles import Oracle
from torchlint.rules.oracles.observations import ModuleForward, Run, Verdict


def judge(call: ModuleForward, run: Run) -> Verdict | None:
    if call.training:
        return None  # a training forward: no claim about evaluation
    evidence = {"module": call.name, "grad_enabled": call.grad_enabled, "requires_grad": call.requires_grad,
                "grad_fn": call.grad_fn, "backpropagated": call.backpropagated}
    if not call.grad_enabled:
        return Verdict(False, "gradients were disabled during the forward: no graph", evidence)
    if not call.requires_grad:
        return Verdict(False, "the output requires no grad: no graph was recorded", evidence)
    if call.backpropagated:
        return Verdict(False, "a backward reached the output: the graph was needed", evidence)
    return Verdict(True, f"eval-mode output has grad_fn {call.grad_fn or '(leaf)'} and nothing back-propagates "
                         "through it: the graph is thrown away", evidence)


ORACLE = Oracle("TL206", (ModuleForward,), judge)
