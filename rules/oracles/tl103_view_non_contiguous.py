"""TL103 at run time: the `.view` raised torch's "view size is not compatible" error."""

from __future__ import annotations

from torchlint.rules.oracles import Oracle, first_line
from torchlint.rules.oracles.observations import RaisedError, Run, Verdict, ViewCall

VIEW_ERROR = "view size is not compatible"


def judge(call: ViewCall | RaisedError, run: Run) -> Verdict:
    if isinstance(call, RaisedError):
        return Verdict(isinstance(call.error, RuntimeError) and VIEW_ERROR in str(call.error),
                       f"statement raised {first_line(call.error)}")
    evidence = {"source_shape": list(call.source_shape), "source_stride": list(call.source_stride)}
    if call.error is not None and VIEW_ERROR in str(call.error):
        return Verdict(True, f"raised {first_line(call.error)}", evidence)
    if call.error is not None:
        return Verdict(False, f"raised another error: {first_line(call.error)}", evidence)
    return Verdict(False, "returned a view, no error", evidence)


ORACLE = Oracle("TL103", (ViewCall, RaisedError), judge, raises=True, runtime_only=True)
