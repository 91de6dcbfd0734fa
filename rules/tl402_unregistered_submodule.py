from __future__ import annotations

from torchlint._lazy import lazy_module
from torchlint.diagnostics import Applicability, Severity
from torchlint.facts.modules import Kind, Modules
from torchlint.facts.program import Program
from torchlint.facts.statements import body_of, iter_statements, small_statements, walk_nodes
from torchlint.rule import FixSpec, Invalid, NodeNote, Rule

cst = lazy_module("libcst")

# Calls in the class that register modules some other way: the plain container may be deliberate.
REGISTERING_CALLS = frozenset({"add_module", "register_module", "setattr"})


class UnregisteredSubmodule(Rule):
    """## What it does
    Reports, in the `__init__` of an `nn.Module` subclass, an attribute set to a plain `list`,
    `dict` or `tuple` display or comprehension holding modules it builds:
    `self.blocks = [nn.Linear(d, d) for _ in range(n)]`. A class counts as a module when it derives
    from `torch.nn.Module` (or a Lightning module) through imports, aliases and classes of the same
    module; an element counts when it constructs a `torch.nn` module or a same-module module class.

    Silent for containers of functions or other objects (`[F.relu, torch.tanh]`), for an existing
    module put in a list on purpose (`self.teacher = [teacher]` hides it from `parameters()`), when
    the class registers modules itself (`add_module`, `register_module`, `setattr`), when the
    attribute is assigned again elsewhere in the class (`self.blocks = nn.ModuleList(self.blocks)`),
    and for classes whose bases torchlint cannot see into.

    ## Why is this bad?
    `nn.Module.__setattr__` registers a module only when the value *is* a module: the modules in a
    plain container are invisible to `parameters()` (so the optimizer never updates them),
    `.to(device)`/`.cuda()` (they stay on the CPU), `state_dict()` (they are never saved),
    `train()`/`eval()` (dropout and batch norm stay in their mode) and `zero_grad()`. Training
    runs without error while those layers keep their random initial weights.

    ## Example
    ```python
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            self.blocks = [nn.Linear(width, width) for _ in range(depth)]
    ```

    ## Use instead
    ```python
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self, width, depth):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(width, width) for _ in range(depth)])
    ```

    ## Fix safety
    The fix wraps a list display or comprehension in `nn.ModuleList(...)` and a dict display or
    comprehension with string keys in `nn.ModuleDict(...)`; both keep indexing, iteration and
    `len()`. It is marked safe: the layers now train, move and save as was evidently meant. Note
    that `state_dict()` gains their keys, so a checkpoint saved before the fix loads only with
    `strict=False`. Tuples, and dicts whose keys may not be strings, get no fix.

    ## Runtime verification
    The runtime mode records every module the program builds, with the module whose method was
    running: the claim holds when the built module is not among its owner's `modules()` after the
    case ran (its parameters are missing from `parameters()`); a module stored in an attribute, an
    `nn.ModuleList` or registered with `add_module` must be found there.

    ## References
    - [torch.nn.ModuleList](https://pytorch.org/docs/stable/generated/torch.nn.ModuleList.html)
    - [torch.nn.ModuleDict](https://pytorch.org/docs/stable/generated/torch.nn.ModuleDict.html)
    """

    code = "TL402"
    name = "unregistered-submodule"
    severity = Severity.ERROR
    summary = "Modules stored in a plain list, dict or tuple attribute of an nn.Module are not registered"
    tokens = ("Module",)

    VALID = (
        "import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])\n",
        "import torch.nn as nn\nimport torch.nn.functional as F\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.acts = [F.relu, F.gelu]\n",
        "import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self, teacher):\n        super().__init__()\n        self.teacher = [teacher]\n",
        "import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.blocks = [nn.Linear(2, 2) for _ in range(3)]\n        for i, block in enumerate(self.blocks):\n            self.add_module(f'block{i}', block)\n",
        "import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.blocks = [nn.Linear(2, 2) for _ in range(3)]\n        self.blocks = nn.ModuleList(self.blocks)\n",
        "import torch.nn as nn\nclass Holder:\n    def __init__(self):\n        self.blocks = [nn.Linear(2, 2) for _ in range(3)]\n",
        "import torch.nn as nn\nfrom mylib import Base\nclass Net(Base):\n    def __init__(self):\n        self.blocks = [nn.Linear(2, 2)]\n",
        "import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.sizes = [nn.Parameter(None), 3]\n",
    )
    INVALID = (
        Invalid(
            "import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.blocks = [nn.Linear(2, 2) for _ in range(3)]  # expect: TL402\n",
            fixed="import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])  # expect: TL402\n",
        ),
        Invalid(
            "import torch\nclass Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.heads = {'a': torch.nn.Linear(2, 1), 'b': torch.nn.Linear(2, 1)}  # expect: TL402\n",
            fixed="import torch\nclass Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.heads = torch.nn.ModuleDict({'a': torch.nn.Linear(2, 1), 'b': torch.nn.Linear(2, 1)})  # expect: TL402\n",
        ),
        "from torch import nn\nclass Block(nn.Module):\n    pass\nclass Net(Block):\n    def __init__(self):\n        super().__init__()\n        self.pair = (Block(), Block())  # expect: TL402\n",
        "from torch.nn import Module, Conv2d\nclass Net(Module):\n    def __init__(self):\n        super().__init__()\n        self.convs = {i: Conv2d(1, 1, 3) for i in range(2)}  # expect: TL402\n",
    )

    def visit_ClassDef(self, node) -> None:
        modules = self.facts.get(Modules)
        if modules.class_kind(node) is not Kind.MODULE:
            return
        init = next((s for s in body_of(node.body) if isinstance(s, cst.FunctionDef) and s.name.value == "__init__"), None)
        if init is None:
            return
        candidates = []
        for line in iter_statements(body_of(init.body)):
            for statement in small_statements(line):
                if isinstance(statement, cst.Assign) and len(statement.targets) == 1:
                    target, value = statement.targets[0].target, statement.value
                elif isinstance(statement, cst.AnnAssign) and statement.value is not None:
                    target, value = statement.target, statement.value
                else:
                    continue
                if isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and target.value.value == "self" \
                        and isinstance(value, (cst.List, cst.Tuple, cst.Dict, cst.ListComp, cst.DictComp)):
                    candidates.append((statement, target, value))
        if not candidates or _registers_itself(init):
            return
        attributes = self.facts.get(Program).self_attributes(node)
        for statement, target, value in candidates:
            if len(attributes.get(target.attr.value, ())) != (2 if isinstance(statement, cst.AnnAssign) else 1):
                continue  # assigned again somewhere (wrapped later, or replaced)
            built = _built_modules(value, modules)
            if built:
                self._report(target, value, built, node)

    def _report(self, target, value, built, class_node) -> None:
        container = _container_word(value)
        attr = target.attr.value
        wrapper = "ModuleDict" if container == "dict" else "ModuleList"
        fix = None
        nn = _nn_prefix(self.facts.names)
        if nn is not None and container in ("list", "dict") and (container == "list" or _string_keys(value)):
            replacement = cst.Call(func=cst.parse_expression(f"{nn}.{wrapper}"), args=[cst.Arg(value=value)])
            fix = FixSpec(f"Wrap in `{nn}.{wrapper}`", Applicability.SAFE, ((value, replacement),))
        self.report(
            target,
            f"`self.{attr}` holds modules in a plain {container}: they are not registered, so their "
            "parameters are missing from `parameters()`, `state_dict()`, `.to()` and the optimizer",
            notes=[NodeNote(built[0], "builds a module that the container hides")],
            help=f"use `nn.{wrapper}`" + ("" if container != "tuple" else " (or assign each module to its own attribute)"),
            fix=fix,
        )


