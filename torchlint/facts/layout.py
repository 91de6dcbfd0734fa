"""Abstract tensor layout of expressions: ndim, size-1 dims, memory order, expanded dims.

    layouts = self.facts.get(Layouts)
    layout = layouts.of(expr)      # Layout, or None when `expr` is known not to be a tensor

A `Layout` is evaluated along method chains (`x.unsqueeze(0).transpose(1, 2)`), through local
assignments (via `Dataflow`), through `self.<attr>` set once in the class (`nn.Parameter(...)`,
`register_buffer`), and from constructors. Values count as tensors only on evidence
(`tensor=True`): torch constructors and functions, `nn.Parameter`, tensor-only methods, a
`Tensor` annotation. Values of unknown origin (parameters, module calls) are `tensor=None` and
assumed contiguous, as code usually receives them; numpy, pandas, einops, Python literals and
`np.ndarray` annotations give None (not a tensor).

Sizes are symbolic tokens: "1", "3" for literals, and stable keys for named sizes
(`B, C, H, W = x.shape`, `x.size(0)`, `window_size[0]`, `C // self.num_heads`; products as
sorted factors, so `H * W` matches the dims `H` and `W`), so that two spellings of the same
size compare equal. Memory order is a rank per dim (0 = outermost in the underlying storage,
None for size-1 or unknown dims, EXPANDED for stride 0); `view_merge(layout, target)` uses
ranks to tell whether a reshape is a view or a copy, and `copying_reshape(layouts, call)` is
the question TL102/TL103 ask of a `.reshape`/`.view` call.

Facts that only hold on some paths are dropped (`_join`): a name bound differently in two
branches has a layout only where both agree. Results checked against torch 2.x with
`is_contiguous()`, `stride()` and `untyped_storage().data_ptr()`: elementwise ops keep the
input's memory order; `softmax`, `log_softmax`, `masked_fill`, `layer_norm` return contiguous
memory; `contiguous()`/`to()` with a `memory_format` make strides unknown.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

from torchlint._lazy import lazy_module
from torchlint.facts.dataflow import Dataflow
from torchlint.facts.evidence import Evidence
from torchlint.facts.program import Program
from torchlint.facts.statements import is_true

cst = lazy_module("libcst")

EXPANDED = "E"  # the rank of a stride-0 dim


class Shows(enum.Enum):
    """What a layout `Evidence` shows; `name` is the operation as written, `dim` the dim."""

    SIZE_ONE = enum.auto()  # dim `dim` has size 1 (no single place shows it)
    SIZE_ONE_BY = enum.auto()  # dim `dim` has size 1 because of the operation `name`
    SIZE_ONE_LITERAL = enum.auto()  # a literal 1 in the shape given to the method `name`
    SIZE_ONE_INDEXED = enum.auto()  # indexing `[name]` adds or keeps a size-1 dim
    SIZE_ONE_SLICE = enum.auto()  # the length-1 slice `[name]`
    NONCONTIGUOUS_BY = enum.auto()  # the operation `name` made the tensor non-contiguous
    NONCONTIGUOUS_SLICE = enum.auto()  # the slice `[name]` made it non-contiguous
    NONCONTIGUOUS_EXPAND = enum.auto()  # `expand` gave it stride-0 dims
    EXPANDED = enum.auto()  # `expand`: the grown dims share one memory location
    EXPANDED_AS = enum.auto()  # `expand_as`: the repeated dims share memory



@dataclass(frozen=True)
class Dim:
    size: str | None  # symbolic size token; "1" when known to be one
    rank: object = None  # int memory rank, EXPANDED, or None (unknown, or a size-1 dim)
    note: Evidence | None = None  # why the size is known (for size-1 dims)


@dataclass(frozen=True)
class Layout:
    tensor: bool | None  # True on evidence; None: unknown, treated as a tensor of unknown layout
    dims: tuple | None = None  # tuple[Dim] when ndim is known
    ones_left: tuple = ()  # ((index from the left, Evidence), ...) when ndim is unknown
    ones_right: tuple = ()  # ((index from the right, 0 = last, Evidence), ...)
    contiguous: bool | None = None
    cuts: frozenset = frozenset()  # ranks that cannot merge with the next-outer rank
    expanded: Evidence | None = None  # the `.expand` that gave some dim stride 0
    noncontig: Evidence | None = None  # the op that made the tensor non-contiguous
    view_of: object = field(default=None, repr=False, compare=False)  # the expression whose memory this is a view of

    @property
    def ndim(self) -> int | None:
        return None if self.dims is None else len(self.dims)

    def one_left(self, index: int) -> Evidence | None:
        """Evidence that dim `index` (from the left) has size 1, or None."""
        if self.dims is not None:
            if 0 <= index < len(self.dims) and self.dims[index].size == "1":
                return self.dims[index].note or Evidence(None, Shows.SIZE_ONE, dim=index)
            return None
        return next((n for i, n in self.ones_left if i == index), None)

    def one_right(self, index: int) -> Evidence | None:
        """Evidence that the dim `index` places from the right (0 = last) has size 1."""
        if self.dims is not None:
            return self.one_left(len(self.dims) - 1 - index) if index < len(self.dims) else None
        return next((n for i, n in self.ones_right if i == index), None)


@dataclass(frozen=True)
class _Pair:
    """`(values, indices)` of `max(dim)`-style reductions: `[0]` / `.values` give the layout."""

    values: Layout


UNKNOWN = Layout(tensor=None, contiguous=None)
OPAQUE = Layout(tensor=None, contiguous=True)  # a name of unknown origin: assumed contiguous

TENSOR_ONLY_METHODS = frozenset({
    "unsqueeze", "permute", "expand", "expand_as", "contiguous", "view_as", "reshape_as", "narrow",
    "unfold", "movedim", "swapdims", "mT", "t", "clone", "detach", "float", "half", "bfloat16",
    "masked_fill", "softmax", "log_softmax", "sigmoid", "new_zeros", "new_ones", "new_empty",
    "new_full", "type_as", "is_contiguous", "cuda", "amax", "amin", "logsumexp", "unbind",
})
KEEPDIM_REDUCTIONS = frozenset({
    "sum", "mean", "amax", "amin", "norm", "prod", "std", "var", "logsumexp", "any", "all",
    "nansum", "nanmean", "count_nonzero",
})
PAIR_REDUCTIONS = frozenset({"max", "min", "median", "mode", "kthvalue", "nanmedian"})
# Elementwise methods: TensorIterator keeps the input's memory order in the output.
ELEMENTWISE_METHODS = frozenset({
    "float", "half", "double", "bfloat16", "int", "long", "bool", "to", "type", "type_as", "cuda",
    "cpu", "detach", "sigmoid", "relu", "exp", "log", "abs", "neg", "sqrt", "rsqrt", "tanh",
    "clamp", "clip", "pow", "mul", "add", "sub", "div",
    "gelu", "silu", "sin", "cos", "square", "reciprocal", "sign", "round", "floor", "ceil",
    "requires_grad_", "clone", "nan_to_num", "exp_", "mul_", "add_", "div_", "sub_", "clamp_",
    "masked_fill_", "fill_", "zero_", "normal_", "uniform_", "sigmoid_", "relu_",
})
ELEMENTWISE_FUNCTIONS = frozenset({
    "torch.sigmoid", "torch.relu", "torch.exp", "torch.log", "torch.abs", "torch.tanh",
    "torch.nn.functional.relu",
    "torch.nn.functional.gelu", "torch.nn.functional.silu", "torch.nn.functional.dropout",
    "torch.nn.functional.sigmoid", "torch.sqrt", "torch.rsqrt",
    "torch.nn.functional.leaky_relu", "torch.nn.functional.elu", "torch.clamp", "torch.sin",
    "torch.cos", "torch.nn.functional.normalize",
})
# Results in fresh contiguous memory whatever the input's strides (checked with is_contiguous()).
FRESH_METHODS = frozenset({"softmax", "log_softmax", "masked_fill"})
FRESH_FUNCTIONS = frozenset({
    "torch.softmax", "torch.log_softmax", "torch.nn.functional.softmax", "torch.nn.functional.log_softmax",
    "torch.nn.functional.layer_norm", "torch.masked_fill",
})
SHAPE_PRESERVING_MODULES = frozenset({
    "torch.nn.Dropout", "torch.nn.Identity", "torch.nn.GELU", "torch.nn.ReLU", "torch.nn.SiLU",
    "torch.nn.Tanh", "torch.nn.Sigmoid", "torch.nn.LeakyReLU", "torch.nn.ELU",
    "torch.nn.Dropout1d", "torch.nn.Dropout2d", "torch.nn.Hardswish", "torch.nn.Mish",
})
SIZE_CONSTRUCTORS = frozenset({
    "torch.zeros", "torch.ones", "torch.empty", "torch.rand", "torch.randn", "torch.full",
})
LIKE_CONSTRUCTORS = frozenset({
    "torch.zeros_like", "torch.ones_like", "torch.empty_like", "torch.rand_like",
    "torch.randn_like", "torch.full_like",
})
OTHER_TENSOR_FUNCTIONS = frozenset({
    "torch.tensor", "torch.as_tensor", "torch.from_numpy", "torch.arange", "torch.linspace",
    "torch.logspace", "torch.eye", "torch.cat", "torch.stack", "torch.concat", "torch.randint",
    "torch.randperm", "torch.einsum", "torch.bmm", "torch.matmul", "torch.where", "torch.zeros_like",
})
PARAMETER = frozenset({"torch.nn.Parameter", "torch.nn.parameter.Parameter"})
NOT_TENSOR_ROOTS = ("numpy", "pandas", "einops", "itertools", "math", "jax", "tensorflow", "scipy")
TENSOR_ANNOTATIONS = frozenset({"torch.Tensor", "torch.FloatTensor", "torch.LongTensor", "torch.nn.Parameter"})


class Layouts:
    """Fact kind: `of(expr)` gives the abstract layout of an expression inside a function."""

    def __init__(self, facts) -> None:
        self.facts = facts
        self.names = facts.names
        self.dataflow: Dataflow = facts.get(Dataflow)
        self._memo: dict[int, object] = {}
        self._active: set[int] = set()
        
    @classmethod
    def build(cls, facts) -> Layouts:
        return cls(facts)

    # --- public ---------------------------------------------------------------------------

    def of(self, expr) -> Layout | None:
        """The layout of `expr`; None when it is known not to be a tensor."""
        value = self._eval(expr)
        if isinstance(value, _Pair):
            return None
        return value

    def size_token(self, expr) -> str | None:
        """A symbolic key for a size expression (`B`, `x.size(0)`, `H * W`, `8`), or None."""
        return self._size(expr, 0)

    # --- evaluation -----------------------------------------------------------------------

    def _eval(self, expr):
        key = id(expr)
        if key in self._memo:
            return self._memo[key]
        if key in self._active:
            return UNKNOWN
        self._active.add(key)
        try:
            value = self._eval_uncached(expr)
        except (ValueError, IndexError, TypeError, AttributeError):
            value = UNKNOWN  # malformed or unusual code: know nothing rather than crash
        finally:
            self._active.discard(key)
        self._memo[key] = value
        return value

    def _eval_uncached(self, expr):
        if isinstance(expr, cst.Name):
            return self._name(expr)
        if isinstance(expr, cst.Attribute):
            return self._attribute(expr)
        if isinstance(expr, cst.Call):
            return self._call(expr)
        if isinstance(expr, cst.Subscript):
            return self._subscript(expr)
        if isinstance(expr, cst.BinaryOperation):
            return self._binary(expr)
        if isinstance(expr, cst.IfExp):
            # `nn.Parameter(...) if cls_token else None`: where it is used as a tensor, it is the tensor
            arms = [arm for arm in (expr.body, expr.orelse) if not (isinstance(arm, cst.Name) and arm.value == "None")]
            return _join([self._eval(arm) for arm in arms])
        if isinstance(expr, (cst.Integer, cst.Float, cst.SimpleString, cst.ConcatenatedString, cst.FormattedString,
                             cst.List, cst.Tuple, cst.Dict, cst.Set, cst.ListComp, cst.DictComp, cst.SetComp,
                             cst.Comparison)):
            return None
        return UNKNOWN

    def _name(self, name):
        if name.value in ("True", "False", "None"):
            return None
        flow = self.dataflow.function_of(name)
        if flow is None or not flow.is_local_load(name):
            if self.names.qualified_name(name) is not None:
                return None  # a module or an imported function, not a tensor
            return OPAQUE
        bindings = flow.bindings_at(name)
        layouts = [self._binding(b, flow) for b in bindings]
        return _join(layouts)

    def _binding(self, binding, flow):
        if binding.kind == "param":
            layout = self._annotation(binding.annotation)
            if isinstance(layout, Layout):
                return self._with_shape_unpack(layout, binding, flow)
            return layout
        if binding.kind == "assign" and binding.value is not None:
            if binding.annotation is not None and self._annotation(binding.annotation) is None:
                return None
            layout = self._eval(binding.value)
            if isinstance(layout, Layout) and layout.dims is None and layout.contiguous:
                layout = self._with_shape_unpack(layout, binding, flow)
            return layout
        if binding.kind == "unpack" and binding.value is not None:
            return self._unpacked(binding.value, binding.index)
        return OPAQUE if binding.kind in ("for", "with") else UNKNOWN

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
        """`B, C, H, W = x.shape` anywhere in the function tells x's ndim and names its sizes."""
        if layout.dims is not None:
            return layout
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
                    dims = tuple(Dim(f"{id(binding)}:{i}", i) for i in range(len(target.elements)))
                    return Layout(tensor=layout.tensor if layout is not None else None, dims=dims, contiguous=True)
        return layout

    def _unpacked(self, value, index):
        if isinstance(value, (cst.Tuple, cst.List)):
            elements = value.elements
            if index is not None and index < len(elements) and not isinstance(elements[index], cst.StarredElement):
                return self._eval(elements[index].value)
            return UNKNOWN
        source = self._eval(value)
        if isinstance(source, _Pair):
            return source.values if index == 0 else UNKNOWN
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
            method = value.func.attr.value
            receiver = self._eval(value.func.value)
            if isinstance(receiver, Layout) and method in ("unbind", "chunk", "split", "tensor_split"):
                return _split_element(receiver, method, value, self)
        if isinstance(value, cst.Attribute) and value.attr.value == "shape":
            return None  # a size, not a tensor
        return UNKNOWN if source is not None else None

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
            return receiver.values if attr == "values" else UNKNOWN
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

    # --- calls ----------------------------------------------------------------------------

    def _call(self, call):
        func = call.func
        qualified = self.names.qualified_name(func)
        if qualified is not None:
            return self._function(qualified, call)
        module = self.module_kind(call)
        if module is not None:
            args = [a for a in call.args if a.keyword is None]
            if module in SHAPE_PRESERVING_MODULES and len(args) == 1:
                source = self._eval(args[0].value)
                return _elementwise(source) if isinstance(source, Layout) else UNKNOWN
            return OPAQUE  # a layer's output (Linear, Conv...): fresh memory, assumed contiguous
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self" \
                and self.dataflow.enclosing_class(call) is not None and func.attr.value not in self._methods_of(call):
            return OPAQUE  # `self.proj(x)`: a submodule set up elsewhere
        if isinstance(func, cst.Attribute):
            receiver = self._eval(func.value)
            if isinstance(receiver, _Pair):
                return UNKNOWN
            if receiver is None:
                return None
            return self._method(receiver, func.attr.value, call)
        if isinstance(func, cst.Name) and func.value in ("len", "int", "float", "str", "list", "tuple", "dict", "range", "sum", "min", "max", "zip", "enumerate", "isinstance"):
            return None
        return UNKNOWN

    def _function(self, qualified, call):
        if qualified.startswith(NOT_TENSOR_ROOTS):
            return None
        if not qualified.startswith("torch."):
            return UNKNOWN
        args = [a for a in call.args if a.keyword is None]
        if qualified in PARAMETER:
            inner = self._eval(args[0].value) if args else UNKNOWN
            return _tensor(inner)
        if qualified in SIZE_CONSTRUCTORS:
            return self._constructor(call, args, qualified)
        if qualified in LIKE_CONSTRUCTORS and args:
            source = self._eval(args[0].value)
            dims = source.dims if isinstance(source, Layout) else None
            if dims is not None:
                dims = _ranked([d.size for d in dims], [d.note for d in dims])
            return Layout(tensor=True, dims=dims, contiguous=True)
        if qualified in ("torch.matmul", "torch.bmm") and len(args) == 2:
            return self._matmul(self._eval(args[0].value), self._eval(args[1].value))
        if qualified in FRESH_FUNCTIONS and args:
            source = self._eval(args[0].value)
            return _fresh(source, tensor=True) if isinstance(source, Layout) else Layout(tensor=True)
        if qualified in ELEMENTWISE_FUNCTIONS and args:
            source = self._eval(args[0].value)
            return _elementwise(source) if isinstance(source, Layout) else Layout(tensor=True)
        if qualified in ("torch.arange", "torch.linspace", "torch.logspace", "torch.randperm"):
            return Layout(tensor=True, dims=(Dim(None, 0),), contiguous=True)
        if qualified.startswith("torch.") and not qualified.startswith(("torch.nn.", "torch.Size", "torch.finfo", "torch.iinfo", "torch.cuda.", "torch.distributed.")):
            if qualified.split(".")[-1][:1].isupper() or qualified in ("torch.is_tensor", "torch.numel", "torch.no_grad"):
                return None
            reduction = self._keepdim_function(qualified, call, args)
            if reduction is not None:
                return reduction
            return Layout(tensor=True)  # a tensor of unknown layout
        if qualified.startswith("torch.nn.functional."):
            return Layout(tensor=True)
        return UNKNOWN

    def _keepdim_function(self, qualified, call, args):
        name = qualified.split(".")[-1]
        if qualified.count(".") != 1 or not args:
            return None
        source = self._eval(args[0].value)
        if not isinstance(source, Layout):
            return None
        if name in KEEPDIM_REDUCTIONS or name in PAIR_REDUCTIONS:
            reduced = _keepdim(source, name, call, args[1:], self)
            if name in PAIR_REDUCTIONS and _dim_argument(call, args[1:]) is not None:
                return _Pair(reduced) if reduced is not None else _Pair(UNKNOWN)
            return reduced
        return None

    def _constructor(self, call, args, qualified):
        size_args = args[:-1] if qualified == "torch.full" else args
        if qualified == "torch.full" and len(args) >= 1:
            size_args = args[:1]
        if len(size_args) == 1 and isinstance(size_args[0].value, (cst.Tuple, cst.List)):
            elements = [e.value for e in size_args[0].value.elements]
        elif len(size_args) == 1:
            return Layout(tensor=True, contiguous=True)  # `torch.zeros(shape)`: ndim unknown
        else:
            elements = [a.value for a in size_args]
        if any(isinstance(e, cst.StarredElement) for e in elements) or any(a.star for a in size_args):
            return Layout(tensor=True, contiguous=True)
        name = qualified.split(".")[-1]
        shown = _code(self, call.args[0].value) if len(size_args) == 1 else ", ".join(_code(self, e) for e in elements)
        sizes = [self._size(element, 0) for element in elements]
        notes = [Evidence(call, Shows.SIZE_ONE_BY, f"torch.{name}({shown})", dim=i) if size == "1" else None
                 for i, size in enumerate(sizes)]
        return Layout(tensor=True, dims=_ranked(sizes, notes), contiguous=True)

    def _method(self, receiver: Layout, method: str, call):
        args = [a for a in call.args if a.keyword is None]
        if any(a.keyword is not None and a.keyword.value == "memory_format" for a in call.args):
            # channels_last and friends: strides no longer follow the dims' order
            return Layout(tensor=True, dims=_unknown_ranks(receiver.dims), contiguous=None)
        tensor = True if method in TENSOR_ONLY_METHODS else receiver.tensor
        if receiver.tensor is None and method in ("numpy", "tolist", "item", "keys", "values", "items", "split", "join", "format", "strip"):
            return None
        if method in ("numpy", "tolist", "item", "size", "dim", "numel", "stride", "data_ptr", "is_contiguous", "element_size"):
            return None
        if method == "unsqueeze" and len(args) == 1:
            dim = _int(args[0].value)
            return _unsqueeze(receiver, dim, call, f"unsqueeze({_code(self, args[0].value)})") if dim is not None else Layout(tensor=True)
        if method in ("transpose", "swapaxes", "swapdims") and len(args) == 2:
            a, b = _int(args[0].value), _int(args[1].value)
            if a is None or b is None:
                return Layout(tensor=tensor)
            # numpy's transpose(1, 0) is a permutation too; other pairs exist only on tensors
            tensor = receiver.tensor if method == "transpose" and {a, b} == {0, 1} else True
            return _transpose(receiver, a, b, call, f"{method}({a}, {b})", tensor_only=tensor)
        if method == "t" and not args:
            return _transpose(receiver, 0, 1, call, "t()", tensor_only=True)
        if method == "permute":
            order = _int_list(args)
            return _permute(receiver, order, call, self) if order is not None else Layout(tensor=True)
        if method in ("movedim", "moveaxis") and len(args) == 2:
            src, dst = _int(args[0].value), _int(args[1].value)
            return _movedim(receiver, src, dst, call, self) if src is not None and dst is not None else Layout(tensor=True)
        if method in ("view", "reshape"):
            return _reshaped(receiver, self._target_tokens(call), call, method, self)
        if method in ("flatten",):
            return _flattened(receiver, call, self)
        if method == "contiguous":
            return _fresh(receiver, tensor=True)
        if method in ("expand", "broadcast_to"):
            return _expand(receiver, self._target_tokens(call), call, self)
        if method == "expand_as":
            return Layout(tensor=True, expanded=Evidence(call, Shows.EXPANDED_AS), contiguous=False) if _has_ones(receiver) else Layout(tensor=True)
        if method == "repeat":
            return Layout(tensor=True, dims=None, contiguous=True) if receiver.tensor else UNKNOWN
        if method in KEEPDIM_REDUCTIONS or method in PAIR_REDUCTIONS:
            reduced = _keepdim(receiver, method, call, args, self)
            if method in PAIR_REDUCTIONS and _dim_argument(call, args) is not None:
                return _Pair(reduced if reduced is not None else UNKNOWN)
            return reduced if reduced is not None else Layout(tensor=tensor)
        if method in ("unbind",):
            return UNKNOWN
        if method in ("narrow",) and len(args) == 3:
            dim = _int(args[0].value)
            return _sliced(receiver, dim, call, f"narrow({_code(self, args[0].value)}, ...)")
        if method in ("unfold", "diagonal", "as_strided"):
            return Layout(tensor=True, contiguous=False, noncontig=Evidence(call, Shows.NONCONTIGUOUS_BY, f"{method}(...)"))
        if method in FRESH_METHODS:
            return _fresh(receiver, tensor=True)
        if method in ELEMENTWISE_METHODS:
            return _elementwise(replace(receiver, tensor=tensor))
        if method in ("new_zeros", "new_ones", "new_empty", "new_full", "new_tensor"):
            return Layout(tensor=True)
        if receiver.tensor:
            return Layout(tensor=True)  # some other tensor method
        return UNKNOWN

    def _target_tokens(self, call):
        """Sizes passed to view/reshape/expand: a list of tokens ("-1" kept), or None."""
        args = [a for a in call.args if a.keyword is None]
        if any(a.star for a in args):
            return None
        if len(args) == 1 and isinstance(args[0].value, (cst.Tuple, cst.List)):
            values = [e.value for e in args[0].value.elements]
            if any(isinstance(e, cst.StarredElement) for e in args[0].value.elements):
                return None
        elif len(args) == 1 and (not _looks_like_size(args[0].value) or self._size(args[0].value, 0) is None):
            return None  # `view(shape)`, `view(torch.float16)`, `reshape((n, -1) + x.shape[2:])`
        else:
            values = [a.value for a in args]
        return [self._size(v, 0) for v in values]

    # --- indexing ---------------------------------------------------------------------------

    def _subscript(self, expr):
        receiver = self._eval(expr.value)
        if isinstance(receiver, _Pair):
            index = _int(expr.slice[0].slice.value) if len(expr.slice) == 1 and isinstance(expr.slice[0].slice, cst.Index) else None
            return receiver.values if index == 0 else UNKNOWN
        if receiver is None:
            return None
        return _index(receiver, expr, self)

    # --- operators -------------------------------------------------------------------------

    def _binary(self, expr):
        left, right = self._eval(expr.left), self._eval(expr.right)
        if isinstance(expr.operator, cst.MatrixMultiply):
            return self._matmul(left, right)
        if isinstance(left, _Pair) or isinstance(right, _Pair):
            return UNKNOWN
        if left is None and right is None:
            return None
        if left is None or (right is not None and right.tensor and _is_scalar_like(expr.left)):
            return _elementwise(right) if right is not None and right.tensor else UNKNOWN
        if right is None or _is_scalar_like(expr.right):
            return _elementwise(left) if left.tensor else UNKNOWN
        if left.tensor or right.tensor:
            return Layout(tensor=True)
        return UNKNOWN

    def _matmul(self, left, right):
        if not isinstance(left, Layout) or not isinstance(right, Layout):
            return UNKNOWN
        if not (left.tensor or right.tensor):
            return UNKNOWN
        if left.dims is None or right.dims is None or len(left.dims) < 2 or len(right.dims) < 2:
            return Layout(tensor=True, contiguous=True)
        batch = left.dims[:-2] if len(left.dims) >= len(right.dims) else right.dims[:-2]
        sizes = [d.size for d in batch] + [left.dims[-2].size, right.dims[-1].size]
        return Layout(tensor=True, dims=_ranked(sizes), contiguous=True)

    # --- sizes ------------------------------------------------------------------------------

    def _size(self, expr, depth):
        if depth > 8:
            return None
        if isinstance(expr, cst.Integer):
            return str(int(expr.evaluated_value))
        if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus) and isinstance(expr.expression, cst.Integer):
            return "-" + expr.expression.value
        if isinstance(expr, cst.Name):
            return self._size_of_name(expr, depth)
        if isinstance(expr, cst.Subscript) and isinstance(expr.value, cst.Attribute) and expr.value.attr.value == "shape":
            index = _single_int(expr)
            return self._dim_token(expr.value.value, index) if index is not None else None
        if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "size":
            args = [a for a in expr.args if a.keyword is None]
            index = _int(args[0].value) if len(args) == 1 else None
            return self._dim_token(expr.func.value, index) if index is not None else None
        if isinstance(expr, cst.BinaryOperation):
            left, right = self._size(expr.left, depth + 1), self._size(expr.right, depth + 1)
            if left is None or right is None:
                return None
            op = type(expr.operator).__name__
            if op == "Multiply":
                return "*".join(sorted(left.split("*") + right.split("*")))
            return f"({left} {op} {right})"
        if isinstance(expr, cst.Attribute):
            return _code(self, expr)  # `self.num_heads`: the same text means the same size
        if isinstance(expr, cst.Subscript) and len(expr.slice) == 1 and isinstance(expr.slice[0].slice, cst.Index):
            # `window_size[0]`: an item of a local (or attribute) sequence, keyed by its binding
            index = _int(expr.slice[0].slice.value)
            base = expr.value
            if index is None:
                return None
            if isinstance(base, cst.Attribute):
                return f"{_code(self, base)}[{index}]"
            if isinstance(base, cst.Name):
                flow = self.dataflow.function_of(base)
                binding = flow.binding_at(base) if flow is not None else None
                if binding is not None:
                    return f"binding:{id(binding)}[{index}]"
                if flow is None or not flow.is_local_load(base):
                    return f"name:{base.value}[{index}]"
        return None

    def _size_of_name(self, name, depth):
        flow = self.dataflow.function_of(name)
        binding = flow.binding_at(name) if flow is not None else None
        if binding is None:
            return f"name:{name.value}" if flow is None or not flow.is_local_load(name) else None
        if binding.kind == "unpack" and isinstance(binding.value, cst.Attribute) and binding.value.attr.value == "shape":
            return self._dim_token(binding.value.value, binding.index)
        if binding.kind == "unpack" and isinstance(binding.value, cst.Call) and isinstance(binding.value.func, cst.Attribute) and binding.value.func.attr.value == "size" and not binding.value.args:
            return self._dim_token(binding.value.func.value, binding.index)
        if binding.kind == "assign" and binding.value is not None:
            token = self._size(binding.value, depth + 1)
            return token if token is not None else f"binding:{id(binding)}"
        return f"binding:{id(binding)}"

    def _dim_token(self, tensor_expr, index):
        layout = self._eval(tensor_expr)
        if isinstance(layout, Layout) and layout.dims is not None and -len(layout.dims) <= index < len(layout.dims):
            return layout.dims[index].size
        return None


