"""Notebooks: code cells linted as one program, IPython syntax masked, locations per cell."""

import json

import pytest

from torchlint.notebook import load_notebook, mask_ipython

IMPORT = "from torch.utils.data import Dataset\n"
CLASS = "class Frames(Dataset):\n    def __getitem__(self, i):\n        return i\n"


def _notebook(*cells, language="python"):
    built = []
    for cell in cells:
        kind, source = cell if isinstance(cell, tuple) else ("code", cell)
        entry = {"cell_type": kind, "metadata": {}, "source": source}
        if kind == "code":
            entry.update(outputs=[], execution_count=None)
        built.append(entry)
    return {"nbformat": 4, "nbformat_minor": 5, "cells": built,
            "metadata": {"language_info": {"name": language}}}


def _write(tmp_path, name, notebook):
    path = tmp_path / name
    path.write_text(json.dumps(notebook))
    return path


def test_later_cells_see_earlier_imports_and_locations_name_the_cell(tmp_path, run_cli):
    _write(tmp_path, "nb.ipynb", _notebook(("markdown", "# Data"), IMPORT, ("markdown", "text"), "x = 1\n", CLASS))
    out = run_cli("check", "--output-format", "concise", "nb.ipynb").stdout
    assert out.splitlines()[0].startswith("nb.ipynb:cell 5:1:7: TL401 ")
    records = json.loads(run_cli("check", "--output-format", "json", "nb.ipynb").stdout)
    assert records[0]["cell"] == 5 and records[0]["location"] == {"row": 1, "column": 7}


def test_full_output_shows_the_cell_source(tmp_path, run_cli):
    _write(tmp_path, "nb.ipynb", _notebook(IMPORT, "\n\n" + CLASS))
    out = run_cli("check", "nb.ipynb").stdout
    assert "--> nb.ipynb:cell 2:3:7" in out
    assert "3 | class Frames(Dataset):" in out


def test_magics_and_shell_escapes_are_masked(tmp_path, run_cli):
    cell = (
        "%matplotlib inline\n!pip install -q torch\nfiles = !ls\n%%time\n" + IMPORT + "df?\n"
        + "if True:\n    %timeit f()\n    !echo hi\n" + CLASS
    )
    _write(tmp_path, "nb.ipynb", _notebook(cell))
    out = run_cli("check", "--output-format", "concise", "nb.ipynb").stdout
    assert "TL001" not in out
    assert "nb.ipynb:cell 1:10:7: TL401" in out


def test_cell_magic_that_is_not_python_is_skipped(tmp_path, run_cli):
    _write(tmp_path, "nb.ipynb", _notebook("%%bash\nfor f in *; do echo $f; done\n", IMPORT + CLASS))
    out = run_cli("check", "--output-format", "concise", "nb.ipynb").stdout
    assert "TL001" not in out and "cell 2:2:7: TL401" in out


def test_a_cell_that_does_not_parse_is_reported_and_the_rest_still_linted(tmp_path, run_cli):
    _write(tmp_path, "nb.ipynb", _notebook(IMPORT, "def broken(:\n    pass\n", CLASS))
    lines = run_cli("check", "--output-format", "concise", "nb.ipynb").stdout.splitlines()
    assert lines[0].startswith("nb.ipynb:cell 2:1:12: TL001")
    assert lines[1].startswith("nb.ipynb:cell 3:1:7: TL401")


def test_empty_cells_and_execution_counts_out_of_order(tmp_path, run_cli):
    notebook = _notebook("", IMPORT, [], CLASS)
    for count, cell in zip([5, 2, None, 1], notebook["cells"]):
        cell["execution_count"] = count
    _write(tmp_path, "nb.ipynb", notebook)
    out = run_cli("check", "--output-format", "concise", "nb.ipynb").stdout
    assert "nb.ipynb:cell 4:1:7: TL401" in out


def test_source_as_list_of_lines(tmp_path, run_cli):
    _write(tmp_path, "nb.ipynb", _notebook(IMPORT.splitlines(keepends=True), CLASS.splitlines(keepends=True)))
    assert "cell 2:1:7: TL401" in run_cli("check", "--output-format", "concise", "nb.ipynb").stdout


