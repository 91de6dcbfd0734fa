from __future__ import annotations

from torchlint.rules._tensor_wording import cause_notes, merge_explanation

from torchlint._lazy import lazy_module
from torchlint.diagnostics import Applicability, Severity
from torchlint.facts.layout import Layouts
from torchlint.facts.layout_reshape import call_arguments, copying_reshape
from torchlint.rule import FixSpec, Invalid, Rule

cst = lazy_module("libcst")


class ViewNonContiguous(Rule):
    """## What it does
    Reports `.view(...)` on a tensor that is non-contiguous at that point (after `transpose`,
    `permute`, `t()`, `.T`, `.mT`, `movedim`, `swapaxes`, `expand`, step or inner-dimension
    slicing, `narrow`) when the new shape merges dimensions whose strides are incompatible.

    Silent after `.contiguous()`, and wherever the view is compatible with the strides:
    splitting a dimension, adding or dropping size-1 dimensions, or merging dimensions that stay
    adjacent and in order in memory (`x.permute(0, 2, 3, 1).view(B, H * W, C)` on a contiguous
    `(B, C, H, W)` tensor works). When torchlint cannot tell which dims merge, it stays silent.

    Layouts follow the code wherever it runs: inside functions and methods, at module level
    (scripts, notebook cells) and in class bodies. Sizes and memory order flow through
    assignments, tuple unpacking, `self.<attr>` set in `__init__`, `nn.Linear`, `nn.Embedding`
    and `nn.LayerNorm` outputs (fresh contiguous memory of known sizes), shape-preserving layers
    (`nn.Dropout`, activations), `unbind`/`chunk`/`split`, `@`/`matmul`, and elementwise ops,
    which keep their first operand's memory order when it is dense and not broadcast (so
    `pred.t().eq(...)[:k]` stays transposed, as in the usual top-k accuracy helper).
    `F.scaled_dot_product_attention`'s output layout depends on the backend: not judged.

    ## Why is this bad?
    `view` never copies: when the strides do not allow the new shape it raises
    `RuntimeError: view size is not compatible with input tensor's size and stride (at least one
    dimension spans across two contiguous subspaces). Use .reshape(...) instead.` The error
    appears only when that line runs, often deep inside a model's forward pass.

    ## Example
    ```python
    import torch

    def heads_to_tokens(x):
        B, H, N, D = x.shape
        return x.transpose(1, 2).view(B, N, H * D)
    ```

    ## Use instead
    ```python
    import torch

    def heads_to_tokens(x):
        B, H, N, D = x.shape
        return x.transpose(1, 2).reshape(B, N, H * D)
    ```

    ## Fix safety
    The fix replaces `.view` with `.reshape`, which copies here. It is unsafe: code that relied
    on the result sharing memory with the input (an in-place write meant to reach the original)
    would silently stop doing so. `.contiguous().view(...)` is the equivalent explicit spelling.

    ## Runtime verification
    The runtime mode runs the case and checks that the `.view` raises the "view size is not
    compatible" `RuntimeError`; for a silent trap it checks that the view succeeds and shares
    the input's storage.

    ## References
    - [torch.Tensor.view](https://pytorch.org/docs/stable/generated/torch.Tensor.view.html)
    - [Tensor views](https://pytorch.org/docs/stable/tensor_view.html)
    """

    code = "TL103"
    name = "view-non-contiguous"
    severity = Severity.ERROR
    summary = "`.view` that will raise because its input is non-contiguous in an incompatible way"
    tokens = (".view(",)

    VALID = (
        "import torch\ndef f(x):\n    B, C, H, W = x.shape\n    return x.permute(0, 2, 3, 1).view(B, H * W, C)\n",
        "import torch\ndef f(x):\n    B, N, C = x.shape\n    return x.transpose(1, 2).contiguous().view(B, -1)\n",
        "import torch\ndef f(x):\n    return x.transpose(1, 2).view(torch.float16)\n",
        "import numpy as np\ndef f():\n    a = np.zeros((2, 3))\n    return a.T.view(np.int64)\n",
    )
    INVALID = (
        Invalid(
            "import torch\ndef f(x):\n    B, N, C = x.shape\n    return x.transpose(1, 2).view(B, -1)  # expect: TL103\n",
            unsafe_fixed="import torch\ndef f(x):\n    B, N, C = x.shape\n    return x.transpose(1, 2).reshape(B, -1)  # expect: TL103\n",
        ),
        "import torch\ndef f():\n    x = torch.randn(4, 6)\n    return x.t().view(-1)  # expect: TL103\n",
    )

    def visit_Call(self, node) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "view"):
            return
        found = copying_reshape(self.facts.get(Layouts), node)
        if found is None:
            return
        message = (
            f"`.view({call_arguments(self.facts.module, node)})` raises here (`view size is not compatible with input "
            f"tensor's size and stride`): {merge_explanation(found)}"
        )
        notes = cause_notes(found)
        fix = FixSpec("Replace `.view` with `.reshape` (copies here)", Applicability.UNSAFE, ((func.attr, "reshape"),))
        self.report(
            node,
            message,
            notes=notes,
            help="use `.reshape(...)`, or `.contiguous().view(...)` to make the copy explicit",
            fix=fix,
        )
