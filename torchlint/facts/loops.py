"""Loop facts: what one iteration of a loop does to gradients, path by path.

For every `for`/`while` loop of a file (in functions, methods, at module level), the body is
reduced to a small tree of gradient *events* — `backward()`, optimizer updates, gradient resets,
optimizers rebuilt in the loop, optimizers handed to code we cannot see — with the `if`s,
`try`s, `continue`/`break`/`return` between them. Calls into functions and methods of the same
module are inlined (three levels), with their parameters renamed to the caller's arguments. The
tree is then expanded into the paths one iteration can take, following control flow rather than
source order. A condition is identified by its text, so two `if`s on the same condition take the
same branch on one path ("step and reset under the same condition" is one path, not four).

The same layer knows which names are optimizers (built from `torch.optim.*` or a known
library, or named like one), schedulers (their `.step()` is no update) and grad scalers
(`scaler.step(opt)` updates `opt`), and which optimizers a reset covers (`opt.zero_grad()` its
own parameters, `model.zero_grad()` those of optimizers built from `model.parameters()`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from torchlint._lazy import lazy_module
from torchlint.facts.names import dotted_name
from torchlint.facts.program import Program
from torchlint.facts.statements import body_of, child_bodies, iter_statements, small_statements
from torchlint.walk import children

cst = lazy_module("libcst")

BACKWARD = "backward"
STEP = "step"
RESET = "reset"
FRESH = "fresh"  # an optimizer or a model rebuilt inside the loop
OPAQUE = "opaque"  # an optimizer passed to code we cannot see, which may reset it

MAX_PATHS = 512  # beyond this a loop is too branchy to judge: no facts, no findings
INLINE_DEPTH = 3

# Libraries whose optimizers need `zero_grad()` like torch's.
_OPTIMIZER_PREFIXES = (
    "torch.optim.", "transformers.AdamW", "transformers.Adafactor", "transformers.optimization.",
    "bitsandbytes.optim.", "bnb.optim.", "timm.optim.", "apex.optimizers.", "deepspeed.ops.",
    "torch_optimizer.", "pytorch_optimizer.", "lion_pytorch.", "dadaptation.", "prodigyopt.",
    "schedulefree.", "torch.distributed.optim.ZeroRedundancyOptimizer",
)
_NOT_OPTIMIZER_PARTS = ("lr_scheduler", "swa_utils", "_schedule", "get_scheduler", "DistributedOptimizer", "Scheduler")
_SCALERS = frozenset({"torch.amp.GradScaler", "torch.cpu.amp.GradScaler", "torch.cuda.amp.GradScaler"})
_OPTIMIZER_NAME = re.compile(
    # `opt`, `g_optim`, `optimizer_d`, `optD` (the suffix after the word must be `_x`, digits or
    # a capital, so `options` is not), a bare class name (`adam`, `sgd2`; not `local_sgd`), or
    # anything with "optimizer" in it.
    r"^(?:\w+_)?(?i:opt|optim|optimizer|optimiser)(?:_\w+|\d+|[A-Z]\w*)?$"
    r"|^(?i:sgd|adam|adamw|rmsprop|adagrad|lbfgs)\d*$"
    r"|(?i:optimizer|optimiser)"
)
_NOT_OPTIMIZER_NAME = re.compile(r"sched|(?:^|_)lr(?:_|$)|warmup|option|state|config|cls|class|name|type|args", re.I)
# Libraries whose presence says "this file trains torch models".
_TRAINING_LIBRARIES = (
    "torch", "accelerate", "lightning", "pytorch_lightning", "transformers", "deepspeed", "timm",
    "d2l", "fastai", "apex",
)
# Frameworks whose `backward()`/`step()` are not torch's.
_OTHER_FRAMEWORKS = (
    "tensorflow", "keras", "jax", "flax", "optax", "mxnet", "chainer", "paddle", "mindspore",
    "oneflow", "tinygrad", "mlx", "cupy", "theano",
)
# Calls that take an optimizer without touching its gradients.
_HARMLESS_CALLS = frozenset({
    "unscale_", "update", "print", "len", "str", "repr", "isinstance", "getattr", "hasattr", "type",
    "id", "save", "load", "state_dict", "load_state_dict", "log", "info", "debug", "warning",
    "format", "append", "add_param_group", "clip_grad_norm_", "clip_grad_value_", "register",
    "prepare", "wrap", "setup", "setup_optimizers", "watch", "summary",
})


@dataclass(frozen=True)
class Guard:
    """One condition an event sits under: the condition's text and the branch taken."""

    key: str
    branch: bool
    node: Any = field(compare=False, hash=False)


