"""Reaching definitions inside one scope: which bindings of a name may reach each load.

A scope is a function (parameters and body), a class body or the module. Branches are merged,
loops run to a fixpoint, `try`/`with`/`match` are followed; lambda and comprehension bodies are
read in place with their own names hidden. The result is a `Flow` (see `dataflow`), built once
per scope on demand.
"""

from __future__ import annotations

from torchlint._lazy import lazy_module
from torchlint.facts.dataflow import Binding, BindingKind, Dataflow, Flow
from torchlint.facts.statements import body_of, code_children, parameters, walk_nodes
from torchlint.walk import TRIVIA, children_in, walked_fields

cst = lazy_module("libcst")


class Builder:
    """Walks one scope's statements in order, tracking which bindings reach each load."""

    def __init__(self, dataflow: Dataflow, scope) -> None:
        self.flow = Flow(scope, dataflow)
        self.counter = 0
        self.by_node: dict[int, Binding] = {}
        self.seen: set[tuple[int, int]] = set()  # (id(binding), id(Name load)) recorded as a use
        # a class body's names are invisible to the lambdas, comprehensions and defs inside it
        self.in_class = isinstance(scope, cst.ClassDef)

    def build(self) -> Flow:
        scope = self.flow.scope
        env: dict[str, frozenset] = {}
        if isinstance(scope, cst.FunctionDef):
            for param in parameters(scope.params):
                binding = self._bind(param.name.value, BindingKind.PARAM, param, scope, annotation=param.annotation)
                env[param.name.value] = frozenset({binding})
        self._block(scope.body if isinstance(scope, cst.Module) else body_of(scope.body), env)
        for uses in self.flow._uses.values():
            uses.sort(key=lambda n: self.flow._order.get(id(self.flow._statement_of.get(id(n))), 0))
        return self.flow

    def _bind(self, name, kind, node, statement, **extra) -> Binding:
        existing = self.by_node.get(id(node))
        if existing is not None:  # a loop body's second walk
            return existing
        self.counter += 1
        binding = Binding(name, kind, node, statement, order=self.counter, **extra)
        self.flow.bindings.append(binding)
        self.by_node[id(node)] = binding
        return binding

    # --- statements ----------------------------------------------------------------------

    def _block(self, statements, env) -> dict:
        for statement in statements:
            env = self._statement(statement, env)
        return env

    def _statement(self, statement, env) -> dict:
        self.counter += 1
        order = self.flow._order
        order.setdefault(id(statement), self.counter)
        kind = type(statement)  # LibCST's statement classes have no subclasses
        if kind is cst.SimpleStatementLine or kind is cst.SimpleStatementSuite:
            for small in statement.body:
                order.setdefault(id(small), self.counter)
                env = self._small(small, statement, env)
            return env
        if kind is cst.If:
            self._loads(statement.test, statement, env)
            then_env = self._block(body_of(statement.body), dict(env))
            if statement.orelse is None:
                else_env = env
            elif isinstance(statement.orelse, cst.If):
                else_env = self._statement(statement.orelse, dict(env))
            else:
                else_env = self._block(body_of(statement.orelse.body), dict(env))
            return _merge(then_env, else_env)
        if kind is cst.For or kind is cst.While:
            return self._loop(statement, env)
        if kind is cst.With:
            env = dict(env)
            for item in statement.items:
                self._loads(item.item, statement, env)
                if item.asname is not None:
                    self._bind_target(item.asname.name, BindingKind.WITH, statement, None, env)
            return self._block(body_of(statement.body), env)
        if kind is cst.Try or kind.__name__ == "TryStar":
            body_env = self._block(body_of(statement.body), dict(env))
            merged = _merge(env, body_env)
            result = body_env
            for handler in statement.handlers:
                handler_env = dict(merged)
                if handler.name is not None:
                    self._bind_target(handler.name.name, BindingKind.OTHER, statement, None, handler_env)
                result = _merge(result, self._block(body_of(handler.body), handler_env))
            if statement.orelse is not None:
                result = _merge(result, self._block(body_of(statement.orelse.body), dict(body_env)))
            if statement.finalbody is not None:
                result = self._block(body_of(statement.finalbody.body), result)
            return result
        if kind is cst.FunctionDef or kind is cst.ClassDef:
            self._definition(statement, env)
            env = dict(env)
            binding_kind = BindingKind.DEF if kind is cst.FunctionDef else BindingKind.CLASS
            env[statement.name.value] = frozenset({self._bind(statement.name.value, binding_kind, statement.name, statement)})
            return env
        if kind.__name__ == "Match":
            self._loads(statement.subject, statement, env)
            result = env
            for case in statement.cases:
                result = _merge(result, self._block(body_of(case.body), dict(env)))
            return result
        return env

    def _loop(self, statement, env) -> dict:
        if isinstance(statement, cst.For):
            self._loads(statement.iter, statement, env)
        before = env
        loop_env = dict(env)
        for _ in range(2):  # twice: bindings late in the body reach loads at its top
            loop_env = dict(loop_env)
            if isinstance(statement, cst.For):
                self._bind_target(statement.target, BindingKind.FOR, statement, None, loop_env)
            else:
                self._loads(statement.test, statement, loop_env)
            loop_env = _merge(before, self._block(body_of(statement.body), loop_env))
        if statement.orelse is not None:
            loop_env = self._block(body_of(statement.orelse.body), loop_env)
        return loop_env

    def _small(self, small, statement, env) -> dict:
        kind = type(small)  # LibCST's small-statement classes have no subclasses
        if kind is cst.Assign:
            self._loads(small.value, small, env)
            for target in small.targets:
                self._target_loads(target.target, small, env)
            env = dict(env)
            for target in small.targets:
                self._bind_target(target.target, BindingKind.ASSIGN, small, small.value, env)
            return env
        if kind is cst.AnnAssign:
            if small.value is not None:
                self._loads(small.value, small, env)
            self._target_loads(small.target, small, env)
            env = dict(env)
            if small.value is not None or isinstance(small.target, cst.Name):
                self._bind_target(small.target, BindingKind.ASSIGN, small, small.value, env, annotation=small.annotation)
            return env
        if kind is cst.AugAssign:
            # `y += v` on a tensor writes y in place; the name keeps its binding and is a load
            self._loads(small.value, small, env)
            self._loads(small.target, small, env)
            return env
        if kind is cst.Global or kind is cst.Nonlocal:
            env = dict(env)
            for item in small.names:
                env.pop(item.name.value, None)
            return env
        if kind is cst.Del:
            self._loads(small.target, small, env)
            return env
        if kind is cst.Import or kind is cst.ImportFrom:
            return env
        for child in code_children(small):
            self._loads(child, small, env)
        return env

    def _bind_target(self, target, kind, statement, value, env, annotation=None) -> None:
        if isinstance(target, cst.Name):
            binding = self._bind(target.value, kind, target, statement, value=value, annotation=annotation)
            env[target.value] = frozenset({binding})
        elif isinstance(target, (cst.Tuple, cst.List)):
            for index, element in enumerate(target.elements):
                inner = element.value
                if isinstance(element, cst.StarredElement):
                    if isinstance(inner, cst.Name):
                        env[inner.value] = frozenset({self._bind(inner.value, BindingKind.OTHER, inner, statement)})
                    continue
                if isinstance(inner, cst.Name):
                    binding = self._bind(inner.value, BindingKind.UNPACK if value is not None else kind, inner, statement,
                                         value=value, index=index)
                    env[inner.value] = frozenset({binding})
                else:
                    self._bind_target(inner, BindingKind.OTHER, statement, None, env)

    def _target_loads(self, target, statement, env) -> None:
        """Loads inside an assignment target: `y[i] = v` reads y; `a.b = v` reads a."""
        if isinstance(target, (cst.Subscript, cst.Attribute)):
            self._loads(target, statement, env)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._target_loads(element.value, statement, env)

    # --- expressions ------------------------------------------------------------------------

    def _definition(self, definition, env) -> None:
        """A nested def or class: what it reads here, and what its body may read later."""
        for decorator in definition.decorators:
            self._loads(decorator.decorator, definition, env)
        if isinstance(definition, cst.FunctionDef):
            for param in parameters(definition.params):
                for part in (param.default, param.annotation):
                    if part is not None:
                        self._loads(part, definition, env)
            if definition.returns is not None:
                self._loads(definition.returns, definition, env)
        else:
            for arg in (*definition.bases, *definition.keywords):
                self._loads(arg.value, definition, env)
        if not self.in_class:  # a method or nested class cannot see the class body's names
            self.flow._nested.append(definition)

    def _loads(self, expr, statement, env) -> None:
        if not env:  # nothing bound yet: no load can be local
            return
        flow, seen = self.flow, self.seen
        for name in _load_names(expr, in_class=self.in_class):
            reaching = env.get(name.value)
            if reaching is None:
                continue
            flow._reaching[id(name)] = reaching
            flow._statement_of[id(name)] = statement
            for binding in reaching:
                key = (id(binding), id(name))
                if key not in seen:  # a loop body is walked twice
                    seen.add(key)
                    flow._uses.setdefault(id(binding), []).append(name)


