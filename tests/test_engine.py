"""The engine: one walk for all rules, crash isolation, sorting, evidence, positions."""

from torchlint.config import SelectionLayer, load_settings
from torchlint.diagnostics import Severity
from torchlint.engine import lint_file, lint_text
from torchlint.rule import NodeNote, Rule


class _Crashes(Rule):
    code = "TL998"
    name = "crashes"
    severity = Severity.ERROR
    summary = "test rule that raises"

    def visit_Name(self, node):
        if node.value == "boom":
            raise ValueError("rule bug")


class _FlagsNames(Rule):
    code = "TL997"
    name = "flags-names"
    severity = Severity.WARNING
    summary = "test rule that flags every `flag` name"

    def visit_Name(self, node):
        if node.value == "flag":
            self.report(node, "a flag", notes=[NodeNote(node, "here")], help="rename it")


def test_a_crashing_rule_becomes_an_internal_error_and_the_others_still_run():
    diagnostics, parsed = lint_text("flag = boom\nflag = 2\n", "f.py", [_Crashes, _FlagsNames])
    assert parsed
    codes = sorted((d.code, d.span.start.row) for d in diagnostics)
    assert codes == [("TL004", 1), ("TL997", 1), ("TL997", 2)]
    internal = next(d for d in diagnostics if d.code == "TL004")
    assert "TL998" in internal.message and "rule bug" in internal.message


def test_spans_are_one_based_and_evidence_is_kept():
    diagnostics, _ = lint_text("x = 1\n  \nif x:\n    flag = 3\n", "f.py", [_FlagsNames])
    (only,) = diagnostics
    assert (only.span.start.row, only.span.start.column, only.span.end.column) == (4, 5, 9)
    assert only.notes[0].message == "here" and only.notes[0].span == only.span
    assert only.help == "rename it"


def test_rules_whose_tokens_are_absent_do_not_parse_the_file():
    class _NeedsToken(_FlagsNames):
        tokens = ("torch",)

    diagnostics, parsed = lint_text("flag = 1\n", "f.py", [_NeedsToken])
    assert diagnostics == [] and parsed


def test_syntax_errors_are_found_with_or_without_rules_to_run():
    for rules in ([], [_FlagsNames]):
        diagnostics, parsed = lint_text("def f(:\n    pass\n", "f.py", rules)
        assert not parsed
        assert [(d.code, d.span.start.row, d.span.start.column) for d in diagnostics] == [("TL001", 1, 7)]


def test_python_312_syntax_is_not_a_syntax_error_on_older_pythons():
    source = "type Point = tuple[float, float]\nclass Box[T]:\n    pass\n"
    diagnostics, parsed = lint_text(source, "f.py", [])
    assert diagnostics == [] and parsed


def test_results_are_sorted_by_position_then_code():
    settings = load_settings(None, SelectionLayer(), isolated=True)
    source = (
        "from torch.utils.data import Dataset\n"
        "class B(Dataset):\n    def __len__(self): return 1\n"
        "class A(Dataset):\n    def __getitem__(self, i): return i\n"
        "x = 1  # noqa: TL401\n"
    )
    result = lint_file("f.py", settings, data=source.encode())
    assert [(d.span.start.row, d.code) for d in result.diagnostics] == [(2, "TL401"), (4, "TL401"), (6, "TL003")]


def test_crlf_positions():
    diagnostics, _ = lint_text("a = 1\r\n\r\nflag = 2\r\n", "f.py", [_FlagsNames])
    assert diagnostics[0].span.start.row == 3


# --- positions from the top-level statements that hold the nodes ----------------------------------

