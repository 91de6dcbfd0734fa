"""Rules of the next wave (TL106, TL107, TL402, ...): their fixes, and behaviour the snippets don't show."""

from __future__ import annotations

import pytest

from torchlint.config import SelectionLayer, load_settings
from torchlint.fixes import fix_bytes
from torchlint.registry import all_rules
from torchlint.rule import Invalid
from torchlint.testing import lint_snippet

CODES = ("TL106", "TL107")


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


@pytest.mark.parametrize("argument", ["x", "torch.float16", "dtype", "y.dtype", "'float32'"])
def test_create_then_move_is_silent_when_the_argument_may_not_be_a_device(argument):
    assert codes(f"import torch\nx = torch.zeros(3).to({argument})\n", "TL106") == []


def test_softmax_implicit_dim_has_no_fix_and_follows_star_imports():
    found = lint_snippet("from torch.nn.functional import *\ny = softmax(x)\n", select=["TL107"])
    assert [(d.code, d.fix) for d in found] == [("TL107", None)]
