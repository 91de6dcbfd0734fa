"""The values a lint run produces: findings, their locations, evidence notes and fixes.

Everything here is a frozen dataclass so it can cross process and cache boundaries unchanged.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


class Applicability(str, enum.Enum):
    """How safe it is to apply a fix without review (Ruff's safe and unsafe levels)."""

    SAFE = "safe"  # keeps the program's meaning; applied by `--fix`
    UNSAFE = "unsafe"  # may change behaviour; applied only with `--unsafe-fixes`


@dataclass(frozen=True, order=True)
class Position:
    """A 1-based line and 1-based column (in characters) in the linted source."""

    row: int
    column: int


@dataclass(frozen=True)
class Span:
    start: Position
    end: Position


@dataclass(frozen=True)
class Note:
    """Evidence at a secondary location: "dim 0 has size 1: unsqueeze(0) here"."""

    message: str
    span: Span | None = None
    cell: int | None = None


@dataclass(frozen=True)
class Edit:
    """Replace the text between two positions of the linted source with `content`."""

    span: Span
    content: str
    cell: int | None = None


@dataclass(frozen=True)
class Fix:
    message: str
    applicability: Applicability
    edits: tuple[Edit, ...] = ()


@dataclass(frozen=True)
class Diagnostic:
    code: str
    name: str
    message: str
    severity: Severity
    path: str
    span: Span
    cell: int | None = None  # 1-based notebook cell, rows then count from the cell's first line
    notes: tuple[Note, ...] = ()
    help: str | None = None
    fix: Fix | None = None

    @property
    def sort_key(self) -> tuple:
        return (self.path, self.cell or 0, self.span.start.row, self.span.start.column, self.code)


@dataclass
class FileResult:
    """Everything a run learned about one file; the unit the cache and the process pool move."""

    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # The file's source text, kept only when an output format needs to show a code frame or
    # when fixes are applied; None otherwise to keep results small.
    source: str | None = None
    cell_sources: dict[int, str] | None = None  # notebook cell index -> original cell text
    fixed_source: str | None = None
    fixes_applied: int = 0
