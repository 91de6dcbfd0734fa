"""Name resolution through imports and aliases (the facts layer's first kind)."""

import libcst as cst
import pytest

from torchlint.facts import ModuleFacts
from torchlint.facts.names import canonical


def _resolve(source: str, expression: str):
    module = cst.parse_module(source)
    return ModuleFacts(module).names.qualified_name(cst.parse_expression(expression))


@pytest.mark.parametrize(
    "source,expression,expected",
    [
        ("import torch\n", "torch.utils.data.Dataset", "torch.utils.data.Dataset"),
        ("import torch.utils.data as tud\n", "tud.Dataset", "torch.utils.data.Dataset"),
        ("from torch.utils.data import Dataset as DS\n", "DS", "torch.utils.data.Dataset"),
        ("from torch.utils import data\n", "data.Dataset", "torch.utils.data.Dataset"),
        ("from torch.utils.data.dataset import Dataset\n", "Dataset", "torch.utils.data.Dataset"),
        ("import torch.nn as nn\n", "nn.Linear", "torch.nn.Linear"),
        ("from torch import optim\n", "optim.adam.Adam", "torch.optim.Adam"),
        ("from sklearn.preprocessing._data import StandardScaler\n", "StandardScaler", "sklearn.preprocessing.StandardScaler"),
        ("from torch.utils.data import *\n", "Dataset", "torch.utils.data.Dataset"),
        ("def f():\n    import torch.nn.functional as F\n", "F.relu", "torch.nn.functional.relu"),
        ("try:\n    import torch\nexcept ImportError:\n    torch = None\n", "torch.zeros", "torch.zeros"),
        ("class Dataset:\n    pass\n", "Dataset", None),
        ("", "Dataset", None),
        ("from .local import Dataset\n", "Dataset", ".local.Dataset"),
        ("import torch\n", "torch.utils.data.Dataset[int]", "torch.utils.data.Dataset"),
    ],
)
def test_qualified_names(source, expression, expected):
    assert _resolve(source, expression) == expected


def test_canonical_spellings():
    assert canonical("torch.optim.lr_scheduler.StepLR") == "torch.optim.lr_scheduler.StepLR"
    assert canonical("torch.utils.data.dataloader.DataLoader") == "torch.utils.data.DataLoader"


@pytest.mark.parametrize(
    "annotation,expected",
    [
        ("Optional[pd.DataFrame]", "pd.DataFrame"),
        ("typing.Optional[Optional[np.ndarray]]", "np.ndarray"),
        ("pd.Series | None", "pd.Series"),
        ("None | pd.Series", "pd.Series"),
        ('"Optional[pd.DataFrame]"', "pd.DataFrame"),
        ("Optional[Type[nn.Module]]", "Type[nn.Module]"),
        ("pd.DataFrame", "pd.DataFrame"),
        ("pd.Series | np.ndarray", None),
        ('"not a type ("', None),
    ],
)
def test_unwrap_optional(annotation, expected):
    from torchlint.facts.names import unwrap_optional

    source = "import typing\nfrom typing import Optional, Type\n"
    names = ModuleFacts(cst.parse_module(source)).names
    found = unwrap_optional(cst.parse_expression(annotation), names)
    assert (None if found is None else cst.Module([]).code_for_node(found)) == expected


def test_every_def_of_the_file_is_listed_once_in_source_order():
    source = (
        "def a():\n"
        "    def inner():\n"
        "        pass\n"
        "class C:\n"
        "    if True:\n"
        "        def m(self):\n"
        "            pass\n"
        "    else:\n"
        "        def m(self):\n"
        "            pass\n"
        "try:\n"
        "    def b():\n"
        "        pass\n"
        "finally:\n"
        "    x = lambda: 0\n"
        "match x:\n"
        "    case 1:\n"
        "        def d():\n"
        "            pass\n"
    )
    names = ModuleFacts(cst.parse_module(source)).names
    assert [(d.name.value, d.params.params[0].name.value if d.params.params else "") for d in names.defs] == [
        ("a", ""), ("inner", ""), ("m", "self"), ("m", "self"), ("b", ""), ("d", "")]
    assert len({id(d) for d in names.defs}) == 6
