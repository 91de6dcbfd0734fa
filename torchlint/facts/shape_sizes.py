"""Symbolic sizes of the tensor domain: the tokens `Layouts` compares.

Sizes are ints, symbols and products: "3" for a literal, `self.num_heads` as written, a key per
binding for `B, N, C = x.shape`, `x.size(0)`, `window_size[0]`, one key per value for
`h = w = int(n ** 0.5)`, products as sorted factors (`H * W` matches the dims `H` and `W`).
Unknown stays None. Also the size-giving literals: nested lists (`torch.tensor([[a, b]])`),
einsum equations that only permute, and a layer constructor's size arguments.
"""

from __future__ import annotations

from torchlint._lazy import lazy_module
from torchlint.facts.evidence import Evidence
from torchlint.facts.layout_ops import _code, _ranked
from torchlint.facts.shape_bounds import SizeBounds
from torchlint.facts.shape_values import NO_ARGUMENT
from torchlint.facts.tensors import Layout, Shows, _int, _looks_like_size, _single_int

cst = lazy_module("libcst")


class SizeTokens(SizeBounds):
    """Mixin of `Layouts`: size tokens of expressions (`_size`) and of reshape targets."""

    def _target_tokens(self, call):
        """Sizes passed to view/reshape/expand: a list of tokens ("-1" kept), or None."""
        values = self._target_values(call)
        return [self._size(v, 0) for v in values] if values is not None else None

    def _target_values(self, call):
        """The size expressions passed to view/reshape/expand, one per new dim, or None."""
        args = [a for a in call.args if a.keyword is None]
        if not args:  # `reshape(shape=(...))`, `view(size=(...))`
            args = [a for a in call.args if a.keyword is not None and a.keyword.value in ("shape", "size")]
            if len(args) != 1 or len(call.args) != 1 or not isinstance(args[0].value, (cst.Tuple, cst.List)):
                return None
        if len(args) == 1 and not args[0].star and is_size_sequence(args[0].value):
            return self._sequence_values(args[0].value, call)  # `(n, -1)`, `(n, -1) + x.shape[3:]`
        if len(args) == 1 and not args[0].star and (not _looks_like_size(args[0].value) or self._size(args[0].value, 0) is None):
            return None  # `view(shape)`, `view(torch.float16)`
        values = []
        for argument in args:  # `view(B, -1)`, `view(*x.shape[:2], -1)`
            part = self._sequence_values(argument.value, call) if argument.star == "*" else [argument.value]
            if part is None:
                return None
            values.extend(part)
        return values

    def _sequence_values(self, expr, call, depth=0):
        """The items of a size sequence written in the code, one expression per size: a tuple or
        list literal (its `*` items spliced), `a + b` of such sequences, `x.shape` and its slices
        `x.shape[i:j]` (one `x.shape[k]` per dim, when x's ndim is known). None otherwise."""
        if depth > 8:
            return None
        if isinstance(expr, (cst.Tuple, cst.List)):
            values = []
            for element in expr.elements:
                part = self._sequence_values(element.value, call, depth + 1) if isinstance(element, cst.StarredElement) else [element.value]
                if part is None:
                    return None
                values.extend(part)
            return values
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
            left = self._sequence_values(expr.left, call, depth + 1)
            right = self._sequence_values(expr.right, call, depth + 1) if left is not None else None
            return left + right if right is not None else None
        shape, window = _shape_window(expr)
        if shape is None:
            return None
        ndim = self._ndim_of(shape.value, call)
        if ndim is None:
            return None
        start, stop, _ = slice(*window).indices(ndim)
        # one `x.shape[k]` per dim: the same size tokens as the code spelling each would get
        return [cst.Subscript(shape, [cst.SubscriptElement(cst.Index(cst.Integer(str(k))))]) for k in range(start, stop)]

    def _ndim_of(self, tensor_expr, call):
        """The ndim of `tensor_expr`, known from its layout or, when it is the root of `call`'s
        receiver through ops that keep the ndim (`x.permute(0, 2, 1, 3, 4).reshape(... x.shape[3:])`),
        from the receiver's."""
        layout = self._eval(tensor_expr)
        if isinstance(layout, Layout) and layout.dims is not None:
            return len(layout.dims)
        if not isinstance(tensor_expr, cst.Name) or not isinstance(call.func, cst.Attribute):
            return None
        node = call.func.value
        while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in _NDIM_KEEPING:
            node = node.func.value
        if node is call.func.value or not isinstance(node, cst.Name) or node.value != tensor_expr.value:
            return None
        flow = self.dataflow.function_of(node)
        if flow is None or flow.binding_at(node) is None or flow.binding_at(node) is not flow.binding_at(tensor_expr):
            return None
        receiver = self._eval(call.func.value)
        return len(receiver.dims) if isinstance(receiver, Layout) and receiver.dims is not None else None


    # --- sizes ------------------------------------------------------------------------------

    def _size(self, expr, depth):
        if depth > 8:
            return None
        if isinstance(expr, cst.Integer):
            return str(int(expr.evaluated_value))
        if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus) and isinstance(expr.expression, cst.Integer):
            return "-" + expr.expression.value
        if isinstance(expr, cst.Name):
            return self._size_of_name(expr, depth)
        if isinstance(expr, cst.Subscript) and isinstance(expr.value, cst.Attribute) and expr.value.attr.value == "shape":
            index = _single_int(expr)
            return self._dim_token(expr.value.value, index) if index is not None else None
        if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "size":
            args = [a for a in expr.args if a.keyword is None]
            index = _int(args[0].value) if len(args) == 1 else None
            return self._dim_token(expr.func.value, index) if index is not None else None
        if isinstance(expr, cst.BinaryOperation):
            left, right = self._size(expr.left, depth + 1), self._size(expr.right, depth + 1)
            if left is None or right is None:
                return None
            op = type(expr.operator).__name__
            if op == "Multiply":
                return "*".join(sorted(left.split("*") + right.split("*")))
            return f"({left} {op} {right})"
        if isinstance(expr, cst.Attribute):
            return _code(self, expr)  # `self.num_heads`: the same text means the same size
        if isinstance(expr, cst.Subscript) and len(expr.slice) == 1 and isinstance(expr.slice[0].slice, cst.Index):
            # `window_size[0]`: an item of a local (or attribute) sequence, keyed by its binding
            index = _int(expr.slice[0].slice.value)
            base = expr.value
            if index is None:
                return None
            if isinstance(base, cst.Attribute):
                return f"{_code(self, base)}[{index}]"
            if isinstance(base, cst.Name):
                flow = self.dataflow.function_of(base)
                binding = flow.binding_at(base) if flow is not None else None
                if binding is not None:
                    return f"binding:{id(binding)}[{index}]"
                if flow is None or not flow.is_local_load(base):
                    return f"name:{base.value}[{index}]"
        return None

    def _size_of_name(self, name, depth):
        flow = self.dataflow.function_of(name)
        binding = flow.binding_at(name) if flow is not None else None
        if binding is None:
            return f"name:{name.value}" if flow is None or not flow.is_local_load(name) else None
        if binding.kind == "param":
            token = self._argument_size(binding, depth)  # a helper's parameter: the caller's size
            if token is not NO_ARGUMENT:
                return token
        if binding.kind == "unpack" and isinstance(binding.value, cst.Attribute) and binding.value.attr.value == "shape":
            return self._dim_token(binding.value.value, binding.index)
        if binding.kind == "unpack" and isinstance(binding.value, cst.Call) and isinstance(binding.value.func, cst.Attribute) and binding.value.func.attr.value == "size" and not binding.value.args:
            return self._dim_token(binding.value.func.value, binding.index)
        if binding.kind == "assign" and binding.value is not None:
            token = self._size(binding.value, depth + 1)
            # keyed by the value: `h = w = int(n ** 0.5)` gives h and w one size
            return token if token is not None else f"value:{id(binding.value)}"
        return f"binding:{id(binding)}"

    def _dim_token(self, tensor_expr, index):
        layout = self._eval(tensor_expr)
        if isinstance(layout, Layout) and layout.dims is not None and -len(layout.dims) <= index < len(layout.dims):
            return layout.dims[index].size
        if isinstance(layout, Layout) and layout.dims is None and index >= 0 and isinstance(tensor_expr, cst.Name):
            # `x.shape[0]` of a tensor of unknown ndim: one size per binding of x and dim
            binding = self.dataflow.function_of(tensor_expr).binding_at(tensor_expr)
            token = self._argument_dim(binding, index) if binding is not None and binding.kind == "param" else NO_ARGUMENT
            if token is not NO_ARGUMENT:
                return token
            return f"shape:{id(binding)}:{index}" if binding is not None else None
        return None


