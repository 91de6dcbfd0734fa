"""TL207 at run time: a scheduler's first step ran before its optimizer had ever stepped."""

from __future__ import annotations

from torchlint.rules.oracles import Oracle
from torchlint.rules.oracles.observations import Run, SchedulerStep, Verdict

WARNING = "before `optimizer.step()`"


def judge(call: SchedulerStep, run: Run) -> Verdict | None:
    if call.scheduler == "ReduceLROnPlateau" or not call.first or call.error is not None:
        return None  # only the first step can show the skipped value; a plateau follows a metric
    warned = [w for w in call.warnings if WARNING in w]
    evidence = {"lr_before": list(call.lr_before), "lr_after": list(call.lr_after), "warned": bool(warned),
                "optimizer_stepped": call.optimizer_stepped}
    if call.optimizer_stepped:
        return Verdict(False, "the optimizer stepped before the scheduler's first step", evidence)
    moved = call.lr_before != call.lr_after
    if call.explicit and not moved:
        return Verdict(False, "step(epoch) set the learning rate of that epoch: no value skipped", evidence)
    rates = f"lr {_rate(call.lr_before)} -> {_rate(call.lr_after)}"
    said = "PyTorch warned" if warned else "no warning seen"
    return Verdict(True, f"first scheduler step before any optimizer step ({rates}, unused; {said})", evidence)


def _rate(values) -> str:
    return f"{values[0]:.4g}" if values else "?"


ORACLE = Oracle("TL207", (SchedulerStep,), judge)
