"""`torchlint verify`: the join of claims with observations, the tracer, the command end to end.

The end-to-end tests run the real command on the small fixtures under `tests/verify_fixtures/`
(one worker process per module), so the oracles are checked independently of the rules being
written; `--claims markers` keeps them independent of the static findings too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from torchlint.verify.join import Claim, join

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERIFY_FIXTURES = os.path.join(ROOT, "tests", "verify_fixtures")


def _verify(run_cli, *args):
    completed = run_cli("verify", "--output-format", "json", *args, cwd=ROOT)
    records = json.loads(completed.stdout) if completed.stdout.strip() else []
    return completed, records


def _event(line, code, holds, case="case_a", device="cpu", observed="measured"):
    return {"case": case, "device": device, "kind": "x", "name": "x", "line": line, "column": 1, "raised": False,
            "index": 0, "verdicts": {code: {"holds": holds, "observed": observed, "evidence": {}}}}


def _run(case="case_a", device="cpu", lines=(), error=None):
    return {"case": case, "device": device, "lines": list(lines), "error": error}


# -- join: pure logic, no torch ------------------------------------------------------------------

def test_claim_on_the_call_line_is_confirmed_or_refuted():
    result = {"events": [_event(5, "TL101", True), _event(9, "TL101", False)], "runs": [_run(lines=[5, 9])]}
    claims = [Claim(5, "TL101", True, True), Claim(9, "TL101", False, True)]
    records = join("f.py", claims, result)
    assert [(r.line, r.kind, r.agree, r.static, r.marker) for r in records] == [
        (5, "claim", True, True, True), (9, "claim", False, False, True)]


def test_claim_on_a_line_without_a_watched_call_uses_the_cases_that_ran_it():
    # A TL201 marker on the `for` line: the steps of the case that executed it decide.
    result = {"events": [_event(12, "TL201", True)], "runs": [_run(lines=[10, 11, 12])]}
    records = join("f.py", [Claim(10, "TL201", True, False)], result)
    assert [(r.line, r.kind, r.agree) for r in records] == [(10, "claim", True)]


def test_tensor_claim_never_borrows_another_lines_call():
    result = {"events": [_event(12, "TL101", True)], "runs": [_run(lines=[10, 12])]}
    records = join("f.py", [Claim(10, "TL101", True, False)], result)
    assert [(r.line, r.kind, r.verdict) for r in records][0] == (10, "claim", "not-exercised")


def test_call_inside_a_helper_joins_the_claim_at_the_helper_call_site():
    event = {**_event(66, "TL104", True), "callers": [73]}
    records = join("f.py", [Claim(73, "TL104", True, True)], {"events": [event], "runs": [_run(lines=[66, 73])]})
    assert [(r.line, r.kind, r.agree) for r in records] == [(73, "claim", True)]


def test_covered_case_has_no_trap_for_that_code_and_other_calls_are_traps():
    result = {"events": [_event(12, "TL201", True), _event(30, "TL201", True, case="case_b")],
              "runs": [_run(lines=[10, 12]), _run(case="case_b", lines=[30])]}
    records = join("f.py", [Claim(10, "TL201", True, True)], result)
    assert [(r.case, r.kind, r.agree) for r in records] == [("case_a", "claim", True), ("case_b", "trap", False)]


def test_claim_whose_line_never_ran_is_not_exercised_and_fails_only_when_strict():
    records = join("f.py", [Claim(3, "TL103", False, True)], {"events": [], "runs": [_run(lines=[1])]})
    assert records[0].verdict == "not-exercised" and "never ran" in records[0].observed
    assert not records[0].fails() and records[0].fails(strict=True)


def test_crash_is_reported_unless_a_confirmed_raising_claim_predicts_it():
    error = {"type": "RuntimeError", "message": "view size is not compatible", "line": 4}
    predicted = {"events": [_event(4, "TL103", True)], "runs": [_run(lines=[4], error=error)]}
    assert [r.kind for r in join("f.py", [Claim(4, "TL103", True, True)], predicted)] == ["claim"]
    unpredicted = {"events": [], "runs": [_run(lines=[4], error=error)]}
    records = join("f.py", [], unpredicted, {"TL103"})
    assert [(r.kind, r.agree, r.line) for r in records] == [("error", False, 4)]


def test_traps_only_for_the_fixture_family_and_claimed_codes():
    result = {"events": [_event(5, "TL102", False), _event(6, "TL103", False)], "runs": [_run(lines=[5, 6])]}
    assert [r.code for r in join("f.py", [], result, {"TL102"})] == ["TL102"]


def test_fatal_worker_result_is_one_error_record():
    records = join("f.py", [Claim(1, "TL101", False, True)], {"fatal": "timed out after 3 s"})
    assert [(r.kind, r.agree, r.observed) for r in records] == [("error", False, "timed out after 3 s")]


def test_json_record_has_the_documented_fields():
    record = join("f.py", [Claim(5, "TL101", True, True)], {"events": [_event(5, "TL101", True)],
                                                            "runs": [_run(lines=[5])]})[0]
    assert set(record.as_json()) == {"code", "fixture", "path", "case", "line", "device", "kind", "static", "marker",
                                     "agree", "observed", "evidence", "verdict", "calls", "tests"}
    assert record.as_json()["verdict"] == "confirmed" and record.as_json()["calls"] == 1


# -- import hygiene --------------------------------------------------------------------------------

def test_cli_and_verify_modules_do_not_import_torch_or_sklearn():
    code = ("import sys, torchlint, torchlint.cli, torchlint.verify.cli, torchlint.verify.runner, "
            "torchlint.verify.join, torchlint.verify.report\n"
            "heavy = [m for m in ('torch', 'sklearn', 'numpy', 'pandas') if m in sys.modules]\n"
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# -- the tracer, in process ------------------------------------------------------------------------

def test_tracer_records_user_calls_with_positions_and_restores_every_patch():
    torch = pytest.importorskip("torch")
    from torchlint.verify.tracer import Tracer

    before = {name: getattr(torch.Tensor, name) for name in ("repeat", "reshape", "add_", "__setitem__")}
    before_reshape, before_step = torch.reshape, torch.optim.SGD.step
    x = torch.ones(3, 1)
    with Tracer() as tracer:
        y = x.repeat(1, 4)
        torch.nn.Linear(2, 2)(torch.ones(1, 2))  # torch's own calls inside are not recorded
    from torchlint.rules.oracles.observations import RepeatCall

    from torchlint.rules.oracles.observations import ModuleCreated, ModuleForward

    # The Linear built and called here is the user's; what torch does inside its forward is not recorded.
    assert [type(call) for call in tracer.calls] == [RepeatCall, ModuleCreated, ModuleForward]
    call = tracer.calls[0]
    assert call.file == os.path.abspath(__file__) and call.column == 13
    assert call.allocated_bytes == y.untyped_storage().nbytes() and call.alternative_bytes == 0
    assert {name: getattr(torch.Tensor, name) for name in before} == before
    assert torch.reshape is before_reshape and torch.optim.SGD.step is before_step


# -- the command end to end ------------------------------------------------------------------------

def test_oracle_fixtures_all_agree_with_a_claim_for_every_code(run_cli):
    completed, records = _verify(run_cli, os.path.join(VERIFY_FIXTURES, "oracles"), "--claims", "markers",
                                 "--device", "cpu")
    assert completed.returncode == 0, [r for r in records if not r["agree"]] or completed.stderr
    confirmed = {r["code"] for r in records if r["kind"] == "claim" and r["agree"]}
    assert confirmed == {"TL101", "TL102", "TL103", "TL104", "TL201", "TL202", "TL301", "TL302", "TL303", "TL401"}
    assert any(r["kind"] == "trap" for r in records)


def test_false_marker_is_refuted_and_true_one_confirmed_with_its_bytes(run_cli):
    completed, records = _verify(run_cli, os.path.join(VERIFY_FIXTURES, "false_marker"), "--device", "cpu")
    assert completed.returncode == 1
    by_case = {r["case"]: r for r in records}
    true, false = by_case["case_true_claim"], by_case["case_false_claim"]
    assert true["agree"] and true["marker"] and true["kind"] == "claim"
    assert true["evidence"]["allocated_bytes"] == 8 * 4 * 4 and true["evidence"]["alternative_bytes"] == 0
    assert not false["agree"] and "size 4" in false["observed"]


def test_failures_are_records_not_fatal_and_notebooks_run(run_cli):
    completed, records = _verify(run_cli, os.path.join(VERIFY_FIXTURES, "failing"),
                                 os.path.join(VERIFY_FIXTURES, "notebook"), "--claims", "markers", "--device", "cpu")
    assert completed.returncode == 1
    kinds = {(r["fixture"].split("/")[-2], r["kind"], r["agree"]) for r in records}
    assert ("failing", "error", False) in kinds
    assert [r["verdict"] for r in records if r["kind"] == "claim" and "failing" in r["fixture"]] == ["not-exercised"]
    notebook = [r for r in records if r["fixture"].endswith(".ipynb")]
    assert [(r["cell"], r["line"], r["case"], r["agree"]) for r in notebook] == [(3, 3, "<module>", True)]


def test_timeout_is_a_record_and_the_table_has_a_summary(run_cli):
    completed = run_cli("verify", os.path.join(VERIFY_FIXTURES, "slow"), "--timeout", "2", cwd=ROOT)
    assert completed.returncode == 1
    assert "timed out after 2 s" in completed.stdout and "1 disagree" in completed.stdout


def test_memory_cap_turns_a_runaway_case_into_a_record(run_cli):
    completed, records = _verify(run_cli, os.path.join(VERIFY_FIXTURES, "memory"), "--memory-limit", "1024",
                                 "--device", "cpu")
    assert completed.returncode == 1
    assert [(r["kind"], r["agree"]) for r in records] == [("error", False)]
    assert "MemoryError" in records[0]["observed"]


def test_every_verifiable_code_has_a_bundled_fixture_with_a_marker():
    from torchlint.rules.oracles import oracles_by_code
    from torchlint.testing import expectations_in_file
    from torchlint.verify.runner import bundled_fixtures, discover

    marked = {e.code for path in discover([bundled_fixtures()]) for e in expectations_in_file(path)}
    assert set(oracles_by_code()) <= marked


def test_bundled_fixtures_run_from_the_package(run_cli):
    # All of them take minutes on a small machine: TL401's here, every one with TORCHLINT_VERIFY_ALL=1.
    from torchlint.verify.runner import bundled_fixtures

    base = bundled_fixtures()
    assert base is not None
    paths = [] if os.environ.get("TORCHLINT_VERIFY_ALL") else [os.path.join(base, "TL401_dataset_protocol")]
    completed, records = _verify(run_cli, *paths, "--strict")
    assert completed.returncode == 0, [r for r in records if r["verdict"] not in ("confirmed", "harmless")]
    assert any(r["code"] == "TL401" and r["kind"] == "claim" and r["static"] for r in records)


def test_unreadable_fixture_is_a_record(run_cli, tmp_path):
    (tmp_path / "broken.ipynb").write_text('{"cells": [', encoding="utf-8")
    completed, records = _verify(run_cli, str(tmp_path))
    assert completed.returncode == 1
    assert [(r["kind"], r["agree"]) for r in records] == [("error", False)]
    assert "invalid notebook JSON" in records[0]["observed"]


def test_usage_errors_exit_2(run_cli):
    assert run_cli("verify", "no/such/path", cwd=ROOT).returncode == 2


# -- CUDA ------------------------------------------------------------------------------------------

def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


CUDA = _cuda_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="CUDA not available: torch.cuda.is_available() is False")


@pytest.mark.skipif(CUDA, reason="this machine has CUDA")
def test_cuda_requested_without_cuda_is_a_usage_error(run_cli):
    completed = run_cli("verify", os.path.join(VERIFY_FIXTURES, "false_marker"), "--device", "cuda", cwd=ROOT)
    assert completed.returncode == 2 and "needs CUDA" in completed.stderr


@needs_cuda
def test_cuda_tensor_oracles_agree_on_the_device(run_cli):
    completed, records = _verify(run_cli, os.path.join(VERIFY_FIXTURES, "oracles", "tensor_cases.py"),
                                 os.path.join(VERIFY_FIXTURES, "oracles", "training_cases.py"),
                                 "--claims", "markers", "--device", "cuda")
    assert completed.returncode == 0, [r for r in records if not r["agree"]]
    cuda = [r for r in records if r["device"] == "cuda"]
    assert {r["code"] for r in cuda if r["kind"] == "claim"} == {"TL101", "TL102", "TL103", "TL104", "TL201", "TL202"}
    repeat = next(r for r in cuda if r["code"] == "TL101" and r["kind"] == "claim")
    # On CUDA the bytes are the caching allocator's: at least the tensor, and 0 for the expand.
    assert repeat["evidence"]["allocated_bytes"] >= 3 * 4 * 4 and repeat["evidence"]["alternative_bytes"] == 0


@needs_cuda
def test_cuda_false_marker_is_refuted_on_the_device(run_cli):
    completed, records = _verify(run_cli, os.path.join(VERIFY_FIXTURES, "false_marker"), "--device", "all")
    assert completed.returncode == 1
    assert {(r["device"], r["case"], r["agree"]) for r in records} == {
        ("cpu", "case_true_claim", True), ("cpu", "case_false_claim", False),
        ("cuda", "case_true_claim", True), ("cuda", "case_false_claim", False)}
