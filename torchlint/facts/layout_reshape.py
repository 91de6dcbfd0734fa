"""The question the reshape rules ask of a call: does this `.view`/`.reshape`/`.flatten` copy?

`copying_reshape(layouts, call)` and `copying_flatten(layouts, call)` read the receiver's `Layout`
(from `layout.Layouts`) and answer with a `CopyingReshape`: which dims the new shape merges that
are not adjacent in memory, and, when the receiver's name has several definitions and only some
copy, the definition under which it copies (`when`). `layout` knows what values are; this module
only judges one call's receiver, on every path where asked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from torchlint._lazy import lazy_module
from torchlint.facts.evidence import Evidence
from torchlint.facts.layout import Layouts
from torchlint.facts.layout_attention import is_attention_call
from torchlint.facts.layout_ops import flatten_bounds
from torchlint.facts.shape_configured import ConfiguredOnes, with_configured_ones
from torchlint.facts.tensors import Layout, _int, _single_int, flatten_merge, view_merge

cst = lazy_module("libcst")


@dataclass(frozen=True)
class CopyingReshape:
    """A `.view`/`.reshape` call whose new shape merges dims that are not adjacent in memory."""

    layout: Layout  # the receiver's layout
    merged: tuple  # positions of the merged dims in the receiver
    into: int = 0  # 0: `merged` go into one dim; n > 0: they go into n dims in a way not told by sizes
    when: object = None  # a `Binding`: the copy happens when this definition of the receiver's name ran

    @property
    def runs(self) -> int:
        """How many runs of memory-adjacent dims the merged dims form (`into` is fewer)."""
        ranks = [self.layout.dims[i].rank for i in self.merged]
        return 1 + sum(1 for a, b in zip(ranks, ranks[1:]) if not (isinstance(a, int) and b == a + 1 and b not in self.layout.cuts))

    @property
    def cause(self) -> Evidence | None:
        """Where the receiver became non-contiguous, when one operation shows it."""
        cause = self.layout.noncontig
        return cause if cause is not None and cause.node is not None else None


def call_arguments(module, call) -> str:
    """The source text of a call's arguments, `B, -1` for `x.view(B, -1)`, `shape=(B, -1)`."""
    return ", ".join(
        (f"{argument.keyword.value}=" if argument.keyword is not None else argument.star) + module.code_for_node(argument.value)
        for argument in call.args
    )


def copying_reshape(layouts: Layouts, call, paths: bool = False) -> CopyingReshape | None:
    """For `x.view(...)` / `x.reshape(...)`: the evidence that it needs a copy, or None.

    None unless the receiver is a tensor known to be non-contiguous there, its dims are known,
    and the new shape provably merges dims whose strides are incompatible. With `paths`, a
    receiver whose definitions differ is judged on each (see `Layouts.paths_of`): a reshape
    that copies when one definition ran is answered with that definition (`when`).
    """
    func = call.func
    if not isinstance(func, cst.Attribute):
        return None
    target = layouts._target_tokens(call)
    if target is None or sum(1 for t in target if t == "-1") > 1:
        return None
    method = func.attr.value
    ones = _configured_ones(layouts, call)
    products = _init_products(layouts, call, target)
    own = _own_sizes(layouts, func.value, call)

    def judge(layout):
        if layout is not None and layout.contiguous is True:
            return _VIEW
        if layout is None or layout.contiguous is not False or layout.dims is None:
            return None
        if layout.tensor is None and method != "view":
            return None
        layout, shape = _named_own_sizes(layout, target, own)
        merge = view_merge(layout, shape)
        if merge is None:
            shape = products()  # `self.dim_out_v` set to `num_heads * self.dim_head_v` in `__init__`
            merge = view_merge(layout, shape) if shape is not None else None
        if merge is None:
            return None
        configured = with_configured_ones(layout, ones(), shape) if merge.copies else None  # may be 1
        if configured is not None and not getattr(view_merge(*configured), "copies", False):
            return None
        return CopyingReshape(layout, merge.positions, merge.into) if merge.copies else _VIEW

    return _judged(layouts, func.value, judge, paths)


