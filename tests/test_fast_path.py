"""The fast paths: no LibCST for files no rule can trigger, and the read-only tree walk."""

import json
import os
import subprocess
import sys

import pytest

from torchlint.testing import lint_snippet


def _modules_after(argv, cwd):
    """Run the CLI in a fresh interpreter; return (exit code, loaded modules)."""
    probe = (
        "import json, sys\nfrom torchlint.cli import main\n"
        f"sys.argv = {['torchlint', *argv]!r}\n"
        "code = 0\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "sys.stderr.write(json.dumps([code, sorted(sys.modules)]))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=cwd, timeout=120)
    code, modules = json.loads(result.stderr.strip().splitlines()[-1])
    return code, set(modules)


def _has_libcst(modules):
    return any(m == "libcst" or m.startswith("libcst.") for m in modules)


def test_clean_file_never_imports_libcst(tmp_path):
    (tmp_path / "plain.py").write_text("import os\n\n\ndef add(a, b):\n    return a + b\n")
    code, modules = _modules_after(["check", "--isolated", "--no-cache", "plain.py"], tmp_path)
    assert code == 0
    assert not _has_libcst(modules)


def test_syntax_error_in_a_file_no_rule_needs_is_found_without_libcst(tmp_path):
    (tmp_path / "broken.py").write_text("def f(:\n    pass\n")
    code, modules = _modules_after(["check", "--isolated", "--no-cache", "broken.py"], tmp_path)
    assert code == 1
    # CPython's parser found it; LibCST is loaded only to confirm a rejection that might be
    # grammar newer than this interpreter's, and this file holds no such construct.
    assert not _has_libcst(modules)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="needs a CPython that rejects 3.12 syntax")
def test_a_rejection_that_may_be_newer_grammar_is_confirmed_by_libcst(tmp_path):
    (tmp_path / "alias.py").write_text("type Alias = list[int]\n")
    (tmp_path / "broken.py").write_text("type Alias = list[int]\ndef f(:\n    pass\n")
    code, modules = _modules_after(["check", "--isolated", "--no-cache", "--output-format", "concise", "."], tmp_path)
    assert code == 1 and _has_libcst(modules)
    assert lint_snippet("type Alias = list[int]\n") == []
    assert [d.code for d in lint_snippet("type Alias = list[int]\ndef f(:\n    pass\n")] == ["TL001"]


def test_code_beyond_cpythons_nesting_limits_is_a_syntax_error_as_python_says():
    # CPython's tokenizer stops at 200 nested brackets: `python` cannot compile this file. LibCST,
    # whose parser overflows its stack a little further on, is not asked to overrule that verdict.
    found = lint_snippet("x = " + "(" * 300 + "1" + ")" * 300 + "\n")
    assert [(d.code, d.message) for d in found] == [("TL001", "syntax error: too many nested parentheses")]


def test_a_syntax_error_cell_with_no_newer_grammar_is_reported_at_its_own_row():
    import json

    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": source}
             for source in ("x = 1\n", "def f(:\n    pass\n", "y = x\n")]
    notebook = json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    found = lint_snippet(notebook, path="nb.ipynb")
    assert [(d.code, d.cell, d.span.start.row) for d in found] == [("TL001", 2, 1)]


def test_version_does_not_import_libcst(tmp_path):
    code, modules = _modules_after(["--version"], tmp_path)
    assert code == 0
    assert not _has_libcst(modules)


def test_file_with_a_trigger_does_use_libcst(tmp_path):
    (tmp_path / "ds.py").write_text("from torch.utils.data import Dataset\nclass A(Dataset):\n    pass\n")
    code, modules = _modules_after(["check", "--isolated", "--no-cache", "ds.py"], tmp_path)
    assert code == 1
    assert _has_libcst(modules)


BROKEN = [
    "def f(:\n    pass\n",
    "x = (1,\ny = 2\n",
    "if True:\npass\n",
    "def f():\n\treturn 1\n        return 2\n",
    "print 'hello'\n",
    "x = 1 +\n",
    "class A:\n    def f(self):\n        return [\n",
    "a = 'unterminated\n",
    "f(**)\n",
    "x = $\n",
    "for x in range(3):\n    pass\n  else:\n    pass\n",
    "else:\n    pass\n",
]


