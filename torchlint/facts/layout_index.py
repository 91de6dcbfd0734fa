"""Transfer functions of indexing on abstract layouts: slices, integer and `None` indices,
`narrow`, and the pieces of `unbind`/`chunk`/`split` (see `layout_ops` for the other operations).

A bounded slice of a dim cuts it from its outer neighbour in memory (the two can no longer
merge: `Layout.cuts`), a stepped slice makes the tensor non-contiguous, an integer drops the dim
and `None` adds a size-1 one. Checked against torch 2.x with `is_contiguous()`,
`stride()` and `untyped_storage().data_ptr()`.
"""

from __future__ import annotations

from dataclasses import replace

from torchlint._lazy import lazy_module
from torchlint.facts.evidence import Evidence
from torchlint.facts.layout_ops import _dense_in_order, _normalize
from torchlint.facts.tensors import UNKNOWN, Dim, Layout, Shows, _int

cst = lazy_module("libcst")


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
        elif _int(element.value) is not None or _loop_counter(layouts, element.value):
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
            length = _slice_length(element, dim.size)
            ranks = [d.rank for d in layout.dims if isinstance(d.rank, int)]
            size = None  # the new size, when the crop's length is known
            if length == "crop":
                length, size = _crop(layouts, element, dim, expr)
            if length == "full":
                out.append(dim)
            elif length == "1":
                out.append(Dim("1", None, Evidence(expr, Shows.SIZE_ONE_SLICE, code, dim=len(out))))
            elif length == "part" and size is not None and dim.rank is None:
                out.append(Dim(size, None))
                layout, out = _cut_unknown(layout, out, dims[source:], expr, code)
            elif length == "crop" and not (isinstance(dim.rank, int) and dim.rank == min(ranks)):
                # `[:h]` may keep the whole dim (then merging it with its outer neighbour is a view)
                # or cut it (a copy): no cut, so only merges that copy either way are judged copies.
                # The memory order is kept (the dims inside it stay dense, a view that splits them
                # keeps their order), so a later merge of dims apart in memory is still judged;
                # taken as whole, the crop only ever hides copies, never claims one.
                out.append(Dim(None, dim.rank))
            else:
                # a step slice's stride may still merge with its outer neighbour (`a[:, ::2]` of an
                # even width): its rank becomes unknown, so merges through it are not judged
                rank = None if length == "step" else dim.rank
                out.append(Dim(size, rank))
                position = len(out) - 1
                trial = replace(layout, dims=tuple(out) + tuple(dims[source:]))
                layout = _cut(trial, position, Dim(size, rank), Evidence(expr, Shows.NONCONTIGUOUS_SLICE, code), step=length == "step")
                out = list(layout.dims[: position + 1])
    out.extend(dims[source:])
    out = _named_sizes(layouts, expr, out)
    dropped_inner = any(k == "int" for k, _ in kinds)
    result = replace(layout, dims=tuple(out), view_of=expr.value)
    if dropped_inner:
        contiguous = _dense_in_order(result.dims, result.cuts) and result.expanded is None
        result = replace(result, contiguous=contiguous, noncontig=result.noncontig if not contiguous and result.noncontig else (None if contiguous else Evidence(expr, Shows.NONCONTIGUOUS_BY, f"[{code}]")))
    return result


def _loop_counter(layouts, expr) -> bool:
    """`i` of `for i in range(n)` or `for i, item in enumerate(items)`: an int, so `x[i]` is basic
    indexing (a dim dropped), not an advanced index."""
    if not isinstance(expr, cst.Name):
        return False
    flow = layouts.dataflow.function_of(expr)
    bindings = flow.bindings_at(expr) if flow is not None and flow.is_local_load(expr) else ()
    if not bindings or any(b.kind != "for" or not isinstance(b.statement, cst.For) for b in bindings):
        return False
    for binding in bindings:
        loop = binding.statement
        called = layouts.names.qualified_name(loop.iter.func) if isinstance(loop.iter, cst.Call) else None
        target = loop.target
        if called == "builtins.range" or (isinstance(loop.iter, cst.Call) and isinstance(loop.iter.func, cst.Name)
                                          and loop.iter.func.value == "range"):
            if target is not binding.node:
                return False
        elif called == "builtins.enumerate" or (isinstance(loop.iter, cst.Call) and isinstance(loop.iter.func, cst.Name)
                                                and loop.iter.func.value == "enumerate"):
            if not (isinstance(target, cst.Tuple) and target.elements and target.elements[0].value is binding.node):
                return False
        else:
            return False
    return True


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
            contiguous = False if _slice_length(element) != "crop" else contiguous  # a crop: as above
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


