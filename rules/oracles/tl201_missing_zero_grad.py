"""TL201 at run time: at `step()`, gradients carried over from the previous step are still there."""

from __future__ import annotations

from torchlint.rules.oracles import Oracle
from torchlint.rules.oracles.observations import OptimizerStep, Run, Verdict


def judge(call: OptimizerStep, run: Run) -> Verdict:
    fresh, carried, total = call.fresh_norm, call.carried_norm, call.grad_norm
    ratio = total / fresh if fresh else float("inf") if total else 1.0
    evidence = {"grad_norm": total, "fresh_norm": fresh, "carried_norm": carried, "gradient_ratio": ratio}
    if carried > 0:
        return Verdict(True, f"grad at step() = {ratio:.2f}x the fresh gradient; "
                             f"norm {carried:.3g} carried over from the previous step", evidence)
    return Verdict(False, f"gradients reset since the previous step (ratio {ratio:.2f})", evidence)


ORACLE = Oracle("TL201", (OptimizerStep,), judge, around=True)
