"""`verify` containment: bounded output, a memory cap on the whole tree, no survivors, named signals.

Each test writes a tiny fixture module (no torch) and runs it through the real worker path
(`runner.run_worker`), as `torchlint verify` does.
"""

from __future__ import annotations

import resource
import sys
import textwrap
import time

import pytest

from torchlint.verify.contain import CappedReader, descendants, kill_tree, signal_name
from torchlint.verify.runner import Options, run_worker

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc and prctl")


def _fixture(tmp_path, body: str) -> str:
    path = tmp_path / "cases.py"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return str(path)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return False
    return state != b"Z"


def _wait_gone(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


_ESCAPER = """
import os, subprocess, sys, time

def case_spawns_a_grandchild_in_its_own_session():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    with open({marker!r}, "w") as handle:
        handle.write(str(child.pid))
    {tail}
"""


@linux_only
def test_grandchild_in_a_new_session_does_not_outlive_a_finished_worker(tmp_path):
    marker = tmp_path / "pid"
    path = _fixture(tmp_path, _ESCAPER.format(marker=str(marker), tail="pass"))
    result = run_worker(path, Options(devices=("cpu",), timeout=60, memory_mb=1024))
    assert "fatal" not in result, result
    pid = int(marker.read_text())
    assert _wait_gone(pid), f"grandchild {pid} survived verify"


@linux_only
def test_grandchild_in_a_new_session_does_not_outlive_a_timed_out_worker(tmp_path):
    marker = tmp_path / "pid"
    path = _fixture(tmp_path, _ESCAPER.format(marker=str(marker), tail="time.sleep(120)"))
    result = run_worker(path, Options(devices=("cpu",), timeout=3, memory_mb=1024))
    assert result["fatal"] == "timed out after 3 s"
    pid = int(marker.read_text())
    assert _wait_gone(pid), f"grandchild {pid} survived verify"


def test_a_flood_of_output_is_kept_as_a_short_tail_in_the_parent(tmp_path):
    path = _fixture(tmp_path, """
        import sys

        def case_floods_then_crashes():
            line = "x" * 1023 + "\\n"
            for _ in range(300 * 1024):  # 300 MiB
                sys.stdout.write(line)
            raise SystemExit("the last words")
    """)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = run_worker(path, Options(devices=("cpu",), timeout=120, memory_mb=1024))
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 100, f"the parent grew by {grown_mib:.0f} MiB"
    assert "fatal" in result and "the last words" in result["fatal"] and len(result["fatal"]) < 400


def test_capped_reader_keeps_only_the_tail(tmp_path):
    data = tmp_path / "data"
    data.write_bytes(b"a" * 100_000 + b"THE END")
    with open(data, "rb") as handle:
        reader = CappedReader(handle, cap=1000)
        text = reader.text()
    assert len(text) == 1000 and text.endswith("THE END") and reader.total == 100_007


@linux_only
def test_a_segfault_is_named_sigsegv_not_a_memory_cap(tmp_path):
    path = _fixture(tmp_path, """
        import ctypes

        def case_segfaults():
            ctypes.string_at(0)
    """)
    result = run_worker(path, Options(devices=("cpu",), timeout=60, memory_mb=1024))
    assert "killed by SIGSEGV" in result["fatal"] and "memory" not in result["fatal"]


@linux_only
def test_the_memory_cap_covers_the_whole_process_tree(tmp_path):
    # Three children of 200 MiB each: every one is under the 400 MiB cap, the tree is not.
    path = _fixture(tmp_path, """
        import subprocess, sys, time

        HOLD = "data = b'x' * (200 * 2**20); import time; time.sleep(60)"

        def case_three_hungry_children():
            children = [subprocess.Popen([sys.executable, "-c", HOLD]) for _ in range(3)]
            for child in children:
                child.wait()
    """)
    started = time.monotonic()
    result = run_worker(path, Options(devices=("cpu",), timeout=60, memory_mb=400))
    assert "memory cap reached" in result["fatal"] and "cap 400 MiB" in result["fatal"]
    assert time.monotonic() - started < 30


def test_signal_names():
    assert signal_name(-11) == "SIGSEGV" and signal_name(-9) == "SIGKILL" and signal_name(3) == "exit status 3"


@linux_only
def test_kill_tree_kills_children_and_grandchildren():
    import subprocess

    script = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; "
              "time.sleep(60)'], start_new_session=True); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 10
    while not descendants(parent.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    tree = [parent.pid, *descendants(parent.pid)]
    assert len(tree) == 2
    kill_tree(parent.pid)
    parent.wait()
    assert _wait_gone(tree[1])


@linux_only
def test_killing_verify_itself_kills_the_fixture_tree(tmp_path):
    import signal
    import subprocess

    marker = tmp_path / "pid"
    path = _fixture(tmp_path, _ESCAPER.format(marker=str(marker), tail="time.sleep(120)"))
    verify = subprocess.Popen([sys.executable, "-m", "torchlint", "verify", path, "--device", "cpu"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    grandchild = int(marker.read_text())
    verify.send_signal(signal.SIGKILL)
    verify.wait()
    assert _wait_gone(grandchild, 10), f"grandchild {grandchild} survived a killed verify"
