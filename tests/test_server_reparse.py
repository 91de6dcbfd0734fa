"""The server's `Reparser`: a document parsed again by top-level statement gives the module a
whole-file parse gives, node for node, and reuses the statements an edit did not touch."""

from __future__ import annotations

import ast

import libcst as cst
import pytest

from torchlint.server.reparse import Reparser
from torchlint.walk import children

LAYOUTS = {
    "plain": "import torch\n\n\ndef f(x):\n    return x + 1\n\n\nclass A:\n    def g(self):\n        pass\n",
    "header comments": "# licence\n# more\n\n\"\"\"Doc.\"\"\"\nimport os\n# between\n\nx = 1\n",
    "comments owed to the next statement": "def f():\n    x = 1\n    # the block's footer\n\n# the next one's\n\n\nclass A:\n    pass\n",
    "decorators": "import functools\n\n\n@functools.cache\n@staticmethod\ndef f():\n    return 1\n\n\n@dataclass\nclass B:\n    x: int = 0\n",
    "semicolons and suites": "a = 1; b = 2\nif a: b = 3\nelse:\n    b = 4\nfor i in range(3): pass\n",
    "backslash continuation": "x = 1 + \\\n2\ny = 3\n",
    "no trailing newline": "def f():\n    return 1\n\n\nx = f()",
    "tabs after spaces": "def f():\n    return 1\n\n\ndef g():\n\treturn 2\n\n\ndef h():\n  return 3\n",
    "tabs first": "def f():\n\treturn 1\n\n\ndef g():\n    return 2\n",
    "only blocks in else": "if x: pass\nelse:\n  y = 1\n\n\ndef f():\n    pass\n",
    "trailing comments at the end": "x = 1\n\n# the end\n\n",
    "indented comment after a block": "def f():\n    pass\n        # deeper\n  # shallower\n# top\nx = 1\n",
    "blank line above an indented comment": "model.to(device)\n\n    # an indented comment\noptimizer = f(model)\n",
    "strings spanning lines": "s = '''\ndef not_a_def():\n'''\nt = 1\n",
    "try and match": "try:\n    x = 1\nexcept E:\n    pass\nfinally:\n    y = 2\nmatch x:\n    case 1:\n        pass\n",
    "async and with": "async def f():\n    async with a as b:\n        await b\n\n\nwith open(p) as h:\n    h.read()\n",
    "one statement": "x = 1\n",
    "empty": "",
    "only comments": "# nothing\n",
    "carriage returns": "x = 1\r\ny = 2\r\n",
    "form feed": "x = 1\n\x0c\ny = 2\n",
}
# Left to the whole-file parse: line ends that are not "\n", blocks indented unlike the first
# one of the file (their indentation is recorded relative to it), and a piece ending in a blank
# line and an indented comment (LibCST's module footer loses that blank line).
PARSED_WHOLE = {
    "carriage returns", "form feed", "tabs after spaces", "tabs first", "only blocks in else",
    "blank line above an indented comment",
}


def reparsed(reparser: Reparser, text: str):
    return reparser(text, ast.parse(text))


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_a_reparse_gives_the_whole_file_parse(name):
    text = LAYOUTS[name]
    whole = cst.parse_module(text)
    module = reparsed(Reparser(), text)
    if module is None:  # parsed whole by the engine: nothing to compare
        assert name in PARSED_WHOLE
        return
    assert module.deep_equals(whole)
    assert module.code == text


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_an_edited_text_reuses_the_untouched_statements_and_gives_the_whole_file_parse(name):
    text = LAYOUTS[name]
    reparser = Reparser()
    reparsed(reparser, text)
    lines = text.split("\n")
    edits = [text + "# edit\n"]
    statements = ast.parse(text).body
    if statements:  # a statement inserted before the last one
        last = statements[-1]
        row = last.decorator_list[0].lineno if getattr(last, "decorator_list", None) else last.lineno
        edits.append("\n".join(lines[: row - 1] + ["z = 0"] + lines[row - 1 :]))
    for edited in edits:
        module = reparsed(reparser, edited)
        if module is None:
            assert name in PARSED_WHOLE
            continue
        assert module.deep_equals(cst.parse_module(edited))
        assert module.code == edited


def test_after_an_edit_only_the_changed_statement_is_parsed_again():
    functions = [f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(10)]
    reparser = Reparser()
    reparsed(reparser, "".join(functions))
    assert reparser.reused == 0
    functions[4] = "def f4(x):\n    return x * 4\n\n\n"
    module = reparsed(reparser, "".join(functions))
    assert reparser.reused == 9
    assert module.deep_equals(cst.parse_module("".join(functions)))


def test_a_statement_met_twice_gives_two_distinct_nodes():
    # Facts key their answers by node identity: the same parse may not stand in two places.
    text = "def f(x):\n    return x\n\n\ndef f(x):\n    return x\n\n\ndef f(x):\n    return x\n"
    reparser = Reparser()
    reparsed(reparser, text)
    module = reparsed(reparser, text)
    assert module.deep_equals(cst.parse_module(text))
    seen, stack = set(), [module]
    while stack:
        node = stack.pop()
        if not children(node):
            continue  # leaves (whitespace, `MaybeSentinel`-free tokens) may be shared by LibCST itself
        assert id(node) not in seen
        seen.add(id(node))
        stack.extend(children(node))


def test_a_piece_that_does_not_parse_leaves_the_text_to_the_whole_file_parse():
    reparser = Reparser()
    assert reparser("x = (1,\n", None) is None  # CPython rejected it: no tree to cut by


def test_the_server_finds_on_each_version_what_check_finds(tmp_path):
    from torchlint.config import SelectionLayer
    from torchlint.engine import lint_file
    from torchlint.server.documents import python_snapshot
    from torchlint.server.linting import Linter
    from torchlint.server.settings import WorkspaceSettings

    path = str(tmp_path / "model.py")
    settings = WorkspaceSettings(SelectionLayer()).for_path(path).settings
    versions = [
        "import torch\n\n\ndef f(x, n):\n    return x.unsqueeze(0).repeat(n, 1, 1).sum()\n\n\ndef g(x):\n    return x\n",
        "import torch\n\n\ndef f(x, n):\n    return x.unsqueeze(0).expand(n, -1, -1).sum()\n\n\ndef g(x):\n    return x\n",
        "import torch\n\n\ndef f(x, n):\n    return x.unsqueeze(0).repeat(n, 1, 1).sum()\n\n\n"
        "def g(x):\n    B, N, C = x.shape\n    return x.transpose(1, 2).view(B, -1)\n",
    ]
    linter = Linter(use_cache=False)
    found = []
    for number, text in enumerate(versions):
        linted = linter.lint(python_snapshot("file://" + path, number, path, text), settings)
        expected = lint_file(path, settings, data=text.encode()).diagnostics
        assert linted.diagnostics == expected
        found.append({d.code for d in linted.diagnostics})
    assert found == [{"TL101"}, set(), {"TL101", "TL103"}]
