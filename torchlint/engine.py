"""One file's journey: read → decode → prefilter → parse once → one batched walk → suppress → sort.

`lint_file` is a pure function of (path, settings): it returns a `FileResult` and never raises for
a bad input file, so it can run in a worker process and its result can be cached.
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading
import warnings
from typing import TYPE_CHECKING, Iterable

from torchlint import codes
from torchlint._lazy import lazy_module
from torchlint.diagnostics import Diagnostic, FileResult, Fix, Note, Position, Span
from torchlint.registry import make_diagnostic
from torchlint.rule import Report, Rule
from torchlint.source import SourceError, TooLarge, check_size, decode_python, read_bytes, read_limit

if TYPE_CHECKING:
    from collections.abc import Callable

    from torchlint.config import Settings
    from torchlint.notebook import NotebookSource

    # (text, CPython's tree of it) -> LibCST's module of the text, or None to parse it whole
    Reparse = Callable[[str, object], object]

cst = lazy_module("libcst")

# LibCST's visitors recurse once per tree level; deeply nested (but valid) code needs headroom.
RECURSION_LIMIT = 20_000
# CPython's verdict is taken under its default limit, as `python` would compile the file.
CPYTHON_RECURSION_LIMIT = 1_000
# Deeper syntax trees are not given to LibCST: 2,000 chained calls (a tree 4,000 deep) take it
# minutes. Real code stays below 100; 500 chained calls (1,000 deep) take about a second.
MAX_NESTING_DEPTH = 1_000


class FileContext:
    """What a rule sees of the file being linted."""

    def __init__(
        self, module, path: str, text: str | None = None, enabled_codes: Iterable[str] = (), cpython_tree=None
    ) -> None:
        from torchlint.facts import ModuleFacts

        self.module = module
        self.path = path
        self.text = text  # the code `module` was parsed from
        self.enabled_codes = frozenset(enabled_codes)  # the rules run on this file, for precedence between rules
        self.facts = ModuleFacts(module, path=path)
        self.reports: list[Report] = []
        self.statement = None  # the top-level statement the walk is in (None: outside the module's body)
        self._cpython_tree = cpython_tree  # CPython's tree of the same code, for the statements' rows
        self._rows: list[int] | None = None
        self._statement_of: dict[int, object] = {}  # id(report) -> the top-level statement it was made in
        self._positions: dict = {}

    def release(self) -> None:
        """Drop the file's facts and findings once its diagnostics are made.

        Facts refer to one another and to the facts table that holds them: left alone, these
        cycles keep the whole tree alive until the garbage collector's next full pass, so every
        full pass would scan the dead trees of the files linted since the last one.
        """
        self.facts.release()
        self.reports.clear()
        self._statement_of.clear()
        self._positions.clear()

    def add_report(self, report: Report) -> None:
        self.reports.append(report)
        self._statement_of[id(report)] = self.statement

    def statement_of(self, report: Report):
        """The top-level statement the walk was in when `report` was made (None: after the body)."""
        return self._statement_of.get(id(report))

    def locate(self, nodes: Iterable, hints: Iterable = ()) -> None:
        """Compute the positions of these nodes in one pass (only files with findings pay for it).

        Only the top-level statements holding them are regenerated (`hints` are searched first)
        when CPython's tree gives those statements' rows; else the whole module is.
        """
        from torchlint.positions import in_text, positions_for, positions_in_statements

        missing = [node for node in nodes if node not in self._positions]
        if not missing:
            return
        located = None
        rows = self._first_rows()
        if rows is not None and self.text is not None:
            located = positions_in_statements(self.module, missing, self.text, rows, hints)
        if located is None:
            located = positions_for(self.module, missing)
            located = in_text(self.module, located, self.text) if self.text else located
        self._positions.update(located)

    def _first_rows(self) -> list[int] | None:
        if self._cpython_tree is not None:  # worked out once, on the first finding's demand
            self._rows = _first_rows(self.module, self._cpython_tree)
            self._cpython_tree = None
        return self._rows

    def focused_span(self, node) -> Span:
        """Where a finding or a note on `node` points: a chained method call at `.name(args)`."""
        from torchlint.positions import focus_nodes, focused_range

        self.locate(focus_nodes(node))
        return _span(focused_range(node, self._positions))

    def span(self, node) -> Span:
        if node not in self._positions:
            self.locate([node])
        return _span(self._positions[node])


def _first_rows(module, tree) -> list[int] | None:
    """The row where each statement of `module.body` starts, leading blank and comment lines
    included, from CPython's tree of the same code; None where the two trees do not pair up.

    A LibCST statement line holds as many small statements as CPython has statements for it
    (`a = 1; b = 2`); any other top-level statement is one of CPython's.
    """
    import ast

    rows = []
    statements = iter(tree.body)
    for statement in module.body:
        count = len(statement.body) if isinstance(statement, cst.SimpleStatementLine) else 1
        first = next(statements, None)
        if first is None or any(next(statements, None) is None for _ in range(count - 1)):
            return None
        decorators = first.decorator_list if isinstance(first, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else []
        row = decorators[0].lineno if decorators else first.lineno
        rows.append(row - len(getattr(statement, "leading_lines", ())))
    return rows if next(statements, None) is None else None


def _span(code_range) -> Span:
    return Span(
        Position(code_range.start.line, code_range.start.column + 1),
        Position(code_range.end.line, code_range.end.column + 1),
    )


def lint_text(text: str, path: str, enabled: Iterable[type[Rule]], reparse: Reparse | None = None):
    """Lint one program's text with the given rules: diagnostics in the text's own rows.

    Returns (diagnostics, parsed): `parsed` is False when the text is not valid Python, or is
    too deeply nested to analyse. CPython's parser judges first: LibCST never sees code that
    CPython rejects for its nesting, nor code nested deeper than `MAX_NESTING_DEPTH`.

    `reparse(text, cpython_tree)`, if given, may return the module LibCST's parse of the text
    gives, built from an earlier version's (the server's `Reparser`); None: parse it whole.
    """
    rules = [rule for rule in enabled if _may_trigger(rule, text)]
    if not rules:
        error = _syntax_error_without_libcst(text, path)
        return ([error] if error else []), error is None
    from torchlint.literals import blank_huge_literals

    problem, tree = _cpython_verdict(text)
    if problem is not None and (problem.final or _too_complex_to_confirm(text)):
        return [problem.diagnostic(path, text)], False
    if tree is not None:
        depth = nesting_depth(tree)
        if depth > MAX_NESTING_DEPTH:
            return [_too_deep(path, depth)], False
    with warnings.catch_warnings():  # it compiles the text too: CPython's warnings are not ours to print
        warnings.simplefilter("ignore")
        folded = blank_huge_literals(text, tree)  # the tree CPython's verdict made: not parsed twice
    try:
        module = reparse(folded, tree) if reparse is not None else None
        if module is None:
            module = _parse(folded, validate=problem is not None)
    except _SyntaxProblem as found:
        return [(problem or found).diagnostic(path, text)], False
    context = FileContext(module, path, folded, enabled_codes=[rule.code for rule in rules], cpython_tree=tree)
    crashed = _run_rules(context, rules)
    context.locate(_located_nodes(context.reports), [context.statement_of(report) for report in context.reports])
    diagnostics = [_to_diagnostic(context, report, path) for report in context.reports]
    for rule, exc in crashed:
        diagnostics.append(_internal_error(path, f"rule {rule.code} ({rule.name}) crashed: {exc!r}"))
    context.release()
    return diagnostics, True


def nesting_depth(tree) -> int:
    """The depth of a CPython syntax tree: how deep LibCST's parser and visitors would recurse."""
    import ast

    node_type, bool_op = ast.AST, ast.BoolOp
    fields_of = _AST_FIELDS
    deepest = 0
    stack = [(tree, 1)]
    push, pop = stack.append, stack.pop
    # `ast.iter_child_nodes`, inlined (this runs over every node of every file), reading only
    # the fields that may hold a node, and without stacking the leaves that hold nothing
    # (`Load`, `Store`, operators): they count as one level.
    while stack:
        node, depth = pop()
        kind = type(node)
        # `a and b and c` is one flat BoolOp here, but nested pairs in LibCST: count them.
        below = depth + (len(node.values) if kind is bool_op else 1)
        leaf = depth
        fields = fields_of.get(kind)
        if fields is None:
            fields = _ast_node_fields(kind)
        for name in fields:
            value = getattr(node, name, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, node_type):
                        if item._fields:
                            push((item, below))
                        else:
                            leaf = below
            elif isinstance(value, node_type):
                if value._fields:
                    push((value, below))
                else:
                    leaf = below
        if leaf > deepest:
            deepest = leaf
    return deepest


