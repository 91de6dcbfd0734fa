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
