"""Bad files are findings, never crashes, and never stop the other files."""

import json
import os
import sys

import pytest

DATASET = "from torch.utils.data import Dataset\nclass A(Dataset):\n    def __getitem__(self, i): return i\n"


def _concise(result):
    return sorted(line for line in result.stdout.splitlines() if ": TL" in line)


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def test_every_hostile_file_is_reported_and_the_rest_still_linted(tmp_path, run_cli):
    _write(tmp_path, "good.py", DATASET)
    _write(tmp_path, "py2.py", 'print "hello"\n')
    _write(tmp_path, "tabs.py", "if True:\n\tx = 1\n        y = 2\n")
    _write(tmp_path, "latin1.py", ("# -*- coding: latin-1 -*-\n# café\n" + DATASET).encode("latin-1"))
    _write(tmp_path, "badutf8.py", b"x = '\xff\xfe'\n")
    _write(tmp_path, "nul.py", b"x = 1\x00\n")
    _write(tmp_path, "bom.py", b"\xef\xbb\xbf" + DATASET.encode())
    _write(tmp_path, "crlf.py", ("\n\n" + DATASET).replace("\n", "\r\n"))
    _write(tmp_path, "empty.py", "")
    _write(tmp_path, "deep.py", "x = " + "(" * 400 + "1" + ")" * 400 + "\n")
    _write(tmp_path, "py312.py", "type Alias = list[int]\ndef f[T](x: T) -> T:\n    return x\nmatch f(1):\n    case 1:\n        pass\n" + DATASET)
    _write(tmp_path, "broken.ipynb", '{"cells": [')
    _write(tmp_path, "notnb.ipynb", '{"a": 1}')
    os.symlink("nowhere.py", tmp_path / "dangling.py")
    os.symlink("loop2.py", tmp_path / "loop1.py")
    os.symlink("loop1.py", tmp_path / "loop2.py")
    (tmp_path / "sub").mkdir()
    os.symlink("..", tmp_path / "sub" / "up")  # a directory loop

    result = run_cli("check", "--output-format", "concise", ".")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = _concise(result)
    by_file = {}
    for line in lines:
        by_file.setdefault(line.split(":")[0], []).append(line)
    assert "TL401" in by_file["good.py"][0]
    assert by_file["py2.py"] == ["py2.py:1:1: TL001 syntax error: Missing parentheses in call to 'print'. Did you mean print(...)?"]
    assert by_file["tabs.py"][0].startswith("tabs.py:3:1: TL001") and "tabs and spaces" in by_file["tabs.py"][0]
    assert by_file["latin1.py"][0].startswith("latin1.py:4:7: TL401")  # decoded via its cookie, still linted
    assert "TL002" in by_file["badutf8.py"][0] and "line 1" in by_file["badutf8.py"][0]
    assert "TL002" in by_file["nul.py"][0] and "NUL" in by_file["nul.py"][0]
    assert by_file["bom.py"][0].startswith("bom.py:2:7: TL401")
    assert by_file["crlf.py"][0].startswith("crlf.py:4:7: TL401")  # CRLF keeps rows right
    assert by_file["py312.py"][0].startswith("py312.py:8:7: TL401")
    assert "TL002" in by_file["broken.ipynb"][0] and "invalid notebook JSON" in by_file["broken.ipynb"][0]
    assert "TL002" in by_file["notnb.ipynb"][0] and "not a Jupyter notebook" in by_file["notnb.ipynb"][0]
    assert "dangling symlink" in by_file["dangling.py"][0]
    assert "symlink loop" in by_file["loop1.py"][0] and "symlink loop" in by_file["loop2.py"][0]
    assert "empty.py" not in by_file
    # CPython's tokenizer allows 200 nested brackets: its verdict stands, LibCST is not asked.
    assert by_file["deep.py"] == ["deep.py:1:205: TL001 syntax error: too many nested parentheses"]
    # Every file appears once: the directory loop `sub/up` was not walked again.
    assert all(len(v) == 1 for v in by_file.values()), by_file