def test_notebooks_of_other_languages_are_skipped(tmp_path, run_cli):
    _write(tmp_path, "r.ipynb", _notebook("library(ggplot2)\n", language="R"))
    result = run_cli("check", "r.ipynb")
    assert result.returncode == 0


def test_modulo_continuation_is_not_mistaken_for_a_magic():
    code = 's = ("%d items"\n     % 3)\nx = a != b\n'
    assert mask_ipython(code) == code.rstrip("\n")


def test_masking_keeps_the_number_of_lines():
    code = "%load_ext autoreload\n!ls \\\n  -la\nx = 1\nobj??\n"
    masked = mask_ipython(code)
    assert len(masked.splitlines()) == len(code.splitlines())
    assert masked.splitlines() == ["pass", "pass", "", "x = 1", "pass"]


def test_load_notebook_maps_rows_back_to_cells():
    data = json.dumps(_notebook(("markdown", "m"), "a = 1\nb = 2\n", "", "c = 3\n")).encode()
    notebook = load_notebook(data)
    assert notebook.text == "a = 1\nb = 2\nc = 3\n"
    assert notebook.locate(1) == (2, 1) and notebook.locate(2) == (2, 2) and notebook.locate(3) == (4, 1)


def test_a_cell_that_fails_alone_is_blamed_not_the_next_one(tmp_path, run_cli):
    # An exercise stub: `def train():` with only comments. The joined program would first fail
    # at the next cell's first line; Jupyter compiles each cell alone and blames this one.
    _write(tmp_path, "nb.ipynb", _notebook(IMPORT, "def train(model):\n    ## TODO: write the loop\n", "x = 1\n", CLASS))
    lines = run_cli("check", "--output-format", "concise", "nb.ipynb").stdout.splitlines()
    assert lines[0].startswith("nb.ipynb:cell 2:2:28: TL001")
    assert "expected an indented block" in lines[0]
    assert lines[1].startswith("nb.ipynb:cell 4:1:7: TL401")
    assert len([l for l in lines if "TL001" in l]) == 1


# --- a notebook fix changes only the edited cells' source --------------------------------------

_HAND_WRITTEN = (
    '{\r\n'
    '  "metadata": {"zeta": 1.50, "alpha": 1E5, "url": "http:\\/\\/x", "kernelspec": {"language": "python"}},\r\n'
    '  "cells": [\r\n'
    '    {"cell_type": "code", "source": ["import torch\\n", "y = torch.zeros(2, 3).t().view(6)  # caf\\u00e9\\n",'
    ' "print(\'\\/\')"], "outputs": [{"data": {"text/plain": ["1.50"]}, "n": 2.50}], "metadata": {},'
    ' "execution_count": 1},\r\n'
    '    {"source": "z = torch.ones(4, 2).t().view(8)", "cell_type": "code", "metadata": {"x": 1E5},'
    ' "outputs": [], "execution_count": null},\r\n'
    '    {"cell_type": "code", "source": ["w = 1.50\\n"], "metadata": {}, "outputs": [], "execution_count": 3}\r\n'
    '  ],\r\n'
    '  "nbformat": 4, "nbformat_minor": 5\r\n'
    '}\r\n'
)


def test_a_notebook_fix_changes_only_the_edited_cells_source_bytes():
    """Numbers (`1.50`, `1E5`), escapes (`\\/`, `\\u00e9`), key order, indentation, CRLF and the
    unchanged lines of an edited cell keep their exact bytes; only the edited strings change."""
    from torchlint import fixes
    from torchlint.config import SelectionLayer, load_settings

    data = _HAND_WRITTEN.encode()
    settings = load_settings(None, SelectionLayer(select=["TL103"]), isolated=True)
    outcome = fixes.fix_bytes(data, "nb.ipynb", settings, unsafe=True)
    assert len(outcome.applied) == 2
    expected = data.replace(b".t().view(6)", b".t().reshape(6)").replace(b".t().view(8)", b".t().reshape(8)")
    assert outcome.fixed == expected


