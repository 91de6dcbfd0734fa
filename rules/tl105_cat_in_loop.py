from __future__ import annotations

from torchlint.diagnostics import Severity
from torchlint.facts.accumulation import Accumulation
from torchlint.rule import NodeNote, Rule


class CatInLoop(Rule):
    """## What it does
    Reports a concatenation that re-grows the same accumulator on every iteration of a loop:
    `x = torch.cat([x, y])`, `torch.concat`/`concatenate`/`vstack`/`hstack`, and NumPy's
    `np.concatenate([x, y])`, `np.vstack`/`hstack` and `np.append(x, y)`, also written
    `x = y if x is None else torch.cat([x, y])`. The accumulator may be a local name or
    `self.<attr>`.

    Reported only when the accumulator is read nowhere else inside the loop (an `x is None` test
    aside), so that only the final result is used, after the loop. When the grown tensor is used
    on every iteration, as in autoregressive decoding (`idx = torch.cat((idx, idx_next), dim=1)`
    after `logits = model(idx)`, nanoGPT's and minGPT's `generate`), or DenseNet's
    `x = torch.cat([x, layer(x)], 1)`, every intermediate result is needed and the rule stays
    silent, even though the copying is just as quadratic there. Loops over a literal of at most
    four items (or `range(4)`), or over a configuration's option list (`self.config.types`,
    `args.scales`), are not reported: a handful of iterations copies next to nothing. `torch.stack`/`np.stack` cannot re-grow an
    accumulator (each call adds a dimension), so they are not concerned.

    ## Why is this bad?
    Each concatenation allocates a new array and copies the whole accumulator into it. After `n`
    iterations that is `1 + 2 + ... + n` pieces copied, quadratic in the number of iterations,
    where collecting the pieces in a list and concatenating once copies each piece once. On long
    loops (a validation set, a dataset's features) it dominates the loop's run time and fragments
    the allocator.

    ## Example
    ```python
    import torch

    outputs = torch.empty(0, 10)
    for x in batches:
        outputs = torch.cat([outputs, model(x)])
    ```

    ## Use instead
    ```python
    import torch

    pieces = []
    for x in batches:
        pieces.append(model(x))
    outputs = torch.cat(pieces)
    ```

    ## Fix safety
    No fix: the loop has to change (a list, and one concatenation after it), and an initial
    accumulator (`torch.empty(0, 10)`) may carry a shape or dtype that the list must keep.

    ## Runtime verification
    The runtime mode records every concatenation the program makes, with the bytes it copied,
    and follows each result into the next concatenation that takes it as an input at the same
    line: a chain. The claim holds when a chain reaches at least three calls, each copying more
    than the one before, the bytes copied so far exceed what one concatenation of the pieces
    would copy, and no intermediate result of a PyTorch chain was used by any other operation
    between two concatenations (reads are observed with a `TorchFunctionMode` that starts with
    the first chain; NumPy reads are not observed). A decoding loop, whose intermediate results
    are read, must not hold.

    ## References
    - [torch.cat](https://pytorch.org/docs/stable/generated/torch.cat.html)
    - [numpy.append: "a copy of arr with values appended"](https://numpy.org/doc/stable/reference/generated/numpy.append.html)
    """

    code = "TL105"
    name = "cat-in-loop"
    severity = Severity.WARNING
    summary = "A loop re-concatenates the same accumulator every iteration: quadratic copying"
    tokens = ("cat", "stack", "append")

    VALID = (
        "import torch\npieces = []\nfor x in xs:\n    pieces.append(f(x))\nout = torch.cat(pieces)\n",
        "import torch\nfor _ in range(n):\n    logits = model(idx)\n    idx = torch.cat((idx, logits.argmax(-1, keepdim=True)), dim=1)\n",
        "import torch\nfor layer in layers:\n    x = torch.cat([x, layer(x)], 1)\n",
        "import torch\nfor k in range(3):\n    x = torch.cat([x, f(k)])\n",
        "import torch\nfor x in xs:\n    y = torch.cat([x, x.flip(0)])\n",
    )
    INVALID = (
        "import torch\nout = torch.empty(0)\nfor x in xs:\n    out = torch.cat([out, f(x)])  # expect: TL105\nprint(out)\n",
        "import numpy as np\nfeats = np.zeros((0, 4))\nfor b in batches:\n    feats = np.vstack([feats, b])  # expect: TL105\n",
        "import torch\nacc = None\nfor x in xs:\n    acc = x if acc is None else torch.cat([acc, x])  # expect: TL105\n",
        "import numpy as np\nys = np.array([])\nwhile running():\n    ys = np.append(ys, step())  # expect: TL105\n",
    )

    def leave_Module(self, original_node) -> None:
        for growth in self.facts.get(Accumulation).regrowths():
            if growth.reads_in_loop or growth.small_loop:
                continue
            short = growth.function.replace("numpy.", "np.")
            once = "np.concatenate" if short == "np.append" else short
            header = growth.loop.iter if hasattr(growth.loop, "iter") else growth.loop.test
            notes = [NodeNote(header, f"this loop runs it on every iteration; "
                                      f"`{growth.accumulator}` is read nowhere else inside it")]
            if growth.read_after is not None:
                notes.append(NodeNote(growth.read_after, f"`{growth.accumulator}` is read only after the loop, here"))
            self.report(
                growth.call,
                f"`{short}` copies the whole of `{growth.accumulator}` again on every iteration to add one "
                "piece: quadratic copying",
                notes=notes,
                help=f"append the pieces to a list in the loop and call `{once}` once on the list after it",
            )
