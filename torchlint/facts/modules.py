"""Which classes are `nn.Module`s and which expressions build one.

Built on the program model's same-module class hierarchy (`Program.lineage`) and the import
table (`Names`): a class is a module when a base resolves to `torch.nn.Module` (or another torch
or Lightning module class), directly or through classes of the same module; an expression builds
a module when it calls such a class, or a capitalised class of `torch.nn`.

Answers are typed and three-valued where it matters: a class whose bases cannot be seen into is
`Kind.UNKNOWN`, never "not a module".
"""

from __future__ import annotations

from enum import Enum

from torchlint._lazy import lazy_module
from torchlint.facts.dataflow import BindingKind, Dataflow
from torchlint.facts.names import dotted_name, unwrap_optional
from torchlint.facts.program import Program
from torchlint.facts.statements import walk_nodes
from torchlint.facts.summaries import Summaries

cst = lazy_module("libcst")

# Classes of torch.nn (and the usual wrappers) that are modules; torch.nn's other capitalised
# names are modules too, except these.
NOT_MODULES = frozenset({
    "torch.nn.Parameter", "torch.nn.UninitializedParameter", "torch.nn.UninitializedBuffer", "torch.nn.Buffer",
})
MODULE_BASES = frozenset({
    "torch.nn.Module", "lightning.LightningModule", "pytorch_lightning.LightningModule",
    "lightning.pytorch.LightningModule",
})


class Kind(Enum):
    MODULE = "module"
    NOT_MODULE = "not-module"
    UNKNOWN = "unknown"


