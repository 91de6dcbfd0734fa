"""Mutation recall for TL402 unregistered-submodule on real code.

Takes the repositories of the ecosystem check, finds every `self.<attr> = nn.ModuleList([...])` /
`nn.ModuleDict({...})` whose argument is a list or dict display or comprehension, unwraps it to
the plain container (the bug), lints the mutated file with TL402 only and counts the mutants
reported on their line. Mutants are chosen by spelling, independently of the rule's resolution.

The first figure counts every mutant. The second counts only the mutants a one-file rule can
judge: the file itself shows that at least one element of the container is a module. An element
(a display's element or value, a comprehension's value or, for an empty display, a value that a
method of the class puts in it with `.append(v)`, `.insert(i, v)`, `.extend([...])` or
`[k] = v`) is shown to be a module when it is
  - a call of a `torch.nn` module class through the file's imports (`nn.Linear(...)`,
    `torch.nn.Conv2d(...)`, `Linear(...)` after `from torch.nn import Linear`; not
    `nn.Parameter`, `nn.functional.*`, `nn.init.*`, `nn.utils.*`), or of a class of the file
    deriving from one (directly or through classes of the file);
  - a call of a parameter whose default is such a class (`norm_layer=nn.LayerNorm`), or of a
    local name assigned only such classes;
  - a call of a function of the file (or `self.<method>(...)` of a method of the class) whose
    every `return` returns a shown module;
  - a local name, or a `self.<attr>` of the class, every assignment of which is a shown module
    (a name also bound by a `for`, a comprehension, an unpacking or `+=` is unknown);
  - `a if c else b` with both arms shown.
Anything else is not judgeable: a class or function imported from another module of the project
or from a library other than `torch.nn` (`BasicTransformerBlock(...)`, `get_down_block(...)`)
builds what a one-file linter cannot see into, so a rule reporting it would also report the
containers of plain objects built the same way. Whether the class holding the attribute is a
module is not asked. `--show-unjudgeable` lists the excluded mutants with the reason.

    python bench/mutation_module_list.py --mirror-root DIR [--family all] [--show-unjudgeable]
"""

from __future__ import annotations

import os
import sys

import libcst as cst

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mutation_softmax_dim import reported_rows, run_recall  # noqa: E402

from torchlint.facts.names import dotted_name  # noqa: E402

WRAPPERS = ("nn.ModuleList", "torch.nn.ModuleList", "nn.ModuleDict", "torch.nn.ModuleDict")
DISPLAYS = (cst.List, cst.ListComp, cst.Dict, cst.DictComp)


MARK = "# torchlint-mutant"


class Unwrap(cst.CSTTransformer):
    """`self.x = nn.ModuleList([...])` -> `self.x = [...]`, with a marker comment on the line
    above each mutated statement so that the mutant's row is easy to find. The attribute keeps its
    name: `self.x.append(block)` later in `__init__` still fills the (now plain) container."""

    def __init__(self) -> None:
        self.mutated = 0
        self._pending = False

    def leave_Assign(self, original, updated):
        if _mutable(updated):
            self.mutated += 1
            self._pending = True
            return updated.with_changes(value=updated.value.args[0].value)
        return updated

    def leave_SimpleStatementLine(self, original, updated):
        if not self._pending:
            return updated
        self._pending = False
        mark = cst.EmptyLine(comment=cst.Comment(MARK))
        return updated.with_changes(leading_lines=[*updated.leading_lines, mark])


def _mutable(node) -> bool:
    """`self.<attr> = nn.ModuleList(<display>)` (or `ModuleDict`)?"""
    target = node.targets[0].target if len(node.targets) == 1 else None
    value = node.value
    return (isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and target.value.value == "self"
            and isinstance(value, cst.Call) and dotted_name(value.func) in WRAPPERS and len(value.args) == 1
            and isinstance(value.args[0].value, DISPLAYS))


FAIR = [0, 0]  # mutants a one-file rule can judge; found
SHOW = False
MISSES: list[str] = []  # judgeable mutants the rule did not report (printed with --show-unjudgeable)


