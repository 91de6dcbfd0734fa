"""Jupyter notebooks: code cells joined into one program, IPython syntax masked, rows mapped back.

Cells are linted as one module in document order, so a later cell sees an earlier cell's imports.
Lines that are IPython rather than Python (magics, shell escapes, `?` help) are replaced by `pass`
with the same indentation: line numbers stay aligned, and no finding can start on such a line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from torchlint.source import SourceError

# Cell magics whose body is still Python: only the magic line is masked.
_PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "memit", "snakeviz"})
# `%magic`, `%%magic`, `!shell` (not `!=`), `?obj`: a `%` followed by a space is the modulo
# operator continuing an expression, so it is left alone.
_IPYTHON_LINE = re.compile(r"^(?:%{1,2}[A-Za-z]|![^=]|\?)")
_MAGIC_ASSIGNMENT = re.compile(r"^(\s*[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*\s*=\s*)(?:%[A-Za-z]|![^=])")


@dataclass(frozen=True)
class Cell:
    index: int  # 1-based over all cells of the notebook, markdown included
    first_row: int  # 1-based row of the cell's first line in the joined program
    rows: int
    source: str  # the cell's original text


@dataclass(frozen=True)
class NotebookSource:
    text: str  # the joined, masked program
    cells: tuple[Cell, ...]
    document: dict  # the parsed notebook JSON, kept for writing fixes back
    newline: str

    def locate(self, row: int) -> tuple[int, int]:
        """Map a row of the joined program to (cell index, row within that cell)."""
        for cell in self.cells:
            if cell.first_row <= row < cell.first_row + cell.rows:
                return cell.index, row - cell.first_row + 1
        last = self.cells[-1] if self.cells else Cell(1, 1, 1, "")
        return last.index, max(row - last.first_row + 1, 1)

    def cell_text(self, index: int) -> str:
        for cell in self.cells:
            if cell.index == index:
                return cell.source
        return ""


def cell_source_text(cell: dict) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(str(part) for part in source)
    return str(source)


def mask_ipython(code: str) -> str:
    """Replace IPython-only lines with `pass`, keeping the number of lines."""
    lines = code.splitlines()
    first_code = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first_code is not None and lines[first_code].lstrip().startswith("%%"):
        magic = lines[first_code].lstrip()[2:].split(maxsplit=1)
        if not magic or magic[0] not in _PYTHON_CELL_MAGICS:
            return "\n".join("" for _ in lines)  # a %%bash, %%writefile... cell: not Python
        lines[first_code] = ""
    masked = []
    continuing = False
    for line in lines:
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if continuing:
            masked.append("")
            continuing = stripped.endswith("\\")
            continue
        if _IPYTHON_LINE.match(stripped) or _is_help(stripped):
            masked.append(indent + "pass")
            continuing = stripped.endswith("\\")
        elif _MAGIC_ASSIGNMENT.match(line):
            masked.append(_MAGIC_ASSIGNMENT.match(line).group(1) + "None")
            continuing = stripped.endswith("\\")
        else:
            masked.append(line)
    return "\n".join(masked)


def _is_help(stripped: str) -> bool:
    # `obj?` and `obj??` are IPython help: a dotted name followed by question marks.
    return re.fullmatch(r"[A-Za-z_][\w.]*\?{1,2}", stripped) is not None


def load_notebook(data: bytes) -> NotebookSource | None:
    """Parse notebook JSON; None for a notebook of another language (not ours to lint)."""
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise SourceError(f"notebook is not valid UTF-8: {exc.reason}") from None
    except json.JSONDecodeError as exc:
        raise SourceError(
            f"invalid notebook JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise SourceError("invalid notebook JSON: nested too deeply") from None
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        if isinstance(document, dict) and "worksheets" in document:
            raise SourceError("unsupported notebook format (nbformat 3); convert it to nbformat 4")
        raise SourceError("not a Jupyter notebook: the JSON has no 'cells' list")
    if not _is_python(document):
        return None
    newline = "\r\n" if b"\r\n" in data else "\n"
    cells: list[Cell] = []
    parts: list[str] = []
    row = 1
    for index, cell in enumerate(document["cells"], start=1):
        if not isinstance(cell, dict):
            raise SourceError(f"not a Jupyter notebook: cell {index} is not an object")
        if cell.get("cell_type") != "code":
            continue
        original = cell_source_text(cell)
        masked = mask_ipython(original)
        rows = len(masked.splitlines())
        cells.append(Cell(index=index, first_row=row, rows=rows, source=original))
        if rows:
            parts.append(masked if masked.endswith("\n") else masked + "\n")
        row += rows
    return NotebookSource(text="".join(parts), cells=tuple(cells), document=document, newline=newline)


def _is_python(document: dict) -> bool:
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        return True
    for key, field in (("language_info", "name"), ("kernelspec", "language")):
        info = metadata.get(key)
        if isinstance(info, dict) and isinstance(info.get(field), str):
            return info[field].lower() in ("python", "python3", "ipython", "")
    return True
