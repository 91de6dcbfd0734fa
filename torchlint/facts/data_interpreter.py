"""The data interpreter: one ordered pass over each scope that records what `DataRoles` holds.

See `torchlint.facts.data` for what is recorded and why. This module walks statements and binds
targets; what an expression evaluates to is `data_expressions`, and where values live is
`data_bindings`: on the bindings of the program model (`Dataflow`), never on scopes of its own.
A def's body is read where the def stands, so it sees the enclosing names as they are there.
"""

from __future__ import annotations

from dataclasses import replace

from torchlint._lazy import lazy_module
from torchlint.facts.data import Because, DataRoles, Evidence, Split, Value, union
from torchlint.facts.data_bindings import DataBindings
from torchlint.facts.data_expressions import Expressions
from torchlint.facts.data_shapes import drops_rows, strip_indexers
from torchlint.facts.data_words import HELD_OUT, ROW_SUBSET_METHODS, TEST, TRAIN, is_bare_role_name, roles_of_name
from torchlint.facts.dataflow import Dataflow, Flow, Scope
from torchlint.facts.names import dotted_name, unwrap_optional
from torchlint.facts.program import Program
from torchlint.facts.statements import body_of, parameters

cst = lazy_module("libcst")


class Interpreter(Expressions):
    """Evaluates a module's statements in order, recording into a `DataRoles`."""

    def __init__(self, result: DataRoles, facts) -> None:
        self.result = result
        self.facts = facts
        self.names = facts.names
        self.dataflow: Dataflow = facts.get(Dataflow)
        self.bindings = DataBindings(self.dataflow, facts.get(Program))
        self.order = 0
        self.next_source = 0
        self.conditional = 0  # depth of conditional blocks inside the current function
        self.current_function = None  # the FunctionDef being evaluated, None at module level

    # --- statements ---------------------------------------------------------------------------

    def run(self, module) -> None:
        self.block(module.body, self.dataflow.flow_of(module))

    def block(self, statements, flow: Flow) -> None:
        for statement in statements:
            self.statement(statement, flow)

    def statement(self, statement, flow: Flow) -> None:
        if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            for small in statement.body:
                self.small_statement(small, flow)
        elif isinstance(statement, cst.FunctionDef):
            self.function(statement, flow)
        elif isinstance(statement, cst.ClassDef):
            self.block(body_of(statement.body), self.dataflow.flow_of(statement))
        elif isinstance(statement, cst.For):
            self.for_loop(statement, flow)
        elif isinstance(statement, (cst.If, cst.While)):
            self.eval(statement.test, flow)
            self.conditional += 1
            self.block(body_of(statement.body), flow)
            if statement.orelse is not None:
                orelse = statement.orelse
                self.block([orelse] if isinstance(orelse, cst.If) else body_of(orelse.body), flow)
            self.conditional -= 1
        elif isinstance(statement, cst.With):
            for item in statement.items:
                value = self.eval(item.item, flow)
                if item.asname is not None:
                    self.bind(item.asname.name, value, item.item, flow)
            self.block(body_of(statement.body), flow)
        elif isinstance(statement, (cst.Try, getattr(cst, "TryStar", cst.Try))):
            self.block(body_of(statement.body), flow)
            self.conditional += 1
            for handler in statement.handlers:
                self.block(body_of(handler.body), flow)
            self.conditional -= 1
            for part in (statement.orelse, statement.finalbody):
                if part is not None:
                    self.block(body_of(part.body), flow)
        elif isinstance(statement, cst.Match):
            self.eval(statement.subject, flow)
            self.conditional += 1
            for case in statement.cases:
                self.block(body_of(case.body), flow)
            self.conditional -= 1

    def function(self, node, flow: Flow) -> None:
        inner = self.dataflow.flow_of(node)
        module_level = flow.kind is Scope.MODULE
        for param in parameters(node.params):
            name = param.name.value
            roles = roles_of_name(name)
            if roles and not is_bare_role_name(name):
                evidence = Evidence(param.name, Because.NAME, name, roles)
                self.bindings.record_parameter(inner, param, self.annotated(param, Value(roles, evidence, data=True)))
            else:
                # What a parameter holds is decided at each call: remember where it came from.
                source = self.new_source()
                self.bindings.record_parameter(inner, param, self.annotated(param, Value(sources=frozenset({source}))))
                if module_level:
                    self.result.parameters[source] = (node, name)
        outer = self.conditional, self.current_function
        self.conditional, self.current_function = 0, node
        self.block(body_of(node.body), inner)
        self.conditional, self.current_function = outer

    def annotated(self, target, value: Value) -> Value:
        """The annotation of a parameter or an annotated assignment is evidence of what it holds:
        a frame, a 1-D Series, an array (also `Optional[...]`, `... | None` and in quotes)."""
        annotation = self.annotated_type(target.annotation.annotation) if target.annotation is not None else None
        if annotation is None:
            return value
        qualified = self.names.qualified_name(annotation)
        if qualified == "pandas.DataFrame":
            return replace(value, frame=True, data=True)
        if qualified == "pandas.Series":
            return replace(value, one_d=Evidence(target.annotation.annotation, Because.ANNOTATED, qualified), data=True)
        if qualified in ("numpy.ndarray", "torch.Tensor"):
            return replace(value, data=True)
        return value

    def annotated_type(self, annotation):
        """The one type an annotation names (a Name or attribute chain), None for anything else."""
        annotation = unwrap_optional(annotation, self.names)
        return annotation if isinstance(annotation, (cst.Name, cst.Attribute)) else None

    def for_loop(self, node, flow: Flow) -> None:
        iterable = node.iter
        value = self.eval(iterable, flow)
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
            self.bind(target.elements[0].value, Value(), None, flow)
            target, value = target.elements[1].value, self._value(iterable.args[0].value)
        if value.kfold and isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2:
            for element, role in zip(target.elements, (TRAIN, TEST)):
                self.bind(
                    element.value,
                    Value(frozenset({role}), Evidence(iterable, Because.FOLD_INDICES, roles=frozenset({role})), data=True),
                    None,
                    flow,
                    flow_role=True,
                )
        else:
            self.bind(target, replace(value, kfold=False, obj=None, split_call=None), None, flow)
        self.block(body_of(node.body), flow)
        if node.orelse is not None:
            self.block(body_of(node.orelse.body), flow)

    def small_statement(self, small, flow: Flow) -> None:
        if isinstance(small, cst.Assign):
            value = self.eval(small.value, flow)
            for target in small.targets:
                self.bind(target.target, value, small.value, flow)
        elif isinstance(small, cst.AnnAssign) and small.value is not None:
            self.bind(small.target, self.annotated(small, self.eval(small.value, flow)), small.value, flow)
        elif isinstance(small, cst.AugAssign):
            value = self.eval(small.value, flow)
            current = self.eval(small.target, flow)
            merged = union([current, value])
            merged.roles = current.roles or value.roles
            self.bind(small.target, merged, None, flow)
        elif isinstance(small, (cst.Expr, cst.Return)) and small.value is not None:
            self.eval(small.value, flow)

    # --- binding ------------------------------------------------------------------------------

    def bind(self, target, value: Value, value_node, flow: Flow, flow_role: bool = False) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            self.bind_many(target, value, value_node, flow)
        elif isinstance(target, cst.StarredElement):
            self.bind(target.value, replace(value, obj=None), None, flow)
        elif isinstance(target, cst.Name):
            self.bind_name(target, target.value, target, value, value_node, flow, flow_role)
        elif isinstance(target, cst.Attribute):
            key = dotted_name(target)
            base = dotted_name(target.value)
            base_value = self.bindings.lookup(flow, target.value) if base else None
            if base_value is not None and base_value.data and base_value.obj is None:
                self.assign_into(target.value, base_value, value, flow)  # `df.col = ...`: a column
            elif key is not None:
                self.bind_name(target, target.attr.value, target.attr, value, value_node, flow, flow_role)
        elif isinstance(target, cst.Subscript):
            base_node = strip_indexers(target.value)
            base = dotted_name(base_node)
            base_value = self.bindings.lookup(flow, base_node) if base else None
            if base_value is not None:
                self.assign_into(base_node, base_value, value, flow)

    def bind_many(self, target, value: Value, value_node, flow: Flow) -> None:
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
                self.bind(element, part, None, flow, flow_role=True)
            return
        pairwise = (
            isinstance(value_node, (cst.Tuple, cst.List))
            and len(value_node.elements) == len(elements)
            and not any(isinstance(e, cst.StarredElement) for e in value_node.elements)
        )
        if pairwise:  # `X_train, X_test = X[:800], X[800:]`
            for element, source in zip(elements, value_node.elements):
                self.bind(element, self._value(source.value), source.value, flow)
            return
        for element in elements:
            self.bind(element, replace(value, obj=None, one_d=None, split_call=None), None, flow)

    def bind_name(self, target, leaf: str, name_node, value: Value, value_node, flow: Flow, flow_role: bool) -> None:
        """`target` (a Name or an attribute chain whose last name is `leaf`) now holds `value`."""
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
                self.maybe_slice_split(value_node, named, flow)
        else:
            bound = value
        self.bindings.record(flow, target, replace(bound, split_call=None, split_inputs=(), kfold=bound.kfold))

    def assign_into(self, target, base: Value, value: Value, flow: Flow) -> None:
        """`df[cols] = scaled`: the frame bound to `target` now carries what the new columns carry."""
        self.bindings.record(flow, target, replace(base, taints=base.taints | value.taints, sources=base.sources | value.sources))

    def maybe_slice_split(self, value_node, named: frozenset[str], flow: Flow) -> None:
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
