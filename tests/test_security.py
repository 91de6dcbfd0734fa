"""Checking a project never runs its code and never reads or writes files outside it."""

import os
import shutil
import subprocess
import sys
import threading

import pytest

SHADOWING_MODULES = ("multiprocessing.py", "socket.py", "concurrent.py", "selectors.py", "tokenize.py")


def _project_that_shadows_the_stdlib(root, marker):
    """60 small files (enough for the progress bar) and modules named like the standard library's."""
    root.mkdir()
    for index in range(60):
        (root / f"m{index:02}.py").write_text(f"value = {index}\n")
    payload = f"open({str(marker)!r}, 'a').write(__name__ + ' ran\\n')\n"
    for name in SHADOWING_MODULES:
        (root / name).write_text(payload)
    return root


def _entry_points():
    script = os.path.join(os.path.dirname(sys.executable), "torchlint")
    commands = [[sys.executable, "-m", "torchlint"]]
    if os.path.exists(script):
        commands.append([script])
    return commands


def _environment():
    env = {key: value for key, value in os.environ.items() if key not in ("CI", "NO_COLOR", "FORCE_COLOR", "PYTHONSAFEPATH")}
    env["TERM"] = "xterm"
    return env


def _run_under_a_terminal(command, cwd):
    """Run with stdout and stderr on a pseudo-terminal, as in an interactive shell; return (rc, output)."""
    import select

    controller, terminal = os.openpty()
    try:
        process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal, env=_environment())
    finally:
        os.close(terminal)
    output = b""
    try:
        while True:
            ready, _, _ = select.select([controller], [], [], 120)
            if not ready:
                process.kill()
                break
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(controller)
    return process.wait(timeout=120), output.decode("utf-8", "replace")


@pytest.mark.parametrize("entry", range(len(_entry_points())), ids=lambda i: ["python -m torchlint", "torchlint script"][i])
def test_checking_a_directory_under_a_terminal_never_imports_its_modules(tmp_path, entry):
    marker = tmp_path / "marker"
    project = _project_that_shadows_the_stdlib(tmp_path / "proj", marker)
    rc, output = _run_under_a_terminal([*_entry_points()[entry], "check", "--no-cache", "-j", "2", "."], project)
    assert not marker.exists(), marker.read_text()
    assert rc == 0, output
    assert "All checks passed!" in output


@pytest.mark.parametrize("entry", range(len(_entry_points())), ids=lambda i: ["python -m torchlint", "torchlint script"][i])
def test_checking_a_directory_without_a_terminal_never_imports_its_modules(tmp_path, entry):
    marker = tmp_path / "marker"
    project = _project_that_shadows_the_stdlib(tmp_path / "proj", marker)
    for jobs in ("1", "2"):
        done = subprocess.run(
            [*_entry_points()[entry], "check", "--no-cache", "-j", jobs, "."],
            cwd=project, capture_output=True, text=True, env=_environment(), timeout=120,
        )
        assert not marker.exists(), marker.read_text()
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "All checks passed!"


def test_workers_started_beside_another_thread_never_import_project_modules(tmp_path, monkeypatch):
    """A running thread (a progress bar) makes workers fresh interpreters: still nothing from the project."""
    from torchlint import runner
    from torchlint.config import SelectionLayer, load_settings

    marker = tmp_path / "marker"
    project = _project_that_shadows_the_stdlib(tmp_path / "proj", marker)
    monkeypatch.chdir(project)
    monkeypatch.setattr(sys, "path", ["", *sys.path])
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert threading.active_count() > 1  # so workers are not forked
        results = list(runner.check_paths(["."], load_settings(None, SelectionLayer(), isolated=True), jobs=2))
    finally:
        stop.set()
        thread.join()
    assert not marker.exists(), marker.read_text()
    assert len(results) == 60 + len(SHADOWING_MODULES)
    assert all(result.diagnostics == [] for result in results)


def test_worker_sys_path_has_neither_the_current_nor_the_script_directory(tmp_path, monkeypatch):
    from torchlint.runner import safe_sys_path

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "bin" / "torchlint")])
    cleaned = safe_sys_path(["", ".", str(tmp_path), str(tmp_path / "bin"), "/usr/lib/python3"])
    assert cleaned == ["/usr/lib/python3"]


def test_safe_sys_path_keeps_the_standard_library():
    from torchlint.runner import safe_sys_path

    stdlib = os.path.dirname(shutil.__file__)
    assert stdlib in safe_sys_path(sys.path)


# --- Never read or write outside the project through a symlink -------------------------------

DATASET = "from torch.utils.data import Dataset\nclass A(Dataset):\n    def __getitem__(self, i): return i\n"


