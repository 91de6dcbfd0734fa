"""TL203 at run time: a loss's graph is still alive two iterations later, and no backward pass used it since."""

from __future__ import annotations

from torchlint.rules.oracles import Oracle
from torchlint.rules.oracles.observations import LossGraph, Run, Verdict


def judge(call: LossGraph, run: Run) -> Verdict | None:
    if not call.graph:
        return Verdict(False, f"`{call.name}` returned a loss without an autograd graph (gradients off)",
                       {"graph": False})
    if call.earlier is None:
        return None  # the first two losses of this line: nothing to look back at yet
    later_passes = call.earlier.passes - call.earlier_passes
    evidence = {"earlier_alive": call.earlier_alive, "alive_graphs": call.alive_graphs,
                "backward_passes_after": later_passes}
    if not call.earlier_alive:
        return Verdict(False, "the graph of the loss made at this line two iterations earlier was freed", evidence)
    if later_passes:
        return Verdict(False, "the graph of the loss made here two iterations earlier was kept, then "
                              "back-propagated later (a deliberate sum)", evidence)
    return Verdict(True, f"the graph of the loss made here two iterations earlier is still alive "
                         f"({call.alive_graphs} earlier graphs of this line alive) and no backward pass used it "
                         "since: something keeps it", evidence)


ORACLE = Oracle("TL203", (LossGraph,), judge, around=True)
