"""Where the data interpreter keeps what it knows: on the program model's bindings.

The data domain finds no bindings of its own. A load of a name reads the value recorded for a
`Binding` of `Dataflow` that reaches it (in its own scope; a name the scope does not bind, in the
nearest enclosing def or module that does, class bodies skipped as Python does); a target of an
assignment records the value for the binding it creates. An attribute chain (`self.scaler`,
`model.encoder`) is a slot of the object bound to its root name, so rebinding the root starts
afresh.

`self.<attr>` in a method is also an attribute binding of the class (`Program.self_stores`): a
read that finds no value its own method stored before it sees the values stored to that
attribute by every method of the class and of its relatives (same-module bases and subclasses),
and the class-body bindings of that name (class attributes), when they agree (`data.agreed`: one role, one fitted object). It is unknown when they disagree,
when one of those stores has not been evaluated yet (a method further down, a subclass; the
reading method's own later stores excepted: they run after this read), or when a method sets
attributes by name. A store of the literal `None` (`self.scaler = None` in `__init__`) is a
placeholder: it does not count.

When several bindings reach a load (after an `if`/`else`, around a loop), the one evaluated last
stands for all: the interpreter reads a file in order, the way a notebook's reader does, and a
union of both arms would give data a role it has on one path only. A binding that has not been
evaluated yet (a loop's back edge) is skipped. A name with no binding anywhere (a global of
another file, `%run`) has one value for the whole file, kept here.
"""

from __future__ import annotations

from typing import Any

from torchlint._lazy import lazy_module
from torchlint.facts.data import agreed
from torchlint.facts.dataflow import Binding, BindingKind, Dataflow, Flow
from torchlint.facts.names import attribute_chain, is_none_literal
from torchlint.facts.program import Program
from torchlint.facts.statements import parameters

cst = lazy_module("libcst")


