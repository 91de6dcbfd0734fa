"""Render verify records: a rich table with a summary line, or JSON records."""

from __future__ import annotations

import json
from collections import Counter
from typing import TextIO

from torchlint.verify.join import Record


def summary(records: list[Record]) -> str:
    counts = Counter((r.kind, r.agree) for r in records)
    claims = counts[("claim", True)] + counts[("claim", False)]
    traps = counts[("trap", True)] + counts[("trap", False)]
    disagree = sum(not r.agree for r in records)
    devices = sorted({r.device for r in records if r.device != "-"})
    codes = sorted({r.code for r in records if r.kind == "claim" and r.agree})
    text = (f"{len(records)} records: {claims} claims ({counts[('claim', True)]} confirmed), "
            f"{traps} traps ({counts[('trap', True)]} harmless), {counts[('error', False)]} errors; "
            f"{disagree} disagree")
    if devices:
        text += f" [devices: {', '.join(devices)}]"
    if codes:
        text += f"\nconfirmed codes: {', '.join(codes)}"
    return text


def _where(record: Record) -> str:
    return f"cell {record.cell}:{record.line}" if record.cell is not None else str(record.line)


def render_table(records: list[Record], stream: TextIO, color: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    # On a pipe, wide enough that rows stay on one line for grep and diff.
    console = Console(file=stream, no_color=not color, highlight=False, width=None if color else 240,
                      force_terminal=color)
    table = Table(show_lines=False, pad_edge=False, box=None)
    for column in ("code", "fixture", "case", "line", "device", "kind", "measured", "verdict"):
        table.add_column(column, overflow="fold", no_wrap=column in ("code", "line", "device", "kind"))
    for record in records:
        source = "static+marker" if record.static and record.marker else "static" if record.static else (
            "marker" if record.marker else "")
        kind = f"{record.kind} ({source})" if source else record.kind
        verdict = _verdict(record)
        style = "green" if record.agree else "bold red"
        table.add_row(record.code or "-", record.fixture, record.case, _where(record), record.device, kind,
                      record.observed, f"[{style}]{verdict}[/]")
    console.print(table)
    console.print(summary(records))


def _verdict(record: Record) -> str:
    if record.kind == "claim":
        return "confirmed" if record.agree else "REFUTED"
    if record.kind == "trap":
        return "harmless" if record.agree else "HARMFUL"
    return "ERROR"


def render_json(records: list[Record], stream: TextIO) -> None:
    json.dump([record.as_json() for record in records], stream, indent=2)
    stream.write("\n")
