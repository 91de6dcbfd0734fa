"""The `torchlint` command end to end, in a subprocess: exit codes, formats, errors."""

import json
import os

BAD = "from torch.utils.data import Dataset\n\n\nclass Frames(Dataset):\n    def __getitem__(self, i):\n        return i\n"
GOOD = "import torch\n\nx = torch.zeros(3)\n"


def test_clean_tree_exits_0(tmp_path, run_cli):
    (tmp_path / "ok.py").write_text(GOOD)
    result = run_cli("check", ".")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All checks passed!" in result.stdout


def test_findings_exit_1_and_exit_zero_overrides(tmp_path, run_cli):
    (tmp_path / "bad.py").write_text(BAD)
    assert run_cli("check", ".").returncode == 1
    assert run_cli("check", "--exit-zero", ".").returncode == 0


def test_default_path_is_the_current_directory(tmp_path, run_cli):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "bad.py").write_text(BAD)
    result = run_cli("check", "--output-format", "concise")
    assert result.stdout.startswith(os.path.join("pkg", "bad.py") + ":4:7: TL401 ")


def test_full_output_has_frame_notes_help_and_summary(tmp_path, run_cli):
    (tmp_path / "bad.py").write_text(BAD)
    out = run_cli("check", "bad.py").stdout
    assert "error[TL401] dataset-protocol:" in out
    assert "--> bad.py:4:7" in out
    assert "4 | class Frames(Dataset):" in out
    assert "  |       ^^^^^^" in out
    assert "note: derives from `torch.utils.data.Dataset` here" in out
    assert "help: define `__len__`" in out
    assert "Found 1 finding (1 error, 0 warnings) in 1 file." in out
    assert "\x1b[" not in out  # NO_COLOR and a pipe: no escape codes


