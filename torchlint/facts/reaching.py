"""Reaching definitions inside one scope: which bindings of a name may reach each load.

A scope is a function (parameters and body), a class body or the module. Branches are merged,
loops run to a fixpoint, `try`/`with`/`match` are followed; lambda and comprehension bodies are
read in place with their own names hidden. The result is a `Flow` (see `dataflow`), built once
per scope on demand.
"""

from __future__ import annotations

from typing import Iterator

from torchlint._lazy import lazy_module
from torchlint.facts.dataflow import Binding, BindingKind, Dataflow, Flow
from torchlint.facts.statements import body_of, parameters, walk_nodes
from torchlint.walk import children

cst = lazy_module("libcst")


class Builder:
    """Walks one scope's statements in order, tracking which bindings reach each load."""

    def __init__(self, dataflow: Dataflow, scope) -> None:
        self.flow = Flow(scope, dataflow)
        self.counter = 0
        self.by_node: dict[int, Binding] = {}
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
        self.flow._order.setdefault(id(statement), self.counter)
        if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            for small in statement.body:
                self.flow._order.setdefault(id(small), self.counter)
                env = self._small(small, statement, env)
            return env
        if isinstance(statement, cst.If):
            self._loads(statement.test, statement, env)
            then_env = self._block(body_of(statement.body), dict(env))
            if statement.orelse is None:
                else_env = env
            elif isinstance(statement.orelse, cst.If):
                else_env = self._statement(statement.orelse, dict(env))
            else:
                else_env = self._block(body_of(statement.orelse.body), dict(env))
            return _merge(then_env, else_env)
        if isinstance(statement, (cst.For, cst.While)):
            return self._loop(statement, env)
        if isinstance(statement, cst.With):
            env = dict(env)
            for item in statement.items:
                self._loads(item.item, statement, env)
                if item.asname is not None:
                    self._bind_target(item.asname.name, BindingKind.WITH, statement, None, env)
            return self._block(body_of(statement.body), env)
        if isinstance(statement, cst.Try) or type(statement).__name__ == "TryStar":
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
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            self._definition(statement, env)
            env = dict(env)
            kind = BindingKind.DEF if isinstance(statement, cst.FunctionDef) else BindingKind.CLASS
            env[statement.name.value] = frozenset({self._bind(statement.name.value, kind, statement.name, statement)})
            return env
        if type(statement).__name__ == "Match":
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
        if isinstance(small, cst.Assign):
            self._loads(small.value, small, env)
            for target in small.targets:
                self._target_loads(target.target, small, env)
            env = dict(env)
            for target in small.targets:
                self._bind_target(target.target, BindingKind.ASSIGN, small, small.value, env)
            return env
        if isinstance(small, cst.AnnAssign):
            if small.value is not None:
                self._loads(small.value, small, env)
            self._target_loads(small.target, small, env)
            env = dict(env)
            if small.value is not None or isinstance(small.target, cst.Name):
                self._bind_target(small.target, BindingKind.ASSIGN, small, small.value, env, annotation=small.annotation)
            return env
        if isinstance(small, cst.AugAssign):
            # `y += v` on a tensor writes y in place; the name keeps its binding and is a load
            self._loads(small.value, small, env)
            self._loads(small.target, small, env)
            return env
        if isinstance(small, (cst.Global, cst.Nonlocal)):
            env = dict(env)
            for item in small.names:
                env.pop(item.name.value, None)
            return env
        if isinstance(small, cst.Del):
            self._loads(small.target, small, env)
            return env
        if isinstance(small, (cst.Import, cst.ImportFrom)):
            return env
        for child in children(small):
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
        if self.in_class:
            return  # a method or nested class cannot see the class body's names
        for name in _load_names(definition, into_scopes=True):
            self.flow.captured.add(name.value)

    def _loads(self, expr, statement, env) -> None:
        for name in _load_names(expr, in_class=self.in_class):
            reaching = env.get(name.value)
            if reaching is None:
                continue
            self.flow._reaching[id(name)] = reaching
            self.flow._statement_of[id(name)] = statement
            for binding in reaching:
                uses = self.flow._uses.setdefault(id(binding), [])
                if not any(u is name for u in uses):
                    uses.append(name)


def _load_names(expr, into_scopes: bool = False, in_class: bool = False) -> Iterator:
    """Name nodes read by an expression (not attribute names, keywords or comprehension targets).

    `in_class`: the expression stands in a class body, whose names a lambda or comprehension
    cannot see (except the first iterable, evaluated in place).
    """
    stack = [(expr, frozenset())]
    while stack:
        node, hidden = stack.pop()
        if isinstance(node, cst.Name):
            if node.value not in hidden:
                yield node
            continue
        if isinstance(node, cst.Attribute):
            stack.append((node.value, hidden))
            continue
        if isinstance(node, cst.Arg):
            stack.append((node.value, hidden))
            continue
        if isinstance(node, cst.Lambda) or (isinstance(node, (cst.FunctionDef, cst.ClassDef)) and not into_scopes):
            if isinstance(node, cst.Lambda):
                params = parameters(node.params)
                stack.extend((p.default, hidden) for p in params if p.default is not None)
                if not in_class:
                    stack.append((node.body, hidden | {p.name.value for p in params}))
            continue
        if isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
            stack.append((node.for_in.iter, hidden))  # the first iterable is evaluated outside
            if in_class:
                continue
            inner = hidden | _comprehension_targets(node.for_in)
            stack.extend((child, inner) for child in node.for_in.ifs)
            if node.for_in.inner_for_in is not None:
                stack.append((node.for_in.inner_for_in, inner))
            stack.extend((child, inner) for child in children(node) if child is not node.for_in)
            continue
        if isinstance(node, cst.Param):
            if node.default is not None:
                stack.append((node.default, hidden))
            continue
        if isinstance(node, cst.CompFor):
            stack.append((node.iter, hidden))
            for child in node.ifs:
                stack.append((child, hidden))
            if node.inner_for_in is not None:
                stack.append((node.inner_for_in, hidden))
            continue
        for child in children(node):
            stack.append((child, hidden))


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