@dataclass(frozen=True)
class Event:
    kind: str  # BACKWARD, STEP, RESET, FRESH, OPAQUE
    key: str | None  # the optimizer (STEP, OPAQUE), the reset target, the rebuilt name; None: unknown
    node: Any = field(compare=False, hash=False)
    guards: tuple[Guard, ...] = ()
    has_args: bool = False  # `opt.step(closure)`: the closure runs backward and reset itself
    # For an event inside an inlined helper: the call in the loop's own body that leads to it.
    via: Any = field(default=None, compare=False, hash=False)


@dataclass(frozen=True)
class IterationPath:
    """One way through one iteration of a loop: its events in execution order, and how it ends."""

    events: tuple[Event, ...]
    end: str  # "next" (falls through or `continue`), "break", "return", "raise"

    @property
    def continues(self) -> bool:
        """Does the loop go on to another iteration after this path?"""
        return self.end == "next"


@dataclass(frozen=True)
class Optimizer:
    key: str
    models: frozenset[str]  # receivers of `.parameters()` in its constructor; empty: unknown
    node: Any = field(compare=False, hash=False)


@dataclass
class LoopInfo:
    node: Any
    function: Any  # the enclosing FunctionDef, or None at module level
    class_: Any  # the class whose method holds the loop, or None
    outer: tuple  # enclosing loops of the same scope, outermost first
    scope_body: Any  # the statements of the function or module that holds the loop
    paths: tuple[IterationPath, ...] | None = None  # None: too many paths to judge

    def events(self, kind: str | None = None) -> Iterator[Event]:
        seen = set()
        for path in self.paths or ():
            for event in path.events:
                if (kind is None or event.kind == kind) and id(event) not in seen:
                    seen.add(id(event))
                    yield event