@pytest.mark.parametrize("source", BROKEN)
def test_syntax_errors_are_reported_the_same_with_or_without_libcst(source):
    # Same rows and columns; one file carries a word that wakes a rule (so LibCST parses it),
    # the other a word of the same length that wakes none (so only CPython's parser runs).
    with_trigger = lint_snippet(source + "# Dataset\n")
    without = lint_snippet(source + "# Nothing\n")
    assert [(d.code, d.span, d.message) for d in with_trigger] == [(d.code, d.span, d.message) for d in without]
    assert [d.code for d in without] == ["TL001"]


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="needs a CPython that rejects 3.12 syntax")
def test_newer_grammar_rejected_by_this_cpython_is_not_a_syntax_error():
    assert lint_snippet("type Alias = list[int]\n") == []


# --- the read-only walk ------------------------------------------------------------------------

SAMPLES = [
    "@dec(1)\nasync def f(a, /, b: int = 2, *args, c, **kw) -> None:\n    x = [i for i in y if i]\n    return await g(x)\n",
    "class A(B, metaclass=M):\n    '''doc'''\n    x: int = 1\n    def f(self):  # comment\n        return self.x[1:2, ...]\n",
    "try:\n    pass\nexcept (A, B) as e:\n    raise X from e\nelse:\n    pass\nfinally:\n    del a, b\n",
    "with open(p) as f, g() as (a, b):\n    y = {k: v for k, v in f}\n    z = lambda q=1: q if q else -q\n",
    "match p:\n    case [1, *rest] if rest:\n        pass\n    case {'k': v, **kw}:\n        pass\n    case C(a=1) | None:\n        pass\n",
    "x = f'{a!r:>{width}} {b=}'\nglobal g\nfrom . import (a as b, c)\nimport os.path as osp\n",
    "while (n := n - 1) > 0:\n    x @= y; x **= 2\n    assert x, 'msg'\nelse:\n    print(*a, **k)\n",
    "x = not a and b or c < d <= e is not f\ny = ~a + -b * (c // d) % e\nz = {1, 2} | {*s}\nw = a[::2]\n",
]


def _libcst_order(module, include_trivia):
    import libcst as cst

    from torchlint.walk import TRIVIA

    seen = []

    class Recorder(cst.CSTVisitor):
        def on_visit(self, node):
            if include_trivia or type(node).__name__ not in TRIVIA:
                seen.append(node)
            return True

    module.visit(Recorder())
    return seen


def _corpus():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    texts = list(SAMPLES)
    for folder in ("torchlint", "rules"):
        for root, _, files in os.walk(os.path.join(here, folder)):
            texts += [open(os.path.join(root, name), encoding="utf-8").read() for name in sorted(files) if name.endswith(".py")][:3]
    return texts


@pytest.mark.parametrize("include_trivia", [False, True])
def test_walk_visits_the_same_nodes_in_the_same_order_as_libcst(include_trivia):
    import libcst as cst

    from torchlint.walk import TRIVIA, Dispatch, walk

    names = [n for n in dir(cst) if isinstance(getattr(cst, n), type) and issubclass(getattr(cst, n), cst.CSTNode)]
    if not include_trivia:
        names = [n for n in names if n not in TRIVIA]
    for text in _corpus():
        module = cst.parse_module(text)
        seen = []
        walk(module, Dispatch([("visit_" + name, seen.append) for name in names]))
        assert [id(n) for n in seen] == [id(n) for n in _libcst_order(module, include_trivia)]


@pytest.mark.parametrize("wanted", [("Call", "ClassDef"), ("Name",), ("Integer", "Lambda", "Param"), ("Decorator", "ImportAlias")])
def test_a_walk_for_some_node_classes_sees_every_node_of_them_in_libcst_order(wanted):
    # the walk does not enter what cannot hold a wanted node (names, numbers, operators...)
    import libcst as cst

    from torchlint.walk import Dispatch, walk

    for text in _corpus():
        module = cst.parse_module(text)
        seen = []
        walk(module, Dispatch([("visit_" + name, seen.append) for name in wanted]))
        expected = [n for n in _libcst_order(module, include_trivia=False) if type(n).__name__ in wanted]
        assert [id(n) for n in seen] == [id(n) for n in expected]


