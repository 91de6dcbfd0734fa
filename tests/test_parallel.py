"""Parallel runs give exactly the serial run's results and output, in the same order."""

import json
import os
import sys

import pytest

from torchlint import runner
from torchlint.config import SelectionLayer, load_settings

FINDING = "from torch.utils.data import Dataset\n\nclass A{n}(Dataset):\n    def __len__(self):\n        return {n}\n"
NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": ["from torch.utils.data import Dataset\n", "class N(Dataset):\n", "    def __len__(self): return 1\n"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": ["x = (\n"]},
    ],
    "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
}


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "proj"
    for index in range(40):
        folder = root / f"pkg{index % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        kind = index % 5
        if kind == 0:
            text = FINDING.format(n=index)
        elif kind == 1:
            text = f"def broken{index}(:\n    pass\n"
        elif kind == 2:
            text = f"import torch  # noqa: TL101\nvalue = {index}\n"
        elif kind == 3:
            text = "".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(50))
        else:
            text = FINDING.format(n=index) + "\n# torchlint: file-ignore[TL401]\n"
        (folder / f"m{index:02}.py").write_text(text)
    (root / "nb.ipynb").write_text(json.dumps(NOTEBOOK))
    (root / "latin.py").write_bytes(b"# -*- coding: latin-1 -*-\nname = '\xe9'\n")
    (root / "bad.py").write_bytes(b"x = '\xff\xfe'\n")
    return root


def _settings():
    return load_settings(None, SelectionLayer(), isolated=True)


def test_parallel_results_equal_serial_results(tree):
    serial = list(runner.check_paths([str(tree)], _settings(), jobs=1))
    parallel = list(runner.check_paths([str(tree)], _settings(), jobs=3))
    assert [r.path for r in serial] == sorted(r.path for r in serial)
    assert [(r.path, r.diagnostics, r.source, r.cell_sources) for r in serial] == [
        (r.path, r.diagnostics, r.source, r.cell_sources) for r in parallel
    ]
    codes = {d.code for r in serial for d in r.diagnostics}
    assert {"TL001", "TL401", "TL002"} <= codes


def test_results_stream_before_the_run_ends(tree):
    """The first result is handed over while later files are still waiting to be linted."""
    results = runner.check_paths([str(tree)], _settings(), jobs=2)
    first = next(results)
    assert first.path == sorted(r.path for r in runner.check_paths([str(tree)], _settings(), jobs=1))[0]
    results.close()  # stopping early shuts the pool down cleanly


@pytest.mark.parametrize("fmt", ["full", "concise", "json"])
def test_cli_output_is_byte_identical_serial_and_parallel(tree, run_cli, fmt):
    serial = run_cli("check", "--isolated", "--no-cache", "-j", "1", "--output-format", fmt, ".", cwd=tree)
    parallel = run_cli("check", "--isolated", "--no-cache", "-j", "4", "--output-format", fmt, ".", cwd=tree)
    assert serial.returncode == parallel.returncode == 1
    assert serial.stdout == parallel.stdout
    assert serial.stdout


def test_a_single_file_is_linted_in_process(tree, monkeypatch):
    def no_pool(*args, **kwargs):
        raise AssertionError("a pool was started for one file")

    monkeypatch.setattr(runner, "_lint_in_pool", no_pool)
    [result] = runner.check_paths([str(tree / "pkg0" / "m00.py")], _settings())
    assert result.diagnostics[0].code == "TL401"


def test_jobs_must_be_positive(tree, run_cli):
    result = run_cli("check", "--isolated", "-j", "0", ".", cwd=tree)
    assert result.returncode == 2


def test_default_jobs_is_every_usable_core():
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert runner.default_jobs() == expected


@pytest.mark.skipif(sys.platform == "win32", reason="fork start method")
def test_worker_crash_in_a_rule_stays_a_diagnostic(tree, monkeypatch):
    """An exception inside the engine becomes TL004 for that file, in workers as in-process."""
    import torchlint.engine as engine

    real = engine._lint_program

    def flaky(text, path, *args, **kwargs):
        if path.endswith("m03.py"):
            raise RuntimeError("boom")
        return real(text, path, *args, **kwargs)

    monkeypatch.setattr(engine, "_lint_program", flaky)
    serial = list(runner.check_paths([str(tree)], _settings(), jobs=1))
    parallel = list(runner.check_paths([str(tree)], _settings(), jobs=2))
    assert [r.diagnostics for r in serial] == [r.diagnostics for r in parallel]
    crashed = [r for r in serial if r.path.endswith("m03.py")][0]
    assert crashed.diagnostics[0].code == "TL004"


def test_parallel_run_with_another_thread_alive_matches_serial(tree):
    """A live thread (a progress bar) makes the pool start clean workers instead of forking."""
    import threading

    stop = threading.Event()
    ticker = threading.Thread(target=stop.wait, daemon=True)
    ticker.start()
    try:
        assert runner._start_method() != "fork"
        parallel = list(runner.check_paths([str(tree)], _settings(), jobs=2))
    finally:
        stop.set()
        ticker.join()
    serial = list(runner.check_paths([str(tree)], _settings(), jobs=1))
    assert [(r.path, r.diagnostics) for r in serial] == [(r.path, r.diagnostics) for r in parallel]


def test_the_cycle_collector_is_paused_while_a_file_is_linted_and_run_after_it(tmp_path, monkeypatch):
    import gc

    path = tmp_path / "m.py"
    path.write_text(FINDING.format(n=1))
    seen = []
    monkeypatch.setattr(runner, "lint_file", lambda *args, **kwargs: seen.append(gc.isenabled()) or runner.FileResult(str(path)))
    collected = []
    monkeypatch.setattr(gc, "collect", lambda generation=2: collected.append(generation) or 0)
    runner._init_worker(load_settings(None, SelectionLayer(), isolated=True), None)
    assert gc.isenabled()
    runner._lint_one(str(path))
    assert seen == [False] and collected == [0] and gc.isenabled()
    gc.disable()  # paused by the caller: left as it is, nothing collected
    try:
        runner._lint_one(str(path))
        assert seen == [False, False] and collected == [0] and not gc.isenabled()
    finally:
        gc.enable()