# --- layout transfer functions --------------------------------------------------------------


def _join(layouts):
    """The facts that hold on every path: equal layouts stay, anything else is unknown."""
    if not layouts:
        return UNKNOWN
    first = layouts[0]
    if all(layout == first for layout in layouts):
        return first
    if any(layout is None for layout in layouts):
        return None if all(layout is None for layout in layouts) else UNKNOWN
    tensor = True if all(l.tensor for l in layouts if isinstance(l, Layout)) else None
    return Layout(tensor=tensor)


def _tensor(layout):
    if isinstance(layout, Layout):
        return replace(layout, tensor=True)
    return Layout(tensor=True)


def _ranked(sizes, notes=None) -> tuple:
    """Dims of a fresh contiguous tensor: ranks count only the dims not known to be size 1."""
    dims, rank = [], 0
    for index, size in enumerate(sizes):
        note = notes[index] if notes else None
        if size == "1":
            dims.append(Dim("1", None, note))
        else:
            dims.append(Dim(size, rank, note))
            rank += 1
    return tuple(dims)


def _fresh(layout: Layout, tensor=None) -> Layout:
    dims = None
    if layout.dims is not None:
        dims = _ranked([d.size for d in layout.dims], [d.note for d in layout.dims])
    return Layout(tensor=tensor if tensor is not None else layout.tensor, dims=dims, contiguous=True)


