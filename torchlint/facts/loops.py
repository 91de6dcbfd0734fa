"""Loop facts: what one iteration of a loop does to gradients, path by path.

For every `for`/`while` loop of a file (in functions, methods, at module level), the body is
reduced to a small tree of gradient *events* — `backward()`, optimizer updates, gradient resets,
optimizers rebuilt in the loop, optimizers handed to code we cannot see — with the `if`s,
`try`s, `continue`/`break`/`return` between them. Calls into functions and methods of the same
module are inlined (three levels), with their parameters renamed to the caller's arguments. The
tree is then expanded into the paths one iteration can take, following control flow rather than
source order. A condition is identified by its text, so two `if`s on the same condition take the
same branch on one path ("step and reset under the same condition" is one path, not four).

Which same-module class a receiver is an instance of, and which names alias which
(`opt = self.optimizer`), come from the program model's scoped bindings (`Summaries.class_of`,
`Dataflow`), not from names compared as text across the file.

The same layer knows what a name holds where it is read (`held(key, at)`): an optimizer (built
from `torch.optim.*` or a known library, or annotated as one), a grad scaler (`scaler.step(opt)`
updates `opt`), something else we know (a scheduler: its `.step()` is no update), or nothing we
can read, when a name like `optimizer` still counts. The answer comes from the bindings of the
program model that reach the read (`Dataflow`'s reaching definitions; `self.<attr>`: the stores of
the reading method's class and its same-module bases, `Program.self_stores`), so the same name in
two functions, or before and after a rebinding, is two bindings. It also knows which optimizers a reset covers (`opt.zero_grad()` its own parameters,
`model.zero_grad()` those of optimizers built from `model.parameters()`).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Iterator

from torchlint._lazy import lazy_module
from torchlint.facts.dataflow import BindingKind, Dataflow
from torchlint.facts.names import dotted_name, related, strip_self, within
from torchlint.facts.program import Program
from torchlint.facts.statements import body_of, child_bodies, header_calls, walk_nodes
from torchlint.walk import children

cst = lazy_module("libcst")

class EventKind(str, enum.Enum):
    """What a gradient event is (a `str` enum: it equals its old spelling, `"step"`)."""

    BACKWARD = "backward"
    STEP = "step"  # an optimizer update (directly, or `scaler.step(opt)`)
    RESET = "reset"  # gradients cleared: `zero_grad()`, `p.grad = None`, ...
    FRESH = "fresh"  # an optimizer or a model rebuilt inside the loop
    OPAQUE = "opaque"  # an optimizer passed to code we cannot see, which may reset it


BACKWARD, STEP, RESET, FRESH, OPAQUE = EventKind


class PathEnd(str, enum.Enum):
    """How one iteration path ends."""

    NEXT = "next"  # falls through or `continue`: the loop goes on
    BREAK = "break"
    RETURN = "return"
    RAISE = "raise"


class Constructed(str, enum.Enum):
    """What a constructor call builds, for the training domain."""

    OPTIMIZER = "optimizer"
    SCALER = "scaler"
    OTHER = "other"  # a known non-optimizer (a scheduler, a torch object)

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
    """One gradient event; `key` names its object in the terms of the loop's own code, read at `at`."""

    kind: EventKind
    key: str | None  # the optimizer (STEP, OPAQUE), the reset target, the rebuilt name; None: unknown
    node: Any = field(compare=False, hash=False)
    guards: tuple[Guard, ...] = ()
    has_args: bool = False  # `opt.step(closure)`: the closure runs backward and reset itself
    # For an event inside an inlined helper: the call in the loop's own body that leads to it.
    via: Any = field(default=None, compare=False, hash=False)

    @property
    def at(self):
        """Where the loop's code reads `key`: the call leading into the helper, or the event itself."""
        return self.node if self.via is None else self.via


@dataclass(frozen=True)
class IterationPath:
    """One way through one iteration of a loop: its events in execution order, and how it ends."""

    events: tuple[Event, ...]
    end: PathEnd

    @property
    def continues(self) -> bool:
        """Does the loop go on to another iteration after this path?"""
        return self.end is PathEnd.NEXT


