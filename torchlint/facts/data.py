"""Data facts: which values are training, test or validation data, and what was fitted on them.

One ordered pass over each scope (the module, then each function as it is defined) follows
values through assignments the way a reader of a notebook does, cell after cell
(`data_interpreter`, `data_expressions`). Values are kept on the program model's bindings
(`data_bindings`): a load reads a binding of `Dataflow` that reaches it, and `self.<attr>` in a
method reads the attribute's stores in every method of the class and its same-module relatives
(`Program.self_stores`) when they agree on one role and one object, so the domain finds no
bindings of its own:

- a value's *role* comes from the words of the name it is bound to (`X_test`, `valid_df`,
  `holdout`; see `data_words`), and from flow: the outputs of `train_test_split` by position,
  `for train_idx, test_idx in kf.split(X)`, `pd.read_csv("test.csv")`, loaders named for a split,
  and expressions over role-bearing names;
- its *sources* are the data sets it was derived from (each reader or constructor call is one);
- its *taints* are the fits whose learned statistics it carries (`fit_transform` outputs, and
  `transform` outputs of an object fitted on it);
- annotations are evidence: a parameter or an annotated assignment typed `pd.DataFrame` is a
  frame, `pd.Series` is 1-D (also inside `Optional[...]`, `... | None`, or quoted);
- fitted objects (scalers, encoders, PCA, pipelines, estimators) are recognised from their
  constructor through imports and aliases, and every `fit`/`fit_transform`/`partial_fit`, use and
  split is recorded in program order.

The fact records and answers questions (`used_after`, `split_then_used`, `callers_of`...); the
rules decide what is a leak. The evaluation is approximate: branches are read in order, loops
once, and where several bindings reach a load the one evaluated last stands for all; methods are
read in source order, so a fit in one method comes "after" a fit in a method above it. Whenever it
cannot tell, it records nothing, so the rules stay silent.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from torchlint.facts.data_words import ACCEPTS_1D, HELD_OUT, TEST, TRAIN, VALID, Kind, Role
from torchlint.facts.evidence import Evidence

__all__ = ["HELD_OUT", "TEST", "TRAIN", "VALID", "Kind", "Role", "Because", "DataRoles", "Evidence"]


class Because(enum.Enum):
    """Why a value has a role or is 1-D: the reason of a data `Evidence`."""

    NAME = enum.auto()  # its name (`name`) says the role
    SPLIT_PART = enum.auto()  # a part returned by `train_test_split`, by position
    FOLD_INDICES = enum.auto()  # the train or test indices of a KFold-style `split`
    FILE_NAME = enum.auto()  # read from a file named for a split
    LOADER_NAME = enum.auto()  # returned by a function (`name`) named for a split
    SINGLE_COLUMN = enum.auto()  # `df["c"]`: one column of a frame
    SERIES = enum.auto()  # `pd.Series(...)`
    ONE_D_ARRAY = enum.auto()  # a numpy constructor that builds a 1-D array
    FLATTENED = enum.auto()  # `.ravel()` / `.flatten()` (`name` is the method)
    RESHAPED_1D = enum.auto()  # `.reshape(-1)`
    ANNOTATED = enum.auto()  # annotated with a 1-D type (`name` is the annotation)


@dataclass
class Fitted:
    """An object that learns from data when fitted: a transformer, pipeline or estimator."""

    kind: Kind
    class_name: str
    qualified: str | None
    node: Any  # where it was constructed (or first seen)
    fits: list[FitEvent] = field(default_factory=list)
    uses: list[tuple[int, Any, Value]] = field(default_factory=list)  # (order, call, data) of transforms

    @property
    def requires_2d(self) -> bool:
        if self.qualified is None or not self.qualified.startswith("sklearn."):
            return False
        module = self.qualified.split(".")[1]
        return (
            module in ("preprocessing", "impute", "feature_selection", "decomposition")
            and self.kind in (Kind.TRANSFORMER, Kind.DECOMPOSITION, Kind.STATELESS)
            and self.class_name not in ACCEPTS_1D
        )


@dataclass
class Value:
    """What the analysis knows about one value."""

    roles: frozenset[Role] = frozenset()
    role_evidence: Evidence | None = None
    sources: frozenset[int] = frozenset()
    taints: frozenset[int] = frozenset()  # ids of fits whose statistics this value carries
    obj: Fitted | None = None
    one_d: Evidence | None = None
    frame: bool = False
    data: bool = False  # looks like data rather than a literal, flag or function
    string: bool = False
    kfold: bool = False  # iterating it yields (train indices, test indices)
    split_call: Any = None  # the train_test_split call this is the result of
    split_inputs: tuple = ()  # the values given to that call, by position


@dataclass
class FitEvent:
    id: int
    order: int
    call: Any
    method: str
    obj: Fitted
    data_node: Any
    data: Value
    function: Any = None  # the enclosing FunctionDef, None at module level
    tainted_splits: list = field(default_factory=list)  # splits whose input carries this fit
    consumed: bool = False  # its output reached a model
    conditional: bool = False  # under an `if`/`while`/`except` inside a function: may not run


@dataclass
class CallSite:
    """A call of a module-level function of the same file, with what its arguments hold."""

    function: Any  # the FunctionDef
    call: Any
    arguments: dict[str, Any]  # parameter name -> the Value the call passes for it


@dataclass
class Split:
    order: int
    node: Any
    value: Value


@dataclass(frozen=True)
class OneDInput:
    """A 1-D value given to a data method (`fit`, `transform`...) of a fitted object."""

    call: Any
    method: str
    obj: Fitted
    argument: Any
    evidence: Evidence
    column_key: Any = None  # the string index of `df["c"]` given directly as the argument


def union(values: Iterable[Value]) -> Value:
    roles: set[Role] = set()
    sources: set[int] = set()
    taints: set[int] = set()
    evidence = None
    data = False
    for value in values:
        roles |= value.roles
        sources |= value.sources
        taints |= value.taints
        evidence = evidence or value.role_evidence
        data = data or value.data
    return Value(frozenset(roles), evidence, frozenset(sources), frozenset(taints), data=data)


def agreed(values: list[Value]) -> Value | None:
    """One value for the values several statements store (given in evaluation order), or None
    when they disagree on the role or on the fitted object they hold: the last one stands for
    all, frame, 1-D and folds only when every one is."""
    if not values:
        return None
    last = values[-1]
    if any(value.roles != last.roles or value.obj is not last.obj for value in values):
        return None
    return replace(
        last,
        frame=all(value.frame for value in values),
        one_d=last.one_d if all(value.one_d is not None for value in values) else None,
        kfold=all(value.kfold for value in values),
    )


def is_held_out(roles: frozenset[Role]) -> bool:
    """Test or validation data, or data that includes test rows."""
    return bool(roles) and (roles <= HELD_OUT or TEST in roles)


class DataRoles:
    """The data fact of one file: objects, fits, splits and 1-D inputs, in program order."""

    def __init__(self) -> None:
        self.fits: list[FitEvent] = []
        self.splits: list[Split] = []
        self.objects: list[Fitted] = []
        self.one_d_inputs: list[OneDInput] = []
        self.calls: list[CallSite] = []
        # source id of a parameter's value -> (FunctionDef, parameter name)
        self.parameters: dict[int, tuple[Any, str]] = {}
        self._values: dict[Any, Value] = {}
        self._fit_calls: dict[int, FitEvent] | None = None
        self._one_d_calls: dict[int, OneDInput] | None = None

    @classmethod
    def build(cls, facts) -> DataRoles:
        from torchlint.facts.data_interpreter import Interpreter

        roles = cls()
        try:
            Interpreter(roles, facts).run(facts.module)
        except RecursionError:
            return cls()  # an absurdly nested expression: know nothing rather than guess
        return roles

    def value_of(self, node) -> Value | None:
        """What was known about an expression node when it was evaluated (None if never)."""
        return self._values.get(node)

    def fit_at(self, call) -> FitEvent | None:
        """The fit that this call performs, if it is one."""
        if self._fit_calls is None:
            self._fit_calls = {id(fit.call): fit for fit in self.fits}
        return self._fit_calls.get(id(call))

    def one_d_input_at(self, call) -> OneDInput | None:
        """The 1-D value this call gives to a fitted object's data method, if any."""
        if self._one_d_calls is None:
            self._one_d_calls = {id(given.call): given for given in self.one_d_inputs}
        return self._one_d_calls.get(id(call))

    def roles_of(self, node) -> frozenset[Role]:
        value = self._values.get(node)
        return value.roles if value is not None else frozenset()

    # --- questions about fits -----------------------------------------------------------------

    def earlier_fits(self, fit: FitEvent, roles: frozenset[Role], *, same_class: bool = False) -> list[FitEvent]:
        """Fits before this one on data of exactly `roles`: of the same object, or (with
        `same_class`) of another object of the same known class in the same function."""
        if not same_class:
            return [f for f in fit.obj.fits if f.order < fit.order and f.data.roles == roles]
        if not fit.obj.class_name:
            return []
        return [
            f
            for f in self.fits
            if f.order < fit.order
            and f.obj is not fit.obj
            and f.obj.class_name == fit.obj.class_name
            and f.function is fit.function
            and f.data.roles == roles
        ]

    def used_after(self, fit: FitEvent) -> bool:
        """Is the object fitted here then used on anything but training data (before its next fit)?"""
        later_fits = [f.order for f in fit.obj.fits if f.order > fit.order]
        until = min(later_fits) if later_fits else None
        for order, _call, data in fit.obj.uses:
            if order <= fit.order or (until is not None and order > until):
                continue
            if data.roles != frozenset({TRAIN}):
                return True
        return False

    def uses_after(self, fit: FitEvent) -> Iterator[tuple[int, Any, Value]]:
        """(order, call, data) of each use of the object while this fit is its latest."""
        for order, call, data in fit.obj.uses:
            if order <= fit.order:
                continue
            latest = [f for f in fit.obj.fits if f.order < order]
            if latest and latest[-1] is fit:
                yield order, call, data

    def splits_of(self, fit: FitEvent, *, after: bool = False) -> list[Split]:
        """Splits of the data this fit learned from (only those after the fit, with `after`)."""
        return [
            s for s in self.splits if s.value.sources & fit.data.sources and (not after or s.order > fit.order)
        ]

    def split_then_used(self, fit: FitEvent) -> Any:
        """The first split of the fitted data, when the fitted object is then applied to a split part."""
        splits = self.splits_of(fit)
        if not splits:
            return None
        for _order, _call, data in self.uses_after(fit):
            if data.roles and data.sources & fit.data.sources:
                return splits[0].node
        return None

    def callers_of(self, fit: FitEvent) -> Iterator[tuple[CallSite, Value]]:
        """For a fit of a parameter of a module-level function: each call and the value it passes."""
        for source in sorted(fit.data.sources):
            if source not in self.parameters:
                continue
            function, name = self.parameters[source]
            for site in self.calls:
                if site.function is function and name in site.arguments:
                    yield site, site.arguments[name]
