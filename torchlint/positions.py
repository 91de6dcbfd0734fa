"""Source positions for a few nodes, at a fraction of LibCST's PositionProvider cost.

LibCST's PositionProvider walks the whole tree through a MetadataWrapper and then regenerates the
code recording a range for every node. A lint run needs ranges only for the nodes its findings
point at (the finding, its notes, its fix), so this module regenerates the code once, counting
lines and columns, and records ranges only for those nodes (and for the child nodes their
syntactic ranges are taken from). The ranges are the PositionProvider's, exactly; a test checks
that on real code.

Cheaper still, `positions_in_statements` regenerates only the top-level statements that hold
the nodes, each starting at its own first row (which CPython's syntax tree gives), and checks
that each statement's code is the text found at that row; where it cannot confirm that, it
answers None and the whole module is regenerated.

It also holds the one line-splitting rule every part of torchlint uses: Python's tokenizer's
(`\r\n`, `\r`, `\n`), not `str.splitlines`, which also breaks at `\f`, `\v`, `\x1c`-`\x1e`,
`\x85`, U+2028 and U+2029 (characters that may sit inside a string or a comment).

It relies on LibCST's code generation protocol (`CSTNode._codegen` and its `CodegenState`); if
that is ever unavailable, `positions_for` falls back to the PositionProvider.
"""

from __future__ import annotations

import re
from contextlib import nullcontext
from typing import Any, Iterable

LINE_BREAK = re.compile(r"\r\n|\r|\n")
_NO_RECORD = nullcontext()


def split_lines(text: str, keepends: bool = False) -> list[str]:
    """`text.splitlines(keepends)`, breaking lines only where Python's tokenizer does."""
    lines = []
    start = 0
    for match in LINE_BREAK.finditer(text):
        lines.append(text[start : match.end() if keepends else match.start()])
        start = match.end()
    if start < len(text):
        lines.append(text[start:])
    return lines


def line_starts(text: str) -> list[int]:
    """The offset where each line of `text` starts (one more than the line breaks)."""
    return [0] + [match.end() for match in LINE_BREAK.finditer(text)]


def positions_for(module: Any, nodes: Iterable[Any]) -> dict[Any, Any]:
    """{node: CodeRange} for `nodes` (and possibly a few more) in `module`."""
    try:
        state = _selective_state(module, nodes)
    except ImportError:  # pragma: no cover - a LibCST without the codegen protocol we use
        return _full_positions(module)
    module._codegen(state)
    return state.computed


def positions_in_statements(
    module: Any, nodes: Iterable[Any], text: str, first_rows: list[int], hints: Iterable[Any] = ()
) -> dict[Any, Any] | None:
    """`in_text(module, positions_for(module, nodes), text)`, generating only the statements
    of `module.body` that hold `nodes`; None when that cannot be done exactly.

    `first_rows[i]`: the row of `text` where `module.body[i]` starts, its leading blank and comment
    lines included. `hints`: top-level statements likely to hold the nodes, searched first.
    """
    body = module.body
    if "\f" in text or len(first_rows) != len(body):
        return None  # form feeds: LibCST's code differs from the text (see `in_text`)
    held = _holding_statements(body, nodes, hints)
    if held is None:
        return None
    starts = line_starts(text)
    computed: dict[Any, Any] = {}
    for index, inside in held.items():
        row = first_rows[index]
        if not 1 <= row <= len(starts):
            return None
        state = _selective_state(module, inside)
        state.line = row
        body[index]._codegen(state)
        if not text.startswith("".join(state.tokens), starts[row - 1]):
            return None  # not where CPython's tree says: let the whole module be generated
        computed.update(state.computed)
    return computed


def _holding_statements(body: Any, nodes: Iterable[Any], hints: Iterable[Any]) -> dict[int, list[Any]] | None:
    """{index in `body`: the nodes under that statement}; None if some node is under none."""
    from torchlint.walk import TRIVIA, children

    remaining = {id(node): node for node in nodes}
    index_of = {id(statement): index for index, statement in enumerate(body)}
    order = list(dict.fromkeys(index_of[id(h)] for h in hints if h is not None and id(h) in index_of))
    hinted = set(order)
    order += [index for index in range(len(body)) if index not in hinted]
    # Trivia cannot hold other nodes: skip it unless a node asked for is trivia itself.
    skip = frozenset() if any(type(n).__name__ in TRIVIA for n in remaining.values()) else TRIVIA
    held: dict[int, list[Any]] = {}
    for index in order:
        if not remaining:
            break
        stack = [body[index]]
        while stack and remaining:
            node = stack.pop()
            found = remaining.pop(id(node), None)
            if found is not None:
                held.setdefault(index, []).append(found)
            stack.extend(child for child in children(node) if type(child).__name__ not in skip)
    return None if remaining else held


def in_text(module: Any, computed: dict[Any, Any], text: str) -> dict[Any, Any]:
    """Ranges of `module` moved onto `text`, the code it was parsed from.

    LibCST drops form feeds at the start of a line when it regenerates code (`"\\fx = 1"` comes
    back as `"x = 1"`), so columns on such lines are short by what was dropped.
    """
    if "\f" not in text:
        return computed
    return _corrected(computed, module.code, text)


def code_and_range(module: Any, node: Any) -> tuple[str, Any]:
    """The code LibCST generates for `node` on its own (as `module.code_for_node`), and the
    node's syntactic range (a CodeRange, 1-based lines, 0-based columns) within that code."""
    state = _selective_state(module, [node])
    node._codegen(state)
    return "".join(state.tokens), state.computed[node]


