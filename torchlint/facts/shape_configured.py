"""Sizes the file itself shows may be 1: a parameter whose default is 1, and what it sets.

    ones = facts.get(ConfiguredOnes).tokens_at(call)  # frozenset of size tokens (see shape_sizes)
    layout = with_configured_ones(layout, ones)  # those dims set to size 1, or None

`def _pack_latents(latents, patch_size: int = 1, patch_size_t: int = 1)`, `self.patch_size_t =
patch_size_t` in an `__init__` whose default is 1, `patch_size=(1, 2, 2)` read as
`self.patch_size[0]`, diffusers' `self.config.patch_size_t`: the code runs with that size 1 by
default (LTX's transformer does), and a dim of size 1 takes no part in a merge (a reshape that
merges it with a neighbour is a view: checked with `untyped_storage().data_ptr()` on LTX's
`_pack_latents` with `patch_size = patch_size_t = 1`). A merge is a copy for the reshape rules
only when it is a copy with those dims at size 1 too. A token is the size of the whole dim: a
product `p_t * p` is not taken for 1.
"""

from __future__ import annotations

from dataclasses import replace

from torchlint._lazy import lazy_module
from torchlint.facts.shape_scope import ScopedDataflow
from torchlint.facts.tensors import Dim, _int
from torchlint.walk import children

cst = lazy_module("libcst")


class ConfiguredOnes:
    """Fact kind: the size tokens of parameters (and `self.` attributes set from them) whose
    default is 1, or whose default tuple holds 1 at an index (`name[i]`).

    A parameter's token names its binding; `self.X` is the same text in every class, so the
    attributes count only inside the class whose `__init__` sets them (`tokens_at(node)`)."""

    def __init__(self, facts) -> None:
        self._dataflow = facts.get(ScopedDataflow)
        self._classes: dict[int, frozenset] = {}
        parameters = set()
        for token, cls in _tokens(facts):
            if cls is None:
                parameters.add(token)
            else:
                self._classes[id(cls)] = self._classes.get(id(cls), frozenset()) | {token}
        self._parameters = frozenset(parameters)

    @classmethod
    def build(cls, facts) -> ConfiguredOnes:
        return cls(facts)

    def tokens_at(self, node) -> frozenset:
        """The tokens that may be 1 where `node` is evaluated."""
        cls = self._dataflow.enclosing_class(node)
        return self._parameters | self._classes.get(id(cls), frozenset()) if cls is not None else self._parameters


def with_configured_ones(layout, ones, target=None):
    """`layout` (and a reshape `target`) with the dims whose size may be 1 set to size 1; None
    when no dim is such."""
    if layout is None or layout.dims is None or not ones or not any(d.size in ones for d in layout.dims):
        return None
    dims = tuple(Dim("1", None, d.note) if d.size in ones else d for d in layout.dims)
    shown = replace(layout, dims=dims)
    if target is None:
        return shown
    return shown, ["1" if t in ones else t for t in target]


def _tokens(facts):
    dataflow = facts.get(ScopedDataflow)
    blocks = (cst.BaseCompoundStatement, cst.BaseSuite, cst.Else, cst.ExceptHandler, cst.ExceptStarHandler,
              cst.Finally, cst.MatchCase)
    stack = [facts.module]
    while stack:  # statements only: a def is never inside an expression
        node = stack.pop()
        stack.extend(c for c in children(node) if isinstance(c, blocks))
        if not isinstance(node, cst.FunctionDef):
            continue
        ones = _defaults_of_one(node)
        if not ones:
            continue
        flow = dataflow.function_of(node.body)
        for binding in (flow.bindings if flow is not None else ()):
            if binding.kind == "param" and binding.name in ones:
                for index in ones[binding.name]:
                    yield (f"binding:{id(binding)}" if index is None else f"binding:{id(binding)}[{index}]"), None
        cls = dataflow.enclosing_class(node) if node.name.value == "__init__" else None
        if cls is not None:
            yield from ((token, cls) for token in _attributes_set(node, ones))


def _defaults_of_one(function) -> dict:
    """{parameter name: [None] for a default of 1, [i, ...] for the items of a default tuple that are 1}."""
    found = {}
    params = function.params
    for param in (*params.posonly_params, *params.params, *params.kwonly_params):
        default = param.default
        if default is None:
            continue
        if _int(default) == 1:
            found[param.name.value] = [None]
        elif isinstance(default, (cst.Tuple, cst.List)):
            items = [i for i, e in enumerate(default.elements) if isinstance(e, cst.Element) and _int(e.value) == 1]
            if items:
                found[param.name.value] = items
    for name in _asserted_not_one(function) if found else ():  # `assert ws != 1` (Twins): never 1 here
        found.pop(name, None)
    return found


def _asserted_not_one(function):
    """Names `n` of top-level `assert n != 1` / `assert n > 1` / `assert n >= 2` in `function`'s body."""
    for line in function.body.body if isinstance(function.body, cst.IndentedBlock) else ():
        for statement in line.body if isinstance(line, cst.SimpleStatementLine) else ():
            test = statement.test if isinstance(statement, cst.Assert) else None
            if isinstance(test, cst.Comparison) and isinstance(test.left, cst.Name) and len(test.comparisons) == 1:
                operator, bound = test.comparisons[0].operator, _int(test.comparisons[0].comparator)
                if (isinstance(operator, (cst.NotEqual, cst.GreaterThan)) and bound == 1) \
                        or (isinstance(operator, cst.GreaterThanEqual) and bound == 2):
                    yield test.left.value


def _attributes_set(init, ones):
    """`self.X = p` in `__init__` for a parameter `p` of default 1: `self.X` (and diffusers'
    `self.config.p`, which `register_to_config` fills from the same parameter)."""
    for name, indices in ones.items():
        for index in indices:
            suffix = "" if index is None else f"[{index}]"
            yield f"self.config.{name}{suffix}"
    stack = [init.body]
    while stack:
        node = stack.pop()
        stack.extend(children(node))
        if not isinstance(node, cst.Assign) or not isinstance(node.value, cst.Name) or node.value.value not in ones:
            continue
        for target in node.targets:
            attribute = target.target
            if isinstance(attribute, cst.Attribute) and isinstance(attribute.value, cst.Name) and attribute.value.value == "self":
                for index in ones[node.value.value]:
                    yield f"self.{attribute.attr.value}" + ("" if index is None else f"[{index}]")
