"""The word lists and syntax questions behind `accumulation`: a loop's own statements, reads of
a name, concatenations, accumulated values and detaching reads."""

from __future__ import annotations

import enum
import re
from typing import Iterator

from torchlint._lazy import lazy_module
from torchlint.facts.names import dotted_name
from torchlint.facts.statements import body_of, child_bodies, walk_nodes
from torchlint.walk import children

cst = lazy_module("libcst")


CONCATENATIONS = frozenset({
    "torch.cat", "torch.concat", "torch.concatenate", "torch.vstack", "torch.hstack", "torch.row_stack",
    "torch.dstack", "numpy.concatenate", "numpy.vstack", "numpy.hstack", "numpy.row_stack", "numpy.dstack",
    "numpy.append",
})
# Methods that return the same value without autograd history (or a plain number).
DETACHING_METHODS = frozenset({"item", "detach", "tolist", "numpy", "detach_"})
DETACHING_FUNCTIONS = frozenset({"float", "int", "bool", "str", "round"})
# Methods that return a tensor still attached to the receiver's graph.
GRAPH_KEEPING_METHODS = frozenset({
    "float", "double", "half", "bfloat16", "mean", "sum", "cpu", "cuda", "to", "clone", "squeeze",
    "unsqueeze", "view", "reshape", "flatten", "abs", "sqrt", "exp", "log",
})
# torch.nn.functional losses (a function named `*_loss` counts too).
FUNCTIONAL_LOSSES = frozenset({
    "cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
    "poisson_nll_loss", "gaussian_nll_loss", "ctc_loss",
})
CRITERION_NAMES = frozenset({"criterion", "loss_fn", "loss_func", "loss_function", "lossfn", "loss_fcn",
                             "criterion_fn", "loss_criterion"})
NO_GRAD_CONTEXTS = frozenset({
    "torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad", "torch.autograd.grad_mode.no_grad",
    "torch.autograd.inference_mode", "torch.autograd.grad_mode.inference_mode",
})
# Calls that back-propagate through (or hand on for back-propagation) what they are given.
_GRADIENT_CALLS = frozenset({"backward", "grad", "scale", "manual_backward"})
# Calls that only print, log or format what they are given.
_LOGGING = re.compile(r"print|log|scalar|format|write|set_postfix|set_description|display", re.I)
_CONFIG_PARTS = frozenset({"config", "cfg", "conf", "hparams", "args", "opt", "opts", "options", "settings"})
# Methods run without gradients by the frameworks that call them.
_FRAMEWORK_NO_GRAD = frozenset({"validation_step", "test_step", "predict_step", "validation_epoch_end",
                                "test_epoch_end", "on_validation_batch_end"})


class Into(enum.Enum):
    """How a value is accumulated."""

    SUM = enum.auto()  # `total += loss`, `total = total + loss`
    LIST = enum.auto()  # `losses.append(loss)`, `losses += [loss]`


def _own_statements(loop) -> Iterator:
    """Statements inside the loop body whose innermost loop is `loop` (nested defs left alone)."""
    stack = [iter(body_of(loop.body))]
    while stack:
        try:
            statement = next(stack[-1])
        except StopIteration:
            stack.pop()
            continue
        yield statement
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef, cst.For, cst.While)):
            continue
        for block in child_bodies(statement):
            stack.append(iter(block))


def _loop_nodes(loop) -> Iterator:
    """Every node of the loop (header and body, nested loops included, nested defs excluded)."""
    stack = [loop]
    while stack:
        node = stack.pop()
        if node is not loop and isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        yield node
        stack.extend(children(node))


def _reads(root, key: str, whole: bool = False) -> Iterator:
    """Nodes under `root` (nested defs excluded unless `whole`) that load `key` (a name or dotted attribute)."""
    stores = set()
    nodes = list(walk_nodes(root)) if whole else list(_loop_nodes(root))
    for node in nodes:
        if isinstance(node, cst.AssignTarget):
            stores.add(id(node.target))
        elif isinstance(node, (cst.For, cst.NamedExpr)):
            stores.add(id(node.target))  # `x += y` is no store here: it reads x
    for node in nodes:
        if isinstance(node, (cst.Name, cst.Attribute)) and dotted_name(node) == key and id(node) not in stores:
            yield node


def _backward_of(call):
    """(the back-propagated name, retains graph) of a `.backward(...)` statement, or None."""
    func = call.func
    if not isinstance(func, cst.Attribute) or func.attr.value != "backward":
        return None
    retains = any(a.keyword is not None and a.keyword.value in ("retain_graph", "create_graph") for a in call.args)
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    receiver = func.value
    if positional and dotted_name(positional[0]) is not None and not isinstance(receiver, cst.Call):
        name = dotted_name(positional[0])  # `accelerator.backward(loss)`
    elif isinstance(receiver, cst.Call) and receiver.args and isinstance(receiver.func, cst.Attribute) \
            and receiver.func.attr.value == "scale":
        name = dotted_name(receiver.args[0].value)  # `scaler.scale(loss).backward()`
    else:
        name = dotted_name(receiver)
    return (name, retains) if name is not None else None


def _binds(loop, name: str) -> bool:
    """Does the loop (its target or a statement in it) bind `name`?"""
    for node in _loop_nodes(loop):
        targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else \
            [node.target] if isinstance(node, (cst.For, cst.AugAssign, cst.AnnAssign, cst.NamedExpr)) else []
        if any(name in _bound_names(t) for t in targets):
            return True
    return False


