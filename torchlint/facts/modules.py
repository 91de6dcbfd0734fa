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
from torchlint.facts.program import Program

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
        """Does the expression certainly construct an `nn.Module` (`nn.Linear(...)`, `Block(...)`)?"""
        if not isinstance(expr, cst.Call):
            return False
        qualified = self.names.qualified_name(expr.func)
        if qualified is not None:
            return is_module_class_name(qualified)
        local = self.program.local_class(expr.func)
        return local is not None and self.class_kind(local) is Kind.MODULE


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
