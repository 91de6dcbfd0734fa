"""TL104 at run time: the in-place write raised (overlapping memory) or changed the expand's source."""

from __future__ import annotations

from torchlint.rules.oracles import Oracle, first_line
from torchlint.rules.oracles.observations import InplaceWrite, RaisedError, Run, Verdict

OVERLAP_ERRORS = ("refers to a single memory location", "refer to a single memory location")


def judge(call: InplaceWrite | RaisedError, run: Run) -> Verdict:
    if isinstance(call, RaisedError):
        return Verdict(isinstance(call.error, RuntimeError) and any(t in str(call.error) for t in OVERLAP_ERRORS),
                       f"statement raised {first_line(call.error)}")
    evidence = {"shape": list(call.shape), "stride": list(call.stride), "expand_related": call.expand_related}
    if call.error is not None and any(text in str(call.error) for text in OVERLAP_ERRORS):
        return Verdict(True, f"raised {first_line(call.error)}", evidence)
    if call.error is not None:
        return Verdict(False, f"raised another error: {first_line(call.error)}", evidence)
    if not call.expand_related:
        return Verdict(False, "target is not an expanded tensor", evidence)
    if call.source_changed:
        return Verdict(True, "write went through to the expand source (shared memory changed)", evidence)
    return Verdict(False, "expand source unchanged", evidence)


ORACLE = Oracle("TL104", (InplaceWrite, RaisedError), judge, raises=True, runtime_only=True)
