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


def test_statistics(tmp_path, run_cli):
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
