"""What `torch.cat` and `torch.stack` tell of their result: a lower bound on its number of dims,
and, for `cat`, contiguous memory.

    layout = joined_layout(layouts, "torch.cat", call)   # a Layout
    bound = joined_ndim_at_least("torch.cat", call)      # 2 for `torch.cat(xs, dim=1)`

The `dim` must name a dim of the result, or torch raises (checked in torch 2.13:
`torch.cat([torch.zeros(3), torch.zeros(3)], dim=1)` is "Dimension out of range"; `stack` with
`dim=d` gives `d + 1` dims or more), so the result has at least `d + 1` dims, or `-d` for a
negative `d`. The one exception keeps no data: `cat` of legacy empty `(0,)` tensors gives `(0,)`.

`cat` allocates its result in the inputs' common memory format, and in the default (contiguous)
one when they differ, so one contiguous input makes the result contiguous (checked with
`is_contiguous()` and `stride()`: channels-last with channels-last gives channels-last;
contiguous with channels-last, transposed 3-D inputs, sliced inputs all give contiguous).
`stack` is left out: stacking channels-last tensors gives a non-contiguous result.
"""

from __future__ import annotations

from torchlint._lazy import lazy_module
from torchlint.facts.tensors import Layout, _int

cst = lazy_module("libcst")

CONCATENATIONS = frozenset({"torch.cat", "torch.concat", "torch.concatenate"})
JOINS = CONCATENATIONS | {"torch.stack"}


def joined_ndim_at_least(qualified, call) -> int:
    """A lower bound on the number of dims of a `cat`/`stack` result; 0 when nothing is known."""
    if qualified not in JOINS:
        return 0
    dim = next((a.value for a in call.args if a.keyword is not None and a.keyword.value in ("dim", "axis")), None)
    positional = [a for a in call.args if a.keyword is None]
    if dim is None and len(positional) >= 2 and not any(a.star for a in positional[:2]):
        dim = positional[1].value
    value = _int(dim) if dim is not None else None
    if value is None:
        return 0
    return value + 1 if value >= 0 else -value


def joined_layout(layouts, qualified, call) -> Layout:
    """The layout of a torch function's result that is a join: its ndim bound and, for `cat` with
    one input known to be a contiguous tensor, contiguous memory; `Layout(tensor=True)` else."""
    at_least = joined_ndim_at_least(qualified, call)
    contiguous = None
    if qualified in CONCATENATIONS:
        inputs = _inputs(call)
        if any(_contiguous_tensor(layouts.of(element)) for element in inputs):
            contiguous = True
    return Layout(tensor=True, contiguous=contiguous, at_least=at_least)


def _inputs(call) -> list:
    argument = next((a for a in call.args if a.keyword is None or a.keyword.value == "tensors"), None)
    if argument is None or argument.star or not isinstance(argument.value, (cst.List, cst.Tuple)):
        return []
    return [e.value for e in argument.value.elements if isinstance(e, cst.Element)]


def _contiguous_tensor(layout) -> bool:
    return isinstance(layout, Layout) and layout.tensor is True and layout.contiguous is True and layout.expanded is None