def _elementwise(layout: Layout) -> Layout:
    """Elementwise results keep the input's memory order (TensorIterator) but own dense memory."""
    if layout.expanded is not None:
        return Layout(tensor=layout.tensor, dims=_fresh(layout).dims, contiguous=True)
    if layout.cuts:
        return Layout(tensor=layout.tensor, dims=_fresh(layout).dims if layout.contiguous else _unknown_ranks(layout.dims), contiguous=None)
    return replace(layout, view_of=None)


def _unknown_ranks(dims):
    return None if dims is None else tuple(Dim(d.size, None, d.note) for d in dims)


def _has_ones(layout) -> bool:
    if layout.dims is not None:
        return any(d.size == "1" for d in layout.dims)
    return bool(layout.ones_left or layout.ones_right)


def _normalize(dim, ndim):
    if ndim is None:
        return None
    if dim < 0:
        dim += ndim
    return dim if 0 <= dim < ndim else None


def _unsqueeze(layout: Layout, dim: int, node, shown: str) -> Layout:
    if layout.dims is not None:
        ndim = len(layout.dims) + 1
        position = dim + ndim if dim < 0 else dim
        if not 0 <= position < ndim:
            return Layout(tensor=True)
        note = Evidence(node, Shows.SIZE_ONE_BY, shown, dim=position)
        dims = layout.dims[:position] + (Dim("1", None, note),) + layout.dims[position:]
        return replace(layout, tensor=True, dims=dims)
    if dim >= 0:
        note = Evidence(node, Shows.SIZE_ONE_BY, shown, dim=dim)
        ones = tuple((i if i < dim else i + 1, n) for i, n in layout.ones_left) + ((dim, note),)
        return Layout(tensor=True, ones_left=ones, contiguous=layout.contiguous, noncontig=layout.noncontig)
    right = -dim - 1
    note = Evidence(node, Shows.SIZE_ONE_BY, shown, dim=dim)
    ones = tuple((i if i < right else i + 1, n) for i, n in layout.ones_right) + ((right, note),)
    return Layout(tensor=True, ones_right=ones, contiguous=layout.contiguous, noncontig=layout.noncontig)


