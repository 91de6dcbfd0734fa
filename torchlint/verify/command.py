"""`torchlint verify -- COMMAND`: run the user's Python command traced, then judge the project's findings.

The command runs as `python -m torchlint.verify.run` under the containment supervisor (its own
session; whatever it starts is killed when it ends; the memory cap, when given, covers the tree).
Its output goes to the terminal as usual (to stderr with `--output-format json`, so that stdout
holds only the JSON). Then the project's static findings are linted in this process and joined
with the measured sites (`torchlint.verify.user`).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

from torchlint.verify.join import Record

EXIT_OK, EXIT_DISAGREE, EXIT_USAGE = 0, 1, 2


def run_traced(command: list[str], root: str, *, timeout: float | None = None, memory_mb: int | None = None,
               to_stderr: bool = False) -> tuple[dict | None, str | None]:
    """Run COMMAND traced; (the run's result, or None and why)."""
    from torchlint.verify.contain import describe, run_contained

    with tempfile.TemporaryDirectory(prefix="torchlint-verify-") as scratch:
        result_path = os.path.join(scratch, "result.json")
        argv = [sys.executable, "-m", "torchlint.verify.run", "--root", root, "--result", result_path, "--", *command]
        cap = (memory_mb or 0) * 2**20
        outcome = run_contained(argv, os.path.join(scratch, "status.json"), timeout=timeout, memory_cap=cap,
                                capture=False, stdout=sys.stderr if to_stderr else None)
        if outcome.timed_out:
            return None, f"timed out after {timeout:g} s"
        try:
            with open(result_path, encoding="utf-8") as handle:
                return json.load(handle), None
        except (OSError, ValueError):
            if outcome.returncode == 2:
                return None, "usage"
            return None, f"the traced command ended without a result: {describe(outcome.status, '', cap or None)}"


def run_plain(command: list[str], root: str) -> float:
    """Wall seconds of COMMAND without the tracer (same interpreter, same containment)."""
    from torchlint.verify.contain import run_contained
    from torchlint.verify.run import resolve

    how, target, argv = resolve(command)
    if how == "module":
        python = [sys.executable, "-m", target, *argv[1:]]
    elif how == "path":
        python = [sys.executable, target, *argv[1:]]
    else:
        python = [sys.executable, "-c", target, *argv[1:]]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="torchlint-verify-") as scratch:
        run_contained(python, os.path.join(scratch, "status.json"), timeout=None, capture=True, cwd=None)
    return time.perf_counter() - started


def records_for(result: dict) -> list[Record]:
    from torchlint.rules.oracles import oracles_by_code
    from torchlint.verify.user import judge, static_findings

    oracles = oracles_by_code()
    return judge(result, static_findings(result["root"], set(oracles)), oracles)


def footer_lines(result: dict, plain_seconds: float | None = None) -> list[str]:
    wall, overhead = result.get("wall_seconds", 0.0), result.get("overhead_seconds", 0.0)
    share = f" ({overhead / wall:.0%})" if wall else ""
    lines = [f"traced run: {wall:.2f} s, exit status {result.get('exit_status')}; tracer's own time "
             f"{overhead:.2f} s{share} (patching, watched-call bookkeeping, oracles)"]
    if plain_seconds:
        lines.append(f"overhead: {wall:.2f} s traced vs {plain_seconds:.2f} s plain = {wall / plain_seconds:.2f}x")
    if result.get("oracle_errors"):
        lines.append(f"{len(result['oracle_errors'])} oracle errors, first: {result['oracle_errors'][0]}")
    return lines


def run_command(command: list[str], root: str, *, output_format: str, color: bool, strict: bool,
                timeout: float | None, memory_mb: int | None, overhead: bool) -> int:
    from torchlint.verify.report import render_json, render_table
    from torchlint.verify.run import CommandError, resolve

    try:
        resolve(command)
    except CommandError as exc:
        print(f"torchlint: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    root = os.path.realpath(root)
    result, why = run_traced(command, root, timeout=timeout, memory_mb=memory_mb, to_stderr=output_format == "json")
    if result is None:
        if why == "usage":
            return EXIT_USAGE
        record = Record("", " ".join(command), "-", 0, "-", "error", False, False, False, why or "", {})
        records, footer = [record], []
    else:
        records = records_for(result)
        plain = run_plain(command, root) if overhead else None
        footer = footer_lines(result, plain)
    if output_format == "json":
        render_json(records, sys.stdout)
        for line in footer:
            print(line, file=sys.stderr)
    else:
        sys.stdout.flush()
        render_table(records, sys.stdout, color, strict, footer)
    sys.stdout.flush()
    return EXIT_DISAGREE if any(r.fails(strict) for r in records) else EXIT_OK