_STATEMENT_SAMPLES = [
    "# header comment\n\nimport os\n\n\n# about f\n@dec\n# between\n@other(\n    1)\ndef f(a):\n    return a.b(c)\n",
    "a = 1; b = f(2)\n\n\nclass A:\n    x = [\n        1,\n    ]  # trailing\n\n    def g(self): return self.x\n",
    "x = 1\r\ny = (\r\n  2)\r\nif y:\r\n    z = y.view(-1)\r\n",
    "x = 1\ry = (\r  2)\rz = x.view(y)\r",
    "if a:\n    pass\nelif b:\n    c()\nelse:\n    d()\n# footer comment\n",
    "async def f():\n    async with a as b:\n        await b.c(1)\n\n\n@deco\nclass C: pass\n",
    "s = '''\nmulti\nline'''.strip()\nt = \"\\\n\".join(s)\n",
]
# Where CPython's tree gives a row LibCST's statement does not start at, or LibCST's code is not
# the text: the whole module must be generated.
_UNCONFIRMED_SAMPLES = [
    "x = 1\n\fy = x.repeat(2)\n",  # LibCST drops the form feed
    "x = 1\n@ \\\n  deco\nclass C: pass\n",  # CPython's row of the decorator is `deco`'s, not `@`'s
]


def _statement_rows_cases():
    import ast

    import libcst as cst

    from torchlint.engine import _first_rows

    for text in _STATEMENT_SAMPLES + _UNCONFIRMED_SAMPLES:
        module = cst.parse_module(text)
        yield text, module, _first_rows(module, ast.parse(text))


def _ids_under(body) -> set:
    from torchlint.walk import children

    ids, stack = set(), list(body)
    while stack:
        node = stack.pop()
        ids.add(id(node))
        stack.extend(children(node))
    return ids


def test_positions_of_nodes_from_their_statements_equal_libcsts_position_provider():
    import libcst as cst

    from torchlint.positions import in_text, positions_in_statements

    checked = 0
    for text, module, rows in _statement_rows_cases():
        full = cst.MetadataWrapper(module, unsafe_skip_copy=True).resolve(cst.metadata.PositionProvider)
        expected = in_text(module, dict(full), text)
        nodes = [node for node in full if id(node) in _ids_under(module.body)]
        located = positions_in_statements(module, nodes, text, rows)
        if text in _UNCONFIRMED_SAMPLES:
            assert located is None, text
            continue
        assert rows is not None and located is not None, text
        assert {node: located[node] for node in nodes} == {node: expected[node] for node in nodes}, text
        for node in nodes[::7]:  # one at a time, with a hint that is wrong
            assert positions_in_statements(module, [node], text, rows, hints=[module.body[-1]])[node] == expected[node]
        checked += 1
    assert checked == len(_STATEMENT_SAMPLES)


def test_positions_from_statements_refuse_rows_that_do_not_match_the_text():
    from torchlint.positions import positions_in_statements

    for text, module, rows in _statement_rows_cases():
        if text in _UNCONFIRMED_SAMPLES:
            continue
        last = module.body[-1]
        shifted = rows[:-1] + [rows[-1] - 1]  # the last statement one row too early
        assert positions_in_statements(module, [last], text, shifted) is None, text


def test_findings_where_statements_cannot_be_confirmed_are_located_by_the_whole_module():
    import libcst as cst

    from torchlint.positions import positions_in_statements

    module = cst.parse_module("# only a comment\n")
    assert positions_in_statements(module, [module.header[0]], module.code, []) is None
    for text in _UNCONFIRMED_SAMPLES:
        code = text.replace("deco", "flag").replace("x.repeat", "flag")
        found = lint_text(code, "f.py", [_FlagsNames])[0]
        row = next(row for row, line in enumerate(code.split("\n"), start=1) if "flag" in line)
        column = code.split("\n")[row - 1].index("flag") + 1
        assert [(d.span.start.row, d.span.start.column) for d in found] == [(row, column)], code