def test_color_only_when_asked_or_on_a_terminal(tmp_path, run_cli):
    (tmp_path / "bad.py").write_text(BAD)
    assert "\x1b[" in run_cli("check", "--color", "bad.py").stdout
    assert "\x1b[" not in run_cli("check", "bad.py", env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout


def test_concise_format(tmp_path, run_cli):
    (tmp_path / "bad.py").write_text(BAD)
    lines = run_cli("check", "--output-format", "concise", "bad.py").stdout.splitlines()
    assert lines[0].startswith("bad.py:4:7: TL401 `Frames` is a map-style `Dataset` without `__len__`")


def test_json_format_uses_ruff_field_names(tmp_path, run_cli):
    (tmp_path / "bad.py").write_text(BAD)
    records = json.loads(run_cli("check", "--output-format", "json", "bad.py").stdout)
    assert len(records) == 1
    record = records[0]
    for key in ("code", "name", "message", "filename", "location", "end_location", "fix", "url", "cell", "severity", "notes"):
        assert key in record
    assert record["code"] == "TL401" and record["name"] == "dataset-protocol"
    assert record["location"] == {"row": 4, "column": 7}
    assert record["end_location"] == {"row": 4, "column": 13}
    assert record["filename"] == str(tmp_path / "bad.py")
    assert record["cell"] is None and record["severity"] == "error"
    assert record["notes"][0]["location"] == {"row": 4, "column": 14}


def test_json_of_a_clean_run_is_an_empty_list(tmp_path, run_cli):
    (tmp_path / "ok.py").write_text(GOOD)
    result = run_cli("check", "--output-format", "json", ".")
    assert json.loads(result.stdout) == [] and result.returncode == 0


def test_select_ignore_by_code_prefix_name_and_all(tmp_path, run_cli):
    (tmp_path / "bad.py").write_text(BAD)
    assert run_cli("check", "--select", "TL4", "bad.py").returncode == 1
    assert run_cli("check", "--select", "dataset-protocol", "bad.py").returncode == 1
    assert run_cli("check", "--select", "ALL", "--ignore", "TL401", "bad.py").returncode == 0
    assert run_cli("check", "--ignore", "dataset-protocol", "bad.py").returncode == 0
    assert run_cli("check", "--select", "TL001", "--extend-select", "TL401", "bad.py").returncode == 1
    assert run_cli("check", "--select", "TL001,TL002", "bad.py").returncode == 0


def test_unknown_rule_is_a_usage_error(tmp_path, run_cli):
    (tmp_path / "ok.py").write_text(GOOD)
    result = run_cli("check", "--select", "TL999", ".")
    assert result.returncode == 2
    assert "unknown rule selector `TL999`" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_missing_path_is_a_usage_error(tmp_path, run_cli):
    result = run_cli("check", "nope.py")
    assert result.returncode == 2
    assert result.stderr.strip() == "torchlint: error: path does not exist: nope.py"


def test_unknown_option_is_a_usage_error(tmp_path, run_cli):
    assert run_cli("check", "--no-such-flag").returncode == 2


def test_statistics_table_counts_findings_per_rule(tmp_path, run_cli):
    (tmp_path / "a.py").write_text(BAD)
    (tmp_path / "b.py").write_text(BAD.replace("Frames", "Clips"))
    out = run_cli("check", "--statistics", "--output-format", "concise", ".").stdout
    assert "2  TL401      dataset-protocol" in out


def test_rule_command_prints_docs_by_code_and_name(run_cli):
    by_code = run_cli("rule", "TL401")
    by_name = run_cli("rule", "dataset-protocol")
    assert by_code.returncode == 0 and by_code.stdout == by_name.stdout
    for heading in ("What it does", "Why is this bad?", "Example", "Use instead", "Fix safety", "Runtime verification"):
        assert heading in by_code.stdout
    assert run_cli("rule", "TL999").returncode == 2


def test_rule_all_lists_every_rule(run_cli):
    from torchlint.registry import all_rules

    out = run_cli("rule", "--all").stdout
    for rule in all_rules():
        assert f"{rule.name} ({rule.code})" in out
    records = json.loads(run_cli("rule", "--all", "--output-format", "json").stdout)
    assert [r["code"] for r in records] == [r.code for r in all_rules()]


def test_version(run_cli):
    from torchlint import __version__

    result = run_cli("--version")
    assert result.returncode == 0 and __version__ in result.stdout


def test_closed_pipe_ends_quietly(tmp_path):
    import subprocess
    import sys

    for index in range(40):
        (tmp_path / f"f{index}.py").write_text(BAD)
    command = f"{sys.executable} -m torchlint check --output-format concise . | head -1"
    result = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.stdout.count("\n") == 1
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr


def test_explicit_file_is_checked_even_when_excluded(tmp_path, run_cli):
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "gen.py").write_text(BAD)
    assert run_cli("check", ".").returncode == 0  # build/ is a default exclude
    assert run_cli("check", "build/gen.py").returncode == 1
    assert run_cli("check", "--force-exclude", "build/gen.py").returncode == 0


def test_gitignore_is_respected(tmp_path, run_cli):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("generated/\n*_pb2.py\n")
    (tmp_path / "generated").mkdir()
    (tmp_path / "generated" / "a.py").write_text(BAD)
    (tmp_path / "model_pb2.py").write_text(BAD)
    (tmp_path / "real.py").write_text(BAD)
    out = run_cli("check", "--output-format", "concise", ".").stdout
    assert "real.py" in out and "generated" not in out and "model_pb2" not in out
    out = run_cli("check", "--no-respect-gitignore", "--output-format", "concise", ".").stdout
    assert "generated" in out and "model_pb2" in out


def test_explicit_directory_is_walked_even_when_excluded(tmp_path, run_cli):
    (tmp_path / "build" / "__pycache__").mkdir(parents=True)
    (tmp_path / "build" / "gen.py").write_text(BAD)
    (tmp_path / "build" / "__pycache__" / "x.py").write_text(BAD)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("generated/\n")
    (tmp_path / "generated").mkdir()
    (tmp_path / "generated" / "a.py").write_text(BAD)
    assert run_cli("check", ".").returncode == 0
    out = run_cli("check", "--output-format", "concise", "build", "generated").stdout
    assert "gen.py" in out and "__pycache__" not in out and os.path.join("generated", "a.py") in out
    assert run_cli("check", "--force-exclude", "build", "generated").returncode == 0


