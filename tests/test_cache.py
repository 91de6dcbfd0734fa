"""The result cache: hits, misses on every input of the key, corrupted entries, concurrent runs."""

import json
import multiprocessing
import os
import subprocess
import sys

import pytest

from torchlint import runner
from torchlint.cache import DEFAULT_DIR, ResultCache, clean, ensure_cache_dir
from torchlint.config import SelectionLayer, load_settings

FINDING = "from torch.utils.data import Dataset\n\nclass A(Dataset):\n    def __len__(self):\n        return 3\n"
CLEAN = "x = 1\n"


def _settings(select=None):
    return load_settings(None, SelectionLayer(select=select), isolated=True)


def _tree(tmp_path):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "a.py").write_text(FINDING)
    (tmp_path / "b.py").write_text(CLEAN)
    (tmp_path / "c.py").write_text("def broken(:\n")
    return tmp_path


def _run(paths, settings, cache):
    return list(runner.check_paths([str(p) for p in paths], settings, jobs=1, cache=cache))


def _count_lints(monkeypatch):
    """Count the files the engine really lints (cache misses)."""
    calls = []
    real = runner.lint_file

    def counting(path, *args, **kwargs):
        calls.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(runner, "lint_file", counting)
    return calls


def test_second_run_is_answered_from_the_cache(tmp_path, monkeypatch):
    tree = _tree(tmp_path / "src")
    cache = ResultCache(str(tmp_path / "cache"), _settings().fingerprint(), "v1")
    first = _run([tree], _settings(), cache)
    calls = _count_lints(monkeypatch)
    second = _run([tree], _settings(), cache)
    assert calls == []
    assert [r.diagnostics for r in first] == [r.diagnostics for r in second]
    assert [r.path for r in first] == [r.path for r in second]
    # the code frame of a finding still has its source
    assert second[0].diagnostics and second[0].source == FINDING


def test_cache_folder_is_tagged_and_ignored_by_git(tmp_path):
    cache = ResultCache(str(tmp_path / "cache"), "f", "v1")
    _run([_tree(tmp_path / "src")], _settings(), cache)
    tag = (tmp_path / "cache" / "CACHEDIR.TAG").read_text()
    assert tag.startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert (tmp_path / "cache" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_changed_content_misses(tmp_path, monkeypatch):
    tree = _tree(tmp_path / "src")
    cache = ResultCache(str(tmp_path / "cache"), _settings().fingerprint(), "v1")
    _run([tree], _settings(), cache)
    (tree / "b.py").write_text(FINDING)
    calls = _count_lints(monkeypatch)
    results = _run([tree], _settings(), cache)
    assert [os.path.basename(p) for p in calls] == ["b.py"]
    assert results[1].diagnostics and results[1].diagnostics[0].code == "TL401"


def test_changed_settings_miss(tmp_path, monkeypatch):
    tree = _tree(tmp_path / "src")
    directory = str(tmp_path / "cache")
    _run([tree], _settings(), ResultCache(directory, _settings().fingerprint(), "v1"))
    narrow = _settings(["TL001"])
    assert narrow.fingerprint() != _settings().fingerprint()
    calls = _count_lints(monkeypatch)
    results = _run([tree], narrow, ResultCache(directory, narrow.fingerprint(), "v1"))
    assert len(calls) == 3
    assert all(d.code == "TL001" for r in results for d in r.diagnostics)


def test_changed_torchlint_version_misses(tmp_path, monkeypatch):
    tree = _tree(tmp_path / "src")
    directory = str(tmp_path / "cache")
    fingerprint = _settings().fingerprint()
    _run([tree], _settings(), ResultCache(directory, fingerprint, "v1"))
    calls = _count_lints(monkeypatch)
    _run([tree], _settings(), ResultCache(directory, fingerprint, "v2"))
    assert len(calls) == 3


def test_code_fingerprint_includes_the_version(monkeypatch):
    import torchlint.cache as cache_module

    before = cache_module.torchlint_fingerprint()
    monkeypatch.setattr(cache_module, "__version__", "999.0")
    assert cache_module.torchlint_fingerprint() != before


@pytest.mark.parametrize("garbage", [b"", b"{not json", b"\x00\xff\xfe", b'{"diagnostics": [{"code": 1}]}', b"[]"])
def test_corrupted_entry_is_ignored_and_rewritten(tmp_path, garbage, monkeypatch):
    tree = _tree(tmp_path / "src")
    cache = ResultCache(str(tmp_path / "cache"), "f", "v1")
    expected = _run([tree], _settings(), cache)
    entries = sorted((tmp_path / "cache" / "results").rglob("*.json"))
    assert len(entries) == 3
    for entry in entries:
        entry.write_bytes(garbage)
    calls = _count_lints(monkeypatch)
    again = _run([tree], _settings(), cache)
    assert len(calls) == 3
    assert [r.diagnostics for r in again] == [r.diagnostics for r in expected]
    for entry in entries:
        json.loads(entry.read_text())  # rewritten whole


def test_unwritable_cache_only_costs_a_miss(tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the folder should be")
    results = _run([_tree(tmp_path / "src")], _settings(), ResultCache(str(blocker), "f", "v1"))
    assert [len(r.diagnostics) for r in results] == [1, 0, 1]


def test_internal_errors_are_not_cached(tmp_path, monkeypatch):
    from torchlint.diagnostics import FileResult

    tree = tmp_path / "src"
    tree.mkdir()
    (tree / "a.py").write_text(CLEAN)
    cache = ResultCache(str(tmp_path / "cache"), "f", "v1")

    def crash(path, settings, display_path=None, *, data=None):
        from torchlint.engine import make_diagnostic

        return FileResult(path=path, diagnostics=[make_diagnostic("TL004", "internal error: boom", path)])

    monkeypatch.setattr(runner, "lint_file", crash)
    _run([tree], _settings(), cache)
    assert not list((tmp_path / "cache").rglob("*.json"))


def _hammer(directory, rounds, barrier):
    from torchlint.diagnostics import FileResult
    from torchlint.engine import make_diagnostic

    cache = ResultCache(directory, "f", "v1")
    key = cache.key("a.py", b"same bytes")
    result = FileResult("a.py", [make_diagnostic("TL401", "m" * 5000, "a.py", 3, 1)])
    barrier.wait()
    bad = 0
    for _ in range(rounds):
        cache.put(key, result)
        got = cache.get(key, "a.py")
        if got is None or got.diagnostics != result.diagnostics:
            bad += 1
    return bad


def test_concurrent_writers_never_expose_a_partial_entry(tmp_path):
    context = multiprocessing.get_context("spawn")
    workers = 4
    with context.Manager() as manager:
        barrier = manager.Barrier(workers)
        with context.Pool(workers) as pool:
            bad = pool.starmap(_hammer, [(str(tmp_path / "cache"), 60, barrier)] * workers)
    assert bad == [0] * workers
    leftovers = [p.name for p in (tmp_path / "cache").rglob("*") if p.name.startswith(".tmp-")]
    assert leftovers == []


def test_two_cli_runs_at_once_agree(tmp_path):
    tree = _tree(tmp_path / "src")
    for index in range(20):
        (tree / f"m{index:02}.py").write_text(FINDING if index % 3 else CLEAN)
    command = [sys.executable, "-m", "torchlint", "check", "--isolated", "--output-format", "concise",
               "--cache-dir", str(tmp_path / "cache"), str(tree)]
    env = {**os.environ, "NO_COLOR": "1"}
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) for _ in range(3)]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    warm = subprocess.run(command, capture_output=True, env=env, timeout=120).stdout
    assert outputs[0] == outputs[1] == outputs[2] == warm
    assert b"TL401" in warm


