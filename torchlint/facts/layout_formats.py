"""Layouts of operations that allocate their output in the input's *suggested memory format*:
`torch.cat`, `F.pad`, `F.interpolate`, pooling (see `layout_ops` for views and elementwise operations).

These ops allocate fresh memory, contiguous unless the input is channels-last (4-D) or
channels-last-3d (5-D), in which case the output keeps that format. So the output is known
contiguous when an input is known *not* to be channels-last: a contiguous tensor, one of another
ndim, or one whose memory order is known and is not N, (D,) H, W, C. Experiment (torch 2.13 CPU,
`stride()` and `is_contiguous()`):

    F.pad(x, (0, 1, 0, 1))   x permuted/transposed/sliced/stepped, 3/4/5-D -> contiguous
                             x channels-last (4-D) or channels-last-3d (5-D) -> same format
                             (modes constant, reflect, replicate; circular -> contiguous)
    F.pad(x, (0, 0, 0, 0))   all pads <= 0: a copy with x's strides (not judged)
    torch.cat([a, b], d)     contiguous unless every input is channels-last(-3d): one
                             contiguous or transposed input is enough; a 4-/5-D input whose
                             last dim lies inside its dim 1 in memory is never channels-last,
                             whatever the strides of its size-1 dims (3,168 `as_strided` cases)
    F.interpolate(x, ...)    permuted non-channels-last 4/5-D -> contiguous; channels-last -> same
    F.avg_pool2d(x, 2)       the same (max_pool2d, adaptive_avg/max_pool2d, avg_pool3d)
    F.avg_pool1d(x, 2)       x transposed 3-D -> strides (12, 1, 3): only a contiguous x is judged

When the input's own layout is not known but each definition of its name that reaches the call
is (`x = ...permute(0, 3, 4, 1, 2)` in one branch, the annotated parameter in the other), the
output is contiguous when no definition is channels-last: `candidates` holds those layouts.
"""

from __future__ import annotations

from torchlint._lazy import lazy_module
from torchlint.facts.layout_ops import _normalize, _ranked
from torchlint.facts.tensors import Layout, _int

cst = lazy_module("libcst")

POOLS = frozenset(f"torch.nn.functional.{kind}_pool{n}d" for kind in ("avg", "max", "adaptive_avg", "adaptive_max")
                  for n in (1, 2, 3))

# memory order (rank per dim) of channels-last tensors: N, H, W, C and N, D, H, W, C
_CHANNELS_LAST = {4: (0, 3, 1, 2), 5: (0, 4, 1, 2, 3)}


def not_channels_last(layout) -> bool:
    """True when `layout` is known not to be in a channels-last memory format."""
    if not isinstance(layout, Layout):
        return False
    if layout.contiguous is True and layout.expanded is None:
        return True
    if layout.dims is None:
        return False
    if len(layout.dims) not in _CHANNELS_LAST:
        return True
    channel, last = layout.dims[1].rank, layout.dims[-1].rank
    if isinstance(channel, int) and isinstance(last, int) and last > channel:
        return True  # the last dim inside the channels: never channels-last, whatever the size-1 dims' strides
    ranks = tuple(d.rank for d in layout.dims)
    if any(not isinstance(r, int) for r in ranks):
        return False  # size-1, expanded or unknown dims: the format may go either way
    return ranks != _CHANNELS_LAST[len(ranks)]