class LoopFacts:
    """Every loop of the file with its iteration paths, and the file's optimizers."""

    def __init__(self, facts) -> None:
        self.facts = facts
        self.names = facts.names
        self.optimizers: dict[str, Optimizer] = {}
        self.not_optimizers: set[str] = set()  # names bound to schedulers, scalers, local classes
        self.scalers: set[str] = set()
        self.instances: dict[str, Any] = {}  # name -> ClassDef of a same-module class it holds
        self.built: set[str] = set()  # names bound to the result of some call
        self.aliases: dict[str, set[str]] = {}  # name -> the names it was bound to (`a = b`)
        self.functions: dict[str, Any] = {}  # module-level functions
        self.classes: dict[str, Any] = {}
        self.loops: list[LoopInfo] = []
        # A trainer module may import nothing from torch (it receives model and optimizer), but
        # a file written for another framework is not ours to judge.
        self.imports_torch = any(self.names.imports_from(lib) for lib in _TRAINING_LIBRARIES)
        self.trains = self.imports_torch or not any(self.names.imports_from(lib) for lib in _OTHER_FRAMEWORKS)

    @classmethod
    def build(cls, facts) -> LoopFacts:
        self = cls(facts)
        module = facts.module
        for statement in iter_statements(module.body, into_functions=False, into_classes=False):
            if isinstance(statement, cst.FunctionDef):
                self.functions.setdefault(statement.name.value, statement)
            elif isinstance(statement, cst.ClassDef):
                self.classes.setdefault(statement.name.value, statement)
        self._collect_bindings(module)
        if not self.trains:
            return self
        self._collect_loops(module.body, None, None, (), module.body)
        # Innermost loops first: a finding belongs to the tightest loop that shows it.
        self.loops.sort(key=lambda loop: -len(loop.outer))
        for loop in self.loops:
            loop.paths = _Paths(self, loop).expand()
        return self

    # --- what names are ---------------------------------------------------------------------

    def _collect_bindings(self, module) -> None:
        for statement in iter_statements(module.body):
            for small in small_statements(statement):
                if isinstance(small, cst.Assign):
                    targets = [t.target for t in small.targets]
                elif isinstance(small, cst.AnnAssign) and small.value is not None:
                    targets = [small.target]
                else:
                    continue
                for target in targets:
                    key = dotted_name(target)
                    if key is not None:
                        self._bind(key, small.value)

    def _bind(self, key: str, value) -> None:
        other = dotted_name(value)
        if other is not None and other != key and "." not in key:
            self.aliases.setdefault(key, set()).add(other)  # `opt = self.optimizer`, `net = model`
            return
        if not isinstance(value, cst.Call):
            return
        self.built.add(key)
        if isinstance(value.func, cst.Name) and value.func.value in self.classes:
            if self._is_local_optimizer_class(self.classes[value.func.value]):
                self.optimizers[key] = Optimizer(key, frozenset(_parameter_owners(value)), value)
                return
            self.instances[key] = self.classes[value.func.value]
            self.not_optimizers.add(key)
            return
        kind = self.constructor_kind(value)
        if kind == "optimizer":
            models = frozenset(_parameter_owners(value))
            previous = self.optimizers.get(key)
            if previous is not None and previous.models != models:
                models = previous.models | models
            self.optimizers[key] = Optimizer(key, models, value)
        elif kind == "scaler":
            self.scalers.add(key)
            self.not_optimizers.add(key)
        elif kind == "other":
            self.not_optimizers.add(key)

    def constructor_kind(self, call) -> str | None:
        """"optimizer", "scaler", "other" (a known non-optimizer) or None (unknown) for a call."""
        func = call.func
        if isinstance(func, cst.Call) and isinstance(func.func, cst.Name) and func.func.value == "getattr":
            # getattr(torch.optim, name)(params)
            if func.args and self.names.qualified_name(func.args[0].value) == "torch.optim":
                return "optimizer"
        qualified = self.names.qualified_name(func)
        if qualified is None:
            return None
        if qualified in _SCALERS:
            return "scaler"
        if any(part in qualified for part in _NOT_OPTIMIZER_PARTS):
            return "other"
        if qualified.startswith(_OPTIMIZER_PREFIXES):
            last = qualified.rsplit(".", 1)[-1]
            if last[:1].isupper() or last.startswith("create_optimizer"):
                return "optimizer"
        if qualified.startswith(("torch.", "torch_xla.")):
            return "other"
        return None

    def is_optimizer(self, key: str | None) -> bool:
        """Built from a known optimizer class, or named like an optimizer and not bound otherwise."""
        if key is None:
            return False
        if key in self.optimizers:
            return True
        if key in self.not_optimizers or key.split(".")[0] in self.names.aliases:
            return False
        last = key.rsplit(".", 1)[-1]
        return bool(_OPTIMIZER_NAME.search(last)) and not _NOT_OPTIMIZER_NAME.search(last)

    def is_scaler(self, key: str | None) -> bool:
        if key is None:
            return False
        return key in self.scalers or ("scaler" in key.rsplit(".", 1)[-1].lower() and key not in self.optimizers)

    def _is_local_optimizer_class(self, class_node) -> bool:
        """A same-module subclass of `torch.optim.Optimizer` (or of a known optimizer)."""
        for base in class_node.bases:
            qualified = self.names.qualified_name(base.value) or ""
            if qualified.startswith(_OPTIMIZER_PREFIXES) and "lr_scheduler" not in qualified:
                return True
        return False

    def other_models(self, optimizer: str) -> set[str]:
        """Models that the file's other optimizers were built from."""
        return {m for key, known in self.optimizers.items() if key != optimizer for m in known.models}

    def models_of(self, optimizer: str) -> frozenset[str]:
        models: set[str] = set()
        for name in self.same_as(optimizer):
            known = self.optimizers.get(name)
            if known is not None:
                models |= {alias for model in known.models for alias in self.same_as(model)}
        return frozenset(models)

    def same_as(self, name: str) -> set[str]:
        """`name` and the names it may alias through plain assignments, both ways."""
        found, frontier = {name}, [name]
        while frontier and len(found) < 16:
            current = frontier.pop()
            linked = set(self.aliases.get(current, ()))
            linked |= {key for key, targets in self.aliases.items() if current in targets}
            for other in linked - found:
                found.add(other)
                frontier.append(other)
        return found

    def covers(self, reset: Event, optimizer: str, *, strict: bool, only_optimizer: bool = False) -> bool:
        """Does this reset (or rebuild, or opaque call) clear the gradients `optimizer` steps on?

        Lenient (`strict=False`, for "is it reset?"): an unknown target, or a model we cannot
        tell apart from the optimizer's, counts. Strict (for "is it wiped?"): only the optimizer
        itself, a model it was built from, or any model when it is the loop's only optimizer.
        """
        if reset.kind == OPAQUE:
            return not strict and reset.key in self.same_as(optimizer)
        if reset.kind == FRESH:
            return reset.key in self.same_as(optimizer) or reset.key in self.models_of(optimizer)
        target = reset.key
        if target is None:
            return not strict
        if target in self.same_as(optimizer):
            return True
        if target.startswith(optimizer + ".") or optimizer.startswith(target + "."):
            return True  # `opt.optimizer.zero_grad()` for a wrapper `opt`
        if self.is_optimizer(target):
            return False
        models = self.models_of(optimizer)
        if strict:
            # Wiped means all of it: `model.encoder.zero_grad()` freezes a part on purpose.
            if not models:
                return only_optimizer and "." not in _strip_self(target)
            return any(_within(model, target) for model in models)
        if not models or any(related(model, target) for model in models):
            return True
        # A function's `net` may well be the module's `model`: only a name we know to be another
        # model (one another optimizer trains, or one built in this file) is a different one.
        return not (target in self.other_models(optimizer) or target in self.built)

    # --- where the loops are ----------------------------------------------------------------

    def _collect_loops(self, body, function, class_, outer, scope_body) -> None:
        for statement in body:
            if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
                continue
            if isinstance(statement, cst.FunctionDef):
                self._collect_loops(body_of(statement.body), statement, class_, (), body_of(statement.body))
                continue
            if isinstance(statement, cst.ClassDef):
                for inner in body_of(statement.body):
                    if isinstance(inner, cst.FunctionDef):
                        self._collect_loops(body_of(inner.body), inner, statement, (), body_of(inner.body))
                    else:
                        self._collect_loops([inner], None, statement, (), body_of(statement.body))
                continue
            inner_outer = outer
            if isinstance(statement, (cst.For, cst.While)):
                self.loops.append(LoopInfo(statement, function, class_, outer, scope_body))
                inner_outer = outer + (statement,)
            for block in child_bodies(statement):
                self._collect_loops(block, function, class_, inner_outer, scope_body)

    def resets_before(self, loop: LoopInfo, optimizer: str) -> tuple[Any, bool] | None:
        """The last `.zero_grad()` covering `optimizer` that runs before `loop` in its scope.

        Returns (call node, in_outer_loop): whether that reset sits in a loop enclosing `loop`
        (once per outer iteration) or before it (once). None when there is none.
        """
        found: list = []

        def walk(body, loops) -> bool:
            for statement in body:
                if statement is loop.node:
                    return True
                if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                    continue
                for call in _calls_in_header(statement):
                    func = call.func
                    if isinstance(func, cst.Attribute) and func.attr.value == "zero_grad":
                        event = Event(RESET, dotted_name(func.value), call)
                        if event.key is not None and self.covers(event, optimizer, strict=False):
                            found.append((call, any(outer in loops for outer in loop.outer)))
                inner = loops + ((statement,) if isinstance(statement, (cst.For, cst.While)) else ())
                for block in child_bodies(statement):
                    if walk(block, inner):
                        return True
            return False

        walk(loop.scope_body, ())
        return found[-1] if found else None


