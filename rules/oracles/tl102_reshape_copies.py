"""TL102 at run time: the reshape returned new storage (it copied), with the bytes copied."""

from __future__ import annotations

from torchlint.rules.oracles import Oracle, first_line
from torchlint.rules.oracles.observations import ReshapeCall, Run, Verdict


def judge(call: ReshapeCall, run: Run) -> Verdict:
    if call.error is not None:
        return Verdict(False, f"reshape raised {first_line(call.error)}")
    evidence = {"copied_bytes": call.copied_bytes, "source_shape": list(call.source_shape),
                "source_stride": list(call.source_stride)}
    if call.copied:
        return Verdict(True, f"copied {call.copied_bytes} B (new storage)", evidence)
    return Verdict(False, "returned a view (same storage, 0 B)", evidence)


ORACLE = Oracle("TL102", (ReshapeCall,), judge, runtime_only=True)
