"""Transfer functions of torch operations on abstract layouts (see `tensors` for the layout model).

Each takes the receiver's `Layout` and the call, and returns the result's layout with the
`Evidence` of every fact it establishes. Checked against torch 2.x with `is_contiguous()`,
`stride()` and `untyped_storage().data_ptr()`.
"""

from __future__ import annotations

from dataclasses import replace

from torchlint._lazy import lazy_module
from torchlint.facts.evidence import Evidence
from torchlint.facts.statements import is_true
from torchlint.facts.tensors import EXPANDED, UNKNOWN, Dim, Layout, Shows, _int, flatten_merge, view_merge

cst = lazy_module("libcst")


# --- layout transfer functions --------------------------------------------------------------


def _join(layouts):
    """The facts that hold on every path: what all layouts agree on stays, the rest is unknown.

    Equal layouts stay as they are. Layouts with the same ndim keep each dim's size where all
    agree, the memory order where all ranks and cuts agree, and contiguity where all agree.
    """
    if not layouts:
        return UNKNOWN
    first = layouts[0]
    if all(layout == first for layout in layouts):
        return first
    if any(layout is None for layout in layouts):
        return None if all(layout is None for layout in layouts) else UNKNOWN
    if not all(isinstance(layout, Layout) for layout in layouts):
        return UNKNOWN
    tensor = True if all(l.tensor for l in layouts) else None
    contiguous = first.contiguous if all(l.contiguous == first.contiguous for l in layouts) else None
    if first.dims is None or any(l.dims is None or len(l.dims) != len(first.dims) for l in layouts):
        # contiguous memory and a lower bound on ndim hold on every path when every path has them
        at_least = min(l.ndim if l.dims is not None else l.at_least for l in layouts)
        return Layout(tensor=tensor, contiguous=True if contiguous else None, at_least=at_least)
    same_order = all(l.cuts == first.cuts and [d.rank for d in l.dims] == [d.rank for d in first.dims]
                     for l in layouts)
    dims = []
    for index, dim in enumerate(first.dims):
        sizes = {l.dims[index].size for l in layouts}
        size = dim.size if len(sizes) == 1 else None
        dims.append(Dim(size, dim.rank if same_order else None, dim.note if size == "1" else None))
    expanded = first.expanded if all(l.expanded is not None for l in layouts) else None
    noncontig = first.noncontig if contiguous is False else None
    return Layout(tensor=tensor, dims=tuple(dims), contiguous=contiguous, cuts=first.cuts if same_order else frozenset(),
                  expanded=expanded if same_order else None, noncontig=noncontig)


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
    at_least = max(layout.at_least + 1 if layout.at_least else 0, dim + 1 if dim >= 0 else -dim)  # or torch raises
    if dim >= 0:
        note = Evidence(node, Shows.SIZE_ONE_BY, shown, dim=dim)
        ones = tuple((i if i < dim else i + 1, n) for i, n in layout.ones_left) + ((dim, note),)
        return Layout(tensor=True, ones_left=ones, contiguous=layout.contiguous, noncontig=layout.noncontig, at_least=at_least)
    right = -dim - 1
    note = Evidence(node, Shows.SIZE_ONE_BY, shown, dim=dim)
    ones = tuple((i if i < right else i + 1, n) for i, n in layout.ones_right) + ((right, note),)
    return Layout(tensor=True, ones_right=ones, contiguous=layout.contiguous, noncontig=layout.noncontig, at_least=at_least)


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


def _permute(layout: Layout, order, node, layouts, shown: str | None = None) -> Layout:
    shown = shown or f"permute({', '.join(map(str, order))})"
    if layout.dims is None:
        if layout.contiguous and layout.tensor is not False:
            # an input of unknown ndim assumed contiguous: ranks are the source positions, sizes
            # the receiver's `x.shape[k]` (so that `x.shape[3:]` in a new shape matches them); a dim
            # known to have size 1 (`x[:, :, :1]`) stays size 1
            receiver = node.func.value if isinstance(node.func, cst.Attribute) and node.func.attr.value == "permute" else None
            ones = {s: layout.one_left(s) or layout.one_right(len(order) - 1 - s) for s in order if 0 <= s < len(order)}
            # ranks count only the dims not known to be size 1 (as `_ranked` does)
            rank = {s: sum(1 for o in order if o < s and not ones.get(o)) for s in order}
            dims = tuple(Dim("1", None, ones[source]) if ones.get(source) else
                         Dim(layouts._dim_token(receiver, source) if receiver is not None and source >= 0 else None,
                             rank[source])
                         for source in order)
        else:
            return Layout(tensor=True, dims=tuple(Dim(None, None) for _ in order), contiguous=None)
        kept = [source for source in order if not ones.get(source)]
        result = Layout(tensor=True, dims=dims, contiguous=kept == sorted(kept))
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