def related(a: str, b: str) -> bool:
    """Could `a` and `b` name the same module (`self.model` / `model`, `model` / `model.head`)?"""
    a, b = _strip_self(a), _strip_self(b)
    if not a or not b:
        return True  # `self` itself: the module the method belongs to
    return a == b or a.startswith(b + ".") or b.startswith(a + ".") or a.split(".")[-1] == b.split(".")[-1]


def _within(model: str, target: str) -> bool:
    """Does resetting `target` reset all of `model` (the same module, or one containing it)?"""
    model, target = _strip_self(model), _strip_self(target)
    return not target or model == target or model.startswith(target + ".")


def _strip_self(name: str) -> str:
    if name == "self":
        return ""
    return name[5:] if name.startswith("self.") else name


def _parameter_owners(call) -> Iterator[str]:
    """`model` for each `model.parameters()` / `named_parameters()` inside an optimizer's arguments."""
    stack = [arg.value for arg in call.args]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            if node.func.attr.value in ("parameters", "named_parameters"):
                owner = dotted_name(node.func.value)
                if owner is not None:
                    yield owner
                continue
        if isinstance(node, cst.CSTNode):
            stack.extend(children(node))


def _calls_in_header(statement) -> Iterator:
    """Calls in a statement line, or in a compound statement's header (not its body)."""
    if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
        roots = list(statement.body)
    elif isinstance(statement, cst.If):
        roots = [statement.test]
    elif isinstance(statement, cst.With):
        roots = [item.item for item in statement.items]
    else:
        roots = []
    for root in roots:
        yield from _calls(root)


def _calls(node) -> Iterator:
    """Calls in an expression, callees' arguments before the call (execution order).

    Lambdas and nested definitions are not entered: their bodies run later, if ever.
    """
    if isinstance(node, (cst.Lambda, cst.FunctionDef, cst.ClassDef)):
        return
    for child in children(node):
        yield from _calls(child)
    if isinstance(node, cst.Call):
        yield node


# --- one iteration, as a tree and as paths ------------------------------------------------------
# Tree items: ("event", Event) | ("jump", kind) | ("branch", key, then, else) | ("choice", [items...])
# | ("loop", items) | ("inline", items) | ("finally", items)


class _TooManyPaths(Exception):
    pass


class _Context:
    """Where the builder stands: renamings of an inlined call, guards, loop variables, depth."""

    def __init__(self, class_, rename=None, guards=(), loopvars=None, depth=0, active=(), via=None, constants=None):
        self.class_ = class_
        self.rename = rename or {}
        self.guards = guards
        self.loopvars = loopvars or {}  # loop variable -> model it iterates the parameters of (or None)
        self.depth = depth
        self.active = active  # functions being inlined, against recursion
        self.via = via  # the loop body's call that the inlined code runs under
        self.constants = constants or {}  # parameters an inlined call fixes to True/False

    def but(self, **changes) -> _Context:
        values = dict(class_=self.class_, rename=self.rename, guards=self.guards,
                      loopvars=self.loopvars, depth=self.depth, active=self.active, via=self.via,
                      constants=self.constants)
        values.update(changes)
        return _Context(**values)

    def key(self, node) -> str | None:
        """The caller's name for a dotted expression; None when it is unknown here."""
        text = dotted_name(node)
        if text is None:
            return None
        root, dot, rest = text.partition(".")
        if root in self.loopvars:
            return None
        if root in self.rename:
            mapped = self.rename[root]
            return None if mapped is None else mapped + dot + rest
        return text


