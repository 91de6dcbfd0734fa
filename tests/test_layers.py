"""The layering's "nevers", as tests (see DESIGN.md §3b: engine → program model → facts → rules).

- Rules import nothing from `cli`, `output`, `runner` or `verify`.
- `facts/` imports no rule, names no rule code and words no user-facing message: facts answer
  with typed values, rules judge and word the finding.
- A static `check` run imports neither `torchlint.verify` nor torch, numpy, sklearn or pandas.

Imports are read statically (every `import` in a module, also those inside functions, followed
through the package; `if TYPE_CHECKING:` blocks excepted), so an import that only runs on a rare
path is caught too; the last test confirms the runtime picture with a real run.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys

import pytest
from conftest import FIXTURES, ROOT

RULE_LAYER_MAY_NOT_IMPORT = ("torchlint.cli", "torchlint.output", "torchlint.runner", "torchlint.verify")
HEAVY = ("torch", "numpy", "sklearn", "pandas")


# --- a static import graph of the package ----------------------------------------------------------


def _module_file(module: str) -> str | None:
    """The source file of a `torchlint` module (`torchlint.rules` lives in `rules/`), if any."""
    parts = module.split(".")
    if parts[0] != "torchlint":
        return None
    if parts[1:2] == ["rules"]:
        base = os.path.join(ROOT, "rules", *parts[2:])
    else:
        base = os.path.join(ROOT, "torchlint", *parts[1:])
    for candidate in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(candidate):
            return candidate
    return None


def _module_name(path: str) -> str:
    relative = os.path.relpath(path, ROOT)[: -len(".py")].split(os.sep)
    if relative[0] == "rules":
        relative = ["torchlint", *relative]
    if relative[-1] == "__init__":
        relative = relative[:-1]
    return ".".join(relative)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: str) -> set[str]:
    """Every module a file imports anywhere (functions included), as absolute names."""
    module = _module_name(path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)  # a name may be a submodule
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def reachable_imports(path: str) -> dict[str, list[str]]:
    """Every module reachable from a file through `torchlint` imports, with the chain that gets there."""
    start = _module_name(path)
    chains = {start: [start]}
    pending = [(start, path)]
    while pending:
        module, file = pending.pop()
        for imported in sorted(imports_of(file)):
            if imported in chains:
                continue
            chains[imported] = chains[module] + [imported]
            source = _module_file(imported)
            if source is not None:
                pending.append((imported, source))
    return chains


def _forbidden(chains: dict[str, list[str]], prefixes: tuple[str, ...]) -> list[str]:
    return [
        " → ".join(chain)
        for module, chain in sorted(chains.items())
        if any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)
    ]


def _python_files(folder: str) -> list[str]:
    return sorted(
        os.path.join(root, name)
        for root, _, names in os.walk(folder)
        for name in names
        if name.endswith(".py")
    )


RULE_FILES = sorted(
    os.path.join(ROOT, "rules", name) for name in os.listdir(os.path.join(ROOT, "rules"))
    if name.endswith(".py") and not name.startswith("_")
)
FACT_FILES = _python_files(os.path.join(ROOT, "torchlint", "facts"))


def _ids(path: str) -> str:
    return os.path.relpath(path, ROOT)


# --- rules ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", RULE_FILES, ids=_ids)
def test_rules_import_nothing_from_cli_output_runner_or_verify(path):
    bad = _forbidden(reachable_imports(path), RULE_LAYER_MAY_NOT_IMPORT)
    assert not bad, "a rule reaches the layers above it:\n" + "\n".join(bad)


def test_loading_the_catalogue_loads_no_module_of_the_layers_above_rules_nor_an_oracle():
    probe = "import sys\nfrom torchlint.registry import all_rules\nall_rules()\nprint('\\n'.join(sys.modules))\n"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    loaded = result.stdout.split()
    # The runtime oracles (rules/oracles/) are for `torchlint verify` only.
    assert [m for m in loaded if m.startswith((*RULE_LAYER_MAY_NOT_IMPORT, "torchlint.rules.oracles"))] == []


# --- facts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", FACT_FILES, ids=_ids)
def test_facts_import_no_rule_and_nothing_above_rules(path):
    bad = _forbidden(reachable_imports(path), ("torchlint.rules", *RULE_LAYER_MAY_NOT_IMPORT))
    assert not bad, "facts must not know the rules (or what is above them):\n" + "\n".join(bad)


RULE_CODE = re.compile(r"(?<![A-Za-z0-9])TL\d{3}(?![0-9])", re.IGNORECASE)
# Two words of running text side by side, outside `code spans`: "fitted on", "has size".
# Word lists are single words (or a string split into words), so they never match.
PROSE = re.compile(r"[A-Za-z]{2,} [A-Za-z]{2,}")


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def string_literals(source: str) -> list[tuple[int, str]]:
    """The program's string values: no docstrings, no `raise`/`assert` messages (for developers),
    no strings only split into a word list; an f-string with each `{...}` as `{}`."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Raise, ast.Assert)):
            skip.update(id(inner) for inner in ast.walk(node))
        elif isinstance(node, ast.Attribute) and node.attr == "split":
            skip.add(id(node.value))
        elif isinstance(node, ast.JoinedStr):
            skip.update(id(part) for part in node.values)
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            text = "".join(p.value if isinstance(p, ast.Constant) else "{}" for p in node.values)
            found.append((node.lineno, text))
    return sorted(found)


