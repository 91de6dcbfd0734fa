"""Local dataflow inside one scope: bindings, uses, aliases, in-place writes and escapes.

A fact kind for every rule that asks "what is this name at this point, and what happens to the
value afterwards?". It is intraprocedural and syntactic: no types, no imports of user code.

Scopes are the module, each class body and each function (`Scope`). Lambda and comprehension
bodies are read inside their enclosing scope's flow with their parameters and targets hidden (a
load of one is not local), and a class body hides its bindings from the lambdas, comprehensions
and methods inside it, as Python does.

    flow = self.facts.get(Dataflow).flow_of(node)       # Flow of the innermost scope, never None
    flow = self.facts.get(Dataflow).function_of(node)   # Flow of the enclosing def, or None
    dataflow.enclosing_flow(flow)       # the def or module flow its free names read, or None
    flow.bindings_at(name_node)         # frozenset[Binding] that may reach this load
    flow.binding_at(name_node)          # the one Binding that reaches it, or None when ambiguous
    flow.uses(binding)                  # Name nodes that read this binding (in statement order)
    flow.aliases(binding)               # bindings that may share its memory (views, `a = b`)
    flow.writes(binding)                # in-place writes to the value or an alias: [Write]
    flow.escapes(binding, is_pure_call) # where the value leaves the function's sight: [Escape]
    dataflow.parent(node)               # syntactic parent of any node (layout skipped)
    dataflow.alias_step(node)           # the expression above when it returns the same memory

Branches are merged conservatively (a load after `if` sees the bindings of both arms) and loop
bodies are walked twice, so a binding made late in a loop reaches the loads at its top.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Callable

from torchlint._lazy import lazy_module
from torchlint.facts.statements import code_fields, is_true
from torchlint.walk import is_node_type

cst = lazy_module("libcst")

# Methods whose result may share memory with the receiver (views, or `self` when nothing changes).
ALIAS_METHODS = frozenset({
    "view", "view_as", "reshape", "reshape_as", "transpose", "permute", "t", "unsqueeze", "squeeze",
    "expand", "expand_as", "narrow", "select", "unfold", "diagonal", "flatten", "unflatten",
    "movedim", "moveaxis", "swapaxes", "swapdims", "detach", "contiguous", "to", "float", "half",
    "double", "bfloat16", "type", "type_as", "cuda", "cpu", "as_strided", "real", "imag",
    "view_as_real", "view_as_complex", "chunk", "split", "unbind", "tensor_split", "hsplit",
    "vsplit", "squeeze_", "unsqueeze_", "requires_grad_", "broadcast_to", "align_to", "rename",
})
ALIAS_ATTRIBUTES = frozenset({"T", "mT", "H", "mH", "data", "real", "imag"})
# In-place methods that do not write the tensor's elements.
NON_WRITING_INPLACE = frozenset({"requires_grad_", "share_memory_", "retain_grad", "squeeze_", "unsqueeze_", "resize_", "rename_"})


class Scope(enum.Enum):
    """What kind of scope a flow covers."""

    MODULE = enum.auto()  # a module (script or notebook) body
    CLASS = enum.auto()  # a class body (its methods are scopes of their own)
    FUNCTION = enum.auto()  # a function body with its parameters


class BindingKind(str, enum.Enum):
    """How a name is bound (a `str` enum: it equals its old spelling, `"param"`)."""

    ASSIGN = "assign"  # `y = value`, `y: T = value`
    UNPACK = "unpack"  # `a, b = value` (`index` says which)
    PARAM = "param"
    FOR = "for"  # a loop target
    WITH = "with"  # `with ... as y`
    DEF = "def"
    CLASS = "class"
    OTHER = "other"  # `except E as y`, a starred target, a nested target


@dataclass(eq=False)
class Binding:
    """One binding of a local name: `name = value`, a parameter, a loop target, ...

    `value` is the bound expression when the target is the plain name (`y = expr`); for
    `a, b = expr` it is `expr` with `index` the position in the target tuple.
    """

    name: str
    kind: BindingKind
    node: object  # the target Name (or Param) node
    statement: object
    value: object = None
    index: int | None = None
    annotation: object = None
    order: int = 0


class How(enum.Enum):
    """How a value is written in place."""

    ASSIGNED = enum.auto()  # `y[...] = v`, `y.data = v`
    AUGMENTED = enum.auto()  # `y += v`
    METHOD = enum.auto()  # `y.add_(...)`; `name` is the method
    OUT = enum.auto()  # `torch.add(a, b, out=y)`
    INPLACE_FLAG = enum.auto()  # `F.relu(y, inplace=True)`
    FUNCTION = enum.auto()  # `nn.init.zeros_(y)`, or a same-module helper that writes it; `name`


class Away(enum.Enum):
    """Where a value leaves the function's sight."""

    RETURNED = enum.auto()
    YIELDED = enum.auto()
    STORED = enum.auto()  # assigned to an attribute or an item
    IN_CONTAINER = enum.auto()  # put in a tuple, list or dict that is bound
    PASSED = enum.auto()  # passed to a call that is not known to only read it
    CAPTURED = enum.auto()  # read by a nested function
    ON_SELF = enum.auto()  # stored as `self.<attr>`


