"""TL402 at run time: a module built inside another module's method is not among its `modules()`."""

from __future__ import annotations

from torchlint.rules.oracles import Oracle
from torchlint.rules.oracles.observations import ModuleCreated, Run, Verdict


def judge(call: ModuleCreated, run: Run) -> Verdict | None:
    owner, module = call.owner, call.module
    if owner is None:
        return None  # built outside any module's method: no owner to be registered in
    with run.quiet():
        registered = any(m is module for m in owner.modules())
        owned = {id(p) for p in owner.parameters()}
        params = list(module.parameters())
        missing = sum(id(p) not in owned for p in params)
    evidence = {"owner": type(owner).__name__, "module": type(module).__name__,
                "parameters": len(params), "missing": missing}
    if registered:
        return Verdict(False, f"{type(module).__name__} is registered in {type(owner).__name__}", evidence)
    return Verdict(True, f"{type(module).__name__} is not among {type(owner).__name__}.modules(): "
                         f"{missing} of its {len(params)} parameters missing from parameters()", evidence)


ORACLE = Oracle("TL402", (ModuleCreated,), judge)
