"""Unit tests of the dataflow and tensor-layout facts, on small parsed snippets."""

import textwrap

import libcst as cst
import pytest

from torchlint.facts import ModuleFacts
from torchlint.facts.dataflow import Dataflow
from torchlint.facts.statements import walk_nodes
from torchlint.facts.layout import Layouts
from torchlint.facts.layout_reshape import copying_reshape
from torchlint.facts.tensors import Shows
from conftest import nodes_in_order


def _facts(source):
    module = cst.parse_module(textwrap.dedent(source))
    return module, ModuleFacts(module)


def _find(module, code, kind=None):
    """The first node whose source text is `code` (and of the given type)."""
    found = nodes_in_order(module, kind or object, lambda node: module.code_for_node(node) == code)
    assert found, f"no node {code!r}"
    return found[0]


def _layout(source, code):
    module, facts = _facts(source)
    return facts.get(Layouts).of(_find(module, code, (cst.Call, cst.Name, cst.Attribute, cst.Subscript))), module, facts


# --- dataflow ---------------------------------------------------------------------------------


def _flow(source, function="f"):
    module, facts = _facts(source)
    dataflow = facts.get(Dataflow)
    node = next(s for s in module.body if isinstance(s, cst.FunctionDef) and s.name.value == function)
    return dataflow.function_of(node), dataflow, module


def test_last_binding_reaches_a_load():
    flow, _, module = _flow("""
        def f(x):
            y = x + 1
            y = y * 2
            return y
    """)
    ret = module.body[0].body.body[-1].body[0]
    binding = flow.binding_at(ret.value)
    assert binding is not None and module.code_for_node(binding.value) == "y * 2"


def test_branches_merge_conservatively():
    flow, _, module = _flow("""
        def f(x, c):
            y = x
            if c:
                y = x + 1
            return y
    """)
    ret = module.body[0].body.body[-1].body[0]
    assert len(flow.bindings_at(ret.value)) == 2
    assert flow.binding_at(ret.value) is None


def test_loop_carried_binding_reaches_top_of_loop():
    flow, _, module = _flow("""
        def f(x):
            y = x
            for _ in range(3):
                z = y
                y = z + 1
            return y
    """)
    loop = module.body[0].body.body[1]
    z_assign = loop.body.body[0].body[0]
    assert len(flow.bindings_at(z_assign.value)) == 2


def test_writes_through_aliases_and_local_functions():
    flow, _, _ = _flow("""
        def fill(t):
            t[0] = 1

        def f(x):
            y = x.clone()
            z = y.t()
            z.add_(1)
            fill(y)
            torch.add(x, 1, out=y)
            y += 1
            return y
    """)
    y = flow.bindings_of("y")[0]
    hows = sorted((w.how.name, w.name) for w in flow.writes(y))
    assert hows == [("AUGMENTED", ""), ("FUNCTION", "fill"), ("METHOD", "add_"), ("OUT", "")]


def test_method_argument_is_not_written():
    flow, _, _ = _flow("""
        def f(w, s):
            e = s.view(1, -1).expand_as(w)
            w.mul_(e)
            return w
    """)
    e = flow.bindings_of("e")[0]
    assert flow.writes(e) == []


def test_escapes():
    flow, _, _ = _flow("""
        def f(self, x):
            y = x + 1
            self.keep = y
            g(y)
            return y
    """)
    y = flow.bindings_of("y")[0]
    reasons = sorted(e.away.name for e in flow.escapes(y))
    assert reasons == ["PASSED", "RETURNED", "STORED"]


def test_comprehension_targets_are_not_uses():
    flow, _, _ = _flow("""
        def f(x):
            y = x
            return [y for y in range(3)]
    """)
    y = flow.bindings_of("y")[0]
    assert flow.uses(y) == []