class _Paths:
    """Builds the event tree of one loop's body and expands it into iteration paths."""

    def __init__(self, loop_facts: LoopFacts, loop: LoopInfo) -> None:
        self.facts = loop_facts
        self.names = loop_facts.names
        self.module = loop_facts.facts.module
        self.loop = loop
        # Helpers the loop can call by name: the module's, and those nested in its function.
        self.functions = dict(loop_facts.functions)
        if loop.function is not None:
            for statement in iter_statements(body_of(loop.function.body), into_functions=False, into_classes=False):
                if isinstance(statement, cst.FunctionDef):
                    self.functions[statement.name.value] = statement

    def expand(self) -> tuple[IterationPath, ...] | None:
        if _skipped_scope(self.loop, self.names):
            return ()
        context = _Context(self.loop.class_)
        if isinstance(self.loop.node, cst.For):
            context = self._bind_loopvar(self.loop.node, context)
        items = self.block(body_of(self.loop.node.body), context)
        try:
            states = _run(items, [((), (), None)])
        except _TooManyPaths:
            return None
        return tuple(IterationPath(events, _end(jump)) for events, _, jump in states)

    # --- statements ---------------------------------------------------------------------------

    def block(self, statements, context: _Context) -> list:
        items: list = []
        for statement in statements:
            items.extend(self.statement(statement, context))
        return items

    def statement(self, statement, context: _Context) -> list:
        if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            items: list = []
            for small in statement.body:
                items.extend(self.small(small, context))
            return items
        if isinstance(statement, cst.If):
            return self.branch(statement, context)
        if isinstance(statement, (cst.For, cst.While)):
            header = self.expression(statement.iter if isinstance(statement, cst.For) else statement.test, context)
            inner = self._bind_loopvar(statement, context) if isinstance(statement, cst.For) else context
            body = self.block(body_of(statement.body), inner)
            return header + ([("loop", body)] if body else [])
        if isinstance(statement, cst.With):
            items = []
            for item in statement.items:
                if self._is_dist_autograd_context(item.item):
                    return []  # gradients live in the context: nothing accumulates in `.grad`
                items.extend(self.expression(item.item, context))
            return items + self.block(body_of(statement.body), context)
        if isinstance(statement, (cst.Try, cst.TryStar)):
            first = self.block(body_of(statement.body), context)
            if statement.orelse is not None:
                first += self.block(body_of(statement.orelse.body), context)
            alternatives = [first] + [self.block(body_of(h.body), context) for h in statement.handlers]
            items = [("choice", alternatives)] if any(alternatives) else []
            if statement.finalbody is not None:
                final = self.block(body_of(statement.finalbody.body), context)
                items += [("finally", final)] if final else []
            return items
        if isinstance(statement, cst.Match):
            alternatives = [self.block(body_of(case.body), context) for case in statement.cases] + [[]]
            return [("choice", alternatives)] if any(alternatives) else []
        return []  # definitions: their bodies run when called, not here

    def branch(self, node, context: _Context) -> list:
        items = self.expression(node.test, context)
        test, positive = _positive_test(node.test)
        key = _normalized(self.module.code_for_node(test))
        if key in context.constants:
            # `step_model(..., do_backward=False)`: the helper's `if not do_backward` is decided.
            taken = context.constants[key] == positive
            if taken:
                return items + self.block(body_of(node.body), context)
            if isinstance(node.orelse, cst.If):
                return items + self.branch(node.orelse, context)
            return items + (self.block(body_of(node.orelse.body), context) if node.orelse is not None else [])
        grad_check = _GRAD_NONE_CHECK.fullmatch(key)
        if grad_check:
            # `if p.grad is not None: p.grad.zero_()`: where the test fails there is nothing to
            # reset, so the branch that resets stands for both.
            if grad_check.group(1):
                return items + self.block(body_of(node.body), context)
            return items + (self.block(body_of(node.orelse.body), context) if isinstance(node.orelse, cst.Else) else [])
        then_context = context.but(guards=context.guards + (Guard(key, positive, test),))
        else_context = context.but(guards=context.guards + (Guard(key, not positive, test),))
        then = self.block(body_of(node.body), then_context)
        orelse: list = []
        if isinstance(node.orelse, cst.If):
            orelse = self.branch(node.orelse, else_context)
        elif isinstance(node.orelse, cst.Else):
            orelse = self.block(body_of(node.orelse.body), else_context)
        if then or orelse:
            items.append(("branch", key, then, orelse) if positive else ("branch", key, orelse, then))
        return items

    def small(self, small, context: _Context) -> list:
        if isinstance(small, cst.Continue):
            return [("jump", "continue")]
        if isinstance(small, cst.Break):
            return [("jump", "break")]
        if isinstance(small, cst.Return):
            return (self.expression(small.value, context) if small.value else []) + [("jump", "return")]
        if isinstance(small, cst.Raise):
            return [("jump", "raise")]
        if isinstance(small, cst.Expr):
            return self.expression(small.value, context)
        if isinstance(small, cst.Del):
            return [self.event(RESET, self._grad_owner(t, context), small, context)
                    for t in _del_targets(small) if _is_grad(t)]
        if isinstance(small, (cst.Assign, cst.AnnAssign, cst.AugAssign)):
            return self.assignment(small, context)
        return []

    def assignment(self, small, context: _Context) -> list:
        value = small.value
        items = self.expression(value, context) if value is not None else []
        targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
        for target in _flatten_targets(targets):
            if _is_grad(target) and not isinstance(small, cst.AugAssign):
                items.append(self.event(RESET, self._grad_owner(target, context), small, context))
                continue
            key = context.key(target)
            if key is None or isinstance(small, cst.AugAssign):
                continue
            if self.facts.is_optimizer(key) or key in self._models():
                if isinstance(value, cst.Call):  # `opt = SGD(...)`, `model = Net()` in the loop
                    items.append(self.event(FRESH, key, small, context))
        return items

    # --- expressions --------------------------------------------------------------------------

    def expression(self, node, context: _Context) -> list:
        items: list = []
        for call in _calls(node):
            items.extend(self.call(call, context))
        return items

    def call(self, call, context: _Context) -> list:
        func = call.func
        if isinstance(func, cst.Name):
            return self._call_function(call, func.value, context)
        if not isinstance(func, cst.Attribute):
            return []
        attr, receiver = func.attr.value, func.value
        if attr == "backward":
            return self._backward(call, receiver, context)
        if attr == "manual_backward":
            return [self.event(BACKWARD, None, call, context)]
        inlined = self._call_method(call, attr, receiver, context)
        if inlined is not None:
            return inlined
        if attr == "step":
            return self._step(call, receiver, context)
        if attr == "zero_grad":
            return [self.event(RESET, context.key(receiver), call, context)]
        if attr in ("zero_", "detach_") and _is_grad(_strip_data(receiver)):
            return [self.event(RESET, self._grad_owner(_strip_data(receiver), context), call, context)]
        if attr == "optimizer_step" and call.args:
            qualified = self.names.qualified_name(receiver) or ""
            if qualified.startswith("torch_xla"):
                return [self.event(STEP, context.key(call.args[0].value), call, context)]
        if _RESETISH.search(attr):
            return [self.event(RESET, None, call, context)]
        return self._opaque(call, attr, context)

    def _backward(self, call, receiver, context: _Context) -> list:
        if isinstance(receiver, cst.Call) and isinstance(receiver.func, cst.Name) and receiver.func.value == "super":
            return []
        qualified = self.names.qualified_name(receiver) if dotted_name(receiver) else None
        if qualified == "torch.distributed.autograd":
            return []  # goes to the dist_autograd context, not to `.grad`
        if not self.facts.imports_torch and any(arg.keyword is None for arg in call.args):
            return []  # `layer.backward(dout)` in a file without torch: a hand-written network
        text = dotted_name(receiver)
        if text is not None:
            owner = self._local_class_of(receiver, context)
            if owner is not None:
                # A user-defined `backward` on a same-module class: look inside instead.
                return self._inline_method(call, owner, "backward", receiver, context) or []
        return [self.event(BACKWARD, None, call, context)]

    def _step(self, call, receiver, context: _Context) -> list:
        key = context.key(receiver)
        local = dotted_name(receiver)
        if self.facts.is_optimizer(local) or self.facts.is_optimizer(key):
            return [self.event(STEP, key, call, context, has_args=bool(call.args))]
        if (self.facts.is_scaler(local) or self.facts.is_scaler(key)) and call.args:
            return [self.event(STEP, context.key(call.args[0].value), call, context)]
        return []

    def _call_function(self, call, name: str, context: _Context) -> list:
        function = self.functions.get(name)
        if function is not None and name not in self.names.aliases:
            inlined = self._inline(call, function, None, context, method=False)
            if inlined is not None:
                return inlined
            if self._may_reset(function):
                return [self.event(RESET, None, call, context)]
        if _RESETISH.search(name):
            return [self.event(RESET, None, call, context)]
        return self._opaque(call, name, context)

    def _call_method(self, call, attr: str, receiver, context: _Context) -> list | None:
        text = dotted_name(receiver)
        if text is None:
            return None
        owner = self._local_class_of(receiver, context)
        if owner is None:
            return None
        inlined = self._inline_method(call, owner, attr, receiver, context)
        if inlined is None and attr not in ("zero_grad", "step") and _GRADIENT_WORK.search(attr):
            program = self.facts.facts.get(Program)
            if program.method(owner, attr) is None and program.has_unseen_base(owner):
                # `self.optimizer_step()` from a base class we cannot read may well reset.
                return [self.event(RESET, None, call, context)]
        return inlined

    def _inline_method(self, call, class_node, attr: str, receiver, context: _Context) -> list | None:
        method = self.facts.facts.get(Program).method(class_node, attr)
        if method is None:
            return None
        inlined = self._inline(call, method, receiver, context.but(class_=class_node), method=True)
        if inlined is None and self._may_reset(method):
            return [self.event(RESET, None, call, context)]
        return inlined

    def _may_reset(self, function) -> bool:
        """For a helper too deep to follow: does its text touch gradients at all?"""
        text = self.module.code_for_node(function)
        return ".grad" in text or bool(_RESETISH.search(text))

    def _inline(self, call, function, receiver, context: _Context, *, method: bool) -> list | None:
        """The helper's body as one tree item, its parameters renamed to the caller's arguments."""
        if context.depth >= INLINE_DEPTH or function in context.active:
            return None
        rename = _rename_for_call(call, function, receiver if method else None, context)
        if rename is None:
            return None
        inner = context.but(rename=rename, loopvars={}, depth=context.depth + 1,
                            active=context.active + (function,), via=context.via or call,
                            constants=_constant_arguments(call, function, receiver if method else None))
        body = self.block(body_of(function.body), inner)
        return [("inline", body)] if body else []

    def _opaque(self, call, name: str, context: _Context) -> list:
        if name in _HARMLESS_CALLS or self.facts.constructor_kind(call) == "other":
            return []
        items = []
        for arg in call.args:
            key = context.key(arg.value) if dotted_name(arg.value) else None
            if key is not None and self.facts.is_optimizer(key):
                items.append(self.event(OPAQUE, key, call, context))
        return items

    # --- helpers ------------------------------------------------------------------------------

    def event(self, kind: str, key, node, context: _Context, *, has_args: bool = False) -> tuple:
        return ("event", Event(kind, key, node, context.guards, has_args, context.via))

    def _bind_loopvar(self, node, context: _Context) -> _Context:
        """`for p in model.parameters()`: resets through `p.grad` reset `model`'s gradients."""
        owner = None
        it = node.iter
        if isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute) and it.func.attr.value in (
            "parameters", "named_parameters"
        ):
            owner = context.key(it.func.value)
        loopvars = dict(context.loopvars)
        targets = _flatten_targets([node.target])
        for target in targets:
            if isinstance(target, cst.Name):
                loopvars[target.value] = owner
        return context.but(loopvars=loopvars)

    def _grad_owner(self, grad_node, context: _Context) -> str | None:
        """The model whose gradient `x.grad` is: the model `x` iterates the parameters of."""
        holder = dotted_name(grad_node.value)
        if holder is None:
            return None
        root = holder.split(".")[0]
        return context.loopvars.get(root)

    def _local_class_of(self, receiver, context: _Context):
        """The same-module class whose instance `receiver` is, if we know it."""
        text = dotted_name(receiver)
        if text == "self":
            return context.class_
        key = context.key(receiver)
        return self.facts.instances.get(text) or (self.facts.instances.get(key) if key else None)

    def _models(self) -> set[str]:
        return {model for optimizer in self.facts.optimizers.values() for model in optimizer.models}

    def _is_dist_autograd_context(self, expr) -> bool:
        if isinstance(expr, cst.Call):
            qualified = self.names.qualified_name(expr.func) or ""
            return qualified.startswith("torch.distributed.autograd")
        return False