def _transpose(layout: Layout, a: int, b: int, node, shown: str, tensor_only) -> Layout:
    tensor = True if tensor_only else layout.tensor
    if layout.dims is None:
        if (a < 0) == (b < 0) and a != b:
            ones = layout.ones_right if a < 0 else layout.ones_left
            swap = {(-a - 1 if a < 0 else a): (-b - 1 if b < 0 else b)}
            swap.update({v: k for k, v in swap.items()})
            moved = tuple((swap.get(i, i), n) for i, n in ones)
            other = dict(ones_left=moved) if a >= 0 else dict(ones_right=moved)
            return Layout(tensor=tensor, contiguous=False, noncontig=Evidence(node, Shows.NONCONTIGUOUS_BY, shown), **other)
        return Layout(tensor=tensor, contiguous=False, noncontig=Evidence(node, Shows.NONCONTIGUOUS_BY, shown))
    ndim = len(layout.dims)
    a, b = _normalize(a, ndim), _normalize(b, ndim)
    if a is None or b is None:
        return Layout(tensor=tensor)
    dims = list(layout.dims)
    dims[a], dims[b] = dims[b], dims[a]
    return _reordered(layout, tuple(dims), tensor, Evidence(node, Shows.NONCONTIGUOUS_BY, shown))


def _reordered(layout: Layout, dims: tuple, tensor, note: Evidence) -> Layout:
    contiguous = _dense_in_order(dims, layout.cuts) and layout.expanded is None
    noncontig = layout.noncontig if layout.noncontig is not None and not layout.contiguous else note
    return replace(layout, tensor=tensor, dims=dims, contiguous=contiguous, noncontig=None if contiguous else noncontig)


