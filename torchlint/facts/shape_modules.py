"""Tensor values held by modules: `self.<attr>` set in the class, layers and their outputs.

A mixin of `Layouts`: `self.weight` of an `nn.Linear`, a parameter created in `__init__`, the
output of `self.fc(x)` (`nn.Linear`, `nn.Embedding`, `nn.LayerNorm`: fresh contiguous memory of
known sizes, checked with `stride()` on permuted, sliced and expanded inputs), and of
convolutions and channel norms (`nn.Conv2d`, `nn.BatchNorm2d`, `nn.GroupNorm`, ...): the
input's number of dims, `out_channels` in dim 1 (dim 0 unbatched), the spatial sizes of a
pointwise conv; fresh memory that is contiguous unless the input is channels-last (checked with
`is_contiguous()` on transposed, sliced, channels-last and channels-last-3d inputs: only a 4-D
or 5-D input whose dim 1 is innermost gives a channels-last output). A conv keeps the spatial
sizes when its constant kernel, padding and dilation make up for each other at stride 1
(`shape_constants`), and the channel size when `in_channels` and `out_channels` are spelled the
same. Pooling, upsampling, padding and transposed-conv layers allocate in the input's memory
format (a channels-last input stays channels-last), like their functional forms; a block taken
from a loop over an `nn.ModuleList`/`nn.Sequential` is a submodule like `self.proj`.
"""

from __future__ import annotations

from torchlint._lazy import lazy_module
from torchlint.facts.layout_formats import resized
from torchlint.facts.layout_ops import _ranked, _transpose
from torchlint.facts.program import Program
from torchlint.facts.shape_constants import constant
from torchlint.facts.shape_sizes import _constructor_argument
from torchlint.facts.tensors import OPAQUE, UNKNOWN, Dim, Layout, _int, _is_self, _Pair

cst = lazy_module("libcst")