def test_a_notebook_fix_keeps_a_bom_and_an_indent_of_one():
    from torchlint import fixes
    from torchlint.config import SelectionLayer, load_settings

    notebook = _notebook("import torch\ny = torch.zeros(2, 3).t().view(6)\n", "a = 1.50\n")
    notebook["metadata"]["n"] = 1.5
    data = b"\xef\xbb\xbf" + json.dumps(notebook, indent=1).replace("1.5", "1.50").encode()
    settings = load_settings(None, SelectionLayer(select=["TL103"]), isolated=True)
    outcome = fixes.fix_bytes(data, "nb.ipynb", settings, unsafe=True)
    assert outcome.fixed == data.replace(b".view(6)", b".reshape(6)")


# --- the .ipynb line of each cell row -------------------------------------------------------------


def test_findings_carry_the_ipynb_line_that_stores_their_row(tmp_path):
    """`Diagnostic.ipynb_line` is the line of the .ipynb JSON holding the finding's source line,
    for list sources (one string per line) and single-string sources."""
    from torchlint.config import SelectionLayer, load_settings
    from torchlint.engine import lint_file
    from torchlint.notebook import ipynb_line, load_notebook

    notebook = _notebook(
        ("markdown", "# title"),
        "import torch\n\nx = 1\ny = torch.zeros(2, 3).t().view(6)\n",
        "z = torch.ones(4, 2).t().view(8)",
    )
    notebook["cells"][1]["source"] = "import torch\n\nx = 1\ny = torch.zeros(2, 3).t().view(6)\n".splitlines(True)
    text = json.dumps(notebook, indent=1)
    data = text.encode()
    settings = load_settings(None, SelectionLayer(select=["TL103"]), isolated=True)
    found = lint_file("nb.ipynb", settings, data=data).diagnostics
    lines = text.splitlines()
    assert [(d.cell, d.span.start.row) for d in found] == [(2, 4), (3, 1)]
    for diagnostic in found:
        stored = lines[diagnostic.ipynb_line - 1]
        assert ".view(" in stored and ("y = torch" in stored if diagnostic.cell == 2 else "z = torch" in stored)
        assert ipynb_line(data, diagnostic.cell, diagnostic.span.start.row) == diagnostic.ipynb_line
    source = load_notebook(data)
    assert [source.file_line(2, row) for row in (1, 2, 3, 4)] == [
        next(i for i, line in enumerate(lines, 1) if fragment in line)
        for fragment in ('"import torch', '"\\n"', '"x = 1', '"y = torch')
    ]
    assert source.program_row(3, 1) == 5 and source.locate(5) == (3, 1)


def test_the_ipynb_line_survives_the_cache():
    from torchlint import cache
    from torchlint.config import SelectionLayer, load_settings
    from torchlint.engine import lint_file

    notebook = _notebook("import torch\n", "\n\ny = torch.zeros(2, 3).t().view(6)\n")
    notebook["cells"][1]["source"] = "\n\ny = torch.zeros(2, 3).t().view(6)\n".splitlines(True)
    settings = load_settings(None, SelectionLayer(select=["TL103"]), isolated=True)
    found = lint_file("nb.ipynb", settings, data=json.dumps(notebook, indent=1).encode()).diagnostics[0]
    assert found.ipynb_line is not None
    stored = json.loads(json.dumps(cache._diagnostic_json(found)))
    assert cache._diagnostic_back(stored, "nb.ipynb") == found


# --- cells as IPython runs them: compared with IPython's own transformer --------------------------