def _dense_in_order(dims, cuts) -> bool:
    ranks = [d.rank for d in dims if d.size != "1"]
    if any(r is None or r == EXPANDED for r in ranks):
        return False
    return all(b == a + 1 and b not in cuts for a, b in zip(ranks, ranks[1:]))


def _permute(layout: Layout, order, node, layouts) -> Layout:
    shown = f"permute({', '.join(map(str, order))})"
    if layout.dims is None:
        if layout.contiguous and layout.tensor is not False:
            # an input of unknown ndim assumed contiguous: ranks are the source positions
            dims = tuple(Dim(None, source) for source in order)
        else:
            return Layout(tensor=True, dims=tuple(Dim(None, None) for _ in order), contiguous=None)
        result = Layout(tensor=True, dims=dims, contiguous=order == sorted(order))
        return result if result.contiguous else replace(result, noncontig=Evidence(node, Shows.NONCONTIGUOUS_BY, shown))
    if len(order) != len(layout.dims):
        return Layout(tensor=True)
    normalized = [_normalize(i, len(order)) for i in order]
    if None in normalized or sorted(normalized) != list(range(len(order))):
        return Layout(tensor=True)
    dims = tuple(layout.dims[i] for i in normalized)
    return _reordered(layout, dims, True, Evidence(node, Shows.NONCONTIGUOUS_BY, shown))