def flatten_bounds(receiver: Layout, call, args) -> tuple | None:
    """`(start, end)` of `x.flatten(start, end)` / `torch.flatten(x, start, end)` as dims of `receiver`
    (`args`: the positional arguments after the tensor), or None when not known."""
    keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
    start_value = args[0].value if args else keywords.get("start_dim")
    end_value = args[1].value if len(args) > 1 else keywords.get("end_dim")
    start = _int(start_value) if start_value is not None else 0
    end = _int(end_value) if end_value is not None else -1
    if receiver.dims is None or start is None or end is None:
        return None
    ndim = len(receiver.dims)
    if ndim == 0:
        return None
    s, e = _normalize(start, ndim), _normalize(end, ndim)
    if s is None or e is None or s > e:
        return None
    return s, e


def _flattened(receiver: Layout, call, args) -> Layout:
    """`flatten(start, end)`: reshape's semantics. A view when dims start..end form one run in
    memory (the run becomes one dim, ranks renumbered), else a copy into fresh contiguous memory
    (checked with `stride()` and `untyped_storage().data_ptr()`)."""
    bounds = flatten_bounds(receiver, call, args)
    if bounds is None:
        return Layout(tensor=receiver.tensor)
    s, e = bounds
    group = receiver.dims[s:e + 1]
    merged_size = None
    if all(d.size for d in group):
        factors = sorted(f for d in group if d.size != "1" for f in d.size.split("*"))
        merged_size = "*".join(factors) if factors else "1"
    sizes = [d.size for d in receiver.dims[:s]] + [merged_size] + [d.size for d in receiver.dims[e + 1:]]
    if receiver.contiguous:
        return Layout(tensor=receiver.tensor, dims=_ranked(sizes), contiguous=True)
    merge = flatten_merge(receiver, s, e) if receiver.contiguous is False else None
    if merge is not None and merge.copies:
        return Layout(tensor=receiver.tensor, dims=_ranked(sizes), contiguous=True)
    if merge is None:
        return Layout(tensor=receiver.tensor, dims=tuple(Dim(z, None) for z in sizes))
    ranks = [d.rank for d in group if d.size != "1"]
    rank = min(ranks) if ranks else None
    dims = receiver.dims[:s] + (Dim(merged_size, rank),) + receiver.dims[e + 1:]
    return _renumbered(replace(receiver, dims=dims, view_of=None))


def _renumbered(layout: Layout) -> Layout:
    """Ranks made consecutive again after dims merged (their inner ranks are gone); cuts follow."""
    ranks = sorted({d.rank for d in layout.dims if isinstance(d.rank, int)})
    new = {rank: index for index, rank in enumerate(ranks)}
    dims = tuple(replace(d, rank=new[d.rank]) if isinstance(d.rank, int) else d for d in layout.dims)
    cuts = frozenset(new[c] for c in layout.cuts if c in new)
    result = replace(layout, dims=dims, cuts=cuts)
    contiguous = _dense_in_order(dims, cuts) and layout.expanded is None
    return replace(result, contiguous=contiguous, noncontig=None if contiguous else layout.noncontig)


def _interleaved(receiver: Layout, call, rest) -> Layout:
    """`repeat_interleave(repeats, dim)`: fresh contiguous memory whatever the input's strides
    (checked with `is_contiguous()` on permuted, transposed and sliced inputs), dim `dim` grown;
    without `dim`, a flat 1-D tensor. `rest`: the positional arguments after `repeats`."""
    value = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "dim"), None)
    if value is None and rest:
        value = rest[0].value
    if value is None:
        return Layout(tensor=True, dims=(Dim(None, 0),), contiguous=True)
    dim = _int(value)
    if dim is None or receiver.dims is None:
        return Layout(tensor=True, contiguous=True)
    d = _normalize(dim, len(receiver.dims))
    if d is None:
        return Layout(tensor=True, contiguous=True)
    sizes = [None if i == d else x.size for i, x in enumerate(receiver.dims)]
    return Layout(tensor=True, dims=_ranked(sizes, [None if i == d else x.note for i, x in enumerate(receiver.dims)]),
                  contiguous=True)


