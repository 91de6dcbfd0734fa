"""`torchlint check --add-noqa`: every finding silenced on its own line, as Ruff does it.

Each test runs the real command, then checks the file byte for byte, that a second run changes
nothing, and that a later `check` is clean.
"""

from __future__ import annotations

import json

import pytest

PYTHON = '''\
import torch
from torch.utils.data import Dataset


class Frames(Dataset):  # noqa: E501
    pass


def grow(x, n):
    y = torch.zeros(1, 4)
    plain = y.repeat(n, 1).sum()
    commented = y.repeat(n, 1).sum()  # why this is here
    spaced = y.repeat(n, 1).sum()   \n\
    text = len("""
    # not a comment, y.repeat(n, 1)
    """) + y.repeat(n, 1).sum()
    joined = y.repeat(n, 1).sum() + \\
        1
    return plain, commented, spaced, text, joined
'''

EXPECTED = '''\
import torch
from torch.utils.data import Dataset


class Frames(Dataset):  # noqa: E501, TL401
    pass


def grow(x, n):
    y = torch.zeros(1, 4)
    plain = y.repeat(n, 1).sum()  # noqa: TL101
    commented = y.repeat(n, 1).sum()  # why this is here  # noqa: TL101
    spaced = y.repeat(n, 1).sum()  # noqa: TL101
    text = len("""
    # not a comment, y.repeat(n, 1)
    """) + y.repeat(n, 1).sum()  # noqa: TL101
    joined = y.repeat(n, 1).sum() + \\
        1  # noqa: TL101
    return plain, commented, spaced, text, joined
'''


def _check(run_cli, *args):
    return run_cli("check", "--isolated", "--no-cache", *args)


def test_adds_and_merges_noqa_comments_in_a_python_file(run_cli, tmp_path):
    path = tmp_path / "m.py"
    path.write_text(PYTHON)
    done = _check(run_cli, "--add-noqa", "m.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Added 6 noqa directives to 1 file." in done.stderr
    assert path.read_text() == EXPECTED


def test_a_second_run_changes_nothing_and_check_is_clean(run_cli, tmp_path):
    path = tmp_path / "m.py"
    path.write_text(PYTHON)
    _check(run_cli, "--add-noqa", "m.py")
    again = _check(run_cli, "--add-noqa", "m.py")
    assert again.returncode == 0 and "Added 0 noqa directives." in again.stderr
    assert path.read_text() == EXPECTED
    done = _check(run_cli, "m.py")
    assert done.returncode == 0 and "All checks passed!" in done.stdout, done.stdout


def test_line_endings_and_the_rest_of_the_file_are_kept(run_cli, tmp_path):
    path = tmp_path / "m.py"
    path.write_bytes(PYTHON.replace("\n", "\r\n").encode())
    assert _check(run_cli, "--add-noqa", "m.py").returncode == 0
    assert path.read_bytes() == EXPECTED.replace("\n", "\r\n").encode()


def test_a_multi_line_string_gets_its_comment_after_the_string(run_cli, tmp_path):
    """The finding starts on the string's first line; the comment can only go after its end."""
    source = 'import torch\n\n\ndef f(n):\n    y = torch.zeros(1, 4)\n    return y.repeat(n, 1).sum(), """\n    a # b\n    """\n'
    path = tmp_path / "m.py"
    path.write_text(source)
    assert _check(run_cli, "--add-noqa", "m.py").returncode == 0
    assert path.read_text() == source.replace('    """\n', '    """  # noqa: TL101\n')
    assert _check(run_cli, "m.py").returncode == 0


def _notebook(cells: list[list[str]]) -> str:
    document = {
        "cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Training\n", "notes"]}] + [
            {"cell_type": "code", "execution_count": 1, "metadata": {"tags": []},
             "outputs": [{"name": "stdout", "output_type": "stream", "text": ["ok\n"]}], "source": source}
            for source in cells
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


NOTEBOOK_CELLS = [
    ["%matplotlib inline\n", "import torch\n", "from torch.utils.data import Dataset\n"],
    ["class Frames(Dataset):  # noqa: E501\n", "    pass\n"],
    ["print('untouched: café')\n"],
    ["def grow(n):\n", "    y = torch.zeros(1, 4)\n", "    return y.repeat(n, 1).sum()"],
]


def test_adds_noqa_to_notebook_cells(run_cli, tmp_path):
    path = tmp_path / "nb.ipynb"
    path.write_text(_notebook(NOTEBOOK_CELLS), encoding="utf-8")
    done = _check(run_cli, "--add-noqa", "nb.ipynb")
    assert done.returncode == 0, done.stdout + done.stderr
    expected = [list(cell) for cell in NOTEBOOK_CELLS]
    expected[1][0] = "class Frames(Dataset):  # noqa: E501, TL401\n"
    expected[3][2] = "    return y.repeat(n, 1).sum()  # noqa: TL101"
    # Only the two edited source lines differ; outputs, metadata and formatting stay as they were.
    assert path.read_text(encoding="utf-8") == _notebook(expected)
    assert _check(run_cli, "--add-noqa", "nb.ipynb").stderr.startswith("Added 0 noqa directives.")
    assert path.read_text(encoding="utf-8") == _notebook(expected)
    assert _check(run_cli, "nb.ipynb").returncode == 0


def test_findings_a_comment_cannot_silence_are_listed(run_cli, tmp_path):
    (tmp_path / "broken.py").write_text("def f(:\n    pass\n")
    (tmp_path / "unused.py").write_text("x = 1  # noqa: TL401\n")
    (tmp_path / "m.py").write_text(PYTHON)
    done = _check(run_cli, "--add-noqa", ".")
    assert done.returncode == 1
    assert "2 findings cannot be silenced by `# noqa`" in done.stdout
    assert "broken.py:1:7: TL001" in done.stdout and "unused.py:1:8: TL003" in done.stdout
    assert (tmp_path / "broken.py").read_text() == "def f(:\n    pass\n"
    assert (tmp_path / "unused.py").read_text() == "x = 1  # noqa: TL401\n"
    assert (tmp_path / "m.py").read_text() == EXPECTED


@pytest.mark.parametrize("other", [["--fix"], ["--diff"]])
def test_add_noqa_is_not_combined_with_fixes(run_cli, tmp_path, other):
    (tmp_path / "m.py").write_text(PYTHON)
    done = _check(run_cli, "--add-noqa", *other, "m.py")
    assert done.returncode == 2 and "--add-noqa" in done.stderr
    assert (tmp_path / "m.py").read_text() == PYTHON


def test_noqa_edits_leave_a_blanket_noqa_alone():
    from torchlint.add_noqa import noqa_edits
    from torchlint.testing import lint_snippet

    source = "import torch\ndef f(n):\n    return torch.zeros(1, 4).repeat(n, 1).sum()\n"
    findings = lint_snippet(source, select=["TL101"])
    assert findings
    assert noqa_edits(source.replace(".sum()\n", ".sum()  # noqa\n").encode(), "m.py", findings) == []
    [edit] = noqa_edits(source.encode(), "m.py", findings)
    assert edit.content == "  # noqa: TL101" and edit.span.start.row == 3