_AST_FIELDS: dict[type, tuple[str, ...]] = {}
_AST_PRIMITIVES = frozenset({"identifier", "string", "constant", "int"})


def _ast_node_fields(kind: type) -> tuple[str, ...]:
    """The fields of a CPython node class that may hold nodes: all but those its grammar line
    (the class's docstring, `Name(identifier id, expr_context ctx)`) types as names, strings,
    constants or ints; all of them when that line does not describe exactly its fields."""
    fields = tuple(getattr(kind, "_fields", ()))
    signature = re.fullmatch(r"\w+\((.*)\)", ((kind.__doc__ or "").splitlines() or [""])[0].strip())
    if signature is not None:
        typed = [part.split() for part in signature.group(1).split(",") if part.strip()]
        if all(len(pair) == 2 for pair in typed) and tuple(name for _, name in typed) == fields:
            fields = tuple(name for grammar, name in typed if grammar.rstrip("?*") not in _AST_PRIMITIVES)
    _AST_FIELDS[kind] = fields
    return fields


def _too_deep(path: str, depth: int) -> Diagnostic:
    return make_diagnostic(
        codes.UNREADABLE_FILE,
        f"not analysed: the code is nested {depth:,} levels deep, deeper than torchlint's limit of {MAX_NESTING_DEPTH:,}",
        path,
    )