CONVOLUTIONS = {"torch.nn.Conv1d": 1, "torch.nn.Conv2d": 2, "torch.nn.Conv3d": 3}
CHANNEL_NORMS = frozenset({
    "torch.nn.BatchNorm1d", "torch.nn.BatchNorm2d", "torch.nn.BatchNorm3d", "torch.nn.GroupNorm",
    "torch.nn.InstanceNorm1d", "torch.nn.InstanceNorm2d", "torch.nn.InstanceNorm3d", "torch.nn.SyncBatchNorm",
})
FACTORY_KEYWORDS = frozenset({"device", "dtype"})  # placement and type of a layer's weights: no size
CONTAINERS = frozenset({"torch.nn.ModuleList", "torch.nn.Sequential"})
# Layers that allocate their output in the input's memory format (tests/test_module_formats.py):
# a channels-last input gives channels-last output. 2-D/3-D pools and upsampling keep batch and
# channels and are contiguous for an input known not to be channels-last (as `F.avg_pool2d`,
# `F.interpolate`); 1-D pools keep a transposed input's strides, so only a contiguous input is known.
RESIZING = frozenset(
    [f"torch.nn.{kind}Pool{n}d" for kind in ("Avg", "Max", "AdaptiveAvg", "AdaptiveMax", "LP") for n in (2, 3)]
    + ["torch.nn.FractionalMaxPool2d", "torch.nn.FractionalMaxPool3d",
       "torch.nn.Upsample", "torch.nn.UpsamplingNearest2d", "torch.nn.UpsamplingBilinear2d"]
)
RESIZING_1D = frozenset(f"torch.nn.{kind}Pool1d" for kind in ("Avg", "Max", "AdaptiveAvg", "AdaptiveMax", "LP"))
# Format-keeping layers of other sizes: contiguous output only known for a contiguous input
# (paddings of 0 and local response norm keep a transposed input's strides; transposed convs and
# pixel (un)shuffles keep channels-last).
FORMAT_KEEPING = frozenset(
    [f"torch.nn.{kind}Pad{n}d" for kind in ("Zero", "Constant", "Reflection", "Replication", "Circular") for n in (1, 2, 3)]
    + [f"torch.nn.ConvTranspose{n}d" for n in (1, 2, 3)]
    + ["torch.nn.PixelShuffle", "torch.nn.PixelUnshuffle", "torch.nn.LocalResponseNorm"]
)


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
        # `self.pos_embed = None` on another path: where it is used as a tensor, it is the tensor
        values = [v for v in values or () if not (isinstance(v, cst.Name) and v.value == "None")]
        if len(values) != 1 or values[0] is None:
            return UNKNOWN
        return self._eval(values[0])

    def _init_product(self, attribute) -> str | None:
        """`self.dim_out_v` whose only store in its class is `self.dim_out_v = num_heads *
        self.dim_head_v` in `__init__`: that product as a size token, or None.

        A factor is an int literal, `self.<attr>` as written, or a parameter of `__init__` that
        reaches the product unchanged and is stored whole in exactly one `self.<attr>` (the token
        `self.num_heads` for `num_heads`); any other factor is a size of its own, equal to no
        other (`int(attn_ratio * key_dim)`). At least one factor must be a shared token.
        """
        cls = self.dataflow.enclosing_class(attribute)
        if cls is None:
            return None
        stores = self.facts.get(Program).self_stores(cls)
        found = stores.by_name.get(attribute.attr.value)
        if stores.dynamic or not found or len(found) != 1:
            return None
        value, method = found[0].value, found[0].method
        if method.name.value != "__init__" or not _is_product(value):
            return None
        factors, shared = [], False
        for operand in _product_operands(value):
            token = self._init_factor(operand, stores, method)
            shared = shared or token is not None
            factors.append(token if token is not None else f"init:{id(operand)}")
        return "*".join(sorted(factors)) if shared else None

    def _init_factor(self, operand, stores, method) -> str | None:
        if isinstance(operand, cst.Integer):
            return str(int(operand.evaluated_value))
        if isinstance(operand, cst.Attribute) and _is_self(operand.value):
            return f"self.{operand.attr.value}"
        if not isinstance(operand, cst.Name):
            return None
        flow = self.dataflow.function_of(operand)
        binding = flow.binding_at(operand) if flow is not None else None
        if binding is None or binding.kind != "param":
            return None
        mirrors = [
            name for name, named in stores.by_name.items()
            if len(named) == 1 and isinstance(named[0].value, cst.Name)
            and named[0].method is method
            and flow.binding_at(named[0].value) is binding
        ]
        return f"self.{mirrors[0]}" if len(mirrors) == 1 else None

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

    def _layer_output(self, module, call):
        """The output of a layer `self.<name>(x)` other than the shape-preserving and feature ones:
        convolutions and channel norms are known (see the module docstring), pooling, upsampling,
        padding and transposed-conv layers keep a channels-last input's format
        (`_format_keeping_output`); any other layer's output is fresh memory of unknown sizes,
        assumed contiguous (`OPAQUE`)."""
        args = [a for a in call.args if a.keyword is None]
        if module in RESIZING or module in RESIZING_1D or module in FORMAT_KEEPING:
            return self._format_keeping_output(module, args[0].value) if len(args) == 1 and len(call.args) == 1 \
                else Layout(tensor=True)
        if (module not in CONVOLUTIONS and module not in CHANNEL_NORMS) or len(args) != 1 or len(call.args) != 1:
            return OPAQUE
        source = self._eval(args[0].value)
        if not isinstance(source, Layout) or source.dims is None:
            return OPAQUE
        sizes = [d.size for d in source.dims]
        if module in CONVOLUTIONS:
            spatial = CONVOLUTIONS[module]
            if len(sizes) not in (spatial + 1, spatial + 2):
                return Layout(tensor=True)  # torch raises
            constructor = self._module_constructor(call)
            width = _constructor_argument(constructor, 1, ("out_channels",))
            channels = self._size(width, 0) if width is not None else None
            if _same_text(self, _constructor_argument(constructor, 0, ("in_channels",)), width):
                channels = sizes[-spatial - 1]  # torch checks x's channels against in_channels
            # sizes not told by the code: one key per call (per frame), as `B, C, H, W = y.shape` names them
            key = f"out:{id(call)}" + (f"@{id(self)}" if self._caller is not None else "")
            plain = self._without_factory_kwargs(constructor)
            kept = sizes[-spatial:] if _pointwise(plain) or self._same_size(plain, spatial) \
                else [f"{key}:{i}" for i in range(spatial)]
            sizes = sizes[:-spatial - 1] + [channels if channels is not None else f"{key}:c"] + kept
        dense = _channels_first(source)
        if dense:
            return Layout(tensor=True, dims=_ranked(sizes), contiguous=True)
        return Layout(tensor=True, dims=tuple(Dim(size) for size in sizes), contiguous=None)

    def _same_size(self, constructor, spatial: int) -> bool:
        """A conv whose hyper-parameters the code spells as constants (`kernel_size=(3, 1, 1)`,
        `padding=[int(k // 2) for k in kernel]`, or `padding="same"`) with stride 1 and
        `2 * padding == dilation * (kernel - 1)` in every spatial dim: output sizes equal the input's
        (`(n + 2p - d(k - 1) - 1) // s + 1`, torch's formula; checked in tests/test_module_formats.py)."""
        if constructor is None or any(a.star for a in constructor.args):
            return False
        named = {}
        for index, argument in enumerate(constructor.args):
            if argument.keyword is None:
                if index >= len(_CONV_PARAMETERS):
                    return False
                named[_CONV_PARAMETERS[index]] = argument.value
            elif argument.keyword.value in _CONV_PARAMETERS or argument.keyword.value in FACTORY_KEYWORDS:
                named[argument.keyword.value] = argument.value
            else:
                return False
        values = {}
        for name, default in (("kernel_size", None), ("stride", 1), ("padding", 0), ("dilation", 1)):
            expr = named.get(name)
            if expr is None:
                values[name] = (default,) * spatial if default is not None else None
            elif name == "padding" and isinstance(expr, cst.SimpleString) and expr.evaluated_value in ("same", "valid"):
                values[name] = expr.evaluated_value
            else:
                value = constant(self.dataflow, expr)
                values[name] = (value,) * spatial if isinstance(value, int) else value
            if values[name] is None or (not isinstance(values[name], str) and len(values[name]) != spatial):
                return False
        if values["padding"] == "same":
            return True  # torch allows it with stride 1 only, and then keeps the sizes
        if values["padding"] == "valid":
            values["padding"] = (0,) * spatial
        return all(s == 1 and 2 * p == d * (k - 1) for k, s, p, d in
                   zip(values["kernel_size"], values["stride"], values["padding"], values["dilation"]))

    def _format_keeping_output(self, module, argument) -> Layout:
        """`self.pool(x)`, `self.up(x)`, `self.pad(x)`: contiguous only when x is known not to be
        channels-last (or, for 1-D pools and the other format-keeping layers, known contiguous);
        otherwise the output may keep x's channels-last strides and its order is unknown."""
        if module in RESIZING or module in RESIZING_1D:
            return resized(self._candidates(argument), one_d=module in RESIZING_1D)
        source = self._eval(argument)
        if not (isinstance(source, Layout) and source.contiguous is True and source.expanded is None):
            return Layout(tensor=True)
        dims = None if source.dims is None else _ranked([None] * len(source.dims))
        return Layout(tensor=True, dims=dims, contiguous=True)

    def _module_constructor(self, call):
        cls = self.dataflow.enclosing_class(call)
        values = self._attributes_of(cls).get(call.func.attr.value) if cls is not None else None
        return values[0] if values and len(values) == 1 and isinstance(values[0], cst.Call) else None

    def _without_factory_kwargs(self, constructor):
        """`nn.Conv2d(c, d, 1, **dd)` with `dd = {'device': device, 'dtype': dtype}` (or `dict(...)`)
        bound once in the same scope and only ever unpacked into calls: the constructor without
        that `**dd`, which places and types the weights but changes no size (timm passes it to
        every layer). Any other `**kwargs` stays."""
        if constructor is None:
            return None
        kept = [a for a in constructor.args if not (a.star == "**" and self._factory_only(a.value))]
        return constructor.with_changes(args=kept) if len(kept) != len(constructor.args) else constructor

    def _factory_only(self, expr) -> bool:
        if not isinstance(expr, cst.Name):
            return False
        flow = self.dataflow.function_of(expr)
        bindings = flow.bindings_at(expr) if flow is not None and flow.is_local_load(expr) else ()
        if len(bindings) != 1:
            return False
        binding = next(iter(bindings))
        for use in flow.uses(binding):  # never written into (`dd["stride"] = 2`) or handed on
            argument = self.dataflow.parent(use)
            if not (isinstance(argument, cst.Arg) and argument.star == "**" and argument.value is use):
                return False
        value = binding.value if binding.kind == "assign" else None
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value == "dict" \
                and self.names.qualified_name(value.func) is None:
            return all(a.keyword is not None and a.keyword.value in FACTORY_KEYWORDS for a in value.args)
        if not isinstance(value, cst.Dict):
            return False
        return all(
            isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString)
            and element.key.evaluated_value in FACTORY_KEYWORDS
            for element in value.elements
        )

    def loops_over_submodules(self, name) -> bool:
        """Whether the name `block` called as `block(x)` is, on every definition that reaches the call,
        the target of `for block in self.blocks:` (also inside `enumerate(...)` / `zip(...)` with a tuple
        target) where the class sets `self.blocks` once to an `nn.ModuleList`/`nn.Sequential`: then
        each value is a submodule, and its output is what `self.proj(x)`'s is (`OPAQUE`)."""
        flow = self.dataflow.function_of(name)
        if flow is None or not flow.is_local_load(name):
            return False
        bindings = flow.bindings_at(name)
        for binding in bindings:
            # a target inside a tuple (`for i, (a, b) in ...`) is bound as "other"
            if binding.kind not in ("for", "other") or not isinstance(binding.statement, cst.For):
                return False
            source = self._loop_source(binding.statement.target, binding.statement.iter, binding.node)
            if not (isinstance(source, cst.Attribute) and _is_self(source.value)
                    and self._module_class(source) in CONTAINERS):
                return False
        return bool(bindings)

    def _loop_source(self, target, iterable, name):
        """The iterable whose elements the loop target `name` takes, through `enumerate` and `zip`."""
        if target is name:
            return iterable
        if not isinstance(target, (cst.Tuple, cst.List)) or not isinstance(iterable, cst.Call) \
                or not isinstance(iterable.func, cst.Name) or self.names.qualified_name(iterable.func) is not None \
                or any(a.star or a.keyword is not None for a in iterable.args):
            return None
        elements = [e.value for e in target.elements if not isinstance(e, cst.StarredElement)]
        if len(elements) != len(target.elements):
            return None
        if iterable.func.value == "enumerate" and len(iterable.args) == 1 and len(elements) == 2:
            return self._loop_source(elements[1], iterable.args[0].value, name)
        if iterable.func.value == "zip" and len(elements) == len(iterable.args):
            found = [self._loop_source(e, a.value, name) for e, a in zip(elements, iterable.args)]
            return next((f for f in found if f is not None), None)
        return None

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


