"""Which `DistributedSampler` a loader draws from, followed through the module.

A loader is known to draw from a sampler when every value a name may hold says so:

- `DataLoader(ds, sampler=<sampler>)`, or `DataLoader(ds, batch_sampler=BatchSampler(<sampler>, ...))`;
- another name that holds such a loader (`loader = train_loader`);
- the return value of a same-module function (`loader = build_loader(ds)`), also one element of
  the tuple it returns (`train_loader, val_loader = prepare_dataset()`), when every `return` of
  that function gives such a loader;
- a parameter of the function the loop is in, when that function is called in this module and
  every call passes such a loader (`train(model, train_loader)` with `train_loader` built above);
  for `__init__`, the calls of its class (`Trainer(model, train_loader)`), so that
  `self.train_data = train_data` leads to the loader the module built.

Anything else (a call of an imported factory, `accelerator.prepare(loader)`, a parameter of a
function nobody here calls) is unknown, and unknown loaders are never judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torchlint._lazy import lazy_module
from torchlint.facts.names import dotted_name, is_none_literal
from torchlint.facts.program import Program
from torchlint.facts.statements import body_of, calls_in, header_expressions, iter_statements, parameters, small_statements
from torchlint.facts.summaries import Summaries

cst = lazy_module("libcst")

FOLLOW_DEPTH = 4  # helper returns, call sites and aliases followed, in all
_BATCH_SAMPLERS = ("torch.utils.data.BatchSampler", "torch.utils.data.sampler.BatchSampler")


@dataclass(frozen=True)
class Unpacked:
    """One target of an unpacking assignment: `index` of what `value` gives (None: starred, nested)."""

    value: Any
    index: int | None


class LoaderSources:
    """Follows a loader name to the sampler it draws from; built by `Schedules` on demand."""

    def __init__(self, schedules) -> None:
        self.schedules = schedules
        self.facts = schedules.facts
        self.names = schedules.names
        self._callers: dict[int, list] | None = None  # id(def) -> [(call, function the call is in)]

    # --- the question -------------------------------------------------------------------------

    def sampler_of(self, key: str, scope, depth: int = 0):
        """The DistributedSampler (a `Sampler`) every value of `key` in `scope` draws from, or None."""
        if depth > FOLLOW_DEPTH:
            return None
        root = key.split(".")[0]
        if self._is_parameter(scope, root):
            return self._from_callers(scope, root, key[len(root):], depth) if key == root else None
        values = self.schedules.values(key, scope)
        # `self.loader = loader` in `__init__` reads `loader` there, not where `self.loader` is used
        return _agreed([self.value_sampler(value, self.schedules.scope_of(value, scope), depth) for value in values])

    def value_sampler(self, value, scope, depth: int = 0):
        if depth > FOLLOW_DEPTH or value is None:
            return None
        if isinstance(value, Unpacked):
            helper = self._helper(value.value)
            return self._returned(helper, value.index, depth + 1) if helper is not None and value.index is not None \
                else None
        key = dotted_name(value)
        if key is not None:
            return self.sampler_of(key, scope, depth + 1)
        if not isinstance(value, cst.Call):
            return None
        if self.schedules.is_loader_call(value):
            return self._loader_sampler(value, scope)
        helper = self._helper(value)
        return self._returned(helper, None, depth + 1) if helper is not None else None

    # --- a DataLoader(...) call ---------------------------------------------------------------

    def _loader_sampler(self, call, scope):
        from torchlint.facts.schedules import Sampler, shuffle_of

        for arg in call.args:
            if arg.keyword is None or arg.keyword.value not in ("sampler", "batch_sampler"):
                continue
            given = arg.value
            if arg.keyword.value == "batch_sampler":
                given = self._batched(given, scope)
                if given is None:
                    return None
            key = dotted_name(given)
            built = self.schedules.values(key, scope) if key is not None else [given]
            # `DistributedSampler(ds) if distributed else None`, or an `if`/`else` binding both:
            # the single-process branch has no sampler and no epoch to set.
            alternatives = [v for value in built for v in _alternatives(value)]
            samplers = [v for v in alternatives if self.schedules.is_sampler_call(v)]
            if len(samplers) == 1 and all(v is samplers[0] or is_none_literal(v) for v in alternatives):
                return Sampler(key or "", samplers[0], shuffle_of(samplers[0]))
        return None

    def _batched(self, given, scope):
        """The sampler a `BatchSampler(<sampler>, ...)` wraps (bound to a name once, or inline)."""
        key = dotted_name(given)
        values = self.schedules.values(key, scope) if key is not None else [given]
        if len(values) != 1 or not isinstance(values[0], cst.Call):
            return None
        call = values[0]
        if self.names.qualified_name(call.func) not in _BATCH_SAMPLERS:
            return None
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == "sampler":
                return arg.value
        positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
        return positional[0].value if positional else None

    # --- same-module functions ------------------------------------------------------------------

    def _helper(self, value):
        return self.facts.get(Summaries).callee(value) if isinstance(value, cst.Call) else None

    def _returned(self, function, index: int | None, depth: int):
        """The sampler every `return` of `function` gives (element `index` of a returned tuple)."""
        found = []
        for statement in iter_statements(body_of(function.body), into_functions=False, into_classes=False):
            for small in small_statements(statement):
                if not isinstance(small, cst.Return):
                    continue
                value = small.value
                if index is not None:
                    if not isinstance(value, cst.Tuple) or index >= len(value.elements) \
                            or isinstance(value.elements[index], cst.StarredElement):
                        return None
                    value = value.elements[index].value
                found.append(self.value_sampler(value, function, depth))
        return _agreed(found)

    def _from_callers(self, function, parameter: str, rest: str, depth: int):
        """The sampler every same-module call of `function` passes as `parameter`."""
        summaries = self.facts.get(Summaries)
        found = []
        for call, caller, constructs in self._calls_of(function):
            bound = _constructor_arguments(call, function) if constructs else summaries.arguments(call, function)
            argument = bound.get(parameter)
            if argument is None:
                return None  # a default, or a position we cannot read
            found.append(self.value_sampler(argument, caller, depth + 1))
        return _agreed(found)

    def _calls_of(self, function) -> list:
        if self._callers is None:
            self._callers = {}
            summaries, program = self.facts.get(Summaries), self.facts.get(Program)
            for call, caller in _calls_with_scope(self.facts.module):
                callee = summaries.callee(call)
                if callee is not None:
                    self._callers.setdefault(id(callee), []).append((call, caller, False))
                    continue
                cls = program.local_class(call.func)  # `Trainer(model, loader)` runs `Trainer.__init__`
                init = program.method(cls, "__init__") if cls is not None else None
                if init is not None:
                    self._callers.setdefault(id(init), []).append((call, caller, True))
        return self._callers.get(id(function), [])

    def _is_parameter(self, function, root: str) -> bool:
        return function is not None and root != "self" and any(p.name.value == root for p in parameters(function.params))


def _constructor_arguments(call, init) -> dict:
    """`Cls(a, b=c)` -> `__init__`'s parameters (after `self`) and their arguments; positions
    after a `*args` are unknown."""
    params = [p.name.value for p in (*init.params.posonly_params, *init.params.params)][1:]
    bound: dict = {}
    positions_known = True
    for index, arg in enumerate(call.args):
        if arg.keyword is not None:
            bound[arg.keyword.value] = arg.value
        elif arg.star:
            positions_known = False
        elif positions_known and index < len(params):
            bound[params[index]] = arg.value
    return bound


def _calls_with_scope(module):
    """Every call of the module with the function it is in (None: the module's own code)."""
    stack = [(module.body, None)]
    while stack:
        body, function = stack.pop()
        for statement in iter_statements(body, into_functions=False, into_classes=True):
            if isinstance(statement, cst.FunctionDef):
                stack.append((body_of(statement.body), statement))
                continue
            for expression in header_expressions(statement):
                for call in calls_in(expression):
                    yield call, function


def _agreed(samplers: list):
    """The one sampler all answers name (by its construction), or None (no answer, or any unknown)."""
    if not samplers or any(s is None for s in samplers):
        return None
    first = samplers[0]
    return first if all(s.node is first.node for s in samplers) else None


def _alternatives(value) -> list:
    """The values an expression may take: both arms of `a if c else b`."""
    if isinstance(value, cst.IfExp):
        return _alternatives(value.body) + _alternatives(value.orelse)
    return [value]


