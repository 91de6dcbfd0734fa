"""Name resolution through imports and aliases, without LibCST's QualifiedNameProvider.

`import torch.utils.data as tud` then `tud.Dataset`, `from torch.utils.data import Dataset as DS`
then `DS`, and `torch.utils.data.Dataset` all resolve to "torch.utils.data.Dataset". The table is
built from the file's import statements wherever they stand (module level, inside functions,
under `if`/`try`), which is what plain API matching needs and costs one walk over statements.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from torchlint._lazy import lazy_module
from torchlint.facts.statements import iter_statements, small_statements

cst = lazy_module("libcst")

# Public re-exports: a name imported from its defining module means the same as the public one.
_REEXPORT_PREFIXES = (
    ("torch.utils.data.dataset.", "torch.utils.data."),
    ("torch.utils.data.dataloader.", "torch.utils.data."),
    ("torch.utils.data.sampler.", "torch.utils.data."),
    ("torch.optim.optimizer.", "torch.optim."),
    ("torch.nn.modules.module.", "torch.nn."),
    ("torch.nn.parameter.", "torch.nn."),
    ("torch.cuda.amp.", "torch.amp."),
    ("torch.autograd.variable.", "torch.autograd."),
)


def canonical(qualified: str) -> str:
    """The public spelling of a qualified name ("sklearn.preprocessing._data.X" -> "...preprocessing.X")."""
    if qualified.startswith("sklearn."):
        qualified = ".".join(part for part in qualified.split(".") if not part.startswith("_"))
    for private, public in _REEXPORT_PREFIXES:
        if qualified.startswith(private):
            return public + qualified[len(private) :]
    parts = qualified.split(".")
    # torch.optim.adam.Adam -> torch.optim.Adam, torch.optim.lr_scheduler stays a module path.
    if len(parts) == 4 and parts[:2] == ["torch", "optim"] and parts[3][:1].isupper():
        if parts[2] != "lr_scheduler":
            return "torch.optim." + parts[3]
    return qualified


def dotted_name(expr) -> str | None:
    """`a.b.c` as text, for a chain of names and attributes; None for anything else."""
    root, attributes = attribute_chain(expr)
    if root is None:
        return None
    return ".".join((root.value, *attributes))


def attribute_chain(expr) -> tuple:
    """(root Name node, attribute names in order) of `a.b.c`; (None, ()) for anything else."""
    parts = []
    attribute = cst.Attribute
    while type(expr) is attribute:  # exact classes, not isinstance (an ABC check): a hot path
        parts.append(expr.attr.value)
        expr = expr.value
    if type(expr) is not cst.Name:
        return None, ()
    return expr, tuple(reversed(parts))


def import_target(node) -> str:
    """The dotted module of an `import`/`from` statement, with leading dots for relative ones."""
    module = dotted_name(node.module) if getattr(node, "module", None) is not None else ""
    dots = "." * len(getattr(node, "relative", ()) or ())
    return dots + (module or "")


class Names:
    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}  # local name -> qualified name
        self.star_modules: list[str] = []
        self.classes: dict[str, list] = defaultdict(list)  # class name -> ClassDef nodes
        self.functions: dict[str, list] = defaultdict(list)  # function name -> FunctionDef nodes
        self.defs: list = []  # every FunctionDef of the file (methods and nested defs too), in source order
        self.imported_modules: set[str] = set()

    @classmethod
    def build(cls, facts) -> Names:
        names = cls()
        # exact classes, not isinstance (an ABC check): this runs on every statement of the file
        class_def, function_def, import_, import_from = cst.ClassDef, cst.FunctionDef, cst.Import, cst.ImportFrom
        for statement in iter_statements(facts.module.body):
            kind = type(statement)
            if kind is class_def:
                names.classes[statement.name.value].append(statement)
            elif kind is function_def:
                names.functions[statement.name.value].append(statement)
                names.defs.append(statement)
            for small in small_statements(statement):
                kind = type(small)
                if kind is import_:
                    names._add_import(small)
                elif kind is import_from:
                    names._add_import_from(small)
        return names

    def _add_import(self, node) -> None:
        for alias in node.names:
            module = dotted_name(alias.name) or ""
            self.imported_modules.add(module)
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.aliases[alias.asname.name.value] = module
            else:
                root = module.split(".")[0]
                self.aliases.setdefault(root, root)

    def _add_import_from(self, node) -> None:
        module = import_target(node)
        self.imported_modules.add(module)
        if isinstance(node.names, cst.ImportStar):
            self.star_modules.append(module)
            return
        for alias in node.names:
            name = alias.name.value if isinstance(alias.name, cst.Name) else dotted_name(alias.name)
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            self.aliases[local] = f"{module}.{name}" if module else name

    def qualified_name(self, expr) -> str | None:
        """What `expr` (a name or attribute chain) refers to, in public spelling; None if unknown."""
        if isinstance(expr, cst.Subscript):  # Dataset[int] as a base class
            expr = expr.value
        text = dotted_name(expr)
        if text is None:
            return None
        root, _, rest = text.partition(".")
        target = self.aliases.get(root)
        if target is None:
            if root in self.classes or root in self.functions:
                return None  # a local definition, not an import
            for module in self.star_modules:
                if module.startswith(("torch", "sklearn")):
                    target = f"{module}.{root}"
                    break
            else:
                return None
        return canonical(f"{target}.{rest}" if rest else target)

    def matches(self, expr, qualified: Iterable[str] | str) -> bool:
        wanted = {qualified} if isinstance(qualified, str) else set(qualified)
        name = self.qualified_name(expr)
        return name is not None and name in wanted

    def imports_from(self, prefix: str) -> bool:
        """Does the file import `prefix` or anything below it?"""
        return any(m == prefix or m.startswith(prefix + ".") for m in self.imported_modules)


def related(a: str, b: str) -> bool:
    """Could dotted names `a` and `b` name the same object (`self.model` / `model`, `model` /
    `model.head`)?"""
    a, b = strip_self(a), strip_self(b)
    if not a or not b:
        return True  # `self` itself: the object the method belongs to
    return a == b or a.startswith(b + ".") or b.startswith(a + ".") or a.split(".")[-1] == b.split(".")[-1]


def within(key: str, owner: str) -> bool:
    """Is `key` the object `owner` or one of its attributes (`model.head` within `model`)?"""
    key, owner = strip_self(key), strip_self(owner)
    return not owner or key == owner or key.startswith(owner + ".")


def strip_self(name: str) -> str:
    """A dotted name without its leading `self.` (`self` alone: the empty name)."""
    if name == "self":
        return ""
    return name[5:] if name.startswith("self.") else name


def is_none_literal(expr) -> bool:
    """The literal `None`."""
    return isinstance(expr, cst.Name) and expr.value == "None"


def unwrap_optional(annotation, names: Names):
    """The annotation an optional one wraps: `X` for `Optional[X]`, `X | None`, `None | X` and a
    quoted `"X"` (any of these nested); the annotation itself otherwise; None for an annotation that
    names no one type (`Optional[X, Y]`, an unparsable string)."""
    if isinstance(annotation, cst.SimpleString):
        text = annotation.evaluated_value
        try:
            annotation = cst.parse_expression(text) if isinstance(text, str) and len(text) < 200 else None
        except Exception:  # noqa: BLE001 - any string that is not an expression names no type
            return None
        return None if annotation is None else unwrap_optional(annotation, names)
    if isinstance(annotation, cst.BinaryOperation) and isinstance(annotation.operator, cst.BitOr):
        sides = [side for side in (annotation.left, annotation.right) if not is_none_literal(side)]
        return unwrap_optional(sides[0], names) if len(sides) == 1 else None
    if isinstance(annotation, cst.Subscript) and names.qualified_name(annotation.value) == "typing.Optional":
        elements = [e.slice.value for e in annotation.slice if isinstance(e.slice, cst.Index)]
        return unwrap_optional(elements[0], names) if len(elements) == 1 else None
    return annotation