def test_cli_cache_options_and_clean(tmp_path, run_cli):
    (tmp_path / "a.py").write_text(FINDING)
    first = run_cli("check", "--isolated", "a.py")
    assert (tmp_path / DEFAULT_DIR / "CACHEDIR.TAG").exists()
    assert run_cli("check", "--isolated", "a.py").stdout == first.stdout
    custom = tmp_path / "elsewhere"
    run_cli("check", "--isolated", "--cache-dir", str(custom), "a.py")
    assert (custom / "results").is_dir()
    run_cli("clean")
    assert not (tmp_path / DEFAULT_DIR).exists()
    run_cli("clean", "--cache-dir", str(custom))
    assert not custom.exists()
    (tmp_path / "nocache").mkdir()
    no_cache = run_cli("check", "--isolated", "--no-cache", "a.py", cwd=tmp_path)
    assert no_cache.stdout == first.stdout
    assert not (tmp_path / DEFAULT_DIR).exists()


def test_clean_refuses_a_folder_that_is_not_a_torchlint_cache(tmp_path, run_cli):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "data.txt").write_text("keep me")
    result = run_cli("clean", "--cache-dir", str(precious))
    assert result.returncode == 2
    assert (precious / "data.txt").exists()
    assert clean(str(precious)) is False
    ensure_cache_dir(str(tmp_path / "ours"))
    assert clean(str(tmp_path / "ours")) is True


def test_notebook_findings_from_the_cache_show_the_same_code_frames(tmp_path, run_cli):
    notebook = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# data"]},
            {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
             "source": ["from torch.utils.data import Dataset\n", "class N(Dataset):\n", "    def __len__(self): return 1\n"]},
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }
    (tmp_path / "nb.ipynb").write_text(json.dumps(notebook))
    cold = run_cli("check", "--isolated", "--output-format", "full", "nb.ipynb")
    warm = run_cli("check", "--isolated", "--output-format", "full", "nb.ipynb")
    assert "cell 2" in cold.stdout and "class N(Dataset)" in cold.stdout
    assert warm.stdout == cold.stdout
    assert list((tmp_path / DEFAULT_DIR / "results").rglob("*.json"))