# --- layout -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source,code,ones",
    [
        ("import torch\ndef f(x):\n    return x.unsqueeze(-1)\n", "x.unsqueeze(-1)", {"right": 0}),
        ("import torch\ndef f(x):\n    return x.unsqueeze(0)\n", "x.unsqueeze(0)", {"left": 0}),
        ("import torch\ndef f(x: torch.Tensor):\n    return x[..., None]\n", "x[..., None]", {"right": 0}),
        ("import torch\ndef f(x: torch.Tensor):\n    return x[:, None]\n", "x[:, None]", {"left": 1}),
        ("import torch\ndef f(x):\n    return x.sum(dim=-1, keepdim=True)\n", "x.sum(dim=-1, keepdim=True)", {"right": 0}),
    ],
)
def test_size_one_dims_without_ndim(source, code, ones):
    layout, _, _ = _layout(source, code)
    assert layout.tensor and layout.ndim is None
    if "right" in ones:
        assert layout.one_right(ones["right"]) is not None
    if "left" in ones:
        assert layout.one_left(ones["left"]) is not None


def test_constructor_and_parameter_in_init():
    source = """
        import torch
        import torch.nn as nn

        class M(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.tok = nn.Parameter(torch.zeros(1, 1, d))

            def forward(self, x):
                return self.tok
    """
    layout, _, _ = _layout(source, "self.tok")
    assert layout.ndim == 3 and [d.size for d in layout.dims][:2] == ["1", "1"]
    note = layout.dims[0].note
    assert (note.reason, note.name, note.dim) == (Shows.SIZE_ONE_BY, "torch.zeros(1, 1, d)", 0)


def test_symbolic_sizes_and_permute_view_compatible():
    source = """
        import torch
        def f(x):
            B, C, H, W = x.shape
            return x.permute(0, 2, 3, 1).reshape(B, H * W, C)
    """
    module, facts = _facts(source)
    call = _find(module, "x.permute(0, 2, 3, 1).reshape(B, H * W, C)", cst.Call)
    layouts = facts.get(Layouts)
    receiver = layouts.of(call.func.value)
    assert receiver.contiguous is False and receiver.ndim == 4
    assert copying_reshape(layouts, call) is None  # merging H and W stays a view


def test_transpose_then_merge_copies():
    source = """
        import torch
        def f(x):
            B, N, C = x.shape
            return x.transpose(1, 2).reshape(B, -1)
    """
    module, facts = _facts(source)
    call = _find(module, "x.transpose(1, 2).reshape(B, -1)", cst.Call)
    found = copying_reshape(facts.get(Layouts), call)
    assert found is not None and found.merged == (1, 2)
    cause = found.cause
    assert (cause.reason, cause.name) == (Shows.NONCONTIGUOUS_BY, "transpose(1, 2)")
    assert cause.node is call.func.value


def test_contiguous_resets_and_softmax_is_fresh():
    source = """
        import torch
        def f(x):
            a = x.transpose(1, 2).contiguous()
            b = x.transpose(1, 2).softmax(-1)
            c = x.transpose(1, 2) * 2
            return a, b, c
    """
    module, facts = _facts(source)
    layouts = facts.get(Layouts)
    assert layouts.of(_find(module, "x.transpose(1, 2).contiguous()", cst.Call)).contiguous is True
    assert layouts.of(_find(module, "x.transpose(1, 2).softmax(-1)", cst.Call)).contiguous is True
    # elementwise ops keep the input's memory order (TensorIterator)
    assert layouts.of(_find(module, "x.transpose(1, 2) * 2", cst.BinaryOperation)).contiguous is False


def test_expand_marks_stride_zero_dims():
    layout, _, _ = _layout("import torch\ndef f(x, n):\n    return x.unsqueeze(0).expand(n, -1)\n", "x.unsqueeze(0).expand(n, -1)")
    assert layout.expanded is not None
    layout, _, _ = _layout("import torch\ndef f(x, n):\n    return x.expand(n, -1)\n", "x.expand(n, -1)")
    assert layout.expanded is None  # dim 0 of x is not known to be 1


