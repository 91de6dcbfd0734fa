from __future__ import annotations

from torchlint._lazy import lazy_module
from torchlint.diagnostics import Severity
from torchlint.facts.program import Program
from torchlint.facts.statements import iter_statements, small_statements
from torchlint.rule import NodeNote, Rule

cst = lazy_module("libcst")

MAP_STYLE = frozenset({"torch.utils.data.Dataset"})
# Bases that already implement the protocol, or make the class iterable-style: not our business.
NOT_MAP_STYLE = frozenset({
    "torch.utils.data.IterableDataset", "torch.utils.data.TensorDataset", "torch.utils.data.Subset",
    "torch.utils.data.ConcatDataset", "torch.utils.data.ChainDataset", "torch.utils.data.StackDataset",
})
# Bases that add nothing to the protocol: a class with only these (and Dataset) is judged alone.
NEUTRAL = frozenset({"object", "typing.Generic", "typing_extensions.Generic", "typing.Protocol"})
ABSTRACT = frozenset({"abc.ABC", "abc.ABCMeta", "abc.abstractmethod"})
ABSTRACT_NAME_PARTS = ("Base", "Abstract", "Mixin", "Interface")


class DatasetProtocol(Rule):
    """## What it does
    Reports a map-style `torch.utils.data.Dataset` subclass that defines no `__getitem__`, or no
    `__len__`. Inheritance is followed through imports, aliases and base classes of the same
    module.

    Silent for `IterableDataset` subclasses (they implement `__iter__` instead), for classes
    with a base torchlint cannot see into (an imported mixin may supply the methods), for abstract
    bases (`ABC`, `@abstractmethod`, or a class that other classes of the module derive from), and
    when `__getitems__` provides batched fetching.

    ## Why is this bad?
    `Dataset.__getitem__` only raises `NotImplementedError`, and `Dataset` has no `__len__`: the
    class imports and constructs fine, and the failure comes at the first batch of the first
    epoch, often on a GPU job after minutes of setup. `DataLoader` with the default sampler calls
    `len(dataset)` (`TypeError: object of type ... has no len()`) and then `dataset[i]`.

    ## Example
    ```python
    from torch.utils.data import Dataset

    class Pairs(Dataset):
        def __init__(self, items):
            self.items = items

        def __getitem__(self, index):
            return self.items[index]
    ```

    ## Use instead
    ```python
    from torch.utils.data import Dataset

    class Pairs(Dataset):
        def __init__(self, items):
            self.items = items

        def __getitem__(self, index):
            return self.items[index]

        def __len__(self):
            return len(self.items)
    ```

    If the data is a stream without a length, derive from `IterableDataset` and define `__iter__`.

    ## Fix safety
    No fix: only you know what the length or the item is.

    ## Runtime verification
    The runtime mode builds a `DataLoader` over an instance and draws one batch: the claim holds
    when that raises (`TypeError` for the missing `__len__`, `NotImplementedError` for the missing
    `__getitem__`), and a silent trap must draw its batch without error.

    ## References
    - [torch.utils.data: map-style datasets](https://pytorch.org/docs/stable/data.html#map-style-datasets)
    """

    code = "TL401"
    name = "dataset-protocol"
    severity = Severity.ERROR
    summary = "A map-style Dataset subclass lacks __getitem__ or __len__"
    tokens = ("Dataset", "torch.utils.data")

    VALID = (
        "from torch.utils.data import Dataset\nclass A(Dataset):\n    def __getitem__(self, i): return i\n    def __len__(self): return 3\n",
        "from torch.utils.data import IterableDataset\nclass S(IterableDataset):\n    def __iter__(self): yield 1\n",
        "from torch.utils.data import Dataset\nfrom mylib import LengthMixin\nclass A(LengthMixin, Dataset):\n    def __getitem__(self, i): return i\n",
        "from torch.utils.data import Dataset\nclass Base(Dataset):\n    def __init__(self, n): self.n = n\nclass A(Base):\n    def __getitem__(self, i): return i\n    def __len__(self): return self.n\n",
        "from abc import ABC, abstractmethod\nfrom torch.utils.data import Dataset\nclass A(Dataset, ABC):\n    @abstractmethod\n    def load(self): ...\n",
        "class Dataset:\n    pass\nclass A(Dataset):\n    pass\n",
    )
    INVALID = (
        "from torch.utils.data import Dataset\nclass A(Dataset):  # expect: TL401\n    def __getitem__(self, i): return i\n",
        "import torch.utils.data as tud\nclass A(tud.Dataset):  # expect: TL401\n    def __len__(self): return 3\n",
        "from torch.utils.data import Dataset as DS\nclass Base(DS):\n    def __len__(self): return 3\nclass A(Base):  # expect: TL401\n    pass\n",
    )

    def visit_ClassDef(self, node) -> None:
        self._check(node, self.facts.names)

    def _check(self, node, names) -> None:
        verdict = _Hierarchy(names, self.facts.get(Program)).resolve(node)
        if verdict is None or not verdict.map_style or verdict.abstract or verdict.abstract_methods:
            return
        if verdict.name in _subclassed(names):
            return  # a base class of the module's own datasets
        methods = verdict.methods
        missing = [m for m in ("__getitem__", "__len__") if m not in methods]
        if "__getitems__" in methods and "__getitem__" in missing:
            missing.remove("__getitem__")
        if not missing:
            return
        class_name = node.name.value
        notes = [NodeNote(verdict.dataset_base, "derives from `torch.utils.data.Dataset` here")] if verdict.dataset_base is not None else []
        if missing == ["__len__"]:
            message = (
                f"`{class_name}` is a map-style `Dataset` without `__len__`: "
                "`DataLoader` with the default sampler raises `TypeError` at the first batch"
            )
            help_text = "define `__len__` returning the number of samples, or derive from `IterableDataset` for a stream"
        elif missing == ["__getitem__"]:
            message = (
                f"`{class_name}` is a map-style `Dataset` without `__getitem__`: "
                "`Dataset.__getitem__` raises `NotImplementedError` at the first batch"
            )
            help_text = "define `__getitem__(self, index)` returning one sample"
        else:
            message = (
                f"`{class_name}` is a map-style `Dataset` without `__getitem__` and `__len__`: "
                "`DataLoader` fails at the first batch"
            )
            help_text = "define `__getitem__` and `__len__`, or derive from `IterableDataset` and define `__iter__`"
        self.report(node.name, message, notes=notes, help=help_text)