IPYTHON_CELLS = [
    " Image('a.png')\n",  # a leading space: IPython strips the common indent
    "    import torch\n    x = torch.zeros(3)\n      # deeper comment\n",
    "  if True:\n      y = 1\n  z = 2\n",
    "\tx = 1\n\ty = 2\n",
    "\n\n   x = 1\n",
    "% matplotlib inline\nimport torch\n",
    "%matplotlib inline\n",
    "torch.Tensor?\n",
    "torch.Tensor??\n",
    "?torch.Tensor\n",
    "x = 1\nx.shape?\n",
    "f(x)?\n",  # not a help target: a syntax error in IPython too
    "x?  \n",  # trailing blank after `?`: IPython does not transform it
    "pip install torch\n",
    "conda install -y numpy\n",
    "  pip install torch\n",
    "pip install torch\nimport torch\n",  # automagic is for single-line cells only
    "pip install torch\n\n",
    "pip = 3\n",
    "ls\n",
    "cd ..\n",
    "mkdir -p out\n",
    "notamagic install x\n",
    "!pip install -q torch\nfiles = !ls\n",
    "x = %time f()\n",
    "out = !ls \\\n  -la\nprint(out)\n",
    "!ls \\\n  -la\n",
    "%%timeit\n",
    "%%timeit\nfor i in range(3):\n",  # an exercise stub: the body does not compile
    "%%time\nx = 1\n",
    "%%bash\nfor f in *; do echo $f; done\n",
    "%%writefile a.py\ndef f(:\n",
    "# a comment first\n%%time\nx = 1\n",
    "%%timeit?\n",
    "%timeit?\n",
    "if True:\n    %time f()\n    !echo hi\n",
    "if True:\n    x = 1\n  %time f()\n",  # bad dedent under a magic
    "s = ('%d items'\n     % 3)\n",
    "x = a != b\n",
    "y = 5 % 2\n",
    "/print 1 2\n",
    ",print a b\n",
    ";print a b\n",
    "/print 1+\n",
    ">>> x = 1\n>>> y = x + 1\n",
    ">>> def f():\n...     return 1\n",
    "In [1]: x = 1\n",
    "   ...: y = 2\nz = 3\n",
    's = """\n>>> not a prompt\n"""\n',
    "def f(:\n    pass\n",
    "x = 'unterminated\n",
    "print('%d' % 3)\n%time x\n",
    "label = 'a\x1cb'\n%time x\n",
    "x = 1 \\\n  + 2\n",
    "@decorator\ndef f():\n    pass\n",
    "await asyncio.sleep(1)\n",
    "a = %who_ls\nb = !echo\n",
    "",
    "   \n  \n",
    "x = [\n%time\n]\n",
    "%pip install torch\n",
    "    %%time\n    x = 1\n",
    "print(x)?\n",
    "!!ls\n",
    "?\n",
]


def _ipython_shell():
    import os
    import tempfile

    pytest.importorskip("IPython")
    os.environ.setdefault("IPYTHONDIR", tempfile.mkdtemp(prefix="torchlint-ipython-"))
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False  # no history thread: later tests' process pools fork as usual
    return InteractiveShell.instance(config=config)