def _score(text: str):
    from libcst.metadata import PositionProvider

    try:
        wrapper = cst.MetadataWrapper(cst.parse_module(text), unsafe_skip_copy=True)
        original = wrapper.module
        mutant = original.visit(mutator := Unwrap())
    except Exception:
        return None
    if not mutator.mutated:
        return None
    code = mutant.code
    rows = sorted(i + 1 for i, line in enumerate(code.splitlines(), start=1) if line.strip() == MARK)
    reported = reported_rows(code, "TL402")
    sites = _Sites()
    wrapper.visit(sites)
    positions = wrapper.resolve(PositionProvider)
    judge = _Judge(original)
    lines = text.splitlines()
    for row, site in zip(rows, sites.sites):
        reason = _unjudgeable(judge, site)
        line = positions[site[0]].start.line
        where = f"line {line}: {lines[line - 1].strip()[:90]}"
        if reason is None:
            FAIR[0] += 1
            FAIR[1] += row in reported
            if row not in reported and SHOW:
                MISSES.append(where)
                print(f"    judgeable, not reported: {where}")
        elif SHOW:
            print(f"    not judgeable in one file ({reason}): {where}")
    return set(rows), reported


def main() -> int:
    global SHOW
    SHOW = "--show-unjudgeable" in sys.argv
    if SHOW:
        sys.argv.remove("--show-unjudgeable")  # the shared driver parses the rest
    if "-h" in sys.argv or "--help" in sys.argv:
        print(__doc__)  # the shared driver's help follows, with the options it parses
    status = run_recall(__doc__, "TL402", lambda text: "ModuleList(" in text or "ModuleDict(" in text, _score)
    total, found = FAIR
    print(f"TL402 recall on the mutants a one-file rule can judge: {found}/{total}"
          + (f" = {found / total:.3f}" if total else ""))
    return status


# --- Which mutants a one-file rule can judge -------------------------------------------------

NOT_MODULES = frozenset({"Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer"})


def _aliases(module) -> dict[str, str]:
    """Local name -> dotted name it was imported as, for every import of the file."""
    aliases: dict[str, str] = {}

    class Find(cst.CSTVisitor):
        def visit_Import(self, node):
            for alias in node.names:
                full = dotted_name(alias.name) or ""
                if alias.asname is not None:
                    aliases[dotted_name(alias.asname.name) or ""] = full
                else:
                    aliases[full.split(".")[0]] = full.split(".")[0]

        def visit_ImportFrom(self, node):
            if isinstance(node.names, cst.ImportStar):
                return
            base = "." * len(node.relative) + ((dotted_name(node.module) or "") if node.module is not None else "")
            for alias in node.names:
                name = dotted_name(alias.name) or ""
                local = dotted_name(alias.asname.name) if alias.asname is not None else name
                aliases[local or ""] = base + name if base.endswith(".") else f"{base}.{name}"

    module.visit(Find())
    return aliases


def _is_torch_module_class(full: str) -> bool:
    """`torch.nn.Linear`, `torch.nn.modules.conv.Conv2d`: a capitalised name under `torch.nn`
    outside `functional`/`init`/`utils`, and not a parameter or buffer."""
    parts = full.split(".")
    return (len(parts) >= 3 and parts[:2] == ["torch", "nn"] and parts[-1][:1].isupper()
            and parts[-1] not in NOT_MODULES and not {"functional", "init", "utils"} & set(parts))


