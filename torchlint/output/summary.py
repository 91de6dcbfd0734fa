"""The footer shared by the human-readable formats, and `--statistics` (the table instead of findings)."""

from __future__ import annotations

import json
from collections import Counter

from torchlint.output import all_diagnostics


def statistics(results) -> list[dict]:
    """One record a rule with findings, most frequent first: `code`, `name`, `count`, `fixable`.

    `fixable` is true when some of the rule's findings have a safe fix (`--fix` applies them),
    as Ruff's `--statistics` reports it.
    """
    diagnostics = all_diagnostics(results)
    counts = Counter((d.code, d.name) for d in diagnostics)
    fixable = {d.code for d in diagnostics if _safe_fix(d)}
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [{"code": code, "name": name, "count": count, "fixable": code in fixable} for (code, name), count in ordered]


def render_statistics(results, stream, *, as_json: bool) -> None:
    """`--statistics`: the table (or its JSON) and the summary, no findings."""
    records = statistics(results)
    if as_json:
        json.dump(records, stream, indent=2)
        stream.write("\n")
        return
    width = max((len(str(r["count"])) for r in records), default=1)
    for record in records:
        mark = "[*]" if record["fixable"] else "   "
        stream.write(f"{record['count']:>{width}}  {record['code']}  {mark} {record['name']}\n")
    for line in summary_lines(results):
        stream.write(line + "\n")


def _safe_fix(diagnostic) -> bool:
    return diagnostic.fix is not None and diagnostic.fix.applicability.value == "safe"


def summary_lines(results, options=None) -> list[str]:
    diagnostics = all_diagnostics(results)
    lines: list[str] = []
    if not diagnostics:
        lines.append("All checks passed!")
        return lines
    errors = sum(1 for d in diagnostics if d.severity.value == "error")
    warnings = len(diagnostics) - errors
    files = len({d.path for d in diagnostics})
    noun = "finding" if len(diagnostics) == 1 else "findings"
    parts = [f"{errors} error{'s' if errors != 1 else ''}", f"{warnings} warning{'s' if warnings != 1 else ''}"]
    lines.append(f"Found {len(diagnostics)} {noun} ({', '.join(parts)}) in {files} file{'s' if files != 1 else ''}.")
    safe = sum(1 for d in diagnostics if _safe_fix(d))
    unsafe = sum(1 for d in diagnostics if d.fix is not None and d.fix.applicability.value == "unsafe")
    if safe:
        lines.append(f"[*] {safe} fixable with the `--fix` option.")
    if unsafe:
        lines.append(f"{unsafe} more fixable with `--fix --unsafe-fixes` (review them first).")
    lines += _concentrations(diagnostics)
    return lines


CONCENTRATED = 10  # this many findings of one rule in one file, and most of that rule's, is worth a line


def _concentrations(diagnostics) -> list[str]:
    """A line for each file that holds most of a rule's many findings (an exercise notebook full of
    stub cells, a generated module): the place where one `per-file-ignores` entry does the most."""
    per_rule = Counter(d.code for d in diagnostics)
    per_file = Counter((d.code, d.path) for d in diagnostics)
    lines = []
    for (code, path), count in sorted(per_file.items(), key=lambda item: (-item[1], item[0])):
        if count >= CONCENTRATED and 2 * count > per_rule[code]:
            lines.append(
                f"{count} of the {per_rule[code]} {code} findings are in {path}; "
                f"to skip them there: [tool.torchlint.per-file-ignores] \"{path}\" = [\"{code}\"]"
            )
    return lines