def _compiles(code: str) -> bool:
    import ast

    try:
        compile(code, "<cell>", "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def ipython_accepts(shell, cell: str) -> bool:
    """IPython's verdict: the transformed cell compiles, and so does the body of a cell magic
    that runs its body as Python (`%%time`, `%%timeit`, ...) when the cell runs."""
    from torchlint.ipython import PYTHON_CELL_MAGICS

    try:
        transformed = shell.transform_cell(cell)
    except SyntaxError:
        return False
    if not _compiles(transformed):
        return False
    stripped = shell.input_transformer_manager.transform_cell(cell)
    if stripped.startswith("get_ipython().run_cell_magic("):
        import ast

        name, _, body = (arg.value for arg in ast.parse(stripped).body[0].value.args)
        if name in PYTHON_CELL_MAGICS:
            return ipython_accepts(shell, body)
    return True


def torchlint_accepts(cell: str) -> bool:
    from torchlint.ipython import mask_cell

    return _compiles("".join(line + "\n" for line in mask_cell(cell).lines))


@pytest.mark.parametrize("cell", IPYTHON_CELLS)
def test_cells_compile_exactly_when_ipython_accepts_them(cell):
    shell = _ipython_shell()
    assert torchlint_accepts(cell) == ipython_accepts(shell, cell), (cell, shell.transform_cell(cell))


@pytest.mark.parametrize("cell", [c for c in IPYTHON_CELLS if not any(ch in c for ch in "%!?/,;>")])
def test_python_cells_are_the_code_ipython_runs_row_for_row(cell):
    """Where IPython only strips (blank lines, indent), the masked rows are its lines, and each
    row's shift is what it stripped."""
    from torchlint.ipython import mask_cell
    from torchlint.positions import split_lines

    shell = _ipython_shell()
    if "get_ipython" in shell.transform_cell(cell):
        pytest.skip("automagic: IPython runs a magic where torchlint has `pass`")
    masked = mask_cell(cell)
    ours = [line for line in masked.lines if line.strip()]
    theirs = [line for line in shell.input_transformer_manager.transform_cell(cell).splitlines() if line.strip()]
    assert ours == theirs
    for row, line, shift in zip(split_lines(cell), masked.lines, masked.shifts):
        assert row[shift:] == line or not line


def test_a_notebook_gets_tl001_exactly_on_the_cells_ipython_rejects(tmp_path):
    """End to end: lint a notebook of all these cells; TL001 lands on the cells IPython rejects."""
    from torchlint.config import SelectionLayer, load_settings
    from torchlint.engine import lint_file

    shell = _ipython_shell()
    data = json.dumps(_notebook(*IPYTHON_CELLS)).encode()
    settings = load_settings(None, SelectionLayer(select=["TL001"]), isolated=True)
    flagged = {d.cell for d in lint_file("nb.ipynb", settings, data=data).diagnostics}
    rejected = {index for index, cell in enumerate(IPYTHON_CELLS, start=1) if not ipython_accepts(shell, cell)}
    assert flagged == rejected


def test_findings_in_an_indented_cell_point_at_the_users_columns(tmp_path, run_cli):
    cell = "  import torch\n  y = torch.zeros(2, 3).t().view(6)\n"
    _write(tmp_path, "nb.ipynb", _notebook(cell, cell.replace("  ", "")))
    out = run_cli("check", "--select", "TL103", "--output-format", "concise", "nb.ipynb").stdout
    # findings point at the method name: `.view` sits at column 26 of the plain cell, 28 with its indent
    assert "nb.ipynb:cell 1:2:28: TL103" in out and "nb.ipynb:cell 2:2:26: TL103" in out


_CELL_LINES = [
    "x = 1", "if x:", "    y = 2", "  z = 3", "\tw = 4", "%matplotlib inline", "% time f()", "!ls", "a = !ls",
    "b = %who", "obj?", "obj.attr??", "?obj", "pip install torch", "conda install x", "%%time", "%%bash",
    ">>> x = 1", "... y", "In [3]: q = 1", "   ...: r", "", "   ", "# comment", "def f(:", "s = '''", "'''",
    "x = (1,", "  2)", "f(x)?", "/f a b", ",g a", "x \\", "  + 1", "%%timeit?", "await g()", "for i in range(2):",
    "label = 'a\x0cb'", "ls", "cd ..", "print(x)", "else:", "  pass", "x = [", "%time", "]",
]


def test_random_cells_compile_exactly_when_ipython_accepts_them():
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    shell = _ipython_shell()

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.sampled_from(_CELL_LINES), min_size=1, max_size=6),
           st.sampled_from(["", " ", "  ", "\t"]), st.booleans())
    def agree(lines, indent, final_newline):
        cell = "\n".join(indent + line for line in lines) + ("\n" if final_newline else "")
        assert torchlint_accepts(cell) == ipython_accepts(shell, cell), repr(cell)

    agree()


def test_a_fix_in_an_indented_cell_lands_on_the_users_columns():
    """IPython strips a cell's common indent; the fix must be written back under it."""
    from torchlint import fixes
    from torchlint.config import SelectionLayer, load_settings

    lines = ["  import torch\n", "  y = torch.zeros(2, 3).t().view(6)\n", "  z = 1\n"]
    data = json.dumps(_notebook(lines), indent=1).encode()
    settings = load_settings(None, SelectionLayer(select=["TL103"]), isolated=True)
    outcome = fixes.fix_bytes(data, "nb.ipynb", settings, unsafe=True)
    assert json.loads(outcome.fixed)["cells"][0]["source"] == [lines[0], lines[1].replace("view", "reshape"), lines[2]]


