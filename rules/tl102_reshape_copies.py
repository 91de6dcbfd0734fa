from __future__ import annotations

from torchlint._lazy import lazy_module
from torchlint.diagnostics import Severity
from torchlint.facts.layout import Layouts, call_arguments, copying_reshape
from torchlint.rules._tensor_wording import cause_notes, merge_explanation
from torchlint.rule import Invalid, Rule

cst = lazy_module("libcst")


class ReshapeCopies(Rule):
    """## What it does
    Reports `.reshape(...)` on a tensor that is non-contiguous at that point (after
    `transpose`, `permute`, `t()`, `.T`, `.mT`, `movedim`, `swapaxes`, `expand`, step or
    inner-dimension slicing, `narrow`) when the new shape merges dimensions whose strides are
    incompatible, so that the reshape has to copy.

    Splitting a dimension, adding or dropping size-1 dimensions, and merging dimensions that
    stay adjacent and in order in memory are views: `x.permute(0, 2, 3, 1).reshape(B, H * W, C)`
    on a contiguous `(B, C, H, W)` tensor copies nothing, and stays silent. Sizes are matched
    symbolically (`B, C, H, W = x.shape`, `x.size(0)`, `H * W`); when torchlint cannot tell
    which dims merge, it stays silent.

    ## Why is this bad?
    `reshape` returns a view when it can and silently copies the whole tensor when it cannot.
    The copy costs memory and bandwidth, and the result no longer shares memory with the input,
    so an in-place write to it does not reach the original. Writing `.contiguous()` (or
    restructuring the code so that no copy is needed) makes the cost visible.

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
    No fix: whether to make the copy explicit or to change the layout upstream is a design
    choice.

    ## Runtime verification
    The runtime mode runs the case and checks that the reshaped tensor's storage differs from
    the input's (`untyped_storage().data_ptr()`), i.e. that the reshape copied; for a silent
    trap it checks that the storage is shared.

    ## References
    - [torch.reshape](https://pytorch.org/docs/stable/generated/torch.reshape.html)
    - [torch.Tensor.view](https://pytorch.org/docs/stable/generated/torch.Tensor.view.html)
    """

    code = "TL102"
    name = "reshape-copies"
    severity = Severity.WARNING
    summary = "`.reshape` on a tensor that is non-contiguous there and needs a copy"
    tokens = (".reshape(",)

    VALID = (
        "import torch\ndef f(x):\n    B, C, H, W = x.shape\n    return x.permute(0, 2, 3, 1).reshape(B, H * W, C)\n",
        "import torch\ndef f(x):\n    B, N, C = x.shape\n    return x.transpose(1, 2).contiguous().reshape(B, -1)\n",
        "import torch\ndef f(x):\n    B, N, C = x.shape\n    return x.transpose(1, 2).reshape(B, C, 2, N // 2)\n",
        "import numpy as np\ndef f():\n    a = np.zeros((2, 3, 4))\n    return a.transpose(0, 2, 1).reshape(2, -1)\n",
        "import torch\ndef f(x):\n    B, N, C = x.shape\n    return x.transpose(0, 1).reshape(N, B, 2, C // 2)\n",
    )
    INVALID = (
        "import torch\ndef f(x):\n    B, N, C = x.shape\n    return x.transpose(1, 2).reshape(B, -1)  # expect: TL102\n",
        "import torch\ndef f():\n    x = torch.randn(2, 3, 4)\n    y = x.permute(2, 0, 1)\n    return y.reshape(24)  # expect: TL102\n",
    )

    def visit_Call(self, node) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "reshape"):
            return
        found = copying_reshape(self.facts.get(Layouts), node)
        if found is None:
            return
        message = (
            f"`.reshape({call_arguments(self.facts.module, node)})` copies the whole tensor here: {merge_explanation(found)}"
        )
        notes = cause_notes(found)
        self.report(
            node,
            message,
            notes=notes,
            help="make the copy explicit with `.contiguous()` before reshaping, or keep the layout so that no copy is needed",
        )