class DataBindings:
    """Values of the data domain, per binding of the program model."""

    def __init__(self, dataflow: Dataflow, program: Program) -> None:
        self.dataflow = dataflow
        self.program = program
        self._clock = 0
        self._values: dict[int, tuple[int, Any]] = {}  # id(Binding) -> (when recorded, Value)
        self._slots: dict[tuple[Any, str], Any] = {}  # (owner, "attr.path") -> Value
        self._unbound: dict[str, Any] = {}  # name bound nowhere in the file -> Value
        self._outer: dict[int, Flow | None] = {}  # id(Flow) -> enclosing def or module flow
        self._stored: dict[int, tuple[int, Any]] = {}  # id(`self.<attr>` target) -> (when, Value)
        self._methods: dict[int, Any] = {}  # id(Binding of `self`) -> (ClassDef, method) or None

    # --- reading ------------------------------------------------------------------------------

    def lookup(self, flow: Flow, expr) -> Any:
        """The value a Name or a dotted attribute chain holds here, None when unknown."""
        if isinstance(expr, cst.Name):
            binding = self._binding(flow, expr)
            if binding is None:
                return self._unbound.get(expr.value)
            recorded = self._values.get(id(binding))
            return self._unbound.get(expr.value) if recorded is None else recorded[1]
        root, attributes = attribute_chain(expr)
        if root is None or not attributes:
            return None
        binding = self._binding(flow, root)
        value = self._slots.get((id(binding) if binding is not None else root.value, ".".join(attributes)))
        if value is None and len(attributes) == 1 and root.value == "self":  # `self.a.b` reads `self.a`
            return self._class_attribute(binding, attributes[0])
        return value

    def is_bound(self, flow: Flow, name) -> bool:
        """Does a Name read a value the interpreter recorded (a local or enclosing variable)?"""
        return self.lookup(flow, name) is not None

    # --- writing ------------------------------------------------------------------------------

    def record(self, flow: Flow, target, value) -> None:
        """`target` (a Name or a dotted attribute chain) now holds `value`.

        A Name that is the target of a binding records the value for that binding; any other
        Name (`X += ...`, `X[...] = ...`, a receiver) changes the value of the binding it reads.
        """
        if isinstance(target, cst.Name):
            binding = flow.binding_for_target(target) or self._binding(flow, target)
            if binding is None:
                self._unbound[target.value] = value
                return
            self._clock += 1
            self._values[id(binding)] = (self._clock, value)
            return
        slot = self._slot(flow, target)
        if slot is not None:
            self._slots[slot] = value
            self._clock += 1
            self._stored[id(target)] = (self._clock, value)

    def record_parameter(self, flow: Flow, param, value) -> None:
        """A def's parameter (a `Param` node) holds `value` on entry."""
        binding = flow.binding_for_target(param)
        if binding is not None:
            self._clock += 1
            self._values[id(binding)] = (self._clock, value)

    def remember_unbound(self, name: str, value) -> None:
        """A name read before (or without) any binding: one value wherever it is read again."""
        self._unbound[name] = value

    # --- the program model --------------------------------------------------------------------

    def _binding(self, flow: Flow, name) -> Binding | None:
        """The binding a load of `name` reads: the latest evaluated of those reaching it; for a
        name its scope does not bind, the latest evaluated in the nearest scope that does."""
        reaching = flow.bindings_at(name)
        if reaching:
            return self._latest(reaching)
        outer = self._enclosing(flow)
        while outer is not None:
            bound = outer.bindings_of(name.value)
            if bound:
                return self._latest(bound)
            outer = self._enclosing(outer)
        return None

    def _latest(self, bindings) -> Binding:
        evaluated = [b for b in bindings if id(b) in self._values]
        if evaluated:
            return max(evaluated, key=lambda b: self._values[id(b)][0])
        return max(bindings, key=lambda b: b.order)

    def _enclosing(self, flow: Flow) -> Flow | None:
        key = id(flow)
        if key not in self._outer:
            self._outer[key] = self.dataflow.enclosing_flow(flow)
        return self._outer[key]

    def _slot(self, flow: Flow, chain) -> tuple[Any, str] | None:
        """(the object bound to the chain's root name, the attribute path) for `a.b.c`."""
        root, attributes = attribute_chain(chain)
        if root is None or not attributes:
            return None
        binding = self._binding(flow, root)
        owner: Any = id(binding) if binding is not None else root.value
        return owner, ".".join(attributes)

    # --- attribute bindings of a class ----------------------------------------------------------

    def _class_attribute(self, binding: Binding | None, attr: str) -> Any:
        """`self.<attr>` read in a method before the method stores it (`binding`: what `self`
        reads): the agreed value of the attribute's stores in the class and its relatives, and of
        its class-body bindings; None when unknown."""
        found = self._method_of_self(binding)
        if found is None:
            return None
        class_node, method = found
        values = []
        for relative in self.program.relatives(class_node):
            stores = self.program.self_stores(relative)
            if stores.dynamic:
                return None
            # `scaler = StandardScaler()` in the class body: what `self.scaler` reads until a
            # method stores one on the instance
            for binding in self.dataflow.flow_of(relative).bindings_of(attr):
                if is_none_literal(binding.value):
                    continue
                recorded = self._values.get(id(binding))
                if recorded is None:
                    return None  # a def, or not evaluated yet
                values.append(recorded)
            for store in stores.by_name.get(attr, ()):
                if is_none_literal(store.value):
                    continue
                stored = self._stored.get(id(store.target))
                if stored is not None:
                    values.append(stored)
                elif store.method is not method:
                    return None  # not evaluated yet: what it stores is not known
        return agreed([value for _when, value in sorted(values, key=lambda pair: pair[0])])

    def _method_of_self(self, binding: Binding | None) -> tuple[Any, Any] | None:
        """(class, method) when the binding is the `self` parameter of a method of a class."""
        if binding is None or binding.kind is not BindingKind.PARAM or binding.name != "self":
            return None
        key = id(binding)
        if key not in self._methods:
            self._methods[key] = self._method_of(binding)
        return self._methods[key]

    def _method_of(self, binding: Binding) -> tuple[Any, Any] | None:
        method = binding.statement
        if not isinstance(method, cst.FunctionDef):
            return None
        params = parameters(method.params)
        if not params or params[0] is not binding.node:
            return None
        for decorator in method.decorators:
            if isinstance(decorator.decorator, cst.Name) and decorator.decorator.value in ("staticmethod", "classmethod"):
                return None
        cls = self.dataflow.defining_class(method)
        return (cls, method) if cls is not None else None