class Modules:
    def __init__(self, facts) -> None:
        self.facts = facts
        self.names = facts.names
        self.program = facts.get(Program)
        self._kinds: dict[int, Kind] = {}

    @classmethod
    def build(cls, facts) -> Modules:
        return cls(facts)

    def class_kind(self, class_node) -> Kind:
        """Is the class an `nn.Module` subclass (through same-module bases)?"""
        known = self._kinds.get(id(class_node))
        if known is None:
            known = self._kinds[id(class_node)] = self._class_kind(class_node)
        return known

    def behaves_as_module(self, class_node) -> bool:
        """A module class, or one whose bases torchlint cannot see into (`ModelMixin`,
        `PreTrainedModel`) that has a `forward` and stores a module it builds in an attribute
        (`self.proj = nn.Linear(...)`): what only an `nn.Module` does."""
        kind = self.class_kind(class_node)
        if kind is not Kind.UNKNOWN:
            return kind is Kind.MODULE
        if self.program.method(class_node, "forward") is None:
            return False
        return any(self.builds_module(value) for cls in self.program.lineage(class_node)
                   for values in self.program.self_attributes(cls).values() for value in values)

    def _class_kind(self, class_node) -> Kind:
        unseen = False
        for cls in self.program.lineage(class_node):
            for arg in cls.bases:
                base = arg.value
                if is_module_class_name(self.names.qualified_name(base)):
                    return Kind.MODULE
                if self.program.local_class(base) is None and not (isinstance(base, cst.Name) and base.value == "object"):
                    unseen = True
        return Kind.UNKNOWN if unseen else Kind.NOT_MODULE

    def builds_module(self, expr) -> bool:
        """Does the expression certainly construct an `nn.Module`?

        `nn.Linear(...)`, `Block(...)` for a same-module module class, `norm_layer(d)` for a name
        bound only to module classes (a parameter whose default or annotation is one, a local
        `block = Block if deep else nn.Identity`), `make_block(i)` for a same-module function
        whose every `return` builds one, and `A() if c else B()` when both do.
        """
        return self._builds(expr, frozenset())

    def _builds(self, expr, active: frozenset) -> bool:
        if isinstance(expr, cst.IfExp):
            return self._builds(expr.body, active) and self._builds(expr.orelse, active)
        if not isinstance(expr, cst.Call):
            return False
        return self.is_module_class(expr.func) or self._returns_module(expr, active)

    def is_module_class(self, expr, depth: int = 3) -> bool:
        """Is the expression certainly a module class (or a `functools.partial` of one)?"""
        if depth <= 0:
            return False
        qualified = self.names.qualified_name(expr)
        if qualified is not None:
            return is_module_class_name(qualified)
        if isinstance(expr, cst.IfExp):
            return self.is_module_class(expr.body, depth - 1) and self.is_module_class(expr.orelse, depth - 1)
        if isinstance(expr, cst.BooleanOperation) and isinstance(expr.operator, cst.Or):
            # `norm_layer or nn.LayerNorm`: the parameter, or the class when it is not given
            return self.is_module_class(expr.right, depth - 1) and (
                self.is_module_class(expr.left, depth - 1) or self._only_parameters(expr.left))
        if isinstance(expr, cst.Call) and self.names.qualified_name(expr.func) == "functools.partial" and expr.args:
            return expr.args[0].keyword is None and self.is_module_class(expr.args[0].value, depth - 1)
        if not isinstance(expr, cst.Name):
            return False
        bindings = self.bindings(expr)
        if not bindings:
            local = self.program.local_class(expr)
            return local is not None and self.class_kind(local) is Kind.MODULE
        return all(self._binds_module_class(b, depth - 1) for b in bindings)

    def _binds_module_class(self, binding, depth: int) -> bool:
        if binding.kind is BindingKind.CLASS:
            return self.class_kind(binding.statement) is Kind.MODULE
        if binding.kind is BindingKind.ASSIGN:
            return self.is_module_class(binding.value, depth)
        if binding.kind is BindingKind.PARAM:
            param = binding.node
            if param.annotation is not None and self._annotated_module_class(param.annotation.annotation):
                return True
            return param.default is not None and self.is_module_class(param.default, depth)
        return False

    def _annotated_module_class(self, annotation) -> bool:
        """`Type[nn.Module]`, `type[Block]`, `Callable[..., nn.Module]`, `Optional[...]` of those."""
        annotation = unwrap_optional(annotation, self.names)
        if not isinstance(annotation, cst.Subscript):
            return False
        kind = self.names.qualified_name(annotation.value) or dotted_name(annotation.value)
        elements = [e.slice.value for e in annotation.slice if isinstance(e.slice, cst.Index)]
        if not elements:
            return False
        if kind in ("typing.Type", "type"):
            return self.is_module_class(elements[0])
        if kind in ("typing.Callable", "collections.abc.Callable"):
            return self.is_module_class(elements[-1])
        return False

    def _only_parameters(self, expr) -> bool:
        bindings = self.bindings(expr) if isinstance(expr, cst.Name) else ()
        return bool(bindings) and all(b.kind is BindingKind.PARAM for b in bindings)

    def bindings(self, name) -> frozenset:
        """The bindings of a local name that may reach this load (empty: global or unknown)."""
        return self.facts.get(Dataflow).flow_of(name).bindings_at(name)

    def _returns_module(self, call, active: frozenset) -> bool:
        """A same-module function (or method) annotated to return a module, or every `return` of
        which builds one."""
        function = self.facts.get(Summaries).callee(call)
        if function is None or id(function) in active:
            return False
        if function.returns is not None and self.is_module_class(function.returns.annotation):
            return True  # `def get_block(kind) -> nn.Module:`
        returns = [n.value for n in walk_nodes(function.body) if isinstance(n, cst.Return)]
        active = active | {id(function)}
        return bool(returns) and all(v is not None and self._builds(v, active) for v in returns)

    def forward_output(self, class_node) -> Normalised | None:
        """What every `return` of the class's `forward` (same-module lineage) is normalised into.

        `return F.softmax(x, 1)`, `return self.act(x)` with `self.act = nn.Softmax(1)`, or a local
        name bound only to such a call; None when any return is something else.
        """
        if self.class_kind(class_node) is not Kind.MODULE:
            return None
        forward = self.program.method(class_node, "forward")
        if forward is None:
            return None
        attributes = {}
        for cls in self.program.lineage(class_node):
            for attr, values in self.program.self_attributes(cls).items():
                attributes.setdefault(attr, values)
        found = set()
        for node in walk_nodes(forward.body):
            if isinstance(node, cst.Return):
                found.add(self._returned(node.value, forward, attributes))
        return found.pop() if len(found) == 1 else None

    def _returned(self, value, forward, attributes) -> Normalised | None:
        if isinstance(value, cst.Name):
            bound = [n.value for n in walk_nodes(forward.body) if isinstance(n, cst.Assign)
                     and len(n.targets) == 1 and isinstance(n.targets[0].target, cst.Name)
                     and n.targets[0].target.value == value.value]
            kinds = {normalising_call(self.names, v) for v in bound}
            return kinds.pop() if len(bound) >= 1 and len(kinds) == 1 else None
        found = normalising_call(self.names, value)
        if found is None and isinstance(value, cst.Call) and _is_self_attribute(value.func):
            values = attributes.get(value.func.attr.value, [])
            kinds = {normalising_module(self.names, v) for v in values}
            found = kinds.pop() if len(values) == 1 and len(kinds) == 1 else None
        return found


