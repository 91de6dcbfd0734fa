"""Running the engine over many files: discovery, then one `FileResult` per file, sorted."""

from __future__ import annotations

from typing import Iterator

from torchlint.config import Settings
from torchlint.diagnostics import FileResult
from torchlint.discovery import discover
from torchlint.engine import lint_file


def check_paths(paths: list[str], settings: Settings) -> Iterator[FileResult]:
    """Lint every discovered file, yielding results in path order."""
    candidates = sorted(discover(paths, settings), key=lambda c: c.path)
    for candidate in candidates:
        yield lint_file(candidate.path, settings)
