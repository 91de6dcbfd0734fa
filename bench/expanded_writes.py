"""Search real code for writes into expanded tensors (what TL104 looks for), without torchlint.

    python bench/expanded_writes.py --mirror-root DIR [--repo owner/name ...]

For every repository pinned in bench/ecosystem/*.toml found under DIR (bare git mirrors, found as
bench/ecosystem_check.py finds them), reads each `.py` file and each notebook's code cells at the pinned commit,
and lists, per function (and module level):

- `expanded`: names bound to `<x>.expand(...)`, `.expand_as(...)`, `torch.broadcast_to(...)`,
  and names bound to a view of such a name (`e[...]`, `e.view(...)`, `e.transpose(...)`, ...);
- `write`: an in-place write to one of them in the same scope: `e[...] = v`, `e += v`,
  `e[...] += v`, `e.<op>_(...)` (not `requires_grad_`, `set_`, `resize_`), `torch.<f>(..., out=e)`,
  `f(e, inplace=True)`, and writes
  chained onto the expand itself (`x.expand(...).add_(1)`, `x.expand(...)[i] = v`);
- `source write`: an in-place write to the expanded tensor's source name after the expand in
  the same scope (it does not raise: the expanded tensor sees the new values).

It is a syntactic search with no type information, so it over-approximates (numpy's `expand`
does not exist, but other libraries' do); each hit is printed with its line for review. The
figures at the end are the counts of expand sites, write candidates and files that did not
parse. This is what the claim "TL104 has no real sites in these repositories" rests on. Writes
through a helper's parameter are not followed (TL104 follows same-module helpers).

What such writes do (torch 2.13 CPU, `e = torch.zeros(1, 3).expand(4, 3)`): `e.add_(1)`,
`e[:, 0] = 1`, `e.copy_(...)`, `out=e`, `F.relu(e, inplace=True)`, `clamp_`, `scatter_`,
`uniform_`, and the same through `e.detach()` or `e.data` raise "unsupported operation: more than
one element of the written-to tensor refers to a single memory location"; `e.fill_(1)`,
`e.zero_()`, `e[0] = 1`, `e[0, 1] = 1`, `e[0].add_(1)` (a row has no repeated element) do not
raise and write the source `torch.zeros(1, 3)` (every row of `e` sees it); `index_put_` (with or
without `accumulate`) and `masked_fill_` only warn ("deprecated ... clone() the tensor") and
write the source; a write into the source after expanding (`x.add_(1)`) is legal and changes `e`.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

EXPANDING = {"expand", "expand_as", "broadcast_to"}
VIEWING = {"view", "view_as", "transpose", "permute", "unsqueeze", "squeeze", "narrow", "select", "t",
           "movedim", "swapaxes", "diagonal", "unflatten", "as_strided", "T", "mT"}
NOT_WRITES = {"requires_grad_", "share_memory_", "retain_grad_", "pin_memory_", "set_", "resize_", "resize_as_"}


def _root(node):
    """The name at the root of `a.b(...)[i].c`, or None."""
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        else:
            return None


def _is_expand(node) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return isinstance(func, ast.Attribute) and func.attr in EXPANDING


def _expand_source(node):
    """The receiver name of `x.expand(...)` (or the first argument of `torch.broadcast_to(x, ...)`)."""
    func = node.func
    if isinstance(func.value, ast.Name) and func.value.id in ("torch",) and node.args:
        return _root(node.args[0])
    return _root(func.value)


def _is_view_of(node, names) -> bool:
    """`e[...]`, `e.view(...)`, `e.transpose(...)` ... chains rooted at one of `names`."""
    while True:
        if isinstance(node, ast.Name):
            return node.id in names
        if isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in VIEWING:
            node = node.func.value
        elif isinstance(node, ast.Attribute) and node.attr in ("T", "mT"):
            node = node.value
        else:
            return False


def _chain_reaches_expand(node) -> bool:
    """`x.expand(...)`, or a view of it (`x.expand(...)[0]`, `x.expand(...).transpose(0, 1)`)."""
    while True:
        if _is_expand(node):
            return True
        if isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in VIEWING:
            node = node.func.value
        else:
            return False


def _scopes(tree):
    yield tree
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def _own_nodes(scope):
    """The scope's nodes in source order, not descending into nested functions."""
    stack = list(reversed(scope.body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


def _written_name(node):
    """(name, how) when `node` writes a tensor in place through a name (or an expand chain)."""
    if isinstance(node, ast.Assign):
        for target in node.targets:
            if isinstance(target, ast.Subscript):
                return target.value, "index assignment"
    if isinstance(node, ast.AugAssign):
        return node.target, "augmented assignment"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        attr = node.func.attr
        if attr.endswith("_") and not attr.startswith("_") and attr not in NOT_WRITES:
            return node.func.value, f".{attr}(...)"
        for keyword in node.keywords:
            if keyword.arg == "out":
                return keyword.value, "out="
    if isinstance(node, ast.Call) and node.args and any(
            k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True for k in node.keywords):
        return node.args[0], "inplace=True"
    return None


def search_source(source: str) -> tuple[list, int, int]:
    """[(line, kind, text)], the number of expand calls and of names bound to one, in one module."""
    tree = ast.parse(source)
    lines = source.splitlines()
    hits, expands, bound = [], 0, 0
    for scope in _scopes(tree):
        expanded: dict[str, int] = {}  # name -> line of the expand
        sources: dict[str, int] = {}  # source name -> line of the expand
        for node in _own_nodes(scope):
            if _is_expand(node):
                expands += 1
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name = node.targets[0].id
                if _is_expand(node.value):
                    bound += 1
                    expanded[name] = node.lineno
                    source_name = _expand_source(node.value)
                    if source_name and source_name not in ("self", "torch"):
                        sources[source_name] = node.lineno
                    continue
                if _is_view_of(node.value, expanded):
                    expanded[name] = node.lineno
                    continue
                expanded.pop(name, None)  # rebound to something else
                sources.pop(name, None)
            written = _written_name(node)
            if written is None:
                continue
            target, how = written
            line = getattr(node, "lineno", 0)
            text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
            if _chain_reaches_expand(target):
                hits.append((line, f"write ({how}) chained on an expand", text))
            elif _is_view_of(target, expanded):
                hits.append((line, f"write ({how}) into a name expanded at line {expanded[_root(target)]}", text))
            elif isinstance(target, ast.Name) and target.id in sources and line > sources[target.id]:
                hits.append((line, f"source write ({how}) after its expand at line {sources[target.id]}", text))
    return hits, expands, bound


def notebook_source(raw: str) -> str:
    """The code cells of a notebook, magics and shell lines dropped, one program."""
    try:
        cells = json.loads(raw).get("cells", [])
    except (ValueError, AttributeError):
        return ""
    out = []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        text = "".join(cell.get("source", [])) if isinstance(cell.get("source"), list) else cell.get("source", "")
        out.extend(line if not line.lstrip().startswith(("%", "!")) else "" for line in text.splitlines())
        out.append("")
    return "\n".join(out)


def _git(git_dir, *args) -> str:
    return subprocess.run(["git", "--git-dir", git_dir, *args], capture_output=True, text=True, errors="replace").stdout


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror-root", required=True, help="folder of bare git mirrors named owner+name/repo")
    parser.add_argument("--repo", action="append", help="only this owner/name (repeatable)")
    args = parser.parse_args(argv)
    from ecosystem_check import find_git_dir, load_family  # the pinned repositories and commits

    repos, seen = [], set()
    for repo in load_family("all")[0]:
        key = (repo["name"], repo.get("commit", "HEAD"))
        if key not in seen:
            seen.add(key)
            repos.append(key)
    totals = {"repos": 0, "files": 0, "unparsed": 0, "expands": 0, "bound": 0, "writes": 0, "source_writes": 0}
    for name, commit in repos:
        if args.repo and name not in args.repo:
            continue
        git_dir = find_git_dir(args.mirror_root, name)
        if git_dir is None:
            print(f"{name}: no mirror, skipped")
            continue
        totals["repos"] += 1
        paths = _git(git_dir, "grep", "-l", "-z", "-E", r"expand(_as)?\(|broadcast_to\(", commit, "--", "*.py", "*.ipynb").split("\0")
        for entry in filter(None, paths):
            path = entry.split(":", 1)[1]
            raw = _git(git_dir, "show", f"{commit}:{path}")
            source = notebook_source(raw) if path.endswith(".ipynb") else raw
            totals["files"] += 1
            try:
                hits, expands, bound = search_source(source)
            except (SyntaxError, ValueError, RecursionError):
                totals["unparsed"] += 1
                continue
            totals["expands"] += expands
            totals["bound"] += bound
            for line, kind, text in hits:
                key = "source_writes" if kind.startswith("source") else "writes"
                totals[key] += 1
                print(f"{name}:{path}:{line}: {kind}: {text}")
    print(f"\n{totals['repos']} repositories, {totals['files']} files mentioning expand/broadcast_to "
          f"({totals['unparsed']} did not parse), {totals['expands']} expand calls ({totals['bound']} bound to a name), "
          f"{totals['writes']} write candidates, {totals['source_writes']} source-write candidates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