@pytest.mark.parametrize(
    "source,code",
    [
        ("import numpy as np\ndef f():\n    a = np.zeros((1, 3))\n    return a\n", "a"),
        ("import numpy as np\ndef f(a: np.ndarray):\n    return a\n", "a"),
        ("import pandas as pd\ndef f():\n    return pd.Series([1]).values\n", "pd.Series([1]).values"),
    ],
)
def test_non_tensors(source, code):
    module, facts = _facts(source)
    node = _find(module, code, (cst.Name, cst.Attribute))
    if isinstance(node, cst.Name):
        node = [n for n in _all(module, cst.Name) if n.value == code][-1]
    layout = facts.get(Layouts).of(node)
    assert layout is None or not layout.tensor


def _all(module, kind):
    return nodes_in_order(module, kind)


def test_sizes_through_matmul_and_unbind():
    source = """
        import torch
        import torch.nn as nn

        class A(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.qkv = nn.Linear(d, 3 * d)
                self.drop = nn.Dropout(0.1)

            def forward(self, x):
                B, N, C = x.shape
                q, k, v = self.qkv(x).reshape(B, N, 3, 2, C // 2).permute(2, 0, 3, 1, 4).unbind(0)
                attn = self.drop((q @ k.transpose(-2, -1)).softmax(dim=-1))
                return (attn @ v).transpose(1, 2)
    """
    layout, _, _ = _layout(source, "(attn @ v).transpose(1, 2)")
    assert layout.ndim == 4 and layout.contiguous is False
    assert [d.rank for d in layout.dims] == [0, 2, 1, 3]


def _fate_of_repeat(source: str):
    from torchlint.facts.fate import fate_of

    module, facts = _facts(source)
    call = next(n for n in walk_nodes(module) if isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute)
                and n.func.attr.value == "repeat")
    return fate_of(call, facts.get(Dataflow), facts)


@pytest.mark.parametrize(
    "body,fate,away",
    [
        ("y = x.repeat(1, 4)\n    return y.sum()", "READ_ONLY", None),
        ("y = x.repeat(1, 4)\n    return y", "ESCAPES", "RETURNED"),
        ("y = x.repeat(1, 4)\n    y.add_(1)\n    return y.sum()", "WRITTEN", None),
        ("y = x.repeat(1, 4)\n    return y.view(-1)", "VIEWED", None),
        ("self.w = nn.Parameter(x.repeat(1, 4))", "STATE", None),
        ("self.w = x.repeat(1, 4)", "ESCAPES", "ON_SELF"),
        ("for y in x.repeat(1, 4):\n        pass", "UNKNOWN", None),
    ],
)
def test_fate_of_a_value(body, fate, away):
    source = f"import torch\nimport torch.nn as nn\nclass M(nn.Module):\n  def f(self, x):\n    {body}\n"
    fated = _fate_of_repeat(source)
    assert fated.fate.name == fate
    assert (fated.escape.away.name if fated.escape is not None else None) == away


def test_join_keeps_what_every_definition_agrees_on():
    module, facts = _facts("""
        import torch
        def f(x, flag):
            B, C, H, W = x.shape
            if flag:
                y = x.transpose(1, 2)
            else:
                y = x.transpose(2, 3)
            return y
    """)
    returned = module.body[1].body.body[-1].body[0].value
    layout = facts.get(Layouts).of(returned)
    # both are 4-D, non-contiguous, with B first; the dims the transposes moved are unknown
    assert layout.ndim == 4 and layout.contiguous is False
    assert layout.dims[0].size is not None and layout.dims[1].size is None
    assert all(d.rank is None for d in layout.dims)


def test_paths_of_judges_each_definition_in_source_order():
    source = """
        import torch
        def f(x, flag):
            B, N, C = x.shape
            if flag:
                y = x.transpose(1, 2)
            else:
                y = x
            return y.reshape(B, -1)
    """
    module, facts = _facts(source)
    call = _find(module, "y.reshape(B, -1)", cst.Call)
    layouts = facts.get(Layouts)
    paths = layouts.paths_of(call.func.value)
    assert [module.code_for_node(b.value) for b, _ in paths] == ["x.transpose(1, 2)", "x"]
    assert [layout.contiguous for _, layout in paths] == [False, True]
    found = copying_reshape(layouts, call, paths=True)
    assert found is not None and module.code_for_node(found.when.value) == "x.transpose(1, 2)"
    assert copying_reshape(layouts, call) is None  # without paths: no answer