def test_a_walk_for_statements_only_enters_no_expression():
    # rules of classes and of the whole module pay nothing for the expressions of a file
    import libcst as cst

    from torchlint.walk import TRIVIA, walked_fields

    entered = walked_fields(TRIVIA, frozenset({"ClassDef", "Module"}))
    assert {cst.ClassDef, cst.FunctionDef, cst.IndentedBlock, cst.If, cst.Else, cst.Try, cst.Match} <= set(entered)
    assert not {cst.Call, cst.ListComp, cst.CompFor, cst.Lambda, cst.SimpleStatementLine, cst.Expr} & set(entered)
    assert entered[cst.ClassDef] == ("body",)  # not its bases, decorators or keywords
    calls = walked_fields(TRIVIA, frozenset({"Call"}))
    assert {cst.Call, cst.CompFor, cst.CompIf, cst.ListComp} <= set(calls) and cst.Name not in calls


def test_walk_calls_visit_and_leave_handlers_in_libcst_order():
    import libcst as cst

    from torchlint.walk import Dispatch, walk

    module = cst.parse_module("f(a, g(b))\n")
    events = []

    class Recorder(cst.BatchableCSTVisitor):
        def visit_Call(self, node):
            events.append(("visit", cst.Module([]).code_for_node(node)))

        def leave_Call(self, node):
            events.append(("leave", cst.Module([]).code_for_node(node)))

        def visit_Name(self, node):
            events.append(("name", node.value))

    cst.visit_batched(module, [Recorder()])
    expected, events[:] = list(events), []
    recorder = Recorder()
    handlers = [(name, getattr(recorder, name)) for name in ("visit_Call", "leave_Call", "visit_Name")]
    walk(module, Dispatch(handlers))
    assert events == expected


def test_children_match_libcst():
    import libcst as cst

    from torchlint.walk import children

    for text in SAMPLES:
        for node in _libcst_order(cst.parse_module(text), include_trivia=True):
            assert [id(c) for c in children(node)] == [id(c) for c in node.children]


# --- positions for the nodes findings point at ---------------------------------------------------


def test_selective_positions_equal_libcsts_position_provider():
    import random

    import libcst as cst

    from torchlint.positions import positions_for

    chooser = random.Random(8)
    for text in _corpus() + ["x = 1\r\ny = (\r\n  2)\r\n", "if a:\n    pass\nelse:\n    pass"]:
        module = cst.parse_module(text)
        full = cst.MetadataWrapper(module, unsafe_skip_copy=True).resolve(cst.metadata.PositionProvider)
        nodes = list(full)
        everything = positions_for(module, nodes)
        assert all(everything[node] == full[node] for node in nodes)
        some = chooser.sample(nodes, min(12, len(nodes)))
        located = positions_for(module, some)
        assert all(located[node] == full[node] for node in some)


def test_positions_are_computed_only_for_files_with_findings(monkeypatch):
    import torchlint.positions as positions

    calls = []
    real, real_in_statements = positions.positions_for, positions.positions_in_statements
    monkeypatch.setattr(positions, "positions_for", lambda module, nodes: calls.append(1) or real(module, nodes))
    monkeypatch.setattr(
        positions, "positions_in_statements", lambda *args: calls.append(1) or real_in_statements(*args)
    )
    assert lint_snippet("from torch.utils.data import Dataset\nx = Dataset\n") == []
    assert calls == []
    found = lint_snippet("from torch.utils.data import Dataset\nclass A(Dataset):\n    def __len__(self): return 1\n")
    assert [d.span.start.row for d in found] == [2]
    assert calls == [1]  # one pass for every node of every finding


def test_children_are_libcsts_children_without_the_rebuild():
    import libcst as cst

    from torchlint.walk import children

    nodes = _libcst_order(cst.parse_module(SAMPLES[0] + SAMPLES[4]), include_trivia=True)
    assert [[id(c) for c in children(node)] for node in nodes] == [[id(c) for c in node.children] for node in nodes]