def padded(candidates, call, pad, mode) -> Layout:
    """`F.pad(x, pad, mode=...)`. `candidates`: x's layout, then one per definition of x's name
    when several reach the call. `pad`: the padding expression (a tuple or list when literal);
    `mode`: the mode's string, or None for the default (constant)."""
    receiver = candidates[0]
    if not isinstance(pad, (cst.Tuple, cst.List)) or not isinstance(receiver, Layout):
        return Layout(tensor=True)
    values = [_int(e.value) for e in pad.elements]
    grows = any(v is not None and v > 0 for v in values)
    if not grows and receiver.contiguous is not True:
        return Layout(tensor=True)  # pads of 0 (or unknown) may be a copy keeping x's strides
    formats_kept = mode not in ("circular",)
    if formats_kept and not (not_channels_last(receiver) or (len(candidates) > 1 and all(map(not_channels_last, candidates[1:])))):
        return Layout(tensor=True)
    dims = _joined_dims(candidates)
    padded_dims = len(pad.elements) // 2
    if dims is None or padded_dims > len(dims):
        return Layout(tensor=True, contiguous=True)
    sizes = list(dims)
    sizes[len(sizes) - padded_dims:] = [None] * padded_dims
    return Layout(tensor=True, dims=_ranked(sizes), contiguous=True)


def resized(candidates, one_d: bool = False) -> Layout:
    """`F.interpolate(x, ...)`, 2-D and 3-D pooling: batch and channel sizes kept, spatial sizes
    new, contiguous unless x may be channels-last. 1-D pooling (`one_d`) views x as 4-D, where a
    transposed 3-D x is channels-last: only a contiguous x gives contiguous output."""
    receiver = candidates[0]
    accepts = _contiguous if one_d else not_channels_last
    if not (accepts(receiver) or (len(candidates) > 1 and all(map(accepts, candidates[1:])))):
        return Layout(tensor=True)
    dims = _joined_dims(candidates)
    if dims is None or len(dims) < 3:
        return Layout(tensor=True, contiguous=True)
    return Layout(tensor=True, dims=_ranked(list(dims[:2]) + [None] * (len(dims) - 2)), contiguous=True)


def concatenated(inputs, dim) -> Layout:
    """`torch.cat([a, b, ...], dim)`: contiguous when one input is known not channels-last.
    `inputs`: the layouts of the list's elements (None for an element not known: a starred one);
    `dim`: the int dim, or None when not known. Sizes other than `dim`'s where the inputs of known
    dims agree: torch requires every input to have them."""
    if not inputs or not any(not_channels_last(i) for i in inputs):
        return Layout(tensor=True)
    known = [i for i in inputs if isinstance(i, Layout) and i.dims is not None]
    if not known or any(len(i.dims) != len(known[0].dims) for i in known):
        return Layout(tensor=True, contiguous=True)
    ndim = len(known[0].dims)
    d = _normalize(dim, ndim) if dim is not None else None
    sizes = []
    for index in range(ndim):
        # every input has the output's size outside `dim` (torch raises otherwise): a known input tells it
        found = {i.dims[index].size for i in known}
        sizes.append(None if index == d or d is None or len(found) != 1 else found.pop())
    return Layout(tensor=True, dims=_ranked(sizes), contiguous=True)


def _contiguous(layout) -> bool:
    return isinstance(layout, Layout) and layout.contiguous is True and layout.expanded is None


def _joined_dims(candidates):
    """The sizes every candidate with known dims agrees on (None where they differ), or None."""
    known = [c.dims for c in candidates if isinstance(c, Layout) and c.dims is not None]
    if not known or any(len(k) != len(known[0]) for k in known):
        return None
    return tuple(k0.size if all(k[i].size == k0.size for k in known) else None for i, k0 in enumerate(known[0]))


def im2col(source, fold: bool) -> Layout:
    """`F.unfold(x, ...)` (`(B, C * k, L)`) and `F.fold(x, ...)` (`(B, C, H, W)`): fresh contiguous
    memory whatever x's strides (checked with `stride()` on channels-last and transposed inputs)."""
    if not isinstance(source, Layout) or source.dims is None or len(source.dims) not in ((2, 3) if fold else (3, 4)):
        return Layout(tensor=True, contiguous=True)
    batch = [source.dims[0].size] if len(source.dims) == (3 if fold else 4) else []
    return Layout(tensor=True, dims=_ranked(batch + [None] * (3 if fold else 2)), contiguous=True)
