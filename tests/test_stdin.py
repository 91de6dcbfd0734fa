"""`torchlint check -`: source on stdin, for editors; `--stdin-filename` names it."""

from __future__ import annotations

import json

UNUSED = "import os  # noqa: TL401\n"
DATASET = "from torch.utils.data import Dataset\n\nclass D(Dataset):\n    pass\n"


def test_stdin_is_linted_under_its_given_name(run_cli):
    done = run_cli("check", "--isolated", "--output-format", "concise", "-", "--stdin-filename", "pkg/data.py", input=DATASET)
    assert done.returncode == 1
    assert done.stdout.splitlines()[0].startswith("pkg/data.py:3:7: TL401 ")


def test_stdin_without_a_name_is_shown_as_dash(run_cli):
    done = run_cli("check", "--isolated", "--output-format", "concise", "-", input=DATASET)
    assert done.returncode == 1 and done.stdout.startswith("-:3:7: TL401 ")


def test_clean_stdin_exits_0(run_cli):
    done = run_cli("check", "--isolated", "-", input="x = 1\n")
    assert done.returncode == 0 and "All checks passed!" in done.stdout


def test_stdin_json_and_syntax_errors(run_cli):
    done = run_cli("check", "--isolated", "--output-format", "json", "-", "--stdin-filename", "a.py", input="def f(:\n")
    assert done.returncode == 1
    record, = json.loads(done.stdout)
    assert record["code"] == "TL001" and record["filename"].endswith("a.py")


def test_stdin_settings_follow_the_given_name(run_cli, tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.torchlint.per-file-ignores]\n"tests/*" = ["TL401"]\n')
    ignored = run_cli("check", "-", "--stdin-filename", "tests/t.py", input=DATASET)
    assert ignored.returncode == 0, ignored.stdout
    linted = run_cli("check", "-", "--stdin-filename", "src/t.py", input=DATASET)
    assert linted.returncode == 1


def test_stdin_excluded_name_with_force_exclude_prints_nothing(run_cli):
    args = ("check", "--isolated", "--force-exclude", "--extend-exclude", "gen/", "--output-format", "concise", "-")
    excluded = run_cli(*args, "--stdin-filename", "gen/a.py", input=DATASET)
    assert excluded.returncode == 0 and "TL401" not in excluded.stdout
    fixed = run_cli(*args, "--fix", "--stdin-filename", "gen/a.py", input=UNUSED)
    assert fixed.returncode == 0 and fixed.stdout == UNUSED  # passed through unchanged
    kept = run_cli(*args, "--stdin-filename", "src/a.py", input=DATASET)
    assert kept.returncode == 1


def test_stdin_fix_prints_the_fixed_code_and_reports_on_stderr(run_cli):
    done = run_cli("check", "--isolated", "--fix", "-", "--stdin-filename", "a.py", input=UNUSED + DATASET)
    assert done.stdout == "import os\n" + DATASET
    assert done.returncode == 1  # TL401 has no fix and remains
    assert "a.py:4:7: TL401" in done.stderr


def test_stdin_diff(run_cli):
    done = run_cli("check", "--isolated", "--diff", "-", "--stdin-filename", "a.py", input=UNUSED)
    assert done.returncode == 1
    assert done.stdout.splitlines()[:2] == ["--- a/a.py", "+++ b/a.py"]
    nothing = run_cli("check", "--isolated", "--diff", "-", input="x = 1\n")
    assert nothing.returncode == 0 and nothing.stdout == ""


def test_stdin_notebook(run_cli):
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": DATASET}]
    notebook = json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    done = run_cli("check", "--isolated", "--output-format", "concise", "-", "--stdin-filename", "nb.ipynb", input=notebook)
    assert done.returncode == 1 and done.stdout.startswith("nb.ipynb:cell 1:3:7: TL401")


def test_dash_cannot_be_mixed_with_paths(run_cli, tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    done = run_cli("check", "-", "a.py", input="")
    assert done.returncode == 2 and "stdin" in done.stderr