def _too_complex_to_confirm(text: str) -> bool:
    """Could a statement of this (CPython-rejected) text nest deeper than `MAX_NESTING_DEPTH`?

    Without a syntax tree, the operators and keywords of each logical line bound its depth from
    above; LibCST is asked to confirm CPython's verdict only below that bound.
    """
    import io
    import tokenize

    count = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.NEWLINE:
                count = 0
            elif token.type == tokenize.OP or (token.type == tokenize.NAME and token.string in _NESTING_KEYWORDS):
                count += 1
                if count > MAX_NESTING_DEPTH:
                    return True
    except (tokenize.TokenError, SyntaxError, ValueError):
        pass
    return False


_NESTING_KEYWORDS = frozenset({"not", "lambda", "if", "else", "await", "and", "or", "yield", "for", "in", "is"})


def _located_nodes(reports: list[Report]) -> list:
    """Every node a diagnostic will point at: the finding, its notes, its fix's replaced nodes."""
    from torchlint.positions import focus_nodes

    nodes = []
    for report in reports:
        nodes += focus_nodes(report.node)
        nodes += [n for note in report.notes if note.node is not None for n in focus_nodes(note.node)]
        if report.fix is not None:
            nodes += [old for old, _ in report.fix.replacements]
    return nodes


def _may_trigger(rule: type[Rule], text: str) -> bool:
    return (not rule.tokens or any(token in text for token in rule.tokens)) and all(token in text for token in rule.requires)