def _bound_names(target) -> Iterator[str]:
    key = dotted_name(target)
    if key is not None:
        yield key
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _bound_names(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from _bound_names(target.value)


def _concatenation_of(value, key: str):
    """(the concatenating call, nodes of `is None` tests that choose it) of an assigned value."""

    if isinstance(value, cst.Call):
        return value, ()
    if isinstance(value, cst.IfExp):
        test = value.test
        if _none_test_of(test, key):
            for branch in (value.body, value.orelse):
                if isinstance(branch, cst.Call):
                    return branch, tuple(walk_nodes(test))
    return None, ()


def _accumulator_element(call, key: str, qualified: str):
    """The argument node that is the accumulator itself, when the call regrows it."""
    args = [a for a in call.args if a.keyword is None]
    if not args or any(a.star for a in call.args):
        return None
    if qualified == "numpy.append":
        return args[0].value if dotted_name(args[0].value) == key else None
    sequence = args[0].value
    if not isinstance(sequence, (cst.List, cst.Tuple)):
        return None
    matches = [e.value for e in sequence.elements if not isinstance(e, cst.StarredElement) and dotted_name(e.value) == key]
    if len(matches) != 1 or len(sequence.elements) < 2:
        return None
    return matches[0]


def _none_test_of(test, key: str) -> bool:
    return (isinstance(test, cst.Comparison) and dotted_name(test.left) == key and len(test.comparisons) == 1
            and isinstance(test.comparisons[0].operator, (cst.Is, cst.IsNot))
            and isinstance(test.comparisons[0].comparator, cst.Name) and test.comparisons[0].comparator.value == "None")


def _is_none_check(node, loop) -> bool:
    """Is this read of the accumulator only an `x is None` / `x is not None` test?"""
    for found in _loop_nodes(loop):
        if isinstance(found, cst.Comparison) and found.left is node:
            return _none_test_of(found, dotted_name(node) or "")
    return False


def _small_loop(loop) -> bool:
    """A loop over a literal of at most 4 items, `range(<= 4)`, or a configuration's list of options."""
    if not isinstance(loop, cst.For):
        return False
    iterable = loop.iter
    parts = (dotted_name(iterable) or "").lower().split(".")
    if len(parts) > 1 and any(part in _CONFIG_PARTS for part in parts[:-1]):
        return True  # `self.config.conditioning_types`: a handful of options, not data
    if isinstance(iterable, (cst.List, cst.Tuple, cst.Set)):
        return len(iterable.elements) <= 4
    if isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Name) and iterable.func.value == "range":
        bounds = [a.value for a in iterable.args]
        if len(bounds) == 1 and isinstance(bounds[0], cst.Integer):
            return int(bounds[0].value, 0) <= 4
    return False


def _accumulated(small):
    """(accumulator, accumulated expression, how) for `acc += e`, `acc = acc + e`, `acc.append(e)`."""
    if isinstance(small, cst.AugAssign) and isinstance(small.operator, cst.AddAssign):
        key = dotted_name(small.target)
        if key is None:
            return None
        value = small.value
        if isinstance(value, cst.List) and len(value.elements) == 1:
            return key, value.elements[0].value, Into.LIST
        return key, value, Into.SUM
    if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.value, cst.BinaryOperation) \
            and isinstance(small.value.operator, cst.Add):
        key = dotted_name(small.targets[0].target)
        if key is None:
            return None
        if dotted_name(small.value.left) == key:
            return key, small.value.right, Into.SUM
        if dotted_name(small.value.right) == key:
            return key, small.value.left, Into.SUM
        return None
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
        call = small.value
        if isinstance(call.func, cst.Attribute) and call.func.attr.value == "append" and len(call.args) == 1 \
                and call.args[0].keyword is None and not call.args[0].star:
            key = dotted_name(call.func.value)
            if key is not None:
                return key, call.args[0].value, Into.LIST
    return None


def _attached_read(node, key: str) -> bool:
    """Does `node` read `key` other than through `float(...)`, `.item()`, `.detach()`...?"""
    if isinstance(node, (cst.Name, cst.Attribute)) and dotted_name(node) == key:
        return True
    if isinstance(node, cst.Call):
        func = node.func
        if isinstance(func, cst.Name) and func.value in DETACHING_FUNCTIONS:
            return False
        if isinstance(func, cst.Attribute) and func.attr.value in DETACHING_METHODS:
            return any(_attached_read(arg, key) for arg in node.args)
    return any(_attached_read(child, key) for child in children(node))


def _read_contexts(node, key: str, detached: bool = False) -> Iterator[bool]:
    """For each read of `key` under `node`: is it through a detaching, printing or logging call?"""
    if isinstance(node, (cst.Name, cst.Attribute)) and dotted_name(node) == key:
        yield detached
        return
    if isinstance(node, cst.Call):
        func = node.func
        name = func.value if isinstance(func, cst.Name) else func.attr.value if isinstance(func, cst.Attribute) else ""
        if name in DETACHING_FUNCTIONS or _LOGGING.search(name):
            for arg in node.args:
                yield from _read_contexts(arg, key, True)
            if isinstance(func, cst.Attribute):
                yield from _read_contexts(func.value, key, detached)
            return
        if isinstance(func, cst.Attribute) and name in DETACHING_METHODS:
            yield from _read_contexts(func.value, key, True)
            for arg in node.args:
                yield from _read_contexts(arg, key, detached)
            return
    if isinstance(node, cst.FormattedStringExpression):
        detached = True
    for child in children(node):
        yield from _read_contexts(child, key, detached)


def _is_small(node) -> bool:
    return isinstance(node, (cst.Assign, cst.AugAssign, cst.AnnAssign, cst.Expr, cst.Return))


def _yields(node) -> bool:
    return isinstance(node, cst.Expr) and isinstance(node.value, (cst.Yield,))


def _is_gradient_call(call) -> bool:
    func = call.func
    name = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else None
    return name in _GRADIENT_CALLS
