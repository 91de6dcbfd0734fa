"""Rules of the next wave (TL106, TL107, TL402, ...): their fixes, and behaviour the snippets don't show."""

from __future__ import annotations

import pytest

from torchlint.config import SelectionLayer, load_settings
from torchlint.fixes import fix_bytes
from torchlint.registry import all_rules
from torchlint.rule import Invalid
from torchlint.testing import lint_snippet

CODES = ("TL106", "TL107", "TL402")


def _fixable():
    for rule in all_rules():
        if rule.code in CODES:
            for snippet in rule.INVALID:
                if isinstance(snippet, Invalid) and (snippet.fixed or snippet.unsafe_fixed):
                    yield pytest.param(rule.code, snippet, id=f"{rule.code}-{snippet.source.splitlines()[-1][:40]}")


@pytest.mark.parametrize("code,snippet", list(_fixable()))
def test_fixes_give_the_documented_text(code, snippet):
    settings = load_settings(None, SelectionLayer(select=[code]), isolated=True)
    safe = fix_bytes(snippet.source.encode(), "snippet.py", settings)
    unsafe = fix_bytes(snippet.source.encode(), "snippet.py", settings, unsafe=True)
    if snippet.fixed is not None:
        assert safe.fixed.decode() == snippet.fixed
    else:
        assert safe.fixed.decode() == snippet.source, "an unsafe fix was applied without --unsafe-fixes"
        assert unsafe.fixed.decode() == snippet.unsafe_fixed


def codes(source: str, code: str) -> list[int]:
    return sorted(d.span.start.row for d in lint_snippet(source, select=[code]) if d.code == code)


def test_create_then_move_fix_keeps_a_trailing_comma_valid_and_is_idempotent():
    source = "import torch\nx = torch.zeros(3,).to('cuda')\n"
    settings = load_settings(None, SelectionLayer(select=["TL106"]), isolated=True)
    fixed = fix_bytes(source.encode(), "snippet.py", settings).fixed.decode()
    assert fixed == "import torch\nx = torch.zeros(3, device='cuda')\n"
    assert codes(fixed, "TL106") == []


def test_create_then_move_without_a_fix_when_the_move_also_casts():
    found = lint_snippet("import torch\nx = torch.zeros(3).to(device, torch.float16)\n", select=["TL106"])
    assert [d.code for d in found] == ["TL106"] and found[0].fix is None


@pytest.mark.parametrize("argument", ["x", "torch.float16", "dtype", "y.dtype", "'float32'", "get_dtype()"])
def test_create_then_move_is_silent_when_the_argument_may_not_be_a_device(argument):
    assert codes(f"import torch\nx = torch.zeros(3).to({argument})\n", "TL106") == []


def test_softmax_implicit_dim_has_no_fix_and_follows_star_imports():
    found = lint_snippet("from torch.nn.functional import *\ny = softmax(x)\n", select=["TL107"])
    assert [(d.code, d.fix) for d in found] == [("TL107", None)]


def _modules_of(source: str):
    import libcst as cst

    from torchlint.facts import ModuleFacts
    from torchlint.facts.modules import Modules

    module = cst.parse_module(source)
    facts = ModuleFacts(module)
    return module, facts.get(Modules)


def test_module_classes_are_found_through_aliases_and_same_module_bases():
    from torchlint.facts.modules import Kind

    module, modules = _modules_of(
        "from torch import nn as tnn\nfrom lib import Mixin\n"
        "class A(tnn.Module): pass\nclass B(A): pass\nclass C(Mixin): pass\nclass D: pass\nclass E(D, object): pass\n")
    kinds = {node.name.value: modules.class_kind(node) for node in module.body if hasattr(node, "bases")}
    assert kinds == {"A": Kind.MODULE, "B": Kind.MODULE, "C": Kind.UNKNOWN, "D": Kind.NOT_MODULE, "E": Kind.NOT_MODULE}


@pytest.mark.parametrize("expression,builds", [
    ("nn.Linear(2, 2)", True), ("torch.nn.modules.conv.Conv2d(1, 1, 3)", True), ("Block()", True),
    ("nn.Parameter(w)", False), ("nn.functional.relu(x)", False), ("Plain()", False), ("nn.Linear", False),
    ("nn.utils.spectral_norm(m)", False), ("Other()", False),
])
def test_builds_module(expression, builds):
    module, modules = _modules_of(
        "import torch\nimport torch.nn as nn\nfrom lib import Other\nclass Block(nn.Module): pass\nclass Plain: pass\n"
        f"x = {expression}\n")
    value = module.body[-1].body[0].value
    assert modules.builds_module(value) is builds


def test_unregistered_submodule_without_a_fix_when_torch_nn_is_not_importable_by_name():
    source = ("from torch.nn import Module, Linear\nclass Net(Module):\n    def __init__(self):\n"
              "        super().__init__()\n        self.blocks = [Linear(2, 2)]\n")
    found = lint_snippet(source, select=["TL402"])
    assert [(d.code, d.fix) for d in found] == [("TL402", None)]


@pytest.mark.parametrize("forward,expected", [
    ("return F.softmax(x, 1)", "softmax"), ("return torch.sigmoid(x)", "sigmoid"),
    ("y = x.log_softmax(-1)\n        return y", "log-softmax"), ("return self.act(x)", "softmax"),
    ("return x", None), ("if x:\n            return F.softmax(x, 1)\n        return x", None),
])
def test_forward_output_says_what_every_return_is_normalised_into(forward, expected):
    module, modules = _modules_of(
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nclass Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.act = nn.Softmax(1)\n"
        f"    def forward(self, x):\n        {forward}\n")
    output = modules.forward_output(module.body[-1])
    assert (output.value if output else None) == expected


def test_softmax_before_cross_entropy_follows_module_level_names_and_ignores_rebound_ones():
    head = "import torch.nn as nn\nimport torch.nn.functional as F\ncriterion = nn.CrossEntropyLoss()\n"
    assert codes(head + "p = F.softmax(z, 1)\nloss = criterion(p, y)\n", "TL204") == [5]
    assert codes(head + "p = F.softmax(z, 1)\np = z\nloss = criterion(p, y)\n", "TL204") == []
