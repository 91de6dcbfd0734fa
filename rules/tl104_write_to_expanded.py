from __future__ import annotations

from torchlint.rules._tensor_wording import write_text

from torchlint._lazy import lazy_module
from torchlint.diagnostics import Severity
from torchlint.facts.dataflow import ALIAS_METHODS
from torchlint.facts.shape_scope import ScopedDataflow
from torchlint.facts.layout import Layouts
from torchlint.rule import NodeNote, Rule

cst = lazy_module("libcst")

# Methods that keep an expanded tensor's shared memory: `contiguous`, `reshape`, `clone` copy it.
SHARING_METHODS = ALIAS_METHODS - {"contiguous", "reshape", "reshape_as", "flatten", "to", "float", "half",
                                   "double", "bfloat16", "type", "type_as", "cuda", "cpu"}


class WriteToExpanded(Rule):
    """## What it does
    Reports an in-place write (`y[...] = v`, `y += v`, `y.add_()`, `y.copy_()`, `out=y`,
    `inplace=True`, or a function of the same module that writes its argument) into a tensor
    produced by `.expand` on a dimension known to have size 1 (or a new leading dimension), or
    into a view or alias of it. Copies (`.contiguous()`, `.clone()`, `.reshape`) end the
    tracking. New leading dimensions count when the input's number of dims is known
    (`torch.zeros(3).expand(4, -1)`), and module-level code (scripts, notebook cells) is checked
    like a function body.

    ## Why is this bad?
    `expand` does not allocate: every element along a grown dimension is the same memory
    location (stride 0). A write that touches several of them raises `RuntimeError: unsupported
    operation: more than one element of the written-to tensor refers to a single memory
    location. Please clone() the tensor before performing the operation.` A write that touches
    one element per location (`y[0] = v`) succeeds and silently changes every repeated row, and
    the tensor that was expanded.

    ## Example
    ```python
    import torch

    def masked_tokens(token, n):
        tokens = token.unsqueeze(0).expand(n, -1)
        tokens[0] = 0.0
        return tokens
    ```

    ## Use instead
    ```python
    import torch

    def masked_tokens(token, n):
        tokens = token.unsqueeze(0).expand(n, -1).clone()
        tokens[0] = 0.0
        return tokens
    ```

    ## Fix safety
    No fix: `.clone()` (or `repeat`) allocates the memory the code apparently meant to write, but
    whether the write was meant to reach the source is for the author to decide.

    ## Runtime verification
    The runtime mode runs the case and checks that the write raises the "more than one element
    of the written-to tensor refers to a single memory location" error, or that it changed the
    expanded tensor's source storage; for a silent trap it checks that the written tensor owns
    its memory.

    ## References
    - [torch.Tensor.expand](https://pytorch.org/docs/stable/generated/torch.Tensor.expand.html)
    - [Tensor views](https://pytorch.org/docs/stable/tensor_view.html)
    """

    code = "TL104"
    name = "write-to-expanded"
    severity = Severity.ERROR
    summary = "In-place write into an `expand`-ed tensor (raises, or silently writes shared memory)"
    tokens = (".expand",)

    VALID = (
        "import torch\ndef f(x, n):\n    y = x.unsqueeze(0).expand(n, -1).clone()\n    y[0] = 1\n    return y\n",
        "import torch\ndef f(x, n):\n    y = x.unsqueeze(0).expand(n, -1)\n    return y + 1\n",
        "import torch\ndef f(x, n):\n    y = x.expand(n, -1)\n    y.add_(1)\n    return y\n",
        "import torch\ndef f(x, n):\n    y = x.unsqueeze(0).expand(n, -1).contiguous()\n    y.mul_(2)\n    return y\n",
    )
    INVALID = (
        "import torch\ndef f(x, n):\n    y = x.unsqueeze(0).expand(n, -1)\n    y[0] = 1  # expect: TL104\n    return y\n",
        "import torch\ndef f(n):\n    y = torch.zeros(1, 4).expand(n, 4)\n    y.add_(1)  # expect: TL104\n    return y\n",
        "import torch\ndef f(x, n):\n    x[:, None].expand(-1, n, -1).fill_(0)  # expect: TL104\n",
    )

    def visit_Call(self, node) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value in ("expand", "expand_as")):
            return
        dataflow = self.facts.get(ScopedDataflow)
        flow = dataflow.function_of(node)
        if flow is None:
            return
        layout = self.facts.get(Layouts).of(node)
        if layout is None or layout.expanded is None:
            return
        for write in _writes(node, dataflow, flow):
            self.report(
                write.node,
                f"in-place write into an expanded tensor: it is {write_text(write)}, but the dims grown by "
                "`expand` share one memory location, so this raises or silently writes every repeated "
                "row and the source",
                notes=[NodeNote(node, "expanded here: grown dims have stride 0")],
                help="`.clone()` the expanded tensor (or use `repeat`) before writing to it",
            )


def _writes(call, dataflow, flow) -> list:
    direct = dataflow.write_at(call, None, methods=SHARING_METHODS)
    if direct is not None:
        return [direct]
    top = dataflow.alias_top(call, SHARING_METHODS)
    parent = dataflow.parent(top)
    if isinstance(parent, cst.Assign) and parent.value is top and len(parent.targets) == 1:
        target = parent.targets[0].target
        if isinstance(target, cst.Name):
            binding = flow.binding_for_target(target)
            if binding is not None:
                return flow.writes(binding, methods=SHARING_METHODS)
    return []