class Holds(enum.Enum):
    """What a name holds for the training domain, by its bindings where it is read."""

    OPTIMIZER = enum.auto()
    SCALER = enum.auto()
    OTHER = enum.auto()  # a known non-optimizer: a scheduler, a torch object, a same-module class's instance
    UNKNOWN = enum.auto()  # bound to nothing we can read (a parameter, a call we cannot see), or not bound


@dataclass(frozen=True)
class Held:
    """What a name holds where it is read, and what we know of it."""

    holds: Holds
    models: frozenset[str] = frozenset()  # OPTIMIZER: receivers of `.parameters()` in its constructors
    built: bool = False  # some binding is a call's result (an object built here)


_UNKNOWN = Held(Holds.UNKNOWN)


@dataclass
class LoopInfo:
    node: Any
    function: Any  # the enclosing FunctionDef, or None at module level
    class_: Any  # the class whose method holds the loop, or None
    outer: tuple  # enclosing loops of the same scope, outermost first
    scope_body: Any  # the statements of the function or module that holds the loop
    expand: Any = field(default=None, repr=False, compare=False)  # () -> the paths, on first use

    @property
    def paths(self) -> tuple[IterationPath, ...] | None:
        """The loop's iteration paths (None: too many to judge), expanded on first use: a file's
        loops are listed for every training question, but only some questions follow their paths."""
        state = self.__dict__
        if "_paths" not in state:
            state["_paths"] = self.expand() if self.expand is not None else None
            self.expand = None
        return state["_paths"]

    def events(self, kind: EventKind | None = None) -> Iterator[Event]:
        seen = set()
        for path in self.paths or ():
            for event in path.events:
                if (kind is None or event.kind == kind) and id(event) not in seen:
                    seen.add(id(event))
                    yield event