class _Judge:
    """Does the file itself show that an expression is a module? Only the file's imports, its
    classes and its functions are read; any name imported from elsewhere (but `torch.nn`) is
    unknown, hence not shown."""

    def __init__(self, module) -> None:
        self.aliases = _aliases(module)
        self.classes: dict[str, list] = {}
        self.functions: dict[str, list] = {}
        for statement in module.body:
            if isinstance(statement, cst.ClassDef):
                self.classes.setdefault(statement.name.value, []).append(statement)
            elif isinstance(statement, cst.FunctionDef):
                self.functions.setdefault(statement.name.value, []).append(statement)
        self.module_classes: set[str] = set()
        while True:  # same-file classes deriving from torch.nn, directly or via same-file bases
            added = {name for name, defs in self.classes.items() if name not in self.module_classes
                     and any(self._is_module_class_ref(b.value) for d in defs for b in d.bases)}
            if not added:
                break
            self.module_classes |= added

    def resolve(self, expr) -> str | None:
        name = dotted_name(expr)
        if not name:
            return None
        head, _, rest = name.partition(".")
        if head not in self.aliases:
            return None
        return self.aliases[head] + ("." + rest if rest else "")

    def _is_module_class_ref(self, expr) -> bool:
        if isinstance(expr, cst.Name) and expr.value in self.module_classes and expr.value not in self.aliases:
            return True
        full = self.resolve(expr)
        return full is not None and _is_torch_module_class(full)

    def shows_module(self, expr, scope, cls, depth: int = 0) -> str | None:
        """None when the file shows `expr` (read in def `scope` of class `cls`) is a module, else
        why not."""
        if depth > 4:
            return "too deep"
        if isinstance(expr, cst.IfExp):
            return self.shows_module(expr.body, scope, cls, depth + 1) or self.shows_module(expr.orelse, scope, cls, depth + 1)
        if isinstance(expr, cst.Name) and scope is not None:
            values = _bindings(scope, expr.value)
            if values:
                reasons = [self.shows_module(v, scope, cls, depth + 1) for v in values]
                return next((r for r in reasons if r), None)
            return f"`{expr.value}` is not bound to a module in the file"
        if isinstance(expr, cst.Attribute) and dotted_name(expr.value) == "self" and cls is not None:
            values = [v for d in _methods(cls) for v in _bindings(d, "self." + expr.attr.value)]
            if values:
                reasons = [self.shows_module(v, None, cls, depth + 1) for v in values]
                return next((r for r in reasons if r), None)
            return f"`self.{expr.attr.value}` is not bound to a module in the class"
        if not isinstance(expr, cst.Call):
            return f"`{_spell(expr)}` is not a call"
        return self._callee_builds_module(expr.func, scope, cls, depth)

    def _callee_builds_module(self, func, scope, cls, depth) -> str | None:
        spelled = dotted_name(func) or _spell(func)
        if self._is_module_class_ref(func):
            return None
        if isinstance(func, cst.Name) and func.value not in self.aliases:
            name = func.value
            if scope is not None:
                params = {p.name.value: p for p in _all_params(scope)}
                if name in params:
                    default = params[name].default
                    if default is not None and self._is_module_class_ref(default):
                        return None
                    return f"parameter `{name}` has no module class default"
                values = _bindings(scope, name)
                if values:  # `block = nn.Linear` then `block(...)`
                    if all(self._is_module_class_ref(v) for v in values):
                        return None
                    return f"`{name}` is not bound only to module classes"
            if name in self.functions:
                return self._returns_module(self.functions[name], cls, depth)
            return f"`{name}` is not defined in the file"
        if isinstance(func, cst.Attribute) and dotted_name(func.value) == "self" and cls is not None:
            methods = [d for d in _methods(cls) if d.name.value == func.attr.value]
            if methods:
                return self._returns_module(methods, cls, depth)
            return f"`self.{func.attr.value}` is not a method of the class"
        full = self.resolve(func)
        if full is not None and not full.startswith("torch."):
            return f"`{spelled}` is imported from `{full.rsplit('.', 1)[0]}`"
        return f"`{spelled}` is not a torch.nn module class"

    def _returns_module(self, defs, cls, depth) -> str | None:
        for function in defs:
            returns = _returns(function)
            if not returns:
                return f"`{function.name.value}` returns nothing"
            for value in returns:
                reason = self.shows_module(value, function, cls, depth + 1)
                if reason:
                    return f"`{function.name.value}` returns: {reason}"
        return None


def _spell(expr) -> str:
    try:
        return cst.Module([]).code_for_node(expr).strip()[:60]
    except Exception:
        return type(expr).__name__


def _all_params(function):
    p = function.params
    return [*p.posonly_params, *p.params, *p.kwonly_params]


def _bindings(function, name: str) -> list:
    """Values assigned to `name` (`x` or `self.x`) in `function` (nested defs excluded); a `for`
    target or augmented/annotated-without-value binding makes the name unknown (empty list)."""
    values: list = []
    unknown = []

    class Find(cst.CSTVisitor):
        def visit_FunctionDef(self, node):
            return False

        def visit_ClassDef(self, node):
            return False

        def visit_Lambda(self, node):
            return False

        def visit_Assign(self, node):
            for target in node.targets:
                if dotted_name(target.target) == name:
                    values.append(node.value)
                elif isinstance(target.target, (cst.Tuple, cst.List)) and any(
                        dotted_name(getattr(e, "value", None)) == name for e in target.target.elements):
                    unknown.append(node)

        def visit_AnnAssign(self, node):
            if dotted_name(node.target) == name and node.value is not None:
                values.append(node.value)

        def visit_AugAssign(self, node):
            if dotted_name(node.target) == name:
                unknown.append(node)

        def visit_For(self, node):
            if name in _target_names(node.target):
                unknown.append(node)

        def visit_CompFor(self, node):
            if name in _target_names(node.target):
                unknown.append(node)

        def visit_WithItem(self, node):
            if node.asname is not None and name in _target_names(node.asname.name):
                unknown.append(node)

    if isinstance(function.body, cst.IndentedBlock):
        for statement in function.body.body:
            statement.visit(Find())
    return [] if unknown else values


