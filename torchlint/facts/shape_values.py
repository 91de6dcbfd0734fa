"""Tensor values that come back from same-module helpers, and unary operators.

A mixin of `Layouts`. `window_partition(x, ws)`, `self.get_rel_pos(q)`: the program model's
`Summaries.callee` finds the def a call runs; its `return` expressions are evaluated in a
*frame*, a `Layouts` of its own whose parameters are the caller's arguments (their layouts and
their size tokens), so that `B, H, W, C = x.shape` inside the helper names the caller's sizes.
Sizes that only the helper can name (its locals) are made distinct per call before they leave
the frame, so two calls of one helper never share a size by accident. Frames nest to
`MAX_FRAMES`; recursion and generators give unknown.

`-x`, `+x` and `~x` are elementwise (they keep `x`'s strides, checked with `stride()` on a
transposed input); on a number they are a number (`dim ** -0.5` is a Python float).
"""

from __future__ import annotations

import re
from dataclasses import replace

from torchlint._lazy import lazy_module
from torchlint.facts.layout_ops import _elementwise, _join
from torchlint.facts.summaries import Summaries
from torchlint.facts.tensors import UNKNOWN, Dim, Layout
from torchlint.walk import children

cst = lazy_module("libcst")

MAX_FRAMES = 2  # helpers followed inside helpers
NO_HELPER = object()  # `_returned`: the call runs no same-module def
NO_ARGUMENT = object()  # `_argument`: the parameter is not bound by a caller's frame
_KEY = re.compile(r"\d{6,}")  # the id() numbers inside size tokens


class ReturnedValues:
    """Mixin of `Layouts`: values returned by same-module functions and methods."""

    _caller = None  # the Layouts of the calling frame (None at the top)
    _arguments: dict = {}  # parameter name -> argument expression in the caller
    _frame_def = None  # the def this frame evaluates
    _depth = 0

    # --- calls of same-module helpers -------------------------------------------------------

    def _returned(self, call):
        """What `call` returns when it runs one known same-module def; `NO_HELPER` otherwise."""
        summaries = self.facts.get(Summaries)
        function = summaries.callee(call)
        if function is None:
            return NO_HELPER
        if self._depth >= MAX_FRAMES or any(frame._frame_def is function for frame in self._frames()):
            return UNKNOWN
        returned = _return_values(function)
        if not returned or any(isinstance(value, (cst.Tuple, cst.List)) for value in returned):
            return UNKNOWN  # a generator, no `return <value>`, or several values
        frame = self._frame(function, summaries.arguments(call, function))
        values = [frame._eval(value) for value in returned]
        if any(value is None for value in values):
            return UNKNOWN  # a list, a number: what the caller indexes out of it is not known
        return _join([frame._exported(value, call) for value in values])

    def _frames(self):
        frame = self
        while frame is not None:
            yield frame
            frame = frame._caller

    def _frame(self, function, arguments):
        frame = object.__new__(type(self))
        frame.__dict__.update(self.__dict__)
        frame._memo, frame._active = {}, set()
        for name, value in (("_parent", None), ("_fixed", None), ("_dirty", frozenset())):
            if name in frame.__dict__:  # copied from a one-path evaluator: a frame evaluates its own body
                frame.__dict__[name] = value
        frame._caller, frame._frame_def, frame._depth = self, function, self._depth + 1
        params = function.params
        first = next(iter((*params.posonly_params, *params.params)), None)
        # `self` stays the method's own `self`: `self.attr` is read from the class
        frame._arguments = {name: value for name, value in arguments.items()
                            if not (first is not None and name == first.name.value and name == "self")}
        return frame

    def _argument(self, binding):
        """The caller's layout of a parameter this frame binds, or `NO_ARGUMENT`."""
        if self._caller is None or binding.name not in self._arguments or not self._owns(binding):
            return NO_ARGUMENT
        return self._caller._eval(self._arguments[binding.name])

    def _argument_size(self, binding, depth):
        """The caller's size token of a parameter this frame binds, or `NO_ARGUMENT`."""
        if self._caller is None or binding.name not in self._arguments or not self._owns(binding):
            return NO_ARGUMENT
        return self._caller._size(self._arguments[binding.name], depth + 1)

    def _argument_dim(self, binding, index):
        """`x.shape[i]` of a parameter this frame binds: the caller's token, or `NO_ARGUMENT`."""
        if self._caller is None or binding.name not in self._arguments or not self._owns(binding):
            return NO_ARGUMENT
        argument = self._arguments[binding.name]
        return self._caller._dim_token(argument, index) if isinstance(argument, cst.Name) else None

    def _owns(self, binding) -> bool:
        """Is `binding` a parameter of the def this frame evaluates (not of a nested def)?"""
        flow = self.dataflow.function_of(self._frame_def)
        return any(b is binding for b in flow.bindings)

    def _exported(self, value, call):
        """A returned layout in the caller's terms: the helper's own sizes made per-call keys."""
        if not isinstance(value, Layout) or value.dims is None:
            return value
        mine = self._local_keys()
        suffix = f"@{id(call)}"

        def qualify(token):
            if token is None:
                return None
            return _KEY.sub(lambda m: m.group(0) + suffix if m.group(0) in mine else m.group(0), token)

        dims = tuple(Dim(qualify(d.size), d.rank, d.note) for d in value.dims)
        return replace(value, dims=dims)

    def _local_keys(self) -> set:
        flow = self.dataflow.function_of(self._frame_def)
        keys = set()
        for binding in flow.bindings:
            keys.add(str(id(binding)))
            if binding.value is not None:
                keys.add(str(id(binding.value)))
        return keys

    # --- operators ------------------------------------------------------------------------

    def _unary(self, expr):
        """`-x`, `+x`, `~x`: x's layout (elementwise); `not x` is a bool; `-0.5` a number."""
        if isinstance(expr.operator, cst.Not):
            return None
        operand = self._eval(expr.expression)
        if operand is None or not isinstance(operand, Layout):
            return None if operand is None else UNKNOWN
        return _elementwise(operand) if operand.tensor else UNKNOWN


def _return_values(function) -> list:
    """The expressions a def returns (nested defs, classes and lambdas left out); empty for a
    generator. `return None` and a bare `return` are left out: where the caller uses the
    result as a tensor, it is the tensor."""
    found, stack = [], [iter([function.body])]
    while stack:
        node = next(stack[-1], None)
        if node is None:
            stack.pop()
            continue
        if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if isinstance(node, (cst.Yield, cst.Await)):
            return []
        if isinstance(node, cst.Return) and node.value is not None:
            if not (isinstance(node.value, cst.Name) and node.value.value == "None"):
                found.append(node.value)
        stack.append(iter(children(node)))
    return found
