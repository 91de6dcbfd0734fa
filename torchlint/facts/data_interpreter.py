"""The data interpreter: one ordered pass over each scope that records what `DataRoles` holds.

See `torchlint.facts.data` for what is recorded and why; this module is the walk that does it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from torchlint._lazy import lazy_module
from torchlint.facts.data import (
    Because,
    CallSite,
    DataRoles,
    Evidence,
    FitEvent,
    Fitted,
    OneDInput,
    Scope,
    Split,
    Value,
    root_scope,
    union,
)
from torchlint.facts.data_shapes import (
    child_kind,
    column_key,
    drops_rows,
    explicit_categories,
    file_literal,
    numpy_1d,
    reshape_1d,
    single_column_index,
    strip_indexers,
)
from torchlint.facts.data_words import (
    BUILTINS,
    DISPLAY_NAMES,
    FIT_METHODS,
    FRAME_MAKERS,
    FRAME_METHODS,
    HELD_OUT,
    METADATA_ATTRIBUTES,
    MODEL_METHODS,
    PREDICTIONS,
    READERS,
    ROW_SUBSET_METHODS,
    SHAPE_METHODS,
    TEST,
    TRAIN,
    TRANSFORMER_NAME_WORDS,
    Kind,
    classify,
    is_bare_role_name,
    roles_of_file,
    roles_of_name,
    split_words,
)
from torchlint.facts.dataflow import Dataflow
from torchlint.facts.names import dotted_name
from torchlint.facts.summaries import Summaries
from torchlint.facts.statements import body_of, parameters
from torchlint.walk import children

cst = lazy_module("libcst")


class Interpreter:
    """Evaluates a module's statements in order, recording into a `DataRoles`."""

    def __init__(self, result: DataRoles, facts) -> None:
        self.result = result
        self.facts = facts
        self.names = facts.names
        self.order = 0
        self.next_source = 0
        self.conditional = 0  # depth of conditional blocks inside the current function
        self.current_function = None  # the FunctionDef being evaluated, None at module level

    # --- statements ---------------------------------------------------------------------------

    def run(self, module) -> None:
        self.block(module.body, Scope())

    def block(self, statements, scope: Scope) -> None:
        for statement in statements:
            self.statement(statement, scope)

    def statement(self, statement, scope: Scope) -> None:
        if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            for small in statement.body:
                self.small_statement(small, scope)
        elif isinstance(statement, cst.FunctionDef):
            self.function(statement, scope)
        elif isinstance(statement, cst.ClassDef):
            self.block(body_of(statement.body), Scope(scope))
        elif isinstance(statement, cst.For):
            self.for_loop(statement, scope)
        elif isinstance(statement, (cst.If, cst.While)):
            self.eval(statement.test, scope)
            self.conditional += 1
            self.block(body_of(statement.body), scope)
            if statement.orelse is not None:
                orelse = statement.orelse
                self.block([orelse] if isinstance(orelse, cst.If) else body_of(orelse.body), scope)
            self.conditional -= 1
        elif isinstance(statement, cst.With):
            for item in statement.items:
                value = self.eval(item.item, scope)
                if item.asname is not None:
                    self.bind(item.asname.name, value, item.item, scope)
            self.block(body_of(statement.body), scope)
        elif isinstance(statement, (cst.Try, getattr(cst, "TryStar", cst.Try))):
            self.block(body_of(statement.body), scope)
            self.conditional += 1
            for handler in statement.handlers:
                self.block(body_of(handler.body), scope)
            self.conditional -= 1
            for part in (statement.orelse, statement.finalbody):
                if part is not None:
                    self.block(body_of(part.body), scope)
        elif isinstance(statement, cst.Match):
            self.eval(statement.subject, scope)
            self.conditional += 1
            for case in statement.cases:
                self.block(body_of(case.body), scope)
            self.conditional -= 1

    def function(self, node, scope: Scope) -> None:
        inner = Scope(scope)
        module_level = scope.parent is None
        for param in parameters(node.params):
            name = param.name.value
            roles = roles_of_name(name)
            if roles and not is_bare_role_name(name):
                evidence = Evidence(param.name, Because.NAME, name, roles)
                inner.bindings[name] = self.annotated(param, Value(roles, evidence, data=True))
            else:
                # What a parameter holds is decided at each call: remember where it came from.
                source = self.new_source()
                inner.bindings[name] = self.annotated(param, Value(sources=frozenset({source})))
                if module_level:
                    self.result.parameters[source] = (node, name)
        outer = self.conditional, self.current_function
        self.conditional, self.current_function = 0, node
        self.block(body_of(node.body), inner)
        self.conditional, self.current_function = outer

    def annotated(self, param, value: Value) -> Value:
        """A parameter's annotation is evidence of what it holds: a frame, a 1-D Series, an array."""
        if param.annotation is None or not isinstance(param.annotation.annotation, (cst.Name, cst.Attribute)):
            return value
        qualified = self.names.qualified_name(param.annotation.annotation)
        if qualified == "pandas.DataFrame":
            return replace(value, frame=True, data=True)
        if qualified == "pandas.Series":
            return replace(value, one_d=Evidence(param.annotation.annotation, Because.ANNOTATED, qualified), data=True)
        if qualified in ("numpy.ndarray", "torch.Tensor"):
            return replace(value, data=True)
        return value

    def for_loop(self, node, scope: Scope) -> None:
        iterable = node.iter
        value = self.eval(iterable, scope)
        target = node.target
        if (
            not value.kfold
            and isinstance(iterable, cst.Call)
            and isinstance(iterable.func, cst.Name)
            and iterable.func.value == "enumerate"
            and iterable.args
            and self._value(iterable.args[0].value).kfold
            and isinstance(target, (cst.Tuple, cst.List))
            and len(target.elements) == 2
        ):
            self.bind(target.elements[0].value, Value(), None, scope)
            target, value = target.elements[1].value, self._value(iterable.args[0].value)
        if value.kfold and isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2:
            for element, role in zip(target.elements, (TRAIN, TEST)):
                self.bind(
                    element.value,
                    Value(frozenset({role}), Evidence(iterable, Because.FOLD_INDICES, roles=frozenset({role})), data=True),
                    None,
                    scope,
                    flow_role=True,
                )
        else:
            self.bind(target, replace(value, kfold=False, obj=None, split_call=None), None, scope)
        self.block(body_of(node.body), scope)
        if node.orelse is not None:
            self.block(body_of(node.orelse.body), scope)

    def small_statement(self, small, scope: Scope) -> None:
        if isinstance(small, cst.Assign):
            value = self.eval(small.value, scope)
            for target in small.targets:
                self.bind(target.target, value, small.value, scope)
        elif isinstance(small, cst.AnnAssign) and small.value is not None:
            self.bind(small.target, self.eval(small.value, scope), small.value, scope)
        elif isinstance(small, cst.AugAssign):
            value = self.eval(small.value, scope)
            current = self.eval(small.target, scope)
            merged = union([current, value])
            merged.roles = current.roles or value.roles
            self.bind(small.target, merged, None, scope)
        elif isinstance(small, (cst.Expr, cst.Return)) and small.value is not None:
            self.eval(small.value, scope)

    # --- binding ------------------------------------------------------------------------------

    def bind(self, target, value: Value, value_node, scope: Scope, flow_role: bool = False) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            self.bind_many(target, value, value_node, scope)
        elif isinstance(target, cst.StarredElement):
            self.bind(target.value, replace(value, obj=None), None, scope)
        elif isinstance(target, cst.Name):
            self.bind_name(target.value, target, value, value_node, scope, flow_role)
        elif isinstance(target, cst.Attribute):
            key = dotted_name(target)
            base = dotted_name(target.value)
            base_value = scope.lookup(base) if base else None
            if base_value is not None and base_value.data and base_value.obj is None:
                self.assign_into(base, base_value, value, scope)  # `df.col = ...`: a column
            elif key is not None:
                self.bind_name(key, target.attr, value, value_node, scope, flow_role)
        elif isinstance(target, cst.Subscript):
            base_node = strip_indexers(target.value)
            base = dotted_name(base_node)
            base_value = scope.lookup(base) if base else None
            if base_value is not None:
                self.assign_into(base, base_value, value, scope)

    def bind_many(self, target, value: Value, value_node, scope: Scope) -> None:
        elements = [e.value for e in target.elements]
        if value.split_call is not None and len(value.split_inputs) * 2 == len(elements):
            for index, element in enumerate(elements):
                source = value.split_inputs[index // 2]
                role = TRAIN if index % 2 == 0 else TEST
                part = replace(
                    source,
                    roles=frozenset({role}),
                    role_evidence=Evidence(value.split_call, Because.SPLIT_PART, roles=frozenset({role})),
                    obj=None,
                    one_d=source.one_d,
                    kfold=False,
                    split_call=None,
                    split_inputs=(),
                )
                self.bind(element, part, None, scope, flow_role=True)
            return
        pairwise = (
            isinstance(value_node, (cst.Tuple, cst.List))
            and len(value_node.elements) == len(elements)
            and not any(isinstance(e, cst.StarredElement) for e in value_node.elements)
        )
        if pairwise:  # `X_train, X_test = X[:800], X[800:]`
            for element, source in zip(elements, value_node.elements):
                self.bind(element, self._value(source.value), source.value, scope)
            return
        for element in elements:
            self.bind(element, replace(value, obj=None, one_d=None, split_call=None), None, scope)

    def bind_name(self, key: str, name_node, value: Value, value_node, scope: Scope, flow_role: bool) -> None:
        leaf = key.rsplit(".", 1)[-1]
        named = roles_of_name(leaf)
        if named and is_bare_role_name(leaf) and not (value.data or value.obj is not None):
            named = frozenset()  # `test = "abc"`, `val = 0.2`: not data
        if value.obj is not None:
            named = frozenset()  # `val_scaler = StandardScaler()` holds no data
        if (
            named
            and flow_role
            and value.roles
            and not (named & value.roles)
            and (named <= HELD_OUT) == (value.roles <= HELD_OUT)
        ):
            flow_role = False  # `X_train, X_valid = train_test_split(...)`: the name says which held-out set
        if named and not flow_role:
            evidence = Evidence(name_node, Because.NAME, leaf, named)
            if value.roles and value.roles <= named and value.role_evidence is not None:
                evidence = value.role_evidence
            bound = replace(value, roles=named, role_evidence=evidence, data=True)
            if value_node is not None:
                self.maybe_slice_split(value_node, named, scope)
        else:
            bound = value
        scope.bindings[key] = replace(bound, split_call=None, split_inputs=(), kfold=bound.kfold)

    def assign_into(self, key: str, base: Value, value: Value, scope: Scope) -> None:
        """`df[cols] = scaled`: the frame now carries what the new columns carry."""
        scope.bindings[key] = replace(base, taints=base.taints | value.taints, sources=base.sources | value.sources)

    def maybe_slice_split(self, value_node, named: frozenset[str], scope: Scope) -> None:
        """`test = data[n:]`, `X_train = X.iloc[:800]`: a manual split of whole data."""
        node = value_node
        sampled = False
        while (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and node.func.attr.value in ROW_SUBSET_METHODS
        ):
            # `df.sample(frac=0.8)` and `df.drop(train.index)` choose rows; `df.drop("id", axis=1)` does not.
            method = node.func.attr.value
            sampled = sampled or method in ("sample", "head", "tail") or (method == "drop" and drops_rows(node))
            node = node.func.value
        if isinstance(node, cst.Attribute) and node.attr.value == "values":
            node = node.value
        if isinstance(node, cst.Subscript):
            node = strip_indexers(node.value)
        elif not (sampled and isinstance(node, (cst.Name, cst.Attribute))):
            return
        base = self._value(node)
        if base is None or not base.sources:
            return
        if len(base.roles) == 1:
            return  # carving a validation set out of training data is not a split of whole data
        self.record_split(value_node, base)

    def record_split(self, node, value: Value) -> None:
        self.order += 1
        self.result.splits.append(Split(self.order, node, value))
        fits = {fit.id: fit for fit in self.result.fits}
        for taint in value.taints:
            if taint in fits and node not in fits[taint].tainted_splits:
                fits[taint].tainted_splits.append(node)

    # --- expressions --------------------------------------------------------------------------

    def _value(self, node) -> Value:
        return self.result._values.get(node) or Value()

    def eval(self, node, scope: Scope) -> Value:
        value = self._eval(node, scope)
        self.result._values[node] = value
        return value

    def _eval(self, node, scope: Scope) -> Value:
        if isinstance(node, cst.Name):
            return self.eval_name(node, scope)
        if isinstance(node, cst.Attribute):
            return self.eval_attribute(node, scope)
        if isinstance(node, cst.Subscript):
            return self.eval_subscript(node, scope)
        if isinstance(node, cst.Call):
            return self.eval_call(node, scope)
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
            self.eval_children(node, scope)
            return Value(string=True)
        if isinstance(node, (cst.Integer, cst.Float, cst.Imaginary, cst.Ellipsis)):
            return Value()
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.BitInvert, cst.Not)):
            # `df[~train_mask]` selects the rows that are *not* training rows: the role is unknown.
            return replace(union(self.eval_children(node, scope)), roles=frozenset(), role_evidence=None)
        if isinstance(node, (cst.Lambda, cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
            return Value()  # comprehension variables are not bound here; nothing to learn
        return union(self.eval_children(node, scope))

    def eval_children(self, node, scope: Scope) -> list[Value]:
        values = []
        for child in children(node):
            kind = child_kind(type(child))
            if kind == "expression":
                values.append(self.eval(child, scope))
            elif kind == "container":
                values.extend(self.eval_children(child, scope))
        return values

    def eval_name(self, node, scope: Scope) -> Value:
        bound = scope.lookup(node.value)
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
        root_scope(scope).bindings[node.value] = value
        return value

    def eval_attribute(self, node, scope: Scope) -> Value:
        key = dotted_name(node)
        if key is not None:
            bound = scope.lookup(key)
            if bound is not None:
                return bound
        base = self.eval(node.value, scope)
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

    def eval_subscript(self, node, scope: Scope) -> Value:
        base = self.eval(node.value, scope)
        index_values = self.eval_children_of_slices(node, scope)
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

    def eval_children_of_slices(self, node, scope: Scope) -> list[Value]:
        values = []
        for element in node.slice:
            values.extend(self.eval_children(element, scope))
        return values

    def eval_call(self, node, scope: Scope) -> Value:
        func = node.func
        qualified = self.names.qualified_name(func) if isinstance(func, (cst.Name, cst.Attribute)) else None
        if qualified is not None and isinstance(func, (cst.Name, cst.Attribute)):
            root = (dotted_name(func) or "").split(".")[0]
            if scope.lookup(root) is not None:
                qualified = None  # a local variable shadows the import
        receiver = None
        if isinstance(func, cst.Attribute) and qualified is None:
            receiver = self.eval(func.value, scope)
        elif not isinstance(func, (cst.Name, cst.Attribute)):
            self.eval(func, scope)
        created_before = len(self.result.objects)
        args = [self.eval(arg.value, scope) for arg in node.args]
        positional = [(arg, value) for arg, value in zip(node.args, args) if arg.keyword is None and arg.star == ""]
        if qualified is not None:
            known = self.eval_known_call(node, qualified, positional, args, created_before)
            if known is not None:
                return known
        if receiver is not None:
            method = func.attr.value
            if receiver.obj is not None:
                return self.eval_method(node, method, receiver.obj, positional, args)
            guessed = self.guess_fitted(func.value, method, scope)
            if guessed is not None:
                return self.eval_method(node, method, guessed, positional, args)
            return self.eval_data_method(node, method, receiver, positional, args)
        return self.eval_plain_call(node, func, args, scope)

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
        if qualified == "pandas.Series":
            merged = union(args)
            return replace(
                merged,
                one_d=Evidence(node, Because.SERIES),
                data=True,
                sources=merged.sources or frozenset({self.new_source()}),
            )
        if numpy_1d(node, qualified):
            merged = union(args)
            return replace(
                merged,
                one_d=Evidence(node, Because.ONE_D_ARRAY),
                data=True,
                sources=merged.sources or frozenset({self.new_source()}),
            )
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

    def eval_plain_call(self, node, func, args, scope: Scope) -> Value:
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

    def guess_fitted(self, receiver_node, method: str, scope: Scope) -> Fitted | None:
        """An unresolved `scaler.fit_transform(...)`: a transformer by its name alone."""
        if method not in ("fit_transform", "fit", "transform", "partial_fit"):
            return None
        key = dotted_name(receiver_node)
        if key is None:
            return None
        bound = scope.lookup(key)
        if bound is not None and (bound.data or bound.string):
            return None
        words = split_words(key.rsplit(".", 1)[-1])
        if not any(word in TRANSFORMER_NAME_WORDS for word in words):
            return None
        fitted = Fitted(Kind.TRANSFORMER, "", None, receiver_node)  # class unknown: named by the variable only
        self.result.objects.append(fitted)
        scope.bindings[key] = Value(obj=fitted)
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
