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
