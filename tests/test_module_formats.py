"""Layer outputs that keep the input's memory format (pools, upsampling, pads, transposed convs),
activation modules that keep its strides, blocks called from a loop over an `nn.ModuleList`, and
reshape targets that repeat the receiver's own sizes."""

import textwrap

import libcst as cst
import pytest

from torchlint.facts import ModuleFacts
from torchlint.facts.layout import Layouts
from torchlint.facts.shape_modules import FORMAT_KEEPING, RESIZING, RESIZING_1D
from torchlint.facts.tensors import OPAQUE, SHAPE_PRESERVING_MODULES
from conftest import nodes_in_order


def _layout_of_return(source):
    module = cst.parse_module(textwrap.dedent(source))
    returns = nodes_in_order(module, cst.Return)
    return ModuleFacts(module).get(Layouts).of(returns[-1].value)


_POOLED = """
    import torch
    import torch.nn as nn
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.pool = nn.{layer}
        def forward(self, x: torch.Tensor):
            b, c, h, w = x.shape
            return self.pool(x.{op})
"""


@pytest.mark.parametrize("layer", ["AvgPool2d(2)", "MaxPool2d(2)", "AdaptiveAvgPool2d(3)", "Upsample(scale_factor=2)"])
def test_pool_of_a_channels_last_input_has_unknown_layout(layer):
    layout = _layout_of_return(_POOLED.format(layer=layer, op="permute(0, 3, 1, 2)"))
    assert layout.contiguous is None


@pytest.mark.parametrize("layer", ["AvgPool2d(2)", "MaxPool2d(2)", "AdaptiveAvgPool2d(3)", "Upsample(scale_factor=2)"])
def test_pool_of_a_transposed_input_is_contiguous_with_batch_and_channels_kept(layer):
    layout = _layout_of_return(_POOLED.format(layer=layer, op="transpose(2, 3)"))
    assert layout.contiguous is True
    assert [d.rank for d in layout.dims] == [0, 1, 2, 3]
    assert layout.dims[1].size is not None and layout.dims[2].size is None


def test_one_d_pool_and_padding_are_contiguous_only_for_a_contiguous_input():
    for layer in ("AvgPool1d(2)", "ZeroPad2d(1)", "LocalResponseNorm(2)"):
        assert _layout_of_return(_POOLED.format(layer=layer, op="transpose(2, 3)")).contiguous is None
        assert _layout_of_return(_POOLED.format(layer=layer, op="contiguous()")).contiguous is True


def test_activation_module_keeps_the_input_order():
    layout = _layout_of_return(_POOLED.format(layer="ReLU6()", op="transpose(2, 3)"))
    assert [d.rank for d in layout.dims] == [0, 1, 3, 2]


_LOOPED = """
    import torch
    import torch.nn as nn
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = {blocks}
            self.others = nn.ModuleList()
        def forward(self, x):
            for {target} in {iterable}:
                x = block(x)
            return x
"""


@pytest.mark.parametrize("target, iterable", [
    ("block", "self.blocks"),
    ("i, block", "enumerate(self.blocks)"),
    ("i, (block, other)", "enumerate(zip(self.blocks, self.others))"),
])
def test_block_from_a_module_list_is_a_submodule(target, iterable):
    layout = _layout_of_return(_LOOPED.format(blocks="nn.ModuleList()", target=target, iterable=iterable))
    assert layout == OPAQUE


@pytest.mark.parametrize("blocks, target, iterable", [
    ("[lambda t: t.t()]", "block", "self.blocks"),  # a list of functions
    ("nn.ModuleList()", "block, other", "zip(self.blocks)"),  # target does not fit
    ("nn.ModuleList()", "block", "self.blocks[::-1]"),  # not the attribute itself
])
def test_other_loop_callables_stay_unknown(blocks, target, iterable):
    layout = _layout_of_return(_LOOPED.format(blocks=blocks, target=target, iterable=iterable))
    assert layout.contiguous is None


def test_format_tables_name_real_torch_modules():
    nn = pytest.importorskip("torch.nn")
    for qualified in RESIZING | RESIZING_1D | FORMAT_KEEPING | SHAPE_PRESERVING_MODULES:
        assert hasattr(nn, qualified.rsplit(".", 1)[1]), qualified


def _channels_last(y):
    torch = pytest.importorskip("torch")
    formats = {4: torch.channels_last, 5: torch.channels_last_3d}
    return y.dim() in formats and y.is_contiguous(memory_format=formats[y.dim()]) and not y.is_contiguous()


@pytest.mark.parametrize("layer, shape", [
    ("AvgPool2d(2)", (2, 6, 8, 8)), ("MaxPool2d(2)", (2, 6, 8, 8)), ("AdaptiveAvgPool2d(3)", (2, 6, 8, 8)),
    ("AdaptiveMaxPool2d(3)", (2, 6, 8, 8)), ("LPPool2d(2, 2)", (2, 6, 8, 8)), ("Upsample(scale_factor=2)", (2, 6, 8, 8)),
    ("UpsamplingBilinear2d(scale_factor=2)", (2, 6, 8, 8)), ("MaxPool3d(2)", (2, 6, 4, 8, 8)),
    ("Upsample(scale_factor=2)", (2, 6, 4, 8, 8)), ("ConvTranspose2d(6, 4, 3)", (2, 6, 8, 8)),
    ("PixelUnshuffle(2)", (2, 6, 8, 8)), ("ZeroPad2d(1)", (2, 6, 8, 8)), ("ReflectionPad2d(1)", (2, 6, 8, 8)),
    ("LocalResponseNorm(2)", (2, 6, 8, 8)),
])
def test_torch_keeps_channels_last_through_these_layers(layer, shape):
    """The experiment behind RESIZING and FORMAT_KEEPING: a channels-last input gives
    channels-last output (so a contiguous output is never assumed for such an input)."""
    torch = pytest.importorskip("torch")
    formats = {4: torch.channels_last, 5: torch.channels_last_3d}
    x = torch.randn(*shape).to(memory_format=formats[len(shape)])
    assert _channels_last(eval(f"torch.nn.{layer}")(x))


