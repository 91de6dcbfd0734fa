"""The pre-commit hooks, run by the real pre-commit in a throwaway git repository.

`pre-commit try-repo` installs this repository's committed HEAD (so hook changes are tested once
committed) into a fresh environment each time it runs, 15-30 s; it runs twice, for the failing
and the passing file. The other hook tests use `pre-commit run` with a config that names this
checkout at the same commit, and share one environment. When pre-commit is missing, or cannot
build its environment (no package index reachable), the tests are skipped.

`--force-exclude` is checked here too: pre-commit passes every staged file explicitly, so the
project's excludes only hold with it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BAD = "from torch.utils.data import Dataset\n\nclass D(Dataset):\n    pass\n"
GOOD = "x = 1\n"
UNUSED = "import os  # noqa: TL401\n"
_BUILD_FAILURES = ("CalledProcessError", "Could not find a version", "No matching distribution", "Network is unreachable")


def _git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def head():
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    try:
        return _git("rev-parse", "HEAD", cwd=ROOT).stdout.strip()
    except subprocess.CalledProcessError:
        pytest.skip("the torchlint checkout is not a git repository with a commit")


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory):
    pytest.importorskip("pre_commit", reason="pre-commit is not installed (pip install -e '.[test]')")
    return str(tmp_path_factory.mktemp("pre-commit-home"))


@pytest.fixture
def repo(tmp_path):
    path = tmp_path / "project"
    path.mkdir()
    _git("init", "-q", cwd=path)
    _git("config", "user.email", "test@example.com", cwd=path)
    _git("config", "user.name", "test", cwd=path)
    return path


def try_repo(repo, hook, files, *, head, home):
    """`pre-commit try-repo <this checkout> <hook> --files ...` in `repo`."""
    return _pre_commit(repo, ["try-repo", ROOT, hook, "--ref", head, "--files", *files], home)


def run_hook(repo, hook, files, *, head, home):
    """`pre-commit run <hook> --files ...` with a config naming this checkout at `head`."""
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {ROOT}\n    rev: {head}\n    hooks:\n      - id: torchlint\n      - id: torchlint-fix\n"
    )
    return _pre_commit(repo, ["run", hook, "--files", *files], home)


def _pre_commit(repo, args, home):
    _git("add", "-A", cwd=repo)
    env = {**os.environ, "PRE_COMMIT_HOME": home, "NO_COLOR": "1", "PRE_COMMIT_COLOR": "never"}
    env.pop("FORCE_COLOR", None)
    done = subprocess.run(
        [sys.executable, "-m", "pre_commit", *args, "--color", "never"],
        cwd=repo, capture_output=True, text=True, env=env, timeout=600,
    )
    output = done.stdout + done.stderr
    if done.returncode not in (0, 1) or ("An unexpected error" in output and any(s in output for s in _BUILD_FAILURES)):
        pytest.skip(f"pre-commit could not build the hook's environment (offline?): {output.strip()[-300:]}")
    return done.returncode, output


def test_hook_fails_with_the_finding_on_a_bad_file(repo, head, pre_commit_home):
    (repo / "bad.py").write_text(BAD)
    code, output = try_repo(repo, "torchlint", ["bad.py"], head=head, home=pre_commit_home)
    assert code == 1, output
    assert "torchlint" in output and "Failed" in output
    assert "error[TL401] dataset-protocol" in output and "bad.py:3:7" in output


def test_hook_passes_on_a_good_file(repo, head, pre_commit_home):
    (repo / "good.py").write_text(GOOD)
    (repo / "bad.py").write_text(BAD)  # not passed: pre-commit only checks the files it is given
    code, output = try_repo(repo, "torchlint", ["good.py"], head=head, home=pre_commit_home)
    assert code == 0, output
    assert "Passed" in output


def test_hook_honours_excludes_for_the_files_it_is_given(repo, head, pre_commit_home):
    (repo / "pyproject.toml").write_text('[tool.torchlint]\nextend-exclude = ["generated/"]\n')
    (repo / "generated").mkdir()
    (repo / "generated" / "bad.py").write_text(BAD)
    code, output = run_hook(repo, "torchlint", ["generated/bad.py"], head=head, home=pre_commit_home)
    assert code == 0, output


def test_fix_hook_fixes_the_file_then_passes(repo, head, pre_commit_home):
    (repo / "m.py").write_text(UNUSED)
    code, output = run_hook(repo, "torchlint-fix", ["m.py"], head=head, home=pre_commit_home)
    assert code == 1 and "files were modified by this hook" in output, output
    assert (repo / "m.py").read_text() == "import os\n"
    code, output = run_hook(repo, "torchlint-fix", ["m.py"], head=head, home=pre_commit_home)
    assert code == 0, output


def test_hooks_file_declares_both_hooks():
    import yaml

    with open(os.path.join(ROOT, ".pre-commit-hooks.yaml"), encoding="utf-8") as handle:
        hooks = {hook["id"]: hook for hook in yaml.safe_load(handle)}
    assert set(hooks) == {"torchlint", "torchlint-fix"}
    assert hooks["torchlint"]["entry"] == "torchlint check --force-exclude"
    assert hooks["torchlint-fix"]["entry"] == "torchlint check --force-exclude --fix"
    for hook in hooks.values():
        assert hook["language"] == "python"
        assert hook["types_or"] == ["python", "pyi", "jupyter"]
        assert hook["require_serial"] is True
        assert hook["minimum_pre_commit_version"] == "2.9.2"


# --- --force-exclude without pre-commit ------------------------------------------------------


@pytest.fixture
def excluded_project(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.torchlint]\nextend-exclude = ["generated/", "*_pb2.py"]\n')
    (tmp_path / "generated").mkdir()
    (tmp_path / "generated" / "bad.py").write_text(BAD)
    (tmp_path / "model_pb2.py").write_text(BAD)
    (tmp_path / "ignored.py").write_text(BAD)
    (tmp_path / ".gitignore").write_text("ignored.py\n")
    (tmp_path / ".git").mkdir()  # the .gitignore's repository root
    (tmp_path / "src.py").write_text(BAD)
    return tmp_path


@pytest.mark.parametrize("path", ["generated/bad.py", "model_pb2.py", "ignored.py"])
def test_explicit_paths_are_checked_unless_force_exclude(run_cli, excluded_project, path):
    assert run_cli("check", "--output-format", "concise", path).returncode == 1
    forced = run_cli("check", "--force-exclude", "--output-format", "concise", path)
    assert forced.returncode == 0 and "TL401" not in forced.stdout


def test_force_exclude_skips_an_excluded_directory_given_explicitly(run_cli, excluded_project):
    forced = run_cli("check", "--force-exclude", "--output-format", "concise", "generated")
    assert forced.returncode == 0 and "TL401" not in forced.stdout


def test_force_exclude_keeps_the_files_not_excluded(run_cli, excluded_project):
    done = run_cli("check", "--force-exclude", "--output-format", "concise", "generated/bad.py", "src.py")
    assert done.returncode == 1
    assert [line.split(":")[0] for line in done.stdout.splitlines() if "TL401" in line] == ["src.py"]


def test_force_exclude_from_the_config_file(run_cli, excluded_project):
    config = excluded_project / "pyproject.toml"
    config.write_text(config.read_text() + "force-exclude = true\n")
    assert run_cli("check", "generated/bad.py").returncode == 0
    assert run_cli("check", "--no-force-exclude", "generated/bad.py").returncode == 1
