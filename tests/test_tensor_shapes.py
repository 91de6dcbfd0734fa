"""The tensor shapes domain on small snippets: module scope, size-1 sources, layer outputs,
elementwise layouts, the top-k helper and torch-only evidence (each behaviour checked in torch)."""

import libcst as cst

from conftest import nodes_with_source

from torchlint.facts.layout import Layouts
from torchlint.facts.layout_reshape import copying_reshape


def _layout(source, code, kind=(cst.Call, cst.Name, cst.Attribute, cst.Subscript, cst.BinaryOperation)):
    """The layout of the last node whose source text is `code`."""
    facts, found = nodes_with_source(source, code, kind)
    return facts.get(Layouts), found[-1]


def _sizes(layout):
    return None if layout.dims is None else [d.size for d in layout.dims]


def test_module_level_names_have_layouts():
    layouts, node = _layout("import torch\nx = torch.randn(2, 3, 4)\ny = x.transpose(1, 2)\n", "x.transpose(1, 2)")
    layout = layouts.of(node)
    assert _sizes(layout) == ["2", "4", "3"] and layout.contiguous is False


def test_module_level_view_of_a_transpose_copies():
    layouts, node = _layout("import torch\nx = torch.randn(2, 3, 4)\nz = x.transpose(1, 2).view(2, 12)\n",
                            "x.transpose(1, 2).view(2, 12)", cst.Call)
    assert copying_reshape(layouts, node) is not None


def test_class_body_names_have_layouts():
    source = "import torch\nclass T:\n    base = torch.zeros(1, 3)\n    tiled = base.repeat(4, 1)\n"
    layouts, node = _layout(source, "base", cst.Name)
    assert _sizes(layouts.of(node)) == ["1", "3"]


def test_one_int_constructor_is_one_dimensional():
    layouts, node = _layout("import torch\ndef f():\n    return torch.zeros(3)\n", "torch.zeros(3)")
    assert _sizes(layouts.of(node)) == ["3"]


def test_constructor_with_a_shape_variable_has_unknown_ndim():
    layouts, node = _layout("import torch\ndef f(shape):\n    return torch.zeros(shape)\n", "torch.zeros(shape)")
    assert layouts.of(node).dims is None


def test_nested_number_literal_gives_exact_dims():
    layouts, node = _layout("import torch\ndef f():\n    return torch.tensor([[1.0, 2.0]])\n", "torch.tensor([[1.0, 2.0]])")
    assert _sizes(layouts.of(node)) == ["1", "2"]


def test_nested_literal_of_names_gives_the_size_one_prefix():
    layouts, node = _layout("import torch\ndef f(a, b):\n    return torch.tensor([[a, b]])\n", "torch.tensor([[a, b]])")
    layout = layouts.of(node)
    assert layout.dims is None and layout.one_left(0) is not None and layout.one_left(1) is None


def test_topk_then_t_is_two_dimensional_and_transposed():
    source = """
    import torch
    def f(output, target, k):
        _, pred = output.topk(5, 1, True, True)
        pred = pred.t()
        correct = pred.eq(target.view(1, -1).expand_as(pred))
        return correct[:k].view(-1)
    """
    layouts, node = _layout(source, "correct[:k].view(-1)", cst.Call)
    assert copying_reshape(layouts, node) is not None


def test_topk_with_its_default_dim_is_the_last_dim():
    # a `cst.Integer("-1")` default once crashed every rule that asked (CSTValidationError)
    source = "import torch\nscores = torch.randn(4, 6)\nvalues, indices = scores.topk(3, largest=True)\nindices\n"
    layouts, node = _layout(source, "indices", cst.Name)
    assert _sizes(layouts.of(node)) == ["4", "3"]


