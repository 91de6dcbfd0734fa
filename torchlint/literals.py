"""Blanking huge constant literals before LibCST sees them.

Generated files carry data as code: a 1.5 MB line holding a list of half a million numbers. Parsing
it with LibCST and resolving positions takes minutes, yet no rule can find anything inside a list
of constants. Such literals are found with CPython's fast parser and overwritten, inside their
brackets, by spaces (newlines kept), so every line and column of the file stays where it was.
"""

from __future__ import annotations

import ast

from torchlint.positions import split_lines

# Files smaller than this are parsed as they are: folding would cost more than it saves.
MIN_TEXT_SIZE = 200_000
MIN_ELEMENTS = 256
_CONTAINERS = (ast.List, ast.Tuple, ast.Set, ast.Dict)
_OPEN = {ast.List: "[", ast.Tuple: "(", ast.Set: "{", ast.Dict: "{"}


def blank_huge_literals(text: str, tree: ast.Module | None = None) -> str:
    """`text` with its huge constant literals blanked; `tree`: CPython's tree of it, if at hand."""
    if len(text) < MIN_TEXT_SIZE:
        return text
    if tree is None:
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return text
    lines = split_lines(text, keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, _CONTAINERS) and _element_count(node) >= MIN_ELEMENTS and _all_constant(node):
            start = _offset(lines, offsets, node.lineno, node.col_offset)
            end = _offset(lines, offsets, node.end_lineno, node.end_col_offset)
            if text[start] == _OPEN[type(node)] and end - start > 2:
                spans.append((start + 1, end - 1))
    if not spans:
        return text
    pieces = []
    cursor = 0
    for start, end in sorted(spans):
        if start < cursor:
            continue  # nested inside a literal already blanked
        pieces.append(text[cursor:start])
        pieces.append("".join(c if c in "\r\n" else " " for c in text[start:end]))
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


def _offset(lines: list[str], offsets: list[int], lineno: int, col_offset: int) -> int:
    # ast columns are UTF-8 byte offsets within the line.
    line = lines[lineno - 1]
    return offsets[lineno - 1] + len(line.encode("utf-8")[:col_offset].decode("utf-8", "replace"))


def _element_count(node) -> int:
    return len(node.keys) if isinstance(node, ast.Dict) else len(node.elts)


def _all_constant(node) -> bool:
    children = (list(node.keys) + list(node.values)) if isinstance(node, ast.Dict) else node.elts
    for child in children:
        if child is None:
            return False  # `**spread` in a dict display
        if isinstance(child, ast.UnaryOp) and isinstance(child.operand, ast.Constant):
            continue
        if isinstance(child, ast.Constant):
            continue
        if isinstance(child, _CONTAINERS) and _all_constant(child):
            continue
        return False
    return True
