from __future__ import annotations

from torchlint._lazy import lazy_module
from torchlint.diagnostics import Applicability, Severity
from torchlint.facts.dataflow import BindingKind, Dataflow
from torchlint.facts.modules import Modules
from torchlint.facts.statements import body_of, iter_statements, small_statements, walk_nodes
from torchlint.rule import FixSpec, Invalid, NodeNote, Rule

cst = lazy_module("libcst")

# Calls in the class that register modules some other way: the plain container may be deliberate.
REGISTERING_CALLS = frozenset({"add_module", "register_module", "setattr"})



class UnregisteredSubmodule(Rule):
    """## What it does
    Reports, in a method of an `nn.Module` subclass (usually `__init__`), an attribute set to a
    plain `list`, `dict` or `tuple` display or comprehension holding modules it builds
    (`self.blocks = [nn.Linear(d, d) for _ in range(n)]`), or set to an empty one that the same
    method then fills with modules (`self.layers = []` … `self.layers.append(Block(d))`).

    A class counts as a module when it derives from `torch.nn.Module` (or a Lightning module)
    through imports, aliases and classes of the same module, or when its bases cannot be seen
    into but it has a `forward` and stores a module it builds in an attribute (`ModelMixin`,
    `PreTrainedModel` subclasses). An element counts as a module when it constructs a `torch.nn`
    module or a same-module module class, calls a name bound only to module classes (a parameter
    whose default or annotation is one: `norm_layer=nn.LayerNorm`, `Type[nn.Module]`), or calls a
    same-module function annotated `-> nn.Module` or returning one everywhere.

    Silent for containers of functions or other objects (`[F.relu, torch.tanh]`), for an existing
    module put in a list on purpose (`self.teacher = [teacher]` hides it from `parameters()`), when
    the method registers modules itself (`add_module`, `register_module`, `setattr` with a value not
    built on the spot), when the attribute is assigned again in the same method (other than in
    another branch of an `if`), when the attribute is handed to a module's constructor
    (`nn.Sequential(*self.blocks)`), outside `__init__` when the attribute holds a module elsewhere
    (assigning a list to it raises), and for classes with unseen bases and no module evidence.
    Modules built by classes imported from other files are unknown to a one-file analysis.

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
    tokens = ("Module", "nn")

    VALID = (
        "import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])\n",
        "import torch.nn as nn\nimport torch.nn.functional as F\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.acts = [F.relu, F.gelu]\n",
        "import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self, teacher):\n        super().__init__()\n        self.teacher = [teacher]\n",
        "import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.blocks = [nn.Linear(2, 2) for _ in range(3)]\n        for i, block in enumerate(self.blocks):\n            self.add_module(f'block{i}', block)\n",
        "import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.blocks = [nn.Linear(2, 2) for _ in range(3)]\n        self.blocks = nn.ModuleList(self.blocks)\n",
        "import torch.nn as nn\nclass Holder:\n    def __init__(self):\n        self.blocks = [nn.Linear(2, 2) for _ in range(3)]\n",
        "import torch.nn as nn\nfrom mylib import Base\nclass Net(Base):\n    def __init__(self):\n        self.blocks = [nn.Linear(2, 2)]\n",
        "import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.sizes = [nn.Parameter(None), 3]\n",
        "import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.layers = [nn.Linear(2, 2) for _ in range(3)]\n        self.net = nn.Sequential(*self.layers)\n",
        "import torch.nn as nn\nfrom mylib import Base\nclass Holder(Base):\n    def __init__(self):\n        self.layers = [nn.Linear(2, 2)]\n    def forward(self, x):\n        return x\n",
        "import torch.nn as nn\nfrom mylib import make_block\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.layers = []\n        for _ in range(3):\n            block = make_block()\n            self.layers.append(block)\n",
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
        "import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self, depth):\n        super().__init__()\n        self.layers = []  # expect: TL402\n        for _ in range(depth):\n            block = nn.Linear(2, 2)\n            self.layers.append(block)\n",
        "import torch.nn as nn\nfrom diffusers import ModelMixin\nclass Net(ModelMixin):\n    def __init__(self):\n        super().__init__()\n        self.proj = nn.Linear(2, 2)\n        self.heads = {}  # expect: TL402\n        self.heads['a'] = nn.Linear(2, 1)\n    def forward(self, x):\n        return self.proj(x)\n",
    )

    def visit_ClassDef(self, node) -> None:
        modules = self.facts.get(Modules)
        if not modules.behaves_as_module(node):
            return
        handed = None
        for method in body_of(node.body):
            if not isinstance(method, cst.FunctionDef):
                continue
            for statement, target, value in _plain_containers(method):
                attr = target.attr.value
                # Most containers hold no module (`self.dims = [64, 128]`): asked first, as the
                # questions below walk the whole class or method.
                built = _built_modules(value, modules)
                if not built and _is_empty(value):
                    built = [e for _, added in _filled_in(method, attr) for e in added if _holds_module(e, modules)]
                if not built:
                    continue
                if handed is None:
                    handed = _handed_to_modules(node, modules)
                if attr in handed or _registers(method, attr):
                    continue  # `nn.Sequential(*self.blocks)`, `add_module`: registered some other way
                if method.name.value != "__init__" and _holds_module_elsewhere(node, attr, statement):
                    continue  # a module attribute set to a list raises `TypeError`: no silent bug
                if _assigned_again(method, statement, attr, self.facts.get(Dataflow).parent):
                    continue  # assigned again in the same method (wrapped later, or replaced)
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


def _plain_containers(method) -> list:
    """`self.<attr> = <list, tuple or dict display or comprehension>` statements of a method."""
    found = []
    for line in iter_statements(body_of(method.body)):
        for statement in small_statements(line):
            if isinstance(statement, cst.Assign) and len(statement.targets) == 1:
                target, value = statement.targets[0].target, statement.value
            elif isinstance(statement, cst.AnnAssign) and statement.value is not None:
                target, value = statement.target, statement.value
            else:
                continue
            if _is_self_attribute(target) and isinstance(value, (cst.List, cst.Tuple, cst.Dict, cst.ListComp, cst.DictComp)):
                found.append((statement, target, value))
    return found


def _holds_module_elsewhere(class_node, attr: str, statement) -> bool:
    """Is `self.<attr>` set to anything but `None` or a plain container by another statement of the class?"""
    for node in walk_nodes(class_node.body):
        if node is statement:
            continue
        if isinstance(node, cst.Assign) and any(_is_self_attribute(t.target, attr) for t in node.targets):
            value = node.value
            if not (isinstance(value, cst.Name) and value.value == "None") and not isinstance(
                    value, (cst.List, cst.Tuple, cst.Dict, cst.ListComp, cst.DictComp)):
                return True
    return False


def _assigned_again(init, statement, attr: str, parent) -> bool:
    """Does another statement of `__init__` assign `self.<attr>`, other than in another branch of
    an `if`/`try` (`if deep: self.blocks = [...]` / `else: self.blocks = None`)?
    (`self.<attr> += [...]` extends the same container: not counted.)"""
    for node in walk_nodes(init.body):
        if node is statement:
            continue
        if isinstance(node, cst.Assign):
            assigns = any(_is_self_attribute(t.target, attr) for t in node.targets)
        else:
            assigns = isinstance(node, cst.AnnAssign) and node.value is not None and _is_self_attribute(node.target, attr)
        if assigns and not _in_other_branches(statement, node, parent):
            return True
    return False


def _in_other_branches(first, second, parent) -> bool:
    above = []
    node = first
    while node is not None:
        above.append(node)
        node = parent(node)
    mine = {id(n) for n in above}
    node = second
    while node is not None and id(node) not in mine:
        node = parent(node)
    return isinstance(node, (cst.If, cst.Try, cst.Match))


def _is_empty(value) -> bool:
    return isinstance(value, (cst.List, cst.Dict, cst.Tuple)) and not value.elements


def _filled_in(init, attr: str) -> list:
    """How `__init__` fills `self.<attr>` after creating it: (statement, values added) for each
    `self.<attr>.append(v)`, `.extend([...])`, `self.<attr> += [...]` and `self.<attr>[k] = v`."""
    found = []
    for node in walk_nodes(init.body):
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and _is_self_attribute(node.func.value, attr) \
                and node.args and node.args[0].keyword is None and node.args[0].star == "":
            if node.func.attr.value in ("append", "insert"):
                found.append((node, [node.args[-1].value]))
            elif node.func.attr.value == "extend":
                found.append((node, _displayed(node.args[0].value)))
        elif isinstance(node, cst.AugAssign) and _is_self_attribute(node.target, attr):
            found.append((node, _displayed(node.value)))
        elif isinstance(node, cst.Assign):
            for target in node.targets:
                if isinstance(target.target, cst.Subscript) and _is_self_attribute(target.target.value, attr):
                    found.append((node, [node.value]))
    return found


def _displayed(value) -> list:
    if isinstance(value, (cst.List, cst.Tuple)):
        return [e.value for e in value.elements if isinstance(e, cst.Element)]
    if isinstance(value, cst.ListComp):
        return [value.elt]
    return []


def _holds_module(value, modules: Modules) -> bool:
    """A module construction, or a local name every binding of which reaching here is one."""
    if modules.builds_module(value):
        return True
    if isinstance(value, cst.Name):
        bindings = modules.bindings(value)
        return bool(bindings) and all(b.kind is BindingKind.ASSIGN and modules.builds_module(b.value) for b in bindings)
    return False


def _handed_to_modules(class_node, modules: Modules) -> set[str]:
    """Attributes given whole to a module's constructor anywhere in the class
    (`nn.Sequential(*self.blocks)`, `nn.ModuleList(self.blocks)`, `Stage(self.blocks)` for a class
    torchlint cannot see into): that module registers them."""
    found = set()
    for node in walk_nodes(class_node.body):
        if not isinstance(node, cst.Call):
            continue
        handed = [arg.value.attr.value for arg in node.args if _is_self_attribute(arg.value)]
        if handed and (_may_be_class(node.func) or modules.builds_module(node)):  # the cheap tests first
            found.update(handed)
    return found


def _may_be_class(func) -> bool:
    name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
    return isinstance(name, str) and name[:1].isupper()


def _is_self_attribute(expr, attr: str | None = None) -> bool:
    return (isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self"
            and (attr is None or expr.attr.value == attr))


def _container_word(value) -> str:
    if isinstance(value, (cst.Dict, cst.DictComp)):
        return "dict"
    return "tuple" if isinstance(value, cst.Tuple) else "list"


def _registers(init, attr: str) -> bool:
    """Might `__init__` register the container's modules itself (`self.add_module(f"b{i}", b)` in
    a loop over it)? A registering call whose value is built on the spot
    (`setattr(self, "pos", nn.Parameter(...))`) cannot register them; any other value might."""
    for node in walk_nodes(init.body):
        if isinstance(node, cst.Call):
            func = node.func
            name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", None)
            if name in REGISTERING_CALLS and not (node.args and isinstance(node.args[-1].value, cst.Call)
                                                  and not _mentions(node.args[-1].value, attr)):
                return True
    return False


def _mentions(expr, attr: str) -> bool:
    return any(_is_self_attribute(n, attr) for n in walk_nodes(expr))


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
