"""The layout of `F.scaled_dot_product_attention(q, k, v, ...)`'s output, on CPU.

    attention_output(layouts, call)  # Layout: sizes q[:-1] + v[-1:], memory order as below

What torch 2.13 on CPU does (measured with `stride()`, `is_contiguous()`; the experiment is
tests/test_layout_attention.py::test_torch_agrees):

- The fused CPU kernel (`_scaled_dot_product_flash_attention_for_cpu`) returns fresh dense memory
  in q's memory order: q from `qkv.reshape(B, N, 3, h, d).permute(2, 0, 3, 1, 4).unbind(0)` (memory
  B, N, h, d) gives an output whose `transpose(1, 2)` is contiguous; a contiguous q gives a
  contiguous output. Masks of 2 or 4 dims (float or bool, any broadcast), `is_causal`, `scale`,
  `enable_gqa`, any dtype, k and v of other strides or lengths keep this.
- The math fallback returns contiguous memory (it ends in `attn @ v`). It runs when q is not 4-D,
  when q's last dim is not its innermost in memory, when `dropout_p` > 0, when the mask has 3 dims,
  and when v's head dim differs from q's.
- So a contiguous q gives a contiguous output on either path.

CUDA's flash and memory-efficient kernels allocate (B, N, h, d) memory whatever q is; we cannot
measure them here, and the answer is CPU's (the reshape rule's docs say so). When neither path can
be told (`dropout_p=self.attn_drop.p if self.training else 0.`, a mask of unknown rank) and q is not
contiguous, the output's memory order is unknown.
"""

from __future__ import annotations

from torchlint._lazy import lazy_module
from torchlint.facts.evidence import Evidence
from torchlint.facts.layout_ops import _ranked, _renumbered, _unknown_ranks
from torchlint.facts.tensors import EXPANDED, Dim, Layout, Shows

cst = lazy_module("libcst")

ATTENTION_FUNCTIONS = frozenset({"torch.nn.functional.scaled_dot_product_attention"})

_PARAMETERS = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")


def is_attention_call(names, node) -> bool:
    """Whether `node` is a call of `scaled_dot_product_attention`."""
    return isinstance(node, cst.Call) and names.qualified_name(node.func) in ATTENTION_FUNCTIONS


def attention_output(layouts, call) -> Layout:
    """The output layout of `scaled_dot_product_attention(q, k, v, ...)` as CPU computes it."""
    arguments = _arguments(call)
    if arguments is None or "query" not in arguments:
        return Layout(tensor=True)
    query = layouts._eval(arguments["query"])
    if not isinstance(query, Layout):
        return Layout(tensor=True)
    value = layouts._eval(arguments["value"]) if "value" in arguments else None
    sizes = _output_sizes(query, value)
    fused = _fused(layouts, arguments, query, value)
    # q of unknown origin is only assumed contiguous; in attention code it is usually a permuted view
    if fused is False or (query.contiguous is True and query.tensor):
        return Layout(tensor=True, dims=None if sizes is None else _ranked(sizes), contiguous=True)
    if fused is None or not query.tensor or not _dense_order_known(query):
        return Layout(tensor=True, dims=None if sizes is None else _unknown_ranks(tuple(Dim(s) for s in sizes)))
    # fresh dense memory in q's order: q's ranks made consecutive, no cuts
    dims = tuple(Dim(size, dim.rank if size != "1" else None, dim.note if size == "1" else None)
                 for size, dim in zip(sizes, query.dims))
    cause = query.noncontig or Evidence(call, Shows.NONCONTIGUOUS_BY, "scaled_dot_product_attention(...)")
    return _renumbered(Layout(tensor=True, dims=dims, contiguous=False, noncontig=cause))


def _arguments(call) -> dict | None:
    """Parameter name -> argument expression; None when `*args`/`**kwargs` hide the binding."""
    found = {}
    for index, argument in enumerate(call.args):
        if argument.star:
            return None
        if argument.keyword is None:
            if index >= len(_PARAMETERS):
                return None
            found[_PARAMETERS[index]] = argument.value
        else:
            found[argument.keyword.value] = argument.value
    return found


def _output_sizes(query: Layout, value) -> list | None:
    """q's sizes with v's head dim last (unknown where v does not tell it)."""
    if query.dims is None:
        return None
    head = value.dims[-1].size if isinstance(value, Layout) and value.dims else None
    return [d.size for d in query.dims[:-1]] + [head]


def _fused(layouts, arguments, query: Layout, value) -> bool | None:
    """True when CPU's fused kernel provably runs, False when the math fallback provably runs."""
    if query.dims is not None and len(query.dims) != 4:
        return False
    if query.dims is not None and not _last_innermost(query):
        return False
    dropout = _number(arguments.get("dropout_p"))
    if dropout is not None and dropout > 0:
        return False
    mask = arguments.get("attn_mask")
    mask_rank = None
    if mask is not None and not (isinstance(mask, cst.Name) and mask.value == "None"):
        layout = layouts._eval(mask)
        mask_rank = len(layout.dims) if isinstance(layout, Layout) and layout.dims is not None else -1
        if mask_rank == 3:
            return False
    heads = _head_dims_equal(query, value)
    if heads is False:
        return False
    if query.dims is None or "dropout_p" in arguments and dropout is None or mask_rank not in (None, 2, 4) \
            or heads is None:
        return None
    return True


def _number(node) -> float | None:
    if isinstance(node, (cst.Integer, cst.Float)):
        return float(node.evaluated_value)
    return None


def _head_dims_equal(query: Layout, value) -> bool | None:
    """Whether q's and v's last sizes are equal: by token, or unequal integer literals."""
    if query.dims is None or not isinstance(value, Layout) or not value.dims:
        return None
    q, v = query.dims[-1].size, value.dims[-1].size
    if q is not None and q == v:
        return True
    if q is not None and v is not None and q.isdigit() and v.isdigit():
        return False
    return None


def _last_innermost(query: Layout) -> bool:
    """False only when q's last dim is known not to be its innermost in memory."""
    ranks = [d.rank for d in query.dims if d.size != "1"]
    last = query.dims[-1]
    if last.size == "1" or not all(isinstance(r, int) for r in ranks):
        return True
    return last.rank == max(ranks)


def _dense_order_known(query: Layout) -> bool:
    """Whether q's memory order is known on every dim that is not size 1, with no stride-0 dim."""
    if query.dims is None or query.expanded is not None:
        return False
    ranks = [d.rank for d in query.dims if d.size != "1"]
    return bool(ranks) and all(isinstance(r, int) and r != EXPANDED for r in ranks) and len(set(ranks)) == len(ranks)
