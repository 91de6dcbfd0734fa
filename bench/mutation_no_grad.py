"""Mutation recall for TL206 eval-without-no-grad on real code.

Takes the repositories of the ecosystem check and finds every evaluation that disables
gradients: a `with torch.no_grad():` / `with torch.inference_mode():` block, or a
`@torch.no_grad()` / `@torch.inference_mode()` decorator, around a forward `X(...)` of a model
switched to evaluation mode by `X.eval()` earlier in the same function (or script). Each mutant
removes that one block or decorator (the block's header becomes `if True:`, the decorator a
comment, so rows stay where they were), lints the mutated file with TL206 only and counts the
mutants reported inside the block or function.

A site qualifies by spelling, independently of the rule's own analysis: no `train()` of `X`
between the `eval()` and the forward, no other gradient switch around it, nothing in the
function asking for gradients (`backward(`, `autograd.grad`, `requires_grad`), and no call of the
function made inside another `no_grad` block of the file.

    python bench/mutation_no_grad.py --mirror-root DIR [--family all]
"""

from __future__ import annotations

import ast
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mutation_softmax_dim import run_recall, score_mutants  # noqa: E402

FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
SWITCHES = ("torch.no_grad", "torch.inference_mode")
NEEDS_GRAD = re.compile(r"backward\(|autograd\.grad|requires_grad|enable_grad|set_grad_enabled|no_grad\(\)\.__enter__")


def _is_switch(expr) -> bool:
    target = expr.func if isinstance(expr, ast.Call) else expr
    try:
        return ast.unparse(target) in SWITCHES
    except Exception:
        return False


def _scopes(tree):
    yield None, tree.body
    for node in ast.walk(tree):
        if isinstance(node, FUNCTIONS):
            yield node, node.body


def _own_nodes(body):
    """Nodes of a scope's body, not entering nested definitions."""
    stack = list(body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, FUNCTIONS + (ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(node))


def _forwards(nodes, evaluated: set[str]):
    for node in nodes:
        if isinstance(node, ast.Call):
            try:
                name = ast.unparse(node.func)
            except Exception:
                continue
            if name in evaluated or (name.endswith(".forward") and name[:-8] in evaluated):
                yield node


def _mutants(text: str):
    """(mutated text, first row, last row) for each no-grad block or decorator removed."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return
    lines = text.splitlines()
    no_grad_calls = set()  # names of functions called inside some no-grad block
    for node in ast.walk(tree):
        if isinstance(node, (ast.With, ast.AsyncWith)) and any(_is_switch(i.context_expr) for i in node.items):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Call):
                    func = inner.func
                    no_grad_calls.add(func.id if isinstance(func, ast.Name) else getattr(func, "attr", ""))
        if isinstance(node, FUNCTIONS) and any(_is_switch(d) for d in node.decorator_list):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Call):
                    func = inner.func
                    no_grad_calls.add(func.id if isinstance(func, ast.Name) else getattr(func, "attr", ""))
    for function, body in _scopes(tree):
        if not body:
            continue
        start, end = body[0].lineno, body[-1].end_lineno
        if function is not None and function.name in no_grad_calls:
            continue
        scope_text = "\n".join(lines[start - 1:end])
        if NEEDS_GRAD.search(scope_text):
            continue
        nodes = list(_own_nodes(body))
        evals = [n for n in nodes if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                 and n.func.attr == "eval" and not n.args and not n.keywords]
        trains = [n for n in nodes if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                  and n.func.attr == "train"]
        if not evals:
            continue
        decorated = function is not None and [d for d in function.decorator_list if _is_switch(d)]
        blocks = [n for n in nodes if isinstance(n, ast.With) and len(n.items) == 1 and _is_switch(n.items[0].context_expr)]
        if decorated:
            if len(decorated) != 1 or blocks:
                continue
            sites = [(decorated[0].lineno, body, start, end)]
        else:
            sites = [(block.lineno, block.body, block.body[0].lineno, block.end_lineno) for block in blocks
                     if not any(other is not block and other.lineno < block.lineno <= other.end_lineno
                                for other in blocks)]
        for header, inner, first, last in sites:
            evaluated = {ast.unparse(e.func.value) for e in evals if e.lineno < first
                         and not any(t.lineno > e.lineno and t.lineno < first and ast.unparse(t.func.value) == ast.unparse(e.func.value)
                                     for t in trains)}
            if not evaluated or not any(True for _ in _forwards(_own_nodes(inner), evaluated)):
                continue
            mutated = list(lines)
            line = mutated[header - 1]
            indent = line[: len(line) - len(line.lstrip())]
            mutated[header - 1] = indent + ("# no_grad removed" if decorated else "if True:")
            yield "\n".join(mutated) + "\n", first, last


def _score(text: str):
    return score_mutants(_mutants(text), "TL206")


def main() -> int:
    return run_recall(__doc__, "TL206", lambda text: ".eval()" in text and ("no_grad" in text or "inference_mode" in text),
                      _score)


if __name__ == "__main__":
    sys.exit(main())
