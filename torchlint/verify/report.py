"""Render verify records: a table that fits the terminal with a summary line, or JSON records."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from typing import TextIO

from torchlint.verify.join import Record

_VERDICT_STYLE = {"confirmed": "green", "harmless": "green", "not-exercised": "yellow", "refuted": "bold red",
                  "harmful": "bold red", "error": "bold red"}
_SAVED_CODES = ("TL101", "TL102")


def _mib(count: int) -> str:
    if abs(count) >= 2**20:
        return f"{count / 2**20:.1f} MiB"
    if abs(count) >= 2**10:
        return f"{count / 2**10:.1f} KiB"
    return f"{count} B"


def cost_bytes(record: Record) -> int:
    """Bytes a confirmed TL101/TL102 claim or a runtime-only site cost over the run (or one call)."""
    evidence = record.evidence
    if "total_allocated_bytes" in evidence:
        return evidence["total_allocated_bytes"] - evidence.get("total_alternative_bytes", 0)
    if "total_copied_bytes" in evidence:
        return evidence["total_copied_bytes"]
    if record.verdict in ("confirmed", "harmful") and "allocated_bytes" in evidence:
        return (evidence["allocated_bytes"] or 0) - (evidence.get("alternative_bytes") or 0)
    if record.verdict in ("confirmed", "harmful") and "copied_bytes" in evidence:
        return evidence["copied_bytes"] or 0
    return 0


def summary(records: list[Record], strict: bool = False) -> str:
    verdicts = Counter(r.verdict for r in records)
    claims = [r for r in records if r.kind == "claim"]
    traps = [r for r in records if r.kind == "trap"]
    runtime_only = [r for r in records if r.kind == "runtime-only"]
    failing = sum(r.fails(strict) for r in records)
    parts = [f"{len(claims)} claims: {verdicts['confirmed']} confirmed, {verdicts['refuted']} refuted, "
             f"{verdicts['not-exercised']} not exercised"]
    if traps:
        parts.append(f"{len(traps)} traps ({verdicts['harmless']} harmless)")
    parts.append(f"{len(runtime_only)} runtime-only"
                 + (f" ({_mib(sum(cost_bytes(r) for r in runtime_only))})" if runtime_only else ""))
    parts.append(f"{verdicts['error']} errors")
    saved = sum(cost_bytes(r) for r in claims if r.verdict == "confirmed" and r.code in _SAVED_CODES)
    text = "; ".join(parts) + f"; {failing} disagree"
    if saved:
        text += f"; fixing every confirmed TL101/TL102 saves {_mib(saved)}"
    devices = sorted({r.device for r in records if r.device != "-"})
    if devices:
        text += f" [devices: {', '.join(devices)}]"
    return text


def _where(record: Record) -> str:
    if record.cell is not None:
        return f"{record.fixture}:cell {record.cell}:{record.line}"
    return f"{record.fixture}:{record.line}" if record.line else record.fixture


def _kind(record: Record) -> str:
    if record.kind != "claim":
        return record.kind
    source = "+".join(name for name, on in (("static", record.static), ("marker", record.marker)) if on)
    return f"claim ({source})" if source else "claim"


def _calls(record: Record) -> str:
    calls = record.evidence.get("calls")
    return str(calls) if calls else ""


def _bytes(record: Record) -> str:
    cost = cost_bytes(record)
    return _mib(cost) if cost else ""


def _tests(record: Record) -> str:
    if record.tests:
        file, _, name = record.tests[0].rpartition("::")
        short = f"{file.rsplit('/', 1)[-1]}::{name}" if file else name
        return short + (f" (+{len(record.tests) - 1})" if len(record.tests) > 1 else "")
    return record.case


# (header, cell, priority: columns with the highest number are dropped first when the table is too wide)
def _verdict(record: Record) -> str:
    return "runtime-only" if record.kind == "runtime-only" else record.verdict


_COLUMNS = (
    ("verdict", _verdict, 0),
    ("code", lambda r: r.code or "-", 0),
    ("where", _where, 0),
    ("case/test", _tests, 3),
    ("device", lambda r: r.device, 5),
    ("kind", _kind, 4),
    ("calls", _calls, 2),
    ("bytes", _bytes, 1),
    ("measured", lambda r: r.observed, 0),
)
_MEASURED_MIN = 24


def table_width(stream: TextIO) -> int:
    """The terminal's width on a terminal; on a pipe $COLUMNS, else 100."""
    if hasattr(stream, "isatty") and stream.isatty():
        return shutil.get_terminal_size((100, 24)).columns
    try:
        return max(40, int(os.environ.get("COLUMNS", "")))
    except ValueError:
        return 100


def fit_columns(records: list[Record], width: int) -> list[tuple]:
    """The columns to show at this width: drop the least useful until the fixed ones leave room."""
    columns = [c for c in _COLUMNS if any(c[1](r) for r in records) or c[2] == 0]
    if all(r.device == "-" for r in records):
        columns = [c for c in columns if c[0] != "device"]

    def needed(cols) -> int:
        fixed = sum(max([len(c[0]), *(len(c[1](r)) for r in records)]) + 2 for c in cols if c[0] != "measured")
        return fixed + _MEASURED_MIN

    while needed(columns) > width:
        droppable = [c for c in columns if c[2] > 0]
        if not droppable:
            break
        columns.remove(max(droppable, key=lambda c: c[2]))
    return columns


def render_table(records: list[Record], stream: TextIO, color: bool, strict: bool = False,
                 footer: list[str] = (), width: int | None = None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    width = width or table_width(stream)
    console = Console(file=stream, no_color=not color, highlight=False, width=width, force_terminal=color,
                      soft_wrap=False)
    columns = fit_columns(records, width)
    table = Table(show_lines=False, pad_edge=False, box=None, expand=False)
    for header, _, _ in columns:
        if header == "measured":
            table.add_column(header, overflow="fold", ratio=1, min_width=_MEASURED_MIN)
        else:
            table.add_column(header, no_wrap=True, overflow="ellipsis")
    for record in records:
        cells = [Text(cell(record)) for _, cell, _ in columns]
        cells[0].stylize(_VERDICT_STYLE.get(record.verdict, ""))
        table.add_row(*cells)
    if records:
        console.print(table)
    for line in footer:
        console.print(Text(line))
    console.print(Text(summary(records, strict)))


def render_json(records: list[Record], stream: TextIO) -> None:
    json.dump([record.as_json() for record in records], stream, indent=2)
    stream.write("\n")