def _movedim(layout: Layout, src: int, dst: int, node, layouts) -> Layout:
    if layout.dims is None:
        return Layout(tensor=True, contiguous=False if src != dst else layout.contiguous,
                      noncontig=Evidence(node, Shows.NONCONTIGUOUS_BY, f"movedim({src}, {dst})"))
    ndim = len(layout.dims)
    s, d = _normalize(src, ndim), _normalize(dst, ndim)
    if s is None or d is None:
        return Layout(tensor=True)
    dims = list(layout.dims)
    moved = dims.pop(s)
    dims.insert(d, moved)
    return _reordered(layout, tuple(dims), True, Evidence(node, Shows.NONCONTIGUOUS_BY, f"movedim({src}, {dst})"))


def _reshaped(receiver: Layout, target, call, method, layouts) -> Layout:
    tensor = True if method == "view" and target is not None else receiver.tensor
    if target is None:
        return Layout(tensor=tensor)
    if receiver.contiguous is None:
        # a computed tensor of unknown strides: the view may keep them, so ranks are unknown
        return Layout(tensor=tensor, dims=_target_dims(target, call, method, ranks=False))
    if receiver.contiguous is False:
        merge = view_merge(receiver, target)
        if merge is None or merge.copies:
            return Layout(tensor=tensor, dims=_target_dims(target, call, method), contiguous=True if method == "reshape" and merge is not None else None) if merge is not None else Layout(tensor=tensor, dims=_target_dims(target, call, method, ranks=False))
        return Layout(tensor=tensor, dims=_target_dims(target, call, method, ranks=False))
    return Layout(tensor=tensor, dims=_target_dims(target, call, method), contiguous=True)


def _target_dims(target, call, method, ranks: bool = True):
    sizes = [None if token == "-1" else token for token in target]
    notes = [Evidence(call, Shows.SIZE_ONE_LITERAL, method, dim=i) if size == "1" else None
             for i, size in enumerate(sizes)]
    dims = _ranked(sizes, notes)
    return dims if ranks else _unknown_ranks(dims)


def _flattened(receiver: Layout, call, layouts) -> Layout:
    args = [a for a in call.args if a.keyword is None]
    start = _int(args[0].value) if args else 0
    end = _int(args[1].value) if len(args) > 1 else -1
    if receiver.dims is None or start is None or end is None:
        return Layout(tensor=receiver.tensor)
    ndim = len(receiver.dims)
    s, e = _normalize(start, ndim), _normalize(end, ndim)
    if s is None or e is None or s > e:
        return Layout(tensor=receiver.tensor)
    merged = Dim("*".join(sorted(d.size for d in receiver.dims[s:e + 1])) if all(d.size for d in receiver.dims[s:e + 1]) else None)
    sizes = [d.size for d in receiver.dims[:s]] + [merged.size] + [d.size for d in receiver.dims[e + 1:]]
    if receiver.contiguous:
        return Layout(tensor=receiver.tensor, dims=_ranked(sizes), contiguous=True)
    return Layout(tensor=receiver.tensor, dims=tuple(Dim(z, None) for z in sizes))


def _expand(receiver: Layout, target, call, layouts) -> Layout:
    if target is None:
        return Layout(tensor=True)
    n = len(target)
    note = Evidence(call, Shows.EXPANDED)
    dims = []
    grown = False
    old = receiver.dims
    for index, token in enumerate(target):
        from_right = n - 1 - index
        source = None
        if old is not None and from_right < len(old):
            source = old[len(old) - 1 - from_right]
        new_leading = old is not None and from_right >= len(old)
        if token == "-1":
            dims.append(source if source is not None else Dim(None))
            continue
        is_one = (source is not None and source.size == "1") or new_leading or (old is None and (
            receiver.one_right(from_right) is not None
            # a size-1 prefix stays size 1 or becomes new leading dims, whatever the ndim
            or all(receiver.one_left(i) is not None for i in range(index + 1))
            # `-1` first: that dim exists already, so the input has exactly len(target) dims
            or (target[0] == "-1" and receiver.one_left(index) is not None)))
        if is_one and token != "1":
            grown = True
            dims.append(Dim(token, EXPANDED))
        else:
            dims.append(Dim(token, source.rank if source is not None else None))
    if not grown:
        return Layout(tensor=True, dims=tuple(dims), contiguous=receiver.contiguous)
    return Layout(tensor=True, dims=tuple(dims), contiguous=False, expanded=note, noncontig=Evidence(call, Shows.NONCONTIGUOUS_EXPAND))


def _keepdim(layout: Layout, method, call, args, layouts):
    keepdim = any(a.keyword is not None and a.keyword.value == "keepdim" and is_true(a.value) for a in call.args)
    if len(args) >= 2 and is_true(args[1].value):
        keepdim = True
    dims = _dim_argument(call, args)
    if dims is None:
        return None
    if not keepdim:
        if layout.dims is None:
            return Layout(tensor=True, contiguous=True)
        kept = [d for i, d in enumerate(layout.dims) if all(_normalize(x, len(layout.dims)) != i for x in dims)]
        return Layout(tensor=True, dims=_ranked([d.size for d in kept]), contiguous=True)
    shown = f"{method}(..., keepdim=True)"
    if layout.dims is not None:
        ndim = len(layout.dims)
        reduced = [any(_normalize(x, ndim) == i for x in dims) for i in range(ndim)]
        sizes = ["1" if r else d.size for r, d in zip(reduced, layout.dims)]
        notes = [Evidence(call, Shows.SIZE_ONE_BY, shown, dim=i) if r else d.note for i, (r, d) in enumerate(zip(reduced, layout.dims))]
        return Layout(tensor=True, dims=_ranked(sizes, notes), contiguous=True)
    left = tuple((x, Evidence(call, Shows.SIZE_ONE_BY, shown, dim=x)) for x in dims if x >= 0)
    right = tuple((-x - 1, Evidence(call, Shows.SIZE_ONE_BY, shown, dim=x)) for x in dims if x < 0)
    keep_left = tuple(o for o in layout.ones_left) if all(x >= 0 for x in dims) else ()
    keep_right = tuple(o for o in layout.ones_right) if all(x < 0 for x in dims) else ()
    return Layout(tensor=True, ones_left=keep_left + left, ones_right=keep_right + right, contiguous=True)


def _dim_argument(call, args):
    """The reduced dims as a list of ints (`dim=1`, `(1, 2)`), or None when absent or unknown."""
    value = next((a.value for a in call.args if a.keyword is not None and a.keyword.value in ("dim", "axis")), None)
    if value is None and args:
        value = args[0].value
    if value is None:
        return None
    if isinstance(value, (cst.Tuple, cst.List)):
        found = [_int(e.value) for e in value.elements]
        return None if None in found else found
    single = _int(value)
    return None if single is None else [single]


def _sliced(receiver: Layout, dim, node, shown) -> Layout:
    if receiver.dims is None or dim is None:
        return Layout(tensor=True, contiguous=None)
    d = _normalize(dim, len(receiver.dims))
    if d is None:
        return Layout(tensor=True)
    return _cut(receiver, d, Dim(None, receiver.dims[d].rank), Evidence(node, Shows.NONCONTIGUOUS_BY, shown), step=False)