# --- where findings point (issue 14, item 4) ----------------------------------------------------

CHAINED = (
    "import torch\n"
    "\n"
    "\n"
    "def pos(x_emb, y_emb, b):\n"
    "    pos = torch.cat([\n"
    "        x_emb,\n"
    "        y_emb,\n"
    "    ], dim=-1).permute(2, 0, 1).unsqueeze(0).repeat(b, 1, 1, 1)\n"
    "    return pos.sum()\n"
)


def _json_findings(run_cli, *args):
    done = run_cli("check", "--isolated", "--no-cache", "--output-format", "json", *args)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def _text_at(source: str, location: dict, end: dict) -> str:
    lines = source.splitlines()
    assert location["row"] == end["row"], (location, end)
    return lines[location["row"] - 1][location["column"] - 1 : end["column"] - 1]


def test_a_chained_multi_line_call_is_located_at_the_method(tmp_path, run_cli):
    (tmp_path / "m.py").write_text(CHAINED)
    [finding] = _json_findings(run_cli, "m.py")
    assert finding["code"] == "TL101"
    assert finding["location"]["row"] == 8  # the `.repeat(` line, not `torch.cat([` three lines above
    assert _text_at(CHAINED, finding["location"], finding["end_location"]) == ".repeat(b, 1, 1, 1)"
    [note] = finding["notes"]  # evidence on a call of the same chain: `.unsqueeze(0)` only
    assert _text_at(CHAINED, note["location"], note["end_location"]) == ".unsqueeze(0)"
    concise = run_cli("check", "--isolated", "--no-cache", "--output-format", "concise", "m.py").stdout
    assert concise.startswith("m.py:8:45: TL101")


def test_a_call_on_a_plain_name_keeps_its_whole_span(tmp_path, run_cli):
    source = "import torch\n\n\ndef f(n):\n    x = torch.zeros(1, 4)\n    return x.repeat(n, 1).sum()\n"
    (tmp_path / "m.py").write_text(source)
    [finding] = _json_findings(run_cli, "m.py")
    assert _text_at(source, finding["location"], finding["end_location"]) == "x.repeat(n, 1)"


def test_size_expressions_in_messages_are_parenthesised(tmp_path, run_cli):
    source = "import torch\n\n\ndef f(a, b, n):\n    y = torch.zeros(1, 1, 4)\n    return y.repeat(a - b, n // 2, 1).sum()\n"
    (tmp_path / "m.py").write_text(source)
    [finding] = _json_findings(run_cli, "m.py")
    assert "copies its input `(a - b) * (n // 2)` times" in finding["message"]


# --- --statistics (item 5) -----------------------------------------------------------------------


def _two_files_with_findings(tmp_path):
    (tmp_path / "a.py").write_text(BAD)
    (tmp_path / "b.py").write_text(BAD.replace("Frames", "Clips") + "x = 1  # noqa: TL101\n")


def test_statistics_prints_only_the_table_and_the_summary(tmp_path, run_cli):
    _two_files_with_findings(tmp_path)
    for fmt in ("full", "concise"):
        done = run_cli("check", "--statistics", "--output-format", fmt, ".")
        assert done.returncode == 1
        assert done.stdout.splitlines() == [
            "2  TL401      dataset-protocol",
            "1  TL003  [*] unused-suppression",
            "Found 3 findings (2 errors, 1 warning) in 2 files.",
            "[*] 1 fixable with the `--fix` option.",
        ], fmt


def test_statistics_as_json(tmp_path, run_cli):
    _two_files_with_findings(tmp_path)
    done = run_cli("check", "--statistics", "--output-format", "json", ".")
    assert done.returncode == 1
    assert json.loads(done.stdout) == [
        {"code": "TL401", "name": "dataset-protocol", "count": 2, "fixable": False},
        {"code": "TL003", "name": "unused-suppression", "count": 1, "fixable": True},
    ]