def is_module_class_name(qualified: str | None) -> bool:
    """`torch.nn.Linear`, `torch.nn.modules.conv.Conv2d`, `torch.nn.Module`: a module class of torch."""
    if qualified is None or qualified in NOT_MODULES:
        return False
    if qualified in MODULE_BASES:
        return True
    parts = qualified.split(".")
    if parts[:2] != ["torch", "nn"] or not parts[-1][:1].isupper():
        return False
    # torch.nn.X, torch.nn.modules.<file>.X; not torch.nn.utils / parallel helpers or functional
    return len(parts) == 3 or (len(parts) >= 4 and parts[2] == "modules")


# --- what a value is normalised into ----------------------------------------------------------

class Normalised(Enum):
    """What an expression's value is, when it is the output of a normalising function."""

    SOFTMAX = "softmax"  # probabilities along a dim
    LOG_SOFTMAX = "log-softmax"
    SIGMOID = "sigmoid"  # probabilities, elementwise


_NORMALISING_FUNCTIONS = {
    "torch.softmax": Normalised.SOFTMAX, "torch.nn.functional.softmax": Normalised.SOFTMAX,
    "torch.log_softmax": Normalised.LOG_SOFTMAX, "torch.nn.functional.log_softmax": Normalised.LOG_SOFTMAX,
    "torch.sigmoid": Normalised.SIGMOID, "torch.nn.functional.sigmoid": Normalised.SIGMOID,
    "torch.special.expit": Normalised.SIGMOID,
}
_NORMALISING_MODULES = {
    "torch.nn.Softmax": Normalised.SOFTMAX, "torch.nn.LogSoftmax": Normalised.LOG_SOFTMAX,
    "torch.nn.Sigmoid": Normalised.SIGMOID,
}
_NORMALISING_METHODS = {"softmax": Normalised.SOFTMAX, "log_softmax": Normalised.LOG_SOFTMAX,
                        "sigmoid": Normalised.SIGMOID}


def normalising_call(names, expr) -> Normalised | None:
    """`F.softmax(x, 1)`, `torch.sigmoid(x)`, `x.log_softmax(-1)`, `nn.Softmax(1)(x)`: what it outputs."""
    if not isinstance(expr, cst.Call):
        return None
    func = expr.func
    qualified = names.qualified_name(func)
    if qualified in _NORMALISING_FUNCTIONS:
        return _NORMALISING_FUNCTIONS[qualified]
    if isinstance(func, cst.Call):  # nn.Softmax(dim=1)(x)
        return _NORMALISING_MODULES.get(names.qualified_name(func.func))
    if qualified is None and isinstance(func, cst.Attribute) and func.attr.value in _NORMALISING_METHODS:
        if names.qualified_name(func.value) is None:
            return _NORMALISING_METHODS[func.attr.value]  # a tensor method: `logits.softmax(dim=1)`
    return None


def normalising_module(names, expr) -> Normalised | None:
    """`nn.Softmax(dim=1)`, `nn.Sigmoid()`: the module's output, for a module built by `expr`."""
    if isinstance(expr, cst.Call):
        return _NORMALISING_MODULES.get(names.qualified_name(expr.func))
    return None


def _is_self_attribute(expr) -> bool:
    return isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self"