@dataclass(frozen=True)
class Write:
    """An in-place write to a value: `node` is the write (subscript target, call)."""

    node: object
    how: How
    binding: Binding
    name: str = ""  # the method or function that writes, for METHOD and FUNCTION


@dataclass(frozen=True)
class Escape:
    node: object
    away: Away


@dataclass
class Flow:
    """The dataflow of one scope: a function (parameters, body), a class body or the module."""

    scope: object  # the FunctionDef, ClassDef or Module
    dataflow: Dataflow
    bindings: list[Binding] = field(default_factory=list)
    _reaching: dict[int, frozenset] = field(default_factory=dict)  # id(Name load) -> bindings
    _uses: dict[int, list] = field(default_factory=dict)  # id(Binding) -> Name loads
    _order: dict[int, int] = field(default_factory=dict)  # id(statement) -> order
    _statement_of: dict[int, object] = field(default_factory=dict)  # id(Name load) -> statement
    _nested: list = field(default_factory=list)  # defs and classes whose bodies read this scope
    _captured: frozenset | None = None
    _by_target: dict[int, Binding] | None = None  # id(target Name or Param) -> Binding, on first use

    @property
    def kind(self) -> Scope:
        if isinstance(self.scope, cst.FunctionDef):
            return Scope.FUNCTION
        return Scope.CLASS if isinstance(self.scope, cst.ClassDef) else Scope.MODULE

    @property
    def captured(self) -> frozenset:
        """Names read (or rebound) by the nested defs and classes: they may change or keep
        a value whenever they run. Computed on first use."""
        if self._captured is None:
            from torchlint.facts.reaching import names_in_definitions

            self._captured = names_in_definitions(self._nested)
        return self._captured

    @property
    def function(self):
        """The scope node (kept for callers written when only functions had a flow)."""
        return self.scope

    def bindings_at(self, name_node) -> frozenset:
        """Bindings that may reach this load of a name (empty: global, builtin or unknown)."""
        return self._reaching.get(id(name_node), frozenset())

    def binding_at(self, name_node) -> Binding | None:
        found = self.bindings_at(name_node)
        return next(iter(found)) if len(found) == 1 else None

    def is_local_load(self, name_node) -> bool:
        return id(name_node) in self._reaching

    def uses(self, binding: Binding) -> list:
        """Loads of the name that this binding may reach, in statement order."""
        return list(self._uses.get(id(binding), ()))

    def statement_of(self, name_node):
        return self._statement_of.get(id(name_node))

    def bindings_of(self, name: str) -> list[Binding]:
        return [b for b in self.bindings if b.name == name]

    def aliases(self, binding: Binding, methods: frozenset = ALIAS_METHODS) -> list[Binding]:
        """`binding` and every binding that may share its memory (`a = b`, `a = b.view(...)`).

        `methods` are the method calls that count as returning shared memory.
        """
        found = [binding]
        seen = {id(binding)}
        index = 0
        while index < len(found):
            for use in self.uses(found[index]):
                target = self._alias_target(use, methods)
                if target is not None and id(target) not in seen:
                    seen.add(id(target))
                    found.append(target)
            index += 1
        return found

    def _alias_target(self, use, methods) -> Binding | None:
        top = self.dataflow.alias_top(use, methods)
        parent = self.dataflow.parent(top)
        if isinstance(parent, cst.Assign) and parent.value is top:
            for target in parent.targets:
                if isinstance(target.target, cst.Name):
                    return self.binding_for_target(target.target)
        if isinstance(parent, (cst.AnnAssign,)) and parent.value is top and isinstance(parent.target, cst.Name):
            return self.binding_for_target(parent.target)
        if isinstance(parent, cst.NamedExpr) and isinstance(parent.target, cst.Name):
            return self.binding_for_target(parent.target)
        return None

    def binding_for_target(self, name_node) -> Binding | None:
        """The binding that a target Name (or Param) node creates."""
        if self._by_target is None:
            self._by_target = {id(b.node): b for b in reversed(self.bindings)}  # the first binding wins
        return self._by_target.get(id(name_node))

    def writes(self, binding: Binding, depth: int = 2, methods: frozenset = ALIAS_METHODS) -> list[Write]:
        """In-place writes to the value of `binding` or of any alias, wherever the alias is read."""
        found = []
        for alias in self.aliases(binding, methods):
            for use in self.uses(alias):
                write = self.dataflow.write_at(use, alias, depth, methods)
                if write is not None:
                    found.append(write)
        return found

    def escapes(self, binding: Binding, is_pure_call: Callable | None = None) -> list[Escape]:
        """Where the value (or an alias) leaves the function's sight.

        `is_pure_call(call, argument_node)` says whether a call is known not to keep or mutate an
        argument; calls it rejects (or all calls, without it) count as "passed to an unknown call".
        """
        found = []
        if binding.name in self.captured:
            found.append(Escape(binding.node, Away.CAPTURED))
        for alias in self.aliases(binding):
            for use in self.uses(alias):
                escape = self.dataflow.escape_at(use, is_pure_call)
                if escape is not None:
                    found.append(escape)
        return found

    def order_of(self, statement) -> int:
        return self._order.get(id(statement), -1)


