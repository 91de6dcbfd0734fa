"""Layouts of memory-format-following ops (cat, pad, interpolate, pooling), unflatten, meshgrid,
loop-counter indexing, and reshapes whose entries take parts of several dims."""

import textwrap

import libcst as cst
import pytest

from torchlint.facts import ModuleFacts
from torchlint.facts.layout import Layouts
from torchlint.facts.layout_formats import not_channels_last
from torchlint.facts.layout_regroup import factor_groups
from torchlint.facts.tensors import Dim, Layout
from conftest import nodes_in_order


def _layout_of_return(source):
    """The layout of the expression returned by the snippet's only function."""
    module = cst.parse_module(textwrap.dedent(source))
    returns = nodes_in_order(module, cst.Return)
    return ModuleFacts(module).get(Layouts).of(returns[-1].value)


def _ranks(layout):
    return [d.rank for d in layout.dims]


@pytest.mark.parametrize("ranks, expected", [
    ((0, 1, 2, 3), True),        # contiguous order
    ((0, 2, 1, 3), True),        # permuted, not N, H, W, C
    ((0, 3, 1, 2), False),       # channels-last
    ((0, 4, 1, 2, 3), False),    # channels-last-3d
    ((0, 2, 3, 4, 1), True),
    ((1, 0, 2), True),           # 3-D: no channels-last format
])
def test_channels_last_is_told_by_the_memory_order(ranks, expected):
    layout = Layout(tensor=True, dims=tuple(Dim(f"s{i}", r) for i, r in enumerate(ranks)), contiguous=False)
    assert not_channels_last(layout) is expected


def test_unknown_order_of_four_dims_may_be_channels_last():
    assert not not_channels_last(Layout(tensor=True, dims=tuple(Dim(None, None) for _ in range(4))))
    assert not_channels_last(Layout(tensor=True, contiguous=True))


def test_pad_of_a_permuted_input_is_contiguous_and_of_channels_last_unknown():
    permuted = _layout_of_return("""
        import torch
        import torch.nn.functional as F
        def f(x: torch.Tensor):
            b, c, h, w = x.shape
            return F.pad(x.permute(0, 2, 1, 3), (0, 1))
    """)
    assert permuted.contiguous is True and _ranks(permuted) == [0, 1, 2, 3]
    channels_last = _layout_of_return("""
        import torch
        import torch.nn.functional as F
        def f(x: torch.Tensor):
            b, h, w, c = x.shape
            return F.pad(x.permute(0, 3, 1, 2), (0, 1))
    """)
    assert channels_last.contiguous is None
    circular = _layout_of_return("""
        import torch
        import torch.nn.functional as F
        def f(x: torch.Tensor):
            b, h, w, c = x.shape
            return F.pad(x.permute(0, 3, 1, 2), (1, 1), mode="circular")
    """)
    assert circular.contiguous is True


def test_pad_judges_each_definition_of_its_input():
    layout = _layout_of_return("""
        import torch
        import torch.nn.functional as F
        def f(x: torch.Tensor, fold: bool):
            b, c, h, w = x.shape
            if fold:
                x = x.permute(0, 2, 1, 3)
            return F.pad(x, (0, 1))
    """)
    assert layout.contiguous is True


def test_cat_is_contiguous_when_one_input_is_not_channels_last():
    one = _layout_of_return("""
        import torch
        def f(x: torch.Tensor):
            b, h, w, c = x.shape
            return torch.cat([x.permute(0, 3, 1, 2), x.permute(0, 3, 1, 2).contiguous()], dim=1)
    """)
    assert one.contiguous is True and one.dims[1].size is None
    none = _layout_of_return("""
        import torch
        def f(x: torch.Tensor):
            b, h, w, c = x.shape
            return torch.cat([x.permute(0, 3, 1, 2), x.permute(0, 3, 1, 2)], dim=1)
    """)
    assert none.contiguous is None


def test_unflatten_splits_a_dim_into_adjacent_ranks():
    layout = _layout_of_return("""
        import torch
        def f(x: torch.Tensor):
            b, c, n = x.shape
            return x.transpose(1, 2).unflatten(1, (2, -1))
    """)
    assert _ranks(layout) == [0, 2, 3, 1] and layout.contiguous is False


def test_meshgrid_outputs_are_broadcast_along_the_other_dims():
    layout = _layout_of_return("""
        import torch
        def f(h, w):
            y, x = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="xy")
            return x
    """)
    assert _ranks(layout) == [0, "E"]  # torch: strides (1, 0) for the second input under "xy"


def test_loop_counter_index_drops_a_dim_and_keeps_contiguity():
    layout = _layout_of_return("""
        import torch
        def f(x: torch.Tensor, n):
            for i in range(n):
                y = x[i]
            return y
    """)
    assert layout.contiguous is True
    unknown = _layout_of_return("""
        import torch
        def f(x: torch.Tensor, idx):
            for i in idx:
                y = x[i]
            return y
    """)
    assert unknown.contiguous is None