class LoopFacts:
    """Every loop of the file with its iteration paths, and what the names of its loops hold."""

    def __init__(self, facts) -> None:
        self.facts = facts
        self.names = facts.names
        self._held: dict[tuple, Held] = {}  # (id(binding scope), key, bindings) -> what they hold
        self._reads: dict[tuple, frozenset | None] = {}  # (id(at), name) -> bindings reaching its reads there
        self._visible: dict[int, dict[str, Held]] = {}  # id(Flow) -> optimizers readable there
        self._links: dict[int, dict[str, set[str]]] = {}  # id(Flow) -> `a = b` links, both ways
        self.loops: list[LoopInfo] = []
        # A trainer module may import nothing from torch (it receives model and optimizer), but
        # a file written for another framework is not ours to judge.
        self.imports_torch = any(self.names.imports_from(lib) for lib in _TRAINING_LIBRARIES)
        self.trains = self.imports_torch or not any(self.names.imports_from(lib) for lib in _OTHER_FRAMEWORKS)

    @classmethod
    def build(cls, facts) -> LoopFacts:
        self = cls(facts)
        if not self.trains:
            return self
        module = facts.module
        self._collect_loops(module.body, None, None, (), module.body)
        # Innermost loops first: a finding belongs to the tightest loop that shows it.
        self.loops.sort(key=lambda loop: -len(loop.outer))
        for loop in self.loops:
            loop.expand = partial(_expand, self, loop)
        return self

    @property
    def dataflow(self) -> Dataflow:
        return self.facts.get(Dataflow)

    # --- what names hold --------------------------------------------------------------------

    def held(self, key: str, at) -> Held:
        """What the dotted name `key` holds as read at the node `at` (a def or the module: in
        its body), from its bindings there: a plain name's bindings that reach its reads in
        `at` (all its bindings in the innermost scope that binds it, when `at` does not read it
        there: a def, an assignment to it, a read from a nested def); `self.<attr>` the values
        the class of the method around `at` (and its same-module bases) assigns; `a.<attr>` the
        `a.<attr> = ...` of the scope binding `a`."""
        at = self.facts.module if at is None else at
        scope, flow = self._binder(key, at)
        if scope is None:
            return _UNKNOWN  # a builtin, a global of another module, `self` outside a class
        bindings = None
        if flow is not None:
            point = (id(at), key)
            if point not in self._reads:
                self._reads[point] = _reaching(key, at, flow)
            bindings = self._reads[point]
            if bindings is None:
                bindings = frozenset(flow.bindings_of(key))
        cache = (id(scope), key, bindings)
        found = self._held.get(cache)
        if found is None:
            found = self._held[cache] = self._judge(self._values(key, scope, bindings))
        return found

    def _binder(self, key: str, at) -> tuple:
        """The scope whose bindings say what `key` holds at `at` (the class for `self.<attr>`) and,
        for a plain name, its flow; (None, None) when nothing there binds it."""
        root, dot, rest = key.partition(".")
        if root == "self":
            cls = at if isinstance(at, cst.ClassDef) else self.dataflow.enclosing_class(at)
            return (None, None) if cls is None or "." in rest else (cls, None)
        flow = self.dataflow.flow_of(at)
        binder = flow if flow.bindings_of(root) else self.dataflow.enclosing_binder(flow, root)
        if not dot:
            return (None, None) if binder is None else (binder.scope, binder)
        return (binder or flow).scope, None

    def _values(self, key: str, scope, bindings) -> list:
        """(value, annotation) for each of `bindings` (a plain name's) or each binding of `key`
        in `scope`."""
        if bindings is not None:
            return [(b.value, b.annotation) for b in sorted(bindings, key=lambda b: b.order)
                    if b.kind is BindingKind.ASSIGN or b.kind is BindingKind.PARAM]
        if key.startswith("self."):
            program = self.facts.get(Program)
            attr = key[len("self."):]
            return [(v, None) for cls in program.lineage(scope) for v in program.self_attributes(cls).get(attr, ())]
        return [(store.value, None) for store in self.facts.get(Program).object_stores(scope).by_name.get(key, ())]

    def _judge(self, values: list) -> Held:
        """What (value, annotation) bindings hold together: an optimizer if any builds one (its
        models summed), else a scaler if any builds one, else something else we know if any
        does; unknown otherwise. `opt = self.optimizer` is an alias (`same_as`), not a value."""
        kinds, models, built = set(), set(), False
        for value, annotation in values:
            if isinstance(value, cst.Call):
                built = True
                kind, owners = self._constructed(value)
            elif value is None and annotation is not None:
                kind, owners = self._annotated(annotation.annotation), frozenset()
            else:
                continue
            kinds.add(kind)
            models |= owners
        for holds in (Holds.OPTIMIZER, Holds.SCALER, Holds.OTHER):
            if holds in kinds:
                return Held(holds, frozenset(models) if holds is Holds.OPTIMIZER else frozenset(), built)
        return Held(Holds.UNKNOWN, frozenset(), built)

    def _constructed(self, value) -> tuple[Holds, frozenset]:
        local = self.facts.get(Program).local_class(value.func)
        if local is not None:
            if self.is_local_optimizer_class(local):
                return Holds.OPTIMIZER, frozenset(_parameter_owners(value))
            return Holds.OTHER, frozenset()  # an instance of a same-module class
        kind = self.constructor_kind(value)
        if kind is Constructed.OPTIMIZER:
            return Holds.OPTIMIZER, frozenset(_parameter_owners(value))
        if kind is Constructed.SCALER:
            return Holds.SCALER, frozenset()
        return (Holds.OTHER if kind is Constructed.OTHER else Holds.UNKNOWN), frozenset()

    def _annotated(self, annotation) -> Holds:
        """An annotation is evidence of what a name holds (`opt: Optimizer`, `scaler: GradScaler`)."""
        if not isinstance(annotation, (cst.Name, cst.Attribute)):
            return Holds.UNKNOWN
        qualified = self.names.qualified_name(annotation)
        if qualified is None:
            return Holds.UNKNOWN
        if qualified in _SCALERS:
            return Holds.SCALER
        if any(part in qualified for part in _NOT_OPTIMIZER_PARTS):
            return Holds.OTHER
        if qualified.startswith(_OPTIMIZER_PREFIXES) and qualified.rsplit(".", 1)[-1][:1].isupper():
            return Holds.OPTIMIZER  # built elsewhere: models unknown
        return Holds.UNKNOWN

    def constructor_kind(self, call) -> Constructed | None:
        """What a call builds: an optimizer, a scaler, another known object; None: unknown."""
        func = call.func
        if isinstance(func, cst.Call) and isinstance(func.func, cst.Name) and func.func.value == "getattr":
            # getattr(torch.optim, name)(params)
            if func.args and self.names.qualified_name(func.args[0].value) == "torch.optim":
                return Constructed.OPTIMIZER
        qualified = self.names.qualified_name(func)
        if qualified is None:
            return None
        if qualified in _SCALERS:
            return Constructed.SCALER
        if any(part in qualified for part in _NOT_OPTIMIZER_PARTS):
            return Constructed.OTHER
        if qualified.startswith(_OPTIMIZER_PREFIXES):
            last = qualified.rsplit(".", 1)[-1]
            if last[:1].isupper() or last.startswith("create_optimizer"):
                return Constructed.OPTIMIZER
        if qualified.startswith(("torch.", "torch_xla.")):
            return Constructed.OTHER
        return None

    def is_optimizer(self, key: str | None, at) -> bool:
        """Built from a known optimizer class where `at` reads it, or named like an optimizer
        and not bound to anything else there."""
        if key is None:
            return False
        holds = self.held(key, at).holds
        if holds is Holds.OPTIMIZER:
            return True
        if holds is not Holds.UNKNOWN or key.split(".")[0] in self.names.aliases:
            return False
        last = key.rsplit(".", 1)[-1]
        return bool(_OPTIMIZER_NAME.search(last)) and not _NOT_OPTIMIZER_NAME.search(last)

    def is_scaler(self, key: str | None, at) -> bool:
        if key is None:
            return False
        holds = self.held(key, at).holds
        return holds is Holds.SCALER or ("scaler" in key.rsplit(".", 1)[-1].lower() and holds is not Holds.OPTIMIZER)

    def is_local_optimizer_class(self, class_node) -> bool:
        """A same-module subclass of `torch.optim.Optimizer` (or of a known optimizer)."""
        for base in class_node.bases:
            qualified = self.names.qualified_name(base.value) or ""
            if qualified.startswith(_OPTIMIZER_PREFIXES) and "lr_scheduler" not in qualified:
                return True
        return False

    def optimizers_at(self, at) -> dict[str, Held]:
        """The optimizers that code at `at` can read by name: the names bound in its scope and the
        scopes around it, and `self.<attr>` of the class around it, that hold one."""
        at = self.facts.module if at is None else at
        flow = self.dataflow.flow_of(at)
        found = self._visible.get(id(flow))
        if found is None:
            found = self._visible[id(flow)] = {}
            keys: set[str] = set()
            program = self.facts.get(Program)
            scope = flow
            while scope is not None:
                keys |= {b.name for b in scope.bindings if b.kind is BindingKind.ASSIGN or b.kind is BindingKind.PARAM}
                keys |= set(program.object_stores(scope.scope).by_name)
                scope = self.dataflow.enclosing_flow(scope)
            cls = self.dataflow.enclosing_class(at)
            if cls is not None:
                keys |= {"self." + attr for c in program.lineage(cls) for attr in program.self_attributes(c)}
            for key in sorted(keys):  # readable anywhere in the scope: all of each name's bindings
                held = self.held(key, flow.scope)
                if held.holds is Holds.OPTIMIZER:
                    found[key] = held
        return found

    def models_at(self, at) -> set[str]:
        """The models that the optimizers readable at `at` were built from."""
        return {model for held in self.optimizers_at(at).values() for model in held.models}

    def other_models(self, optimizer: str, at) -> set[str]:
        """Models that the other optimizers readable at `at` were built from."""
        return {m for key, held in self.optimizers_at(at).items() if key != optimizer for m in held.models}

    def models_of(self, optimizer: str, at=None) -> frozenset[str]:
        """The models `optimizer` (or an alias of it, as read at `at`) was built from, and their aliases."""
        models: set[str] = set()
        for name in self.same_as(optimizer, at):
            models |= {alias for model in self.held(name, at).models for alias in self.same_as(model, at)}
        return frozenset(models)

    def same_as(self, name: str, at=None) -> set[str]:
        """`name` and the names it may alias through plain assignments (`opt = self.optimizer`,
        `net = model`), both ways: the bindings of the program model in the scope of the node
        `at` and the scopes whose names it reads (the module's, without `at`)."""
        links = self._alias_links(at)
        found, frontier = {name}, [name]
        while frontier and len(found) < 16:
            current = frontier.pop()
            for other in links.get(current, set()) - found:
                found.add(other)
                frontier.append(other)
        return found

    def _alias_links(self, at) -> dict[str, set[str]]:
        dataflow = self.facts.get(Dataflow)
        flow = dataflow.flow_of(self.facts.module if at is None else at)
        links = self._links.get(id(flow))
        if links is None:
            links = self._links[id(flow)] = {}
            scope = flow
            while scope is not None:
                for binding in scope.bindings:
                    other = dotted_name(binding.value) if binding.kind is BindingKind.ASSIGN else None
                    if other is not None and other != binding.name:
                        links.setdefault(binding.name, set()).add(other)
                        links.setdefault(other, set()).add(binding.name)
                scope = dataflow.enclosing_flow(scope)
        return links

    def covers(self, reset: Event, optimizer: str, *, strict: bool, only_optimizer: bool = False) -> bool:
        """Does this reset (or rebuild, or opaque call) clear the gradients `optimizer` steps on?

        Lenient (`strict=False`, for "is it reset?"): an unknown target, or a model we cannot
        tell apart from the optimizer's, counts. Strict (for "is it wiped?"): only the optimizer
        itself, a model it was built from, or any model when it is the loop's only optimizer.
        """
        at = reset.at
        same = self.same_as(optimizer, at)
        if reset.kind == OPAQUE:
            return not strict and reset.key in same
        if reset.kind == FRESH:
            return reset.key in same or reset.key in self.models_of(optimizer, at)
        target = reset.key
        if target is None:
            return not strict
        if target in same:
            return True
        if target.startswith(optimizer + ".") or optimizer.startswith(target + "."):
            return True  # `opt.optimizer.zero_grad()` for a wrapper `opt`
        if self.is_optimizer(target, at):
            return False
        models = self.models_of(optimizer, at)
        if strict:
            # Wiped means all of it: `model.encoder.zero_grad()` freezes a part on purpose.
            if not models:
                return only_optimizer and "." not in strip_self(target)
            return any(within(model, target) for model in models)
        if not models or any(related(model, target) for model in models):
            return True
        # A function's `net` may well be the module's `model`: only a name we know to be another
        # model (one another optimizer trains, or one built in this file) is a different one.
        return not (target in self.other_models(optimizer, at) or self.held(target, at).built)

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
                for call in header_calls(statement):
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








def _expand(loop_facts: LoopFacts, loop: LoopInfo) -> tuple[IterationPath, ...] | None:
    from torchlint.facts.iteration import Paths

    return Paths(loop_facts, loop).expand()


def _reaching(name: str, at, flow) -> frozenset | None:
    """The bindings of `name` that reach its reads in `at` (a call, a statement line), when
    `at` reads it in `flow` itself; None when it does not (reads in nested defs are not
    `flow`'s) or `at` is a scope or a compound statement, not a point."""
    if isinstance(at, (cst.Module, cst.BaseCompoundStatement)):
        return None
    reads = [node for node in walk_nodes(at)
             if type(node) is cst.Name and node.value == name and flow.is_local_load(node)]
    return frozenset().union(*(flow.bindings_at(node) for node in reads)) if reads else None


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