def test_the_walk_names_each_top_level_statement_before_visiting_it():
    import libcst as cst

    from torchlint.walk import Dispatch, walk

    module = cst.parse_module("# c\nimport a\n\nclass A:\n    x = b\n\n\ndef f():\n    return c\n")
    plain, hooked = [], []
    walk(module, Dispatch([("visit_Name", plain.append), ("leave_Module", plain.append)]))
    walk(
        module,
        Dispatch([("visit_Name", hooked.append), ("leave_Module", hooked.append)]),
        lambda statement: hooked.append(("statement", statement)),
    )
    assert [n for n in hooked if type(n) is not tuple] == plain
    statements = [n[1] for n in hooked if type(n) is tuple]
    assert statements == [*module.body, None]
    names = [n.value if isinstance(n, cst.Name) else n for n in hooked if not isinstance(n, cst.Module)]
    assert names[:2] == [("statement", module.body[0]), "a"]
    assert ("statement", module.body[1]) in names and names.index("x") > names.index(("statement", module.body[1]))


def test_a_linted_files_tree_and_facts_are_freed_without_the_cycle_collector():
    # Batch runs pause the cycle collector while a file is linted (runner._one_collection): a
    # reference cycle left between rules, facts and the tree would keep every tree alive.
    import gc
    from pathlib import Path

    import libcst

    from torchlint.registry import all_rules

    examples = Path(__file__).resolve().parent.parent / "examples"
    text = (examples / "train.py").read_text() + "\n" + (examples / "model.py").read_text()

    def trees() -> int:
        return sum(type(o) is libcst.Module for o in gc.get_objects())

    gc.collect()
    gc.disable()
    try:
        before = trees()
        diagnostics, parsed = lint_text(text, "train.py", all_rules())
        after = trees()
    finally:
        gc.enable()
    assert parsed and len({d.code for d in diagnostics}) > 3
    assert after == before


def test_code_cpython_accepts_is_parsed_without_libcsts_node_checks():
    # LibCST's per-node check rejects this valid line (a LibCST bug: no space before `(lambda`);
    # checked by CPython, the parser's tree is used as it is built.
    from torchlint.engine import lint_text
    from torchlint.registry import all_rules

    diagnostics, parsed = lint_text("x = () if 0 else(lambda:())\n", "a.py", all_rules())
    assert parsed and diagnostics == []


def test_nodes_built_after_a_parse_are_checked_as_usual():
    import libcst as cst
    import pytest

    from torchlint.engine import lint_text
    from torchlint.registry import all_rules

    lint_text("import torch.nn as nn\nclass Net(nn.Module):\n    pass\n", "a.py", all_rules())
    with pytest.raises(cst.CSTValidationError):
        cst.IfExp(test=cst.Name("a"), body=cst.Name("b"), orelse=cst.Name("c"), whitespace_before_if=cst.SimpleWhitespace(""))
    # and code CPython rejects is still judged by LibCST's checked parse
    diagnostics, parsed = lint_text("import torch.nn as nn\nx = (\n", "a.py", all_rules())
    assert not parsed and [d.code for d in diagnostics] == ["TL001"]


def test_a_rule_runs_only_on_files_holding_one_of_its_tokens_and_all_it_requires():
    class _FlagsWithOthers(_FlagsNames):
        tokens = ("flag",)
        requires = ("other",)

    def codes(text):
        return [d.code for d in lint_text(text, "a.py", [_FlagsWithOthers])[0]]

    assert codes("flag = 1\nother = 2\n") == ["TL997"]
    assert codes("flag = 1\n") == []  # the only token, without what the rule requires
    assert codes("other = 1\nflags = 2\n") == []  # not a `flag` name: the rule ran, found nothing


def test_while_another_thread_runs_the_parse_keeps_libcsts_node_checks():
    # another thread might build nodes while the parse runs: they must stay checked
    import threading

    from torchlint.registry import all_rules

    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        diagnostics, parsed = lint_text("x = () if 0 else(lambda:())\n", "a.py", all_rules())
    finally:
        release.set()
        other.join()
    assert not parsed and [d.code for d in diagnostics] == ["TL001"]