# Methods whose result has the receiver's ndim (ndim-changing forms such as `x.to(other)` do not exist).
_NDIM_KEEPING = frozenset({
    "permute", "transpose", "swapaxes", "swapdims", "movedim", "moveaxis", "contiguous", "float", "half",
    "double", "bfloat16", "to", "clone", "detach", "type_as",
})


def is_size_sequence(expr) -> bool:
    """A size sequence spelled in the code: a tuple/list literal, `a + b`, or `x.shape[i:j]`."""
    if isinstance(expr, (cst.Tuple, cst.List)):
        return True
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
        return is_size_sequence(expr.left) or is_size_sequence(expr.right)
    return _shape_window(expr)[0] is not None


def _shape_window(expr):
    """`x.shape` -> (`x.shape`, (None, None)), `x.shape[i:j]` -> (`x.shape`, (i, j)) with literal or
    absent bounds and no step; `(None, None)` for anything else."""
    if isinstance(expr, cst.Attribute) and expr.attr.value == "shape":
        return expr, (None, None)
    if not (isinstance(expr, cst.Subscript) and isinstance(expr.value, cst.Attribute) and expr.value.attr.value == "shape"
            and len(expr.slice) == 1 and isinstance(expr.slice[0].slice, cst.Slice)):
        return None, None
    window = expr.slice[0].slice
    if window.step is not None:
        return None, None
    bounds = [None if b is None else _int(b) for b in (window.lower, window.upper)]
    if any(b is None and given is not None for b, given in zip(bounds, (window.lower, window.upper))):
        return None, None
    return expr.value, tuple(bounds)


