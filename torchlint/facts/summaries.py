"""Same-module function summaries: which helper a call runs, and what running it does.

One way to follow a helper for every domain. `callee` finds the def a call runs, by the scoped
bindings of `Dataflow` (a nested helper, a module-level function, a method through same-module
bases via `Program`); `arguments` matches the call's arguments to the def's parameters; `of`
summarizes a def once, on first use:

    summaries = facts.get(Summaries)
    function = summaries.callee(call)            # FunctionDef, or None (unknown or ambiguous)
    cls = summaries.class_of(expr)               # ClassDef whose instance `expr` holds, or None
    bound = summaries.arguments(call, function)  # parameter name -> argument expression
    summary = summaries.of(function)             # Summary: returns / writes / stores / actions
    summaries.actions(call)                      # what the call resets, steps, switches (Action)
    summaries.acts(call)                         # the kinds of act it makes (frozenset[Act]), cached
    summaries.act_of(call)                       # the act the call itself makes, or None

Actions name their targets in the caller's terms (`opt` for a helper's `optimizer` parameter,
`model.net` for a method's `self.net` called on `model`); domains decide what the target is (an
optimizer, a scheduler, a model). Summaries follow nested helpers, and cut recursion.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from torchlint._lazy import lazy_module
from torchlint.facts.dataflow import Away, BindingKind, Dataflow
from torchlint.facts.names import dotted_name
from torchlint.facts.program import Program
from torchlint.facts.statements import calls_in, parameters

cst = lazy_module("libcst")

MAX_DEPTH = 3  # helpers followed inside helpers, for actions


class Act(enum.Enum):
    """A training-state change a call makes on an object."""

    ZERO_GRAD = enum.auto()  # `x.zero_grad()`
    STEP = enum.auto()  # `x.step(...)`: an optimizer's update or a scheduler's advance
    BACKWARD = enum.auto()  # `x.backward()`
    TRAIN = enum.auto()  # `x.train()` / `x.train(True)`
    EVAL = enum.auto()  # `x.eval()` / `x.train(False)`


_ACT_METHODS = {"zero_grad": Act.ZERO_GRAD, "step": Act.STEP, "backward": Act.BACKWARD}
# Functions that back-propagate without a receiver.
AUTOGRAD_FUNCTIONS = frozenset({"torch.autograd.grad", "torch.autograd.backward"})


@dataclass(frozen=True)
class Action:
    """`act` on `target` (a dotted name in the caller's terms; None: unknown to the caller)."""

    act: Act
    target: str | None
    node: Any = field(compare=False, hash=False)  # the call inside the helper that does it
    via: Any = field(default=None, compare=False, hash=False)  # the caller's call that leads to it


@dataclass(frozen=True)
class Summary:
    """What a def does with its parameters (by name) when called."""

    function: Any = field(compare=False, hash=False)
    params: tuple[str, ...]
    returns: frozenset[str]  # parameters whose value (or a view of it) may be returned
    writes: frozenset[str]  # parameters written in place, directly, through views or helpers
    stores: frozenset[str]  # parameters stored in an attribute, an item or a container
    actions: tuple[Action, ...]  # in the def's own terms: parameter names, `self.<attr>`, globals


class Summaries:
    """Fact kind: helpers resolved and summarized on demand, each once per file."""

    def __init__(self, facts) -> None:
        self.facts = facts
        self.names = facts.names
        self._summaries: dict[int, Summary] = {}
        self._building: set[int] = set()
        self._acts: dict[tuple[int, int], frozenset] = {}  # (id(def), depth) -> acts it reaches

    @classmethod
    def build(cls, facts) -> Summaries:
        return cls(facts)

    @property
    def dataflow(self) -> Dataflow:
        return self.facts.get(Dataflow)  # built on the first call that needs scopes

    # --- which def a call runs ----------------------------------------------------------------

    def callees(self, call) -> list:
        """The same-module defs `call` may run, in source order (several: defined twice).

        `f(...)`: the defs bound to `f` where the call stands, or in the nearest enclosing scope
        that binds `f` (class bodies skipped, as Python does); an import of `f` wins. `self.m(...)`
        in a method: `m` in the class or its same-module bases.
        """
        func = call.func
        if isinstance(func, cst.Name):
            if self.names.qualified_name(func) is not None:
                return []
            return self._defs_named(func)
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
            cls = self.class_of(func.value)
            method = None if cls is None else self.facts.get(Program).method(cls, func.attr.value)
            return [method] if method is not None else []
        return []

    def class_of(self, expr) -> Any:
        """The same-module class whose instance `expr` holds, or None (unknown, or several).

        `self` in a method: its class. A name: every binding of it that reaches here (or, a name
        this scope does not bind, every binding in the nearest enclosing scope that does) is
        `Cls(...)`. `x.attr`: every `self.attr = ...` of x's class and its same-module bases
        (`Program`) is `Cls(...)`.
        """
        if isinstance(expr, cst.Attribute):
            owner = self.class_of(expr.value)
            return None if owner is None else self.attribute_class(owner, expr.attr.value)
        if not isinstance(expr, cst.Name):
            return None
        if expr.value == "self":
            return self.dataflow.enclosing_class(expr)
        if not self.names.classes:
            return None
        flow = self.dataflow.flow_of(expr)
        bindings = flow.bindings_at(expr)
        if not bindings and not flow.bindings_of(expr.value):
            outer = self.dataflow.enclosing_binder(flow, expr.value)
            bindings = frozenset(outer.bindings_of(expr.value)) if outer is not None else frozenset()
        values = []
        for binding in bindings:
            if binding.kind is not BindingKind.ASSIGN:
                return None
            values.append(binding.value)
        return self.constructed_class(values)

    def attribute_class(self, class_node, attr: str) -> Any:
        """The same-module class of every value that instances of `class_node` set `attr` to."""
        program = self.facts.get(Program)
        values = [v for cls in program.lineage(class_node) for v in program.self_attributes(cls).get(attr, ())]
        return self.constructed_class(values) if self.names.classes else None

    def constructed_class(self, values) -> Any:
        """The one same-module class that all these expressions construct (`Cls(...)`), or None."""
        found = set()
        for value in values:
            if not isinstance(value, cst.Call) or not isinstance(value.func, cst.Name):
                return None
            classes = [b.statement for b in self._bindings_named(value.func, self.names.classes) if b.kind is BindingKind.CLASS]
            if len(classes) != 1:
                return None
            found.add(classes[0])
        return found.pop() if len(found) == 1 else None

    def callee(self, call) -> Any:
        """The one same-module def `call` runs, or None (unknown, bound otherwise too, or
        defined more than once)."""
        found = self.callees(call)
        if len(found) != 1:
            return None
        func = call.func
        if isinstance(func, cst.Name) and len(self._bindings_named(func)) != 1:
            return None  # `f` may also be bound to something else here
        return found[0]

    def _defs_named(self, name) -> list:
        defs = [b for b in self._bindings_named(name) if b.kind is BindingKind.DEF]
        return [b.statement for b in sorted(defs, key=lambda b: b.order)]

    def _bindings_named(self, name, defined=None) -> frozenset:
        """The bindings of a name where it is read (or, unbound there, in the nearest enclosing
        scope that binds it), when `defined` (default: the module's defs) has that name."""
        if name.value not in (self.names.functions if defined is None else defined):
            return frozenset()  # no definition of that name anywhere: nothing to resolve
        flow = self.dataflow.flow_of(name)
        bindings = flow.bindings_at(name)
        if not bindings:
            flow = self.dataflow.enclosing_binder(flow, name.value)
            bindings = frozenset(flow.bindings_of(name.value)) if flow is not None else frozenset()
        return bindings

    # --- which argument a parameter gets ------------------------------------------------------

    def arguments(self, call, function) -> dict[str, Any]:
        """Each parameter of `function` that `call` passes -> the argument expression.

        For a method called on an object, the first parameter gets the receiver. Positions after
        a `*args` are unknown, so those parameters are left out.
        """
        params = [p.name.value for p in (*function.params.posonly_params, *function.params.params)]
        bound: dict[str, Any] = {}
        if isinstance(call.func, cst.Attribute) and self._is_method(function) and params:
            bound[params[0]] = call.func.value
            params = params[1:]
        index, positions_known = 0, True
        for arg in call.args:
            if arg.keyword is not None:
                bound[arg.keyword.value] = arg.value
            elif arg.star:
                positions_known = False
            elif positions_known:
                if index < len(params):
                    bound[params[index]] = arg.value
                index += 1
        return bound

    def parameter_of(self, call, function, arg) -> str | None:
        """The parameter of `function` that the argument `arg` (an `Arg` of `call`) binds."""
        return next((name for name, value in self.arguments(call, function).items() if value is arg.value), None)

    def _is_method(self, function) -> bool:
        """Does a call `obj.f(...)` pass `obj` as the def's first parameter (a method that is not
        a `staticmethod`)?"""
        static = any(getattr(d.decorator, "value", None) == "staticmethod" for d in function.decorators)
        return not static and self.dataflow.defining_class(function) is not None

    # --- what a def does ----------------------------------------------------------------------

    def of(self, function) -> Summary:
        """The summary of a def; a def being summarized (recursion) reads as doing nothing."""
        summary = self._summaries.get(id(function))
        if summary is not None:
            return summary
        params = tuple(p.name.value for p in parameters(function.params))
        if id(function) in self._building:
            return Summary(function, params, frozenset(), frozenset(), frozenset(), ())
        self._building.add(id(function))
        try:
            summary = self._summarize(function, params)
        finally:
            self._building.discard(id(function))
        self._summaries[id(function)] = summary
        return summary

    def _summarize(self, function, params: tuple[str, ...]) -> Summary:
        flow = self.dataflow.function_of(function)
        returns, writes, stores = set(), set(), set()
        for binding in flow.bindings:
            if binding.kind is not BindingKind.PARAM:
                continue
            if flow.writes(binding):
                writes.add(binding.name)
            for escape in flow.escapes(binding, lambda call, arg: True):
                if escape.away in (Away.RETURNED, Away.YIELDED):
                    returns.add(binding.name)
                elif escape.away in (Away.STORED, Away.IN_CONTAINER):
                    stores.add(binding.name)
        return Summary(function, params, frozenset(returns), frozenset(writes), frozenset(stores),
                       tuple(self._own_actions(function, flow)))

    def act_of(self, call) -> Act | None:
        """The act a call makes itself: `x.zero_grad()`, `x.step(...)`, `x.backward()` (or
        `torch.autograd.grad/backward(...)`), `x.train()` / `x.train(flag)` (TRAIN), `x.eval()` /
        `x.train(False)` (EVAL); None for any other call (`x.eval(data)` is no mode switch)."""
        func = call.func
        if not isinstance(func, cst.Attribute):
            return Act.BACKWARD if self._autograd(func) else None
        name = func.attr.value
        if name == "eval":
            return Act.EVAL if not call.args else None
        if name == "train":
            if not call.args:
                return Act.TRAIN
            if len(call.args) == 1 and (call.args[0].keyword is None or call.args[0].keyword.value == "mode"):
                value = call.args[0].value
                return Act.EVAL if isinstance(value, cst.Name) and value.value == "False" else Act.TRAIN
            return None
        act = _ACT_METHODS.get(name)
        if act is None and name == "grad" and self._autograd(func):
            return Act.BACKWARD
        return act

    def _autograd(self, func) -> bool:
        return self.names.qualified_name(func) in AUTOGRAD_FUNCTIONS

    def _own_actions(self, function, flow) -> list[Action]:
        found = []
        params = {p.name.value for p in parameters(function.params)}
        for node in calls_in(function.body):
            act = self.act_of(node)
            if act is None:
                continue
            func = node.func
            if act is Act.BACKWARD and self._autograd(func):
                found.append(Action(act, None, node))  # no receiver: nothing the caller names
                continue
            target = dotted_name(func.value)
            root = (target or "").split(".")[0]
            if target is not None and root not in params and flow.bindings_of(root):
                target = None  # a local of the helper: nothing the caller can name
            found.append(Action(act, target, node))
        return found

    def acts(self, call, depth: int = MAX_DEPTH) -> frozenset:
        """The kinds of act (`Act`) calling `call` makes, helpers inside it followed (`depth`
        defs deep); empty for a call of no same-module def. Cached per def and depth."""
        function = self.callee(call)
        return frozenset() if function is None else self.acts_of(function, depth)

    def acts_of(self, function, depth: int = MAX_DEPTH) -> frozenset:
        """The kinds of act running `function` makes, itself or in the helpers it calls."""
        key = (id(function), depth)
        found = self._acts.get(key)
        if found is None:
            self._acts[key] = frozenset()  # a def calling itself adds nothing more
            kinds = set()
            for node in calls_in(function.body):  # no `of()`: the kinds need no dataflow
                act = self.act_of(node)
                if act is not None:
                    kinds.add(act)
                elif depth > 1:
                    kinds |= self.acts(node, depth - 1)
            found = self._acts[key] = frozenset(kinds)
        return found

    def actions(self, call, depth: int = MAX_DEPTH) -> tuple[Action, ...]:
        """What calling `call` resets, steps or switches, helpers inside it followed, in the
        caller's terms, in the order the helper runs them (`statements.calls_in`)."""
        return tuple(self._actions(call, depth, frozenset(), None))

    def _actions(self, call, depth: int, active: frozenset, via) -> list[Action]:
        function = self.callee(call)
        if function is None or depth <= 0 or id(function) in active:
            return []
        bound = self.arguments(call, function)
        rename = {p.name.value: _object_name(bound.get(p.name.value)) for p in parameters(function.params)}
        via = via or call
        own = {id(a.node): a for a in self.of(function).actions}
        found = []
        for node in calls_in(function.body):
            action = own.get(id(node))
            if action is not None:
                found.append(Action(action.act, _renamed(action.target, rename), node, via))
                continue
            for inner in self._actions(node, depth - 1, active | {id(function)}, via):
                found.append(Action(inner.act, _renamed(inner.target, rename), inner.node, via))
        return found


def _object_name(expr) -> str | None:
    """The dotted name an argument passes (`opt`, `self.model`); None for anything else."""
    if expr is None or (isinstance(expr, cst.Name) and expr.value in ("None", "True", "False")):
        return None
    return dotted_name(expr)


def _renamed(target: str | None, rename: dict[str, str | None]) -> str | None:
    if target is None:
        return None
    root, dot, rest = target.partition(".")
    if root not in rename:
        return target  # a global: the caller sees the same object
    mapped = rename[root]
    return None if mapped is None else mapped + dot + rest
