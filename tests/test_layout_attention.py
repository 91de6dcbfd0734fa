"""The output layout of `F.scaled_dot_product_attention` (facts/layout_attention.py), and the torch
experiment it encodes (CPU)."""

import pytest

from tests.test_tensor_shapes import _layout

PERMUTED_QKV = """
import torch
import torch.nn.functional as F
def f(x, B: int, N: int, h: int, d: int, p: float):
    qkv = torch.randn(B, N, 3, h, d).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)
    out = F.scaled_dot_product_attention(q, k, v{extra})
    return out.transpose(1, 2)
"""

CONTIGUOUS_Q = """
import torch
import torch.nn.functional as F
def f(B: int, N: int, h: int, d: int, p: float):
    q = torch.randn(B, h, N, d)
    out = F.scaled_dot_product_attention(q, q, q{extra})
    return out.transpose(1, 2)
"""


def _merged_heads(source, extra=""):
    layouts, node = _layout(source.format(extra=extra), "out.transpose(1, 2)")
    return layouts.of(node)


def test_permuted_query_output_keeps_q_order():
    assert _merged_heads(PERMUTED_QKV).contiguous is True
    assert _merged_heads(PERMUTED_QKV, ", attn_mask=torch.zeros(B, 1, N, N), dropout_p=0.0").contiguous is True


def test_contiguous_query_output_is_contiguous_whatever_the_kernel():
    assert _merged_heads(CONTIGUOUS_Q).contiguous is False
    assert _merged_heads(CONTIGUOUS_Q, ", dropout_p=p").contiguous is False


@pytest.mark.parametrize("extra", [", dropout_p=0.1", ", attn_mask=torch.zeros(h, N, N)", ", None, 0.5"])
def test_math_fallback_output_is_contiguous(extra):
    assert _merged_heads(PERMUTED_QKV, extra).contiguous is False


@pytest.mark.parametrize("extra", [", dropout_p=p", ", attn_mask=x", ", dropout_p=0.1 if x.requires_grad else 0.0"])
def test_undecided_kernel_leaves_permuted_output_unknown(extra):
    layouts, node = _layout(PERMUTED_QKV.format(extra=extra), "out")
    layout = layouts.of(node)
    assert layout.contiguous is None and all(d.rank is None for d in layout.dims)


def test_output_sizes_are_q_sizes_with_v_head_dim():
    layouts, node = _layout(PERMUTED_QKV.format(extra=""), "F.scaled_dot_product_attention(q, k, v)")
    assert [d.size for d in layouts.of(node).dims][-1] == layouts.of(node).dims[-1].size is not None


def test_torch_agrees():
    """The experiment: the fused CPU kernel keeps q's memory order, the math fallback is contiguous."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    B, N, h, d = 2, 5, 3, 4
    q, k, v = torch.randn(B, N, 3, h, d).permute(2, 0, 3, 1, 4).unbind(0)
    for kwargs in ({}, {"attn_mask": torch.zeros(N, N)}, {"attn_mask": torch.rand(B, 1, 1, N) > 0.5},
                   {"attn_mask": torch.zeros(1, h, N, N)}, {"is_causal": True}, {"dropout_p": 0.0}):
        assert F.scaled_dot_product_attention(q, k, v, **kwargs).transpose(1, 2).is_contiguous(), kwargs
    for kwargs in ({"dropout_p": 0.5}, {"attn_mask": torch.zeros(h, N, N)}):
        assert F.scaled_dot_product_attention(q, k, v, **kwargs).is_contiguous(), kwargs
    assert F.scaled_dot_product_attention(q, k, torch.randn(B, h, N, 2 * d)).is_contiguous()
    contiguous = torch.randn(B, h, N, d)
    assert F.scaled_dot_product_attention(contiguous, contiguous, contiguous).is_contiguous()
    five = torch.randn(B, 2, N, 3, h, d).permute(3, 0, 4, 1, 2, 5).unbind(0)
    assert F.scaled_dot_product_attention(*five).is_contiguous()
    # any dense order is kept: q in (h, B, N, d) memory gives an output in that memory
    other = torch.randn(h, B, N, d).transpose(0, 1)
    assert F.scaled_dot_product_attention(other, other, other).stride() == other.stride()
