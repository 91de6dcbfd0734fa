"""What a data expression evaluates to: names, attributes, subscripts, and calls into
scikit-learn, pandas and numpy (readers, constructors, fitted objects' methods, splits).

The half of the data interpreter (`data_interpreter`) that reads expressions; values of names come
from the program model's bindings (`data_bindings`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from torchlint._lazy import lazy_module
from torchlint.facts.data import Because, CallSite, Evidence, FitEvent, Fitted, OneDInput, Value, union
from torchlint.facts.data_shapes import (
    child_kind,
    column_key,
    explicit_categories,
    file_literal,
    numpy_1d,
    reshape_1d,
    single_column_index,
)
from torchlint.facts.data_words import (
    BUILTINS,
    DISPLAY_NAMES,
    FIT_METHODS,
    FRAME_MAKERS,
    FRAME_METHODS,
    METADATA_ATTRIBUTES,
    MODEL_METHODS,
    PREDICTIONS,
    READERS,
    SHAPE_METHODS,
    TRANSFORMER_NAME_WORDS,
    Kind,
    classify,
    is_bare_role_name,
    roles_of_file,
    roles_of_name,
    split_words,
)
from torchlint.facts.dataflow import Dataflow, Flow
from torchlint.facts.names import attribute_chain, dotted_name
from torchlint.facts.summaries import Summaries
from torchlint.walk import children

cst = lazy_module("libcst")


class Expressions:
    """Expression evaluation of the data interpreter (a mixin of `Interpreter`, which holds the
    state: `result`, `bindings`, `order`, `conditional`, `current_function`)."""

    def _value(self, node) -> Value:
        return self.result._values.get(node) or Value()

    def eval(self, node, flow: Flow) -> Value:
        value = self._eval(node, flow)
        self.result._values[node] = value
        return value

    def _eval(self, node, flow: Flow) -> Value:
        if isinstance(node, cst.Name):
            return self.eval_name(node, flow)
        if isinstance(node, cst.Attribute):
            return self.eval_attribute(node, flow)
        if isinstance(node, cst.Subscript):
            return self.eval_subscript(node, flow)
        if isinstance(node, cst.Call):
            return self.eval_call(node, flow)
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
            self.eval_children(node, flow)
            return Value(string=True)
        if isinstance(node, (cst.Integer, cst.Float, cst.Imaginary, cst.Ellipsis)):
            return Value()
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.BitInvert, cst.Not)):
            # `df[~train_mask]` selects the rows that are *not* training rows: the role is unknown.
            return replace(union(self.eval_children(node, flow)), roles=frozenset(), role_evidence=None)
        if isinstance(node, (cst.Lambda, cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
            return Value()  # comprehension variables are not bound here; nothing to learn
        return union(self.eval_children(node, flow))

    def eval_children(self, node, flow: Flow) -> list[Value]:
        values = []
        for child in children(node):
            kind = child_kind(type(child))
            if kind == "expression":
                values.append(self.eval(child, flow))
            elif kind == "container":
                values.extend(self.eval_children(child, flow))
        return values

    def eval_name(self, node, flow: Flow) -> Value:
        bound = self.bindings.lookup(flow, node)
        if bound is not None:
            return bound
        roles = roles_of_name(node.value)
        if roles and not is_bare_role_name(node.value):
            value = Value(roles, Evidence(node, Because.NAME, node.value, roles), data=True)
        elif node.value in self.names.aliases or node.value in BUILTINS:
            return Value()
        else:
            value = Value()
        # A name defined out of sight (another file, `%run`, a parameter) is one data set throughout.
        value.sources = frozenset({self.new_source()})
        self.bindings.remember_unbound(node.value, value)
        return value

    def eval_attribute(self, node, flow: Flow) -> Value:
        bound = self.bindings.lookup(flow, node)
        if bound is not None:
            return bound
        base = self.eval(node.value, flow)
        attr = node.attr.value
        if base.obj is not None:
            return Value()
        if attr == "values":
            return replace(base, frame=False, kfold=False, split_call=None)
        if attr in ("loc", "iloc"):
            return replace(base, one_d=None)
        if attr == "T":
            return replace(base, one_d=None, frame=base.frame)
        if attr in METADATA_ATTRIBUTES:
            return Value()  # `X_test.columns` names columns, not test rows
        value = replace(union([base]), frame=False)
        roles = roles_of_name(attr)
        if roles and (base.data or not is_bare_role_name(attr)):
            value = replace(
                value,
                roles=roles,
                role_evidence=Evidence(node, Because.NAME, attr, roles),
                data=True,
            )
        return value

    def eval_subscript(self, node, flow: Flow) -> Value:
        base = self.eval(node.value, flow)
        index_values = self.eval_children_of_slices(node, flow)
        value = union([base, *index_values])
        # `X[test_idx]` takes its role from the index; `X_train[cols]` keeps the frame's role.
        index_roles = frozenset(r for v in index_values for r in v.roles)
        value.roles = base.roles or index_roles
        value.role_evidence = (
            base.role_evidence if base.roles else next((v.role_evidence for v in index_values if v.roles), None)
        )
        value.sources, value.taints = base.sources, base.taints
        value.data = base.data or base.frame
        frame_base = base.frame or (
            isinstance(node.value, cst.Attribute)
            and node.value.attr.value in ("loc", "iloc")
            and self._value(node.value.value).frame
        )
        if not frame_base:
            return value
        one_column = single_column_index(node, index_values)
        if one_column:
            value.one_d = Evidence(node, Because.SINGLE_COLUMN)
        else:
            value.frame = True
        return value

    def eval_children_of_slices(self, node, flow: Flow) -> list[Value]:
        values = []
        for element in node.slice:
            values.extend(self.eval_children(element, flow))
        return values

    def eval_call(self, node, flow: Flow) -> Value:
        func = node.func
        qualified = self.names.qualified_name(func) if isinstance(func, (cst.Name, cst.Attribute)) else None
        if qualified is not None and self.bindings.is_bound(flow, attribute_chain(func)[0]):
            qualified = None  # a local variable shadows the import
        receiver = None
        if isinstance(func, cst.Attribute) and qualified is None:
            receiver = self.eval(func.value, flow)
        elif not isinstance(func, (cst.Name, cst.Attribute)):
            self.eval(func, flow)
        created_before = len(self.result.objects)
        args = [self.eval(arg.value, flow) for arg in node.args]
        positional = [(arg, value) for arg, value in zip(node.args, args) if arg.keyword is None and arg.star == ""]
        if qualified is not None:
            known = self.eval_known_call(node, qualified, positional, args, created_before)
            if known is not None:
                return known
        if receiver is not None:
            method = func.attr.value
            if receiver.obj is not None:
                return self.eval_method(node, method, receiver.obj, positional, args)
            guessed = self.guess_fitted(func.value, method, flow)
            if guessed is not None:
                return self.eval_method(node, method, guessed, positional, args)
            return self.eval_data_method(node, method, receiver, positional, args)
        return self.eval_plain_call(node, func, args, flow)

    def eval_known_call(self, node, qualified: str, positional, args, created_before) -> Value | None:
        leaf = qualified.rsplit(".", 1)[-1]
        if qualified in ("sklearn.model_selection.train_test_split", "sklearn.cross_validation.train_test_split"):
            inputs = tuple(value for _, value in positional)
            for _, value in positional:
                self.record_split(node, value)
            merged = union(inputs)
            return replace(merged, split_call=node, split_inputs=inputs, data=True)
        kind = classify(qualified)
        if kind == Kind.TRANSFORMER and leaf in ("OneHotEncoder", "OrdinalEncoder") and explicit_categories(node):
            kind = Kind.STATELESS  # the categories are given, not learned from the data
        if kind is not None:
            fitted = Fitted(kind, DISPLAY_NAMES.get(leaf, leaf), qualified, node)
            if kind == Kind.PIPELINE:
                steps = self.result.objects[created_before:]
                if steps and all(step.kind in (Kind.TRANSFORMER, Kind.DECOMPOSITION, Kind.STATELESS) for step in steps):
                    fitted.kind = Kind.TRANSFORMER
            self.result.objects.append(fitted)
            return Value(obj=fitted)
        if qualified in READERS:
            source = self.new_source()
            roles = frozenset()
            evidence = None
            first = node.args[0].value if node.args else None
            literal = file_literal(first)
            if literal is not None:
                roles = roles_of_file(literal.evaluated_value if isinstance(literal.evaluated_value, str) else "")
                if roles:
                    evidence = Evidence(literal, Because.FILE_NAME, roles=roles)
            return Value(roles, evidence, frozenset({source}), frame=qualified.startswith("pandas."), data=True)
        if qualified in FRAME_MAKERS:
            merged = union(args)
            if not merged.sources:
                merged.sources = frozenset({self.new_source()})
            return replace(merged, frame=True, data=True)
        one_d = Because.SERIES if qualified == "pandas.Series" else Because.ONE_D_ARRAY if numpy_1d(node, qualified) else None
        if one_d is not None:
            merged = union(args)
            return replace(merged, one_d=Evidence(node, one_d), data=True,
                           sources=merged.sources or frozenset({self.new_source()}))
        if qualified.startswith(("numpy.", "pandas.", "sklearn.datasets.", "torch.")):
            merged = union(args)
            if not merged.sources:
                merged.sources = frozenset({self.new_source()})
            merged.data = True
            return merged
        return None

    def eval_method(self, node, method: str, fitted: Fitted, positional, args) -> Value:
        data_node, data = _first_data_argument(node, positional)
        if method in SHAPE_METHODS and data is not None and data.one_d is not None:
            self.result.one_d_inputs.append(
                OneDInput(node, method, fitted, data_node, data.one_d, column_key(data_node))
            )
        if method in MODEL_METHODS and fitted.kind in (Kind.ESTIMATOR, Kind.PIPELINE):
            self.mark_consumed(args)
        self.order += 1
        if method in FIT_METHODS and data is not None:
            event = FitEvent(len(self.result.fits), self.order, node, method, fitted, data_node, data)
            event.conditional = self.conditional > 0
            event.function = self.current_function
            self.result.fits.append(event)
            fitted.fits.append(event)
            if method == "fit_transform":
                return Value(data.roles, data.role_evidence, data.sources, data.taints | {event.id}, data=True)
            return Value(obj=fitted)
        if method == "split" and fitted.kind == Kind.SPLITTER and data is not None:
            self.record_split(node, data)
            return Value(kfold=True)
        if method in ("transform", "inverse_transform") and data is not None:
            fitted.uses.append((self.order, node, data))
            taints = frozenset(fit.id for fit in fitted.fits[-1:])
            return Value(data.roles, data.role_evidence, data.sources, data.taints | taints, data=True)
        if method in PREDICTIONS:
            fitted.uses.append((self.order, node, data or Value()))
            return Value(sources=data.sources if data else frozenset(), data=True)
        if method in ("set_params",):
            return Value(obj=fitted)
        return Value()

    def eval_data_method(self, node, method: str, receiver: Value, positional, args) -> Value:
        if method in MODEL_METHODS:
            self.mark_consumed(args)
        if method in PREDICTIONS:
            return Value(sources=union(args).sources, data=True)
        merged = union([receiver, *args])
        merged.roles = receiver.roles or merged.roles
        merged.role_evidence = receiver.role_evidence if receiver.roles else merged.role_evidence
        merged.sources, merged.data = receiver.sources | merged.sources, receiver.data or merged.data
        if method in ("ravel", "flatten") and not node.args:
            merged.one_d = Evidence(node, Because.FLATTENED, method)
        elif method == "reshape" and reshape_1d(node):
            merged.one_d = Evidence(node, Because.RESHAPED_1D)
        elif method in ("to_numpy", "copy", "astype", "fillna", "dropna") and receiver.one_d is not None:
            merged.one_d = receiver.one_d
        if receiver.frame and method in FRAME_METHODS:
            merged.frame = True
        return merged

    def eval_plain_call(self, node, func, args, flow: Flow) -> Value:
        if isinstance(func, cst.Name) and func.value in self.names.functions:
            self.record_call(node, args)
        merged = union(args)
        name = (
            func.value if isinstance(func, cst.Name) else (func.attr.value if isinstance(func, cst.Attribute) else "")
        )
        if name in ("enumerate", "zip", "list", "iter") and len(args) == 1 and args[0].kfold:
            return args[0]
        if name in ("print", "len", "type", "isinstance", "display", "str", "repr", "range"):
            return Value()
        roles = roles_of_name(name) if name.startswith(("load", "get", "read", "make", "fetch")) else frozenset()
        if roles:
            merged = replace(
                merged, roles=roles, role_evidence=Evidence(func, Because.LOADER_NAME, name, roles)
            )
        if not merged.sources:
            merged.sources = frozenset({self.new_source()})
        merged.data = True
        return merged

    def record_call(self, node, args: list[Value]) -> None:
        """A call of a module-level function of the file: what it passes for each parameter."""
        summaries = self.facts.get(Summaries)
        function = summaries.callee(node)
        if function is None or self.facts.get(Dataflow).enclosing_function(function) is not None:
            return
        values = {id(arg.value): value for arg, value in zip(node.args, args)}
        passed = {name: values[id(expr)] for name, expr in summaries.arguments(node, function).items() if id(expr) in values}
        self.result.calls.append(CallSite(function, node, passed))

    def guess_fitted(self, receiver_node, method: str, flow: Flow) -> Fitted | None:
        """An unresolved `scaler.fit_transform(...)`: a transformer by its name alone."""
        if method not in ("fit_transform", "fit", "transform", "partial_fit"):
            return None
        key = dotted_name(receiver_node)
        if key is None:
            return None
        bound = self.bindings.lookup(flow, receiver_node)
        if bound is not None and (bound.data or bound.string):
            return None
        words = split_words(key.rsplit(".", 1)[-1])
        if not any(word in TRANSFORMER_NAME_WORDS for word in words):
            return None
        fitted = Fitted(Kind.TRANSFORMER, "", None, receiver_node)  # class unknown: named by the variable only
        self.result.objects.append(fitted)
        self.bindings.record(flow, receiver_node, Value(obj=fitted))
        return fitted

    def mark_consumed(self, args: list[Value]) -> None:
        taints = set().union(*(value.taints for value in args)) if args else set()
        for fit in self.result.fits:
            if fit.id in taints:
                fit.consumed = True

    def new_source(self) -> int:
        self.next_source += 1
        return self.next_source


def _first_data_argument(node, positional) -> tuple[Any, Value | None]:
    for arg in node.args:
        if arg.keyword is not None and arg.keyword.value in ("X", "raw_documents"):
            return arg.value, None
    if positional:
        arg, value = positional[0]
        return arg.value, value
    return None, None
