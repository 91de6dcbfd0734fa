"""What `torch.cat` and `torch.stack` tell of their result's shape: a lower bound on its number of
dims. (Their memory format is `layout_formats.concatenated`'s question.)

    layout = joined_layout("torch.cat", call)            # a Layout
    bound = joined_ndim_at_least("torch.cat", call)      # 2 for `torch.cat(xs, dim=1)`

The `dim` must name a dim of the result, or torch raises (checked in torch 2.13:
`torch.cat([torch.zeros(3), torch.zeros(3)], dim=1)` is "Dimension out of range"; `stack` with
`dim=d` gives `d + 1` dims or more), so the result has at least `d + 1` dims, or `-d` for a
negative `d`. The one exception keeps no data: `cat` of legacy empty `(0,)` tensors gives `(0,)`.
"""

from __future__ import annotations

from torchlint.facts.tensors import Layout, _int

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


def joined_layout(qualified, call) -> Layout:
    """The layout of a torch function's result that is a join, as far as its call shows: a tensor
    with the ndim bound above. Memory format of a `cat` of a literal list: `layout_formats`."""
    return Layout(tensor=True, at_least=joined_ndim_at_least(qualified, call))
