"""Join a fixture's claims with what its worker observed, into verify records.

A **claim** is a `# expect:` marker or a static finding: the rule says the code on that line
misbehaves. A **trap** is a watched call on a line with no claim: it must behave. Observations
join claims by line (the caller frame's line equals the static finding's start line). Rules whose
claim sits on a line that makes no watched call itself — a `for` loop, a `zero_grad()`, a class
statement for TL401 — are checked against the watched calls of the cases that executed that line
(the case is then "covered" for that code, so its other calls are not traps for it). The
tensor codes, TL303 and TL401 join exactly by line, or through the call site of a helper of the
fixture that made the watched call.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Callable

from torchlint.rules.oracles import oracles_by_code


def _raises(code: str) -> bool:
    """The claim is that the call raises: a case that crashes there did what was predicted."""
    oracle = oracles_by_code().get(code)
    return bool(oracle and oracle.raises)


def _around(code: str) -> bool:
    """The finding may sit on a statement that is not itself the watched call (a loop, a
    `zero_grad()`, a split): its claim falls back to the watched calls of the cases that ran the line."""
    oracle = oracles_by_code().get(code)
    return bool(oracle and oracle.around)


@dataclass(frozen=True)
class Claim:
    line: int  # row in the executed program (a notebook's joined code cells)
    code: str
    static: bool
    marker: bool


@dataclass
class Record:
    code: str
    fixture: str
    case: str
    line: int
    device: str
    kind: str  # claim, trap, or error (a crash no claim predicts, a timeout, a failed worker)
    static: bool
    marker: bool
    agree: bool
    observed: str
    evidence: dict = field(default_factory=dict)
    cell: int | None = None
    # confirmed / refuted / not-exercised (claims), harmless / harmful (traps, runtime-only), error
    verdict: str = ""
    tests: list[str] = field(default_factory=list)  # pytest node ids that exercised it

    def __post_init__(self) -> None:
        if not self.verdict:
            if self.kind == "claim":
                self.verdict = "confirmed" if self.agree else "refuted"
            elif self.kind == "trap":
                self.verdict = "harmless" if self.agree else "harmful"
            else:
                self.verdict = "error"

    @property
    def path(self) -> str:
        return self.fixture

    def fails(self, strict: bool = False) -> bool:
        """Whether this record makes `verify` exit 1: refuted, harmful, an error; not exercised with --strict."""
        if self.kind == "runtime-only":  # a listing of what the rules missed, not a disagreement
            return False
        return self.verdict in ("refuted", "harmful", "error") or (strict and self.verdict == "not-exercised")

    def as_json(self) -> dict:
        record = asdict(self)
        record["path"] = self.fixture
        record["calls"] = self.evidence.get("calls", 0)
        if record["cell"] is None:
            del record["cell"]
        return record


def join(fixture: str, claims: list[Claim], result: dict, relevant: set[str] | None = None,
         locate: Callable[[int], tuple[int | None, int]] | None = None) -> list[Record]:
    """Every claim and trap of one fixture, with whether run time agrees with the linter."""
    locate = locate or (lambda line: (None, line))
    if result.get("fatal"):
        return [_error(fixture, "<module>", 0, result["fatal"], locate)]
    events, runs = result.get("events", []), result.get("runs", [])
    by_line: dict[int, dict[str, Claim]] = defaultdict(dict)
    for claim in claims:
        by_line[claim.line][claim.code] = claim
    relevant = set(relevant or ()) | {claim.code for claim in claims}
    if not relevant:
        relevant = set(oracles_by_code())
    records: list[Record] = []
    covered: set[tuple[str, str, str]] = set()
    for claim in sorted(claims, key=lambda c: (c.line, c.code)):
        records.extend(_check_claim(fixture, claim, events, runs, covered, locate))
    records.extend(_check_traps(fixture, events, by_line, relevant, covered, locate))
    records.extend(_unpredicted_crashes(fixture, runs, records, locate))
    return sorted(records, key=lambda r: (r.cell or 0, r.line, r.code, r.case, r.device))


def _make(fixture, code, case, line, device, kind, claim, agree, event_verdict, locate, calls) -> Record:
    cell, row = locate(line)
    evidence = dict(event_verdict.get("evidence") or {})
    evidence["calls"] = calls
    return Record(code, fixture, case, row, device, kind, bool(claim and claim.static),
                  bool(claim and claim.marker), agree, event_verdict.get("observed", ""), evidence, cell)


def _not_exercised(fixture, claim: Claim, why: str, locate) -> Record:
    # Neither a pass nor a failure: `--strict` makes it one.
    record = _make(fixture, claim.code, "-", claim.line, "-", "claim", claim, True, {"observed": why}, locate, 0)
    record.verdict = "not-exercised"
    return record


def _grouped(events, code):
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for event in events:
        if code in event["verdicts"]:
            groups[(event["case"], event["device"])].append(event)
    return groups


def _pick(events, code, want: bool) -> dict:
    """The verdict to show: one that holds when any does (that is what decided), else the first."""
    for event in events:
        if event["verdicts"][code]["holds"] == want:
            return event["verdicts"][code]
    return events[0]["verdicts"][code]


def _check_claim(fixture, claim: Claim, events, runs, covered, locate) -> list[Record]:
    direct = [e for e in events if e["line"] == claim.line and claim.code in e["verdicts"]]
    if not direct:  # the watched call happens inside a helper that this line calls
        direct = [e for e in events if claim.line in e.get("callers", ()) and claim.code in e["verdicts"]]
    groups = _grouped(direct, claim.code)
    if not groups and not _around(claim.code):
        ran = any(claim.line in run["lines"] for run in runs)
        why = "the line ran, but made no watched call" if ran else "the line never ran in any case"
        return [_not_exercised(fixture, claim, why, locate)]
    if not groups:
        ran = [run for run in runs if claim.line in run["lines"]]
        in_runs = [e for e in events for run in ran if e["case"] == run["case"] and e["device"] == run["device"]]
        groups = _grouped(in_runs, claim.code)
        covered.update((case, device, claim.code) for case, device in groups)
        if not groups:
            why = ("the line ran, but no watched call there or in its cases can confirm it" if ran
                   else "the line never ran in any case")
            return [_not_exercised(fixture, claim, why, locate)]
    records = []
    for (case, device), group in sorted(groups.items()):
        holds = any(e["verdicts"][claim.code]["holds"] for e in group)
        records.append(_make(fixture, claim.code, case, claim.line, device, "claim", claim, holds,
                             _pick(group, claim.code, True), locate, len(group)))
    return records


def _check_traps(fixture, events, by_line, relevant, covered, locate) -> list[Record]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for event in events:
        if event["line"] in by_line or event["kind"] == "raise":  # an error is no watched call: no trap
            continue
        for code in event["verdicts"]:
            if any(code in by_line.get(line, {}) for line in event.get("callers", ())):
                continue  # judged as part of the claim at the helper's call site
            if code in relevant and (event["case"], event["device"], code) not in covered:
                groups[(code, event["case"], event["line"], event["device"])].append(event)
    records = []
    for (code, case, line, device), group in sorted(groups.items(), key=lambda item: (item[0][2], item[0])):
        harmful = any(e["verdicts"][code]["holds"] for e in group)
        records.append(_make(fixture, code, case, line, device, "trap", None, not harmful,
                             _pick(group, code, True), locate, len(group)))
    return records


def _unpredicted_crashes(fixture, runs, records, locate) -> list[Record]:
    predicted = {(r.case, r.device) for r in records if r.verdict == "confirmed" and _raises(r.code)}
    found = []
    for run in runs:
        error = run.get("error")
        if error and (run["case"], run["device"]) not in predicted:
            record = _error(fixture, run["case"], error.get("line") or 0,
                            f"case raised {error['type']}" + (f": {error['message']}" if error["message"] else ""),
                            locate)
            record.device = run["device"]
            found.append(record)
    return found


def _error(fixture, case, line, message, locate) -> Record:
    cell, row = locate(line) if line else (None, 0)
    return Record("", fixture, case, row, "-", "error", False, False, False, message, {}, cell)
