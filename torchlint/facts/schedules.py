"""Schedule facts: the order of learning-rate scheduler and optimizer steps in a loop iteration, and
distributed samplers whose epoch is never set.

Two questions, answered per loop of the file (`LoopFacts.loops`, innermost first):

- `early_scheduler_steps`: a scheduler's `step()` that runs, in one iteration, before any optimizer
  update of that iteration while an update follows later in it (`sched.step(); ...; opt.step()`,
  or `sched.step()` ahead of the inner batch loop). The body is read in execution order: inner
  loops are taken to run, both branches of an `if` are possible (events on exclusive branches do
  not follow each other), and calls into same-module functions and `self` methods are followed
  three levels deep. An update before the scheduler step in the iteration (even on one branch
  only, but not on the other branch of the same `if`, and not of another optimizer than the one
  the scheduler was built on) keeps it silent.
- `unset_sampler_epochs`: a `DataLoader` built with a shuffling `DistributedSampler`, iterated by
  a `for` inside an epoch loop whose iteration never calls `set_epoch` (on anything, directly or
  through a same-module helper): every epoch draws the same permutation. Which sampler a loader
  draws from is `schedule_loaders`' question.

What a name holds is read from its bindings in the program model (`values`: a plain name's in
the nearest scope that binds it, `self.<attr>` the stores of its class and relatives, `a.<attr>`
the stores of the scope): schedulers are built by
`torch.optim.lr_scheduler.*` (not `ReduceLROnPlateau`, whose `step(metric)` follows a metric, not
a schedule), the `transformers`/`diffusers` schedule factories, or named like one (`scheduler`,
`lr_sched`); optimizers and grad scalers as `LoopFacts` knows them. A `step(...)` given arguments
(an explicit epoch, a metric) is not a plain schedule step.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from torchlint._lazy import lazy_module
from torchlint.facts.dataflow import BindingKind, Dataflow, Scope
from torchlint.facts.loops import LoopFacts
from torchlint.facts.program import Program, StoreKind
from torchlint.facts.schedule_loaders import LoaderSources, Unpacked
from torchlint.facts.names import dotted_name, related
from torchlint.facts.statements import body_of, calls_in, header_expressions, iter_statements, small_statements
from torchlint.facts.summaries import Summaries

cst = lazy_module("libcst")

INLINE_DEPTH = 3
_SCHEDULER_FACTORIES = (
    "transformers.get_", "transformers.optimization.get_", "diffusers.optimization.get_",
    "torch.optim.lr_scheduler.",
)
_NOT_SCHEDULES = ("ReduceLROnPlateau",)
_SCHEDULER_NAME = re.compile(r"(?:^|_)(?:lr_?)?sched(?:uler)?s?(?:_|\d|$)|^(?:lr|warmup)_?sched", re.I)
_SCHEDULER_CLASS = re.compile(r"(?:LR|Scheduler|Schedule|_schedule\w*|_scheduler)$")
_SAMPLERS = ("torch.utils.data.distributed.DistributedSampler", "torch.utils.data.DistributedSampler")
# `log_every`: the `MetricLogger.log_every(loader, freq, header)` of DeiT/DETR/DINO/MAE yields the loader's batches.
_WRAPPERS = ("enumerate", "tqdm", "iter", "progress_bar", "track", "log_every")
_READS_ONLY = frozenset({"len", "print", "zip", "next", "list", *_WRAPPERS})
_LOADERS = ("torch.utils.data.DataLoader", "torch.utils.data.dataloader.DataLoader")


class StepKind(enum.Enum):
    SCHEDULER = "scheduler"
    OPTIMIZER = "optimizer"  # `opt.step()`, `scaler.step(opt)`, `xm.optimizer_step(opt)`


class Evidence(enum.Enum):
    """How we know a name holds a learning-rate scheduler."""

    CONSTRUCTOR = "constructor"  # built by a known scheduler class or factory in this file
    NAME = "name"  # named like one, and never bound to anything else


class Shuffle(enum.Enum):
    ON = "on"  # no `shuffle=` or `shuffle=True`
    OFF = "off"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class StepEvent:
    kind: StepKind
    key: str | None  # the scheduler or optimizer stepped (None: unknown)
    node: Any = field(compare=False, hash=False)  # the `step(...)` call
    branches: tuple[tuple[int, bool], ...] = ()  # (id of an `if`, branch taken) it sits under
    via: Any = field(default=None, compare=False, hash=False)  # the loop body's call into a helper
    scope: Any = field(default=None, compare=False, hash=False)  # the function the call is in


@dataclass(frozen=True)
class EarlyStep:
    """A scheduler step that runs before the optimizer update of the same iteration."""

    loop: Any
    scheduler: StepEvent
    update: StepEvent  # the first update that follows it in the iteration
    evidence: Evidence
    built: Any = None  # the scheduler's construction, when it is in this file
    optimizer: str | None = None  # the optimizer it was built on, when known


@dataclass(frozen=True)
class Sampler:
    key: str
    node: Any  # the `DistributedSampler(...)` call
    shuffle: Shuffle


@dataclass(frozen=True)
class UnsetEpoch:
    """A shuffling DistributedSampler iterated (through its DataLoader) every epoch without set_epoch."""

    epoch_loop: Any
    iteration: Any  # the inner `for` statement that iterates the loader
    loader: Any  # the loader expression in that `for`'s iterable
    sampler: Sampler
    via: Any = None  # the epoch loop's call into the helper holding the inner `for`


class Schedules:
    """The file's schedulers and samplers, and the loops that misuse them."""

    def __init__(self, facts) -> None:
        self.facts = facts
        self.names = facts.names
        self.loops: LoopFacts = facts.get(LoopFacts)
        self._values: dict[tuple[int, str], list] = {}  # (id(scope), key) -> assigned values
        self._sources: LoaderSources | None = None
        self._bound_in: dict[int, Any] = {}  # id(assigned value) -> the scope of its assignment

    @classmethod
    def build(cls, facts) -> Schedules:
        return cls(facts)

    # --- what names hold ------------------------------------------------------------------------

    def values(self, key: str, scope) -> list:
        """What `key` is assigned in `scope` (a function, None: the module), as the program model
        binds it: a plain name, its assignments in the nearest scope that binds it (the function's
        own, or one around it); `a.b`, the stores to it in the function, else in the module;
        `self.x`, the stores of the method's class and its relatives (`Program.relatives`). A
        target of an unpacking holds an `Unpacked` (the right-hand side and its position)."""
        cache = (id(scope), key)
        found = self._values.get(cache)
        if found is None:
            root, dot, attr = key.partition(".")
            if not dot:
                found = self._name_values(key, scope)
            elif root == "self":
                found = self._attribute_values(attr, scope)
            else:
                program = self.facts.get(Program)
                stores = program.object_stores(self.facts.module if scope is None else scope).by_name.get(key)
                if not stores and scope is not None:
                    stores = program.object_stores(self.facts.module).by_name.get(key)
                found = self._stored(stores or ())
            self._values[cache] = found
        return found

    def scope_of(self, value, default):
        """The function (None: the module) whose assignment holds `value`, as recorded by `values`."""
        return self._bound_in.get(id(value), default)

    def _name_values(self, name: str, scope) -> list:
        dataflow = self.facts.get(Dataflow)
        flow = dataflow.flow_of(self.facts.module if scope is None else scope)
        binder = flow if flow.bindings_of(name) else dataflow.enclosing_binder(flow, name)
        if binder is None:
            return []
        where = None if binder.kind is Scope.MODULE else binder.scope
        found = []
        for binding in binder.bindings_of(name):
            if binding.kind is BindingKind.ASSIGN and binding.value is not None:
                value = binding.value
            elif binding.kind is BindingKind.UNPACK:
                value = _unpacked(binding)
            else:
                continue
            self._bound_in[id(value)] = where
            found.append(value)
        return found

    def _attribute_values(self, attr: str, scope) -> list:
        cls = self.facts.get(Dataflow).enclosing_class(scope) if scope is not None else None
        if cls is None:
            return []
        program = self.facts.get(Program)
        return self._stored([store for relative in program.relatives(cls)
                             for store in program.self_stores(relative).by_name.get(attr, ())])

    def _stored(self, stores) -> list:
        """The values of attribute stores (assigned or unpacked; a loop target, `with` target or
        augmented assignment holds nothing we can read), each bound in the def around its store."""
        enclosing = self.facts.get(Dataflow).enclosing_function
        found = []
        for store in stores:
            if store.kind is StoreKind.ASSIGN or store.kind is StoreKind.REGISTER:
                value = store.value
            elif store.kind is StoreKind.UNPACK:
                value = Unpacked(store.source, store.index)
            else:
                continue
            self._bound_in[id(value)] = enclosing(store.target)
            found.append(value)
        return found

    def sampler_of(self, key: str, scope) -> Sampler | None:
        """The DistributedSampler a loader `key` draws from, when every value of it says so
        (`schedule_loaders` follows same-module helpers, their returns and call sites)."""
        if self._sources is None:
            self._sources = LoaderSources(self)
        return self._sources.sampler_of(key, scope)

    def is_sampler_call(self, value) -> bool:
        return isinstance(value, cst.Call) and self.names.qualified_name(value.func) in _SAMPLERS

    def scheduler(self, key: str | None, scope) -> tuple[Evidence, Any] | None:
        """How we know `key` holds a learning-rate scheduler in `scope`, and the call that built it
        (when there is exactly one); None when it may hold something else."""
        if key is None or key.split(".")[0] in self.names.aliases:
            return None
        everything = self.values(key, scope)
        # An unpacked binding (`optimizer, lr_scheduler = accelerator.prepare(optimizer, lr_scheduler)`)
        # says nothing about what the name holds: it neither proves nor vetoes a scheduler.
        values = [value for value in everything if not isinstance(value, Unpacked)]
        if values and all(self._is_scheduler_call(v) for v in values):
            return Evidence.CONSTRUCTOR, values[0] if len(values) == 1 else None
        named = bool(_SCHEDULER_NAME.search(key.rsplit(".", 1)[-1]))
        if values and not all(self._may_be_scheduler(value, named) for value in values):
            return None
        if named or values:
            return Evidence.NAME, values[0] if len(values) == 1 else None
        return None

    def _may_be_scheduler(self, value, named: bool) -> bool:
        """A call of a class from elsewhere (`WarmUpLR(opt, n)`, `build_scheduler(cfg, opt)`) named
        like a scheduler, or any such call bound to a name that says so; nothing torch knows as
        something else (`ReduceLROnPlateau`, a tensor, a module)."""
        if not isinstance(value, cst.Call):
            return False
        callee = dotted_name(value.func) or ""
        qualified = self.names.qualified_name(value.func) or ""
        if "Plateau" in callee or qualified.startswith(("torch.", "timm.scheduler", "diffusers.schedulers")):
            return False
        return named or bool(_SCHEDULER_CLASS.search(callee.rsplit(".", 1)[-1]))

    def _is_scheduler_call(self, value) -> bool:
        if not isinstance(value, cst.Call):
            return False
        qualified = self.names.qualified_name(value.func)
        return qualified is not None and qualified.startswith(_SCHEDULER_FACTORIES) \
            and not qualified.endswith(_NOT_SCHEDULES) and qualified.rsplit(".", 1)[-1][:1] != "_"

    def is_loader_call(self, call) -> bool:
        qualified = self.names.qualified_name(call.func)
        if qualified is not None:
            return qualified in _LOADERS
        return dotted_name(call.func) == "DataLoader"

    # --- does a scheduler step before the optimizer's first step? -------------------------------

    def early_scheduler_steps(self) -> Iterator[EarlyStep]:
        """Scheduler steps that precede the update of their own iteration, innermost loop first.
        A step is placed in the loop whose body holds it before any loop that reaches it through a
        helper call (a search loop calling a whole `train()` runs its epochs, not its batches)."""
        seen: set[int] = set()
        events_of = [(loop, list(self._events(body_of(loop.node.body), (), 0, (), None, loop, (loop.function, {}))))
                     for loop in self.loops.loops]
        for direct in (True, False):
            for loop, events in events_of:
                yield from self._early_in(loop, events, direct, seen)

    def _early_in(self, loop, events: list, direct: bool, seen: set[int]) -> Iterator[EarlyStep]:
        for index, event in enumerate(events):
            if event.kind is not StepKind.SCHEDULER or id(event.node) in seen or (event.via is None) is not direct:
                continue
            known = self.scheduler(event.key, event.scope)
            if known is None:
                continue
            evidence, built = known
            owner = _first_argument(built, "optimizer") if built is not None else None
            # An update earlier in the iteration, unless it sits on the other branch of an `if` (a
            # GAN's generator branch does not step the discriminator's optimizer first) or updates
            # another optimizer than the one the scheduler was built on (`opt_d.step()` before
            # `sched_g.step()` says nothing about `opt_g`).
            if any(e.kind is StepKind.OPTIMIZER and not _exclusive(e, event)
                   and (owner is None or e.key is None or related(e.key, owner)) for e in events[:index]):
                continue
            # A step inside one helper call and an update inside another (a loop over
            # configurations calling two whole training functions) are not one iteration's.
            later = [e for e in events[index + 1:] if e.kind is StepKind.OPTIMIZER and not _exclusive(e, event)
                     and (event.via is None or e.via is None or e.via is event.via)]
            if not later:
                continue
            seen.add(id(event.node))
            yield EarlyStep(loop.node, event, later[0], evidence, built, owner)

    def _events(self, statements, branches, depth, active, via, loop, scope) -> Iterator[StepEvent]:
        for statement in statements:
            yield from self._statement(statement, branches, depth, active, via, loop, scope)

    def _statement(self, statement, branches, depth, active, via, loop, scope) -> Iterator[StepEvent]:
        if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            for small in statement.body:
                yield from self._expression(small, branches, depth, active, via, loop, scope)
        elif isinstance(statement, cst.If):
            yield from self._expression(statement.test, branches, depth, active, via, loop, scope)
            yield from self._events(body_of(statement.body), branches + ((id(statement), True),), depth, active, via, loop, scope)
            if isinstance(statement.orelse, cst.If):
                yield from self._statement(statement.orelse, branches + ((id(statement), False),), depth, active, via, loop, scope)
            elif statement.orelse is not None:
                yield from self._events(body_of(statement.orelse.body), branches + ((id(statement), False),),
                                        depth, active, via, loop, scope)
        elif isinstance(statement, (cst.For, cst.While)):
            header = statement.iter if isinstance(statement, cst.For) else statement.test
            yield from self._expression(header, branches, depth, active, via, loop, scope)
            yield from self._events(body_of(statement.body), branches, depth, active, via, loop, scope)
        elif isinstance(statement, cst.With):
            for item in statement.items:
                yield from self._expression(item.item, branches, depth, active, via, loop, scope)
            yield from self._events(body_of(statement.body), branches, depth, active, via, loop, scope)
        elif isinstance(statement, (cst.Try, cst.TryStar)):
            yield from self._events(body_of(statement.body), branches, depth, active, via, loop, scope)
            if statement.orelse is not None:
                yield from self._events(body_of(statement.orelse.body), branches, depth, active, via, loop, scope)
            if statement.finalbody is not None:
                yield from self._events(body_of(statement.finalbody.body), branches, depth, active, via, loop, scope)

    def _expression(self, node, branches, depth, active, via, loop, scope) -> Iterator[StepEvent]:
        for call in calls_in(node):
            yield from self._call(call, branches, depth, active, via, loop, scope)

    def _call(self, call, branches, depth, active, via, loop, scope) -> Iterator[StepEvent]:
        """`scope` is (function, renaming): inside an inlined helper, each parameter names the
        caller's argument (its key and the caller's own scope)."""
        func = call.func
        if isinstance(func, cst.Attribute):
            attr, local = func.attr.value, dotted_name(func.value)
            receiver, where = _resolve(local, scope) if local is not None else (None, scope[0])
            if attr == "step" and local is not None:
                if receiver is None:  # a parameter given something that is no plain name
                    if self.loops.is_optimizer(local, call) or (self.loops.is_scaler(local, call) and call.args):
                        yield StepEvent(StepKind.OPTIMIZER, None, call, branches, via, where)
                    return
                if (self.loops.is_optimizer(receiver, where) or self.loops.is_optimizer(local, call)) \
                        and self.scheduler(receiver, where) is None:
                    yield StepEvent(StepKind.OPTIMIZER, receiver, call, branches, via, where)
                elif (self.loops.is_scaler(receiver, where) or self.loops.is_scaler(local, call)) and call.args:
                    yield StepEvent(StepKind.OPTIMIZER, _argument_key(call, scope), call, branches, via, where)
                elif not call.args and self.scheduler(receiver, where) is not None:
                    yield StepEvent(StepKind.SCHEDULER, receiver, call, branches, via, where)
                return
            if attr == "optimizer_step" and call.args:
                yield StepEvent(StepKind.OPTIMIZER, _argument_key(call, scope), call, branches, via, where)
                return
        helper = self._helper(call, loop)
        if helper is not None and depth < INLINE_DEPTH and helper not in active:
            mapping = _renaming(call, helper, {})
            if mapping is None:
                return
            inner = (helper, {name: (key, scope) for name, key in mapping.items()})
            yield from self._events(body_of(helper.body), branches, depth + 1, active + (helper,), via or call, loop,
                                    inner)

    def _helper(self, call, loop):
        """The same-module function or method a call runs, if we can read it (the program
        model's one way of resolving a call)."""
        return self.facts.get(Summaries).callee(call)

    # --- is a distributed sampler's epoch left unset? -------------------------------------------

    def unset_sampler_epochs(self) -> Iterator[UnsetEpoch]:
        """Loaders with a shuffling DistributedSampler iterated in an epoch loop that never sets the epoch."""
        if not self.facts.names.imports_from("torch"):  # `import torch` reaches torch.utils.data too
            return
        reported: set[int] = set()
        for loop in self.loops.loops:
            if self._sets_epoch(body_of(loop.node.body), 0, (), loop) or self._is_batch_loop(loop):
                continue
            for inner, loader_node, key, via, scope in self._iterations(body_of(loop.node.body), 0, (), None, loop, {},
                                                                        loop.function):
                sampler = self.sampler_of(key, scope)
                if sampler is None or sampler.shuffle is not Shuffle.ON or id(inner) in reported \
                        or (id(loop.node), id(sampler.node)) in reported:
                    continue
                if self._rebuilt_in(loop, key, sampler) or self._handed_away(loop, {key, sampler.key} - {""}):
                    continue
                # One finding per epoch loop and sampler (a second pass over the same loader, to
                # measure accuracy, repeats the same order for the same reason).
                reported.update((id(inner), (id(loop.node), id(sampler.node))))
                yield UnsetEpoch(loop.node, inner, loader_node, sampler, via)

    def _iterations(self, statements, depth, active, via, loop, rename, scope) -> Iterator[tuple]:
        """(inner `for`, loader node, loader key, via, scope of the key) for each `for` over a name."""
        for statement in iter_statements(statements, into_functions=False, into_classes=False):
            if isinstance(statement, cst.For):
                node = _iterated(statement.iter)
                key = dotted_name(node) if node is not None else None
                if key is not None:
                    root, dot, rest = key.partition(".")
                    where = scope
                    if root in rename:
                        key = rename[root] + dot + rest if rename[root] is not None else None
                        where = loop.function
                    if key is not None:
                        yield statement, node, key, via, where
            for small in header_expressions(statement):
                for call in calls_in(small):
                    helper = self._helper(call, loop)
                    if helper is None or depth >= INLINE_DEPTH or helper in active:
                        continue
                    mapping = _renaming(call, helper, rename)
                    if mapping is None:
                        continue
                    yield from self._iterations(body_of(helper.body), depth + 1, active + (helper,), via or call,
                                                loop, mapping, helper)

    def _is_batch_loop(self, loop) -> bool:
        """A `for` over a loader is a pass over batches, not an epoch loop: an evaluation inside it
        that re-reads the first batches of a loader wants the same order each time."""
        if not isinstance(loop.node, cst.For):
            return False
        node = _iterated(loop.node.iter)
        key = dotted_name(node) if node is not None else None
        return key is not None and self.sampler_of(key, loop.function) is not None

    def _sets_epoch(self, statements, depth, active, loop) -> bool:
        for statement in iter_statements(statements, into_functions=False, into_classes=False):
            for small in header_expressions(statement):
                for call in calls_in(small):
                    if isinstance(call.func, cst.Attribute) and call.func.attr.value == "set_epoch":
                        return True
                    helper = self._helper(call, loop)
                    if helper is not None and depth < INLINE_DEPTH and helper not in active:
                        if self._sets_epoch(body_of(helper.body), depth + 1, active + (helper,), loop):
                            return True
        return False

    def _handed_away(self, loop, keys: set[str]) -> bool:
        """The loader or its sampler is passed, inside the epoch loop, to code we cannot read
        (an imported `shuffle_dataset(loader, epoch)` may set the epoch)."""
        for statement in iter_statements(body_of(loop.node.body), into_functions=False, into_classes=False):
            for small in header_expressions(statement):
                for call in calls_in(small):
                    name = (dotted_name(call.func) or "").rsplit(".", 1)[-1]
                    if name in _READS_ONLY or self._helper(call, loop) is not None:
                        continue
                    for arg in call.args:
                        given = dotted_name(arg.value) or ""
                        if any(given == key or given.startswith(key + ".") for key in keys):
                            return True
        return False

    def _rebuilt_in(self, loop, key: str, sampler: Sampler) -> bool:
        """The loader or its sampler is built inside the epoch loop (each epoch its own)."""
        for statement in iter_statements(body_of(loop.node.body)):
            for small in small_statements(statement):
                if isinstance(small, cst.Assign) and any(dotted_name(t.target) in (key, sampler.key)
                                                         for t in small.targets):
                    return True
        return False


