from __future__ import annotations

from torchlint.rules._tensor_wording import cause_notes, merge_explanation, path_clause, product_text

from torchlint._lazy import lazy_module
from torchlint.diagnostics import Applicability, Severity
from torchlint.facts.layout import Layouts
from torchlint.facts.layout_reshape import call_arguments, copying_flatten, copying_reshape
from torchlint.facts.shape_sizes import is_size_sequence
from torchlint.rule import FixSpec, Invalid, Rule

cst = lazy_module("libcst")


class ReshapeCopies(Rule):
    """## What it does
    Reports `.reshape(...)` and `.flatten(...)` calls that hide a copy: the tensor is non-contiguous at that point
    (after `transpose`, `permute`, `t()`, `.T`, `.mT`, `movedim`, `swapaxes`, `expand`, step or
    inner-dimension slicing, `narrow`) and the new shape merges dimensions that are not adjacent
    in memory, so `reshape` cannot return a view and copies the whole tensor. The message names
    the merged dims and the operation that separated them, and the number of elements copied when
    the new shape spells it (`B * N * H * D`).

    Splitting a dimension, adding or dropping size-1 dimensions, and merging dimensions that
    stay adjacent and in order in memory are views: `x.permute(0, 2, 3, 1).reshape(B, H * W, C)`
    on a contiguous `(B, C, H, W)` tensor copies nothing, and stays silent. Sizes are matched
    symbolically (`B, C, H, W = x.shape`, `x.size(0)`, `H * W`), also in a new shape written as a
    sequence (`(B * F, -1) + x.shape[3:]`, `(*x.shape[:2], -1)`); a `self.<attr>` that the class
    sets once, in `__init__`, to a product counts as that product when the plain sizes do not tell
    (`self.dim_out_v = num_heads * self.dim_head_v`, with `self.num_heads = num_heads`: reshaping
    `(B * heads, dim_head_v, H * W)` after a transpose to `(B, self.dim_out_v, H, W)` merges the
    heads with `dim_head_v`, which lie apart in memory). When the sizes do not tell which
    dims merge, the memory order still may: after `x.permute(0, 3, 4, 2, 1)` the dims lie in four
    separate runs of memory, and a new shape with three entries cannot keep each run apart, so
    `.reshape(n, m, -1)` copies whatever the sizes. Otherwise torchlint stays silent.

    `flatten(start, end)` (and `torch.flatten`) has reshape's semantics: a view when dims
    `start..end` are one run in memory, else a copy. `x.permute(0, 2, 3, 1).flatten(1, 2)` is a
    view; `.flatten(2, 3)` copies. After a copying flatten the result is contiguous, so in
    `.flatten(6, 7).flatten(4, 5)` only the first is reported.

    Layouts follow the code wherever it runs: inside functions and methods, at module level
    (scripts, notebook cells) and in class bodies. Sizes and memory order flow through
    assignments, tuple unpacking, `self.<attr>` set in `__init__`, `nn.Linear`, `nn.Embedding`
    and `nn.LayerNorm` outputs (fresh contiguous memory of known sizes), convolutions (spatial
    sizes kept when the code spells a kernel and padding that make up for each other, the
    channel size kept when `in_channels` and `out_channels` are the same), shape-preserving layers
    (`nn.Dropout`, activations), pooling, upsampling, padding and transposed-conv modules (which,
    like the functions below, keep a channels-last input channels-last), blocks called from a loop
    over an `nn.ModuleList` or `nn.Sequential` (fresh memory, like any submodule's output), new
    shapes that repeat the receiver's own sizes (`x.reshape(-1, x.shape[-2], x.shape[-1])`),
    `unbind`/`chunk`/`split` (methods, and the `torch.split(x, ...)`
    spellings), `@`/`matmul`, `repeat_interleave`,
    `unflatten` (a dim split into adjacent dims), `torch.meshgrid` (broadcast views, stride 0
    along the other inputs' dims), `F.unfold`/`F.fold` (fresh contiguous memory), `torch.cat`,
    `F.pad`, `F.interpolate` and pooling (fresh memory, contiguous unless the input may be
    channels-last: it is taken as not channels-last when it is contiguous, has another ndim or a
    known memory order other than channels-last; a pad of zeros keeps the input's strides and is
    not judged), and elementwise ops,
    which keep their first operand's memory order when it is dense and not broadcast (so
    `pred.t().eq(...)[:k]` stays transposed, as in the usual top-k accuracy helper).
    `F.scaled_dot_product_attention`'s output is laid out as torch does on CPU: the fused CPU
    kernel returns fresh memory in q's memory order (q from a permuted `qkv` gives an output whose
    `transpose(1, 2)` is contiguous, so merging the heads is a view), and the math fallback (q not
    4-D, `dropout_p` > 0, a 3-D mask, v's head dim unlike q's) returns contiguous memory; a
    contiguous q (after `.contiguous()`, `torch.cat(..., dim=2)`, a fresh tensor) gives a contiguous
    output either way, and `x.transpose(1, 2).reshape(B, N, C)` then copies. When the kernel cannot
    be told (`dropout_p=self.attn_drop.p if self.training else 0.`, a mask of unknown rank) and q is
    not contiguous, or q comes from elsewhere, the output's memory order is unknown; so is it when
    q's own definitions differ (rotary embeddings' `torch.cat` makes q contiguous when a `rope`
    argument is given, the permuted `qkv` stays when it is None: configuration). On CUDA the
    flash and memory-efficient kernels return (B, N, h, d) memory whatever q is, so a merge that
    copies on CPU can be a view there: the finding describes CPU (and the math backend). In
    `attn @ v` with `attn` from elsewhere, `attn` is taken to be a (batch of) matrices with no
    more dims than `v`, so the product has `v`'s ndim, in fresh contiguous memory.

    Slicing: `[1:]`, `[:-1]`, `[::2]` and a literal bound under a literal size cut a dim, so
    merging it with its neighbour copies. A crop `[:L]` or `[a:a + L]` of a dim of known size `S`
    (a max-size grid: `grid.reshape(1, S, S, -1)[:, top:top + h, left:left + w]`) cuts it too when
    the code shows `L <= S`: a guard before it that raises when `L > S`, an `assert L <= S`,
    `L = min(L, S)`, `S` the length plus a literal (the last `S` of `1 + S`: `[:, -S:]`), or `S`
    a `max` of the lengths (`max_h = max(h for h, w in shapes)` with
    `for h, w in shapes`); merging the cropped dim with its outer neighbour then copies, whatever
    the grid's memory order (a view would need two indices to share memory), except in the
    degenerate case `L == S`, where the crop keeps the whole dim. A crop that may keep the whole
    dim (`freqs_cis[:h, :w]` of a grid whose size is not known, or `h` not bounded in the file) is
    taken as possibly whole (the dims inside it keep their memory order: in
    `x[:, :n].view(B, h, w, p, p, C).permute(0, 5, 1, 3, 2, 4).flatten(4, 5)` the grid's columns
    and each patch's columns lie apart either way), and only merges that copy either way are
    reported. Likewise a size that the file shows may be 1 (a parameter
    whose default is 1, or has a 1 in its default tuple, and the `self.<attr>` or
    `self.config.<attr>` that `__init__` sets from it, unless a top-level `assert p != 1`, `p > 1` or
    `p >= 2` in that function rules 1 out) is taken as possibly 1: a merge is reported
    only when it still copies with those dims at 1 (a size-1 dim has no place in memory, so
    merging it is a view, as `patch_size=1` configurations show).

    A name defined differently on several paths (`if ...: y = x.transpose(1, 2) else: y = x`)
    is judged on each: a reshape that copies on some paths and is a view on all the others is
    reported with the definition on whose path it copies (and no fix: `.contiguous()` would add
    a copy on the other paths). When some path's layout is unknown, the line is not judged; nor
    is it when one of the paths is a `scaled_dot_product_attention` call (`if self.fused_attn:`
    next to an `attn @ v` fallback): which branch runs is configuration, usually the fused one,
    and a copy on the other branch is not shown.

    ## Why is this bad?
    `reshape` returns a view when it can and a copy when it cannot, and the line reads the same
    either way. The copy costs memory and bandwidth for the whole tensor (in the backward pass
    too), and the result no longer shares memory with its input, so an in-place write to it does
    not reach the original. Often the copy is needed (merging attention heads, patchifying an
    image: the data has to move); the finding is there so that it is visible, spelled
    `.contiguous().view(...)`, which is where the copy happens, or avoided by keeping a layout in
    which the merged dims stay adjacent. Adding `.contiguous()` in front of `.reshape` does not
    remove the copy either: it moves it.

    When to ignore it: in code where every such copy is intended and you do not want to spell
    them out, turn the rule off for the project (or for some files, with `per-file-ignores`):

    ```toml
    [tool.torchlint]
    ignore = ["TL102"]
    ```

    ## Example
    ```python
    import torch

    def heads_to_tokens(x):
        B, H, N, D = x.shape
        return x.transpose(1, 2).reshape(B, N, H * D)
    ```

    ## Use instead
    ```python
    import torch

    def heads_to_tokens(x):
        B, H, N, D = x.shape
        return x.transpose(1, 2).contiguous().view(B, N, H * D)
    ```

    ## Fix safety
    The fix spells the copy: `.reshape(s)` becomes `.contiguous().view(s)`, which copies the
    same elements once and gives the same values and the same shape when the reshape does copy,
    as torchlint concluded. It is unsafe because that conclusion rests on assumptions about
    tensors whose origin is not in the file (a function's parameter is taken to be
    contiguous): where the input is in fact laid out so that the reshape is a view,
    `.contiguous()` adds a copy, and the result stops sharing memory with the input. Review it,
    then apply it with `--fix --unsafe-fixes`. No fix when the call has keyword arguments.
    For `x.flatten(s, e)` the fix writes `x.contiguous().flatten(s, e)`, on the same terms;
    `torch.flatten(x, ...)` gets no fix.

    ## Runtime verification
    The runtime mode runs the case and checks that the reshaped tensor's storage differs from
    the input's (`untyped_storage().data_ptr()`), i.e. that the reshape (or flatten) copied; for
    a silent trap it checks that the storage is shared.

    ## References
    - [torch.reshape](https://pytorch.org/docs/stable/generated/torch.reshape.html)
    - [torch.Tensor.view](https://pytorch.org/docs/stable/generated/torch.Tensor.view.html)
    - [torch.flatten](https://pytorch.org/docs/stable/generated/torch.flatten.html)
    - [torch.Tensor.contiguous](https://pytorch.org/docs/stable/generated/torch.Tensor.contiguous.html)
    """

    code = "TL102"
    name = "reshape-copies"
    severity = Severity.WARNING
    summary = "`.reshape`/`.flatten` on a tensor that is non-contiguous there and needs a copy"
    tokens = (".reshape(", "flatten(")

    VALID = (
        "import torch\ndef f(x):\n    B, C, H, W = x.shape\n    return x.permute(0, 2, 3, 1).reshape(B, H * W, C)\n",
        "import torch\ndef f(x):\n    B, N, C = x.shape\n    return x.transpose(1, 2).contiguous().reshape(B, -1)\n",
        "import torch\ndef f(x):\n    B, N, C = x.shape\n    return x.transpose(1, 2).reshape(B, C, 2, N // 2)\n",
        "import numpy as np\ndef f():\n    a = np.zeros((2, 3, 4))\n    return a.transpose(0, 2, 1).reshape(2, -1)\n",
        "import torch\ndef f(x):\n    B, N, C = x.shape\n    return x.transpose(0, 1).reshape(N, B, 2, C // 2)\n",
    )
    INVALID = (
        Invalid(
            "import torch\ndef f(x):\n    B, N, C = x.shape\n    return x.transpose(1, 2).reshape(B, -1)  # expect: TL102\n",
            unsafe_fixed="import torch\ndef f(x):\n    B, N, C = x.shape\n    return x.transpose(1, 2).contiguous().view(B, -1)  # expect: TL102\n",
        ),
        Invalid(
            "import torch\ndef f():\n    x = torch.randn(2, 3, 4)\n    y = x.permute(2, 0, 1)\n    return y.reshape(24)  # expect: TL102\n",
            unsafe_fixed="import torch\ndef f():\n    x = torch.randn(2, 3, 4)\n    y = x.permute(2, 0, 1)\n    return y.contiguous().view(24)  # expect: TL102\n",
        ),
    )

    def visit_Call(self, node) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "reshape":
            self._reshape(node, func)
        elif (isinstance(func, cst.Attribute) and func.attr.value == "flatten") or (
                isinstance(func, cst.Name) and func.value == "flatten"):
            self._flatten(node, func)

    def _reshape(self, node, func) -> None:
        found = copying_reshape(self.facts.get(Layouts), node, paths=True)
        if found is None:
            return
        module = self.facts.module
        shape = call_arguments(module, node)
        count = _element_count(module, node)
        copied = f"all `{count}` elements are copied" if count else "the whole tensor is copied"
        message = (f"`.reshape({shape})` hides a copy{path_clause(module, found)}: {merge_explanation(found)}, "
                   f"so {copied} into new memory")
        notes = cause_notes(found)
        # `view` takes the shape positionally (`reshape(shape=...)` has no `view(shape=...)`)
        explicit = f".contiguous().view({', '.join(a.star + module.code_for_node(a.value) for a in node.args)})"
        fix = None
        # a copy on one path only: `.contiguous()` would add a copy on the others
        if found.when is None and not any(argument.keyword is not None for argument in node.args):
            # Only the method's name changes: `reshape` -> `contiguous().view`, arguments as written.
            fix = FixSpec(f"Spell the copy: `{explicit}`", Applicability.UNSAFE, ((func.attr, "contiguous().view"),))
        self.report(
            node,
            message,
            notes=notes,
            help=f"if the copy is needed, write `{explicit}` so that it shows; "
            "otherwise keep a layout in which these dims stay adjacent, so that no copy is needed",
            fix=fix,
        )

    def _flatten(self, node, func) -> None:
        found = copying_flatten(self.facts.get(Layouts), node, paths=True)
        if found is None:
            return
        module = self.facts.module
        method = isinstance(func, cst.Attribute) and self.facts.names.qualified_name(func) is None
        shown = f".flatten({call_arguments(module, node)})" if method else f"{module.code_for_node(func)}({call_arguments(module, node)})"
        message = (f"`{shown}` hides a copy{path_clause(module, found)}: {merge_explanation(found)}, "
                   "so the whole tensor is copied into new memory")
        fix = None
        if method and found.when is None:
            explicit = f".contiguous().flatten({call_arguments(module, node)})"
            # Only the method's name changes: `flatten` -> `contiguous().flatten`, arguments as written.
            fix = FixSpec(f"Spell the copy: `{explicit}`", Applicability.UNSAFE, ((func.attr, "contiguous().flatten"),))
            advice = f"if the copy is needed, write `{explicit}` so that it shows"
        elif method:
            advice = f"if the copy is needed, write `.contiguous().flatten({call_arguments(module, node)})` so that it shows"
        else:
            advice = "if the copy is needed, call `.contiguous()` on the tensor first so that it shows"
        self.report(
            node,
            message,
            notes=cause_notes(found),
            help=advice + "; otherwise keep a layout in which these dims stay adjacent, so that no copy is needed",
            fix=fix,
        )


def _element_count(module, call) -> str | None:
    """The number of elements as the new shape spells it (`B * N * H * D`), or None with a -1."""
    values = [argument.value for argument in call.args if argument.keyword is None]
    if len(values) == 1 and isinstance(values[0], (cst.Tuple, cst.List)):
        values = [element.value for element in values[0].elements]
    elif len(values) == 1 and is_size_sequence(values[0]):
        return None  # `(n, -1) + x.shape[3:]`: a sequence, not a count
    if not values or any(_is_minus_one(value) or isinstance(value, cst.StarredElement) for value in values):
        return None
    return product_text(module, values)


def _is_minus_one(expr) -> bool:
    return (
        isinstance(expr, cst.UnaryOperation)
        and isinstance(expr.operator, cst.Minus)
        and isinstance(expr.expression, cst.Integer)
        and expr.expression.value == "1"
    )
