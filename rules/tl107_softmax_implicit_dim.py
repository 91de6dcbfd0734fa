from __future__ import annotations

from torchlint._lazy import lazy_module
from torchlint.diagnostics import Severity
from torchlint.rule import Rule

cst = lazy_module("libcst")

# Functions whose `dim` defaults to None (picked from the input's rank, with a UserWarning).
FUNCTIONS = frozenset({
    "torch.nn.functional.softmax", "torch.nn.functional.log_softmax", "torch.nn.functional.softmin",
})
# Modules whose constructor's `dim` defaults to None: the warning comes at each forward.
MODULES = frozenset({"torch.nn.Softmax", "torch.nn.LogSoftmax", "torch.nn.Softmin"})


class SoftmaxImplicitDim(Rule):
    """## What it does
    Reports `F.softmax`, `F.log_softmax` and `F.softmin` called without `dim`, and
    `nn.Softmax()`, `nn.LogSoftmax()` and `nn.Softmin()` built without `dim` (or with
    `dim=None`). Imports and aliases are followed (`from torch.nn.functional import softmax as sm`).

    `torch.softmax(x)`, `torch.log_softmax(x)` and `x.softmax()` are not reported: their `dim`
    is required, so they raise `TypeError` at once instead of guessing.

    ## Why is this bad?
    Without `dim`, PyTorch picks the dimension from the input's rank: dim 0 for 0-, 1- and 3-D
    inputs, dim 1 otherwise, and warns `Implicit dimension choice for softmax has been deprecated`.
    For a 3-D batch of sequences `[batch, time, classes]` that normalises across the *batch*, not
    the classes: every row of probabilities is wrong, no error is raised, and training still
    "works" on the wrong objective.

    ## Example
    ```python
    import torch.nn.functional as F

    probs = F.softmax(logits)
    ```

    ## Use instead
    ```python
    import torch.nn.functional as F

    probs = F.softmax(logits, dim=-1)
    ```

    ## Fix safety
    No fix: the intended dimension is unknown (the implicit choice is often the wrong one).

    ## Runtime verification
    The runtime mode records every `F.softmax`/`F.log_softmax`/`F.softmin` call of the program
    with the warnings it raised, and calls every `nn.Softmax`/`nn.LogSoftmax`/`nn.Softmin` the
    program built once on a 2-D input: the claim holds when PyTorch warns about the implicit
    dimension choice; a call with `dim` must not warn.

    ## References
    - [torch.nn.functional.softmax](https://pytorch.org/docs/stable/generated/torch.nn.functional.softmax.html)
    - [torch.nn.Softmax](https://pytorch.org/docs/stable/generated/torch.nn.Softmax.html)
    """

    code = "TL107"
    name = "softmax-implicit-dim"
    severity = Severity.WARNING
    summary = "softmax, log_softmax or softmin without `dim`: the dimension is guessed from the rank"
    tokens = ("softmax", "Softmax", "softmin", "Softmin")

    VALID = (
        "import torch.nn.functional as F\ny = F.softmax(x, dim=-1)\n",
        "import torch.nn.functional as F\ny = F.log_softmax(x, 1)\n",
        "import torch.nn as nn\nact = nn.Softmax(dim=1)\n",
        "import torch.nn as nn\nact = nn.LogSoftmax(-1)\n",
        "import torch\ny = torch.softmax(x, 1)\n",
        "def softmax(x):\n    return x\ny = softmax(x)\n",
        "import torch.nn.functional as F\nkw = {'dim': 1}\ny = F.softmax(x, **kw)\n",
        "import torch.nn.functional as F\nargs = (x, 1)\ny = F.softmax(*args)\n",
    )
    INVALID = (
        "import torch.nn.functional as F\ny = F.softmax(x)  # expect: TL107\n",
        "import torch\ny = torch.nn.functional.log_softmax(x)  # expect: TL107\n",
        "from torch.nn.functional import softmin as sm\ny = sm(x)  # expect: TL107\n",
        "from torch import nn\nact = nn.Softmax()  # expect: TL107\n",
        "import torch.nn as nn\nact = nn.LogSoftmax(dim=None)  # expect: TL107\n",
        "import torch.nn.functional as F\ny = F.softmax(x, dtype=torch.float32)  # expect: TL107\n",
    )

    def visit_Call(self, node) -> None:
        qualified = self.facts.names.qualified_name(node.func)
        if qualified in FUNCTIONS:
            dim = _argument(node, 1, "dim")
            kind = qualified.rsplit(".", 1)[1]
            where = f"`{kind}`"
        elif qualified in MODULES:
            dim = _argument(node, 0, "dim")
            kind = qualified.rsplit(".", 1)[1]
            where = f"`nn.{kind}` built"
        else:
            return
        if dim is _UNKNOWN or (dim is not None and not _is_none(dim)):
            return
        given = "with `dim=None`" if dim is not None else "without `dim`"
        self.report(
            node,
            f"{where} {given}: PyTorch picks the dimension from the input's rank "
            "(dim 0 for 1-D and 3-D inputs) and warns that this is deprecated",
            help="pass the dimension to normalise over, usually `dim=-1` (the classes)",
        )


_UNKNOWN = object()


def _argument(node, position: int, keyword: str):
    """The expression passed as `keyword` (by name or position); None if absent; unknown for `*`/`**`."""
    positional = 0
    for arg in node.args:
        if arg.star:
            return _UNKNOWN
        if arg.keyword is not None:
            if arg.keyword.value == keyword:
                return arg.value
            continue
        if positional == position:
            return arg.value
        positional += 1
    return None


def _is_none(expr) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "None"