def _padded(receiver: Layout, call, pad) -> Layout:
    """`F.pad(x, pad)`: a contiguous input gives fresh contiguous memory (checked with
    `is_contiguous()` for constant, reflect and replicate modes), its last `len(pad) // 2` dims
    grown. A channels-last input gives channels-last output: other inputs are not judged.
    `pad`: the padding tuple's expression, when written as a tuple or list."""
    if receiver.contiguous is not True or receiver.dims is None or not isinstance(pad, (cst.Tuple, cst.List)):
        return Layout(tensor=True)
    padded = len(pad.elements) // 2
    if padded > len(receiver.dims):
        return Layout(tensor=True)
    sizes = [d.size for d in receiver.dims]
    sizes[len(sizes) - padded:] = [None] * padded
    return Layout(tensor=True, dims=_ranked(sizes), contiguous=True)


def _resized(receiver: Layout) -> Layout:
    """`F.interpolate(x, ...)`: a contiguous input gives fresh contiguous memory (checked with
    `is_contiguous()` for nearest, bilinear, bicubic and linear modes), batch and channel sizes
    kept, spatial sizes new. A channels-last input gives channels-last output: not judged."""
    if receiver.contiguous is not True or receiver.dims is None or len(receiver.dims) < 3:
        return Layout(tensor=True)
    sizes = [d.size for d in receiver.dims[:2]] + [None] * (len(receiver.dims) - 2)
    return Layout(tensor=True, dims=_ranked(sizes), contiguous=True)


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


def _code(layouts, node) -> str:
    return layouts.facts.module.code_for_node(node)


def _two_dims(layout: Layout, call) -> Layout:
    """`x.t()` raises on more than 2 dims: a receiver known to have at least 2 has exactly 2."""
    if layout.dims is not None or layout.at_least < 2:
        return layout
    sizes = [f"{id(call)}:{i}" for i in range(2)]
    dims = tuple(Dim(size, i if layout.contiguous else None) for i, size in enumerate(sizes))
    return replace(layout, dims=dims, at_least=0)


def _topk(receiver: Layout, call, args, layouts) -> Layout:
    """`x.topk(k, dim)`: fresh contiguous memory (checked with `stride()`), dim `dim` of size k."""
    dim_value = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "dim"), None)
    if dim_value is None and len(args) > 1:
        dim_value = args[1].value
    dim = _int(dim_value) if dim_value is not None else -1  # topk's default dim is the last
    if dim is None:
        return Layout(tensor=True, contiguous=True)
    k = layouts.size_token(args[0].value)
    if receiver.dims is None:
        return Layout(tensor=True, contiguous=True, at_least=dim + 1 if dim >= 0 else -dim)
    d = _normalize(dim, len(receiver.dims))
    if d is None:
        return Layout(tensor=True)
    sizes = [k if i == d else dim.size for i, dim in enumerate(receiver.dims)]
    return Layout(tensor=True, dims=_ranked(sizes), contiguous=True)


def _first_operand(first: Layout, second: Layout) -> Layout:
    """The result of an elementwise op of two tensors: `first`'s memory order when `first` is
    dense, not expanded, and not broadcast by `second` (every dim of `second` aligned from the
    right is size 1 or the same size); otherwise a tensor of unknown layout."""
    unknown = Layout(tensor=first.tensor or second.tensor)
    if first.dims is None or second.dims is None or len(second.dims) > len(first.dims):
        return unknown
    if first.expanded is not None or first.cuts or any(d.rank is None and d.size != "1" for d in first.dims):
        return unknown
    for mine, other in zip(reversed(first.dims), reversed(second.dims)):
        if other.size == "1" or (other.size is not None and other.size == mine.size):
            continue
        return unknown
    return replace(first, tensor=first.tensor or second.tensor, view_of=None)


def _repeated(receiver: Layout, factors) -> Layout:
    """`x.repeat(*factors)`: fresh contiguous memory; missing leading dims count as size 1."""
    if receiver.dims is None or factors is None or len(factors) < len(receiver.dims) or "-1" in factors:
        return Layout(tensor=True, contiguous=True)
    padded = ["1"] * (len(factors) - len(receiver.dims)) + [d.size for d in receiver.dims]
    sizes = []
    for factor, size in zip(factors, padded):
        if factor == "1":
            sizes.append(size)
        elif size == "1":
            sizes.append(factor)
        elif factor is not None and size is not None:
            sizes.append("*".join(sorted(factor.split("*") + size.split("*"))))
        else:
            sizes.append(None)
    return Layout(tensor=True, dims=_ranked(sizes), contiguous=True)


