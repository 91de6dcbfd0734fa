"""TL202 at run time: `step()` ran with every gradient None or zero."""

from __future__ import annotations

from torchlint.rules.oracles import Oracle
from torchlint.rules.oracles.observations import OptimizerStep, Run, Verdict


def judge(call: OptimizerStep, run: Run) -> Verdict:
    evidence = {"params": call.params, "none_grads": call.none_grads, "zero_grads": call.zero_grads,
                "grad_norm": call.grad_norm}
    empty = call.none_grads + call.zero_grads
    if call.params and empty == call.params:
        return Verdict(True, f"step() ran with {call.none_grads} None and {call.zero_grads} zero "
                             f"gradients of {call.params}", evidence)
    return Verdict(False, f"step() ran with gradients (norm {call.grad_norm:.3g})", evidence)


ORACLE = Oracle("TL202", (OptimizerStep,), judge, around=True)