def _slice_length(element, size=None) -> str:
    """'full' for `:`, '1' for `:1`, `i:i+1`, `-1:`; 'step' for a step; 'part' for a slice known to
    leave out some of the dim (`1:`, `:-1`, `:2` of a dim of literal size 3); else 'crop': `[:h]`,
    `[a:b]` may be the whole dim. `size`: the dim's size token, when known."""
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
    lo = _int(lower) if lower is not None else 0
    hi = _int(upper) if upper is not None else None
    if (lo is not None and lo > 0) or (hi is not None and hi < 0):
        return "part"
    if hi is not None and size is not None and size.isdigit() and lo is not None and hi - lo < int(size):
        return "part"
    return "crop"


def _cut_unknown(layout: Layout, out: list, rest, expr, code) -> tuple:
    """A crop known to be shorter than its dim (`_crop`), in a tensor whose memory order is unknown.

    Merging the cropped dim (w of S) with its outer neighbour (size h > 1) is a view only if the
    outer stride is w times the inner one; before the crop, index (1, 0) and (0, w) would then
    share memory, which no tensor without internal overlap does (only `expand`, `unfold` and
    `as_strided` make such tensors). So that merge copies whatever the strides: the two dims get
    ranks 0 and 1 with a cut between them, and every other dim keeps an unknown rank, so no
    other merge is judged. The two are taken to lie in memory in their order (as a reshape's
    output does), which only matters if they are later swapped and merged the other way.
    """
    position = len(out) - 1
    outer = next((i for i in range(position - 1, -1, -1) if out[i].size != "1"), None)
    known = [d.rank for d in (*layout.dims, *out) if d.rank is not None]
    if outer is None or known or layout.expanded is not None or out[outer].rank is not None:
        return layout, out
    out[outer] = Dim(out[outer].size, 0, out[outer].note)
    out[position] = Dim(out[position].size, 1, out[position].note)
    note = Evidence(expr, Shows.NONCONTIGUOUS_SLICE, code)
    changed = replace(layout, dims=tuple(out) + tuple(rest), cuts=frozenset({1}), contiguous=False,
                      noncontig=layout.noncontig or note)
    return changed, out


def _named_sizes(layouts, expr, dims: list) -> list:
    """Dims of unknown size of an indexing result bound to a name (`y = x[:, :h]`) are named by
    that binding, as `y.shape[k]` is for a tensor of unknown ndim (`SizeTokens._dim_token`)."""
    if all(d.size is not None for d in dims):
        return dims
    parent = layouts.dataflow.parent(expr)
    if not (isinstance(parent, cst.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0].target, cst.Name)):
        return dims
    name = parent.targets[0].target
    flow = layouts.dataflow.function_of(name)
    if flow is None:
        return dims
    binding = flow.binding_for_target(name)
    if binding is None:
        return dims
    return [d if d.size is not None else Dim(f"shape:{id(binding)}:{k}", d.rank, d.note) for k, d in enumerate(dims)]


def _crop(layouts, element, dim, expr) -> tuple:
    """A crop `[:L]` or `[a:a + L]` of a dim of known size `S`: ("full", S) when L is S; ("part", L)
    when the code shows L <= S (`shape_bounds`), so the crop keeps the whole dim only when L
    equals S (a degenerate case the code guards against or builds: it may run, but the crop is
    there for the others); else ("crop", None): it may keep the whole dim."""
    length = _crop_length(element)
    if length is None or dim.size is None or dim.size == "1":
        return "crop", None
    token = layouts._size(length, 0)
    if token is None:
        return "crop", None
    if token == dim.size:
        return "full", None
    if layouts._at_most(length, token, dim.size, expr):
        return "part", token
    return "crop", None


def _crop_length(element):
    """L of `[:L]`, `[0:L]`, `[a:a + L]` (or `[a:L + a]`), `[-L:]` (the last L; all of the dim
    when L is 0, a degenerate case like L equal to the size), or None."""
    lower, upper = element.lower, element.upper
    if element.step is not None and _int(element.step) != 1:
        return None
    if upper is None and isinstance(lower, cst.UnaryOperation) and isinstance(lower.operator, cst.Minus) \
            and _int(lower) is None:
        return lower.expression
    if upper is None:
        return None
    if lower is None or _int(lower) == 0:
        return upper
    if isinstance(upper, cst.BinaryOperation) and isinstance(upper.operator, cst.Add):
        if upper.left.deep_equals(lower):
            return upper.right
        if upper.right.deep_equals(lower):
            return upper.left
    return None


def _split_element(receiver: Layout, method, call, layouts, skip: int = 0) -> Layout:
    args = [a for a in call.args if a.keyword is None][skip:]  # skip: the tensor of `torch.split(x, ...)`
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
