"""A merged size set once in `__init__` as a product (`self.dim_out_v = num_heads * self.dim_head_v`),
and the row-major grouping that stops at the first entry proven to merge dims apart in memory."""

import textwrap

import libcst as cst
import pytest

from conftest import nodes_in_order

from torchlint.facts import ModuleFacts
from torchlint.facts.layout import Layouts
from torchlint.facts.layout_regroup import factor_groups
from torchlint.facts.layout_reshape import copying_reshape
from torchlint.facts.tensors import Dim


def _reshape(source):
    """`copying_reshape` of the snippet's last `.reshape(...)` call."""
    module = cst.parse_module(textwrap.dedent(source))
    calls = nodes_in_order(module, cst.Call, lambda n: isinstance(n.func, cst.Attribute) and n.func.attr.value == "reshape")
    return copying_reshape(ModuleFacts(module).get(Layouts), calls[-1])


_HEADS = """
import torch
from torch import nn

class Attn(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.dim_head = dim // num_heads
        {stores}

    def forward(self, x):
        B, C, H, W = x.shape
        v = self.v(x).reshape(B * self.num_heads, -1, self.dim_head)  # (B * heads, HW, d)
        return v.transpose(-1, -2).reshape(B, self.inner, H, W)
"""


def _heads(stores):
    return _HEADS.replace("{stores}", textwrap.dedent(stores).strip().replace("\n", "\n        "))


@pytest.mark.parametrize("stores", [
    "self.inner = num_heads * self.dim_head\nself.v = nn.Conv2d(dim, self.inner, 1)",
    "self.inner = self.dim_head * self.num_heads\nself.v = nn.Conv2d(dim, self.inner, 1)",
])
def test_an_init_product_of_the_heads_proves_the_merge(stores):
    found = _reshape(_heads(stores))
    assert found is not None and found.merged == (0, 1)


@pytest.mark.parametrize("stores", [
    # stored twice: which value holds is not told
    "self.inner = num_heads * self.dim_head\nif dim > 4:\n    self.inner = dim\nself.v = nn.Conv2d(dim, self.inner, 1)",
    # the parameter is rebound before the product: it is not `self.num_heads` there
    "num_heads = 2\nself.inner = num_heads * self.dim_head\nself.v = nn.Conv2d(dim, self.inner, 1)",
    # not a product
    "self.inner = dim\nself.v = nn.Conv2d(dim, self.inner, 1)",
    # set outside `__init__`
    "self.v = nn.Conv2d(dim, dim, 1)\nself.setup(dim)",
])
def test_other_stores_tell_nothing(stores):
    source = _heads(stores)
    if "self.setup" in source:
        source += "\n    def setup(self, dim):\n        self.inner = self.num_heads * self.dim_head\n"
    assert _reshape(source) is None


def test_factor_groups_stop_at_a_whole_entry_that_merges_dims_apart():
    # (B * heads, d, HW) after a transpose: `B`, then `heads * d` takes dim 0's inner part and
    # dim 1, apart in memory; the entries after it (H, W of an unknown HW) cannot change that
    dims = (Dim("B*heads", 0), Dim("d", 2), Dim(None, 1))
    assert factor_groups(dims, [0, 1, 2], ["B", "d*heads", "H", "W"]) == [[0], [0, 1]]
    adjacent = (Dim("B*heads", 0), Dim("d", 1), Dim(None, 2))
    assert factor_groups(adjacent, [0, 1, 2], ["B", "d*heads", "H", "W"]) is None


def test_the_merge_copies_in_torch():
    torch = pytest.importorskip("torch")
    B, heads, d, H, W = 2, 3, 4, 5, 6
    v = torch.randn(B * heads, H * W, d).transpose(-1, -2)  # (B * heads, d, HW), d innermost
    out = v.reshape(B, heads * d, H, W)
    assert out.untyped_storage().data_ptr() != v.untyped_storage().data_ptr()
    kept = torch.randn(B * heads, d, H * W)  # contiguous: the same reshape is a view
    assert kept.reshape(B, heads * d, H, W).untyped_storage().data_ptr() == kept.untyped_storage().data_ptr()
