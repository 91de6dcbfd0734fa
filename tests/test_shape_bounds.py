"""Crops of a known-size dim that the code bounds (`shape_bounds`), and new shapes written as
sequences (`shape_sizes`). The torch behaviour is pinned by the TL102 fixtures `grid_crops.py`
and `size_sequences.py`, which `torchlint verify` runs."""

import libcst as cst
import pytest

from conftest import nodes_with_source

from torchlint.facts.layout import Layouts
from torchlint.facts.layout_reshape import copying_reshape

CROP = """
import torch

def f(S: int, n: int):
    grid = torch.zeros(S, S, 8)
    {guard}
    return grid[:, :n].reshape(-1, 8)
"""


@pytest.mark.parametrize("guard", [
    "if n > S:\n        raise ValueError(n)",
    "if S < n:\n        raise ValueError(n)",
    "assert n <= S",
    "assert S >= n",
])
def test_a_bounded_crop_cuts_the_dim(guard):
    facts, [call] = nodes_with_source(CROP.format(guard=guard), "grid[:, :n].reshape(-1, 8)", cst.Call)
    found = copying_reshape(facts.get(Layouts), call)
    assert found is not None and found.merged == (0, 1)


@pytest.mark.parametrize("guard", [
    "pass",  # nothing bounds n
    "if n > S:\n        print(n)",  # the guard does not stop
    "if n < S:\n        raise ValueError(n)",  # the other way round
    "assert n >= S",
])
def test_an_unbounded_crop_may_keep_the_dim(guard):
    facts, [call] = nodes_with_source(CROP.format(guard=guard), "grid[:, :n].reshape(-1, 8)", cst.Call)
    assert copying_reshape(facts.get(Layouts), call) is None


def test_a_crop_to_the_dims_own_size_keeps_it_whole():
    source = "import torch\ndef f(S: int):\n    grid = torch.zeros(S, S, 8)\n    return grid[:, :S]\n"
    facts, [node] = nodes_with_source(source, "grid[:, :S]", cst.Subscript)
    layout = facts.get(Layouts).of(node)
    assert layout.contiguous is True and not layout.cuts


def test_a_bounded_crop_takes_its_length_as_size():
    source = "import torch\ndef f(S: int, n: int):\n    grid = torch.zeros(S, S, 8)\n    m = min(n, S)\n    return grid[:, :m]\n"
    facts, [node] = nodes_with_source(source, "grid[:, :m]", cst.Subscript)
    layouts = facts.get(Layouts)
    m = node.slice[1].slice.upper
    assert layouts.of(node).dims[1].size == layouts.size_token(m) is not None


MAX = """
import torch

def f(shapes):
    max_h = max(h for h, w in shapes)
    grid = torch.zeros(4, max_h, 8)
    for {target} in {iterable}:
        y = grid[:, :h].reshape(4 * h, 8)
"""


@pytest.mark.parametrize(("target", "iterable", "bounded"), [
    ("h, w", "shapes", True),
    ("i, (h, w)", "enumerate(shapes)", True),
    ("w, h", "shapes", False),  # h is the other item
    ("h, w", "other", False),  # another sequence
])
def test_a_max_bounds_the_items_of_its_own_sequence(target, iterable, bounded):
    source = MAX.format(target=target, iterable=iterable).replace("def f(shapes)", "def f(shapes, other)")
    facts, [call] = nodes_with_source(source, "grid[:, :h].reshape(4 * h, 8)", cst.Call)
    assert (copying_reshape(facts.get(Layouts), call) is not None) is bounded


def test_a_merge_after_a_crop_of_unknown_memory_order_copies():
    source = """
import torch
def f(t, S: int, n: int):
    if n > S:
        raise ValueError(n)
    grid = torch.from_numpy(t).reshape(S, S, -1)
    grid = grid[:, :n]
    return grid.reshape(-1, grid.shape[-1])
"""
    facts, [call] = nodes_with_source(source, "grid.reshape(-1, grid.shape[-1])", cst.Call)
    found = copying_reshape(facts.get(Layouts), call)
    assert found is not None and found.merged == (0, 1)


@pytest.mark.parametrize(("shape", "sizes"), [
    ("(x.shape[0] * x.shape[2], -1) + x.shape[3:]", 4),
    ("(*x.shape[:2], -1)", 3),
    ("x.shape[:1] + (-1,)", 2),
])
def test_a_new_shape_written_as_a_sequence_has_one_size_per_dim(shape, sizes):
    source = f"import torch\ndef f(x):\n    y = x.permute(0, 2, 1, 3, 4)\n    return y.reshape({shape})\n"
    facts, [call] = nodes_with_source(source, f"y.reshape({shape})", cst.Call)
    tokens = facts.get(Layouts)._target_tokens(call)
    assert tokens is None or len(tokens) == sizes


def test_shape_slices_of_a_permuted_tensor_match_its_dims():
    source = "import torch\ndef f(x):\n    return x.permute(0, 2, 1, 3, 4).reshape((x.shape[0] * x.shape[2], -1) + x.shape[3:])\n"
    facts, [call] = nodes_with_source(source, "x.permute(0, 2, 1, 3, 4).reshape((x.shape[0] * x.shape[2], -1) + x.shape[3:])", cst.Call)
    found = copying_reshape(facts.get(Layouts), call)
    assert found is not None and found.merged == (0, 1)
