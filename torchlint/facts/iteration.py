"""One iteration of a loop, as a tree of gradient events and as the paths it can take.

`LoopFacts` (in `loops`) finds the loops and what the names in them are; this module reduces a
loop body to events (`backward()`, updates, resets, optimizers rebuilt or handed away) with the
branches and jumps between them, inlines same-module helpers, and expands the paths.

Which def a call runs is the program model's answer: `Summaries.callees` for a function,
`Summaries.class_of` (bindings, `self.<attr>` of the class) and `Program.method` for a method;
inside an inlined helper a parameter holds the class of what the caller passed. The helper's body
is then inlined per path rather than read from `Summaries.actions`, on purpose: a summary is one
ordered tuple of acts per def, while the missing-reset and reset-before-step questions need the
helper's own branches, returns and `continue`s on each path, conditions shared with the caller
(`if step: opt.step()` in a helper and in its loop are one decision), and branches decided by
the call's constant arguments (`train_step(..., do_backward=False)`), none of which a per-def
summary can carry.
"""

from __future__ import annotations

import re

from torchlint._lazy import lazy_module
from torchlint.facts.loops import (
    _HARMLESS_CALLS,
    BACKWARD,
    FRESH,
    Constructed,
    EventKind,
    INLINE_DEPTH,
    MAX_PATHS,
    OPAQUE,
    RESET,
    STEP,
    Event,
    Guard,
    IterationPath,
    LoopFacts,
    LoopInfo,
    PathEnd,
)
from torchlint.facts.names import attribute_chain, dotted_name
from torchlint.facts.program import Program
from torchlint.facts.statements import body_of, calls_in, iter_statements, parameters, small_statements
from torchlint.facts.summaries import Summaries

cst = lazy_module("libcst")


# --- one iteration, as a tree and as paths ------------------------------------------------------
# Tree items: ("event", Event) | ("jump", kind) | ("branch", key, then, else) | ("choice", [items...])
# | ("loop", items) | ("inline", items) | ("finally", items)


class _TooManyPaths(Exception):
    pass


class _Context:
    """Where the builder stands: renamings of an inlined call, guards, loop variables, depth."""

    def __init__(self, class_, rename=None, guards=(), loopvars=None, depth=0, active=(), via=None, constants=None,
                 classes=None):
        self.class_ = class_
        self.rename = rename or {}
        self.guards = guards
        self.loopvars = loopvars or {}  # loop variable -> model it iterates the parameters of (or None)
        self.depth = depth
        self.active = active  # functions being inlined, against recursion
        self.via = via  # the loop body's call that the inlined code runs under
        self.constants = constants or {}  # parameters an inlined call fixes to True/False
        self.classes = classes  # parameter -> same-module class of its argument; None: not inlined

    def but(self, **changes) -> _Context:
        values = dict(class_=self.class_, rename=self.rename, guards=self.guards,
                      loopvars=self.loopvars, depth=self.depth, active=self.active, via=self.via,
                      constants=self.constants, classes=self.classes)
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


