"""TL105 at run time: a chain of concatenations at one line, each copying the whole accumulator again."""

from __future__ import annotations

from torchlint.rules.oracles import Oracle
from torchlint.rules.oracles.observations import CatCall, Run, Verdict

MIN_CHAIN = 5  # quadratic copying needs a few iterations to show (the rule ignores loops of <= 4 items)


def judge(call: CatCall, run: Run) -> Verdict | None:
    if call.error is not None:
        return None
    once = call.output_bytes
    ratio = call.chain_bytes / once if once else 0.0
    evidence = {"iteration": call.chain, "copied_bytes": call.output_bytes, "chain_copied_bytes": call.chain_bytes,
                "once_copied_bytes": once, "copy_ratio": round(ratio, 3)}
    if call.chain < 2:
        return Verdict(False, "no input is an earlier result of this line: nothing is re-grown", evidence)
    if call.read_between:
        return Verdict(False, f"call {call.chain} of a chain, but an intermediate result was used by another "
                              "operation between two concatenations: every iteration needs it", evidence)
    if call.chain < MIN_CHAIN or not call.growing:
        return Verdict(False, f"a chain of {call.chain} concatenations" +
                       ("" if call.growing else " whose copies did not grow"), evidence)
    if ratio < 1.5:
        return Verdict(False, f"the chain copied {call.chain_bytes} bytes, about what one concatenation "
                              f"would ({once})", evidence)
    return Verdict(True, f"call {call.chain} of a chain at this line copied {call.output_bytes} bytes; "
                         f"{call.chain_bytes} bytes copied so far where one concatenation of the pieces copies "
                         f"{once} ({ratio:.1f}x, growing with every iteration)", evidence)


ORACLE = Oracle("TL105", (CatCall,), judge)
