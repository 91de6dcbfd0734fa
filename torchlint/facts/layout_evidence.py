"""What a name's own binding shows of the tensor it holds, apart from the value assigned: its
annotation, torch-only methods called on it, and a `B, C, H, W = x.shape` unpack.

A mixin of `Layouts` (it reads `self.names` and `self.dataflow`).
"""

from __future__ import annotations

from dataclasses import replace

from torchlint._lazy import lazy_module
from torchlint.facts.tensors import (
    NOT_TENSOR_ROOTS,
    OPAQUE,
    TENSOR_ANNOTATIONS,
    TENSOR_EVIDENCE_METHODS,
    Dim,
    Layout,
    _int,
)

cst = lazy_module("libcst")


class BindingEvidence:
    def _used_as_tensor(self, binding, flow) -> bool:
        """Torch-only signatures on a value are evidence that it is a tensor, in a module that
        imports torch: `.permute`, `.expand`, `.unsqueeze`, `.contiguous()`, `.view(<ints>)`,
        in-place `*_` methods, `dim=`/`keepdim=` keywords (NumPy spells them `axis`/`keepdims`).
        `.repeat`, `.reshape`, `.transpose` exist in NumPy with other meanings: no evidence."""
        if not self.names.imports_from("torch"):
            return False
        for use in flow.uses(binding):
            attribute = self.dataflow.parent(use)
            if not (isinstance(attribute, cst.Attribute) and attribute.value is use):
                continue
            call = self.dataflow.parent(attribute)
            if not (isinstance(call, cst.Call) and call.func is attribute):
                continue
            method = attribute.attr.value
            if method in TENSOR_EVIDENCE_METHODS or (method.endswith("_") and not method.startswith("_")):
                return True
            if method == "view" and call.args and all(_int(a.value) is not None for a in call.args):
                return True
            if any(a.keyword is not None and a.keyword.value in ("dim", "keepdim") for a in call.args):
                return True
        return False

    def _annotation(self, annotation):
        if annotation is None:
            return OPAQUE
        target = annotation.annotation
        qualified = self.names.qualified_name(target)
        if qualified in TENSOR_ANNOTATIONS or (qualified is None and isinstance(target, cst.Name) and target.value == "Tensor"):
            return Layout(tensor=True, contiguous=True)
        if qualified is not None and qualified.startswith(NOT_TENSOR_ROOTS):
            return None
        if isinstance(target, cst.Name) and target.value in ("int", "float", "str", "bool", "list", "tuple", "dict"):
            return None
        return OPAQUE

    def _with_shape_unpack(self, layout, binding, flow):
        """`B, C, H, W = x.shape` anywhere in the function tells x's ndim and names its sizes (a
        layout of known ndim keeps its memory order and size-1 dims, other sizes take the names)."""
        for use in flow.uses(binding):
            parent = self.dataflow.parent(use)
            if not (isinstance(parent, cst.Attribute) and parent.attr.value == "shape" and parent.value is use):
                continue
            statement = self.dataflow.parent(parent)
            if isinstance(statement, cst.Assign) and statement.value is parent and len(statement.targets) == 1:
                target = statement.targets[0].target
                if isinstance(target, (cst.Tuple, cst.List)) and not any(
                    isinstance(e, cst.StarredElement) for e in target.elements
                ):
                    if layout.dims is not None:
                        if len(layout.dims) != len(target.elements):
                            return layout
                        return replace(layout, dims=tuple(d if d.size == "1" else replace(d, size=f"{id(binding)}:{i}")
                                                          for i, d in enumerate(layout.dims)))
                    dims = tuple(Dim(f"{id(binding)}:{i}", i) for i in range(len(target.elements)))
                    return Layout(tensor=layout.tensor if layout is not None else None, dims=dims, contiguous=True)
        return layout
