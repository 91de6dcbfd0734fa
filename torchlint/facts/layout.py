"""Abstract tensor layout of expressions: ndim, size-1 dims, memory order, expanded dims.

    layouts = self.facts.get(Layouts)
    layout = layouts.of(expr)      # Layout, or None when `expr` is known not to be a tensor

A `Layout` is evaluated along method chains (`x.unsqueeze(0).transpose(1, 2)`), through
assignments (via `ScopedDataflow`: in functions and at module level, so scripts and notebook
cells too), through `self.<attr>` set once in the class (`nn.Parameter(...)`,
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
ranks to tell whether a reshape is a view or a copy, and `layout_reshape.copying_reshape(layouts, call)` is
the question the reshape rules ask of a `.reshape`/`.view` call.

A name bound differently in two branches keeps only what every definition agrees on (`_join`:
ndim, sizes, memory order); `paths_of` gives each definition's own layout, for questions
judged path by path. Results checked against torch 2.x with
`is_contiguous()`, `stride()` and `untyped_storage().data_ptr()`: elementwise ops keep the
input's memory order; `softmax`, `log_softmax`, `masked_fill`, `layer_norm` return contiguous
memory; `contiguous()`/`to()` with a `memory_format` make strides unknown; `torch.cat`, `F.pad`,
`F.interpolate` and pooling follow the input's memory format (`layout_formats`).
What a name's binding shows besides its value (annotation, torch-only methods, a shape unpack)
is `layout_evidence`.
"""

from __future__ import annotations

from copy import copy
from dataclasses import replace

from torchlint._lazy import lazy_module
from torchlint.facts.shape_modules import ModuleValues
from torchlint.facts.shape_scope import ScopedDataflow
from torchlint.facts.shape_values import NO_ARGUMENT, NO_HELPER, ReturnedValues
from torchlint.facts.shape_joins import joined_layout, joined_ndim_at_least
from torchlint.facts.shape_sizes import SizeTokens, _einsum_permutation, _literal_tensor
from torchlint.facts.evidence import Evidence
from torchlint.facts.layout_attention import ATTENTION_FUNCTIONS, attention_output
from torchlint.facts.layout_evidence import BindingEvidence
from torchlint.facts.layout_index import _index, _sliced, _split_element
from torchlint.facts.layout_ops import (
    _code,
    _dim_argument,
    _elementwise,
    _expand,
    _first_operand,
    _flattened,
    _fresh,
    _has_ones,
    _join,
    _interleaved,
    _keepdim,
    _meshgrid_element,
    _movedim,
    _permute,
    _ranked,
    _repeated,
    _reshaped,
    _squeezed,
    _tensor,
    _topk,
    _transpose,
    _two_dims,
    _unknown_ranks,
    _unflattened,
    _unsqueeze,
)
from torchlint.facts.layout_split import SPLIT_FUNCTIONS, split_function_element
from torchlint.facts.layout_formats import POOLS, concatenated, im2col, not_channels_last, padded, resized
from torchlint.facts.tensors import (
    ELEMENTWISE_FUNCTIONS,
    ELEMENTWISE_METHODS,
    FEATURE_MODULES,
    FRESH_FUNCTIONS,
    FRESH_METHODS,
    KEEPDIM_REDUCTIONS,
    LIKE_CONSTRUCTORS,
    NOT_TENSOR_ROOTS,
    OPAQUE,
    BINARY_METHODS,
    PAIR_REDUCTIONS,
    PARAMETER,
    SHAPE_PRESERVING_MODULES,
    SIZE_CONSTRUCTORS,
    TENSOR_ONLY_METHODS,
    UNKNOWN,
    Dim,
    Layout,
    Shows,
    _int,
    _int_list,
    _is_scalar_like,
    _looks_like_size,
    _Pair,
)

cst = lazy_module("libcst")


