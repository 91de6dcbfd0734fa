"""TL303 at run time: scikit-learn rejected the 1-D input ("Expected 2D array")."""

from __future__ import annotations

from torchlint.rules.oracles import Oracle, first_line
from torchlint.rules.oracles.observations import EstimatorCall, RaisedError, Run, Verdict

ONE_D_ERRORS = ("Expected 2D array", "Expected a 2-dimensional container")


def _is_1d_error(error: BaseException | None) -> bool:
    return isinstance(error, ValueError) and any(text in str(error) for text in ONE_D_ERRORS)


def judge(call: EstimatorCall | RaisedError, run: Run) -> Verdict:
    if isinstance(call, RaisedError):
        return Verdict(_is_1d_error(call.error), f"statement raised {first_line(call.error)}")
    if _is_1d_error(call.error):
        return Verdict(True, f"raised {first_line(call.error)}")
    if call.error is not None:
        return Verdict(False, f"raised another error: {first_line(call.error)}")
    return Verdict(False, f"{call.name} accepted the input")


ORACLE = Oracle("TL303", (EstimatorCall, RaisedError), judge, raises=True)
