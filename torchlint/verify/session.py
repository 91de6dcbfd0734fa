"""Trace the user's own program or test session in this process and sum what each source line cost.

`TraceSession(root)` is what `python -m torchlint.verify.run` (behind `torchlint verify -- CMD`) and
the pytest plugin install: a `Tracer` that records only calls made from files under the project
root (not torch, third-party packages, a virtual environment inside the root, or torchlint), with
the pytest node id that was running. Observations are judged by the rules' oracles as the run goes
("settled": a site keeps only its latest call alive, so a training loop of 10,000 steps does not keep
10,000 tensors) and summed per site: (file, line, rule code) → calls, how many held, bytes, an
example of what was measured, and the tests that ran it. `finish()` returns that as JSON-ready data;
`torchlint.verify.user` joins it with the static findings.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field

from torchlint.verify.worker import jsonable

_NOT_USER_PARTS = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep, os.sep + ".venv" + os.sep,
                   os.sep + "venv" + os.sep, os.sep + ".tox" + os.sep, os.sep + ".nox" + os.sep)
_SETTLE_EVERY = 256

ACTIVE: TraceSession | None = None


@dataclass
class Site:
    """What one rule's oracle saw at one source line, summed over every call made there."""

    path: str  # relative to the project root, `/`-separated
    line: int
    code: str
    name: str  # the call, e.g. `repeat`
    calls: int = 0
    held: int = 0  # calls for which the rule's claim holds
    bytes: dict[str, int] = field(default_factory=dict)  # evidence `*_bytes`, summed over the calls that held
    holds_example: dict | None = None  # {"observed", "evidence"} of the first call that held
    other_example: dict | None = None  # ... of the first call that did not
    tests: dict[str, bool] = field(default_factory=dict)  # node id -> whether the claim held there
    callers: list[int] = field(default_factory=list)  # enclosing call lines in the same file


class TraceSession:
    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)
        self.sites: dict[tuple[str, int, str], Site] = {}
        self.tracer = None
        self.setup_seconds = 0.0  # patching and oracle imports
        self.oracle_errors: list[str] = []
        self._user: dict[str, bool] = {}
        import torchlint
        import torchlint.rules

        self._own = tuple(os.path.realpath(os.path.dirname(m.__file__)) + os.sep for m in (torchlint, torchlint.rules))
        self.started = 0.0

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        global ACTIVE
        self.started = time.perf_counter()
        from torchlint.rules.oracles import oracles_by_code
        from torchlint.verify.tracer import Tracer

        oracles_by_code()  # import the oracle modules now, not inside the first traced call
        self.tracer = Tracer(is_user_file=self.is_user_file)
        self.tracer.settle_at, self.tracer.on_full = _SETTLE_EVERY, self.settle
        self.tracer.late_imports = True
        self.tracer.__enter__()
        ACTIVE = self
        self.setup_seconds = time.perf_counter() - self.started

    def finish(self) -> dict:
        """Stop tracing, judge what is left, and return the sites with the tracer's own cost."""
        global ACTIVE
        ACTIVE = None
        tracer = self.tracer
        if tracer is None:
            return {"root": self.root, "sites": [], "overhead_seconds": 0.0, "seconds": 0.0, "oracle_errors": []}
        tracer.__exit__(None, None, None)
        started = time.perf_counter()
        with tracer.quiet():
            self.settle(tracer, final=True)
        judging = time.perf_counter() - started
        return {"root": self.root, "sites": [asdict(site) for site in self.sites.values()],
                "overhead_seconds": round(self.setup_seconds + tracer.overhead_seconds + judging, 4),
                "seconds": round(time.perf_counter() - self.started, 4), "oracle_errors": self.oracle_errors[:20]}

    # -- which frames are the user's -------------------------------------------------------------

    def is_user_file(self, filename: str) -> bool:
        known = self._user.get(filename)
        if known is None:
            path = os.path.realpath(filename) if filename and not filename.startswith("<") else ""
            known = bool(path) and path.startswith(self.root + os.sep) and not path.startswith(self._own) and not any(
                part in path for part in _NOT_USER_PARTS)
            self._user[filename] = known
        return known

    # -- judging -----------------------------------------------------------------------------------

    def settle(self, tracer, final: bool = False) -> None:
        """Judge every call except each site's latest (all of them when `final`) and forget them."""
        from torchlint.rules.oracles.observations import EstimatorCall

        latest: dict[tuple, int] = {}
        for position, call in enumerate(tracer.calls):
            latest[(call.file, call.line, call.column, type(call))] = position
        keep = []
        for position, call in enumerate(tracer.calls):
            # Fits stay until the end: their oracle looks at later uses of the estimator and the split.
            if not final and (isinstance(call, EstimatorCall) or latest[
                    (call.file, call.line, call.column, type(call))] == position):
                keep.append(call)
                continue
            self.judge(call, tracer)
        tracer.calls = keep
        alive = {id(call) for call in keep}
        tracer.repeats = [call for call in tracer.repeats if id(call) in alive]
        tracer.expands = tracer.expands[-64:]
        tracer.settle_at = len(keep) + _SETTLE_EVERY

    def judge(self, call, run) -> None:
        from torchlint.rules.oracles import judge_all

        if not self.is_user_file(call.file):
            return
        try:
            verdicts = judge_all(call, run)
        except Exception as exc:  # an oracle bug: reported, never the user's run ending
            self.oracle_errors.append(f"{type(call).__name__} at {call.file}:{call.line}: {type(exc).__name__}: {exc}")
            return
        path = os.path.relpath(os.path.realpath(call.file), self.root).replace(os.sep, "/")
        raised_only = type(call).__name__ == "RaisedError"
        for code, verdict in verdicts.items():
            if raised_only and not verdict.holds:
                continue  # an error that is not this rule's says nothing about the rule
            site = self.sites.get((path, call.line, code))
            if site is None:
                site = self.sites[(path, call.line, code)] = Site(path, call.line, code, call.name)
            site.calls += 1
            example = {"observed": verdict.observed, "evidence": jsonable(verdict.evidence)}
            if verdict.holds:
                site.held += 1
                site.holds_example = site.holds_example or example
                for key, value in verdict.evidence.items():
                    if key.endswith("_bytes") and isinstance(value, int):
                        site.bytes[key] = site.bytes.get(key, 0) + value
            else:
                site.other_example = site.other_example or example
            if call.test is not None:
                site.tests[call.test] = site.tests.get(call.test, False) or verdict.holds
            for line in call.callers:
                if line not in site.callers:
                    site.callers.append(line)

    def record_raise(self, error: BaseException, test: str | None = None) -> None:
        """Judge an exception that ended the program or a test, at the last user line it passed."""
        from torchlint.rules.oracles.observations import RaisedError

        where = None
        tb = error.__traceback__
        while tb is not None:
            if self.is_user_file(tb.tb_frame.f_code.co_filename):
                where = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
            tb = tb.tb_next
        if where is None or self.tracer is None:
            return
        observation = RaisedError(type(error).__name__, where[0], where[1], 0, error=error, index=-1, test=test)
        with self.tracer.quiet():
            self.judge(observation, self.tracer)
