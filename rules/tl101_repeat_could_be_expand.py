from __future__ import annotations

from torchlint.rules._tensor_wording import escape_text, layout_label, product_text

from torchlint._lazy import lazy_module
from torchlint.diagnostics import Applicability, Severity
from torchlint.facts.shape_scope import ScopedDataflow
from torchlint.facts.fate import Fate, fate_of
from torchlint.facts.layout import Layouts
from torchlint.facts.shape_joins import joined_ndim_at_least
from torchlint.facts.shape_uses import concatenated_with_source, handed_on
from torchlint.rule import FixSpec, Invalid, NodeNote, Rule

cst = lazy_module("libcst")



class RepeatCouldBeExpand(Rule):
    """## What it does
    Reports `x.repeat(...)` when every factor other than 1 lands on a dimension of `x` known to
    have size 1 (from `unsqueeze`, `None` indexing, a length-1 slice, a `keepdim=True`
    reduction, `view`/`reshape` with a literal 1, a constructor such as `torch.zeros(1, n)` or a
    parameter created that way in `__init__`, a nested literal such as `torch.tensor([[a, b]])`,
    `unsqueeze` of an `nn.Embedding` output) or on a new leading dimension (more factors than
    the input has dims, also in the tuple form `repeat((n, 1, 1))`), and the result is only read
    afterwards. Values are followed through same-module helpers and methods (`rows =
    add_batch_dim(x)`), and the number of dims of a slice is also told by a later `torch.cat`
    of the result with the sliced tensor (`torch.cat([x, x[:, :, -1:].repeat(1, 1, n, 1, 1)])`:
    `cat` raises unless both have the same number of dims), or by a `torch.cat`/`torch.stack`
    with a `dim` along the receiver (`torch.cat(xs, dim=1).unsqueeze(1).repeat(1, n, 1)`: dim 1
    must exist, so the receiver has at least 3 dims, and `repeat` raises on more dims than
    factors). Module-level code (scripts, notebook cells) is checked like a function body;
    a repeat bound as a class attribute is not reported (any method may write it).

    A receiver without an annotation counts as a tensor when the module imports torch and the
    value is used with a torch-only signature: `.permute`, `.expand`, `.unsqueeze`,
    `.contiguous()`, `.view(<ints>)`, an in-place `*_` method, or a `dim=`/`keepdim=` keyword.
    `.repeat`, `.reshape` and `.transpose` alone are no evidence: NumPy has them with other
    meanings.

    Factors align with the trailing dimensions (torch pads missing leading ones), so positions
    are mapped from the right. Silent when a repeated dimension is not known to be 1, when the
    result or an alias of it is written in place (`y[...] = v`, `y.add_()`, `out=y`, a function
    of the same module that writes its argument), when the result is later `view`-ed,
    reshaped, flattened or made contiguous (expand would raise or copy anyway), for receivers
    that are not tensors (numpy, pandas, `itertools`, `einops.repeat`), for
    `repeat_interleave`, when the result is the weight of a torch convolution (directly or as a
    `self.<attr>` the class convolves with: conv2d copies a stride-0 weight into contiguous
    memory on every call), and when it is handed inside a dict, list or tuple display to a call
    torchlint cannot see (consumers of batched outputs, such as detection matchers, flatten them,
    which copies an expanded tensor anyway).

    ## Why is this bad?
    `repeat` always allocates and copies: `x.repeat(B, 1, 1)` on a `(1, N, D)` tensor writes `B`
    copies of it into new memory. `x.expand(B, -1, -1)` returns a view of the same values with
    stride 0 on the grown dimension: no allocation, no copy, and the same result for every
    operation that only reads it (matmul, addition, `torch.cat`, indexing...).

    ## Example
    ```python
    import torch

    def add_cls(tokens, cls_token):
        B = tokens.shape[0]
        cls = cls_token.unsqueeze(0).repeat(B, 1, 1)
        return torch.cat([cls, tokens], dim=1)
    ```

    ## Use instead
    ```python
    import torch

    def add_cls(tokens, cls_token):
        B = tokens.shape[0]
        cls = cls_token.unsqueeze(0).expand(B, -1, -1)
        return torch.cat([cls, tokens], dim=1)
    ```

    ## Fix safety
    The fix rewrites the call to `expand` with `-1` for the kept dimensions, and is offered only
    when the number of dimensions is known. It is safe when every use of the result is a known
    non-mutating operation in the same function. It is unsafe when the value escapes (returned,
    stored on `self`, passed to a call torchlint cannot see into): a later in-place write there
    would raise on the expanded tensor, or write through to every repeated row.

    ## Runtime verification
    The runtime mode runs the case, measures the bytes `repeat` allocates, replaces it with the
    suggested `expand` and checks that this allocates nothing and yields equal values; for a
    silent trap it checks that the substitution would fail or change the result.

    ## References
    - [torch.Tensor.expand](https://pytorch.org/docs/stable/generated/torch.Tensor.expand.html)
    - [torch.Tensor.repeat](https://pytorch.org/docs/stable/generated/torch.Tensor.repeat.html)
    """

    code = "TL101"
    name = "repeat-could-be-expand"
    severity = Severity.WARNING
    summary = "`.repeat` only grows size-1 (or new leading) dims and the result is only read"
    tokens = (".repeat(",)

    VALID = (
        "import torch\ndef f(x, n):\n    return x.repeat(n, 1)\n",
        "import torch\ndef f(x, n):\n    y = x.unsqueeze(0).repeat(n, 1, 1)\n    y[0] = 0\n    return y.sum()\n",
        "import torch\ndef f(x, n):\n    return x.unsqueeze(1).repeat(1, n, 1)\n",
        "import numpy as np\ndef f(n):\n    a = np.zeros((1, 3))\n    return a.repeat(n, 0)\n",
        "import itertools\ndef f(n):\n    return list(itertools.repeat(1, n))\n",
        "import torch\ndef f(x, n):\n    return x.unsqueeze(0).repeat(n, 1, 1).view(-1)\n",
        "import torch\ndef f(x, n):\n    return x.repeat_interleave(n, dim=0)\n",
        "import torch\nimport torch.nn.functional as F\ndef f(x, c):\n    k = torch.ones(1, 1, 3, 3).repeat(c, 1, 1, 1)\n"
        "    return F.conv2d(x, k, groups=c)\n",
        "import torch\ndef f(logits, matcher):\n    return matcher({'pred_logits': logits.unsqueeze(0).repeat(2, 1, 1)})\n",
    )
    INVALID = (
        Invalid(
            "import torch\ndef f(x, n):\n    y = torch.zeros(1, 4).repeat(n, 1)  # expect: TL101\n    return (y * x).sum()\n",
            fixed="import torch\ndef f(x, n):\n    y = torch.zeros(1, 4).expand(n, -1)  # expect: TL101\n    return (y * x).sum()\n",
        ),
        "import torch\ndef f(x, n):\n    return x.unsqueeze(-1).repeat(1, 1, n)  # expect: TL101\n",
        "import torch\ndef f(x, n):\n    m = x.mean(dim=-1, keepdim=True)\n    return x - m.repeat(1, 1, n)  # expect: TL101\n",
    )

    def visit_Call(self, node) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "repeat"):
            return
        factors = _factors(node)
        if not factors or all(_is_one(f) for f in factors):
            return
        receiver = func.value
        if self.facts.names.qualified_name(receiver) is not None:
            return  # `einops.repeat`, `itertools.repeat`, `np.repeat`: a module's function
        dataflow = self.facts.get(ScopedDataflow)  # functions, class bodies and module-level code
        layout = self.facts.get(Layouts).of(receiver)
        if layout is None or not (layout.tensor or (layout.tensor is None and len(factors) >= 3)):
            return
        joined = None
        exact = _index_gives_ndim(receiver, len(factors))
        bounded = not exact and layout.dims is None and layout.at_least == len(factors)
        if not exact and not bounded and layout.dims is None:
            joined = concatenated_with_source(self.facts, node)  # `torch.cat([x, x[:, -1:].repeat(...)])`
        # `repeat` raises on more dims than factors: a lower bound of k dims means exactly k
        evidence = _grown_dims(layout, factors, exact or bounded or joined is not None)
        if evidence is None:
            return
        extra = _bound_notes(self.facts, receiver, len(factors)) if bounded else []
        if isinstance(dataflow.function_of(node).scope, cst.ClassDef) and _bound(node, dataflow):
            return  # a class attribute: any method, any instance may write it
        fated = fate_of(node, dataflow, self.facts)
        if fated.fate in (Fate.READ_ONLY, Fate.ESCAPES) and handed_on(self.facts, node) is not None:
            return  # a conv weight (copied there anyway) or a display handed out of sight
        if fated.fate is Fate.READ_ONLY:
            self._report(node, layout, factors, evidence, False, joined, extra)
        elif fated.fate is Fate.ESCAPES:
            self._report(node, layout, factors, evidence, escape_text(fated.escape), joined, extra)
        # written, viewed or kept as state: `expand` would raise, copy anyway, or be written through

    def _report(self, node, layout, factors, evidence, escape, joined=None, extra=()) -> None:
        module = self.facts.module
        texts = [module.code_for_node(f) for f in factors]
        grown = [texts[i] for i, *_ in evidence]
        times = f"`{grown[0]}`" if len(grown) == 1 else f"`{product_text(module, [factors[i] for i, *_ in evidence])}`"
        if len(grown) == 1 and grown[0].isdigit():
            times = f"{grown[0]}"
        args = _expand_args(layout, factors, texts)
        repeat_text = f".repeat({', '.join(texts)})"
        expand_text = f".expand({', '.join(args)})"
        message = (
            f"`{repeat_text}` copies its input {times} times into new memory; "
            f"`{expand_text}` gives the same values as a view that allocates nothing"
        )
        notes = [NodeNote(where if where is not None else node, label) for _, label, where in evidence]
        notes += [NodeNote(where, label) for where, label in extra]
        if joined is not None:
            source = module.code_for_node(joined.source)
            notes.append(NodeNote(joined.source, f"`{source}` is concatenated with the result, so it has {len(factors)} dims"))
        fix = None
        if layout.ndim is not None or extra:  # `extra`: the number of dims is bounded to exactly k
            applicability = Applicability.SAFE if escape is False else Applicability.UNSAFE
            new = module.code_for_node(node.func.value) + expand_text
            fix = FixSpec(f"Replace `{repeat_text}` with `{expand_text}`", applicability, ((node, new),))
        help_text = f"use `{expand_text}`"
        if escape:
            help_text += f"; the result is {escape}, so check that nothing writes to it in place"
        self.report(node, message, notes=notes, help=help_text, fix=fix)