def _target_names(target) -> set[str]:
    if isinstance(target, (cst.Tuple, cst.List)):
        return set().union(*(_target_names(e.value) for e in target.elements)) if target.elements else set()
    return {dotted_name(target) or ""}


def _returns(function) -> list:
    values: list = []

    class Find(cst.CSTVisitor):
        def visit_FunctionDef(self, node):
            return False

        def visit_Lambda(self, node):
            return False

        def visit_Return(self, node):
            values.append(node.value)

    if isinstance(function.body, cst.IndentedBlock):
        for statement in function.body.body:
            statement.visit(Find())
    return [] if any(v is None for v in values) else values


def _methods(cls) -> list:
    return [s for s in cls.body.body if isinstance(s, cst.FunctionDef)] if isinstance(cls.body, cst.IndentedBlock) else []


class _Sites(cst.CSTVisitor):
    """The statements `Unwrap` mutates, in the same order, each with its class and def."""

    def __init__(self) -> None:
        self.stack: list = []
        self.sites: list[tuple] = []  # (Assign, attribute name, class or None, def or None)

    def visit_ClassDef(self, node):
        self.stack.append(node)

    def leave_ClassDef(self, node):
        self.stack.pop()

    def visit_FunctionDef(self, node):
        self.stack.append(node)

    def leave_FunctionDef(self, node):
        self.stack.pop()

    def visit_Assign(self, node):
        if _mutable(node):
            function = self.stack[-1] if self.stack and isinstance(self.stack[-1], cst.FunctionDef) else None
            cls = self.stack[-2] if function is not None and len(self.stack) > 1 and isinstance(self.stack[-2], cst.ClassDef) else None
            self.sites.append((node, node.targets[0].target.attr.value, cls, function))


def _elements(display) -> list:
    if isinstance(display, (cst.List, cst.Tuple)):
        return [e.value for e in display.elements if isinstance(e, cst.Element)]
    if isinstance(display, cst.Dict):
        return [e.value for e in display.elements if isinstance(e, cst.DictElement)]
    if isinstance(display, cst.ListComp):
        return [display.elt]
    if isinstance(display, cst.DictComp):
        return [display.value]
    return []


def _filled(cls, function, attr: str) -> list[tuple]:
    """(value, def) for what the class's methods put in `self.<attr>` later: `.append(v)`,
    `.insert(i, v)`, `.extend(<display>)`, `[k] = v`."""
    if cls is None:
        methods = [function] if function is not None else []
    else:
        methods = _methods(cls)
    found: list[tuple] = []
    target = "self." + attr
    for method in methods:
        class Find(cst.CSTVisitor):
            def visit_FunctionDef(self, node):
                return node is method

            def visit_Call(self, node):
                func = node.func
                if not (isinstance(func, cst.Attribute) and dotted_name(func.value) == target):
                    return
                args = [a.value for a in node.args if a.keyword is None and not a.star]
                if func.attr.value == "append" and len(args) == 1:
                    found.append((args[0], method))
                elif func.attr.value == "insert" and len(args) == 2:
                    found.append((args[1], method))
                elif func.attr.value == "extend" and len(args) == 1:
                    found.extend((e, method) for e in _elements(args[0]))

            def visit_Assign(self, node):
                for t in node.targets:
                    if isinstance(t.target, cst.Subscript) and dotted_name(t.target.value) == target:
                        found.append((node.value, method))

        method.visit(Find())
    return found


def _unjudgeable(judge: _Judge, site) -> str | None:
    """None when the file shows a module among the container's elements, else why not."""
    node, attr, cls, function = site
    display = node.value.args[0].value
    elements = [(e, function) for e in _elements(display)]
    if not elements:
        elements = _filled(cls, function, attr)
        if not elements:
            return "empty container, filled nowhere in the class"
    reasons = [judge.shows_module(value, scope, cls) for value, scope in elements]
    if any(r is None for r in reasons):
        return None
    return reasons[0]


if __name__ == "__main__":
    sys.exit(main())
