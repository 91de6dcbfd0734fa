"""Join what the user's own run measured (sites, from `TraceSession`) with `torchlint check` findings.

Each static finding whose rule has an oracle becomes one claim record:

- *confirmed*: a call joined with it and the claim held at least once (evidence: what was
  measured, bytes summed over the calls that held);
- *refuted*: calls joined with it and the claim held for none of them;
- *not exercised*: no call joined with it (the line did not run, or made no watched call).

A call joins a finding at the same file and line, or when the finding's line is where the program
called the helper that made the call. Rules whose finding sits on a statement that is not itself
the watched call (`Oracle.around`: a loop for TL201, a fit for TL301) join every call of that rule
made inside the finding's enclosing function (or top-level statement).

Sites where a claim held with no finding there are *runtime-only* (for oracles that declare
`runtime_only`): what the static rules missed, listed with their bytes, largest first.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass

from torchlint.verify.join import Record


@dataclass(frozen=True)
class Finding:
    code: str
    path: str  # relative to the root, `/`-separated
    line: int  # row in the file (in a notebook: the row inside its cell)
    cell: int | None
    message: str


def static_findings(root: str, codes: set[str]) -> list[Finding]:
    """`torchlint check ROOT` findings of these codes, with the project's configuration."""
    from torchlint.config import SelectionLayer, load_settings
    from torchlint.runner import check_paths

    settings = load_settings(None, SelectionLayer(), search_from=root)
    found = []
    for result in check_paths([root], settings, jobs=1):
        for d in result.diagnostics:
            if d.code in codes:
                path = os.path.relpath(os.path.realpath(d.path), root).replace(os.sep, "/")
                found.append(Finding(d.code, path, d.span.start.row, d.cell, d.message))
    return sorted(set(found), key=lambda f: (f.path, f.cell or 0, f.line, f.code))


def _enclosing_ranges(path: str) -> list[tuple[int, int]]:
    """(first, last) line of every function and every top-level statement of a file."""
    try:
        with open(path, "rb") as handle:
            tree = ast.parse(handle.read())
    except (OSError, SyntaxError, ValueError):
        return []
    ranges = [(node.lineno, node.end_lineno or node.lineno) for node in tree.body]
    ranges += [(node.lineno, node.end_lineno or node.lineno) for node in ast.walk(tree)
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return ranges


def _around(ranges: list[tuple[int, int]], line: int) -> tuple[int, int] | None:
    inside = [r for r in ranges if r[0] <= line <= r[1]]
    return min(inside, key=lambda r: r[1] - r[0]) if inside else None


def _bytes_total(site_bytes: dict) -> int:
    # What the mistake cost: the repeat's bytes beyond expand's, or the bytes the reshape copied.
    if "allocated_bytes" in site_bytes:
        return site_bytes["allocated_bytes"] - site_bytes.get("alternative_bytes", 0)
    return sum(site_bytes.values())


def judge(result: dict, findings: list[Finding], oracles: dict) -> list[Record]:
    """Claim records for the findings, then runtime-only records, from one traced run."""
    root = result["root"]
    sites = result.get("sites", [])
    by_key: dict[tuple[str, str], list[dict]] = {}
    for site in sites:
        by_key.setdefault((site["path"], site["code"]), []).append(site)
    ranges: dict[str, list[tuple[int, int]]] = {}
    claimed: set[int] = set()
    records = []
    for finding in findings:
        candidates = [] if finding.cell is not None else by_key.get((finding.path, finding.code), [])
        joined = [s for s in candidates if s["line"] == finding.line] or [
            s for s in candidates if finding.line in s["callers"]]
        if not joined and oracles[finding.code].around and candidates:
            if finding.path not in ranges:
                ranges[finding.path] = _enclosing_ranges(os.path.join(root, finding.path))
            span = _around(ranges[finding.path], finding.line)
            if span is not None:
                joined = [s for s in candidates if span[0] <= s["line"] <= span[1]]
        claimed.update(id(s) for s in joined)
        records.append(_claim(finding, joined))
    extras = [s for s in sites if id(s) not in claimed and s["held"] and oracles[s["code"]].runtime_only]
    extras.sort(key=lambda s: (-_bytes_total(s["bytes"]), -s["held"], s["path"], s["line"]))
    records.extend(_runtime_only(site) for site in extras)
    return records


def _claim(finding: Finding, joined: list[dict]) -> Record:
    calls = sum(s["calls"] for s in joined)
    held = [s for s in joined if s["held"]]
    tests: dict[str, bool] = {}
    for site in joined:
        for test, holds in site["tests"].items():
            tests[test] = tests.get(test, False) or holds
    if not joined:
        verdict, observed, evidence = "not-exercised", "no watched call ran there", {}
        chosen = []
    elif held:
        verdict, chosen = "confirmed", held
        example = held[0]["holds_example"]
        observed, evidence = example["observed"], dict(example["evidence"])
    else:
        verdict, chosen = "refuted", joined
        example = joined[0]["other_example"] or {"observed": "", "evidence": {}}
        observed, evidence = example["observed"], dict(example["evidence"])
    totals: dict[str, int] = {}
    for site in chosen:
        for key, value in site["bytes"].items():
            totals[key] = totals.get(key, 0) + value
    evidence.update({f"total_{key}": value for key, value in totals.items()})
    evidence["calls"] = calls
    evidence["held"] = sum(s["held"] for s in joined)
    shown = sorted(t for t, holds in tests.items() if holds) if verdict == "confirmed" else sorted(tests)
    return Record(finding.code, finding.path, shown[0] if shown else "-", finding.line, "-", "claim", True, False,
                  verdict != "refuted", observed, evidence, finding.cell, verdict=verdict, tests=shown)


def _runtime_only(site: dict) -> Record:
    example = site["holds_example"] or {"observed": "", "evidence": {}}
    evidence = dict(example["evidence"])
    evidence.update({f"total_{key}": value for key, value in site["bytes"].items()})
    evidence["calls"], evidence["held"] = site["calls"], site["held"]
    tests = sorted(t for t, holds in site["tests"].items() if holds)
    return Record(site["code"], site["path"], tests[0] if tests else "-", site["line"], "-", "runtime-only", False,
                  False, True, example["observed"], evidence, None, verdict="harmful", tests=tests)