def _bound_notes(facts, receiver, k) -> list:
    """The `torch.cat(..., dim=d)` along the receiver's chain that tells its number of dims."""
    node = receiver
    while isinstance(node, cst.Call):
        bound = joined_ndim_at_least(facts.names.qualified_name(node.func), node)
        if bound:
            name = facts.module.code_for_node(node.func)
            label = (f"`{name}(...)` with this `dim` has at least {bound} dims; `repeat` raises on more dims "
                     f"than its {k} factors, so the repeated tensor has exactly {k}")
            return [(node.func, label)]
        if not isinstance(node.func, cst.Attribute):
            break
        node = node.func.value
    return []


def _bound(node, dataflow) -> bool:
    """Is the value of `node` (through views of it) bound to a name?"""
    parent = dataflow.parent(dataflow.alias_top(node))
    return isinstance(parent, (cst.Assign, cst.AnnAssign, cst.AugAssign, cst.NamedExpr))


def _factors(call) -> list | None:
    args = call.args
    if not args or any(a.keyword is not None or a.star for a in args):
        return None
    if len(args) == 1 and isinstance(args[0].value, (cst.Tuple, cst.List)):
        elements = args[0].value.elements
        if any(isinstance(e, cst.StarredElement) for e in elements):
            return None
        return [e.value for e in elements]
    return [a.value for a in args]