def _resolve(key: str, scope) -> tuple[str | None, object]:
    """The caller's key for `key` in an inlined helper, and the function where that key lives."""
    function, rename = scope
    root, dot, rest = key.partition(".")
    if root in rename:
        outer, outer_scope = rename[root]
        if outer is None:
            return None, function
        return _resolve(outer + dot + rest, outer_scope)
    return key, function


def _argument_key(call, scope) -> str | None:
    key = dotted_name(call.args[0].value)
    return _resolve(key, scope)[0] if key is not None else None


def _unpacked(binding) -> Unpacked:
    """A name bound by unpacking: its position, None when the target has a starred element."""
    for target in getattr(binding.statement, "targets", ()):
        elements = getattr(target.target, "elements", ())
        if any(element.value is binding.node for element in elements):
            starred = any(type(element) is cst.StarredElement for element in elements)
            return Unpacked(binding.value, None if starred else binding.index)
    return Unpacked(binding.value, None)


def _first_argument(call, keyword: str) -> str | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return dotted_name(arg.value)
    positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
    return dotted_name(positional[0].value) if positional else None


def shuffle_of(call) -> Shuffle:
    """Whether a `DistributedSampler(...)` call shuffles."""
    for arg in call.args:
        if arg.star:
            return Shuffle.UNKNOWN
        if arg.keyword is not None and arg.keyword.value == "shuffle":
            value = arg.value
            if isinstance(value, cst.Name) and value.value in ("True", "False"):
                return Shuffle.ON if value.value == "True" else Shuffle.OFF
            return Shuffle.UNKNOWN
    positional = [arg for arg in call.args if arg.keyword is None]
    if len(positional) >= 4:  # DistributedSampler(dataset, num_replicas, rank, shuffle)
        value = positional[3].value
        if isinstance(value, cst.Name) and value.value in ("True", "False"):
            return Shuffle.ON if value.value == "True" else Shuffle.OFF
        return Shuffle.UNKNOWN
    return Shuffle.ON