def _run(items: list, states: list) -> list:
    """Expand tree items over states (events, decisions, jump); a jump ends a state's walk."""
    for item in items:
        if item[0] == "finally":  # runs on every way out, then the way out goes on
            states = [(e, d, j if jump is None else jump)
                      for events, decisions, jump in states
                      for e, d, j in _run(item[1], [(events, decisions, None)])]
            continue
        active = [s for s in states if s[2] is None]
        if not active:
            continue  # a later `finally` still runs
        states = [s for s in states if s[2] is not None] + _apply(item, active)
        if len(states) > MAX_PATHS:
            raise _TooManyPaths
    return states


def _apply(item, states: list) -> list:
    kind = item[0]
    if kind == "event":
        return [(events + (item[1],), decisions, None) for events, decisions, _ in states]
    if kind == "jump":
        return [(events, decisions, item[1]) for events, decisions, _ in states]
    if kind == "branch":
        _, key, then, orelse = item
        out: list = []
        for state in states:
            decided = dict(state[1]).get(key)
            if decided is not False:
                out += _run(then, [(state[0], _decide(state[1], key, True), None)])
            if decided is not True:
                out += _run(orelse, [(state[0], _decide(state[1], key, False), None)])
        return out
    if kind == "choice":
        out = []
        for alternative in item[1]:
            out += _run(alternative, list(states))
        return out
    if kind == "loop":
        ran = _run(item[1], list(states))
        return [(e, d, None if j in ("break", "continue") else j) for e, d, j in ran]
    if kind == "inline":
        ran = _run(item[1], list(states))
        return [(e, d, None if j == "return" else j) for e, d, j in ran]
    raise ValueError(kind)


