"""What the server lints: a Python file or a notebook, as the editor holds it right now.

A `Snapshot` is one version of an open document turned into what the engine reads from disk:
the bytes of a `.py` file, or an nbformat-4 notebook built from the notebook document's cells
(so `check`'s notebook handling applies unchanged: cells joined into one program, magics
masked, each cell's syntax checked on its own). Each part the client knows by URI (the file
itself, or one cell) keeps its text, to map the engine's rows and columns back.
"""

from __future__ import annotations

import io
import json
import os
import tokenize
from collections.abc import Callable
from dataclasses import dataclass, field

from torchlint.diagnostics import Diagnostic

PYTHON_SUFFIXES = (".py", ".pyi")
PYTHON_LANGUAGES = frozenset({"python", "ipython", "py"})


@dataclass(frozen=True)
class Part:
    """A text the client knows by its own URI: a whole file, or one notebook cell."""

    uri: str
    text: str


@dataclass(frozen=True)
class Snapshot:
    uri: str  # the document's URI (the notebook's, for a notebook)
    version: int | None
    path: str | None  # on disk; None for an unsaved document
    data: bytes  # what the engine reads
    parts: dict[int | None, Part]  # None: the file itself; an int: a notebook cell index (1-based)

    @property
    def is_notebook(self) -> bool:
        return None not in self.parts

    @property
    def shown_path(self) -> str:
        """The path settings and per-file ignores are matched against."""
        if self.path is not None:
            return self.path
        return "untitled.ipynb" if self.is_notebook else "untitled.py"

    @property
    def engine_path(self) -> str:
        """The path handed to the engine: its suffix decides Python or notebook."""
        shown = self.shown_path
        if self.is_notebook and not shown.endswith(".ipynb"):
            return shown + ".ipynb"
        if not self.is_notebook and shown.endswith(".ipynb"):
            return shown + ".py"
        return shown

    def part_for(self, diagnostic_cell: int | None) -> Part:
        """The part a finding (or note, or edit) of the engine lies in."""
        if diagnostic_cell in self.parts:
            return self.parts[diagnostic_cell]
        return next(iter(self.parts.values()))  # a file-level problem of a notebook: its first cell

    def key_of(self, uri: str) -> int | None | str:
        for key, part in self.parts.items():
            if part.uri == uri:
                return key
        return "missing"


@dataclass
class NotebookCellText:
    uri: str
    text: str
    is_code: bool
    language: str | None


def python_snapshot(uri: str, version: int | None, path: str | None, text: str) -> Snapshot:
    return Snapshot(uri, version, path, encode_like_disk(text), {None: Part(uri, text)})


def notebook_snapshot(uri: str, version: int | None, path: str | None, cells: list[NotebookCellText]) -> Snapshot:
    """An nbformat-4 notebook of the cells; code cells in another language are kept as raw cells."""
    document = {
        "cells": [
            {
                "cell_type": "code"
                if cell.is_code and _is_python(cell.language)
                else ("raw" if cell.is_code else "markdown"),
                "metadata": {},
                "source": cell.text,
                **({"outputs": [], "execution_count": None} if cell.is_code else {}),
            }
            for cell in cells
        ],
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    parts = {index: Part(cell.uri, cell.text) for index, cell in enumerate(cells, start=1)}
    return Snapshot(uri, version, path, json.dumps(document).encode("utf-8"), parts)


def _is_python(language: str | None) -> bool:
    return language is None or language.lower() in PYTHON_LANGUAGES


def encode_like_disk(text: str) -> bytes:
    """The bytes the buffer would be saved as: in its PEP 263 encoding when it declares one.

    The engine decodes by that declaration, so the buffer must be encoded the same way; a buffer
    its declared encoding cannot hold is given as UTF-8 and reported as unreadable, as on disk.
    """
    head = "\n".join(text.splitlines()[:2]).encode("utf-8", "surrogateescape")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(head).readline)
    except SyntaxError:
        encoding = "utf-8"
    try:
        return text.encode(encoding)
    except (LookupError, UnicodeEncodeError):
        return text.encode("utf-8", "surrogateescape")


def is_python_document(path: str | None, language: str | None) -> bool:
    if path is not None and path.endswith(PYTHON_SUFFIXES):
        return True
    return language is not None and language.lower() in PYTHON_LANGUAGES


@dataclass
class Linted:
    """One lint of a snapshot: its findings, and what is needed to act on them."""

    snapshot: Snapshot
    diagnostics: list[Diagnostic] = field(default_factory=list)
    excluded: bool = False

    def in_part(self, uri: str) -> list[Diagnostic]:
        key = self.snapshot.key_of(uri)
        first = next(iter(self.snapshot.parts), None)  # a new notebook may have no cells yet
        return [d for d in self.diagnostics if d.cell == key or (d.cell not in self.snapshot.parts and key == first)]


def path_of(uri: str, to_fs_path: Callable[[str], str | None]) -> str | None:
    """The file-system path of a `file:` URI; None for other schemes (unsaved buffers, cells)."""
    if not uri.startswith("file:"):
        return None
    path = to_fs_path(uri)
    return os.path.normpath(path) if path else None