def _cli(*args, cwd):
    env = {**_environment(), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "torchlint", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def linked_project(tmp_path):
    """A project with symlinks out of it (a directory, a file, a secret) and one inside it."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.py").write_text(DATASET)
    (outside / "secret.txt").write_text("root:SECRET-LINE:0:0\n")
    project = tmp_path / "proj"
    (project / "pkg").mkdir(parents=True)
    (project / "pkg" / "real.py").write_text(DATASET)
    os.symlink(outside, project / "linkdir")
    os.symlink(outside / "x.py", project / "linkfile.py")
    os.symlink(outside / "secret.txt", project / "leak.py")
    os.symlink(project / "pkg" / "real.py", project / "alias.py")
    return project


def test_walking_never_follows_symlinks_out_of_the_project(linked_project, monkeypatch):
    from torchlint.config import SelectionLayer, load_settings
    from torchlint.discovery import discover

    monkeypatch.chdir(linked_project)
    settings = load_settings(None, SelectionLayer(), isolated=True)
    found = {c.path: c for c in discover(["."], settings)}
    assert sorted(found) == ["alias.py", os.path.join("pkg", "real.py")]
    assert found["alias.py"].symlink and not found[os.path.join("pkg", "real.py")].symlink


def test_a_symlink_to_a_file_outside_the_project_never_prints_it(linked_project):
    result = _cli("check", "--no-cache", ".", cwd=linked_project)
    assert "SECRET-LINE" not in result.stdout + result.stderr
    assert "leak.py" not in result.stdout and "linkfile.py" not in result.stdout and "linkdir" not in result.stdout
    assert "alias.py" in result.stdout and os.path.join("pkg", "real.py") in result.stdout


def test_a_symlinked_file_named_on_the_command_line_is_checked(linked_project):
    from torchlint.config import SelectionLayer, load_settings
    from torchlint.discovery import discover

    settings = load_settings(None, SelectionLayer(), isolated=True)
    [candidate] = discover([str(linked_project / "linkfile.py")], settings)
    assert candidate.explicit and candidate.symlink
    result = _cli("check", "--no-cache", "--output-format", "concise", "linkfile.py", cwd=linked_project)
    assert "linkfile.py:2:7: TL401" in result.stdout


def test_a_symlinked_cache_dir_is_refused_and_nothing_is_written_through_it(tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "a.py").write_text(DATASET)
    target = tmp_path / "victim"
    target.mkdir()
    os.symlink(target, project / ".torchlint_cache")
    result = _cli("check", ".", cwd=project)
    assert result.returncode == 1
    assert os.listdir(target) == []
    assert "not caching" in result.stderr and "symlink" in result.stderr
    # Named on purpose, the same folder is used.
    named = _cli("check", "--cache-dir", ".torchlint_cache", ".", cwd=project)
    assert named.returncode == 1 and "not caching" not in named.stderr
    assert "CACHEDIR.TAG" in os.listdir(target)


def test_a_cache_dir_outside_the_project_root_is_refused_unless_named(tmp_path):
    from torchlint.cache import ResultCache
    from torchlint.diagnostics import FileResult

    project, outside = tmp_path / "proj", tmp_path / "out"
    project.mkdir()
    cache = ResultCache(str(project / ".." / "out"), "settings", "code", confined_to=str(project))
    assert cache.refused and "outside the project root" in cache.refused
    cache.put("ab" * 20, FileResult(path="a.py"))
    assert not outside.exists()
    inside = ResultCache(str(project / ".torchlint_cache"), "settings", "code", confined_to=str(project))
    assert inside.refused is None


def test_a_results_folder_symlinked_out_of_the_cache_gets_no_entries(tmp_path):
    from torchlint.cache import ResultCache
    from torchlint.diagnostics import FileResult

    cache_dir, target = tmp_path / "cache", tmp_path / "victim"
    cache_dir.mkdir()
    target.mkdir()
    os.symlink(target, cache_dir / "results")
    cache = ResultCache(str(cache_dir), "settings", "code")
    cache.put("ab" * 20, FileResult(path="a.py"))
    assert not any(files for _, _, files in os.walk(target))


# --- Nothing in a checked file's name or text drives the terminal or forges output -----------

FORGED = "\nforged.py:1:1: TL401 forged finding\n"


@pytest.fixture
def hostile_names(tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    (project / f"a{FORGED}b.py").write_text(DATASET)
    (project / "osc\x1b]8;;http:x\x07link\x1b[2J.py").write_text(DATASET)
    # ESC and a right-to-left override inside the quoted source line of a finding.
    (project / "source.py").write_text(
        "from torch.utils.data import Dataset\nclass A(Dataset):  # \x1b[31mred\x1b[0m \u202e\n    def __getitem__(self, i): return i\n"
    )
    (project / "syntax.py").write_text("x = '\x1b]0;title\x07'\ny = \x1b\n")
    return project


@pytest.mark.parametrize("fmt", ["concise", "full"])
def test_names_and_source_never_forge_lines_or_reach_the_terminal(hostile_names, fmt):
    result = _cli("check", "--no-cache", "--output-format", fmt, ".", cwd=hostile_names)
    assert result.returncode == 1, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout and "\u202e" not in result.stdout
    lines = result.stdout.splitlines()
    assert not any(line.startswith("forged.py") for line in lines)
    assert "a\\nforged.py:1:1: TL401 forged finding\\nb.py" in result.stdout
    assert "\\x1b]8;;http:x\\x07link\\x1b[2J.py" in result.stdout
    if fmt == "full":
        assert "# \\x1b[31mred\\x1b[0m \\u202e" in result.stdout


def test_full_output_underline_stays_under_the_span_after_escaping(tmp_path):
    from torchlint.output.full import _escaped

    line, start, end = _escaped("x = '\x1b' + foo", 11, 14)
    assert line == "x = '\\x1b' + foo"
    assert line[start - 1 : end - 1] == "foo"


def test_junit_output_is_valid_xml_with_control_characters(hostile_names):
    import xml.etree.ElementTree as ET

    result = _cli("check", "--no-cache", "--output-format", "junit", ".", cwd=hostile_names)
    assert result.returncode == 1, result.stderr
    root = ET.fromstring(result.stdout)
    names = {suite.get("name") for suite in root.iter("testsuite")}
    assert "a\\nforged.py:1:1: TL401 forged finding\\nb.py" in names
    assert int(root.get("failures")) >= 4