def _run_rules(context: FileContext, rules: list[type[Rule]]) -> list[tuple[type[Rule], BaseException]]:
    """One batched traversal; if anything raises, rerun rule by rule to isolate the culprit."""
    instances = [rule(context) for rule in rules]
    try:
        _visit(context, instances)
        return []
    except Exception:
        pass
    crashed = []
    context.reports.clear()
    for rule in rules:
        before = len(context.reports)
        try:
            _visit(context, [rule(context)])
        except Exception as exc:  # a rule bug must not cost the user the other rules
            del context.reports[before:]
            crashed.append((rule, exc))
    return crashed


def _visit(context: FileContext, instances: list[Rule]) -> None:
    from torchlint.walk import Dispatch, walk

    dispatch = Dispatch((name, getattr(rule, name)) for rule in instances for name in _visitor_methods(type(rule)))
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, RECURSION_LIMIT))
    def entering(statement) -> None:
        context.statement = statement

    try:
        walk(context.module, dispatch, entering)
    finally:
        sys.setrecursionlimit(old_limit)


_METHOD_CACHE: dict[type, tuple[str, ...]] = {}


def _visitor_methods(rule_cls: type[Rule]) -> tuple[str, ...]:
    try:
        return _METHOD_CACHE[rule_cls]
    except KeyError:
        names = tuple(
            name for name in dir(rule_cls) if name.startswith(("visit_", "leave_")) and callable(getattr(rule_cls, name))
        )
        _METHOD_CACHE[rule_cls] = names
        return names


def _to_diagnostic(context: FileContext, report: Report, path: str) -> Diagnostic:
    rule = report.rule
    fix = None
    if report.fix is not None:
        from torchlint.fixes import replacement_edits

        edits = []
        for old, new in report.fix.replacements:
            edits += replacement_edits(context.module, context.text, old, new, context.span(old))
        fix = Fix(report.fix.message, report.fix.applicability, tuple(edits))
    return Diagnostic(
        code=rule.code,
        name=rule.name,
        message=report.message,
        severity=rule.severity,
        path=path,
        span=context.focused_span(report.node),
        notes=tuple(Note(n.message, context.focused_span(n.node) if n.node is not None else None) for n in report.notes),
        help=report.help,
        fix=fix,
    )


class _SyntaxProblem(Exception):
    def __init__(self, message: str, row: int, column: int, *, final: bool = False) -> None:
        super().__init__(message)
        self.message, self.row, self.column = message, row, column
        self.final = final  # CPython's limits, not its grammar: no other parser is asked to confirm

    def diagnostic(self, path: str, text: str) -> Diagnostic:
        return make_diagnostic(codes.SYNTAX_ERROR, f"syntax error: {self.message}", path, self.row, self.column)


def _parse(text: str, validate: bool = True):
    """LibCST's tree of `text`. `validate=False` when CPython accepted the text: see `_unvalidated`."""
    try:
        if validate:
            return cst.parse_module(text)
        with _unvalidated():
            return cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        raise _syntax_problem(text, exc) from None
    except RecursionError:
        raise _SyntaxProblem("code is nested too deeply to parse", 1, 1) from None
    except Exception as exc:  # the native parser reports some failures as other errors
        raise _SyntaxProblem(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 1, 1) from None


@contextlib.contextmanager
def _unvalidated():
    """LibCST's parser without its per-node checks, while this thread alone runs.

    Every node LibCST builds checks its own fields (`CSTNode.__post_init__` calls `_validate`:
    spacing around keywords, balanced parentheses), a fifth of the cost of a parse. A tree
    its parser builds from code CPython accepted needs no such check: the parser only builds
    what its grammar allows. Nodes built later (fixes) are checked as usual.
    """
    node = cst.CSTNode
    saved = node.__dict__.get("__post_init__")
    # Only where it does nothing but check (a later LibCST may do more there), and while no other
    # thread might build nodes meanwhile.
    if getattr(saved, "__code__", None) is None or saved.__code__.co_names != ("_validate",) \
            or threading.active_count() != 1:
        yield
        return
    node.__post_init__ = _unchecked
    try:
        yield
    finally:
        node.__post_init__ = saved


