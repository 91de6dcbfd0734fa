"""Notebook syntax check: torchlint's TL001 verdict on every code cell vs IPython's.

    python bench/notebook_syntax_check.py --mirror-root ~/mirrors
    python bench/notebook_syntax_check.py --family data --show 20

For every notebook of the repositories listed in `bench/ecosystem/*.toml` (exported the way
`bench/ecosystem_check.py` does), each code cell gets two verdicts:

- torchlint: does `torchlint check --select TL001` report the cell?
- IPython: does `InteractiveShell.transform_cell` (TransformerManager, then the single-line
  prefilter with automagic) give code that compiles (`ast.PyCF_ONLY_AST`, top-level await
  allowed, as IPython parses a cell)? For a cell magic that runs its body as Python (`%%time`,
  `%%timeit`, ...), the body must pass the same check, since the magic compiles it when the cell
  runs.

It prints the counts and the disagreements in each direction; "TL001 on a cell IPython accepts"
should be 0. Needs IPython (`pip install ipython`); torchlint itself never imports it.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import tempfile
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from ecosystem_check import checkout, load_family  # noqa: E402  (the bench's own helpers)


def _compiles(code: str) -> bool:
    try:
        compile(code, "<cell>", "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
    except (SyntaxError, ValueError, OverflowError, MemoryError, RecursionError):
        return False
    return True


def ipython_accepts(shell, cell: str) -> bool:
    from torchlint.ipython import PYTHON_CELL_MAGICS

    try:
        if not _compiles(shell.transform_cell(cell)):
            return False
        static = shell.input_transformer_manager.transform_cell(cell)
    except (SyntaxError, RuntimeError, ValueError):
        return False
    magic, body = _cell_magic(static)
    if magic in PYTHON_CELL_MAGICS:
        return ipython_accepts(shell, body)
    return True


def _cell_magic(transformed: str) -> tuple[str | None, str]:
    """(name, body) when IPython turned the cell into `get_ipython().run_cell_magic(...)`."""
    if not transformed.startswith("get_ipython().run_cell_magic("):
        return None, ""
    call = ast.parse(transformed).body[0].value
    return call.args[0].value, call.args[2].value


def torchlint_flagged(path: str, data: bytes, settings) -> set[int] | None:
    """The cells torchlint reports as TL001; None when the file is not a linted notebook."""
    from torchlint.engine import lint_file

    result = lint_file(path, settings, data=data)
    if any(d.code == "TL002" for d in result.diagnostics):
        return None
    return {d.cell for d in result.diagnostics if d.code == "TL001"}


def code_cells(data: bytes) -> dict[int, str] | None:
    from torchlint.notebook import NotebookFile, _is_python
    from torchlint.source import SourceError

    try:
        notebook = NotebookFile(data)
    except SourceError:
        return None
    return notebook.code_sources() if _is_python(notebook.document) else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="all", help="a file name in bench/ecosystem/ without .toml, or all")
    parser.add_argument("--mirror-root", help="a folder of local git mirrors named owner+name")
    parser.add_argument("--repo", action="append", help="only these repositories (owner/name)")
    parser.add_argument("--show", type=int, default=10, help="disagreements to print per direction")
    args = parser.parse_args()

    os.environ.setdefault("IPYTHONDIR", tempfile.mkdtemp(prefix="torchlint-ipython-"))
    from IPython.core.interactiveshell import InteractiveShell

    from torchlint.config import SelectionLayer, load_settings

    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    settings = load_settings(None, SelectionLayer(select=["TL001"]), isolated=True)
    repos, _ = load_family(args.family)
    unique = {}
    for repo in repos:
        unique.setdefault((repo["name"], repo.get("commit")), repo)
    repos = [r for r in unique.values() if not args.repo or r["name"] in args.repo]
    counts: Counter = Counter()
    examples: dict[str, list[str]] = {"tl001_ipython_accepts": [], "ipython_rejects_no_tl001": []}
    with tempfile.TemporaryDirectory(prefix="torchlint-nb-") as dest:
        for repo in repos:
            try:
                tree = checkout(repo, dest, args.mirror_root)
            except Exception as exc:  # a missing mirror: say so, go on
                print(f"  {repo['name']}: cannot check out: {exc}", file=sys.stderr)
                continue
            for root, _, files in os.walk(tree):
                for name in sorted(files):
                    if not name.endswith(".ipynb"):
                        continue
                    path = os.path.join(root, name)
                    with open(path, "rb") as handle:
                        data = handle.read()
                    cells = code_cells(data)
                    flagged = torchlint_flagged(path, data, settings) if cells is not None else None
                    if cells is None or flagged is None:
                        counts["notebooks skipped (not Python or unreadable)"] += 1
                        continue
                    counts["notebooks"] += 1
                    shown = f"{repo['name']}/{os.path.relpath(path, tree)}"
                    for index, source in cells.items():
                        counts["code cells"] += 1
                        accepted = ipython_accepts(shell, source)
                        counts["IPython accepts" if accepted else "IPython rejects"] += 1
                        if index in flagged:
                            counts["torchlint TL001"] += 1
                        if index in flagged and accepted:
                            key = "tl001_ipython_accepts"
                        elif index not in flagged and not accepted:
                            key = "ipython_rejects_no_tl001"
                        else:
                            continue
                        counts[key] += 1
                        if len(examples[key]) < args.show:
                            examples[key].append(f"{shown}:cell {index}: {json.dumps(source[:120])}")
    print(f"{'notebooks':45} {counts['notebooks']:>7}")
    print(f"{'notebooks skipped (not Python or unreadable)':45} {counts['notebooks skipped (not Python or unreadable)']:>7}")
    for key in ("code cells", "IPython accepts", "IPython rejects", "torchlint TL001"):
        print(f"{key:45} {counts[key]:>7}")
    print(f"{'disagree: TL001 on a cell IPython accepts':45} {counts['tl001_ipython_accepts']:>7}")
    print(f"{'disagree: no TL001 on a cell IPython rejects':45} {counts['ipython_rejects_no_tl001']:>7}")
    for key, lines in examples.items():
        if lines:
            print(f"\n{key}:")
            for line in lines:
                print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
