"""Applying fixes: rounds, overlaps, parse checks, safety levels, atomic writes, notebooks, the CLI.

The fix machinery is tested with small rules defined here (registered for the test only), and
with TL003's safe fix, which removes unused suppressions.
"""

from __future__ import annotations

import codecs
import json
import os
import stat

import pytest

import torchlint.registry as registry
from torchlint import fixes
from torchlint.diagnostics import Applicability, Edit, Position, Span
from torchlint.rule import FixSpec, Rule
from torchlint.diagnostics import Severity


def _call_name(node):
    import libcst as cst

    return node.func.value if isinstance(node.func, cst.Name) else None


class _RenameCall(Rule):
    """Replaces a whole call `OLD(args)` with `NEW(args)` (test-only)."""

    code = "TL990"
    name = "test-rename-call"
    severity = Severity.WARNING
    summary = "test rule"
    old, new, applicability = "foo", "bar", Applicability.SAFE

    def visit_Call(self, node) -> None:
        if _call_name(node) == self.old:
            text = self.context.module.code_for_node(node)
            replacement = self.new + text[len(self.old):]
            self.report(node, f"`{self.old}` call", fix=FixSpec(f"Use `{self.new}`", self.applicability, ((node, replacement),)))


class _UnsafeRename(_RenameCall):
    code, name, old, new, applicability = "TL991", "test-unsafe-rename", "baz", "qux", Applicability.UNSAFE


class _BreakingFix(_RenameCall):
    code, name, old, new = "TL992", "test-breaking-fix", "broken", "broken(("


class _NewlineFix(Rule):
    """Replaces `nl()` with a parenthesised expression spanning lines (test-only)."""

    code = "TL993"
    name = "test-newline-fix"
    severity = Severity.WARNING
    summary = "test rule"

    def visit_Call(self, node) -> None:
        if _call_name(node) == "nl":
            self.report(node, "`nl` call", fix=FixSpec("Spread it", Applicability.SAFE, ((node, "(\n    1\n)"),)))


class _Ping(_RenameCall):
    code, name, old, new = "TL994", "test-ping", "ping", "pong"


class _Pong(_RenameCall):
    code, name, old, new = "TL995", "test-pong", "pong", "ping"


TEST_RULES = (_RenameCall, _UnsafeRename, _BreakingFix, _NewlineFix, _Ping, _Pong)


@pytest.fixture
def test_rules(monkeypatch):
    real = registry.all_rules()
    monkeypatch.setattr(registry, "all_rules", lambda: tuple(sorted(real + TEST_RULES, key=lambda r: r.code)))


def _settings(select=("TL990", "TL991", "TL992", "TL993")):
    from torchlint.config import SelectionLayer, load_settings

    return load_settings(None, SelectionLayer(select=list(select)), isolated=True)


def _fix(source: str | bytes, *, path="m.py", unsafe=False, select=("TL990", "TL991", "TL992", "TL993")):
    data = source.encode() if isinstance(source, str) else source
    return fixes.fix_bytes(data, path, _settings(select), unsafe=unsafe)


# --- applying edits --------------------------------------------------------------------------


def _edit(r1, c1, r2, c2, content, cell=None):
    return Edit(Span(Position(r1, c1), Position(r2, c2)), content, cell)


def test_apply_edits_uses_one_based_rows_and_columns_and_keeps_the_rest():
    text = "ab\r\ncd\nef"
    assert fixes.apply_edits(text, [_edit(1, 2, 1, 3, "X"), _edit(3, 1, 3, 1, ">")]) == "aX\r\ncd\n>ef"
    assert fixes.apply_edits(text, [_edit(2, 1, 3, 1, "")]) == "ab\r\nef"
    assert fixes.apply_edits(text, [_edit(3, 1, 4, 1, "")]) == "ab\r\ncd\n"  # the last line, no newline
    assert fixes.apply_edits(text, [_edit(9, 1, 9, 2, "")]) is None
    assert fixes.apply_edits(text, [_edit(1, 9, 1, 9, "")]) is None


def _position(text: str, offset: int) -> Position:
    before = text[:offset]
    lines = fixes._NEWLINE.split(before)
    return Position(len(lines), len(lines[-1]) + 1)


