"""Small integer constants spelled in the code, for layer hyper-parameters: `3`, `(3, 1, 1)`, a
name bound once to such a value in the same function, `int(...)`, `+ - * //` of them, and a list
comprehension over such a tuple (`[int(k // 2) for k in kernel_size]`).

    constant(dataflow, expr)   # an int, a tuple of ints, or None when the code does not tell
"""

from __future__ import annotations

from torchlint._lazy import lazy_module

cst = lazy_module("libcst")

_OPERATORS = {
    "Add": lambda a, b: a + b,
    "Subtract": lambda a, b: a - b,
    "Multiply": lambda a, b: a * b,
    "FloorDivide": lambda a, b: a // b if b else None,
}


def constant(dataflow, expr, env=None, depth: int = 0):
    """The value of `expr` when the code spells it as a small integer constant, else None."""
    if depth > 8:
        return None
    env = env or {}
    if isinstance(expr, cst.Integer):
        return int(expr.evaluated_value)
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        value = constant(dataflow, expr.expression, env, depth + 1)
        return -value if isinstance(value, int) else None
    if isinstance(expr, (cst.Tuple, cst.List)):
        if any(isinstance(e, cst.StarredElement) for e in expr.elements):
            return None
        values = tuple(constant(dataflow, e.value, env, depth + 1) for e in expr.elements)
        return None if any(not isinstance(v, int) for v in values) else values
    if isinstance(expr, cst.BinaryOperation) and type(expr.operator).__name__ in _OPERATORS:
        left = constant(dataflow, expr.left, env, depth + 1)
        right = constant(dataflow, expr.right, env, depth + 1)
        if isinstance(left, int) and isinstance(right, int):
            return _OPERATORS[type(expr.operator).__name__](left, right)
        return None
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "int" \
            and len(expr.args) == 1 and not expr.args[0].star and expr.args[0].keyword is None:
        value = constant(dataflow, expr.args[0].value, env, depth + 1)
        return value if isinstance(value, int) else None
    if isinstance(expr, cst.ListComp):
        return _comprehension(dataflow, expr, env, depth)
    if isinstance(expr, cst.Name):
        if expr.value in env:
            return env[expr.value]
        return _bound_once(dataflow, expr, depth)
    return None


def _comprehension(dataflow, expr, env, depth):
    """`[elt for k in (3, 1, 1)]` with one `for`, a plain target and no condition."""
    loop = expr.for_in
    if loop.inner_for_in is not None or loop.ifs or loop.asynchronous is not None \
            or not isinstance(loop.target, cst.Name):
        return None
    values = constant(dataflow, loop.iter, env, depth + 1)
    if not isinstance(values, tuple):
        return None
    items = tuple(constant(dataflow, expr.elt, {**env, loop.target.value: v}, depth + 1) for v in values)
    return None if any(not isinstance(i, int) for i in items) else items


def _bound_once(dataflow, name, depth):
    flow = dataflow.function_of(name)
    if flow is None or not flow.is_local_load(name):
        return None
    bindings = flow.bindings_at(name)
    if len(bindings) != 1:
        return None
    binding = next(iter(bindings))
    if binding.kind != "assign" or binding.value is None:
        return None
    return constant(dataflow, binding.value, None, depth + 1)