class _Verdict:
    def __init__(self, name: str) -> None:
        self.name = name
        self.map_style = False
        self.abstract = False  # this class itself is marked or named abstract
        self.abstract_methods: set[str] = set()  # @abstractmethod names not yet overridden
        self.methods: set[str] = set()
        self.dataset_base = None  # the base expression that reached Dataset, for the note


class _Hierarchy:
    """Resolves a class's dataset-ness and methods through same-module inheritance."""

    def __init__(self, names, program: Program) -> None:
        self.names = names
        self.program = program
        self.active: set[str] = set()

    def resolve(self, node) -> _Verdict | None:
        """None when a base cannot be seen into (imported mixins, calls, other libraries)."""
        name = node.name.value
        if name in self.active:
            return None  # a cycle through redefinitions: give up
        self.active.add(name)
        try:
            return self._resolve(node)
        finally:
            self.active.discard(name)

    def _resolve(self, node) -> _Verdict | None:
        verdict = _Verdict(node.name.value)
        verdict.methods = _defined_names(node)
        verdict.abstract_methods = _abstract_methods(node)
        verdict.abstract = _named_abstract(node)
        inherited_abstract: set[str] = set()
        for argument in node.bases:
            base = argument.value
            qualified = self.names.qualified_name(base)
            if qualified in MAP_STYLE:
                verdict.map_style = True
                verdict.dataset_base = verdict.dataset_base or base
                continue
            if qualified in NOT_MAP_STYLE:
                return None
            if qualified in ABSTRACT:
                verdict.abstract = True
                continue
            if qualified in NEUTRAL or (isinstance(base, cst.Name) and base.value == "object"):
                continue
            local = self.program.local_class(base)
            if local is None:
                return None
            inherited = self.resolve(local)
            if inherited is None:
                return None
            verdict.map_style |= inherited.map_style
            inherited_abstract |= inherited.abstract_methods
            verdict.methods |= inherited.methods
            if inherited.map_style and verdict.dataset_base is None:
                verdict.dataset_base = base
        for keyword in node.keywords:
            if keyword.keyword.value == "metaclass" and self.names.qualified_name(keyword.value) in ABSTRACT:
                verdict.abstract = True
        own = _defined_names(node)
        verdict.abstract_methods |= inherited_abstract - (own - verdict.abstract_methods)
        return verdict



def _defined_names(node) -> set[str]:
    """Methods and attributes bound in the class body, including under `if`/`try`."""
    defined: set[str] = set()
    for statement in iter_statements(node.body.body if isinstance(node.body, cst.IndentedBlock) else [node.body],
                                     into_functions=False, into_classes=False):
        if isinstance(statement, cst.FunctionDef):
            defined.add(statement.name.value)
        for small in small_statements(statement):
            targets = []
            if isinstance(small, cst.Assign):
                targets = [t.target for t in small.targets]
            elif isinstance(small, (cst.AnnAssign, cst.AugAssign)):
                targets = [small.target]
            for target in targets:
                if isinstance(target, cst.Name):
                    defined.add(target.value)
    return defined


def _abstract_methods(node) -> set[str]:
    found = set()
    for statement in iter_statements(node.body.body if isinstance(node.body, cst.IndentedBlock) else [],
                                     into_functions=False, into_classes=False):
        if isinstance(statement, cst.FunctionDef):
            for decorator in statement.decorators:
                target = decorator.decorator
                name = target.attr.value if isinstance(target, cst.Attribute) else getattr(target, "value", None)
                if name == "abstractmethod":
                    found.add(statement.name.value)
    return found


def _named_abstract(node) -> bool:
    # `BaseDataset`, `AbstractDataset`, `DatasetMixin`: meant to be derived from elsewhere.
    name = node.name.value
    return any(name.startswith(part) or name.endswith(part) for part in ABSTRACT_NAME_PARTS)


def _subclassed(names) -> set[str]:
    """Names of module classes that another class of the module derives from."""
    bases: set[str] = set()
    for nodes in names.classes.values():
        for node in nodes:
            for argument in node.bases:
                if isinstance(argument.value, cst.Name):
                    bases.add(argument.value.value)
    return bases