def test_contiguous_before_eq_keeps_the_row_slice_viewable():
    source = """
    import torch
    def f(output, target, k):
        _, pred = output.topk(5, 1, True, True)
        correct = pred.t().contiguous().eq(target.view(1, -1))
        return correct[:k].view(-1)
    """
    layouts, node = _layout(source, "correct[:k].view(-1)", cst.Call)
    assert copying_reshape(layouts, node) is None


def test_elementwise_result_takes_the_first_operands_layout():
    source = "import torch\ndef f():\n    a = torch.randn(5, 8).t()\n    b = torch.randn(8, 5)\n    return b + a, a + b\n"
    layouts, first_b = _layout(source, "b + a")
    assert layouts.of(first_b).contiguous is True and _sizes(layouts.of(first_b)) == ["8", "5"]
    layouts, first_a = _layout(source, "a + b")
    assert layouts.of(first_a).contiguous is False


def test_broadcast_by_the_second_operand_is_not_judged():
    source = "import torch\ndef f(c):\n    a = torch.randn(1, 8)\n    b = torch.randn(5, 8)\n    return a + b\n"
    layouts, node = _layout(source, "a + b")
    assert layouts.of(node).dims is None


def test_linear_output_replaces_the_last_size_with_out_features():
    source = """
    import torch
    import torch.nn as nn
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 6)
        def forward(self, x):
            B, N, C = x.shape
            return self.fc(x.transpose(1, 2))
    """
    layouts, node = _layout(source, "self.fc(x.transpose(1, 2))", cst.Call)
    layout = layouts.of(node)
    assert layout.contiguous is True and len(layout.dims) == 3 and layout.dims[-1].size == "6"


def test_embedding_output_appends_embedding_dim():
    source = """
    import torch
    import torch.nn as nn
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(10, 4)
        def forward(self, n):
            return self.embed(torch.arange(n))
    """
    layouts, node = _layout(source, "self.embed(torch.arange(n))", cst.Call)
    assert _sizes(layouts.of(node))[1:] == ["4"]


def test_sdpa_output_layout_is_unknown():
    source = """
    import torch
    import torch.nn.functional as F
    def f(q, k, v):
        return F.scaled_dot_product_attention(q, k, v)
    """
    layouts, node = _layout(source, "F.scaled_dot_product_attention(q, k, v)", cst.Call)
    assert layouts.of(node).contiguous is None


def test_torch_only_method_makes_an_untyped_parameter_a_tensor():
    layouts, node = _layout("import torch\ndef f(x):\n    y = x.unsqueeze(1)\n    return x\n", "x", cst.Name)
    assert layouts.of(node).tensor is True


def test_dim_keyword_is_evidence_and_axis_is_not():
    layouts, node = _layout("import torch\ndef f(x):\n    s = x.sum(dim=0)\n    return x\n", "x", cst.Name)
    assert layouts.of(node).tensor is True
    layouts, node = _layout("import torch\ndef f(x):\n    s = x.sum(axis=0)\n    return x\n", "x", cst.Name)
    assert layouts.of(node).tensor is None


def test_reshape_and_transpose_alone_are_no_evidence():
    source = "import torch\ndef f(x):\n    y = x.reshape(2, -1)\n    z = x.transpose(1, 0)\n    return x\n"
    layouts, node = _layout(source, "x", cst.Name)
    assert layouts.of(node).tensor is None


def test_evidence_needs_a_module_that_imports_torch():
    layouts, node = _layout("import numpy as np\ndef f(x):\n    y = x.unsqueeze(1)\n    return x\n", "x", cst.Name)
    assert layouts.of(node).tensor is None


def test_repeat_result_sizes():
    source = "import torch\ndef f(n):\n    return torch.zeros(1, 3).repeat(n, 1, 2)\n"
    layouts, node = _layout(source, "torch.zeros(1, 3).repeat(n, 1, 2)", cst.Call)
    sizes = _sizes(layouts.of(node))
    assert sizes[0] == layouts.size_token(node.args[0].value) and sizes[1:] == ["1", "2*3"]