def names_in_definitions(definitions) -> frozenset:
    """Every name read or bound anywhere inside these defs and classes."""
    return frozenset(name.value for definition in definitions for name in _load_names(definition, into_scopes=True))


def _load_names(expr, into_scopes: bool = False, in_class: bool = False) -> list:
    """Name nodes read by an expression (not attribute names, keywords or comprehension targets).

    `in_class`: the expression stands in a class body, whose names a lambda or comprehension
    cannot see (except the first iterable, evaluated in place).

    This runs on every expression of every scope whose flow is built: node kinds are told apart
    by their exact class (LibCST's node classes have no subclasses), not by `isinstance`, an
    ABC check that costs a Python call per node.
    """
    kinds = _load_kinds()
    name_fields = walked_fields(TRIVIA, _NAME_CLASS)  # what may hold a name (not a number, an operator...)
    found: list = []
    stack = [(expr, _NOTHING)]
    push, pop = stack.append, stack.pop
    while stack:
        node, hidden = pop()
        kind = kinds.get(type(node))
        if kind is None or (kind is _DEFINITION and into_scopes):
            fields = name_fields.get(type(node))
            if fields:
                for child in children_in(node, fields):
                    push((child, hidden))
        elif kind is _NAME:
            if node.value not in hidden:
                found.append(node)
        elif kind is _VALUE:  # an attribute's receiver, an argument's value
            push((node.value, hidden))
        elif kind is _LAMBDA:
            params = parameters(node.params)
            stack.extend((p.default, hidden) for p in params if p.default is not None)
            if not in_class:
                push((node.body, hidden | {p.name.value for p in params}))
        elif kind is _COMPREHENSION:
            push((node.for_in.iter, hidden))  # the first iterable is evaluated outside
            if in_class:
                continue
            inner = hidden | _comprehension_targets(node.for_in)
            stack.extend((child, inner) for child in node.for_in.ifs)
            if node.for_in.inner_for_in is not None:
                push((node.for_in.inner_for_in, inner))
            stack.extend((child, inner) for child in code_children(node) if child is not node.for_in)
        elif kind is _PARAM:
            if node.default is not None:
                push((node.default, hidden))
        elif kind is _COMP_FOR:
            push((node.iter, hidden))
            for child in node.ifs:
                push((child, hidden))
            if node.inner_for_in is not None:
                push((node.inner_for_in, hidden))
        # else a def or class, not entered: its body runs later (see `names_in_definitions`)
    return found