def _built_modules(value, modules: Modules) -> list:
    """The module constructions stored directly in a list/dict/tuple display or comprehension."""
    if isinstance(value, (cst.List, cst.Tuple)):
        return [e.value for e in value.elements if isinstance(e, cst.Element) and modules.builds_module(e.value)]
    if isinstance(value, cst.Dict):
        return [e.value for e in value.elements if isinstance(e, cst.DictElement) and modules.builds_module(e.value)]
    if isinstance(value, cst.ListComp) and modules.builds_module(value.elt):
        return [value.elt]
    if isinstance(value, cst.DictComp) and modules.builds_module(value.value):
        return [value.value]
    return []


def _container_word(value) -> str:
    if isinstance(value, (cst.Dict, cst.DictComp)):
        return "dict"
    return "tuple" if isinstance(value, cst.Tuple) else "list"


def _registers_itself(init) -> bool:
    for node in walk_nodes(init.body):
        if isinstance(node, cst.Call):
            func = node.func
            name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", None)
            if name in REGISTERING_CALLS:
                return True
    return False


def _string_keys(value) -> bool:
    if isinstance(value, cst.Dict):
        return all(isinstance(e, cst.DictElement) and isinstance(e.key, (cst.SimpleString, cst.FormattedString))
                   for e in value.elements)
    key = value.key
    return isinstance(key, cst.FormattedString) or (
        isinstance(key, cst.Call) and isinstance(key.func, cst.Name) and key.func.value == "str")


def _nn_prefix(names) -> str | None:
    """How this file spells `torch.nn`: `nn`, `torch.nn`, or None when it can't."""
    for local, qualified in sorted(names.aliases.items()):
        if qualified == "torch.nn":
            return local
    for local, qualified in sorted(names.aliases.items()):
        if qualified == "torch":
            return f"{local}.nn"
    return None
