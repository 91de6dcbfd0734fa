"""Tensor values held by modules: `self.<attr>` set in the class, layers and their outputs.

A mixin of `Layouts`: `self.weight` of an `nn.Linear`, a parameter created in `__init__`, the
output of `self.fc(x)` (`nn.Linear`, `nn.Embedding`, `nn.LayerNorm`: fresh contiguous memory of
known sizes, checked with `stride()` on permuted, sliced and expanded inputs).
"""

from __future__ import annotations

from torchlint._lazy import lazy_module
from torchlint.facts.layout_ops import _ranked, _transpose
from torchlint.facts.program import Program
from torchlint.facts.shape_sizes import _constructor_argument
from torchlint.facts.tensors import UNKNOWN, Layout, _is_self, _Pair

cst = lazy_module("libcst")


class ModuleValues:
    """Mixin of `Layouts`: attributes, `self.<layer>` kinds and layer outputs."""

    # --- attributes -----------------------------------------------------------------------

    def _attribute(self, expr):
        attr = expr.attr.value
        if isinstance(expr.value, cst.Name) and expr.value.value == "self":
            return self._self_attribute(expr)
        qualified = self.names.qualified_name(expr)
        if qualified is not None:
            return None  # `torch.float32`, `np.pi`, a module attribute
        receiver = self._eval(expr.value)
        if isinstance(receiver, _Pair):
            return receiver.values if attr in ("values", "indices") else UNKNOWN
        if receiver is None:
            return None
        if attr in ("T", "mT") and receiver is not None:
            if attr == "T" and receiver.ndim not in (None, 2):
                return UNKNOWN
            return _transpose(receiver, -2, -1, expr, f".{attr}", tensor_only=attr == "mT")
        if attr == "data":
            return receiver
        if attr == "weight" and isinstance(expr.value, cst.Attribute) and _is_self(expr.value.value):
            kind = self._module_class(expr.value)
            if kind in ("torch.nn.Embedding", "torch.nn.Linear"):
                return Layout(tensor=True, dims=_ranked([None, None]), contiguous=True)
        if attr in ("shape", "dtype", "device", "ndim", "grad_fn", "is_cuda"):
            return None
        return UNKNOWN

    def _module_class(self, attribute) -> str | None:
        """The qualified class of `self.<name>` when the class sets it once to a constructor call."""
        cls = self.dataflow.enclosing_class(attribute)
        values = self._attributes_of(cls).get(attribute.attr.value) if cls is not None else None
        if not values or len(values) != 1 or not isinstance(values[0], cst.Call):
            return None
        return self.names.qualified_name(values[0].func)

    def _self_attribute(self, expr):
        cls = self.dataflow.enclosing_class(expr)
        if cls is None:
            return UNKNOWN
        values = self._attributes_of(cls).get(expr.attr.value)
        if not values or len(values) != 1:
            return UNKNOWN
        return self._eval(values[0])

    def _attributes_of(self, cls) -> dict:
        return self.facts.get(Program).self_attributes(cls)

    def _methods_of(self, node) -> set:
        cls = self.dataflow.enclosing_class(node)
        return self.facts.get(Program).method_names(cls) if cls is not None else set()

    def _feature_module(self, module, call, argument):
        """`self.fc(x)`, `self.embed(ids)`, `self.norm(x)`: fresh contiguous memory whatever the
        input's strides (checked with `stride()` on permuted, sliced and expanded inputs).

        Linear replaces the last size with its `out_features`, Embedding appends its
        `embedding_dim`, LayerNorm keeps the sizes.
        """
        source = self._eval(argument)
        if not isinstance(source, Layout) or source.dims is None:
            return Layout(tensor=True, contiguous=True)
        sizes = [d.size for d in source.dims]
        if module in ("torch.nn.Linear", "torch.nn.Embedding"):
            constructor = self._module_constructor(call)
            width = _constructor_argument(constructor, 1, ("out_features", "embedding_dim"))
            token = self._size(width, 0) if width is not None else None
            sizes = sizes[:-1] + [token] if module == "torch.nn.Linear" else sizes + [token]
        return Layout(tensor=True, dims=_ranked(sizes), contiguous=True)

    def _module_constructor(self, call):
        cls = self.dataflow.enclosing_class(call)
        values = self._attributes_of(cls).get(call.func.attr.value) if cls is not None else None
        return values[0] if values and len(values) == 1 and isinstance(values[0], cst.Call) else None

    def module_kind(self, call) -> str | None:
        """For `self.drop(x)`: the qualified class of `self.drop` when set once in the class."""
        func = call.func
        if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self"):
            return None
        cls = self.dataflow.enclosing_class(call)
        if cls is None:
            return None
        values = self._attributes_of(cls).get(func.attr.value)
        if not values or len(values) != 1 or not isinstance(values[0], cst.Call):
            return None
        return self.names.qualified_name(values[0].func)