def _squeezed(receiver: Layout, dim, has_dim: bool) -> Layout:
    """`squeeze(dim)` drops size-1 dims: a contiguous tensor stays contiguous, ranks stay in order.

    Dims are known only when each squeezed dim is known to be size 1 or not."""
    if receiver.contiguous is not True:
        return Layout(tensor=receiver.tensor)
    dims = receiver.dims
    if dims is not None and has_dim:
        d = None if dim is None else _normalize(dim, len(dims))
        if d is None or dims[d].size is None:
            dims = None
        elif dims[d].size == "1":
            dims = dims[:d] + dims[d + 1:]
    elif dims is not None:
        dims = None if any(x.size is None for x in dims) else tuple(x for x in dims if x.size != "1")
    return Layout(tensor=receiver.tensor, dims=dims, contiguous=True)


def _unflattened(receiver: Layout, dim, sizes) -> Layout:
    """`x.unflatten(dim, sizes)`: always a view; dim `dim` splits into `len(sizes)` dims that are
    memory-adjacent in order (their ranks consecutive, the outermost keeping any cut), the other
    dims keep their order (checked with `stride()` and `untyped_storage().data_ptr()` on a
    transposed input). `sizes`: size tokens, "-1" for the inferred one; None when not known."""
    tensor = True
    if sizes is None or dim is None:
        return Layout(tensor=tensor)
    if receiver.dims is None:
        return Layout(tensor=tensor, contiguous=True) if receiver.contiguous is True else Layout(tensor=tensor)
    d = _normalize(dim, len(receiver.dims))
    if d is None:
        return Layout(tensor=tensor)
    old = receiver.dims[d]
    grown = len(sizes) - 1
    pieces = tuple(Dim(None if size == "-1" else size, old.rank + i if isinstance(old.rank, int) else None)
                   for i, size in enumerate(sizes))

    def shifted(rank):
        return rank + grown if isinstance(rank, int) and isinstance(old.rank, int) and rank > old.rank else rank

    if not isinstance(old.rank, int) and any(isinstance(x.rank, int) for x in receiver.dims):
        return Layout(tensor=tensor, dims=tuple(Dim(x.size, None) for x in receiver.dims[:d]) + pieces
                      + tuple(Dim(x.size, None) for x in receiver.dims[d + 1:]))
    dims = tuple(replace(x, rank=shifted(x.rank)) for x in receiver.dims[:d]) + pieces \
        + tuple(replace(x, rank=shifted(x.rank)) for x in receiver.dims[d + 1:])
    cuts = frozenset(shifted(c) for c in receiver.cuts)
    return replace(receiver, tensor=tensor, dims=dims, cuts=cuts, view_of=None)


def _meshgrid_element(layouts, call, index: int) -> Layout:
    """Output `index` of `torch.meshgrid(*inputs, indexing=...)`: a broadcast view of input
    `index`, stride 1 along its own dim and 0 along the others (`y, x = torch.meshgrid(
    torch.arange(4), torch.arange(4), indexing="ij")`: y has strides (1, 0), x (0, 1)); "xy" swaps
    the first two dims. Known only when every input is 1-D."""
    args = [a.value for a in call.args if a.keyword is None]
    args = [e.value for e in args[0].elements] if len(args) == 1 and isinstance(args[0], (cst.Tuple, cst.List)) else args
    inputs = [layouts._eval(a) for a in args]
    indexing = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "indexing"), None)
    indexing = "ij" if indexing is None else (indexing.evaluated_value if isinstance(indexing, cst.SimpleString) else None)
    if not inputs or not 0 <= index < len(inputs) or indexing not in ("ij", "xy") \
            or any(not isinstance(i, Layout) or i.dims is None or len(i.dims) != 1 for i in inputs):
        return Layout(tensor=True)
    order = list(range(len(inputs)))
    if indexing == "xy" and len(order) >= 2:
        order[0], order[1] = order[1], order[0]
    dims = tuple(Dim(inputs[source].dims[0].size, 0 if source == index else EXPANDED) for source in order)
    note = Evidence(call, Shows.EXPANDED)
    return Layout(tensor=True, dims=dims, contiguous=False, expanded=note,
                  noncontig=Evidence(call, Shows.NONCONTIGUOUS_BY, "meshgrid(...)"))
