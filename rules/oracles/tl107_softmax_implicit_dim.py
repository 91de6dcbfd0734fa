"""TL107 at run time: PyTorch warns that the softmax dimension was chosen implicitly."""

from __future__ import annotations

import warnings

from torchlint.rules.oracles import Oracle
from torchlint.rules.oracles.observations import ModuleCreated, Run, SoftmaxCall, Verdict

IMPLICIT = "Implicit dimension choice"
MODULES = ("Softmax", "LogSoftmax", "Softmin")


def judge(call: SoftmaxCall | ModuleCreated, run: Run) -> Verdict | None:
    if isinstance(call, ModuleCreated):
        return _judge_module(call, run)
    implicit = [w for w in call.warnings if IMPLICIT in w]
    if implicit:
        return Verdict(True, f"warned: {_short(implicit[0])}", {"warnings": len(implicit)})
    return Verdict(False, f"{call.name} chose no dimension implicitly (no warning)", {"warnings": 0})


def _judge_module(call: ModuleCreated, run: Run) -> Verdict | None:
    import torch

    module = call.module
    if type(module).__name__ not in MODULES or not type(module).__module__.startswith("torch.nn"):
        return None  # another module: nothing to say about softmax
    with run.quiet(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module(torch.zeros(2, 3))
    implicit = [str(w.message) for w in caught if IMPLICIT in str(w.message)]
    evidence = {"dim": repr(getattr(module, "dim", None))}
    if implicit:
        return Verdict(True, f"{type(module).__name__} called on a 2-D input warned: {_short(implicit[0])}", evidence)
    return Verdict(False, f"{type(module).__name__}(dim={module.dim!r}) did not warn", evidence)


def _short(message: str) -> str:
    return message.split(" has been")[0]


ORACLE = Oracle("TL107", (SoftmaxCall, ModuleCreated), judge)