def _decide(decisions: tuple, key: str, value: bool) -> tuple:
    if any(k == key for k, _ in decisions):
        return decisions
    return decisions + ((key, value),)


def _end(jump: str | None) -> str:
    return "next" if jump in (None, "continue") else jump


_GRADIENT_WORK = re.compile(r"zero|reset|clear|optim|step|update|grad", re.I)
_RESETISH = re.compile(r"(?:zero|reset|clear)_?grad", re.I)
_GRAD_NONE_CHECK = re.compile(r"[\w.]+\.grad(isnot|is)None")


def _positive_test(test):
    """(condition, polarity): `not x` is `x` taken the other way, so both spell one condition."""
    positive = True
    while isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        test, positive = test.expression, not positive
    return test, positive


def _normalized(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _rename_for_call(call, function, receiver, context: _Context) -> dict[str, str | None] | None:
    """Each parameter of `function` -> the caller's name for its argument (None: not a name).

    With a `receiver` (a method call), the first parameter stands for it. None when the call
    passes `*args`/`**kwargs`, which cannot be matched to parameters.
    """
    params = function.params
    positional = [p.name.value for p in (*params.posonly_params, *params.params)]
    rename: dict[str, str | None] = {}
    if receiver is not None and not _is_static(function):
        if not positional:
            return None
        rename[positional[0]] = context.key(receiver)
        positional = positional[1:]
    for index, arg in enumerate(call.args):
        if arg.star:
            return None
        if arg.keyword is not None:
            name = arg.keyword.value
        else:
            name = positional[index] if index < len(positional) else None
        if name is not None:
            rename[name] = context.key(arg.value) if dotted_name(arg.value) else None
    for name in positional + [p.name.value for p in params.kwonly_params]:
        rename.setdefault(name, None)  # defaults: objects we know nothing about
    return rename


def _constant_arguments(call, function, receiver) -> dict[str, bool]:
    """Parameters that this call (or their defaults) fixes to `True`, `False` or `None`."""
    truth = {"True": True, "False": False, "None": False}
    params = function.params
    ordered = [*params.posonly_params, *params.params]
    if receiver is not None and not _is_static(function):
        ordered = ordered[1:]
    constants = {}
    for param in [*ordered, *params.kwonly_params]:
        if param.default is not None and isinstance(param.default, cst.Name) and param.default.value in truth:
            constants[param.name.value] = truth[param.default.value]
    for index, arg in enumerate(call.args):
        name = arg.keyword.value if arg.keyword is not None else (
            ordered[index].name.value if index < len(ordered) else None)
        if name is None:
            continue
        if isinstance(arg.value, cst.Name) and arg.value.value in truth:
            constants[name] = truth[arg.value.value]
        else:
            constants.pop(name, None)
    return constants


def _is_static(function) -> bool:
    return any(getattr(d.decorator, "value", None) == "staticmethod" for d in function.decorators)


def _is_grad(node) -> bool:
    return isinstance(node, cst.Attribute) and node.attr.value == "grad"


def _strip_data(node):
    """`p.grad.data` -> `p.grad`."""
    if isinstance(node, cst.Attribute) and node.attr.value == "data":
        return node.value
    return node


def _del_targets(small) -> list:
    target = small.target
    if isinstance(target, (cst.Tuple, cst.List)):
        return [element.value for element in target.elements]
    return [target]


def _flatten_targets(targets) -> list:
    out = []
    stack = list(targets)
    while stack:
        target = stack.pop()
        if isinstance(target, (cst.Tuple, cst.List)):
            stack.extend(element.value for element in target.elements)
        else:
            out.append(target)
    return out


def _skipped_scope(loop: LoopInfo, names) -> bool:
    """Lightning's automatic optimization: the trainer resets and steps, not this code."""
    function, class_ = loop.function, loop.class_
    if function is None or class_ is None or function.name.value != "training_step":
        return False
    bases = [names.qualified_name(base.value) or dotted_name(base.value) or "" for base in class_.bases]
    if not any("lightning" in base.lower() or base.endswith("LightningModule") for base in bases):
        return False
    for statement in iter_statements(body_of(class_.body)):
        for small in small_statements(statement):
            if isinstance(small, cst.Assign) and isinstance(small.value, cst.Name) and small.value.value == "False":
                if any((dotted_name(t.target) or "").endswith("automatic_optimization") for t in small.targets):
                    return False
    return True
