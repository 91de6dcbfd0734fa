"""The pieces of `torch.split(x, ...)`, `torch.chunk(x, ...)`, `torch.tensor_split(x, ...)` and
`torch.unbind(x, ...)`: the function spellings of the methods, with the same pieces.

`q, k, v = torch.split(x, [a, a, b], dim=1)` of a contiguous `(B, C, H, W)` conv output gives
pieces of strides `(C*H*W, H*W, W, 1)`: dim 0 no longer merges with dim 1 (checked with
`stride()` and `untyped_storage().data_ptr()` in torch 2.13 CPU: `q.reshape(B * h, d, -1)` of
such a piece copies when `B > 1` and `h > 1`, as `x.split(...)` pieces do).
"""

from __future__ import annotations

from torchlint.facts.layout_index import _split_element
from torchlint.facts.tensors import UNKNOWN, Layout

SPLIT_FUNCTIONS = frozenset({"torch.split", "torch.chunk", "torch.tensor_split", "torch.unbind"})


def split_function_element(layouts, call, index) -> Layout:
    """The layout of piece `index` of `torch.<split>(x, ...)`; unknown when `x` is not a
    positional first argument or its layout is not known."""
    first = call.args[0]
    if first.keyword is not None or first.star:
        return UNKNOWN
    receiver = layouts._eval(first.value)
    if not isinstance(receiver, Layout):
        return UNKNOWN if receiver is not None else None
    method = layouts.names.qualified_name(call.func).rsplit(".", 1)[1]
    return _split_element(receiver, method, call, layouts, skip=1)