def test_statistics_of_a_clean_run(tmp_path, run_cli):
    (tmp_path / "ok.py").write_text(GOOD)
    assert run_cli("check", "--statistics", ".").stdout == "All checks passed!\n"
    done = run_cli("check", "--statistics", "--output-format", "json", ".")
    assert done.returncode == 0 and json.loads(done.stdout) == []


def test_statistics_with_a_ci_format_is_a_usage_error(tmp_path, run_cli):
    (tmp_path / "ok.py").write_text(GOOD)
    done = run_cli("check", "--statistics", "--output-format", "sarif", ".")
    assert done.returncode == 2 and "--statistics" in done.stderr


# --- `torchlint rule` off a terminal (item 9) --------------------------------------------------


def test_rule_docs_on_a_pipe_have_no_padding_and_no_wrapping(run_cli):
    from torchlint.registry import lookup

    out = run_cli("rule", "TL101").stdout
    lines = out.splitlines()
    assert lines[0] == "# repeat-could-be-expand (TL101)"
    assert not [line for line in lines if line != line.rstrip()]
    # The docs' own lines, not re-wrapped to 80 columns: each is a line of the rule's docs.
    docs = set(lookup("TL101").docs().splitlines())
    assert all(line in docs for line in lines[4:] if line)


# --- TL102's wording and fix (item 6) ------------------------------------------------------------

HEADS = (
    "import torch\n"
    "\n"
    "\n"
    "def heads_to_tokens(x):\n"
    "    B, H, N, D = x.shape\n"
    "    return x.transpose(1, 2).reshape(B, N, H * D)\n"
)


def test_tl102_says_the_copy_is_hidden_and_what_it_copies(tmp_path, run_cli):
    (tmp_path / "m.py").write_text(HEADS)
    [finding] = _json_findings(run_cli, "--select", "TL102", "m.py")
    assert finding["message"] == (
        "`.reshape(B, N, H * D)` hides a copy: it merges dims 2 and 3, which are not adjacent in memory "
        "after `transpose(1, 2)`, so all `B * N * H * D` elements are copied into new memory"
    )
    assert finding["help"].startswith("if the copy is needed, write `.contiguous().view(B, N, H * D)`")
    assert finding["fix"]["applicability"] == "unsafe"


def test_tl102_element_count_keeps_the_size_expressions_intact(tmp_path, run_cli):
    source = "import torch\n\n\ndef f(a, b):\n    y = torch.zeros(a - b, 3, 4).transpose(0, 1)\n    return y.reshape(3, (a - b) * 4)\n"
    (tmp_path / "m.py").write_text(source)
    [finding] = _json_findings(run_cli, "--select", "TL102", "m.py")
    assert "so all `3 * (a - b) * 4` elements are copied" in finding["message"]
    (tmp_path / "m.py").write_text(source.replace("(3, (a - b) * 4)", "(3, -1)"))
    [finding] = _json_findings(run_cli, "--select", "TL102", "m.py")
    assert finding["message"].endswith("so the whole tensor is copied into new memory")


def test_tl102_fix_spells_the_copy_only_with_unsafe_fixes(tmp_path, run_cli):
    path = tmp_path / "m.py"
    path.write_text(HEADS)
    assert run_cli("check", "--isolated", "--no-cache", "--select", "TL102", "--fix", "m.py").returncode == 1
    assert path.read_text() == HEADS
    done = run_cli("check", "--isolated", "--no-cache", "--select", "TL102", "--fix", "--unsafe-fixes", "m.py")
    assert done.returncode == 0, done.stdout
    assert path.read_text() == HEADS.replace(".reshape(", ".contiguous().view(")


# --- the README's pre-commit snippet and the version (item 8) ----------------------------------

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _readme_section(title: str) -> str:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def _yaml_blocks(markdown: str) -> list[str]:
    import re

    return re.findall(r"```yaml\n(.*?)```", markdown, re.S)