def test_apply_edits_agrees_with_offsets_on_any_text():
    from hypothesis import given
    from hypothesis import strategies as st

    texts = st.text(alphabet=st.sampled_from(list("ab é\t\n\r#")), max_size=40)

    @given(texts, st.lists(st.tuples(st.integers(0, 40), st.integers(0, 5), st.text(max_size=4)), max_size=4))
    def check(text, raw_edits):
        # non-overlapping (start, end, content) in offsets, never splitting a CRLF pair
        edits, cursor = [], 0
        for start, length, content in sorted(raw_edits):
            start = max(start, cursor)
            end = min(start + length, len(text))
            if start > len(text) or any(0 < i < len(text) and text[i - 1 : i + 1] == "\r\n" for i in (start, end)):
                continue
            edits.append((start, end, content))
            cursor = end + 1
        expected = text
        for start, end, content in reversed(edits):
            expected = expected[:start] + content + expected[end:]
        as_positions = [Edit(Span(_position(text, a), _position(text, b)), c) for a, b, c in edits]
        assert fixes.apply_edits(text, as_positions) == expected

    check()


def test_overlapping_fixes_wait_for_the_next_round(test_rules):
    outcome = _fix("x = foo(foo(1))\n")
    assert outcome.fixed == b"x = bar(bar(1))\n"
    assert len(outcome.applied) == 2
    assert outcome.result.diagnostics == []


def test_non_overlapping_fixes_are_taken_together_and_adjacent_ones_do_not_overlap():
    from torchlint.diagnostics import Diagnostic, Fix

    def diagnostic(*edits):
        return Diagnostic("TL990", "t", "m", Severity.WARNING, "m.py", edits[0].span,
                          fix=Fix("f", Applicability.SAFE, tuple(edits)))

    a = diagnostic(_edit(1, 1, 1, 5, ""))
    b = diagnostic(_edit(1, 5, 1, 8, ""))  # touches a's end: no overlap
    c = diagnostic(_edit(1, 3, 1, 6, ""))  # inside a and b
    d = diagnostic(_edit(2, 1, 2, 1, "x"))
    e = diagnostic(_edit(2, 1, 2, 1, "y"))  # a second insertion at the same point
    assert fixes._non_overlapping([c, b, a, e, d]) == [a, b, e]


def test_safe_fixes_only_unless_unsafe_fixes_are_asked_for(test_rules):
    source = "foo(1)\nbaz(2)\n"
    safe = _fix(source)
    assert safe.fixed == b"bar(1)\nbaz(2)\n"
    assert [d.code for d in safe.result.diagnostics] == ["TL991"]
    unsafe = _fix(source, unsafe=True)
    assert unsafe.fixed == b"bar(1)\nqux(2)\n"
    assert unsafe.result.diagnostics == []


def test_a_fix_whose_result_does_not_parse_is_dropped_and_reported(test_rules):
    outcome = _fix("broken(1)\nfoo(2)\n")
    assert outcome.fixed == b"broken(1)\nbar(2)\n"
    assert [d.diagnostic.code for d in outcome.dropped] == ["TL992"]
    assert "does not parse" in outcome.dropped[0].reason
    lines = fixes.problem_lines([outcome])
    assert lines and "m.py:1:1: TL992 fix dropped" in lines[0]
    assert [d.code for d in outcome.result.diagnostics] == ["TL992"]  # still reported


def test_fixes_that_undo_each_other_stop(test_rules):
    outcome = _fix("ping()\n", select=("TL994", "TL995"))
    assert not outcome.converged
    assert outcome.fixed in (b"ping()\n", b"pong()\n")


def test_a_second_run_fixes_nothing(test_rules):
    first = _fix("a = foo(foo(nl()))\nb = baz(1)\n", unsafe=True)
    second = _fix(first.fixed, unsafe=True)
    assert not second.changed and second.applied == []


# --- keeping the file's form -----------------------------------------------------------------


def test_line_endings_are_kept_including_in_inserted_lines(test_rules):
    outcome = _fix(b"x = foo(1)\r\ny = nl()\r\n")
    assert outcome.fixed == b"x = bar(1)\r\ny = (\r\n    1\r\n)\r\n"


def test_encoding_cookie_and_bom_are_kept(test_rules):
    latin = "# -*- coding: latin-1 -*-\ns = 'café'\nfoo(s)\n".encode("latin-1")
    assert _fix(latin).fixed == "# -*- coding: latin-1 -*-\ns = 'café'\nbar(s)\n".encode("latin-1")
    bom = codecs.BOM_UTF8 + "s = 'é'\nfoo(s)\n".encode()
    assert _fix(bom).fixed == codecs.BOM_UTF8 + "s = 'é'\nbar(s)\n".encode()