def _unchecked(self) -> None:
    pass


def _syntax_problem(text: str, exc) -> _SyntaxProblem:
    """Prefer CPython's own message and position; LibCST's carry the real ones only in text."""
    cpython = _cpython_syntax_error(text)
    if cpython is not None:
        return cpython
    message = str(exc.message)
    where = re.search(r"error at (\d+):(\d+)", message)
    row, column = (int(where.group(1)), int(where.group(2))) if where else (exc.editor_line, exc.editor_column)
    message = re.sub(r"^(parser|tokenizer) error: (error at \d+:\d+: )?", "", message)
    return _SyntaxProblem(message, row, max(column, 1))


def _cpython_syntax_error(text: str) -> _SyntaxProblem | None:
    return _cpython_verdict(text)[0]


def _cpython_verdict(text: str):
    """(problem, None) if CPython rejects the text, else (None, its syntax tree).

    Judged under CPython's default recursion limit, as `python` itself would compile the file;
    the compiler's warnings about the checked code (invalid escapes, `is` with a literal) are
    not torchlint's to print.
    """
    import ast
    import warnings

    old_limit = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(CPYTHON_RECURSION_LIMIT)
    except RecursionError:  # called from deeper than the default limit: judge under the current one
        pass
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return None, ast.parse(text)
    except SyntaxError as exc:  # includes IndentationError and TabError
        final = any(limit in exc.msg for limit in _CPYTHON_LIMITS)
        return _SyntaxProblem(exc.msg, exc.lineno or 1, max(exc.offset or 1, 1), final=final), None
    except (RecursionError, MemoryError):
        return _SyntaxProblem("code is nested too deeply for CPython to compile", 1, 1, final=True), None
    except ValueError as exc:
        return _SyntaxProblem(str(exc), 1, 1), None
    finally:
        sys.setrecursionlimit(old_limit)


_CPYTHON_LIMITS = ("too many nested parentheses", "too many levels of indentation", "too complex", "too many statically nested blocks")


# Grammar newer than some supported CPython, by the version that introduced it. The patterns are
# generous (an f-string prefix anywhere counts): a false match costs one LibCST parse.
_NEWER_GRAMMAR = (
    ((3, 11), r"\bexcept\s*\*|[\[:,]\s*\*"),  # except*; PEP 646 `*Ts` in subscripts and annotations
    ((3, 12), r"(?m)^\s*type\s+\w|\b(?:def|class)\s+\w+\s*\[|\b(?i:[rb]?f[rb]?)['\"]"),  # PEP 695, 701
    ((3, 14), r"\bexcept\s+[^:(\n]*,|\b(?i:[rb]?t[rb]?)['\"]"),  # PEP 758 unparenthesized except, PEP 750
)


def _may_be_newer_grammar(text: str) -> bool:
    """Whether CPython's rejection might be of grammar newer than its own, which LibCST parses."""
    return any(sys.version_info < version and re.search(pattern, text) for version, pattern in _NEWER_GRAMMAR)


def _syntax_error_without_libcst(text: str, path: str) -> Diagnostic | None:
    """Syntax check for a file no rule needs to parse: CPython's parser, LibCST only to confirm."""
    problem = _confirmed_syntax_problem(text)
    return problem.diagnostic(path, text) if problem is not None else None


def _confirmed_syntax_problem(code: str) -> _SyntaxProblem | None:
    """CPython's verdict; a rejection is re-checked with LibCST only where the text may hold
    grammar newer than this CPython's (so an ordinary syntax error never imports LibCST).

    Not when CPython hit one of its limits (LibCST's parser overflows its stack on 1,500 nested
    parentheses), nor when a statement could nest deeper than LibCST parses in reasonable time.
    """
    problem = _cpython_syntax_error(code)
    if problem is None or problem.final or not _may_be_newer_grammar(code) or _too_complex_to_confirm(code):
        return problem
    try:
        _parse(code)
    except _SyntaxProblem:
        return problem
    return None