def _corrected(computed: dict[Any, Any], generated: str, text: str) -> dict[Any, Any]:
    """Shift the columns of each line where the parsed text has characters the code lacks."""
    if generated == text:
        return computed
    generated_lines, text_lines = split_lines(generated), split_lines(text)
    if len(generated_lines) != len(text_lines):
        return computed
    shifts = {
        row: len(line) - len(regenerated)
        for row, (regenerated, line) in enumerate(zip(generated_lines, text_lines), start=1)
        if regenerated != line and line.endswith(regenerated)
    }
    if not shifts:
        return computed
    from libcst.metadata import CodePosition, CodeRange

    def moved(position):
        return CodePosition(position.line, position.column + shifts.get(position.line, 0))

    return {node: CodeRange(moved(r.start), moved(r.end)) for node, r in computed.items()}


def _full_positions(module: Any) -> dict[Any, Any]:
    import libcst as cst

    return dict(cst.MetadataWrapper(module, unsafe_skip_copy=True).resolve(cst.metadata.PositionProvider))


def _selective_state(module: Any, nodes: Iterable[Any]):
    state_class = _CLASSES.get("state") or _define_classes()
    return state_class(module.default_indent, module.default_newline, {id(node) for node in nodes})


_CLASSES: dict[str, type] = {}


def _define_classes() -> type:
    from libcst._nodes.internal import CodegenState
    from libcst.metadata import CodePosition, CodeRange

    class _Recorder:
        """Records a node's syntactic range around the code generated inside it."""

        __slots__ = ("state", "node", "start_node", "end_node", "start")

        def __init__(self, state, node, start_node, end_node) -> None:
            self.state, self.node, self.start_node, self.end_node = state, node, start_node, end_node

        def __enter__(self) -> None:
            self.start = (self.state.line, self.state.column)

        def __exit__(self, *exc_info) -> None:
            state = self.state
            computed = state.computed
            start = computed[self.start_node].start if self.start_node is not None else CodePosition(*self.start)
            end = computed[self.end_node].end if self.end_node is not None else CodePosition(state.line, state.column)
            computed[self.node] = CodeRange(start, end)

    class _State(CodegenState):
        """Counts lines and columns of the generated code; records ranges of wanted nodes only."""

        def __init__(self, default_indent: str, default_newline: str, wanted: set[int]) -> None:
            super().__init__(default_indent=default_indent, default_newline=default_newline)
            self.line = 1
            self.column = 0
            self.wanted = wanted  # ids of the nodes whose ranges we need
            self.starts: dict[int, tuple[int, int]] = {}
            self.computed: dict[Any, Any] = {}

        def _advance(self, value: str) -> None:
            if "\n" in value or "\r" in value:
                segments = LINE_BREAK.split(value)
                self.line += len(segments) - 1
                self.column = len(segments[-1])
            else:
                self.column += len(value)

        def add_indent_tokens(self) -> None:
            self.tokens.extend(self.indent_tokens)
            for token in self.indent_tokens:
                self._advance(token)

        def add_token(self, value: str) -> None:
            self.tokens.append(value)
            self._advance(value)

        def before_codegen(self, node) -> None:
            if id(node) in self.wanted:
                self.starts[id(node)] = (self.line, self.column)

        def after_codegen(self, node) -> None:
            start = self.starts.pop(id(node), None)
            if start is not None and node not in self.computed:
                self.computed[node] = CodeRange(CodePosition(*start), CodePosition(self.line, self.column))

        def record_syntactic_position(self, node, *, start_node=None, end_node=None):
            if id(node) not in self.wanted:
                return _NO_RECORD
            # The range is hoisted from these children: they must be recorded too.
            if start_node is not None:
                self.wanted.add(id(start_node))
            if end_node is not None:
                self.wanted.add(id(end_node))
            return _Recorder(self, node, start_node, end_node)

    _CLASSES["state"] = _State
    return _State


# --- where a finding points -------------------------------------------------------------------
#
# A finding (or an evidence note) on a method call of a computed receiver points at the method:
# `torch.cat([...\n]).permute(2, 0, 1).repeat(b, 1)` is located at `.repeat(` and spans
# `.repeat(b, 1)`, not the whole chain from `torch.cat([`, three lines above. A call on a plain
# dotted name (`scaler.fit(X)`, `torch.zeros(3)`) keeps its whole range: the name is part of
# what the finding is about, and it never spans lines on its own.


def focus_nodes(node: Any) -> list[Any]:
    """The nodes whose ranges `focused_range(node, ...)` reads: `node`, and its method's name."""
    attribute = _method_of_computed_receiver(node)
    return [node] if attribute is None else [node, attribute.attr]


def focused_range(node: Any, ranges: dict[Any, Any]) -> Any:
    """The range a finding on `node` reports, from `ranges` holding `focus_nodes(node)`."""
    whole = ranges[node]
    attribute = _method_of_computed_receiver(node)
    if attribute is None:
        return whole
    from libcst.metadata import CodePosition, CodeRange

    name = ranges[attribute.attr].start
    # `.repeat`: start at the dot when it sits right before the name (it does, but for odd spacing).
    whitespace = attribute.dot.whitespace_after
    adjacent = getattr(whitespace, "value", None) == "" and name.column > 0
    start = CodePosition(name.line, name.column - 1) if adjacent else name
    return CodeRange(start, whole.end)


def _method_of_computed_receiver(node: Any) -> Any:
    """For `<expr>.name(...)` whose `<expr>` is not a dotted name: the `Attribute`; else None."""
    import libcst as cst

    if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
        return None
    receiver = node.func.value
    while isinstance(receiver, cst.Attribute) and not receiver.lpar:
        receiver = receiver.value
    if isinstance(receiver, cst.Name) and not receiver.lpar:
        return None
    return node.func