def _channels_first(layout) -> bool:
    """Is a conv's or norm's output contiguous for this input? Yes unless the input may be
    channels-last: only 4-D and 5-D inputs whose dim 1 is (or may be) innermost are."""
    if layout.contiguous or len(layout.dims) not in (4, 5):
        return bool(layout.contiguous) or len(layout.dims) < 4
    ranks = [d.rank for d in layout.dims if d.size != "1"]
    channel = layout.dims[1]
    if channel.size == "1" or channel.rank is None or any(r is None or not isinstance(r, int) for r in ranks):
        return False
    return channel.rank != max(ranks)


_CONV_PARAMETERS = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias",
                    "padding_mode")


def _same_text(layouts, a, b) -> bool:
    """`nn.Conv3d(c, c, ...)`: the same name, attribute or literal for both channel counts."""
    if not isinstance(a, (cst.Name, cst.Attribute, cst.Integer)) or b is None:
        return False
    return layouts.facts.module.code_for_node(a) == layouts.facts.module.code_for_node(b)


def _pointwise(constructor) -> bool:
    """`nn.Conv2d(c, d, 1)` with default stride, padding and dilation keeps the spatial sizes."""
    if constructor is None or any(a.star for a in constructor.args):
        return False
    kernel = _constructor_argument(constructor, 2, ("kernel_size",))
    if kernel is None or _int(kernel) != 1:
        return False
    positional = [a for a in constructor.args if a.keyword is None]
    if len(positional) > 3:
        return False
    keep = {"stride": 1, "padding": 0, "dilation": 1}
    for argument in constructor.args:
        if argument.keyword is None:
            continue
        name = argument.keyword.value
        if name in keep and _int(argument.value) != keep[name]:
            return False
        if name == "padding_mode" or (name not in keep and name not in ("in_channels", "out_channels", "kernel_size", "bias", "groups", "device", "dtype")):
            return False
    return True


def _is_product(expr) -> bool:
    return isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Multiply)


def _product_operands(expr) -> list:
    """`a * b * c` -> [a, b, c] (parentheses kept as one operand unless they hold a product)."""
    if _is_product(expr):
        return _product_operands(expr.left) + _product_operands(expr.right)
    return [expr]
