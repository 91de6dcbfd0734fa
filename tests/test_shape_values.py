"""Values from same-module helpers (evaluated in a frame per call), unary operators, and the
number of dims told by a later `torch.cat` (each behaviour checked in torch)."""

import libcst as cst

from conftest import nodes_in_order, nodes_with_source

from torchlint.facts.layout import Layouts
from torchlint.facts.layout_reshape import copying_reshape
from torchlint.facts.shape_uses import concatenated_with_source


def _found(source, code, kind=(cst.Call, cst.Name, cst.Attribute, cst.Subscript, cst.UnaryOperation)):
    return nodes_with_source(source, code, kind)


def _sizes(layout):
    return None if layout is None or layout.dims is None else [d.size for d in layout.dims]


HELPER = """
import torch

def add_batch_dim(t):
    return t.unsqueeze(0)

def f():
    a = add_batch_dim(torch.zeros(2, 3))
    b = add_batch_dim(torch.zeros(4))
    return a, b
"""


def test_helper_return_is_evaluated_with_the_callers_argument():
    facts, nodes = _found(HELPER, "add_batch_dim(torch.zeros(2, 3))")
    assert _sizes(facts.get(Layouts).of(nodes[0])) == ["1", "2", "3"]


def test_each_call_of_a_helper_has_its_own_frame():
    facts, nodes = _found(HELPER, "add_batch_dim(torch.zeros(4))")
    assert _sizes(facts.get(Layouts).of(nodes[0])) == ["1", "4"]


def test_helper_sizes_from_shape_unpacking_are_the_callers():
    source = """
    import torch

    def partition(x, ws: int):
        B, H, W, C = x.shape
        return x.view(B, H // ws, ws, W // ws, ws, C).permute(0, 1, 3, 2, 4, 5)

    def f(n):
        x = torch.randn(n, 8, 8, 3)
        return partition(x, 4).reshape(-1, 4 * 4, 3)
    """
    facts, nodes = _found(source, "partition(x, 4).reshape(-1, 4 * 4, 3)", cst.Call)
    layouts = facts.get(Layouts)
    inner = layouts.of(nodes[0].func.value)
    assert _sizes(inner)[0] == layouts.of(nodes[0].func.value.args[0].value).dims[0].size
    assert inner.contiguous is False
    assert copying_reshape(layouts, nodes[0]) is not None


def test_helper_locals_get_a_key_per_call():
    source = """
    import torch

    def make(n):
        k = n.bit_length()
        return torch.zeros(k, 3)

    def f(a, b):
        return make(a), make(b)
    """
    facts, calls = _found(source, "make(a)", cst.Call)
    returned = calls[0]
    second = next(n for n in _nodes(facts.module) if isinstance(n, cst.Call) and facts.module.code_for_node(n) == "make(b)")
    first, other = facts.get(Layouts).of(returned), facts.get(Layouts).of(second)
    assert first.dims[0].size is not None and first.dims[0].size != other.dims[0].size
    assert first.dims[1].size == other.dims[1].size == "3"


def _nodes(module):
    return nodes_in_order(module)


def test_recursive_helper_is_unknown():
    source = "import torch\ndef f(x):\n    return f(x.unsqueeze(0))\ndef g():\n    return f(torch.zeros(2))\n"
    facts, nodes = _found(source, "f(torch.zeros(2))", cst.Call)
    assert facts.get(Layouts).of(nodes[0]).dims is None


def test_helper_returning_a_list_is_not_known_to_be_no_tensor():
    source = "import torch\ndef make():\n    out = []\n    return out\ndef g():\n    return make()[0]\n"
    facts, nodes = _found(source, "make()", cst.Call)
    assert facts.get(Layouts).of(nodes[0]) is not None


def test_negative_number_is_a_number_and_scaling_keeps_sizes():
    source = "import torch\ndef f(width: int):\n    scale = width ** -0.5\n    return torch.randn(1, 3) * scale\n"
    facts, nodes = _found(source, "torch.randn(1, 3) * scale", cst.BinaryOperation)
    assert _sizes(facts.get(Layouts).of(nodes[0])) == ["1", "3"]


def test_negation_keeps_the_memory_order():
    source = "import torch\ndef f():\n    return -torch.randn(3, 4).t()\n"
    facts, nodes = _found(source, "-torch.randn(3, 4).t()")
    layout = facts.get(Layouts).of(nodes[0])
    assert _sizes(layout) == ["4", "3"] and layout.contiguous is False


CAT = """
import torch

def f(x, y, n):
    last = x[:, -1:]
    last = last.repeat(1, n, 1, 1)
    out = torch.cat([x, last], dim=1)
    other = x[:, -1:].repeat(1, n, 1, 1)
    return out, torch.cat([y, other], dim=1)
"""


