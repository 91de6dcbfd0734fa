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
from dataclasses import dataclass
from typing import Any

from torchlint._lazy import lazy_module
from torchlint.facts.accumulation_syntax import (
    _FRAMEWORK_NO_GRAD,
    CONCATENATIONS,
    CRITERION_NAMES,
    DETACHING_FUNCTIONS,
    DETACHING_METHODS,
    FUNCTIONAL_LOSSES,
    GRAPH_KEEPING_METHODS,
    NO_GRAD_CONTEXTS,
    Into,
    _accumulated,
    _accumulator_element,
    _attached_read,
    _backward_of,
    _binds,
    _bound_names,
    _concatenation_of,
    _is_gradient_call,
    _is_none_check,
    _is_small,
    _loop_nodes,
    _own_statements,
    _read_contexts,
    _reads,
    _small_loop,
    _yields,
)
from torchlint.facts.names import dotted_name
from torchlint.facts.statements import body_of, child_bodies, iter_statements, small_statements, walk_nodes
from torchlint.walk import children

cst = lazy_module("libcst")

# Functions that copy all of their inputs into a new array or tensor.
class Origin(enum.Enum):
    """Why a value is a loss tensor."""

    BACKWARD = enum.auto()  # `.backward()` is called on it in the same loop
    CRITERION = enum.auto()  # it is the output of a loss module or a functional loss


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
