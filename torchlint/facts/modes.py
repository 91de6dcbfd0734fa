"""Module modes: where a model is switched to evaluation or training mode, and what runs in it.

Two questions, both asked of the same-module program only (helpers are followed, code we cannot
see is assumed to do anything):

- `evals_left_in_loops()`: loops whose iteration reaches `model.eval()` (directly, or through a
  same-module function or method, three calls deep) and trains that same model (a forward of it
  in code that runs `backward()`), but never reaches `model.train()` nor hands the model to code
  that might call it. From the iteration after the first `eval()` on, the model trains in
  evaluation mode.
- `eval_forwards_with_grad()`: forward calls `model(...)` that run after `model.eval()` (source
  order, the same function or script) with gradients enabled: no `torch.no_grad()` /
  `torch.inference_mode()` / `torch.set_grad_enabled(...)` around them, on the function as a
  decorator, or around any same-module call of the function; and nothing near them needs the
  graph (`backward()`, `torch.autograd.grad`, inputs that require grad).

Which def a call runs, what its arguments bind and what running it does (a `backward()`, a mode
switch, helpers inside followed) are the program model's answers (`Summaries.callee`,
`.arguments`, `.acts`), as in every domain. The steps of a helper are then read from its body
in order, as `iteration` does for gradients: whether a forward trains depends on a `backward()`
after it in its own block, and a model handed to code we cannot see stops the judgement, which a
per-def set of acts cannot carry.

Answers are typed (`EvalInLoop`, `EvalForward`); the rules word them. Whether gradients are
recorded at a statement (`no_grad` blocks, decorators, callers, frozen models) is `mode_grad`'s.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Iterator

from torchlint._lazy import lazy_module
from torchlint.facts.modes_syntax import (
    _FRAMEWORK_EVAL_METHODS,
    _MODE_KEEPING_FUNCTIONS,
    _MODE_KEEPING_METHODS,
    _MODE_KEEPING_PREFIXES,
    _TORCH_LIBRARIES,
    _UTILITY,
    INLINE_DEPTH,
    _contains,
    _Context,
    _ends_after,
    _flat,
    _loop_body,
    _loops_in,
    _requires_grad,
)
from torchlint.facts.dataflow import Dataflow
from torchlint.facts.mode_grad import Gradients
from torchlint.facts.names import dotted_name, related
from torchlint.facts.program import Program
from torchlint.facts.statements import (
    body_of,
    child_bodies,
    header_calls,
    iter_statements,
    parameters,
)
from torchlint.facts.summaries import Act, Summaries

cst = lazy_module("libcst")

class Effect(enum.Enum):
    """What one call in a loop iteration does to a model's mode, or to training."""

    EVAL = enum.auto()  # `m.eval()`, `m.train(False)`
    TRAIN = enum.auto()  # `m.train()`, `m.train(mode)`
    FORWARD = enum.auto()  # `m(...)`, `m.forward(...)`
    BACKWARD = enum.auto()  # `loss.backward()`, `accelerator.backward(loss)`, `torch.autograd.backward`
    HANDED = enum.auto()  # the model is given to code we cannot see (it may switch the mode)


_MODE_EFFECTS = {Act.EVAL: Effect.EVAL, Act.TRAIN: Effect.TRAIN}
_SWITCHES = frozenset(_MODE_EFFECTS)


@dataclass(frozen=True)
class Step:
    """One effect reached from a loop's body: `site` is the call in the loop's own body leading to it."""

    effect: Effect
    key: str | None  # the caller's name for the model (`model`, `self.net`); None: unknown
    node: Any = field(compare=False, hash=False)
    site: Any = field(compare=False, hash=False)
    training: bool = False  # FORWARD: a `backward()` follows it in its loop body (or function body)


@dataclass(frozen=True)
class EvalInLoop:
    """`model.eval()` reached in every iteration of `loop` that trains `model`, never undone in it."""

    loop: Any
    site: Any  # the call in the loop's body: `model.eval()` itself or the helper call reaching it
    eval_call: Any  # the `.eval()` / `.train(False)` call
    key: str  # the model, as the loop's code names it
    trains: Any  # a training forward of the model reached in the loop
    backward: Any  # a `backward()` reached in the loop
    train_before: Any = None  # a `.train()` of the model before the loop (once), if any