def test_cat_with_the_sliced_source_tells_the_ndim():
    facts, nodes = _found(CAT, "last.repeat(1, n, 1, 1)", cst.Call)
    found = concatenated_with_source(facts, nodes[0])
    assert found is not None and facts.module.code_for_node(found.source) == "x"


def test_cat_with_another_tensor_tells_nothing():
    facts, nodes = _found(CAT, "x[:, -1:].repeat(1, n, 1, 1)", cst.Call)
    assert concatenated_with_source(facts, nodes[0]) is None


LAYERS = """
import torch
import torch.nn as nn

class Net(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.conv = nn.Conv2d(dim, 8, 3, padding=1)
        self.point = nn.Conv2d(dim, 8, 1)
        self.norm = nn.BatchNorm2d(dim)

    def forward(self, x, y):
        B, C, H, W = x.shape
        N, P, Q, D = y.shape
        a = self.conv(x.transpose(2, 3))
        b = self.point(x)
        c = self.norm(y.permute(0, 3, 1, 2))
        d = self.norm(x.transpose(2, 3))
        return a, b, c, d
"""


def _layout_of(source, code):
    facts, nodes = _found(source, code, cst.Call)
    return facts.get(Layouts).of(nodes[0])


def test_conv_output_keeps_ndim_and_batch_and_is_contiguous():
    facts, nodes = _found(LAYERS, "self.conv(x.transpose(2, 3))", cst.Call)
    layout = facts.get(Layouts).of(nodes[0])
    batch = facts.get(Layouts).of(nodes[0].args[0].value).dims[0].size
    assert layout.contiguous is True and layout.ndim == 4
    sizes = _sizes(layout)
    assert sizes[0] == batch and sizes[1] == "8"
    # a 3x3 conv with padding 1 keeps the spatial sizes: the transposed input's (a conv whose
    # padding does not make up for its kernel names them per call: tests/test_module_formats.py)
    assert sizes[2:] == _sizes(facts.get(Layouts).of(nodes[0].args[0].value))[2:]


def test_pointwise_conv_keeps_spatial_sizes():
    sizes = _sizes(_layout_of(LAYERS, "self.point(x)"))
    assert sizes[1] == "8" and None not in sizes


def test_norm_of_a_channels_last_input_is_not_known_contiguous():
    layout = _layout_of(LAYERS, "self.norm(y.permute(0, 3, 1, 2))")
    assert layout.ndim == 4 and layout.contiguous is None


def test_norm_of_a_transposed_input_is_contiguous():
    layout = _layout_of(LAYERS, "self.norm(x.transpose(2, 3))")
    assert layout.contiguous is True and layout.ndim == 4


HANDED = """
import torch
import torch.nn.functional as F

class Blur:
    def __init__(self, c):
        kernel = torch.ones(1, 1, 3, 3).repeat(c, 1, 1, 1)
        self.kernel = kernel.to("cpu")

    def __call__(self, x):
        return F.conv2d(x, self.kernel, groups=x.shape[1])

def direct(x, c):
    return F.conv2d(x, torch.ones(1, 1, 3, 3).repeat(c, 1, 1, 1))

def displayed(logits, matcher):
    return matcher({"pred_logits": logits.unsqueeze(0).repeat(2, 1, 1)})

def read(logits):
    return (logits.unsqueeze(0).repeat(2, 1, 1) + 1, torch.cat([logits.unsqueeze(0).repeat(3, 1, 1)]))
"""


def _handed(code):
    from torchlint.facts.shape_uses import HandedOn, handed_on

    facts, nodes = _found(HANDED, code, cst.Call)
    found = handed_on(facts, nodes[0])
    return None if found is None else found.how, HandedOn


def test_repeat_kept_as_a_conv_weight_of_the_class_is_handed_on():
    how, kinds = _handed("torch.ones(1, 1, 3, 3).repeat(c, 1, 1, 1)")
    assert how is kinds.CONV_WEIGHT


def test_repeat_in_a_display_passed_to_an_unseen_call_is_handed_on():
    how, kinds = _handed('logits.unsqueeze(0).repeat(2, 1, 1)')
    assert how is kinds.IN_DISPLAY


def test_repeat_read_by_torch_functions_is_not_handed_on():
    how, _ = _handed("logits.unsqueeze(0).repeat(3, 1, 1)")
    assert how is None


FACTORY = """
import torch
import torch.nn as nn

class Net(nn.Module):
    def __init__(self, dim: int, device=None, dtype=None, **kwargs):
        super().__init__()
        dd = {'device': device, 'dtype': dtype}
        same = dict(device=device, dtype=dtype)
        moved = {'device': device, 'dtype': dtype}
        moved['stride'] = 2
        self.placed = nn.Conv2d(dim, 8, 1, **dd)
        self.called = nn.Conv2d(dim, 8, 1, bias=False, **same)
        self.strided = nn.Conv2d(dim, 8, 1, **moved)
        self.other = nn.Conv2d(dim, 8, 1, **kwargs)

    def forward(self, x):
        B, C, H, W = x.shape
        return self.placed(x), self.called(x), self.strided(x), self.other(x)
"""


