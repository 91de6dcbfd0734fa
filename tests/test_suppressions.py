"""`# noqa`, `# torchlint: ignore[...]`, `# torchlint: file-ignore[...]`, and TL003."""

from torchlint.testing import lint_snippet

HEAD = "from torch.utils.data import Dataset\n"
CLASS = "class A(Dataset):{comment}\n    def __getitem__(self, i): return i\n"


def _codes(source, select=None):
    return [(d.code, d.span.start.row) for d in lint_snippet(source, select=select)]


def test_unsuppressed_finding():
    assert _codes(HEAD + CLASS.format(comment="")) == [("TL401", 2)]


def test_noqa_blanket_and_with_codes_and_names():
    assert _codes(HEAD + CLASS.format(comment="  # noqa")) == []
    assert _codes(HEAD + CLASS.format(comment="  # noqa: TL401")) == []
    assert _codes(HEAD + CLASS.format(comment="  # NOQA:TL401,E501")) == []
    assert _codes(HEAD + CLASS.format(comment="  # noqa: dataset-protocol")) == []


def test_noqa_for_another_rule_does_not_suppress_and_is_unused():
    found = _codes(HEAD + CLASS.format(comment="  # noqa: TL001"))
    assert ("TL401", 2) in found


def test_other_linters_codes_are_left_alone():
    assert _codes(HEAD + "x = 1  # noqa: E501, B006\n") == []
    assert _codes(HEAD + "x = 1  # noqa\n") == []  # a bare noqa may serve another tool


def test_trailing_ignore_directive():
    assert _codes(HEAD + CLASS.format(comment="  # torchlint: ignore[TL401]")) == []
    assert _codes(HEAD + CLASS.format(comment="  # torchlint: ignore[dataset-protocol]")) == []


def test_own_line_ignore_covers_the_next_statement_through_decorators():
    source = HEAD + "# torchlint: ignore[TL401]\n@register\n@other(1)\n" + CLASS.format(comment="")
    assert _codes(source) == []
    source = HEAD + "# torchlint: ignore[TL401]\nx = 1\n" + CLASS.format(comment="")
    assert _codes(source) == [("TL003", 2), ("TL401", 4)]


def test_file_ignore():
    assert _codes("# torchlint: file-ignore[TL401]\n" + HEAD + CLASS.format(comment="")) == []
    assert _codes(HEAD + CLASS.format(comment="") + "# torchlint: file-ignore\n") == []


def test_unused_suppressions_are_reported():
    found = lint_snippet(HEAD + "x = 1  # noqa: TL401\ny = 2  # torchlint: ignore[dataset-protocol]\n# torchlint: file-ignore[TL401]\n")
    assert [(d.code, d.span.start.row, d.span.start.column) for d in found] == [
        ("TL003", 2, 8), ("TL003", 3, 8), ("TL003", 4, 1)]
    assert "unused suppression of `TL401`" in found[0].message
    assert "`dataset-protocol`" in found[1].message


def test_unknown_code_in_a_directive_is_reported():
    found = lint_snippet("x = 1  # torchlint: ignore[TL999, made-up]\n")
    messages = [d.message for d in found if d.code == "TL003"]
    assert any("`TL999`" in m for m in messages) and any("`made-up`" in m for m in messages)


def test_suppression_of_a_disabled_rule_is_not_reported():
    assert _codes(HEAD + "x = 1  # noqa: TL401\n", select=["TL003"]) == []


def test_tl003_can_itself_be_ignored():
    assert _codes(HEAD + "x = 1  # noqa: TL401\n", select=["ALL"]) == [("TL003", 2)]
    assert _codes("# torchlint: file-ignore[TL003]\n" + HEAD + "x = 1  # noqa: TL401\n") == []


def test_comment_text_inside_strings_is_not_a_suppression():
    source = HEAD + 's = "# noqa: TL401"\n' + CLASS.format(comment="")
    assert _codes(source) == [("TL401", 3)]


def test_suppressions_in_notebooks_apply_per_cell_row():
    import json

    from torchlint.config import SelectionLayer, load_settings
    from torchlint.engine import lint_file

    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": HEAD},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": CLASS.format(comment="  # noqa: TL401")},
    ]}
    settings = load_settings(None, SelectionLayer(), isolated=True)
    result = lint_file("nb.ipynb", settings, data=json.dumps(notebook).encode())
    assert result.diagnostics == []


def test_a_blanket_directive_does_not_silence_its_own_unused_report():
    assert _codes("x = 1  # torchlint: ignore\n") == [("TL003", 1)]
    assert _codes("x = 1\n# torchlint: file-ignore\n") == [("TL003", 2)]