def _cut(layout: Layout, position, new_dim, note, step: bool) -> Layout:
    """Shrink dim `position` (a bounded or stepped slice): its outer neighbour can no longer merge."""
    dims = list(layout.dims)
    old = dims[position]
    dims[position] = new_dim
    cuts = set(layout.cuts)
    rank = old.rank
    if step:
        changed = replace(layout, dims=tuple(dims))
        return replace(changed, contiguous=False, noncontig=layout.noncontig or note)
    if isinstance(rank, int):
        ranks = [d.rank for d in layout.dims if isinstance(d.rank, int)]
        if rank > min(ranks) or step:
            cuts.add(rank)
        if step:
            cuts.add(rank + 1)
    changed = replace(layout, dims=tuple(dims), cuts=frozenset(cuts))
    contiguous = _dense_in_order(changed.dims, changed.cuts) and layout.expanded is None
    return replace(changed, contiguous=contiguous, noncontig=layout.noncontig if not contiguous and layout.noncontig else (None if contiguous else note))


def _index(receiver: Layout, expr, layouts) -> Layout:
    """Basic indexing: ints drop dims, `None` adds size-1 dims, slices keep or shrink them."""
    elements = [e.slice for e in expr.slice]
    tensor = receiver.tensor
    kinds = []
    for element in elements:
        if isinstance(element, cst.Slice):
            kinds.append(("slice", element))
        elif isinstance(element.value, cst.Name) and element.value.value == "None":
            kinds.append(("new", element))
        elif isinstance(element.value, cst.Ellipsis):
            kinds.append(("rest", element))
        elif _int(element.value) is not None:
            kinds.append(("int", element))
        else:
            return Layout(tensor=tensor)  # advanced or unknown indexing
    if sum(1 for k, _ in kinds if k == "rest") > 1:
        return UNKNOWN
    code = layouts.facts.module.code_for_node(expr.slice[0].slice) if len(expr.slice) == 1 else ", ".join(
        layouts.facts.module.code_for_node(e.slice) for e in expr.slice)
    if receiver.dims is None:
        return _index_unknown_ndim(receiver, kinds, expr, code)
    dims = list(receiver.dims)
    consumed = sum(1 for k, _ in kinds if k in ("slice", "int"))
    if consumed > len(dims):
        return UNKNOWN
    out = []
    source = 0
    layout = receiver
    for kind, element in kinds:
        if kind == "rest":
            count = len(dims) - consumed
            out.extend(dims[source:source + count])
            source += count
        elif kind == "new":
            out.append(Dim("1", None, Evidence(expr, Shows.SIZE_ONE_INDEXED, code, dim=len(out))))
        elif kind == "int":
            source += 1
        else:
            dim = dims[source]
            source += 1
            length = _slice_length(element)
            if length == "full":
                out.append(dim)
            elif length == "1":
                out.append(Dim("1", None, Evidence(expr, Shows.SIZE_ONE_SLICE, code, dim=len(out))))
            else:
                # a step slice's stride may still merge with its outer neighbour (`a[:, ::2]` of an
                # even width): its rank becomes unknown, so merges through it are not judged
                rank = None if length == "step" else dim.rank
                out.append(Dim(None, rank))
                position = len(out) - 1
                trial = replace(layout, dims=tuple(out) + tuple(dims[source:]))
                layout = _cut(trial, position, Dim(None, rank), Evidence(expr, Shows.NONCONTIGUOUS_SLICE, code), step=length == "step")
                out = list(layout.dims[: position + 1])
    out.extend(dims[source:])
    dropped_inner = any(k == "int" for k, _ in kinds)
    result = replace(layout, dims=tuple(out), view_of=expr.value)
    if dropped_inner:
        contiguous = _dense_in_order(result.dims, result.cuts) and result.expanded is None
        result = replace(result, contiguous=contiguous, noncontig=result.noncontig if not contiguous and result.noncontig else (None if contiguous else Evidence(expr, Shows.NONCONTIGUOUS_BY, f"[{code}]")))
    return result


def _index_unknown_ndim(receiver: Layout, kinds, expr, code) -> Layout:
    """Without ndim: `None`s before any `...` give size-1 dims from the left, after it from the right."""
    ones_left, ones_right = [], []
    rest = next((i for i, (k, _) in enumerate(kinds) if k == "rest"), None)
    prefix = kinds if rest is None else kinds[:rest]
    suffix = [] if rest is None else kinds[rest + 1:]
    contiguous = receiver.contiguous
    position = 0
    for kind, element in prefix:
        if kind == "new" or (kind == "slice" and _slice_length(element) == "1"):
            ones_left.append((position, Evidence(expr, Shows.SIZE_ONE_BY, f"[{code}]", dim=position)))
        if kind == "slice" and _slice_length(element) not in ("full", "1") and position > 0:
            contiguous = False
        if kind != "int":
            position += 1
    position = 0
    for kind, element in reversed(suffix):
        if kind == "new" or (kind == "slice" and _slice_length(element) == "1"):
            ones_right.append((position, Evidence(expr, Shows.SIZE_ONE_BY, f"[{code}]", dim=-position - 1)))
        if kind != "int":
            position += 1
    if rest is None:
        # dims not named by the index keep their from-left positions only when nothing was dropped
        dropped = sum(1 for k, _ in prefix if k == "int")
        added = sum(1 for k, _ in prefix if k == "new")
        if not dropped and not added:
            ones_left.extend(o for o in receiver.ones_left if o[0] >= len(prefix))
        if not dropped and not any(k == "slice" and _slice_length(e) != "full" for k, e in prefix):
            ones_right.extend(receiver.ones_right)
    return Layout(tensor=receiver.tensor, ones_left=tuple(ones_left), ones_right=tuple(ones_right),
                  contiguous=contiguous, view_of=expr.value)


def _slice_length(element) -> str:
    """'full' for `:`, '1' for `:1`, `i:i+1`, `-1:`; 'step' for a step; else 'part'."""
    if element.step is not None and _int(element.step) != 1:
        return "step"
    lower, upper = element.lower, element.upper
    if lower is None and upper is None:
        return "full"
    if lower is None and _int(upper) == 1:
        return "1"
    if upper is None and _int(lower) == -1:
        return "1"
    if lower is not None and upper is not None:
        lo, hi = _int(lower), _int(upper)
        if lo is not None and hi is not None and hi - lo == 1 and lo >= 0:
            return "1"
        if isinstance(upper, cst.BinaryOperation) and isinstance(upper.operator, cst.Add) and _int(upper.right) == 1 \
                and upper.left.deep_equals(lower):
            return "1"
    return "part"


