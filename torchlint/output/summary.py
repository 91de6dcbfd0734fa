"""The footer shared by the human-readable formats, and `--statistics`."""

from __future__ import annotations

from collections import Counter

from torchlint.output import all_diagnostics


def summary_lines(results, options) -> list[str]:
    diagnostics = all_diagnostics(results)
    lines: list[str] = []
    if options.statistics and diagnostics:
        counts = Counter((d.code, d.name) for d in diagnostics)
        fixable = Counter(d.code for d in diagnostics if d.fix is not None and d.fix.applicability.value == "safe")
        width = max(len(str(n)) for n in counts.values())
        for (code, name), count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
            mark = "[*]" if fixable[code] else "   "
            lines.append(f"{count:>{width}}  {code}  {mark} {name}")
    if not diagnostics:
        lines.append("All checks passed!")
        return lines
    errors = sum(1 for d in diagnostics if d.severity.value == "error")
    warnings = len(diagnostics) - errors
    files = len({d.path for d in diagnostics})
    noun = "finding" if len(diagnostics) == 1 else "findings"
    parts = [f"{errors} error{'s' if errors != 1 else ''}", f"{warnings} warning{'s' if warnings != 1 else ''}"]
    lines.append(f"Found {len(diagnostics)} {noun} ({', '.join(parts)}) in {files} file{'s' if files != 1 else ''}.")
    safe = sum(1 for d in diagnostics if d.fix is not None and d.fix.applicability.value == "safe")
    unsafe = sum(1 for d in diagnostics if d.fix is not None and d.fix.applicability.value == "unsafe")
    if safe:
        lines.append(f"[*] {safe} fixable with the `--fix` option.")
    if unsafe:
        lines.append(f"{unsafe} more fixable with `--fix --unsafe-fixes` (review them first).")
    return lines