def _is_one(expr) -> bool:
    return isinstance(expr, cst.Integer) and expr.value == "1"


def _index_gives_ndim(receiver, k: int) -> bool:
    """Does `x[...]` (no `...`) prove that the indexed tensor has exactly `k` dims?

    The index consumes `s` dims with slices and ints, so x has at least `s` dims; the result has
    x.ndim - ints + Nones dims, and `repeat` with k factors raises unless that is at most k. When
    both bounds meet, the result has exactly k dims and factor i lands on dim i.
    """
    if not isinstance(receiver, cst.Subscript):
        return False
    consumed = ints = nones = 0
    for element in receiver.slice:
        item = element.slice
        if isinstance(item, cst.Slice):
            consumed += 1
        elif isinstance(item.value, cst.Ellipsis):
            return False
        elif isinstance(item.value, cst.Name) and item.value.value == "None":
            nones += 1
        elif isinstance(item.value, (cst.Integer, cst.UnaryOperation)):
            consumed += 1
            ints += 1
        else:
            return False
    return consumed == k + ints - nones


def _grown_dims(layout, factors, exact_ndim: bool = False) -> list | None:
    """(factor index, label, node or None) for every factor other than 1, or None if one lands on a dim
    not known to be 1."""
    k = len(factors)
    found = []
    if layout.dims is None and exact_ndim:
        for i, factor in enumerate(factors):
            if _is_one(factor):
                continue
            note = layout.one_left(i)
            if note is None:
                return None
            found.append((i, *_said(note)))
        return found
    if layout.dims is not None:
        n = len(layout.dims)
        if k < n:
            return None  # torch raises: fewer factors than dims
        for i, factor in enumerate(factors):
            if _is_one(factor):
                continue
            d = i - (k - n)
            if d < 0:
                found.append((i, f"factor {i} creates a new leading dim (the input has {n} dims)", None))
            elif layout.dims[d].size == "1":
                found.append((i, *_said(layout.one_left(d))))
            else:
                return None
        return found
    for i, factor in enumerate(factors):
        if _is_one(factor):
            continue
        note = layout.one_right(k - 1 - i)
        if note is None and all(layout.one_left(j) is not None for j in range(i + 1)):
            note = layout.one_left(i)  # a size-1 prefix: size 1 or a new leading dim for any ndim
        if note is None:
            return None
        found.append((i, *_said(note)))
    return found


def _said(evidence) -> tuple:
    return layout_label(evidence), evidence.node


def _expand_args(layout, factors, texts) -> list[str]:
    k = len(factors)
    new_leading = k - layout.ndim if layout.ndim is not None else 0
    return [
        texts[i] if not _is_one(f) or i < new_leading else "-1"
        for i, f in enumerate(factors)
    ]