def _pre_commit_run(repo, config: str, hook: str, files: list[str], tmp_path):
    import subprocess
    import sys

    (repo / ".pre-commit-config.yaml").write_text(config)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, capture_output=True)
    # The snippet runs the torchlint installed where pre-commit runs: this environment's.
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
           "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "NO_COLOR": "1"}
    env.pop("FORCE_COLOR", None)
    done = subprocess.run([sys.executable, "-m", "pre_commit", "run", hook, "--color", "never", "--files", *files],
                          cwd=repo, capture_output=True, text=True, env=env, timeout=300)
    return done.returncode, done.stdout + done.stderr


def _uncommented(config: str) -> str:
    """The snippet with its commented-out alternative hook switched on."""
    import re

    return "\n".join(re.sub(r"^(\s*)# ", r"\1", line) for line in config.splitlines()) + "\n"


def test_readme_pre_commit_snippet_works_as_written(tmp_path):
    import shutil
    import subprocess

    import pytest

    pytest.importorskip("pre_commit", reason="pre-commit is not installed (pip install -e '.[test]')")
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    config = _yaml_blocks(_readme_section("pre-commit"))[0]
    repo = tmp_path / "project"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "bad.py").write_text(BAD)
    (repo / "good.py").write_text(GOOD)
    code, output = _pre_commit_run(repo, config, "torchlint", ["bad.py"], tmp_path)
    assert code == 1 and "error[TL401] dataset-protocol" in output and "Failed" in output, output
    code, output = _pre_commit_run(repo, config, "torchlint", ["good.py"], tmp_path)
    assert code == 0 and "Passed" in output, output
    (repo / "fixable.py").write_text("import os  # noqa: TL401\n")
    code, output = _pre_commit_run(repo, _uncommented(config), "torchlint-fix", ["fixable.py"], tmp_path)
    assert code == 1 and "files were modified by this hook" in output, output
    assert (repo / "fixable.py").read_text() == "import os\n"


def test_the_version_is_written_once_and_the_readme_agrees():
    import re
    import subprocess

    from torchlint import __version__

    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as handle:
        pyproject = handle.read()
    assert 'dynamic = ["version"]' in pyproject and 'version = { attr = "torchlint.__version__" }' in pyproject
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    # A pinned torchlint version or release tag anywhere in the README is this version...
    for found in re.findall(r"torchlint[=@ ]=?\s*v?(\d+\.\d+\.\d+)", readme):
        assert found == __version__
    # ...and a `rev:` the README gives is a placeholder or names something this repository has.
    for rev in re.findall(r"^\s*rev:\s*(\S+)", readme, re.M):
        if rev.startswith("<"):
            continue
        known = subprocess.run(["git", "rev-parse", "--verify", "-q", f"{rev}^{{commit}}"], cwd=ROOT, capture_output=True)
        assert known.returncode == 0, f"README pins `rev: {rev}`, which this repository does not have"
    with open(os.path.join(ROOT, ".pre-commit-hooks.yaml"), encoding="utf-8") as handle:
        assert __version__ not in handle.read()


def test_summary_points_at_a_file_that_holds_most_of_a_rules_findings(tmp_path, run_cli):
    """An exercise notebook of stub cells: one TL001 per cell, and the summary says where to skip them."""
    stub = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": ["def solve(:\n"]}
    notebook = {"cells": [stub] * 12, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "exercises.ipynb").write_text(json.dumps(notebook))
    (tmp_path / "broken.py").write_text("def f(:\n")
    (tmp_path / "a.py").write_text(BAD)
    hint = ('12 of the 13 TL001 findings are in exercises.ipynb; to skip them there: '
            '[tool.torchlint.per-file-ignores] "exercises.ipynb" = ["TL001"]')
    for args in (["--statistics"], ["--output-format", "concise"]):
        assert hint in run_cli("check", *args, ".").stdout.splitlines(), args
    (tmp_path / "pyproject.toml").write_text('[tool.torchlint.per-file-ignores]\n"exercises.ipynb" = ["TL001"]\n')
    assert run_cli("check", "--statistics", ".").stdout.splitlines()[:2] == [
        "1  TL001      syntax-error",
        "1  TL401      dataset-protocol",
    ]