def test_a_repeated_cells_key_is_fixed_where_json_readers_read_it():
    from torchlint import fixes
    from torchlint.config import SelectionLayer, load_settings

    cell = '{"cell_type": "code", "metadata": {}, "outputs": [], "source": ["import torch\\n", "y = %s"]}'
    text = ('{"cells": [%s, %s], "metadata": {}, "cells": [%s], "nbformat": 4, "nbformat_minor": 5}'
            % (cell % 'x', cell % 'x', cell % 'torch.zeros(2, 3).t().view(6)'))
    settings = load_settings(None, SelectionLayer(select=["TL103"]), isolated=True)
    outcome = fixes.fix_bytes(text.encode(), "nb.ipynb", settings, unsafe=True)
    assert outcome.error is None
    assert outcome.fixed.decode() == text.replace(".view(6)", ".reshape(6)")


def _spellings():
    """One notebook, spelled the ways Jupyter, nbformat and other writers store it."""
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Title é\n"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
         "source": ["import torch\n", "name = 'café 😀'\n", "\n", "x = torch.ones(2)  # \"q\"\\\n", "", "y = x"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": "a = 'ü'\r\nb = 2\rc = 3\n"},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": ""},
        {"cell_type": "raw", "metadata": {}, "source": "raw"},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": ["\n", "z = 1"]},
    ]
    document = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    indented = json.dumps(document, indent=1, ensure_ascii=False)
    return {
        "jupyter": indented.encode(),
        "ascii-escaped": json.dumps(document, indent=1).encode(),  # \u00e9, \ud83d\ude00
        "minified": json.dumps(document, separators=(",", ":")).encode(),
        "crlf": indented.replace("\n", "\r\n").encode(),
        "bom": b"\xef\xbb\xbf" + indented.encode(),
        "lone-cr": indented.replace("\n", "\r").encode(),
    }


@pytest.mark.parametrize("spelling", ["jupyter", "ascii-escaped", "minified", "crlf", "bom", "lone-cr"])
def test_file_positions_point_at_the_stored_spelling_of_each_row(spelling):
    """Every (row, column) of every code cell maps to the `.ipynb` line `ipynb_line` names, and to
    the column there where the JSON string spells that character (escapes counted as written)."""
    from json.decoder import scanstring

    from torchlint.notebook import NotebookFile, ipynb_line
    from torchlint.positions import line_starts, split_lines

    data = _spellings()[spelling]
    notebook = NotebookFile(data)
    file_lines = split_lines(data.decode("utf-8-sig"))
    for cell, source in notebook.code_sources().items():
        for row, start in enumerate(line_starts(source)[: max(len(split_lines(source)), 1)], start=1):
            for column in range(1, len(split_lines(source + "\n")[row - 1]) + 2):
                position = notebook.file_position(cell, row, column)
                assert position.row == ipynb_line(data, cell, row)
                line = file_lines[position.row - 1]
                quote = line.rfind('"', 0, position.column - 1)
                spelled_from = line[quote + 1 : position.column - 1]
                rest, _ = scanstring(line, position.column - 1)
                assert source[start + column - 1 :].startswith(rest), (row, column, rest)
                assert '"' not in spelled_from.replace('\\"', "")  # still inside the same string


def test_an_empty_source_list_maps_inside_its_brackets(tmp_path):
    """`"source": []` stores no string: its findings point just inside the brackets (the output
    formats' own scanner used to raise IndexError here)."""
    from types import SimpleNamespace

    from torchlint.diagnostics import Position
    from torchlint.output.notebook_lines import file_position

    path = tmp_path / "nb.ipynb"
    path.write_text('{"cells": [\n {"cell_type": "code", "source": []}\n], "metadata": {}}')
    result = SimpleNamespace(path=str(path), cell_sources={1: ""})
    assert file_position(result, 1, Position(1, 1)) == Position(2, 35)  # the `[` is column 34
