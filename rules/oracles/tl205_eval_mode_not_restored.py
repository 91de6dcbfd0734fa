"""TL205 at run time: after this `eval()`, the model takes a training step still in evaluation mode."""

from __future__ import annotations

from torchlint.rules.oracles import Oracle
from torchlint.rules.oracles.observations import ModeSwitch, ModuleForward, OptimizerStep, Run, Verdict


def judge(switch: ModeSwitch, run: Run) -> Verdict | None:
    if switch.training:
        return None  # `train()`: no claim is made there
    module = switch.module()
    if module is None:
        return None
    later = [call for call in run.calls if call.index > switch.index]
    for position, call in enumerate(later):
        if isinstance(call, ModeSwitch) and call.training and _same(call.module(), module):
            return Verdict(False, f"`train()` at line {call.line} restores training mode before the next training step",
                           {"restored_at": call.line})
        if not (isinstance(call, ModuleForward) and call.backpropagated and _same(call.module(), module)):
            continue
        step = next((c for c in later[position + 1:] if isinstance(c, OptimizerStep)), None)
        if step is None:
            continue  # back-propagated without an update (an attack, a saliency map): not training
        evidence = {"forward_line": call.line, "step_line": step.line, "training": call.training,
                    "modules_in_eval": call.eval_modules}
        if call.training and not call.eval_modules:
            return Verdict(False, f"the model trains in training mode at line {call.line}", evidence)
        return Verdict(True, f"the forward at line {call.line} is back-propagated and stepped (line {step.line}) "
                             f"with model.training False ({call.eval_modules} modules in eval mode)", evidence)
    return Verdict(False, "no training step of this model follows the eval()")


def _same(a, b) -> bool:
    """Is one of the two modules the other, or inside it?"""
    if a is None or b is None:
        return False
    return a is b or any(m is b for m in a.modules()) or any(m is a for m in b.modules())


ORACLE = Oracle("TL205", (ModeSwitch,), judge)
