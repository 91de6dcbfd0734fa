"""[tool.torchlint] in pyproject.toml: selection, per-file-ignores, excludes, and errors."""

BAD = "from torch.utils.data import Dataset\nclass Frames(Dataset):\n    def __getitem__(self, i):\n        return i\n"


def _project(tmp_path, table: str):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n\n[tool.torchlint]\n" + table)
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "data.py").write_text(BAD)
    (tmp_path / "tests").mkdir(exist_ok=True)
    (tmp_path / "tests" / "test_data.py").write_text(BAD)


def test_ignore_in_config(tmp_path, run_cli):
    _project(tmp_path, 'ignore = ["dataset-protocol"]\n')
    assert run_cli("check", ".").returncode == 0


def test_select_in_config_and_cli_select_wins(tmp_path, run_cli):
    _project(tmp_path, 'select = ["TL001"]\n')
    assert run_cli("check", ".").returncode == 0
    assert run_cli("check", "--select", "TL401", ".").returncode == 1
    assert run_cli("check", "--extend-select", "TL4", ".").returncode == 1


def test_per_file_ignores(tmp_path, run_cli):
    _project(tmp_path, '[tool.torchlint.per-file-ignores]\n"tests/*" = ["TL401"]\n')
    out = run_cli("check", "--output-format", "concise", ".").stdout
    assert "src/data.py" in out and "tests/test_data.py" not in out


def test_per_file_ignores_by_basename_glob(tmp_path, run_cli):
    _project(tmp_path, '[tool.torchlint.per-file-ignores]\n"test_*.py" = ["dataset-protocol"]\n')
    out = run_cli("check", "--output-format", "concise", ".").stdout
    assert "src/data.py" in out and "test_data.py" not in out


def test_extend_exclude_and_exclude(tmp_path, run_cli):
    _project(tmp_path, 'extend-exclude = ["tests"]\n')
    out = run_cli("check", "--output-format", "concise", ".").stdout
    assert "src/data.py" in out and "tests" not in out


def test_config_found_from_a_subdirectory(tmp_path, run_cli):
    _project(tmp_path, 'ignore = ["TL401"]\n')
    assert run_cli("check", "data.py", cwd=tmp_path / "src").returncode == 0


def test_explicit_config_and_isolated(tmp_path, run_cli):
    _project(tmp_path, "")
    (tmp_path / "strict.toml").write_text('[tool.torchlint]\nignore = ["TL401"]\n')
    assert run_cli("check", "--config", "strict.toml", ".").returncode == 0
    _project(tmp_path, 'ignore = ["TL401"]\n')
    assert run_cli("check", "--isolated", ".").returncode == 1


def test_unknown_key_is_exit_2_naming_it(tmp_path, run_cli):
    _project(tmp_path, 'selekt = ["TL401"]\n')
    result = run_cli("check", ".")
    assert result.returncode == 2
    assert "unknown key `selekt`" in result.stderr and "Traceback" not in result.stderr


def test_unknown_code_in_config_is_exit_2(tmp_path, run_cli):
    _project(tmp_path, 'ignore = ["TL9"]\n')
    result = run_cli("check", ".")
    assert result.returncode == 2 and "`TL9`" in result.stderr


def test_bad_types_and_bad_toml_are_exit_2(tmp_path, run_cli):
    _project(tmp_path, 'ignore = ["TL401"]\nrespect-gitignore = "yes"\n')
    result = run_cli("check", ".")
    assert result.returncode == 2 and "respect-gitignore" in result.stderr
    (tmp_path / "pyproject.toml").write_text("[tool.torchlint\nselect = [")
    result = run_cli("check", ".")
    assert result.returncode == 2 and "invalid TOML" in result.stderr


def test_missing_config_file_is_exit_2(tmp_path, run_cli):
    result = run_cli("check", "--config", "nope.toml", ".")
    assert result.returncode == 2 and "nope.toml" in result.stderr


def test_a_rule_options_table_is_exit_2_saying_rules_have_no_options(tmp_path, run_cli):
    _project(tmp_path, '[tool.torchlint.rules.dataset-protocol]\nstrict = true\n')
    result = run_cli("check", ".")
    assert result.returncode == 2 and "[tool.torchlint.rules]" in result.stderr
    assert "rules have no options" in result.stderr


def test_resolve_enabled_layers_like_ruff():
    from torchlint.config import SelectionLayer, resolve_enabled

    config = SelectionLayer(select=["TL4"], ignore=[])
    cli = SelectionLayer(ignore=["TL401", "TL402"])
    assert resolve_enabled([(config, "c"), (cli, "cli")]) == frozenset()
    cli = SelectionLayer(select=["TL401", "TL001"])
    assert resolve_enabled([(SelectionLayer(ignore=["TL401"]), "c"), (cli, "cli")]) == {"TL401", "TL001"}