def test_files_are_written_atomically_keeping_mode(test_rules, tmp_path):
    target = tmp_path / "real.py"
    target.write_bytes(b"foo(1)\n")
    os.chmod(target, 0o751)
    outcome = fixes.fix_file(str(target), _settings())
    assert outcome.error is None
    assert target.read_bytes() == b"bar(1)\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o751
    assert sorted(p.name for p in tmp_path.iterdir()) == ["real.py"]  # no temporary left


def test_fix_never_writes_through_a_symlink_named_on_the_command_line(test_rules, tmp_path, run_cli):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    target = outside / "real.py"
    target.write_bytes(b"foo(1)\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "link.py").symlink_to(target)
    outcome = fixes.fix_file(str(project / "link.py"), _settings())
    assert "symbolic link" in outcome.error
    assert target.read_bytes() == b"foo(1)\n" and (project / "link.py").is_symlink()
    assert [d.code for d in outcome.result.diagnostics] == ["TL990"]
    run = fixes.fix_run([outcome.result], _settings(), unsafe=False, diff=False)
    assert not any(line.startswith("Fixed") for line in run.report_lines(show_fixes=False))
    assert any("symbolic link" in line for line in fixes.problem_lines(run.outcomes))
    real = outside / "view.py"
    real.write_text("import torch\ny = torch.zeros(2, 3).t().view(6)\n")
    (project / "view.py").symlink_to(real)
    done = run_cli("check", "--isolated", "--select", "TL103", "--fix", "--unsafe-fixes", "view.py", cwd=project)
    assert "view.py" in done.stdout and "TL103" in done.stdout  # linted ...
    assert "symbolic link" in done.stderr and "Fixed" not in done.stdout  # ... not written, and said so
    assert real.read_text().endswith(".view(6)\n")


def test_fixed_n_counts_only_files_that_were_written(test_rules, tmp_path, monkeypatch):
    """A write that fails (here: the directory refuses the temporary file) is reported, not counted."""
    target = tmp_path / "m.py"
    target.write_bytes(b"foo(1)\n")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(fixes.tempfile, "mkstemp", refuse)
    first = fixes.fix_file(str(target), _settings())
    run = fixes.fix_run([first.result], _settings(), unsafe=False, diff=False)
    assert run.report_lines(show_fixes=False) == []
    assert fixes.fixes_summary(run.outcomes) == ["No fixes applied."]
    assert [line for line in fixes.problem_lines(run.outcomes) if "Permission denied" in line]
    assert target.read_bytes() == b"foo(1)\n"
    assert [d.code for d in run.results[0].diagnostics] == ["TL990"]  # the finding remains


def test_hard_linked_files_are_skipped_with_a_message(test_rules, tmp_path):
    target = tmp_path / "m.py"
    target.write_bytes(b"foo(1)\n")
    os.link(target, tmp_path / "other.py")
    outcome = fixes.fix_file(str(target), _settings())
    assert "2 hard links" in outcome.error
    assert target.read_bytes() == (tmp_path / "other.py").read_bytes() == b"foo(1)\n"
    assert os.stat(target).st_ino == os.stat(tmp_path / "other.py").st_ino


def test_read_only_files_are_skipped_with_a_message(test_rules, tmp_path):
    target = tmp_path / "m.py"
    target.write_bytes(b"foo(1)\n")
    os.chmod(target, 0o444)
    outcome = fixes.fix_file(str(target), _settings())
    assert "read-only (mode 0444)" in outcome.error
    assert target.read_bytes() == b"foo(1)\n" and stat.S_IMODE(target.stat().st_mode) == 0o444
    assert any("read-only" in line for line in fixes.problem_lines([outcome]))


def test_a_failed_write_leaves_the_original_and_no_temporary(test_rules, tmp_path, monkeypatch):
    target = tmp_path / "m.py"
    target.write_bytes(b"foo(1)\n")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fixes.os, "replace", refuse)
    outcome = fixes.fix_file(str(target), _settings())
    assert outcome.error and "No space left" in outcome.error
    assert target.read_bytes() == b"foo(1)\n"
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]