@dataclass(frozen=True)
class EvalForward:
    """A forward of `key` in evaluation mode with gradients enabled and no use for the graph."""

    call: Any
    eval_call: Any
    key: str


class Modes:
    def __init__(self, facts) -> None:
        self.facts = facts
        self.names = facts.names
        self.module = facts.module
        self.runs_torch = any(self.names.imports_from(lib) for lib in _TORCH_LIBRARIES)
        self._tail_cache: dict = {}
        self._calls_cache: dict[int, list] = {}
        self._any_switch: bool | None = None
        self._scopes: list | None = None
        self._statement_backward: dict[int, bool] = {}
        self.summaries: Summaries = facts.get(Summaries)  # which def a call runs, and what it does
        self.grad = Gradients(self)  # where gradients are recorded: `no_grad` blocks, decorators, callers

    @classmethod
    def build(cls, facts) -> Modes:
        return cls(facts)

    def _calls_in(self, statement) -> list:
        """The calls of a statement line or compound header, computed once per statement."""
        found = self._calls_cache.get(id(statement))
        if found is None:
            found = self._calls_cache[id(statement)] = list(header_calls(statement))
        return found

    def _switches_anywhere(self) -> bool:
        """Does any statement of the file call `.eval()` or `.train(...)`?"""
        if self._any_switch is None:
            self._any_switch = any(self.mode_of(call) is not None for statement in iter_statements(self.module.body)
                                   for call in self._calls_in(statement))
        return self._any_switch

    def _has_mode_calls(self, body) -> bool:
        return any(self.mode_of(call) is not None for statement in _flat(body) for call in self._calls_in(statement))

    # --- scopes -------------------------------------------------------------------------------

    def scopes(self) -> list[tuple[Any, list]]:
        """(FunctionDef or None for the script, its statements) for every scope of the file."""
        if self._scopes is None:
            self._scopes = [(None, list(self.module.body))]
            self._scopes += [(function, body_of(function.body)) for function in self.names.defs]
        return self._scopes

    # --- calls --------------------------------------------------------------------------------

    def mode_of(self, call) -> Effect | None:
        """EVAL for `m.eval()` / `m.train(False)`, TRAIN for `m.train()` / `m.train(flag)`; else None."""
        return _MODE_EFFECTS.get(self.summaries.act_of(call))

    def is_backward(self, call) -> bool:
        """`x.backward()`, `torch.autograd.grad(...)` / `torch.autograd.backward(...)`."""
        return self.summaries.act_of(call) is Act.BACKWARD

    def forward_key(self, call) -> str | None:
        """`m` for `m(...)` / `m.forward(...)` when `m` is a plain name or attribute chain."""
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value == "forward":
            return dotted_name(func.value)
        key = dotted_name(func)
        if key is None or key in self.names.classes or "." not in key and (
                key in self.names.aliases or key in _MODE_KEEPING_FUNCTIONS):
            return None
        if self.summaries.callees(call):
            return None  # a same-module function or method, not a model
        if self.names.qualified_name(func) is not None:
            return None  # an imported function or class
        return key

    # --- evaluation mode left on in a training loop ----------------------------------------------

    def evals_left_in_loops(self) -> list[EvalInLoop]:
        if not self.runs_torch or not self._switches_anywhere():
            return []
        found: dict[int, EvalInLoop] = {}
        for function, body in self.scopes():
            class_ = self.facts.get(Dataflow).defining_class(function)
            for loop in _loops_in(body):
                steps = list(self._steps(_loop_body(loop), _Context(class_)))
                for item in self._left_on(loop, steps, function, body):
                    found.setdefault(id(item.site), item)
        return list(found.values())

    def _left_on(self, loop, steps: list[Step], function, body) -> Iterator[EvalInLoop]:
        backward = next((s for s in steps if s.effect is Effect.BACKWARD), None)
        if backward is None:
            return
        for step in steps:
            if step.effect is not Effect.EVAL or step.key is None or _ends_after(loop, step.site):
                continue
            key = step.key
            trains = next((s for s in steps if s.effect is Effect.FORWARD and s.training and s.key is not None
                           and (s.key == key or s.key.startswith(key + "."))), None)
            if trains is None:
                continue
            if any(s.effect in (Effect.TRAIN, Effect.HANDED) and (s.key is None or related(s.key, key))
                   for s in steps):
                continue
            train_before = self._train_before(body, loop, key)
            if train_before is None and any(
                    s.effect is Effect.EVAL and s.key == key and steps.index(s) < steps.index(trains)
                    and self._same_function(s.node, trains.node) for s in steps):
                continue  # the training code sets evaluation mode itself, before every forward: by design
            yield EvalInLoop(loop, step.site, step.node, key, trains.node, backward.node, train_before)

    def _same_function(self, first, second) -> bool:
        enclosing = self.facts.get(Dataflow).enclosing_function
        return enclosing(first) is enclosing(second)

    def _train_before(self, body, loop, key: str):
        found = None
        for statement in body:
            if statement is loop or _contains(statement, loop):
                return found
            if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                continue
            for call in self._calls_in(statement):
                if self.mode_of(call) is Effect.TRAIN and related(dotted_name(call.func.value) or "", key):
                    found = call
        return found

    def _steps(self, statements, context: _Context, tail=None) -> Iterator[Step]:
        """The steps of a block; `tail` (given for blocks that are no loop or function body) is the
        rest of the enclosing loop or function body, where a `backward()` makes a forward a training one."""
        statements = list(statements)
        for index, statement in enumerate(statements):
            if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                continue
            rest = statements[index:] if tail is None else tail
            # A context manager given the model (`accelerator.accumulate(model)`) does not switch modes.
            header = isinstance(statement, cst.With)
            for call in self._calls_in(statement):
                yield from self._call_steps(call, context, rest, header)
            loop = isinstance(statement, (cst.For, cst.While))
            for position, block in enumerate(child_bodies(statement)):
                yield from self._steps(block, context, None if loop and position == 0 else rest)

    def _call_steps(self, call, context: _Context, rest, header: bool = False) -> Iterator[Step]:
        site = context.site or call
        func = call.func
        mode = self.mode_of(call)
        if mode is not None:
            yield Step(mode, context.key(func.value), call, site)
            return
        if self.is_backward(call):
            yield Step(Effect.BACKWARD, None, call, site)
            return
        callee = self.summaries.callee(call)
        if callee is not None and id(callee) not in context.active and context.depth < INLINE_DEPTH:
            rename = self._rename(callee, call, context)
            # A helper that switches no mode, called before a `backward()` (`loss = compute_loss(model,
            # batch)`, a nested `_forward()`), makes training forwards.
            inherits = context.inherits or (self._backward_in(rest) and not self._switches_mode(callee))
            inner = context.inlined(self.facts.get(Dataflow).defining_class(callee), callee, rename, site, inherits)
            yield from self._steps(body_of(callee.body), inner)
            return
        key = self.forward_key(call)
        if key is not None:
            yield Step(Effect.FORWARD, context.key(func.value if isinstance(func, cst.Attribute)
                                                   and func.attr.value == "forward" else func), call, site,
                       training=context.inherits or self._backward_in(rest))
        if header or self._utility(func):
            return
        if isinstance(func, cst.Attribute) and func.attr.value not in _MODE_KEEPING_METHODS \
                and not self._is_self_attribute(func, context):
            receiver = context.key(func.value)  # `model.fit(...)`: a method we cannot see may switch modes
            if receiver is not None:
                yield Step(Effect.HANDED, receiver, call, site)
        if not self._keeps_mode(func):
            for arg in call.args:
                name = context.key(arg.value)
                if name is not None:
                    yield Step(Effect.HANDED, name, call, site)

    def _is_self_attribute(self, func, context: _Context) -> bool:
        """`self.model(...)` where the class or a same-module base stores `self.model`: a forward,
        not a method call."""
        if not (isinstance(func.value, cst.Name) and func.value.value == "self") or context.class_ is None:
            return False
        program = self.facts.get(Program)
        return any(func.attr.value in program.self_stores(cls).by_name for cls in program.lineage(context.class_))

    def _utility(self, func) -> bool:
        """A callee named for bookkeeping (saving, logging, syncing, EMA updates): it keeps modes."""
        name = dotted_name(func)
        return name is not None and "train" not in name.lower() and bool(_UTILITY.search(name))

    def _keeps_mode(self, func) -> bool:
        qualified = self.names.qualified_name(func)
        if qualified is not None:
            return qualified.startswith(_MODE_KEEPING_PREFIXES)
        return isinstance(func, cst.Name) and func.value in _MODE_KEEPING_FUNCTIONS

    def _rename(self, callee, call, context: _Context) -> dict:
        """Each parameter of the helper -> the caller's name for its argument (None: unknown),
        the receiver of a method as its first parameter (`Summaries.arguments`)."""
        rename: dict[str, str | None] = {p.name.value: None for p in parameters(callee.params)}
        for name, value in self.summaries.arguments(call, callee).items():
            if name in rename:
                rename[name] = context.key(value)
        return rename

    def _backward_in(self, statements) -> bool:
        """Do these statements run `backward()`, themselves or in a same-module helper they call?"""
        if not statements:
            return False
        found = self._tail_cache.get(id(statements[-1]))
        if found is None:
            found = self._tail_cache[id(statements[-1])] = {}
        key = id(statements[0])
        if key not in found:
            found[key] = any(self._statement_runs_backward(statement) for statement in statements)
        return found[key]

    def _statement_runs_backward(self, statement) -> bool:
        known = self._statement_backward.get(id(statement))
        if known is None:
            known = self._statement_backward[id(statement)] = any(
                self.is_backward(call) or Act.BACKWARD in self.summaries.acts(call)
                for inner in _flat([statement]) for call in self._calls_in(inner))
        return known

    def _switches_mode(self, function) -> bool:
        """Does the def itself (not a helper it calls) switch a mode?"""
        return not _SWITCHES.isdisjoint(self.summaries.acts_of(function, 1))

    # --- forwards in evaluation mode that build a graph ----------------------------------------

    def eval_forwards_with_grad(self) -> list[EvalForward]:
        if not self.runs_torch or not self._switches_anywhere():
            return []
        found = []
        for function, body in self.scopes():
            if not self._has_mode_calls(body):
                continue
            if function is not None and function.name.value in _FRAMEWORK_EVAL_METHODS \
                    and self.facts.get(Dataflow).defining_class(function) is not None:
                continue  # a Lightning hook (a plain function named `test_step` is not one)
            forwards = list(self._eval_forwards(body))
            if not forwards or self.grad.needs_graph(body):
                continue
            if function is not None and self.grad.disabled_for(function, 0):
                continue
            found.extend(forwards)
        return found

    def _eval_forwards(self, body) -> Iterator[EvalForward]:
        modes: dict[str, Any] = {}  # model -> its latest `.eval()` call, or None after `.train()`
        for statement, no_grad, block in self.grad.walk(body, False, body):
            if no_grad is None:
                modes.clear()  # `torch.set_grad_enabled(...)` or `enable_grad`: no longer ours to judge
                continue
            reported: set[str] = set()
            for call in self._calls_in(statement):
                mode = self.mode_of(call)
                if mode is not None:
                    key = dotted_name(call.func.value)
                    if key is not None:
                        modes[key] = call if mode is Effect.EVAL else None
                    continue
                if no_grad:
                    continue
                key = self.forward_key(call)
                if key is None or modes.get(key) is None or key in reported or self.grad.frozen(key):
                    continue
                if any(self.is_backward(c) or _requires_grad(c) for s in _flat(block) for c in self._calls_in(s)):
                    continue
                reported.add(key)  # one finding per statement and model
                yield EvalForward(call, modes[key], key)