class Layouts(ModuleValues, SizeTokens, ReturnedValues, BindingEvidence):
    """Fact kind: `of(expr)` gives the abstract layout of an expression inside a function."""

    def __init__(self, facts) -> None:
        self.facts = facts
        self.names = facts.names
        self.dataflow: ScopedDataflow = facts.get(ScopedDataflow)
        self._memo: dict[int, object] = {}
        self._active: set[int] = set()
        # set on a copy that evaluates one path (see `paths_of`): the name load whose definition is
        # fixed, that definition, the nodes whose value depends on it, and the evaluator of all others
        self._fixed: tuple | None = None
        self._dirty: frozenset = frozenset()
        self._parent: Layouts | None = None

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

    def paths_of(self, expr) -> list:
        """`[(binding, layout), ...]`: the layout of `expr` for each definition of the nearest name
        along its receiver chain that several definitions reach (`x` in `x.transpose(1, 2)` after
        `if ...: x = a else: x = b`), in source order. Empty when no such name exists.
        """
        spine, node = [], expr
        for _ in range(12):
            spine.append(node)
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
                spine.append(node.func)
                node = node.func.value
            elif isinstance(node, (cst.Attribute, cst.Subscript)):
                node = node.value
            elif isinstance(node, cst.Name):
                flow = self.dataflow.function_of(node)
                if flow is None or not flow.is_local_load(node):
                    return []
                bindings = flow.bindings_at(node)
                if len(bindings) > 1:
                    ordered = sorted(bindings, key=lambda b: flow.order_of(b.statement))
                    return [(b, self._along(node, b, spine).of(expr)) for b in ordered]
                binding = next(iter(bindings), None)
                if binding is None or binding.kind != "assign" or binding.value is None:
                    return []
                node = binding.value
            else:
                return []
        return []

    def _along(self, name, binding, spine) -> Layouts:
        """An evaluator in which the load `name` has only the definition `binding`."""
        path = copy(self)
        path._memo, path._active = {}, set()
        path._fixed, path._dirty, path._parent = (id(name), binding), frozenset(map(id, spine)), self
        return path

    def _eval(self, expr):
        key = id(expr)
        if self._parent is not None and key not in self._dirty:
            return self._parent._eval(expr)
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
        if isinstance(expr, cst.UnaryOperation):
            return self._unary(expr)
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
        if self._fixed is not None and self._fixed[0] == id(name):
            bindings = (self._fixed[1],)
        layouts = [self._binding(b, flow) for b in bindings]
        return _join(layouts)

    def _binding(self, binding, flow):
        if binding.kind == "param":
            argument = self._argument(binding)  # a helper's parameter, in a caller's frame
            if argument is not NO_ARGUMENT:
                known = isinstance(argument, Layout) and argument.dims is None and argument.contiguous
                return self._with_shape_unpack(argument, binding, flow) if known else argument
            layout = self._annotation(binding.annotation)
            if isinstance(layout, Layout):
                if layout.tensor is None and self._used_as_tensor(binding, flow):
                    layout = replace(layout, tensor=True)
                return self._with_shape_unpack(layout, binding, flow)
            return layout
        if binding.kind == "assign" and binding.value is not None:
            if binding.annotation is not None and self._annotation(binding.annotation) is None:
                return None
            layout = self._eval(binding.value)
            if isinstance(layout, Layout) and (layout.dims is None and layout.contiguous or layout.dims is not None):
                layout = self._with_shape_unpack(layout, binding, flow)
            return layout
        if binding.kind == "unpack" and binding.value is not None:
            return self._unpacked(binding.value, binding.index)
        return OPAQUE if binding.kind in ("for", "with") else UNKNOWN

    def _unpacked(self, value, index):
        if isinstance(value, (cst.Tuple, cst.List)):
            elements = value.elements
            if index is not None and index < len(elements) and not isinstance(elements[index], cst.StarredElement):
                return self._eval(elements[index].value)
            return UNKNOWN
        qualified = self.names.qualified_name(value.func) if isinstance(value, cst.Call) else None
        if qualified == "torch.meshgrid" and index is not None:
            return _meshgrid_element(self, value, index)
        source = self._eval(value)
        if isinstance(source, _Pair):
            return source.values if index in (0, 1) else UNKNOWN
        if qualified in SPLIT_FUNCTIONS and value.args:
            return split_function_element(self, value, index)
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
            method = value.func.attr.value
            receiver = self._eval(value.func.value)
            if isinstance(receiver, Layout) and method in ("unbind", "chunk", "split", "tensor_split"):
                return _split_element(receiver, method, value, self)
        if isinstance(value, cst.Attribute) and value.attr.value == "shape":
            return None  # a size, not a tensor
        return UNKNOWN if source is not None else None

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
            if module in FEATURE_MODULES and len(args) == 1 and not any(a.keyword for a in call.args):
                return self._feature_module(module, call, args[0].value)
            return self._layer_output(module, call)  # conv, norm, or another layer (assumed contiguous)
        returned = self._returned(call)  # a same-module function or method
        if returned is not NO_HELPER:
            return returned
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
        if isinstance(func, cst.Name) and self.loops_over_submodules(func):
            return OPAQUE  # `for block in self.blocks: x = block(x)`: a submodule, as `self.proj(x)` is
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
        if qualified in ("torch.tensor", "torch.as_tensor") and args and isinstance(args[0].value, (cst.List, cst.Tuple)):
            return _literal_tensor(args[0].value, call, _code(self, args[0].value))
        if qualified in LIKE_CONSTRUCTORS and args:
            source = self._eval(args[0].value)
            dims = source.dims if isinstance(source, Layout) else None
            if dims is not None:
                dims = _ranked([d.size for d in dims], [d.note for d in dims])
            return Layout(tensor=True, dims=dims, contiguous=True)
        if qualified == "torch.einsum" and len(args) == 2:
            order = _einsum_permutation(args[0].value)
            source = self._eval(args[1].value)
            if order is not None and isinstance(source, Layout):
                return _permute(source, order, call, self, shown=f"einsum({_code(self, args[0].value)}, ...)")
        if qualified == "torch.repeat_interleave" and args:
            source = self._eval(args[0].value)
            return _interleaved(_tensor(source), call, args[2:]) if isinstance(source, Layout) else Layout(tensor=True)
        if qualified == "torch.nn.functional.pad" and args:
            mode = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "mode"), None)
            mode = mode.evaluated_value if isinstance(mode, cst.SimpleString) else ("?" if mode is not None or len(args) > 2 else None)
            return padded(self._candidates(args[0].value), call, self._literal(args[1].value) if len(args) > 1 else None, mode)
        if qualified in ("torch.nn.functional.interpolate", "torch.nn.functional.upsample") and args:
            return resized(self._candidates(args[0].value))
        if qualified in ("torch.nn.functional.unfold", "torch.nn.functional.fold") and args:
            return im2col(self._eval(args[0].value), fold=qualified.endswith(".fold"))
        if qualified in POOLS and args and "return_indices" not in {a.keyword.value for a in call.args if a.keyword}:
            return resized(self._candidates(args[0].value), one_d=qualified.endswith("1d"))
        if qualified in ("torch.cat", "torch.concat", "torch.concatenate") and args and isinstance(args[0].value, (cst.List, cst.Tuple)):
            dim = next((a.value for a in call.args if a.keyword is not None and a.keyword.value in ("dim", "axis")), None)
            dim = args[1].value if dim is None and len(args) > 1 else dim
            joined = concatenated([None if isinstance(e, cst.StarredElement) else self._eval(e.value) for e in args[0].value.elements],
                                  0 if dim is None else _int(dim))
            return joined if joined.dims is not None else replace(joined, at_least=joined_ndim_at_least(qualified, call))
        if qualified == "torch.flatten" and args:
            source = self._eval(args[0].value)
            return _flattened(_tensor(source), call, args[1:]) if isinstance(source, Layout) else Layout(tensor=True)
        if qualified in ATTENTION_FUNCTIONS:
            return attention_output(self, call)
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
            return joined_layout(qualified, call)  # cat, stack, or a tensor of unknown layout
        if qualified.startswith("torch.nn.functional."):
            return Layout(tensor=True)
        return UNKNOWN

    def _candidates(self, expr) -> list:
        """`expr`'s layout, then, when its nearest name has several definitions, each one's."""
        layout = self._eval(expr)
        return [layout] if not_channels_last(layout) else [layout] + [path for _, path in self.paths_of(expr)]

    def _literal(self, expr):
        """`expr`, or the value of a local name bound once to it (`pad = (0, 1); F.pad(x, pad)`)."""
        if isinstance(expr, cst.Name):
            flow = self.dataflow.function_of(expr)
            binding = flow.binding_at(expr) if flow is not None and flow.is_local_load(expr) else None
            if binding is not None and binding.kind == "assign" and binding.value is not None:
                return binding.value
        return expr

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
        elif len(size_args) == 1 and not (_looks_like_size(size_args[0].value) and self._size(size_args[0].value, 0)):
            return Layout(tensor=True, contiguous=True)  # `torch.zeros(shape)`: ndim unknown
        elif len(size_args) == 1:
            elements = [size_args[0].value]  # `torch.zeros(3)`, `torch.zeros(x.size(0))`: 1-D
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
        if method == "squeeze" and len(args) <= 1:
            return _squeezed(replace(receiver, tensor=tensor), _int(args[0].value) if args else None, bool(args))
        if method == "t" and not args:
            return _transpose(_two_dims(receiver, call), 0, 1, call, "t()", tensor_only=True)
        if method == "topk" and args:
            return _Pair(_topk(receiver, call, args, self))
        if method == "permute":
            order = _int_list(args)
            return _permute(receiver, order, call, self) if order is not None else Layout(tensor=True)
        if method in ("movedim", "moveaxis") and len(args) == 2:
            src, dst = _int(args[0].value), _int(args[1].value)
            return _movedim(receiver, src, dst, call, self) if src is not None and dst is not None else Layout(tensor=True)
        if method in ("view", "reshape"):
            return _reshaped(receiver, self._target_tokens(call), call, method, self)
        if method == "flatten":
            return _flattened(receiver, call, args)
        if method == "unflatten" and len(args) == 2 and isinstance(args[1].value, (cst.Tuple, cst.List)):
            sizes = [self._size(e.value, 0) for e in args[1].value.elements]
            return _unflattened(receiver, _int(args[0].value), sizes)
        if method == "contiguous":
            return _fresh(receiver, tensor=True)
        if method == "repeat_interleave" and receiver.tensor:
            return _interleaved(receiver, call, args[1:])
        if method in ("expand", "broadcast_to"):
            return _expand(receiver, self._target_tokens(call), call, self)
        if method == "expand_as":
            other = self._eval(args[0].value) if len(args) == 1 else None
            dims = _unknown_ranks(other.dims) if isinstance(other, Layout) else None
            if _has_ones(receiver):
                return Layout(tensor=True, dims=dims, expanded=Evidence(call, Shows.EXPANDED_AS), contiguous=False)
            return Layout(tensor=True, dims=dims)
        if method in BINARY_METHODS and len(args) == 1 and not any(a.keyword for a in call.args):
            other = self._eval(args[0].value)
            if isinstance(other, Layout) and (other.tensor or not _is_scalar_like(args[0].value)):
                return _first_operand(replace(receiver, tensor=tensor), other)
        if method == "repeat":
            return _repeated(receiver, self._target_tokens(call)) if receiver.tensor else UNKNOWN
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

    # --- indexing ---------------------------------------------------------------------------

    def _subscript(self, expr):
        receiver = self._eval(expr.value)
        if isinstance(receiver, _Pair):
            index = _int(expr.slice[0].slice.value) if len(expr.slice) == 1 and isinstance(expr.slice[0].slice, cst.Index) else None
            return receiver.values if index in (0, 1) else UNKNOWN
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
            return _first_operand(replace(left, tensor=True), right)
        return UNKNOWN

    def _matmul(self, left, right):
        """`a @ b`, `matmul`, `bmm`: fresh contiguous memory whatever the operands' strides (checked
        with `stride()` on permuted, transposed and broadcast operands), sizes `(..., a[-2], b[-1])`.

        An operand of unknown ndim next to one of known ndim n >= 3 is taken to be a (batch of)
        matrices of at most n dims, as in `attn @ v`: the result has n dims, the known operand's
        batch sizes (unknown where they are 1: the other may broadcast them) and its own matrix
        size; the other's is unknown.
        """
        if not isinstance(left, Layout) or not isinstance(right, Layout):
            return UNKNOWN
        if not (left.tensor or right.tensor):
            return UNKNOWN
        if left.dims is None and right.dims is not None and len(right.dims) >= 3:
            sizes = [d.size if d.size != "1" else None for d in right.dims[:-2]] + [None, right.dims[-1].size]
            return Layout(tensor=True, dims=_ranked(sizes), contiguous=True)
        if right.dims is None and left.dims is not None and len(left.dims) >= 3:
            sizes = [d.size if d.size != "1" else None for d in left.dims[:-2]] + [left.dims[-2].size, None]
            return Layout(tensor=True, dims=_ranked(sizes), contiguous=True)
        if left.dims is None or right.dims is None or len(left.dims) < 2 or len(right.dims) < 2:
            return Layout(tensor=True, contiguous=True)
        batch = left.dims[:-2] if len(left.dims) >= len(right.dims) else right.dims[:-2]
        sizes = [d.size for d in batch] + [left.dims[-2].size, right.dims[-1].size]
        return Layout(tensor=True, dims=_ranked(sizes), contiguous=True)
