"""Upper bounds on sizes that the code shows: is a crop's length at most the size of the dim it crops?

`grid[:, top:top + height]` of a dim of size `S` keeps the whole dim when `height == S` and cuts
it otherwise. The crop is known to be no longer than the dim when the code says so:

- a guard that stops on the longer case before the crop, in an enclosing block:
  `if height > S: raise ...` (or `S < height`), `assert height <= S` (or `S >= height`);
- the size is the length plus a positive literal (`x.reshape(n, 1 + S, C)[:, -S:]`);
- the length is a `min(...)` with `S` among its arguments (`h = min(h, S)`);
- `S` is a `max(...)` with the length among its arguments, or a `max` over a generator whose
  items are drawn from the same sequence as the length: `max_h = max(h for h, w in shapes)`
  bounds the `h` of `for h, w in shapes` and of `for i, (h, w) in enumerate(shapes)`.

Sizes are compared as `SizeTokens` (the same token is the same size), so a guard on a name that
was rebound after it does not count. A mixin of `Layouts`.
"""

from __future__ import annotations

from torchlint._lazy import lazy_module

cst = lazy_module("libcst")


class SizeBounds:
    """Mixin of `Layouts`: whether a length expression is known to be at most a size token."""

    def _at_most(self, length, length_token: str, size_token: str, at) -> bool:
        """Does the code show `length` (with token `length_token`) <= the size `size_token`, at `at`?"""
        return (_sum_with(size_token, length_token) or self._guarded(length_token, size_token, at)
                or self._min_of(length, size_token) or self._under_max(length, length_token, size_token))

    # --- guards ---------------------------------------------------------------------------

    def _guarded(self, length_token, size_token, at) -> bool:
        """A statement before `at`'s statement, in a block around it, that stops unless length <= size."""
        node = at
        for _ in range(256):
            parent = self.dataflow.parent(node)
            if parent is None or isinstance(parent, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                return False
            body = getattr(parent, "body", None)
            if isinstance(body, (list, tuple)):
                index = next((i for i, s in enumerate(body) if s is node), 0)
                if any(self._stops_when_longer(s, length_token, size_token) for s in body[:index]):
                    return True
            node = parent
        return False

    def _stops_when_longer(self, statement, length_token, size_token) -> bool:
        if isinstance(statement, cst.If) and statement.orelse is None and _raises(statement.body):
            return self._compares(statement.test, length_token, size_token, (cst.GreaterThan,), (cst.LessThan,))
        if isinstance(statement, cst.SimpleStatementLine):
            return any(isinstance(small, cst.Assert) and self._compares(
                small.test, length_token, size_token, (cst.LessThanEqual,), (cst.GreaterThanEqual,))
                for small in statement.body)
        return False

    def _compares(self, test, length_token, size_token, length_first, size_first) -> bool:
        """`test` is `length <op> size` with op in `length_first`, or `size <op> length` with op in `size_first`."""
        if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
            return False
        operator, right = test.comparisons[0].operator, test.comparisons[0].comparator
        pair = (self._size(test.left, 0), self._size(right, 0))
        if isinstance(operator, length_first):
            return pair == (length_token, size_token)
        if isinstance(operator, size_first):
            return pair == (size_token, length_token)
        return False

    # --- min and max ----------------------------------------------------------------------

    def _min_of(self, length, size_token) -> bool:
        """`length` is a name bound once to `min(..., S, ...)`."""
        value = self._bound_value(length)
        return _is_call_of(value, "min") and any(
            a.keyword is None and not a.star and self._size(a.value, 0) == size_token for a in value.args)

    def _under_max(self, length, length_token, size_token) -> bool:
        """The size is `max(..., length, ...)`, or a `max` over the sequence `length` is drawn from."""
        if not size_token.startswith("value:"):
            return False
        flow = self.dataflow.function_of(length)
        if flow is None:
            return False
        found = next((b.value for b in flow.bindings if b.value is not None and f"value:{id(b.value)}" == size_token), None)
        if not _is_call_of(found, "max"):
            return False
        args = [a for a in found.args if a.keyword is None]
        if any(a.star for a in args):
            return False
        if len(args) >= 2:
            return any(self._size(a.value, 0) == length_token for a in args)
        if len(args) == 1 and isinstance(args[0].value, (cst.GeneratorExp, cst.ListComp)):
            return self._drawn_alike(args[0].value, length, flow)
        return False

    def _drawn_alike(self, comprehension, length, flow) -> bool:
        """`max(h for h, w in shapes)` and a loop `for (i,) (h, w) in (enumerate)(shapes)` binding `length`."""
        if not isinstance(length, cst.Name) or not isinstance(comprehension.elt, cst.Name):
            return False
        clause = comprehension.for_in
        if clause.inner_for_in is not None or clause.ifs:
            return False
        inner = _path_to(clause.target, comprehension.elt.value)
        binding = flow.binding_at(length) if flow.is_local_load(length) else None
        loop = binding.statement if binding is not None else None
        if inner is None or not isinstance(loop, cst.For) or not isinstance(clause.iter, cst.Name):
            return False
        target, sequence = loop.target, loop.iter
        if isinstance(sequence, cst.Call) and _is_call_of(sequence, "enumerate") and len(sequence.args) == 1:
            if not (isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2):
                return False
            target, sequence = target.elements[1].value, sequence.args[0].value
        if not isinstance(sequence, cst.Name) or sequence.value != clause.iter.value:
            return False
        if _path_to(target, length.value) != inner:
            return False
        # the same sequence: one binding reaches both the loop and the generator
        outer = flow.binding_at(sequence) if flow.is_local_load(sequence) else None
        return outer is not None and flow.is_local_load(clause.iter) and flow.binding_at(clause.iter) is outer

    def _bound_value(self, expr):
        """The value a local name is bound to by its one reaching assignment, or None."""
        if not isinstance(expr, cst.Name):
            return None
        flow = self.dataflow.function_of(expr)
        binding = flow.binding_at(expr) if flow is not None and flow.is_local_load(expr) else None
        return binding.value if binding is not None and binding.kind == "assign" else None


def _sum_with(size_token: str, length_token: str) -> bool:
    """The size is the length plus a positive literal (`sub = 1 + S` for the last `S` of it)."""
    for left, right in ((f"({length_token} Add ", ")"), ("(", f" Add {length_token})")):
        if size_token.startswith(left) and size_token.endswith(right):
            rest = size_token[len(left): len(size_token) - len(right)]
            return rest.isdigit() and int(rest) > 0
    return False


def _raises(body) -> bool:
    statements = getattr(body, "body", ())
    last = statements[-1] if statements else None
    return isinstance(last, cst.SimpleStatementLine) and any(isinstance(s, cst.Raise) for s in last.body)


def _is_call_of(expr, name: str) -> bool:
    return isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == name


def _path_to(target, name: str):
    """Where `name` sits in a (nested) tuple target: `(h, w)` -> h is (0,), w is (1,); None if absent."""
    if isinstance(target, cst.Name):
        return () if target.value == name else None
    if isinstance(target, (cst.Tuple, cst.List)):
        for index, element in enumerate(target.elements):
            if isinstance(element, cst.StarredElement):
                return None
            inner = _path_to(element.value, name)
            if inner is not None:
                return (index, *inner)
    return None