def _dims(*specs):
    return tuple(Dim(size, rank) for size, rank in specs)


def test_factor_groups_split_one_dim_across_entries():
    dims = _dims(("B*C*nh", 0), ("nw", 2), ("ph", 1), ("pw", 3))
    assert factor_groups(dims, [0, 1, 2, 3], ["B", "C", "nh*nw", "ph*pw"]) == [[0], [0], [0, 1], [2, 3]]
    # one entry spelled otherwise (`self.patch_area`) takes what the others leave
    assert factor_groups(dims, [0, 1, 2, 3], ["B", "C", "nh*nw", "area"]) == [[0], [0], [0, 1], [2, 3]]
    assert factor_groups(dims, [0, 1, 2, 3], ["B", "area", "nh*nw", "other"]) is None


def test_factor_groups_span_into_a_dim_of_unknown_size_only_to_prove_a_copy():
    cut = _dims(("bs", 0), (None, 1), ("T", 2))
    assert factor_groups(cut, [0, 1], ["bs*heads", "ch"], frozenset({1})) == [[0, 1]]
    assert factor_groups(cut, [0, 1], ["bs*heads", "ch"]) is None  # adjacent: may be a view


def test_pad_and_cat_behaviour_matches_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = torch.randn(2, 3, 5, 6)
    channels_last = torch.randn(2, 5, 6, 3).permute(0, 3, 1, 2)
    assert F.pad(x.permute(0, 2, 1, 3), (0, 1)).is_contiguous()
    assert F.pad(channels_last, (0, 1, 0, 1), mode="replicate").is_contiguous(memory_format=torch.channels_last)
    assert F.pad(channels_last, (1, 1, 1, 1), mode="circular").is_contiguous()
    assert not F.pad(x.transpose(2, 3), (0, 0, 0, 0)).is_contiguous()
    assert torch.cat([channels_last, x], 1).is_contiguous()
    assert not torch.cat([channels_last, channels_last], 1).is_contiguous()
    assert not F.avg_pool1d(torch.randn(2, 8, 3).transpose(1, 2), 2).is_contiguous()
    y, _ = torch.meshgrid(torch.arange(4), torch.arange(3), indexing="ij")
    assert y.stride() == (1, 0)
    split = torch.randn(8, 2, 4, 2).transpose(1, 2)  # (B * C * nh, nw, ph, pw), nw outside ph
    assert split.reshape(2, 2, 8, 4).untyped_storage().data_ptr() != split.untyped_storage().data_ptr()
    dense = torch.randn(8, 4, 2, 2)
    assert dense.reshape(2, 2, 8, 4).untyped_storage().data_ptr() == dense.untyped_storage().data_ptr()


@pytest.mark.parametrize("ranks, expected", [
    ((0, 2, None, 3), True),           # a head slice `q[:, :, :1, :]` of a permuted qkv: d inside h
    ((0, 3, None, 4, 5), True),        # 5-D, the last dim inside dim 1
    ((0, None, 1, 2), False),          # dim 1 of size 1: its stride may make it channels-last
    ((0, 3, 1, None), False),          # last dim of size 1: not told
    ((0, 3, None, 2), False),          # the last dim outside dim 1: may be channels-last
])
def test_a_last_dim_inside_the_channels_is_never_channels_last(ranks, expected):
    layout = Layout(tensor=True, dims=tuple(Dim("1" if r is None else f"s{i}", r) for i, r in enumerate(ranks)),
                    contiguous=False)
    assert not_channels_last(layout) is expected


def test_cat_sizes_outside_dim_come_from_any_input_of_known_dims():
    rope = _layout_of_return("""
        import torch
        def f(x: torch.Tensor, rope):
            B, N, h, d = x.shape
            q = x.transpose(1, 2)
            return torch.cat([q[:, :, :1, :], q[:, :, 1:, :] * rope], dim=2)
    """)
    assert rope.contiguous is True
    assert [d.size is not None for d in rope.dims] == [True, True, False, True]


def test_channels_last_rule_and_cat_sizes_match_torch():
    torch = pytest.importorskip("torch")
    q = torch.randn(2, 5, 3, 2, 4).permute(2, 0, 3, 1, 4).unbind(0)[0]  # (B, h, N, d), memory B, N, h, d
    head = q[:, :, :1, :]
    assert not head.is_contiguous(memory_format=torch.channels_last)
    joined = torch.cat([head, q[:, :, 1:, :] * torch.randn(4, 4)], dim=2)
    assert joined.is_contiguous() and joined.shape == (2, 2, 5, 4)