def _spatial_kept(code):
    facts, nodes = _found(FACTORY, code, cst.Call)
    layouts = facts.get(Layouts)
    source = layouts.of(nodes[0].args[0].value)
    return _sizes(layouts.of(nodes[0]))[2:] == _sizes(source)[2:]


def test_device_and_dtype_keywords_keep_a_pointwise_conv_pointwise():
    # nn.Conv2d(4, 8, 1, device="cpu", dtype=torch.float64)(torch.randn(2, 4, 5, 6)).shape[2:] == (5, 6)
    assert _spatial_kept("self.placed(x)") and _spatial_kept("self.called(x)")


def test_other_unpacked_keywords_may_change_the_sizes():
    # a dict written after it is made, and `**kwargs` of unknown keys, may hold a stride
    assert not _spatial_kept("self.strided(x)") and not _spatial_kept("self.other(x)")


JOINED = """
import torch

def f(a, b, d):
    one = torch.cat([a, b], dim=1)
    last = torch.cat([a, b], dim=-1)
    some = torch.cat([a, b], d)
    stacked = torch.stack([a, b], 2)
    grown = torch.cat([a, b], 1).unsqueeze(1)
    return one, last, some, stacked, grown
"""


def test_cat_and_stack_with_a_dim_bound_the_number_of_dims():
    # torch.cat([torch.zeros(3), torch.zeros(3)], dim=1) raises "Dimension out of range"
    found = {}
    for code in ("torch.cat([a, b], dim=1)", "torch.cat([a, b], dim=-1)", "torch.cat([a, b], d)",
                 "torch.stack([a, b], 2)", "torch.cat([a, b], 1).unsqueeze(1)"):
        facts, nodes = _found(JOINED, code, cst.Call)
        layout = facts.get(Layouts).of(nodes[0])
        found[code] = (layout.dims, layout.at_least)
    assert found["torch.cat([a, b], dim=1)"] == (None, 2)
    assert found["torch.cat([a, b], dim=-1)"] == (None, 1)
    assert found["torch.cat([a, b], d)"] == (None, 0)
    assert found["torch.stack([a, b], 2)"] == (None, 3)
    assert found["torch.cat([a, b], 1).unsqueeze(1)"] == (None, 3)  # unsqueeze adds one


CONCATENATED = """
import torch

def f(x: torch.Tensor, y, n, m):
    padded = torch.cat([x, x.new_zeros(n)], dim=-1)
    unknown = torch.cat([y.contiguous(memory_format=m), y.transpose(1, 2)], dim=1)
    stacked = torch.stack([x, x], dim=1)
    return padded, unknown, stacked
"""


def test_cat_with_a_contiguous_tensor_is_contiguous():
    # cat allocates in the inputs' common memory format, contiguous when they differ:
    # torch.cat([contiguous, channels_last], 1).is_contiguous() is True
    assert _layout_of(CONCATENATED, "torch.cat([x, x.new_zeros(n)], dim=-1)").contiguous is True


def test_cat_of_unknown_layouts_and_stack_are_not_known_contiguous():
    # torch.cat([cl, cl], 1) and torch.stack([cl, cl], 1) of channels-last tensors are not contiguous;
    # a format chosen at run time and a transpose of unknown ndim may both be channels-last
    assert _layout_of(CONCATENATED, "torch.cat([y.contiguous(memory_format=m), y.transpose(1, 2)], dim=1)").contiguous is None
    assert _layout_of(CONCATENATED, "torch.stack([x, x], dim=1)").contiguous is None


CONFIGURED = """
import torch.nn as nn

def pack(x, patch_size: int = 1, size=(1, 2), other=2):
    return x.reshape(patch_size, size[0], size[1], other)

class Block(nn.Module):
    def __init__(self, patch_size_t=1, patch=(1, 2, 2), width=4):
        super().__init__()
        self.patch_size_t = patch_size_t
        self.patch = patch
        self.width = width
"""


def test_sizes_with_a_default_of_one_may_be_one():
    from torchlint.facts.shape_configured import ConfiguredOnes

    facts, nodes = _found(CONFIGURED, "x.reshape(patch_size, size[0], size[1], other)", cst.Call)
    configured = facts.get(ConfiguredOnes)
    ones = configured.tokens_at(nodes[0])
    target = facts.get(Layouts)._target_tokens(nodes[0])
    assert [t in ones for t in target] == [True, True, False, False]
    assert not {"self.patch_size_t", "self.patch[0]"} & ones  # outside the class
    facts, inside = _found(CONFIGURED, "self.width", cst.Attribute)
    ones = facts.get(ConfiguredOnes).tokens_at(inside[0])
    assert {"self.patch_size_t", "self.patch[0]", "self.config.patch_size_t"} <= ones
    assert not {"self.width", "self.patch[1]"} & ones