class Paths:
    """Builds the event tree of one loop's body and expands it into iteration paths."""

    def __init__(self, loop_facts: LoopFacts, loop: LoopInfo) -> None:
        self.facts = loop_facts
        self.names = loop_facts.names
        self.module = loop_facts.facts.module
        self.loop = loop
        self.summaries: Summaries = loop_facts.facts.get(Summaries)

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
            at = context.via or small  # where the loop's code reads `key`
            # `opt = SGD(...)`, `model = Net()` in the loop (the cheap test first)
            if isinstance(value, cst.Call) and (self.facts.is_optimizer(key, at) or key in self.facts.models_at(at)):
                items.append(self.event(FRESH, key, small, context))
        return items

    # --- expressions --------------------------------------------------------------------------

    def expression(self, node, context: _Context) -> list:
        items: list = []
        for call in calls_in(node):
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
                return self._inline_method(call, owner, "backward", context) or []
        return [self.event(BACKWARD, None, call, context)]

    def _step(self, call, receiver, context: _Context) -> list:
        key = context.key(receiver)
        local = dotted_name(receiver)  # read here; `key` is read where the loop's code stands
        at = context.via or call
        if self.facts.is_optimizer(local, call) or self.facts.is_optimizer(key, at):
            return [self.event(STEP, key, call, context, has_args=bool(call.args))]
        if (self.facts.is_scaler(local, call) or self.facts.is_scaler(key, at)) and call.args:
            return [self.event(STEP, context.key(call.args[0].value), call, context)]
        return []

    def _call_function(self, call, name: str, context: _Context) -> list:
        # a helper defined twice (`if`/`else`) is followed in its first spelling
        function = next(iter(self.summaries.callees(call)), None)
        if function is not None:
            inlined = self._inline(call, function, context)
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
        inlined = self._inline_method(call, owner, attr, context)
        if inlined is None and attr not in ("zero_grad", "step") and _GRADIENT_WORK.search(attr):
            program = self.facts.facts.get(Program)
            if program.method(owner, attr) is None and program.has_unseen_base(owner):
                # `self.optimizer_step()` from a base class we cannot read may well reset.
                return [self.event(RESET, None, call, context)]
        return inlined

    def _inline_method(self, call, class_node, attr: str, context: _Context) -> list | None:
        method = self.facts.facts.get(Program).method(class_node, attr)
        if method is None:
            return None
        inlined = self._inline(call, method, context.but(class_=class_node))
        if inlined is None and self._may_reset(method):
            return [self.event(RESET, None, call, context)]
        return inlined

    def _may_reset(self, function) -> bool:
        """For a helper too deep to follow: does its text touch gradients at all?"""
        text = self.module.code_for_node(function)
        return ".grad" in text or bool(_RESETISH.search(text))

    def _inline(self, call, function, context: _Context) -> list | None:
        """The helper's body as one tree item, its parameters renamed to the caller's arguments."""
        if context.depth >= INLINE_DEPTH or function in context.active:
            return None
        if any(arg.star for arg in call.args):
            return None  # `f(*args)`: which parameter gets what is unknown
        bound = self.summaries.arguments(call, function)
        classes = {name: self._local_class_of(value, context) for name, value in bound.items()}
        inner = context.but(rename=_rename_for_call(bound, function, context), loopvars={}, depth=context.depth + 1,
                            active=context.active + (function,), via=context.via or call,
                            constants=_constant_arguments(bound, function), classes=classes)
        body = self.block(body_of(function.body), inner)
        return [("inline", body)] if body else []

    def _opaque(self, call, name: str, context: _Context) -> list:
        if name in _HARMLESS_CALLS or self.facts.constructor_kind(call) is Constructed.OTHER:
            return []
        items = []
        for arg in call.args:
            key = context.key(arg.value) if dotted_name(arg.value) else None
            if key is not None and self.facts.is_optimizer(key, context.via or call):
                items.append(self.event(OPAQUE, key, call, context))
        return items

    # --- helpers ------------------------------------------------------------------------------

    def event(self, kind: EventKind, key, node, context: _Context, *, has_args: bool = False) -> tuple:
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
        """The same-module class whose instance `receiver` is, if we know it (never an optimizer
        class of the file: its `step()` is an update, not a helper to follow).

        The program model answers (`Summaries.class_of`: bindings, `self.<attr>` of the class);
        inside an inlined helper a parameter holds what the caller passed, and `self` is the
        instance the method was called on.
        """
        root, chain = attribute_chain(receiver)
        if root is None:
            return None
        if root.value == "self":
            found = context.class_
        elif context.classes is not None and root.value in context.rename:
            found = context.classes.get(root.value)
        elif root.value in context.loopvars:
            return None
        else:
            found = self.summaries.class_of(root)
        for attr in chain:
            if found is None:
                return None
            found = self.summaries.attribute_class(found, attr)
        if found is not None and self.facts.is_local_optimizer_class(found):
            return None
        return found

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


def _end(jump: str | None) -> PathEnd:
    return PathEnd.NEXT if jump in (None, "continue") else PathEnd(jump)


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


def _rename_for_call(bound: dict, function, context: _Context) -> dict[str, str | None]:
    """Each parameter of `function` -> the caller's name for its argument (None: not a name)."""
    rename = {name: context.key(value) if dotted_name(value) else None for name, value in bound.items()}
    for param in parameters(function.params):
        rename.setdefault(param.name.value, None)  # defaults: objects we know nothing about
    return rename


def _constant_arguments(bound: dict, function) -> dict[str, bool]:
    """Parameters that the call (or their defaults) fixes to `True`, `False` or `None`."""
    truth = {"True": True, "False": False, "None": False}
    constants = {}
    for param in parameters(function.params):
        if isinstance(param.default, cst.Name) and param.default.value in truth:
            constants[param.name.value] = truth[param.default.value]
    for name, value in bound.items():
        if isinstance(value, cst.Name) and value.value in truth:
            constants[name] = truth[value.value]
        else:
            constants.pop(name, None)
    return constants


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