def test_diff_writes_nothing(test_rules, tmp_path):
    target = tmp_path / "m.py"
    target.write_bytes(b"x = 1\nfoo(1)\n")
    outcome = fixes.fix_file(str(target), _settings(), write=False)
    assert target.read_bytes() == b"x = 1\nfoo(1)\n"
    diff = fixes.unified_diff(outcome)
    assert f"--- a/{target}" in diff and "-foo(1)\n+bar(1)\n" in diff


# --- notebooks -------------------------------------------------------------------------------


def _notebook(cells, **extra):
    return {
        "cells": cells,
        "metadata": {"kernelspec": {"language": "python", "name": "python3"}, "custom": [1, 2]},
        "nbformat": 4,
        "nbformat_minor": 5,
        **extra,
    }


def test_notebooks_are_fixed_cell_by_cell_keeping_outputs_and_metadata(test_rules, tmp_path):
    output = {"output_type": "stream", "name": "stdout", "text": ["foo(1)\n"]}
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# foo(1)\n"]},
        {"cell_type": "code", "execution_count": 1, "metadata": {"tags": ["x"]}, "outputs": [output],
         "source": ["%matplotlib inline\n", "x = foo(1)\n", "y = 2"]},
        {"cell_type": "code", "execution_count": 2, "metadata": {}, "outputs": [], "source": "z = foo(foo(3))"},
        {"cell_type": "code", "execution_count": 3, "metadata": {}, "outputs": [], "source": ["w = 1\n"]},
    ]
    original = _notebook(cells)
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(original, indent=1, ensure_ascii=False) + "\n")
    outcome = fixes.fix_file(str(path), _settings())
    assert outcome.error is None and len(outcome.applied) == 3
    fixed = json.loads(path.read_text())
    assert fixed["cells"][1]["source"] == ["%matplotlib inline\n", "x = bar(1)\n", "y = 2"]
    assert fixed["cells"][2]["source"] == "z = bar(bar(3))"
    expected = json.loads(json.dumps(original))
    expected["cells"][1]["source"] = fixed["cells"][1]["source"]
    expected["cells"][2]["source"] = fixed["cells"][2]["source"]
    assert fixed == expected  # outputs, metadata, markdown and untouched cells as they were
    assert path.read_text().startswith('{\n "cells": [\n  {\n')  # nbformat's indent kept
    diff = fixes.unified_diff(outcome)
    assert f"a/{path}:cell 2" in diff and f"a/{path}:cell 3" in diff and "cell 4" not in diff
    assert not fixes.fix_file(str(path), _settings()).changed


def test_a_notebook_suppression_on_a_cells_last_line_is_removed():
    cells = [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": ["x = 1\n", "# torchlint: ignore[TL401]"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": ["y = 2\n"]},
    ]
    data = json.dumps(_notebook(cells), indent=1).encode()
    outcome = fixes.fix_bytes(data, "nb.ipynb", _settings(("TL003", "TL401")))
    document = json.loads(outcome.fixed)
    assert document["cells"][0]["source"] == ["x = 1\n"]
    assert document["cells"][1]["source"] == ["y = 2\n"]