def _split_element(receiver: Layout, method, call, layouts) -> Layout:
    args = [a for a in call.args if a.keyword is None]
    dim_value = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "dim"), None)
    if method == "unbind":
        dim = _int(dim_value if dim_value is not None else (args[0].value if args else cst.Integer("0")))
        if dim is None or receiver.dims is None:
            return Layout(tensor=True)
        d = _normalize(dim, len(receiver.dims))
        if d is None:
            return Layout(tensor=True)
        dims = receiver.dims[:d] + receiver.dims[d + 1:]
        result = replace(receiver, tensor=True, dims=dims, view_of=call)
        contiguous = _dense_in_order(dims, receiver.cuts) and receiver.expanded is None
        return replace(result, contiguous=contiguous)
    if dim_value is None and len(args) >= 2:
        dim_value = args[1].value
    dim = _int(dim_value) if dim_value is not None else 0
    if dim is None or receiver.dims is None:
        return Layout(tensor=True)
    d = _normalize(dim, len(receiver.dims))
    if d is None:
        return Layout(tensor=True)
    return _cut(replace(receiver, tensor=True), d, Dim(None, receiver.dims[d].rank),
                Evidence(call, Shows.NONCONTIGUOUS_BY, f"{method}(..., dim={dim})"), step=False)


# --- small helpers ------------------------------------------------------------------------


def view_merge(layout: Layout, target) -> _Merge | None:
    """Which dims of `layout` the new shape `target` merges, and whether that needs a copy.

    `target` is a list of size tokens ("-1" allowed). Dims matched one-to-one from both ends are
    kept; the remaining dims go into the one remaining target entry (a merge) or are split into
    several (always a view). None when the grouping cannot be told from the code.
    """
    if layout.dims is None or target is None:
        return None
    dims = [d for d in layout.dims]
    sizes = list(target)
    start = 0
    while start < len(dims) and start < len(sizes) and dims[start].size is not None and sizes[start] == dims[start].size:
        start += 1
    end_d, end_t = len(dims), len(sizes)
    while end_d > start and end_t > start and dims[end_d - 1].size is not None and sizes[end_t - 1] == dims[end_d - 1].size:
        end_d -= 1
        end_t -= 1
    middle = [d for d in dims[start:end_d] if d.size != "1"]
    rest = [s for s in sizes[start:end_t] if s != "1"]
    positions = [i for i in range(start, end_d) if dims[i].size != "1"]
    if len(middle) <= 1:
        return _Merge((), False, ())  # at most one dim is reshaped: a split, always a view
    if len(rest) == 1:
        groups = [positions]
    else:
        groups = _product_groups(dims, positions, rest)
        if groups is None:
            return None
    verdict = _Merge((), False, ())
    for group in groups:
        mergeable = _mergeable([dims[i] for i in group], layout.cuts)
        if mergeable is None:
            return None
        if not mergeable and not verdict.copies:
            verdict = _Merge(tuple(group), True, tuple(dims[i] for i in group))
    return verdict


def _product_groups(dims, positions, targets):
    """Group dims into target entries by their size factors (`H * W` takes `H` and `W`).

    Entries before a `-1` take dims from the left, entries after it from the right, and `-1`
    takes what is left. None when the factors do not line up exactly.
    """
    if sum(1 for t in targets if t == "-1") > 1 or any(t is None for t in targets):
        return None
    split = targets.index("-1") if "-1" in targets else len(targets)
    left, right = targets[:split], targets[split + 1:]
    queue = list(positions)
    groups = []
    for target in left:
        group = _take(dims, queue, target, from_left=True)
        if group is None:
            return None
        groups.append(group)
    tail = []
    for target in reversed(right):
        group = _take(dims, queue, target, from_left=False)
        if group is None:
            return None
        tail.append(group)
    if split < len(targets):
        if not queue:
            return None
        groups.append(list(queue))
    elif queue:
        return None
    return groups + list(reversed(tail))


def _take(dims, queue, target, from_left):
    remaining = target.split("*")
    group = []
    while remaining and queue:
        index = queue[0] if from_left else queue[-1]
        size = dims[index].size
        if size is None:
            return None
        factors = size.split("*")
        if any(remaining.count(f) < factors.count(f) for f in set(factors)):
            return None
        for factor in factors:
            remaining.remove(factor)
        group.append(queue.pop(0) if from_left else queue.pop())
    if remaining:
        return None
    return group if from_left else list(reversed(group))


@dataclass(frozen=True)
class _Merge:
    positions: tuple  # the dims merged into one
    copies: bool | None
    dims: tuple


def _mergeable(dims, cuts) -> bool | None:
    ranks = [d.rank for d in dims]
    if any(r is None for r in ranks):
        return None
    if all(r == EXPANDED for r in ranks):
        return True
    if any(r == EXPANDED for r in ranks):
        return False
    return all(b == a + 1 and b not in cuts for a, b in zip(ranks, ranks[1:]))


def _int(expr) -> int | None:
    if isinstance(expr, cst.Integer):
        return int(expr.evaluated_value)
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus) and isinstance(expr.expression, cst.Integer):
        return -int(expr.expression.evaluated_value)
    return None


def _int_list(args) -> list | None:
    if len(args) == 1 and isinstance(args[0].value, (cst.Tuple, cst.List)):
        values = [_int(e.value) for e in args[0].value.elements]
    else:
        values = [_int(a.value) for a in args]
    return None if not values or None in values else values


def _single_int(subscript) -> int | None:
    if len(subscript.slice) != 1 or not isinstance(subscript.slice[0].slice, cst.Index):
        return None
    return _int(subscript.slice[0].slice.value)


def _is_self(expr) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "self"


def _is_scalar_like(expr) -> bool:
    """Numbers and `self.scale`-style attributes: operands that do not change the layout."""
    return isinstance(expr, (cst.Integer, cst.Float, cst.Attribute, cst.UnaryOperation))


def _looks_like_size(expr) -> bool:
    return isinstance(expr, (cst.Integer, cst.UnaryOperation, cst.BinaryOperation)) or (
        isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "size"
    ) or (isinstance(expr, cst.Subscript) and isinstance(expr.value, cst.Attribute) and expr.value.attr.value == "shape")


def _code(layouts, node) -> str:
    return layouts.facts.module.code_for_node(node)


@dataclass(frozen=True)
class CopyingReshape:
    """A `.view`/`.reshape` call whose new shape merges dims that are not adjacent in memory."""

    layout: Layout  # the receiver's layout
    merged: tuple  # positions of the merged dims in the receiver

    @property
    def cause(self) -> Evidence | None:
        """Where the receiver became non-contiguous, when one operation shows it."""
        cause = self.layout.noncontig
        return cause if cause is not None and cause.node is not None else None


def call_arguments(module, call) -> str:
    """The source text of a call's arguments, `B, -1` for `x.view(B, -1)`."""
    return ", ".join(module.code_for_node(argument.value) for argument in call.args)


def copying_reshape(layouts: Layouts, call) -> CopyingReshape | None:
    """For `x.view(...)` / `x.reshape(...)`: the evidence that it needs a copy, or None.

    None unless the receiver is a tensor known to be non-contiguous there, its dims are known,
    and the new shape provably merges dims whose strides are incompatible.
    """
    func = call.func
    if not isinstance(func, cst.Attribute):
        return None
    layout = layouts.of(func.value)
    if layout is None or layout.contiguous is not False or layout.dims is None:
        return None
    if layout.tensor is None and func.attr.value != "view":
        return None
    target = layouts._target_tokens(call)
    if target is None or sum(1 for t in target if t == "-1") > 1:
        return None
    merge = view_merge(layout, target)
    if merge is None or not merge.copies:
        return None
    return CopyingReshape(layout, merge.positions)
