"""Mutation recall for TL205 eval-mode-not-restored on real code.

Takes the repositories of the ecosystem check and finds every `X.train()` statement that runs
once per iteration of a training loop that also evaluates: written in the loop itself, or in a
function the loop calls (`train(model, ...)`, `self.train_epoch()`). Each mutant moves that
`train()` before the loop (the bug: the mode is set once, the evaluation switches it off for
good), lints the mutated file with TL205 only and counts the mutants reported inside the loop.

A loop qualifies by spelling, independently of the rule's own analysis: its text, with the
bodies of the same-file functions it calls (two levels), contains `.eval()` and `backward(`,
and no other `.train(` remains once the moved one is gone.

    python bench/mutation_eval_mode.py --mirror-root DIR [--family all]
"""

from __future__ import annotations

import ast
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mutation_softmax_dim import run_recall, score_mutants  # noqa: E402

LOOPS = (ast.For, ast.While, ast.AsyncFor)
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _parents(tree) -> dict:
    found = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            found[child] = node
    return found


def _enclosing(node, parents, kinds):
    current = parents.get(node)
    while current is not None and not isinstance(current, kinds):
        if isinstance(current, FUNCTIONS + (ast.ClassDef,)) and kinds == LOOPS:
            return None  # a loop must be in the same function
        current = parents.get(current)
    return current


def _called_name(call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self":
        return func.attr
    return None


def _reach(node, functions, lines, depth=0, seen=None) -> list:
    """`node` and the same-file functions it calls (two levels)."""
    seen = seen if seen is not None else set()
    found = [node]
    if depth >= 2:
        return found
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            name = _called_name(call)
            target = functions.get(name)
            if target is not None and id(target) not in seen:
                seen.add(id(target))
                found += _reach(target, functions, lines, depth + 1, seen)
    return found


def _evaluates(nodes, names: set[str]) -> bool:
    """Does one of the nodes call `.eval()` on a receiver named like the model (or a helper's parameter)?"""
    params = {a.arg for n in nodes if isinstance(n, FUNCTIONS) for a in n.args.args}
    for node in nodes:
        for call in ast.walk(node):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "eval" \
                    and not call.args:
                last = ast.unparse(call.func.value).split(".")[-1]
                if last in names or last in params:
                    return True
    return False


def _text(lines, spans, skip: int) -> str:
    return "\n".join(lines[i - 1] for start, end in spans for i in range(start, end + 1) if i != skip)


def _mutants(text: str):
    """(mutated text, first row, last row of the loop in it) for each `train()` moved before its loop."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return
    lines = text.splitlines()
    parents = _parents(tree)
    defined: dict[str, list] = {}
    for node in ast.walk(tree):
        if isinstance(node, FUNCTIONS):
            defined.setdefault(node.name, []).append(node)
    functions = {name: nodes[0] for name, nodes in defined.items() if len(nodes) == 1}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and not node.value.args
                and not node.value.keywords and isinstance(node.value.func, ast.Attribute)
                and node.value.func.attr == "train" and node.lineno == node.end_lineno):
            continue
        receiver = ast.unparse(node.value.func.value)
        loop = _enclosing(node, parents, LOOPS)
        targets = []
        if loop is not None:
            targets.append((loop, receiver))
        else:
            function = _enclosing(node, parents, FUNCTIONS)
            if function is None or functions.get(function.name) is not function:
                continue
            params = [a.arg for a in function.args.args]
            for call in ast.walk(tree):
                if not (isinstance(call, ast.Call) and _called_name(call) == function.name):
                    continue
                caller_loop = _enclosing(call, parents, LOOPS)
                if caller_loop is None:
                    continue
                name = receiver
                if not receiver.startswith("self."):
                    root = receiver.split(".")[0]
                    offset = 1 if params[:1] == ["self"] and isinstance(call.func, ast.Attribute) else 0
                    if root not in params or params.index(root) - offset >= len(call.args):
                        continue
                    name = ast.unparse(call.args[params.index(root) - offset]) + receiver[len(root):]
                targets.append((caller_loop, name))
        for loop, name in targets:
            nodes = _reach(loop, functions, lines)
            reach = _text(lines, [(n.lineno, n.end_lineno) for n in nodes], node.lineno)
            if "backward(" not in reach or ".train(" in reach:
                continue
            if not _evaluates(nodes, {name.split(".")[-1], receiver.split(".")[-1]}):
                continue
            if loop.lineno == node.lineno:
                continue
            mutated = list(lines)
            indent = lines[node.lineno - 1][: len(lines[node.lineno - 1]) - len(lines[node.lineno - 1].lstrip())]
            mutated[node.lineno - 1] = indent + "pass"
            loop_indent = " " * loop.col_offset
            mutated.insert(loop.lineno - 1, f"{loop_indent}{name}.train()")
            yield "\n".join(mutated) + "\n", loop.lineno + 1, loop.end_lineno + 1


def _score(text: str):
    return score_mutants(_mutants(text), "TL205")


def main() -> int:
    return run_recall(__doc__, "TL205", lambda text: ".train()" in text and ".eval()" in text, _score)


if __name__ == "__main__":
    sys.exit(main())
