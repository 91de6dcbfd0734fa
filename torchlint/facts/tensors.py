"""The tensor domain's vocabulary: abstract layouts, what a layout fact shows, torch API tables.

A `Layout` is what is known of a tensor value: ndim, sizes as symbolic tokens ("1", "3", `B`,
`H*W` as sorted factors), memory order as a rank per dim (0 = outermost in the underlying
storage, None for size-1 or unknown dims, EXPANDED for stride 0), and the `Evidence` of each
fact (`Shows.*`). `view_merge(layout, target)` tells from the ranks whether a reshape to
`target` is a view or a copy. `layout` evaluates expressions to layouts; `layout_ops` holds the
transfer functions of torch operations.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from torchlint._lazy import lazy_module
from torchlint.facts.evidence import Evidence

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
    at_least: int = 0  # a lower bound on ndim when `dims` is unknown (`x.topk(k, 1)`: at least 2)

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
    """`(values, indices)` of `max(dim)`-style reductions and `topk`: both parts have the layout
    `values` (fresh contiguous memory, checked with `stride()`)."""

    values: Layout


UNKNOWN = Layout(tensor=None, contiguous=None)
OPAQUE = Layout(tensor=None, contiguous=True)  # a name of unknown origin: assumed contiguous

TENSOR_ONLY_METHODS = frozenset({
    "unsqueeze", "permute", "expand", "expand_as", "contiguous", "view_as", "reshape_as", "narrow",
    "unfold", "movedim", "swapdims", "mT", "t", "clone", "detach", "float", "half", "bfloat16",
    "masked_fill", "softmax", "log_softmax", "sigmoid", "new_zeros", "new_ones", "new_empty",
    "new_full", "type_as", "is_contiguous", "cuda", "amax", "amin", "logsumexp", "unbind",
})
# A call of one of these on a value of unknown type is evidence that it is a tensor.
TENSOR_EVIDENCE_METHODS = frozenset({
    "permute", "expand", "expand_as", "unsqueeze", "contiguous", "masked_fill", "new_zeros",
    "new_ones", "new_empty", "new_full", "type_as", "view_as", "reshape_as",
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
# Elementwise methods of two operands: TensorIterator gives the result the memory order of the
# first operand when it is dense and not broadcast (`a.t() + b` has `a.t()`'s strides, `b + a.t()` b's).
BINARY_METHODS = frozenset({
    "eq", "ne", "lt", "le", "gt", "ge", "mul", "add", "sub", "div", "logical_and", "logical_or",
    "maximum", "minimum", "pow", "fmod", "remainder",
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
    # each keeps a transposed and a channels-last input's strides, in train and eval mode
    # (tests/test_module_formats.py); `nn.LogSigmoid` does not
    "torch.nn.PReLU", "torch.nn.Hardsigmoid", "torch.nn.ReLU6", "torch.nn.Hardtanh", "torch.nn.Softplus",
    "torch.nn.SELU", "torch.nn.CELU", "torch.nn.Softsign", "torch.nn.Tanhshrink", "torch.nn.Hardshrink",
    "torch.nn.Softshrink", "torch.nn.Threshold", "torch.nn.Dropout3d", "torch.nn.AlphaDropout",
    "torch.nn.FeatureAlphaDropout",
})
# Layers whose output is fresh contiguous memory with known sizes (see `Layouts._feature_module`).
FEATURE_MODULES = frozenset({"torch.nn.Linear", "torch.nn.Embedding", "torch.nn.LayerNorm"})
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


# --- view or copy ---------------------------------------------------------------------------


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
            from torchlint.facts.layout_regroup import factor_groups  # dims split across entries
            groups = factor_groups(dims, positions, rest, layout.cuts)
        if groups is None:
            return _pigeonhole(dims, positions, rest, layout.cuts)
    verdict = _Merge((), False, ())
    for group in groups:
        mergeable = _mergeable([dims[i] for i in group], layout.cuts)
        if mergeable is None:
            return None
        if not mergeable and not verdict.copies:
            verdict = _Merge(tuple(group), True, tuple(dims[i] for i in group))
    return verdict


def _pigeonhole(dims, positions, targets, cuts) -> _Merge | None:
    """A merge told by counting, when the sizes do not tell which dims go where.

    A view keeps every run of memory-adjacent dims (consecutive ranks, no cut) inside one entry
    of the new shape or splits it across several, so it needs at least one entry per run. With
    more runs than entries, some entry spans two runs and the reshape copies. Dims not known to
    have size 1 count as larger than 1, as for the merges told by sizes.
    """
    ranks = [dims[i].rank for i in positions]
    if any(not isinstance(rank, int) for rank in ranks):
        return None
    runs = 1 + sum(1 for a, b in zip(ranks, ranks[1:]) if not (b == a + 1 and b not in cuts))
    if runs <= len(targets):
        return None
    return _Merge(tuple(positions), True, tuple(dims[i] for i in positions), into=len(targets))


def flatten_merge(layout: Layout, start: int, end: int) -> _Merge | None:
    """`flatten(start, end)` merges dims start..end: a view when they form one run in memory."""
    if layout.dims is None:
        return None
    positions = [i for i in range(start, end + 1) if layout.dims[i].size != "1"]
    if len(positions) <= 1:
        return _Merge((), False, ())
    mergeable = _mergeable([layout.dims[i] for i in positions], layout.cuts)
    if mergeable is None:
        return None
    return _Merge(tuple(positions), not mergeable, tuple(layout.dims[i] for i in positions) if not mergeable else ())


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
    into: int = 0  # when the grouping is not known: the number of entries the dims `positions` go into


def _mergeable(dims, cuts) -> bool | None:
    ranks = [d.rank for d in dims]
    if any(r is None for r in ranks):
        return None
    if all(r == EXPANDED for r in ranks):
        return True
    if any(r == EXPANDED for r in ranks):
        return False
    return all(b == a + 1 and b not in cuts for a, b in zip(ranks, ranks[1:]))


# --- small syntax helpers --------------------------------------------------------------------


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