def _code_cell(source):
    return {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": source}


def test_a_broken_cell_does_not_block_fixes_in_other_cells():
    cells = [_code_cell(["def f(:\n"]), _code_cell(["x = 1  # noqa: TL401\n"])]
    data = json.dumps(_notebook(cells), indent=1).encode()
    outcome = fixes.fix_bytes(data, "nb.ipynb", _settings(("TL001", "TL003", "TL401")))
    document = json.loads(outcome.fixed)
    assert document["cells"][0]["source"] == ["def f(:\n"]
    assert document["cells"][1]["source"] == ["x = 1\n"]
    assert [d.code for d in outcome.result.diagnostics] == ["TL001"]


def test_a_notebook_fix_that_breaks_its_cell_is_dropped(test_rules):
    cells = [_code_cell(["%time broken(1)\n", "foo(2)\n"]), _code_cell(["broken(3)"])]
    data = json.dumps(_notebook(cells), indent=1).encode()
    outcome = fixes.fix_bytes(data, "nb.ipynb", _settings())
    document = json.loads(outcome.fixed)
    assert document["cells"][0]["source"] == ["%time broken(1)\n", "bar(2)\n"]
    assert document["cells"][1]["source"] == ["broken(3)"]
    assert [d.reason.split(":")[0] for d in outcome.dropped] == ["cell 2"]


# --- TL003: removing unused suppressions -----------------------------------------------------

TL003_CASES = [
    ("import os  # noqa: TL401\n", "import os\n"),
    ("x = 1  # noqa: TL401, E501\n", "x = 1  # noqa: E501\n"),
    ("x = 1  # noqa: E501, TL401\n", "x = 1  # noqa: E501\n"),
    ("x = 1  # noqa: TL401, dataset-protocol\n", "x = 1\n"),
    ("y = 2  # type: ignore  # noqa: TL401\n", "y = 2  # type: ignore\n"),
    ("w = 4  # noqa: TL401  # why\n", "w = 4  # why\n"),
    ("# torchlint: ignore[TL401]\nz = 3\n", "z = 3\n"),
    ("# torchlint: file-ignore[TL401]\nz = 3\n", "z = 3\n"),
    ("z = 3\n# torchlint: ignore[TL401]", "z = 3\n"),
]


@pytest.mark.parametrize(("source", "fixed"), TL003_CASES)
def test_unused_suppressions_are_removed(source, fixed):
    outcome = _fix(source, select=("TL003", "TL401"))
    assert outcome.fixed.decode() == fixed
    assert outcome.result.diagnostics == []


def test_a_used_code_stays_and_an_unused_one_goes():
    source = (
        "from torch.utils.data import Dataset\n"
        "class D(Dataset):  # noqa: TL401, TL003-typo, TL101\n"
        "    pass\n"
    )
    outcome = _fix(source, select=("TL003", "TL401", "TL101") if registry.lookup("TL101") else ("TL003", "TL401"))
    line = outcome.fixed.decode().splitlines()[1]
    assert "TL401" in line and "# noqa:" in line


def test_tl003_fixes_keep_crlf_and_own_line_removal():
    outcome = _fix(b"a = 1\r\n# torchlint: ignore[TL401]\r\nb = 2  # noqa: TL401\r\n", select=("TL003", "TL401"))
    assert outcome.fixed == b"a = 1\r\nb = 2\r\n"


# --- the command line ------------------------------------------------------------------------

BAD = "import os  # noqa: TL401\nx = 1  # noqa: TL401, E501\n"
GOOD = "import os\nx = 1  # noqa: E501\n"


def test_cli_fix_writes_and_reports_what_remains(run_cli, tmp_path):
    (tmp_path / "m.py").write_text(BAD)
    done = run_cli("check", "--isolated", "--fix", "--show-fixes", "m.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "m.py").read_text() == GOOD
    assert "Fixed 2 findings:" in done.stdout and "2 × TL003 (unused-suppression)" in done.stdout
    again = run_cli("check", "--isolated", "--fix", "m.py")
    assert again.returncode == 0 and "Fixed" not in again.stdout


def test_cli_diff_writes_nothing_and_exits_1_when_there_is_something_to_fix(run_cli, tmp_path):
    (tmp_path / "m.py").write_text(BAD)
    before = os.stat(tmp_path / "m.py").st_mtime_ns
    done = run_cli("check", "--isolated", "--diff", "m.py")
    assert done.returncode == 1
    assert done.stdout.startswith("--- a/m.py\n+++ b/m.py\n")
    assert "-import os  # noqa: TL401\n" in done.stdout and "+import os\n" in done.stdout
    assert "Would fix 2 findings." in done.stderr
    assert (tmp_path / "m.py").read_text() == BAD and os.stat(tmp_path / "m.py").st_mtime_ns == before
    (tmp_path / "m.py").write_text(GOOD)
    clean = run_cli("check", "--isolated", "--diff", "m.py")
    assert clean.returncode == 0 and clean.stdout == ""


def test_cli_fix_keeps_json_output_clean(run_cli, tmp_path):
    (tmp_path / "m.py").write_text(BAD)
    done = run_cli("check", "--isolated", "--fix", "--output-format", "json", "m.py")
    assert json.loads(done.stdout) == []
    assert "Fixed 2 findings." in done.stderr


# --- round trips on the real rules' examples and fixtures ------------------------------------


def _fixable_rules():
    from torchlint.rule import Invalid

    return [
        rule for rule in registry.all_rules()
        if any(isinstance(case, Invalid) and (case.fixed or case.unsafe_fixed) for case in rule.INVALID)
    ]


def _documented_fixes():
    from torchlint.rule import Invalid

    for rule in _fixable_rules():
        for number, case in enumerate(rule.INVALID):
            if isinstance(case, Invalid) and (case.fixed or case.unsafe_fixed):
                yield pytest.param(rule, case, id=f"{rule.code}-{number}")


def _without_markers(text: str) -> str:
    import re

    return re.sub(r"[ \t]*#\s*expect:[^\n]*", "", text)


@pytest.mark.parametrize(("rule", "case"), list(_documented_fixes()))
def test_documented_fixes_produce_the_documented_code(rule, case):
    """An INVALID example's `fixed` (and `unsafe_fixed`) is what --fix (--unsafe-fixes) writes."""
    safe = _fix(case.source, select=(rule.code,))
    assert _without_markers(safe.fixed.decode()) == _without_markers(case.fixed or case.source)
    if case.unsafe_fixed:
        unsafe = _fix(case.source, select=(rule.code,), unsafe=True)
        assert _without_markers(unsafe.fixed.decode()) == _without_markers(case.unsafe_fixed)


def _fixture_cases():
    from conftest import fixture_files

    codes = {rule.code for rule in _fixable_rules()}
    for path in fixture_files():
        code = os.path.basename(os.path.dirname(path))[:5]
        if code in codes:
            yield pytest.param(code, path, id=os.path.relpath(path, os.path.dirname(os.path.dirname(path))))


@pytest.mark.parametrize(("code", "path"), list(_fixture_cases()))
@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
def test_fixes_round_trip_on_fixtures(code, path, unsafe):
    """The fixed fixture parses, the fixed findings are gone, traps are untouched, and a second
    run fixes nothing more."""
    import ast
    import difflib

    with open(path, "rb") as handle:
        original = handle.read()
    outcome = _fix(original, path=path, select=(code,), unsafe=unsafe)
    assert outcome.error is None and outcome.converged and not outcome.dropped
    from torchlint.engine import lint_file

    from torchlint.notebook import mask_ipython

    findings = lint_file(path, _settings((code,)), data=original).diagnostics
    fixable = [d for d in findings if fixes.applicable(d.fix, unsafe)]
    remaining = outcome.result.diagnostics
    assert len(remaining) == len(findings) - len(fixable), [(d.span.start.row, d.message) for d in remaining]
    # Only lines that a fix edited changed: every trap and every other line is as it was.
    edited = {(e.cell, row) for d in fixable for e in d.fix.edits for row in range(e.span.start.row, e.span.end.row + 1)}
    changed = set()
    before, after = _texts(path, original), _texts(path, outcome.fixed)
    assert before.keys() == after.keys()
    for cell, old_text in before.items():
        ast.parse(mask_ipython(after[cell]) if cell is not None else after[cell])
        matcher = difflib.SequenceMatcher(a=old_text.splitlines(), b=after[cell].splitlines(), autojunk=False)
        changed |= {(cell, i + 1) for tag, i1, i2, _, _ in matcher.get_opcodes() if tag != "equal" for i in range(i1, i2)}
    assert changed <= edited, sorted(changed - edited)
    assert bool(changed) == bool(fixable)
    again = _fix(outcome.fixed, path=path, select=(code,), unsafe=unsafe)
    assert not again.changed and again.applied == []


def _texts(path: str, data: bytes) -> dict:
    """{None: text} of a Python file, {cell index: source} of a notebook's code cells."""
    if not path.endswith(".ipynb"):
        return {None: data.decode()}
    return dict(fixes._Notebook(data).sources)


def _load_module(path: str, name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _same(a, b) -> bool:
    torch = pytest.importorskip("torch")
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        # Reductions may sum in another order over an expanded (stride 0) tensor: allow rounding.
        return (
            isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype
            and torch.allclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True)
        )
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:
        return repr(a) == repr(b)


@pytest.mark.parametrize("path", [p.values[1] for p in _fixture_cases() if p.values[0] == "TL101" and p.values[1].endswith(".py")])
def test_safe_tl101_fixes_keep_every_cases_values(path, tmp_path):
    """`repeat` → `expand` is safe: each fixture case returns the same values after the fix
    (both versions are run; the linter itself never runs code)."""
    pytest.importorskip("torch")
    with open(path, "rb") as handle:
        original = handle.read()
    outcome = _fix(original, path=path, select=("TL101",))
    assert outcome.applied, "the fixture has safe TL101 fixes"
    fixed_path = tmp_path / "fixed_cases.py"
    fixed_path.write_bytes(outcome.fixed)
    before, after = _load_module(path, "tl101_before"), _load_module(str(fixed_path), "tl101_after")
    for name in sorted(n for n in vars(before) if n.startswith("case_")):
        try:
            expected = _seeded(getattr(before, name))
        except Exception as exc:  # a case that raises must raise the same way after the fix
            with pytest.raises(type(exc)):
                _seeded(getattr(after, name))
            continue
        assert _same(expected, _seeded(getattr(after, name))), name


def _seeded(case):
    import random

    import numpy as np
    import torch

    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    return case()


def test_cli_fix_after_a_cached_run(run_cli, tmp_path):
    """A result served from the cache still carries its fixes."""
    (tmp_path / "m.py").write_text(BAD)
    assert run_cli("check", "--isolated", "m.py").returncode == 1
    assert (tmp_path / ".torchlint_cache").is_dir()
    done = run_cli("check", "--isolated", "--fix", "m.py")
    assert done.returncode == 0 and (tmp_path / "m.py").read_text() == GOOD


# --- a fix edits only the tokens it changes ------------------------------------------------------

_TOKEN_SPLIT = __import__("re").compile(r"\w+|[ \t]+|\r\n|\r|\n|.", __import__("re").S)


def _every_fixable_file():
    from conftest import fixture_files

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    examples = os.path.join(here, "examples")
    paths = list(fixture_files()) + sorted(
        os.path.join(examples, name) for name in os.listdir(examples) if name.endswith((".py", ".ipynb"))
    )
    for path in paths:
        yield pytest.param(path, id=os.path.relpath(path, here))


def _edited_texts(path: str, data: bytes) -> dict:
    """{cell or None: text} of the file as the fixes see it (a notebook: each code cell)."""
    if path.endswith(".ipynb"):
        from torchlint.notebook import NotebookFile

        return NotebookFile(data).code_sources()
    from torchlint.source import decode_python

    return {None: decode_python(data).text}


@pytest.mark.parametrize("path", list(_every_fixable_file()))
def test_every_fix_edits_only_the_tokens_it_changes(path):
    """Each fix of every fixture and example, applied alone: outside its edits' rows every line
    (indentation, comments, line ending) is byte-identical, and each edit starts and ends on a
    token that really changes."""
    import difflib

    from torchlint.engine import lint_file
    from torchlint.positions import split_lines

    with open(path, "rb") as handle:
        data = handle.read()
    settings = _settings(tuple(rule.code for rule in registry.all_rules()))
    texts = _edited_texts(path, data)
    with_fixes = [d for d in lint_file(path, settings, data=data).diagnostics if d.fix and d.fix.edits]
    for diagnostic in with_fixes:
        for cell, text in texts.items():
            edits = [e for e in diagnostic.fix.edits if e.cell == cell]
            if not edits:
                continue
            fixed = fixes.apply_edits(text, edits)
            assert fixed is not None
            rows = {row for e in edits for row in range(e.span.start.row, e.span.end.row + 1)}
            before, after = split_lines(text, keepends=True), split_lines(fixed, keepends=True)
            for tag, i1, i2, _, _ in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
                if tag != "equal":
                    assert set(range(i1 + 1, i2 + 1)) <= rows or i1 == i2, (diagnostic.code, before[i1:i2])
            for edit in edits:
                old = _span_text(text, edit.span)
                old_tokens, new_tokens = _TOKEN_SPLIT.findall(old), _TOKEN_SPLIT.findall(edit.content)
                if old_tokens and new_tokens:
                    assert old_tokens[0] != new_tokens[0] and old_tokens[-1] != new_tokens[-1], (old, edit.content)


def _span_text(text: str, span) -> str:
    from torchlint.positions import line_starts

    starts = line_starts(text)
    return text[starts[span.start.row - 1] + span.start.column - 1 : starts[span.end.row - 1] + span.end.column - 1]


def test_a_fix_in_a_multi_line_call_keeps_its_layout():
    """The issue's example: only `repeat` -> `expand` and the arguments change; the list's lines
    keep their indentation."""
    source = (
        "import torch\n\n\n"
        "def pos(x_emb, y_emb, b):\n"
        "    pos = torch.cat([\n"
        "        x_emb,\n"
        "        y_emb,\n"
        "    ], dim=-1).permute(2, 0, 1).unsqueeze(0).repeat(b, 1, 1, 1)  # keep me\n"
        "    return pos\n"
    )
    outcome = _fix(source.replace("\n", "\r\n"), select=("TL101",), unsafe=True)
    assert len(outcome.applied) == 1
    expected = source.replace(".repeat(b, 1, 1, 1)", ".expand(b, -1, -1, -1)").replace("\n", "\r\n")
    assert outcome.fixed.decode() == expected
    edit, = outcome.applied[0].fix.edits
    assert edit.span.start.row == edit.span.end.row == 8


def test_a_node_replacement_inside_an_indented_block_is_not_reindented(test_rules):
    """A rule replacing a whole multi-line node (here a call in a nested block) changes only the
    differing token; LibCST's regenerated node lacks the block's indentation, which must not leak."""
    source = (
        "def f():\n"
        "    if True:\n"
        "        x = foo(\n"
        "            1,\n"
        "                2,  # odd indent kept\n"
        "        )\n"
    )
    outcome = _fix(source)
    assert outcome.fixed.decode() == source.replace("foo(", "bar(")
    edit, = outcome.applied[0].fix.edits
    assert (edit.span.start.row, edit.span.start.column, edit.content) == (3, 13, "bar")


# --- one line-splitting rule: Python's tokenizer's ------------------------------------------------

_NOT_LINE_BREAKS = ["\f", "\v", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


def _tl103_program(char: str) -> str:
    lead = char if char == "\f" else ""  # a form feed may also start a line (Python ignores it there)
    return (
        "import torch\n"
        f"label = 'abc{char}defgh'  # note{char}here\n"
        f"{lead}y = torch.zeros(2, 3).transpose(0, 1).view(-1)\n"
        f"s = '''multi{char}\n{char}line'''\n"
        "z = torch.zeros(2, 3).transpose(0, 1).view(6)\n"
    )


def _found(result) -> list:
    return [(d.cell, d.span.start.row, d.span.start.column, d.span.end.column, d.code) for d in result.diagnostics]


@pytest.mark.parametrize("char", _NOT_LINE_BREAKS, ids=[f"U+{ord(c):04X}" for c in _NOT_LINE_BREAKS])
@pytest.mark.parametrize("kind", ["py", "ipynb"])
def test_characters_str_splitlines_breaks_at_neither_shift_findings_nor_corrupt_fixes(char, kind):
    """`\\f`, `\\v`, `\\x1c`-`\\x1e`, `\\x85`, U+2028, U+2029 in a string, a comment (and a form feed
    at a line's start) are not line breaks: findings stay where they are in the same program with
    `X` instead, no TL001, and `--fix` edits the right place."""
    from torchlint.engine import lint_file

    def as_file(program: str) -> bytes:
        if kind == "py":
            return program.encode("utf-8")
        return json.dumps(_notebook([_code_cell(program)]), indent=1).encode("utf-8")

    path = f"m.{kind}"
    settings = _settings(("TL001", "TL103"))
    program = _tl103_program(char)
    reference = program.replace(char, "X")
    found = _found(lint_file(path, settings, data=as_file(program)))
    assert found == _found(lint_file(path, settings, data=as_file(reference)))
    assert [code for *_, code in found] == ["TL103", "TL103"]
    outcome = fixes.fix_bytes(as_file(program), path, settings, unsafe=True)
    expected = fixes.fix_bytes(as_file(reference), path, settings, unsafe=True)
    assert len(outcome.applied) == len(expected.applied) == 2
    if kind == "py":
        fixed, wanted = outcome.fixed.decode(), expected.fixed.decode()
    else:
        fixed = "".join(json.loads(outcome.fixed)["cells"][0]["source"])
        wanted = "".join(json.loads(expected.fixed)["cells"][0]["source"])
    assert fixed == wanted.replace("X", char)


@pytest.mark.parametrize("char", _NOT_LINE_BREAKS, ids=[f"U+{ord(c):04X}" for c in _NOT_LINE_BREAKS])
def test_suppressions_after_a_line_holding_such_a_character_apply_where_written(char):
    from torchlint.testing import lint_snippet

    source = (
        "import torch\n"
        f"label = 'a{char}b'  # a{char}b\n"
        "# torchlint: ignore[TL103]\n"
        "y = torch.zeros(2, 3).transpose(0, 1).view(-1)\n"
        "z = torch.zeros(2, 3).transpose(0, 1).view(6)  # noqa: TL103\n"
        "w = torch.zeros(2, 3).transpose(0, 1).view(6)\n"
    )
    found = [(d.span.start.row, d.code) for d in lint_snippet(source, select=["TL103", "TL003", "TL001"])]
    assert found == [(6, "TL103")]
