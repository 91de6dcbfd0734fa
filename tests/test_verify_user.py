"""`torchlint verify -- COMMAND` and the pytest plugin on a small user project (tests/user_project/).

The project (a model, a training loop, a data script, a training script and two test files) is
copied to a temporary directory and run as its own project. Its static findings, and what each
must end as when its tests run:

- TL101 model.py:20 (`pos.unsqueeze(0).repeat(...)`): confirmed by test_model.py::test_forward, bytes;
- TL102 model.py:27 (reshape after transpose): refuted, the tests pass a (batch, 1, dim) tensor;
- TL103 model.py:32 (`export_rows`): not exercised, no test calls it;
- TL302 prepare_data.py:11: not exercised, and the data script never runs;
- TL201 train.py:11 (no zero_grad): confirmed by test_train.py, gradient carried over;
- runtime-only: the reshape in `flatten_features` (model.py:9) copied a permuted tensor.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys

import pytest

from torchlint.verify.join import Record
from torchlint.verify.report import render_table
from torchlint.verify.user import Finding, judge

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT = os.path.join(ROOT, "tests", "user_project")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    target = tmp_path_factory.mktemp("user") / "project"
    shutil.copytree(PROJECT, target, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return target


def _run(args, cwd, timeout=300):
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)


def _by_site(records):
    return {(r["code"], r["path"], r["line"]): r for r in records}


@pytest.fixture(scope="module")
def pytest_run(project):
    completed = _run([sys.executable, "-m", "torchlint", "verify", "--output-format", "json", "--",
                      "pytest", "-q", "-p", "no:cacheprovider", "tests/"], project)
    return completed, json.loads(completed.stdout)


def test_each_verdict_kind_is_right_for_the_tests(pytest_run, project):
    completed, records = pytest_run
    sites = _by_site(records)
    assert completed.returncode == 1, completed.stderr  # the refuted TL102
    assert {key: r["verdict"] for key, r in sites.items() if r["kind"] == "claim"} == {
        ("TL101", "tinynet/model.py", 20): "confirmed",
        ("TL102", "tinynet/model.py", 27): "refuted",
        ("TL103", "tinynet/model.py", 32): "not-exercised",
        ("TL302", "tinynet/prepare_data.py", 11): "not-exercised",
        ("TL201", "tinynet/train.py", 11): "confirmed",
    }
    repeat = sites[("TL101", "tinynet/model.py", 20)]
    # 3 calls of (3, 4, 8) float32 in test_forward and 3 of (2, 4, 8) in training: 384 B and 256 B each
    assert repeat["evidence"]["total_allocated_bytes"] == 384 + 3 * 256 and repeat["evidence"]["alternative_bytes"] == 0
    assert repeat["tests"] == ["tests/test_model.py::test_forward", "tests/test_train.py::test_train_runs_three_steps"]
    assert sites[("TL201", "tinynet/train.py", 11)]["tests"] == ["tests/test_train.py::test_train_runs_three_steps"]
    assert sites[("TL201", "tinynet/train.py", 11)]["evidence"]["carried_norm"] > 0
    assert sites[("TL102", "tinynet/model.py", 27)]["tests"] == ["tests/test_model.py::test_pooled_is_a_view"]


def test_runtime_only_sites_are_listed_with_their_bytes(pytest_run):
    _, records = pytest_run
    extra = [r for r in records if r["kind"] == "runtime-only"]
    assert [(r["code"], r["path"], r["line"]) for r in extra] == [("TL102", "tinynet/model.py", 9)]
    assert extra[0]["calls"] == 4 and extra[0]["evidence"]["total_copied_bytes"] == 384 + 3 * 256
    assert not any(r.get("static") for r in extra)


def test_nothing_outside_the_command_runs(pytest_run, project):
    assert not (project / "tinynet" / "PREPARE_DATA_RAN").exists()


def test_the_pytest_plugin_reports_the_same_verdicts_per_test(project, tmp_path):
    out = tmp_path / "records.json"
    completed = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                      "torchlint.verify.pytest_plugin", "--torchlint-verify", f"--torchlint-verify-json={out}",
                      "tests/"], project)
    assert "torchlint verify" in completed.stdout and "3 passed" in completed.stdout
    assert completed.returncode == 1  # every test passed, but a claim was refuted
    records = json.loads(out.read_text())
    sites = _by_site(records)
    assert sites[("TL101", "tinynet/model.py", 20)]["verdict"] == "confirmed"
    assert "tests/test_model.py::test_forward" in sites[("TL101", "tinynet/model.py", 20)]["tests"]
    assert sites[("TL103", "tinynet/model.py", 32)]["verdict"] == "not-exercised"
    assert not (project / "tinynet" / "PREPARE_DATA_RAN").exists()


def test_the_plugin_is_registered_as_a_pytest11_entry_point():
    from importlib.metadata import entry_points

    assert "torchlint.verify.pytest_plugin" in {p.value for p in entry_points(group="pytest11")}


def test_a_training_script_is_verified_without_tests(project):
    completed = _run([sys.executable, "-m", "torchlint", "verify", "--output-format", "json", "--",
                      "python", "run_training.py", "--steps", "2"], project)
    records = json.loads(completed.stdout)
    sites = _by_site(records)
    assert "trained 2 steps" in completed.stderr  # the program's own output, kept off the JSON
    assert sites[("TL201", "tinynet/train.py", 11)]["verdict"] == "confirmed"
    assert sites[("TL101", "tinynet/model.py", 20)]["evidence"]["calls"] == 2
    assert sites[("TL102", "tinynet/model.py", 27)]["verdict"] == "not-exercised"
    assert completed.returncode == 0  # nothing refuted; --strict would count the not-exercised ones
    strict = _run([sys.executable, "-m", "torchlint", "verify", "--strict", "--output-format", "json", "--",
                   "python", "run_training.py", "--steps", "1"], project)
    assert strict.returncode == 1


def test_fixture_mode_never_runs_files_without_cases(project):
    completed = _run([sys.executable, "-m", "torchlint", "verify", str(project)], project)
    assert completed.returncode == 2 and "case_" in completed.stderr and "verify -- pytest" in completed.stderr
    assert not (project / "tinynet" / "PREPARE_DATA_RAN").exists()
    assert "files that define `case_*()` functions" in _run([sys.executable, "-m", "torchlint", "verify", "--help"],
                                                            project).stdout.replace("\n", " ").replace("  ", " ")


def test_a_command_that_is_not_python_is_a_usage_error(project):
    completed = _run([sys.executable, "-m", "torchlint", "verify", "--", "ls", "-l"], project)
    assert completed.returncode == 2 and "not a Python program" in completed.stderr


# -- the join, without running anything -------------------------------------------------------------

class _Oracle:
    def __init__(self, around=False, runtime_only=True):
        self.around, self.runtime_only = around, runtime_only


def _site(code, line, held, calls=1, callers=(), copied=0, tests=None):
    example = {"observed": "measured", "evidence": {}}
    return {"path": "m.py", "line": line, "code": code, "name": "x", "calls": calls, "held": held,
            "bytes": {"copied_bytes": copied} if copied else {}, "holds_example": example if held else None,
            "other_example": None if held else example, "tests": tests or {}, "callers": list(callers)}


def test_join_by_line_by_helper_call_site_and_around_the_finding(tmp_path):
    (tmp_path / "m.py").write_text("def loop():\n    for _ in range(3):\n        step()\n\n\ndef other():\n    step()\n")
    result = {"root": str(tmp_path), "sites": [
        _site("TL102", 5, held=0), _site("TL102", 40, held=1, callers=[7]), _site("TL201", 3, held=2, calls=2),
        _site("TL201", 7, held=1)]}
    oracles = {"TL102": _Oracle(), "TL201": _Oracle(around=True, runtime_only=False)}
    findings = [Finding("TL102", "m.py", 5, None, ""), Finding("TL102", "m.py", 7, None, ""),
                Finding("TL201", "m.py", 2, None, ""), Finding("TL102", "m.py", 9, None, "")]
    verdicts = [(r.line, r.code, r.verdict, r.evidence["calls"]) for r in judge(result, findings, oracles)]
    assert verdicts == [(5, "TL102", "refuted", 1), (7, "TL102", "confirmed", 1), (2, "TL201", "confirmed", 2),
                        (9, "TL102", "not-exercised", 0)]


def test_runtime_only_sites_are_sorted_by_bytes_and_never_fail(tmp_path):
    result = {"root": str(tmp_path), "sites": [_site("TL102", 1, 1, copied=10), _site("TL102", 2, 1, copied=999),
                                                _site("TL102", 3, 0)]}
    records = judge(result, [], {"TL102": _Oracle()})
    assert [(r.line, r.kind) for r in records] == [(2, "runtime-only"), (1, "runtime-only")]
    assert not any(r.fails(strict=True) for r in records)


def test_the_table_fits_the_width_it_is_given():
    long = "a measured explanation that is much longer than any terminal column would like " * 2
    records = [Record("TL101", "some/deep/package/path/module_name.py", "tests/test_x.py::test_y", 123, "cpu",
                      "claim", True, True, True, long, {"calls": 3, "total_allocated_bytes": 4096}),
               Record("TL102", "p.py", "-", 9, "-", "runtime-only", False, False, True, "copied", {"calls": 1},
                      verdict="harmful")]
    for width in (60, 80, 100, 160):
        out = io.StringIO()
        render_table(records, out, color=False, width=width)
        lines = out.getvalue().splitlines()
        assert max(len(line) for line in lines) <= width, (width, out.getvalue())
        text = out.getvalue()
        assert "TL101" in text and "TL102" in text and "runtime-only" in text
        assert "1 runtime-only" in " ".join(text.split())


def test_a_failing_command_is_an_error_record(project):
    completed = _run([sys.executable, "-m", "torchlint", "verify", "--output-format", "json", "--",
                      "python", "run_training.py", "--steps", "many"], project)
    errors = [r for r in json.loads(completed.stdout) if r["kind"] == "error"]
    assert completed.returncode == 1 and [r["observed"] for r in errors] == ["the command exited with status 2"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc and prctl")
def test_nothing_the_command_started_outlives_it(tmp_path):
    code = ("import subprocess, sys; child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], "
            "start_new_session=True); open('pid', 'w').write(str(child.pid))")
    completed = _run([sys.executable, "-m", "torchlint", "verify", "--", "python", "-c", code], tmp_path)
    assert completed.returncode == 0, completed.stderr
    pid = int((tmp_path / "pid").read_text())
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