@pytest.mark.parametrize("layer", ["AvgPool2d(2)", "MaxPool2d(2)", "AdaptiveAvgPool2d(3)", "Upsample(scale_factor=2)",
                                   "ConvTranspose2d(6, 4, 1)", "PixelUnshuffle(2)"])
def test_torch_gives_contiguous_output_for_a_transposed_input(layer):
    torch = pytest.importorskip("torch")
    assert eval(f"torch.nn.{layer}")(torch.randn(2, 6, 8, 8).transpose(2, 3)).is_contiguous()


@pytest.mark.parametrize("layer", ["AvgPool1d(2)", "ZeroPad2d(0)", "LocalResponseNorm(2)"])
def test_torch_keeps_a_transposed_input_strides_through_these_layers(layer):
    """Why 1-D pools, pads and LRN are known contiguous only for a contiguous input."""
    torch = pytest.importorskip("torch")
    x = torch.randn(2, 8, 6).transpose(1, 2) if "1d" in layer else torch.randn(2, 6, 8, 4).transpose(2, 3)
    assert not eval(f"torch.nn.{layer}")(x).is_contiguous()


@pytest.mark.parametrize("name", sorted(m.rsplit(".", 1)[1] for m in SHAPE_PRESERVING_MODULES))
def test_torch_activation_modules_keep_a_transposed_input_strides(name):
    torch = pytest.importorskip("torch")
    layer = getattr(torch.nn, name)(*((0.1, 0.0) if name == "Threshold" else ()))
    if name == "Dropout1d":
        inputs = [torch.randn(2, 6, 8).transpose(1, 2)]
    else:
        inputs = [torch.randn(2, 6, 8, 4).transpose(2, 3), torch.randn(2, 6, 8, 4).to(memory_format=torch.channels_last)]
    for x in inputs:
        for training in (True, False):
            layer.train(training)
            assert layer(x).stride() == x.stride()


_CONV = """
    import torch
    import torch.nn as nn
    class M(nn.Module):
        def __init__(self, c: int, d: int):
            super().__init__()
            kernel = (3, 1, 1)
            half = [int(k // 2) for k in kernel]
            self.conv = nn.Conv3d({arguments})
        def forward(self, x: torch.Tensor):
            b, c, f, h, w = x.shape
            return self.conv(x)
"""


def _conv_and_input_sizes(arguments):
    """The sizes of `self.conv(x)` and of `x`, from one parse (size tokens are per parse)."""
    module = cst.parse_module(textwrap.dedent(_CONV.format(arguments=arguments)))
    call = nodes_in_order(module, cst.Return)[-1].value
    layouts = ModuleFacts(module).get(Layouts)
    return [d.size for d in layouts.of(call).dims], [d.size for d in layouts.of(call.args[0].value).dims]


@pytest.mark.parametrize("arguments, kept", [
    ("c, c, kernel, padding=half", True),
    ("c, d, kernel_size=kernel, padding=half", True),
    ("c, c, 3, 1, 1", True),
    ("c, c, 5, padding=4, dilation=2", True),
    ("c, c, 3, padding='same'", True),
    ("c, c, (1, 3, 3), padding=(0, 1, 1)", True),
    ("c, c, kernel", False),                       # no padding: the sizes shrink
    ("c, c, 3, stride=2, padding=1", False),
    ("c, c, kernel, padding=[k // 2 for k in kernel if k > 1]", False),  # not a plain comprehension
    ("c, c, (3, 3), padding=1", False),            # a kernel of the wrong rank
])
def test_conv_keeps_spatial_sizes_only_when_padding_makes_up_for_the_kernel(arguments, kept):
    sizes, x_sizes = _conv_and_input_sizes(arguments)
    assert (sizes[2:] == x_sizes[2:]) is kept


def test_conv_with_equal_channel_counts_keeps_the_input_channels():
    same, x_sizes = _conv_and_input_sizes("c, c, 1")
    assert same[1] == x_sizes[1]
    other, x_sizes = _conv_and_input_sizes("c, d, 1")
    assert other[1] != x_sizes[1]


@pytest.mark.parametrize("kernel, padding, dilation, stride", [
    ((3, 1, 1), (1, 0, 0), 1, 1), (5, 4, 2, 1), ((1, 3, 3), (0, 1, 1), 1, 1), (3, "same", 1, 1),
])
def test_torch_keeps_conv_sizes_when_padding_makes_up_for_the_kernel(kernel, padding, dilation, stride):
    torch = pytest.importorskip("torch")
    conv = torch.nn.Conv3d(2, 2, kernel, stride=stride, padding=padding, dilation=dilation)
    x = torch.randn(1, 2, 5, 6, 7)
    assert conv(x).shape == x.shape