def _internal_error(path: str, message: str) -> Diagnostic:
    return make_diagnostic(codes.INTERNAL_ERROR, message, path)


def internal_error_result(path: str, settings: Settings, message: str) -> FileResult:
    """A file torchlint could not finish: one TL004 finding, its source kept for nothing else."""
    return FileResult(path=path, diagnostics=[_internal_error(path, message)])


def lint_file(
    path: str, settings: Settings, display_path: str | None = None, *, data: bytes | None = None,
    reparse: Reparse | None = None,
) -> FileResult:
    """Lint one file. Never raises for a bad input: problems become diagnostics.

    `reparse`: see `lint_text` (the program of a notebook too).
    """
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, RECURSION_LIMIT))
    try:
        return _lint_file(path, settings, display_path, data, reparse)
    finally:
        sys.setrecursionlimit(old_limit)


def _lint_file(path: str, settings: Settings, display_path: str | None, data: bytes | None, reparse) -> FileResult:
    shown = display_path or path
    enabled_codes = settings.rules_for(shown)
    result = FileResult(path=shown)
    try:
        if data is None:
            data = read_bytes(path, read_limit(path, settings.max_file_size))
        check_size(len(data), read_limit(path, settings.max_file_size))
        if path.endswith(".ipynb"):
            from torchlint.notebook import load_notebook

            notebook = load_notebook(data)
            if notebook is None:
                return result
            check_size(len(notebook.text.encode("utf-8", "surrogatepass")), settings.max_file_size)
            diagnostics = _lint_notebook(notebook, shown, settings, enabled_codes, reparse)
            result.cell_sources = {cell.index: cell.source for cell in notebook.cells}
            result.source = notebook.text
        else:
            text = decode_python(data).text
            diagnostics = _lint_program(text, shown, settings, enabled_codes, reparse)
            result.source = text
    except TooLarge as exc:
        diagnostics = [make_diagnostic(codes.UNREADABLE_FILE, str(exc), shown)]
    except SourceError as exc:
        diagnostics = [make_diagnostic(codes.UNREADABLE_FILE, f"cannot read file: {exc}", shown)]
    except RecursionError:
        diagnostics = [_internal_error(shown, "code is nested too deeply for torchlint to analyse")]
    except Exception as exc:  # an engine bug: report it against this file and go on
        diagnostics = [_internal_error(shown, f"internal error: {exc!r}")]
    result.diagnostics = sorted(
        (d for d in diagnostics if d.code in enabled_codes or d.code == codes.INTERNAL_ERROR),
        key=lambda d: d.sort_key,
    )
    return result


def _lint_program(text: str, path: str, settings: Settings, enabled_codes, reparse=None) -> list[Diagnostic]:
    from torchlint.registry import all_rules
    from torchlint.suppressions import apply_suppressions

    rules = [rule for rule in all_rules() if rule.code in enabled_codes and _visits(rule)]
    diagnostics, parsed = lint_text(text, path, rules, reparse)
    if parsed:
        diagnostics = apply_suppressions(text, diagnostics, enabled_codes, path)
    return diagnostics


def _visits(rule: type[Rule]) -> bool:
    return bool(_visitor_methods(rule))


def _lint_notebook(notebook: NotebookSource, path: str, settings: Settings, enabled_codes, reparse=None) -> list[Diagnostic]:
    """Lint the joined cells (see `NotebookSource.lint`), locating findings in their cells."""
    return notebook.lint(
        lambda text: _lint_program(text, path, settings, enabled_codes, reparse),
        lambda code: _syntax_error_without_libcst(code, path),
    )