def test_huge_generated_line_is_linted_quickly(tmp_path, run_cli):
    import time

    _write(tmp_path, "data.py", "TABLE = [" + "1, " * 500_000 + "]\n" + DATASET)
    start = time.monotonic()
    result = run_cli("check", "--output-format", "concise", "data.py")
    assert time.monotonic() - start < 60
    assert _concise(result) == [
        "data.py:3:7: TL401 `A` is a map-style `Dataset` without `__len__`: `DataLoader` with the default sampler raises `TypeError` at the first batch"
    ]


def test_deeply_nested_code_never_crashes(tmp_path, run_cli):
    nested_calls = "x = " + "f(" * 400 + "1" + ")" * 400 + "\n"
    nested_lists = "y = " + "[" * 400 + "]" * 400 + "\n"
    blocks = "".join("    " * i + f"if c{i}:\n" for i in range(120)) + "    " * 120 + "pass\n"
    _write(tmp_path, "calls.py", nested_calls + DATASET)
    _write(tmp_path, "lists.py", nested_lists)
    _write(tmp_path, "blocks.py", blocks + DATASET)
    result = run_cli("check", "--output-format", "concise", ".")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    for line in _concise(result):
        assert " TL004 " not in line


def test_static_check_never_executes_the_code(tmp_path, run_cli):
    marker = tmp_path / "EXECUTED"
    _write(tmp_path, "evil.py", f"open({str(marker)!r}, 'w').write('ran')\nimport os\nos.system('touch {marker}')\n" + DATASET)
    _write(tmp_path, "evil.ipynb", json.dumps({
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 1,
                   "source": [f"!touch {marker}\n", f"open({str(marker)!r}, 'w')\n"]}],
    }))
    result = run_cli("check", ".")
    assert result.returncode == 1
    assert not marker.exists()


def test_unreadable_file_is_reported(tmp_path, run_cli):
    if os.geteuid() == 0:
        pytest.skip("root can read any file")
    path = _write(tmp_path, "secret.py", "x = 1\n")
    path.chmod(0)
    result = run_cli("check", "--output-format", "concise", ".")
    assert "TL002" in result.stdout