def copying_flatten(layouts: Layouts, call, paths: bool = False) -> CopyingReshape | None:
    """For `x.flatten(start, end)` / `torch.flatten(x, start, end)`: the evidence that it copies.

    `flatten` has reshape's semantics: a view when dims start..end are one run in memory, else a
    copy. None unless the receiver is a tensor known to be non-contiguous with known dims.
    `paths` as for `copying_reshape`.
    """
    func = call.func
    args = [a for a in call.args if a.keyword is None]
    if isinstance(func, cst.Attribute) and func.attr.value == "flatten" \
            and layouts.names.qualified_name(func) is None:
        receiver, rest = func.value, args
    elif layouts.names.qualified_name(func) == "torch.flatten" and args:
        receiver, rest = args[0].value, args[1:]
    else:
        return None
    ones = _configured_ones(layouts, call)

    def judge(layout):
        if layout is not None and layout.contiguous is True:
            return _VIEW
        if layout is None or layout.contiguous is not False or layout.dims is None or not layout.tensor:
            return None
        bounds = flatten_bounds(layout, call, rest)
        merge = flatten_merge(layout, *bounds) if bounds is not None else None
        if merge is None:
            return None
        configured = with_configured_ones(layout, ones()) if merge.copies else None  # sizes that may be 1
        if configured is not None and not getattr(flatten_merge(configured, *bounds), "copies", False):
            return None
        return CopyingReshape(layout, merge.positions) if merge.copies else _VIEW

    return _judged(layouts, receiver, judge, paths)


def _own_sizes(layouts: Layouts, receiver, call) -> dict:
    """`{target position: receiver dim}` for the entries of `x.reshape(-1, x.shape[-2], x.shape[-1])`
    that are the receiver's own sizes (`x.shape[k]`, `x.size(k)` of the same name, which the same
    definitions reach within one call)."""
    if not isinstance(receiver, cst.Name):
        return {}
    values = layouts._target_values(call) or ()
    own = {}
    for position, value in enumerate(values):
        if isinstance(value, cst.Subscript) and isinstance(value.value, cst.Attribute) and value.value.attr.value == "shape":
            source, index = value.value.value, _single_int(value)
        elif isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "size" \
                and len(value.args) == 1 and value.args[0].keyword is None:
            source, index = value.func.value, _int(value.args[0].value)
        else:
            continue
        if isinstance(source, cst.Name) and source.value == receiver.value and index is not None:
            own[position] = index
    return own


def _named_own_sizes(layout: Layout, target, own: dict):
    """`layout` and `target` where each own-size entry of unknown size and its receiver dim share a
    token: the new shape keeps that dim's size, whatever it is."""
    if not own or target is None:
        return layout, target
    dims, shape = list(layout.dims), list(target)
    for position, index in own.items():
        if not -len(dims) <= index < len(dims) or position >= len(shape):
            continue
        dim = dims[index]
        if dim.size is None and shape[position] is None:
            token = f"own:{index % len(dims)}"
            dims[index % len(dims)] = replace(dim, size=token)
            shape[position] = token
    return replace(layout, dims=tuple(dims)), shape


def _configured_ones(layouts: Layouts, call):
    """The sizes the file shows may be 1 at `call`, looked up only when a merge copies."""
    return lambda: layouts.facts.get(ConfiguredOnes).tokens_at(call)


def _init_products(layouts: Layouts, call, target):
    """The target with each `self.X` entry that `__init__` sets once to a product spelled as that
    product (`Layouts._init_product`), looked up only when the plain sizes do not tell: a
    function returning the new target, or None when no entry is such a product."""
    found = []

    def products():
        if not found:
            spelled = [layouts._init_product(value) if _is_self_attribute(value) else None
                       for value in layouts._target_values(call)]
            found.append([s if s is not None else t for s, t in zip(spelled, target)]
                         if any(s is not None for s in spelled) else None)
        return found[0]

    return products


def _is_self_attribute(expr) -> bool:
    return isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self"


_VIEW = "view"  # a judge's answer: the reshape is a view (None: not known)


def _judged(layouts: Layouts, receiver, judge, paths: bool) -> CopyingReshape | None:
    """`judge` the receiver's layout; failing that, with `paths`, each definition's layout.

    A copy on every path is a copy. A copy on some paths and a view on all the others is that
    first copying path's copy (`when`), unless one of the paths is a `scaled_dot_product_attention`
    call: its branch and the other are chosen by configuration, not by the data. When some path is
    not known (an attention output whose kernel cannot be told, a value from elsewhere), there is
    no answer: that path may be the one that runs, and the census shows it usually is.
    """
    found = judge(layouts.of(receiver))
    if isinstance(found, CopyingReshape):
        return found
    if not paths or found == _VIEW:
        return None
    verdicts = [(binding, judge(layout)) for binding, layout in layouts.paths_of(receiver)]
    if not verdicts or any(verdict is None for _, verdict in verdicts):
        return None
    copying = [(binding, verdict) for binding, verdict in verdicts if isinstance(verdict, CopyingReshape)]
    if not copying:
        return None
    binding, verdict = copying[0]
    if len(copying) == len(verdicts):
        return verdict
    if any(is_attention_call(layouts.names, b.value) for b, _ in verdicts):
        # a fused-attention branch next to its `attn @ v` fallback: which one runs is configuration
        # (`self.fused_attn`), and the census shows the fused one usually does; the copy is not shown
        return None
    return replace(verdict, when=binding)