def _literal_tensor(value, call, shown) -> Layout:
    """`torch.tensor([[a, b]])`: the nesting of list literals gives the leading sizes.

    Exact dims when every leaf is a number literal; otherwise (leaves may be sequences) only
    the size-1 dims of the known prefix, counted from the left.
    """
    sizes, level, exact = [], [value], True
    while True:
        lengths = {len(item.elements) for item in level}
        if len(lengths) != 1 or any(isinstance(e, cst.StarredElement) for item in level for e in item.elements):
            return Layout(tensor=True, contiguous=True)
        sizes.append(str(lengths.pop()))
        inner = [e.value for item in level for e in item.elements]
        if inner and all(isinstance(e, (cst.List, cst.Tuple)) for e in inner):
            level = inner
            continue
        if any(isinstance(e, (cst.List, cst.Tuple)) for e in inner):
            return Layout(tensor=True, contiguous=True)  # ragged: torch raises
        exact = all(_int(e) is not None or isinstance(e, cst.Float) for e in inner)
        break
    notes = [Evidence(call, Shows.SIZE_ONE_BY, f"torch.tensor({shown})", dim=i) if size == "1" else None
             for i, size in enumerate(sizes)]
    if exact:
        return Layout(tensor=True, dims=_ranked(sizes, notes), contiguous=True)
    return Layout(tensor=True, ones_left=tuple((i, n) for i, n in enumerate(notes) if n is not None), contiguous=True)


def _constructor_argument(constructor, position, keywords):
    """The argument at `position` (or one of `keywords`) of a module's constructor call."""
    if constructor is None:
        return None
    for argument in constructor.args:
        if argument.keyword is not None and argument.keyword.value in keywords:
            return argument.value
    positional = [a for a in constructor.args if a.keyword is None]
    if len(positional) > position and not any(a.star for a in positional[: position + 1]):
        return positional[position].value
    return None


def _einsum_permutation(equation) -> list | None:
    """`"nhwpqc->nchpwq"`: the einsum only permutes its one operand (a view); the order, or None."""
    if not isinstance(equation, cst.SimpleString):
        return None
    text = equation.evaluated_value.replace(" ", "")
    source, arrow, target = text.partition("->")
    if not arrow or not source.isalpha() or not target.isalpha():
        return None
    if len(set(source)) != len(source) or sorted(source) != sorted(target):
        return None
    return [source.index(letter) for letter in target]