def _iterated(expr):
    """The loader in `loader`, `enumerate(loader)`, `tqdm(loader, ...)`, `enumerate(tqdm(loader))`,
    `metric_logger.log_every(loader, 10, header)`."""
    while isinstance(expr, cst.Call):
        positional = [arg for arg in expr.args if arg.keyword is None and not arg.star]
        name = dotted_name(expr.func) or ""
        if not positional or name.rsplit(".", 1)[-1] not in _WRAPPERS:
            return None
        expr = positional[0].value
    return expr if dotted_name(expr) is not None else None


def _renaming(call, function, outer: dict) -> dict | None:
    """Each parameter of `function` -> the caller's name for its argument (None: not a plain name)."""
    params = function.params
    positional = [p.name.value for p in (*params.posonly_params, *params.params)]
    if positional[:1] == ["self"] and isinstance(call.func, cst.Attribute):
        positional = positional[1:]
    mapping: dict[str, str | None] = {name: None for name in positional}
    mapping.update({p.name.value: None for p in params.kwonly_params})
    for index, arg in enumerate(call.args):
        if arg.star:
            return None
        name = arg.keyword.value if arg.keyword is not None else (positional[index] if index < len(positional) else None)
        if name is None:
            continue
        text = dotted_name(arg.value)
        if text is not None:
            root, dot, rest = text.partition(".")
            if root in outer:
                text = outer[root] + dot + rest if outer[root] is not None else None
        mapping[name] = text
    return mapping


def _exclusive(a: StepEvent, b: StepEvent) -> bool:
    taken = dict(a.branches)
    return any(key in taken and taken[key] != branch for key, branch in b.branches)

