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
    assert "empty.py" not in by_file and "deep.py" not in by_file
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