def test_lint_file_never_raises_on_random_bytes(tmp_path):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from torchlint.config import SelectionLayer, load_settings
    from torchlint.engine import lint_file

    config = load_settings(None, SelectionLayer(), isolated=True)

    @settings(max_examples=150, deadline=None)
    @given(st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-8")))
    def check(data):
        for name in ("f.py", "f.ipynb"):
            result = lint_file(name, config, data=data)
            assert all(d.code != "TL004" for d in result.diagnostics), result.diagnostics

    check()


def test_lint_file_never_raises_on_python_like_text():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from torchlint.config import SelectionLayer, load_settings
    from torchlint.engine import lint_file

    config = load_settings(None, SelectionLayer(), isolated=True)
    pieces = st.sampled_from([
        "class A(Dataset):\n", "    def __getitem__(self, i): return i\n", "from torch.utils.data import Dataset\n",
        "x = (", ")\n", "\t", "    ", "# noqa: TL401\n", "# torchlint: ignore[TL401]\n", "if x:\n", "pass\n",
        "\r\n", "'''", "\\\n", "@dec\n", "%magic\n", "import torch\n", "y = x.repeat(2, 1)\n",
    ])

    @settings(max_examples=200, deadline=None)
    @given(st.lists(pieces, max_size=12).map("".join))
    def check(text):
        result = lint_file("f.py", config, data=text.encode())
        assert all(d.code != "TL004" for d in result.diagnostics), (text, result.diagnostics)

    check()


# --- One file never ends the run (size, depth, non-regular files, dying workers) ---------------


def _isolated_settings(**overrides):
    import dataclasses

    from torchlint.config import SelectionLayer, load_settings

    return dataclasses.replace(load_settings(None, SelectionLayer(), isolated=True), **overrides)


def test_1500_nested_parentheses_are_cpythons_syntax_error_and_the_other_files_still_linted(tmp_path, run_cli):
    _write(tmp_path, "parens.py", "x = " + "(" * 1500 + "1" + ")" * 1500 + "\n")
    for index in range(4):
        _write(tmp_path, f"good{index}.py", DATASET)
    for jobs in ("1", "2"):
        result = run_cli("check", "--no-cache", "-j", jobs, "--output-format", "concise", ".")
        assert result.returncode == 1, result.stderr  # not 139 (segfault), not a broken pool
        assert "Traceback" not in result.stderr
        lines = _concise(result)
        assert [line for line in lines if line.startswith("parens.py")] == [
            "parens.py:1:205: TL001 syntax error: too many nested parentheses"
        ]
        assert sum(" TL401 " in line for line in lines) == 4


def test_2000_chained_calls_are_rejected_quickly_as_cpython_rejects_them(tmp_path, run_cli):
    import time

    _write(tmp_path, "chain.py", "import torch\ny = x" + ".repeat(2)" * 2000 + "\n")
    start = time.monotonic()
    result = run_cli("check", "--no-cache", "--output-format", "concise", "chain.py")
    assert time.monotonic() - start < 10
    assert _concise(result) == ["chain.py:1:1: TL001 syntax error: code is nested too deeply for CPython to compile"]


def test_broken_code_too_complex_to_confirm_keeps_cpythons_verdict_quickly(tmp_path, run_cli):
    import time

    _write(tmp_path, "chain.py", "import torch\ny = x" + ".repeat(2)" * 2000 + " +\n")
    start = time.monotonic()
    result = run_cli("check", "--no-cache", "--output-format", "concise", "chain.py")
    assert time.monotonic() - start < 10
    assert [line.split(": ", 1)[1] for line in _concise(result)] == ["TL001 syntax error: invalid syntax"]


def test_code_nested_deeper_than_the_limit_is_reported_not_analysed(tmp_path):
    from torchlint.engine import MAX_NESTING_DEPTH, lint_file

    calls = MAX_NESTING_DEPTH // 2 + 10  # each `.repeat(2)` is two levels: a call of an attribute
    path = _write(tmp_path, "chain.py", "import torch\ny = x" + ".repeat(2)" * calls + "\n")
    result = lint_file(str(path), _isolated_settings())
    assert [(d.code, d.message) for d in result.diagnostics] == [
        ("TL002", f"not analysed: the code is nested {2 * calls + 4:,} levels deep, deeper than torchlint's limit of {MAX_NESTING_DEPTH:,}")
    ]
    shallow = _write(tmp_path, "shallow.py", "import torch\ny = x" + ".repeat(2)" * 20 + "\n")
    assert lint_file(str(shallow), _isolated_settings()).diagnostics == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_reported_not_read(tmp_path, run_cli):
    os.mkfifo(tmp_path / "fifo.py")
    _write(tmp_path, "good.py", DATASET)
    result = run_cli("check", "--no-cache", "--output-format", "concise", ".")  # run_cli times out at 120 s
    lines = _concise(result)
    assert "fifo.py:1:1: TL002 cannot read file: not a regular file (a FIFO); only regular files are read" in lines
    assert any(line.startswith("good.py") and " TL401 " in line for line in lines)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_a_symlink_to_dev_zero_is_reported_not_read(tmp_path, run_cli):
    os.symlink("/dev/zero", tmp_path / "zero.py")
    result = run_cli("check", "--no-cache", "--output-format", "concise", "zero.py")
    assert _concise(result) == [
        "zero.py:1:1: TL002 cannot read file: not a regular file (a character device); only regular files are read"
    ]


def test_a_file_over_the_size_limit_is_reported_quickly(tmp_path, run_cli):
    import time

    _write(tmp_path, "big.py", "import torch\n" + "x = torch.ones(3).repeat(2, 1)\n" * 100_000)  # 3 MB
    start = time.monotonic()
    result = run_cli("check", "--no-cache", "--output-format", "concise", "big.py")
    assert time.monotonic() - start < 20
    assert _concise(result) == [
        "big.py:1:1: TL002 not analysed: the file is 3 MB, larger than the 2 MB limit "
        "(raise `max-file-size` in [tool.torchlint], or pass --max-file-size)"
    ]


def test_the_size_limit_is_set_by_config_and_command_line(tmp_path, run_cli):
    _write(tmp_path, "pyproject.toml", '[tool.torchlint]\nmax-file-size = "1KB"\n')
    _write(tmp_path, "mid.py", DATASET * 20)  # 1.8 KB
    from_config = _concise(run_cli("check", "--no-cache", "--output-format", "concise", "mid.py"))
    assert from_config == [
        "mid.py:1:1: TL002 not analysed: the file is 1.8 KB, larger than the 1 KB limit "
        "(raise `max-file-size` in [tool.torchlint], or pass --max-file-size)"
    ]
    raised = _concise(run_cli("check", "--no-cache", "--max-file-size", "4KB", "--output-format", "concise", "mid.py"))
    assert raised and all(" TL401 " in line for line in raised)
    unlimited = _concise(run_cli("check", "--no-cache", "--max-file-size", "0", "--output-format", "concise", "mid.py"))
    assert unlimited == raised
    bad = run_cli("check", "--no-cache", "--max-file-size", "lots", "mid.py")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--max-file-size" in bad.stderr


@pytest.mark.parametrize("death", ["exit", "sigkill"])
def test_a_worker_that_dies_costs_only_its_file(tmp_path, monkeypatch, death):
    """A test hook (never the checked code) makes the worker linting `boom.py` die."""
    import signal

    from torchlint import runner

    real_lint_file = runner.lint_file

    def dying_lint_file(path, settings, *args, **kwargs):
        if path.endswith("boom.py"):
            if death == "exit":
                os._exit(3)
            os.kill(os.getpid(), signal.SIGKILL)
        return real_lint_file(path, settings, *args, **kwargs)

    monkeypatch.setattr(runner, "lint_file", dying_lint_file)
    monkeypatch.setattr(runner, "_start_method", lambda: "fork")  # the workers inherit the hook
    for index in range(30):
        _write(tmp_path, f"m{index:02}.py", DATASET)
    _write(tmp_path, "boom.py", DATASET)
    results = list(runner.check_paths([str(tmp_path)], _isolated_settings(), jobs=2))
    assert len(results) == 31
    by_name = {os.path.basename(r.path): r for r in results}
    assert [d.code for d in by_name["boom.py"].diagnostics] == ["TL004"]
    assert "worker process" in by_name["boom.py"].diagnostics[0].message
    others = [r for name, r in by_name.items() if name != "boom.py"]
    assert all([d.code for d in r.diagnostics] == ["TL401"] for r in others)


def test_compiler_warnings_about_the_checked_code_never_reach_stderr(tmp_path, run_cli):
    _write(tmp_path, "warns.py", 'import re\npattern = re.compile("\\d+")\nsame = 1 is 1\nassert (pattern, "message")\n')
    result = run_cli("check", "--no-cache", "warns.py", env={"PYTHONWARNINGS": "default"})
    assert result.stderr == ""


# --- A bad configuration is one line and exit 2, never a traceback ------------------------------


@pytest.mark.parametrize(
    "name, content, args, expected",
    [
        ("pyproject.toml", b"[tool.torchlint]\nselect = ['TL1']\n# caf\xe9\n", (), "not valid UTF-8"),
        ("pyproject.toml", b"tool = 1\n[torchlint]\n", ("--config", "pyproject.toml"), "`tool`"),
        ("t.toml", b"tool = 1\n", ("--config", "t.toml"), "`tool`"),
        ("pyproject.toml", b"[tool.torchlint]\nselect = \"TL101\"\n", (), "`select`"),
        ("pyproject.toml", b"[tool.torchlint]\nignore = \"TL101\"\n", (), "`ignore`"),
        ("pyproject.toml", b"[tool.torchlint]\nmax-file-size = true\n", (), "`max-file-size`"),
    ],
    ids=["non-utf8-pyproject", "tool-is-an-integer", "config-file-tool-is-an-integer", "select-is-a-string",
         "ignore-is-a-string", "size-is-a-boolean"],
)
def test_a_bad_configuration_is_one_line_and_exit_2(tmp_path, run_cli, name, content, args, expected):
    _write(tmp_path, name, content)
    _write(tmp_path, "a.py", DATASET)
    result = run_cli("check", "--no-cache", *args, "a.py")
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("torchlint: error: "), result.stderr
    assert expected in result.stderr


# --- A corrupted cache entry is a miss, and is rewritten -------------------------------------


def _corruptions():
    def set_field(name, value):
        def corrupt(entry):
            entry["diagnostics"][0][name] = value
        return corrupt

    def replace_entry(value):
        def corrupt(entry):
            entry.clear()
            entry.update(value)
        return corrupt

    return {
        "span-null": set_field("span", None),
        "span-short": set_field("span", [1, 2]),
        "span-strings": set_field("span", ["1", "2", "3", "4"]),
        "span-booleans": set_field("span", [True, True, True, True]),
        "severity-unknown": set_field("severity", "fatal"),
        "code-number": set_field("code", 401),
        "cell-text": set_field("cell", "one"),
        "notes-not-triples": set_field("notes", [["message"]]),
        "help-number": set_field("help", 3),
        "fix-edits-null-span": set_field("fix", {"message": "m", "applicability": "safe", "edits": [[None, "x", None]]}),
        "missing-field": lambda entry: entry["diagnostics"][0].pop("name"),
        "extra-field": set_field("extra", 1),
        "diagnostics-null": replace_entry({"diagnostics": None}),
        "not-an-object": lambda entry: entry.update({"diagnostics": [1]}),
    }


@pytest.mark.parametrize("corruption", sorted(_corruptions()))
def test_a_malformed_cache_entry_is_a_miss_and_is_rewritten(tmp_path, run_cli, corruption):
    _write(tmp_path, "a.py", DATASET)
    first = run_cli("check", "--output-format", "concise", "a.py")
    [entry_path] = [os.path.join(root, name) for root, _, names in os.walk(tmp_path / ".torchlint_cache" / "results") for name in names]
    with open(entry_path) as handle:
        good = json.load(handle)
    entry = json.loads(json.dumps(good))
    _corruptions()[corruption](entry)
    with open(entry_path, "w") as handle:
        json.dump(entry, handle)
    again = run_cli("check", "--output-format", "concise", "a.py")
    assert (again.returncode, again.stdout, again.stderr) == (first.returncode, first.stdout, first.stderr) == (1, first.stdout, "")
    with open(entry_path) as handle:
        assert json.load(handle) == good


# --- A short fuzz run: generated programs and mutants never crash, hang or raise --------------


def test_short_fuzz_run_has_no_crash_hang_or_traceback(tmp_path):
    import subprocess

    pytest.importorskip("hypothesmith")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(
        # a fixed number of inputs, not a time budget: under load the run is slower, never smaller
        [sys.executable, os.path.join(root, "bench", "fuzz.py"), "--inputs", "40", "--corpus", os.path.join(root, "tests", "fixtures"),
         "--seed", "7", "--program-share", "0.05", "--time-limit", "500", "--hang-after", "60", "--cli-sample", "30",
         "--large-size", "20000"],
        capture_output=True, text=True, timeout=600,
    )
    result = done.stdout.strip().splitlines()[-1]
    assert done.returncode == 0, done.stdout + done.stderr
    fields = dict(part.split("=") for part in result.split()[1:])
    assert int(fields["inputs"]) == 40
    assert (fields["crashes"], fields["hangs"], fields["tracebacks"], fields["cli"]) == ("0", "0", "0", "ok")


def test_a_long_and_chain_is_reported_not_a_segfault(tmp_path, run_cli):
    """CPython's tree keeps `a and a and …` flat; LibCST nests it pairwise: 10,000 terms overflowed the stack."""
    _write(tmp_path, "chain.py", DATASET + "z = " + " and ".join(["a"] * 10_000) + "\n")
    result = run_cli("check", "--no-cache", "--output-format", "concise", "chain.py")
    assert result.returncode == 1, result.stderr  # not 139
    assert _concise(result) == [
        "chain.py:1:1: TL002 not analysed: the code is nested 10,004 levels deep, deeper than torchlint's limit of 1,000"
    ]