def rule_codes_in(source: str) -> list[tuple[int, str]]:
    """Rule codes in the program's strings and names (comments and docstrings may cite rules)."""
    found = [(line, text) for line, text in string_literals(source) if RULE_CODE.search(text)]
    for node in ast.walk(ast.parse(source)):
        name = getattr(node, "id", None) or getattr(node, "attr", None) or getattr(node, "name", None)
        if isinstance(name, str) and RULE_CODE.search(name):
            found.append((getattr(node, "lineno", 0), name))
    return sorted(found)


def messages_in(source: str) -> list[tuple[int, str]]:
    """String values that read as text for a user: two words of prose outside code spans."""
    return [(line, text) for line, text in string_literals(source) if PROSE.search(re.sub(r"`[^`]*`", "`", text))]


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _report(found: dict[str, list[tuple[int, str]]]) -> str:
    return "\n".join(f"{_ids(path)}:{line}: {text!r}" for path, items in found.items() for line, text in items)


MOVING_OUT = "branch i12 (issue 12, item 3) is moving verdicts and wording out of facts/: remove this mark when it lands"


@pytest.mark.xfail(strict=True, reason=MOVING_OUT)
def test_facts_name_no_rule_code():
    found = {path: items for path in FACT_FILES if (items := rule_codes_in(_read(path)))}
    assert not found, "facts/ names rule codes:\n" + _report(found)


@pytest.mark.xfail(strict=True, reason=MOVING_OUT)
def test_facts_word_no_user_facing_message():
    found = {path: items for path in FACT_FILES if (items := messages_in(_read(path)))}
    assert not found, "facts/ holds user-facing text (word it in the rule):\n" + _report(found)


SAMPLE = '''
"""Module docs may say TL301 and talk at length."""
TRAIN_WORDS = frozenset({"train", "x_train", "trn"})
SPLITS = "train test valid".split()
PATTERN = r"^(?P<name>[a-z_]+)\\s*=\\s*"
KIND = "test-data"

def judge(fit):
    """Docs of a function, in prose."""
    assert fit, "a fit is needed here"
    if fit is None:
        raise ValueError("no fit given to judge")
    code = "TL301"
    label = f"`{fit.name}` is fitted on test data"
    return code, label, "`fit_transform(...)`"

def tl302_verdict():
    return "fitted before split"
'''


def test_the_detectors_find_codes_and_prose_but_not_word_lists_docs_or_developer_messages():
    assert [text for _, text in rule_codes_in(SAMPLE)] == ["TL301", "tl302_verdict"]
    assert [text for _, text in messages_in(SAMPLE)] == ["`{}` is fitted on test data", "fitted before split"]


# --- a static check run -----------------------------------------------------------------------------


def test_a_static_check_run_imports_neither_verify_nor_an_ml_library(tmp_path):
    # Every rule fires on the fixtures (notebooks included); each output format renders them.
    record = tmp_path / "modules.json"
    probe = (
        "import json, os, sys\nfrom torchlint.cli import main\nfrom torchlint.output import FORMATS\n"
        "sys.stdout = open(os.devnull, 'w')\n"
        "for fmt in FORMATS:\n"
        f"    sys.argv = ['torchlint', 'check', '--isolated', '--no-cache', '--output-format', fmt, {FIXTURES!r}]\n"
        "    try:\n        main()\n    except SystemExit as exc:\n        assert exc.code == 1, (fmt, exc.code)\n"
        f"open({str(record)!r}, 'w').write(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(record.read_text())
    assert "torchlint.engine" in loaded and "libcst" in loaded  # it did lint
    heavy = [m for m in loaded if m.split(".")[0] in HEAVY or m == "torchlint.verify" or m.startswith("torchlint.verify.")]
    assert not heavy, heavy
