"""Accumulation facts: values a loop grows or sums across its iterations.

Two questions, both about one name (or `self.<attr>`) that persists from one iteration of a loop
to the next:

- `regrowths()`: `x = torch.cat([x, y])` (and `np.concatenate`, `np.vstack`, `np.append`...)
  re-concatenating the accumulator with a new piece each iteration, with every other read of the
  accumulator inside the loop (a read means the intermediate result is needed: decoding loops).
- `loss_accumulations()`: a loss tensor (the receiver of `.backward()` in the loop, or the
  output of a criterion) summed (`total += loss`) or collected (`losses.append(loss)`) into an
  accumulator, with where the loss comes from, whether gradients are recorded there, and whether
  the accumulator is back-propagated itself.

Both are syntactic, per loop, and leave nested functions and classes alone. The loop of a
statement is its innermost enclosing `for`/`while` in the same scope. Answers are typed; the
rules judge and word them.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any, Iterator

from torchlint._lazy import lazy_module
from torchlint.facts.names import dotted_name
from torchlint.facts.statements import body_of, child_bodies, iter_statements, small_statements, walk_nodes
from torchlint.walk import children

cst = lazy_module("libcst")

# Functions that copy all of their inputs into a new array or tensor.
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


class Origin(enum.Enum):
    """Why a value is a loss tensor."""

    BACKWARD = enum.auto()  # `.backward()` is called on it in the same loop
    CRITERION = enum.auto()  # it is the output of a loss module or a functional loss


class Into(enum.Enum):
    """How a value is accumulated."""

    SUM = enum.auto()  # `total += loss`, `total = total + loss`
    LIST = enum.auto()  # `losses.append(loss)`, `losses += [loss]`


class AfterUse(enum.Enum):
    """What the code does with an accumulator besides accumulating (in the loop and after it)."""

    NONE = enum.auto()  # nothing: never read
    DETACHED = enum.auto()  # only through `float()`, `.item()`, `.detach()`, printing, logging or formatting
    GRADIENT = enum.auto()  # back-propagated, handed to a gradient call, returned or yielded
    OTHER = enum.auto()  # read some other way (arithmetic into another value, passed to a call...)


class GradMode(enum.Enum):
    """Whether autograd records operations where a statement runs."""

    ENABLED = enum.auto()  # module level, or a function every same-module caller runs with gradients
    DISABLED = enum.auto()  # under `no_grad`/`inference_mode`/`set_grad_enabled(False)`, directly or via callers
    UNKNOWN = enum.auto()  # a function no code of this module calls


@dataclass(frozen=True)
class Regrowth:
    """`acc = torch.cat([acc, piece])` in a loop: the accumulator is copied again every iteration."""

    loop: Any
    call: Any  # the concatenating call
    function: str  # its qualified name, e.g. "torch.cat"
    accumulator: str  # the name or dotted attribute regrown
    reads_in_loop: tuple  # other reads of the accumulator inside the loop (besides `is None` checks)
    small_loop: bool  # over a literal of at most 4 items, `range(<= 4)`, or a configuration's option list
    read_after: Any = None  # the first read after the loop in the same scope, if any


@dataclass(frozen=True)
class LossAccumulation:
    """A loss tensor accumulated into a value that outlives the iteration."""

    loop: Any
    statement: Any  # the small statement that accumulates
    expression: Any  # the accumulated expression (`loss`, `loss * n`, `criterion(out, y)`)
    accumulator: str
    into: Into
    origin: Origin
    origin_node: Any  # the `.backward()` call or the criterion call
    grad_mode: GradMode
    retains_graph: bool  # the `.backward()` is given `retain_graph=`/`create_graph=`
    back_propagated: Any = None  # where the accumulator itself is back-propagated or handed on
    after_use: AfterUse = AfterUse.NONE


@dataclass
class _Loop:
    node: Any
    scope: Any  # FunctionDef or Module
    body_after: tuple  # (statement lists, index) frames to find what follows the loop
    no_grad: bool


class Accumulation:
    """Fact kind: regrowing concatenations and loss accumulations of the file's loops."""

    def __init__(self, facts) -> None:
        self.facts = facts
        self.names = facts.names
        self._loops: list[_Loop] = []
        self._no_grad_functions: set[str] = set()
        self._calls: dict[str, list[bool]] | None = None  # function name -> [call site under no_grad]; lazy
        self._criteria: set[str] = set()

    @classmethod
    def build(cls, facts) -> Accumulation:
        self = cls(facts)
        self._walk(facts.module.body, facts.module, (), False)
        return self

    # --- the walk --------------------------------------------------------------------------------

    def _walk(self, body, scope, after, no_grad: bool) -> None:
        # Exact type tests: LibCST's classes are ABCs, and `isinstance` on them is slow.
        lines, calls = (cst.SimpleStatementLine, cst.SimpleStatementSuite), cst.Call
        for index, statement in enumerate(body):
            kind = type(statement)
            if kind in lines:
                for small in statement.body:
                    if type(getattr(small, "value", None)) is calls:
                        self._note_criterion(small)
                continue
            frames = after + ((body, index),)
            if kind is cst.FunctionDef:
                disabled = any(self._is_no_grad(d.decorator) for d in statement.decorators)
                if disabled or statement.name.value in _FRAMEWORK_NO_GRAD:
                    self._no_grad_functions.add(statement.name.value)
                self._walk(body_of(statement.body), statement, (), disabled)
                continue
            if kind is cst.ClassDef:
                self._walk(body_of(statement.body), scope, (), False)
                continue
            inner_no_grad = no_grad
            if kind is cst.With:
                inner_no_grad = no_grad or any(self._is_no_grad(item.item) for item in statement.items)
            elif kind is cst.For or kind is cst.While:
                self._loops.append(_Loop(statement, scope, frames, no_grad))
            for block in child_bodies(statement):
                self._walk(block, scope, frames, inner_no_grad)

    def _note_criterion(self, small) -> None:
        if isinstance(small, (cst.Assign, cst.AnnAssign)) and isinstance(small.value, cst.Call):
            qualified = self.names.qualified_name(small.value.func) or ""
            if qualified.startswith("torch.nn.") and qualified.endswith("Loss"):
                targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
                for target in targets:
                    key = dotted_name(target)
                    if key is not None:
                        self._criteria.add(key)

    def _call_sites(self) -> dict[str, list[bool]]:
        """Function or method name -> for each call of that name in the file, whether it runs under
        `no_grad` (a `with` block or a decorated function). Built on first need: it walks every node."""
        if self._calls is not None:
            return self._calls
        calls: dict[str, list[bool]] = {}
        stack = [(self.facts.module, False)]
        while stack:
            node, disabled = stack.pop()
            if isinstance(node, cst.FunctionDef):
                disabled = any(self._is_no_grad(d.decorator) for d in node.decorators)
            elif isinstance(node, cst.With) and any(self._is_no_grad(item.item) for item in node.items):
                disabled = True
            elif isinstance(node, cst.Call):
                func = node.func
                name = func.value if isinstance(func, cst.Name) else func.attr.value if isinstance(func, cst.Attribute) else None
                if name is not None:
                    calls.setdefault(name, []).append(disabled)
            stack.extend((child, disabled) for child in children(node))
        self._calls = calls
        return calls

    def _is_no_grad(self, expr) -> bool:
        call = expr if isinstance(expr, cst.Call) else None
        target = call.func if call is not None else expr
        qualified = self.names.qualified_name(target)
        if qualified in NO_GRAD_CONTEXTS:
            return True
        if qualified in ("torch.set_grad_enabled", "torch.autograd.set_grad_enabled") and call is not None:
            return bool(call.args) and isinstance(call.args[0].value, cst.Name) and call.args[0].value.value == "False"
        return False

    def _grad_mode(self, loop: _Loop) -> GradMode:
        if loop.no_grad:
            return GradMode.DISABLED
        if isinstance(loop.scope, cst.Module):
            return GradMode.ENABLED
        name = loop.scope.name.value
        if name in self._no_grad_functions:
            return GradMode.DISABLED
        sites = self._call_sites().get(name, [])
        if not sites:
            return GradMode.UNKNOWN
        return GradMode.DISABLED if any(sites) else GradMode.ENABLED

    # --- regrowing concatenations ----------------------------------------------------------------

    def regrowths(self) -> list[Regrowth]:
        found = []
        for loop in self._loops:
            for statement in _own_statements(loop.node):
                for small in small_statements(statement):
                    growth = self._regrowth(loop, small)
                    if growth is not None:
                        found.append(growth)
        return found

    def _regrowth(self, loop: _Loop, small) -> Regrowth | None:
        if not isinstance(small, cst.Assign) or len(small.targets) != 1:
            return None
        key = dotted_name(small.targets[0].target)
        if key is None:
            return None
        call, allowed = _concatenation_of(small.value, key)
        if call is None:
            return None
        qualified = self.names.qualified_name(call.func)
        if qualified not in CONCATENATIONS:
            return None
        element = _accumulator_element(call, key, qualified)
        if element is None or ("." in key and _binds(loop.node, key.split(".")[0])):
            return None  # `region.prompt = cat([e, region.prompt])` over regions: another object each time
        ignored = {id(element)} | {id(n) for n in allowed}
        reads = tuple(node for node in _reads(loop.node, key) if id(node) not in ignored and not _is_none_check(node, loop.node))
        return Regrowth(loop.node, call, qualified, key, reads, _small_loop(loop.node),
                        self._read_after(loop, key))

    def _read_after(self, loop: _Loop, key: str):
        for body, index in reversed(loop.body_after):
            for statement in body[index + 1:]:
                for node in _reads(statement, key, whole=True):
                    return node
        return None

    # --- losses kept with their graph ------------------------------------------------------------

    def loss_accumulations(self) -> list[LossAccumulation]:
        found = []
        for loop in self._loops:
            losses = None
            for statement in _own_statements(loop.node):
                for small in small_statements(statement):
                    if _accumulated(small) is None:
                        continue
                    if losses is None:  # only loops that accumulate something pay for this walk
                        losses = self._loss_names(loop.node)
                    accumulation = self._accumulation(loop, small, losses)
                    if accumulation is not None:
                        found.append(accumulation)
        return found

    def _loss_names(self, loop) -> dict[str, tuple[Origin, Any, bool]]:
        """Names that hold a loss tensor in this loop: name -> (origin, origin node, retains graph).

        Statement by statement (the loop's header and nested blocks, not nested definitions): the
        receivers of `.backward()` (`scaler.scale(loss).backward()`, `accelerator.backward(loss)`
        name their argument), and names every assignment in the loop binds to a criterion output.
        """
        backward: dict[str, tuple[Any, bool]] = {}
        assigned: dict[str, list] = {}
        statements = list(iter_statements(body_of(loop.body), into_functions=False, into_classes=False))
        for statement in [loop] + statements:
            if isinstance(statement, cst.For):
                for name in _bound_names(statement.target):
                    assigned.setdefault(name, []).append(None)
            elif isinstance(statement, cst.With):
                for item in statement.items:
                    if item.asname is not None:
                        for name in _bound_names(item.asname.name):
                            assigned.setdefault(name, []).append(None)
            for small in small_statements(statement):
                if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                    found = _backward_of(small.value)
                    if found is not None:
                        backward.setdefault(found[0], (small.value, found[1]))
                elif isinstance(small, cst.Assign):
                    for target in small.targets:
                        plain = isinstance(target.target, (cst.Name, cst.Attribute))
                        for name in _bound_names(target.target):
                            assigned.setdefault(name, []).append(small.value if plain else None)
        losses: dict[str, tuple[Origin, Any, bool]] = {}
        for name, (node, retains) in backward.items():
            if not any(value is not None and self._detached(value) for value in assigned.get(name, ())):
                losses[name] = (Origin.BACKWARD, node, retains)
        for name, values in assigned.items():
            if name in losses or not values or any(value is None for value in values):
                continue
            origins = [self._criterion_call(value, losses) for value in values]
            if all(origin is not None for origin in origins):
                losses[name] = (Origin.CRITERION, origins[0], False)
        return losses

    def _criterion_call(self, expr, losses):
        """The criterion call that makes `expr` a loss, or None."""
        if isinstance(expr, cst.Call):
            if self._is_criterion(expr.func):
                return expr
            if isinstance(expr.func, cst.Attribute) and expr.func.attr.value in GRAPH_KEEPING_METHODS:
                return self._criterion_call(expr.func.value, losses)
            return None
        if isinstance(expr, cst.BinaryOperation):
            return self._criterion_call(expr.left, losses) or self._criterion_call(expr.right, losses)
        return None

    def _is_criterion(self, func) -> bool:
        key = dotted_name(func)
        if key is None:
            return False
        if key in self._criteria:
            return True
        last = key.rsplit(".", 1)[-1]
        qualified = self.names.qualified_name(func)
        if qualified is not None and qualified.startswith("torch.nn.functional."):
            short = qualified.rsplit(".", 1)[-1]
            return short in FUNCTIONAL_LOSSES or short.endswith("_loss")
        return qualified is None and last in CRITERION_NAMES

    def _detached(self, expr) -> bool:
        if isinstance(expr, (cst.Integer, cst.Float)):
            return True
        if isinstance(expr, cst.Attribute) and expr.attr.value == "data":
            return True
        if isinstance(expr, cst.Subscript):
            return self._detached(expr.value)
        if isinstance(expr, cst.Call):
            func = expr.func
            if isinstance(func, cst.Name) and func.value in DETACHING_FUNCTIONS:
                return True
            if isinstance(func, cst.Attribute):
                if func.attr.value in DETACHING_METHODS:
                    return True
                return self._detached(func.value)
        if isinstance(expr, cst.BinaryOperation):
            return self._detached(expr.left) and self._detached(expr.right)
        return False

    def _loss_expression(self, expr, losses):
        """(origin, origin node, retains) when `expr` evaluates to a tensor attached to a loss's graph."""
        key = dotted_name(expr)
        if key is not None:
            return losses.get(key)
        if isinstance(expr, cst.Call):
            if self._is_criterion(expr.func):
                return (Origin.CRITERION, expr, False)
            if isinstance(expr.func, cst.Attribute) and expr.func.attr.value in GRAPH_KEEPING_METHODS:
                return self._loss_expression(expr.func.value, losses)
            return None
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, (cst.Add, cst.Subtract, cst.Multiply, cst.Divide)):
            left, right = self._loss_expression(expr.left, losses), self._loss_expression(expr.right, losses)
            if left is not None and not self._detached(expr.right):
                return left
            if right is not None and not self._detached(expr.left):
                return right
        return None

    def _accumulation(self, loop: _Loop, small, losses) -> LossAccumulation | None:
        found = _accumulated(small)
        if found is None:
            return None
        accumulator, expression, into = found
        loss = self._loss_expression(expression, losses)
        if loss is None or accumulator in losses:
            return None
        if not self._persists(loop.node, accumulator, small):
            return None
        origin, origin_node, retains = loss
        mode = self._grad_mode(loop)
        if self._under_no_grad(loop.node, small):
            mode = GradMode.DISABLED
        return LossAccumulation(loop.node, small, expression, accumulator, into, origin, origin_node, mode, retains,
                                self._back_propagated(loop, accumulator, small),
                                self._after_use(loop, accumulator, small))

    def _persists(self, loop, accumulator: str, statement) -> bool:
        """Is the accumulator carried over from one iteration to the next (not rebuilt in the loop)?

        Resets to a number or an empty list (`running_loss = 0.0` every k steps) keep it carried.
        """
        for node in _loop_nodes(loop):
            if node is statement:
                continue
            if isinstance(node, cst.Assign) and any(dotted_name(t.target) == accumulator for t in node.targets):
                value = node.value
                if not (isinstance(value, (cst.Integer, cst.Float)) or (isinstance(value, cst.List) and not value.elements)):
                    return False
            if isinstance(node, (cst.For, cst.With, cst.NamedExpr)) and node is not loop:
                targets = [node.target] if isinstance(node, (cst.For, cst.NamedExpr)) else \
                    [i.asname.name for i in node.items if i.asname is not None]
                if any(accumulator in _bound_names(t) for t in targets):
                    return False
        return True

    def _under_no_grad(self, loop, statement) -> bool:
        """Is `statement` inside a `with torch.no_grad():` block within the loop body?"""

        def search(body, inside: bool) -> bool | None:
            for item in body:
                if item is statement or any(s is statement for s in small_statements(item)):
                    return inside
                if isinstance(item, (cst.FunctionDef, cst.ClassDef)):
                    continue
                here = inside or (isinstance(item, cst.With) and any(self._is_no_grad(i.item) for i in item.items))
                for block in child_bodies(item):
                    found = search(block, here)
                    if found is not None:
                        return found
            return None

        return bool(search(body_of(loop.body), False))

    def _uses(self, loop: _Loop, statement) -> list:
        """The small statements of the loop (but `statement`) and of the scope after it, in order."""
        found = [node for node in _loop_nodes(loop.node) if node is not statement and _is_small(node)]
        for body, index in reversed(loop.body_after):
            for following in body[index + 1:]:
                found.extend(n for n in walk_nodes(following) if _is_small(n))
        return found

    def _after_use(self, loop: _Loop, accumulator: str, statement) -> AfterUse:
        if self._back_propagated(loop, accumulator, statement) is not None:
            return AfterUse.GRADIENT
        contexts = []
        for node in self._uses(loop, statement):
            if isinstance(node, cst.Assign) and len(node.targets) == 1 and dotted_name(node.targets[0].target) == accumulator \
                    and isinstance(node.value, (cst.Integer, cst.Float, cst.List)):
                continue  # a reset
            contexts.extend(_read_contexts(node, accumulator))
        if not contexts:
            return AfterUse.NONE
        return AfterUse.DETACHED if all(contexts) else AfterUse.OTHER

    def _back_propagated(self, loop: _Loop, accumulator: str, statement):
        """A statement in the loop or after it that back-propagates the accumulator or hands it on."""
        for node in self._uses(loop, statement):
            if not any(True for _ in _reads(node, accumulator, whole=True)):
                continue
            if (isinstance(node, cst.Return) or _yields(node)) and _attached_read(node, accumulator):
                return node  # the caller may back-propagate it
            if any(_is_gradient_call(call) for call in walk_nodes(node) if isinstance(call, cst.Call)):
                return node
        return None


# --- syntax helpers ----------------------------------------------------------------------------------


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