FunctionFlow = Flow  # the name from when only functions had a flow


class Dataflow:
    """Fact kind: dataflow for every scope of the module, each built on first use."""

    def __init__(self, facts) -> None:
        self.facts = facts
        self._parents: dict[int, object] = {}  # id(node) -> its parent (layout nodes left out)
        self._flows: dict[int, Flow] = {}
        self._index()

    @classmethod
    def build(cls, facts) -> Dataflow:
        return cls(facts)

    # --- structure ------------------------------------------------------------------------

    def _index(self) -> None:
        """Every node's parent, whitespace and punctuation left out (no rule asks about them).

        One pass over the whole tree, the first time any rule asks: `code_children` inlined,
        with whether a value is a node, and which of its fields hold code, looked up by its type
        in one table (see `walk.children_in`); a leaf (a name, a number, an operator: about half
        the nodes) gets its parent without being stacked.
        """
        parents = self._parents
        table = _CODE_TABLE
        module = self.facts.module
        stack = [module]
        push, pop = stack.append, stack.pop
        if type(module) not in table:
            _code_entry(type(module))
        while stack:
            node = pop()
            for field in table[type(node)]:
                value = getattr(node, field)
                value_kind = type(value)
                if value_kind is list or value_kind is tuple:
                    for child in value:
                        fields = table.get(type(child))
                        if fields is None:
                            fields = _code_entry(type(child))
                        if fields is not False:
                            parents[id(child)] = node
                            if fields:
                                push(child)
                else:
                    fields = table.get(value_kind)
                    if fields is None:
                        fields = _code_entry(value_kind)
                    if fields is not False:
                        parents[id(value)] = node
                        if fields:
                            push(value)

    def parent(self, node):
        return self._parents.get(id(node))

    def _scope_of(self, node):
        """The innermost def or class strictly above `node`, or None."""
        parents = self._parents
        scope = parents.get(id(node))
        while scope is not None and type(scope) is not cst.FunctionDef and type(scope) is not cst.ClassDef:
            scope = parents.get(id(scope))
        return scope

    def enclosing_function(self, node):
        """The innermost def around `node` (its decorators and defaults included), or None."""
        scope = self._scope_of(node)
        while type(scope) is cst.ClassDef:
            scope = self._scope_of(scope)
        return scope

    def defining_class(self, function):
        """The class whose body defines the def `function` (through its `if`s and `try`s), or None:
        the scope the def's name binds in."""
        if function is None:
            return None
        flow = self.flow_of(function.name)
        return flow.scope if flow.kind is Scope.CLASS else None

    def enclosing_class(self, node):
        current = self.parent(node)
        while current is not None and not isinstance(current, cst.ClassDef):
            current = self.parent(current)
        return current

    def function_of(self, node) -> Flow | None:
        """The flow of the def around `node` (or of `node`, a def), None outside every def."""
        function = node if isinstance(node, cst.FunctionDef) else self.enclosing_function(node)
        return None if function is None else self._flow(function)

    def flow_of(self, node) -> Flow:
        """The flow of the innermost scope that `node` is evaluated in (a scope node: its own).

        A def's decorators, defaults and annotations, and a class's bases, are evaluated in the
        enclosing scope; a parameter and the body belong to the def.
        """
        if isinstance(node, (cst.Module, cst.FunctionDef, cst.ClassDef)):
            return self._flow(node)
        scope = self._scope_of(node)
        while scope is not None and not self._inside(node, scope):
            scope = self._scope_of(scope)
        return self._flow(self.facts.module if scope is None else scope)

    def enclosing_flow(self, flow: Flow) -> Flow | None:
        """The flow whose names a scope's free names read: the nearest def or module around it
        (class bodies skipped, as Python does); None for the module."""
        outer = None
        while flow.kind is not Scope.MODULE:
            outer = flow = self.flow_of(flow.scope.name)  # a def's name binds outside it
            if flow.kind is not Scope.CLASS:
                break
        return outer

    def enclosing_binder(self, flow: Flow, name: str) -> Flow | None:
        """The nearest flow around `flow` (class bodies skipped) that binds `name`, or None."""
        outer = self.enclosing_flow(flow)
        while outer is not None and not outer.bindings_of(name):
            outer = self.enclosing_flow(outer)
        return outer

    def _inside(self, node, scope) -> bool:
        """Is `node` (somewhere under the def or class `scope`) evaluated in that scope?"""
        path = [node]
        while path[-1] is not scope:
            parent = self.parent(path[-1])
            if parent is None:
                return False
            path.append(parent)
        below = path[-2] if len(path) > 1 else None
        if below is scope.body:
            return True
        if not isinstance(scope, cst.FunctionDef) or below is not scope.params:
            return False
        # inside the signature: a parameter's own name binds in the def, its default and
        # annotation are evaluated outside it
        if len(path) < 4:
            return True
        param, under = path[-3], path[-4]
        return not isinstance(param, cst.Param) or under is param.name

    def _flow(self, scope) -> Flow:
        flow = self._flows.get(id(scope))
        if flow is None:
            from torchlint.facts.reaching import Builder

            flow = self._flows[id(scope)] = Builder(self, scope).build()
        return flow

    def alias_step(self, node, methods: frozenset = ALIAS_METHODS):
        """The expression just above `node` when it returns (a view of) the same memory
        (`node.view(...)`, `node.T`, `node[i]`), else None. `methods`: the calls that count."""
        parent = self.parent(node)
        if isinstance(parent, cst.Attribute) and parent.value is node:
            if parent.attr.value in ALIAS_ATTRIBUTES:
                return parent
            grand = self.parent(parent)
            if isinstance(grand, cst.Call) and grand.func is parent and parent.attr.value in methods:
                return grand
            return None
        if isinstance(parent, cst.Subscript) and parent.value is node:
            return parent
        return None  # `a, b = x.chunk(2)` (an Element) is left to callers

    def alias_top(self, node, methods: frozenset = ALIAS_METHODS):
        """Climb from `node` through expressions that return (a view of) the same memory."""
        while (above := self.alias_step(node, methods)) is not None:
            node = above
        return node

    # --- what a use does --------------------------------------------------------------------

    def write_at(self, use, binding: Binding | None, depth: int = 2, methods: frozenset = ALIAS_METHODS) -> Write | None:
        """The in-place write that this use of a value performs (through views), if any.

        `use` is a Name load or any expression node inside a function.
        """
        top = self.alias_top(use, methods)
        parent = self.parent(top)
        # `y[...] = v`, `y[...] += v`, `y.data = v`: the write lands in y's memory
        if top is not use or isinstance(parent, (cst.Attribute, cst.Subscript)):
            node = top
            while True:
                p = self.parent(node)
                if isinstance(p, (cst.Subscript,)) and p.value is node:
                    node = p
                    continue
                break
            target_parent = self.parent(node)
            if isinstance(node, (cst.Subscript, cst.Attribute)) and self._is_store_target(node, target_parent):
                return Write(node, How.ASSIGNED, binding)
        if isinstance(parent, cst.AssignTarget) or (isinstance(parent, cst.AugAssign) and parent.target is top):
            if isinstance(parent, cst.AugAssign):
                return Write(parent, How.AUGMENTED, binding)
        # `y.add_(...)`
        if isinstance(parent, cst.Attribute) and parent.value is top:
            method = parent.attr.value
            grand = self.parent(parent)
            if isinstance(grand, cst.Call) and grand.func is parent and is_inplace_name(method):
                return Write(grand, How.METHOD, binding, method)
        # `f(y, out=...)`, `torch.add(a, b, out=y)`, `F.relu(y, inplace=True)`, `nn.init.zeros_(y)`
        arg = parent if isinstance(parent, cst.Arg) and parent.value is top else None
        if arg is not None:
            call = self.parent(arg)
            if isinstance(call, cst.Call):
                how = self._call_writes_argument(call, arg, depth)
                if how is not None:
                    return Write(call, how[0], binding, how[1])
        return None

    def _is_store_target(self, node, parent) -> bool:
        if isinstance(parent, cst.AssignTarget) and parent.target is node:
            return True
        if isinstance(parent, cst.AugAssign) and parent.target is node:
            return True
        if isinstance(parent, cst.AnnAssign) and parent.target is node:
            return True
        if isinstance(parent, (cst.Element, cst.Tuple, cst.List)):
            current = parent
            while isinstance(current, (cst.Element, cst.Tuple, cst.List, cst.StarredElement)):
                previous, current = current, self.parent(current)
            return isinstance(current, cst.AssignTarget) or (isinstance(current, cst.For) and current.target is previous)
        return False

    def _call_writes_argument(self, call, arg, depth: int) -> tuple[How, str] | None:
        if arg.keyword is not None and arg.keyword.value == "out":
            return How.OUT, ""
        for other in call.args:
            if other.keyword is not None and other.keyword.value == "inplace" and is_true(other.value):
                return How.INPLACE_FLAG, ""
        func = call.func
        name = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else None
        # `nn.init.zeros_(w)`, `torch.relu_(x)`: a function writes its first argument; a method
        # `a.mul_(b)` writes its receiver, not `b`
        is_function = isinstance(func, cst.Name) or self.facts.names.qualified_name(func) is not None
        if name and is_function and is_inplace_name(name) and call.args and call.args[0] is arg:
            return How.FUNCTION, name
        if depth > 0:  # a same-module helper that writes the parameter the argument binds
            from torchlint.facts.summaries import Summaries

            summaries = self.facts.get(Summaries)
            callee = summaries.callee(call)
            if callee is not None and summaries.parameter_of(call, callee, arg) in summaries.of(callee).writes:
                return How.FUNCTION, callee.name.value
        return None

    def escape_at(self, use, is_pure_call: Callable | None = None) -> Escape | None:
        """Whether this load hands the value to code outside the function (or out of sight)."""
        top = self.alias_top(use)
        node, parent = top, self.parent(top)
        while isinstance(parent, (cst.Element, cst.Tuple, cst.List, cst.Set, cst.StarredElement, cst.DictElement, cst.Dict)):
            node, parent = parent, self.parent(parent)
        if isinstance(parent, cst.Return):
            return Escape(parent, Away.RETURNED)
        if isinstance(parent, (cst.Yield,)):
            return Escape(parent, Away.YIELDED)
        if isinstance(parent, (cst.Assign, cst.AnnAssign)) and parent.value is node:
            targets = [t.target for t in parent.targets] if isinstance(parent, cst.Assign) else [parent.target]
            if any(not isinstance(t, cst.Name) for t in targets):
                return Escape(parent, Away.STORED)
            if node is not top:
                return Escape(parent, Away.IN_CONTAINER)
        if isinstance(parent, cst.Arg):
            call = self.parent(parent)
            if isinstance(call, cst.Call) and not (is_pure_call and is_pure_call(call, parent)):
                return Escape(call, Away.PASSED)
        return None


# For `Dataflow._index`: a node class -> its `code_fields` (empty: a leaf); any other type -> False.
_CODE_TABLE: dict[type, tuple[str, ...] | bool] = {}


def _code_entry(kind: type) -> tuple[str, ...] | bool:
    entry = _CODE_TABLE[kind] = code_fields(kind) if is_node_type(kind) else False
    return entry


def is_inplace_name(name: str) -> bool:
    """A method or function named like an in-place op that writes elements (`add_`, `zero_`)."""
    return name.endswith("_") and not name.startswith("_") and name not in NON_WRITING_INPLACE