_NOTHING: frozenset = frozenset()
_NAME_CLASS = frozenset({"Name"})
_NAME, _VALUE, _LAMBDA, _DEFINITION, _COMPREHENSION, _PARAM, _COMP_FOR = (
    "name", "value", "lambda", "definition", "comprehension", "param", "comp_for")
_LOAD_KINDS: dict[type, str] = {}


def _load_kinds() -> dict[type, str]:
    """How `_load_names` treats each node class that it does not simply descend into."""
    if not _LOAD_KINDS:
        _LOAD_KINDS.update({
            cst.Name: _NAME, cst.Attribute: _VALUE, cst.Arg: _VALUE, cst.Lambda: _LAMBDA,
            cst.FunctionDef: _DEFINITION, cst.ClassDef: _DEFINITION, cst.ListComp: _COMPREHENSION,
            cst.SetComp: _COMPREHENSION, cst.GeneratorExp: _COMPREHENSION, cst.DictComp: _COMPREHENSION,
            cst.Param: _PARAM, cst.CompFor: _COMP_FOR,
        })
    return _LOAD_KINDS


def _comprehension_targets(for_in) -> frozenset:
    found = set()
    while for_in is not None:
        for node in walk_nodes(for_in.target):
            if isinstance(node, cst.Name):
                found.add(node.value)
        for_in = for_in.inner_for_in
    return frozenset(found)


def _merge(a: dict, b: dict) -> dict:
    merged = dict(a)
    for name, bindings in b.items():
        merged[name] = merged.get(name, frozenset()) | bindings
    return merged
