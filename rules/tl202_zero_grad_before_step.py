from __future__ import annotations

from torchlint.diagnostics import Severity
from torchlint.facts.loops import BACKWARD, RESET, STEP, LoopFacts
from torchlint.rule import NodeNote, Rule


class ZeroGradBeforeStep(Rule):
    """## What it does
    Reports a gradient reset (`opt.zero_grad()`, `model.zero_grad()`, `p.grad = None` over the
    parameters, or a same-module helper doing one of these) that runs after `backward()` and
    before the `step()` that should use those gradients, in the same loop iteration. The finding
    is at the reset, with notes at the `backward()` and the `step()`.

    Control flow is followed, not source order: a reset on a branch that then skips the step
    (`continue` on a NaN loss) is fine, and so is a reset under a condition the step is not under
    (skipping one bad batch). A model's reset counts for an optimizer only when the optimizer
    was built from that model's parameters, or is the only one the loop steps.

    ## Why is this bad?
    The update then sees zero gradients (or `None`, which `step()` skips): the parameters do
    not learn from the batch, yet weight decay and momentum still move them. The loss curve
    looks flat or decays for no reason, and nothing raises.

    ## Example
    ```python
    import torch

    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in batches:
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.zero_grad()
        opt.step()
    ```

    ## Use instead
    ```python
    import torch

    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in batches:
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    ```

    ## Fix safety
    No fix: the reset has to move before `backward()` or after `step()`, and which one keeps the
    rest of the loop's meaning is for you to judge.

    ## Runtime verification
    The runtime mode runs the loop on deterministic data and records, at each `step()`, the
    gradients of the optimizer's parameters. The claim holds when the update ran with all
    gradients zero or `None` although `backward()` ran in that iteration; a silent trap must
    update with non-zero gradients.

    ## References
    - [torch.optim: taking an optimization step](https://pytorch.org/docs/stable/optim.html#taking-an-optimization-step)
    - [Optimizer.zero_grad](https://pytorch.org/docs/stable/generated/torch.optim.Optimizer.zero_grad.html)
    """

    code = "TL202"
    name = "zero-grad-before-step"
    severity = Severity.ERROR
    summary = "zero_grad() runs between backward() and step() and wipes the gradients"
    tokens = ("backward",)
    requires = ("step",)  # no `step()`, no update to judge

    VALID = (
        "import torch\nm = torch.nn.Linear(3, 1)\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\nfor x in xs:\n    m(x).sum().backward()\n    opt.step()\n    opt.zero_grad()\n",
        "import torch\nm = torch.nn.Linear(3, 1)\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\nfor x in xs:\n    loss = m(x).sum()\n    loss.backward()\n    if not torch.isfinite(loss):\n        opt.zero_grad()\n        continue\n    opt.step()\n    opt.zero_grad()\n",
    )
    INVALID = (
        "import torch\nm = torch.nn.Linear(3, 1)\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\nfor x in xs:\n    m(x).sum().backward()\n    opt.zero_grad()  # expect: TL202\n    opt.step()\n",
        "import torch\nm = torch.nn.Linear(3, 1)\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\nfor x in xs:\n    m(x).sum().backward()\n    m.zero_grad()  # expect: TL202\n    opt.step()\n",
    )

    def leave_Module(self, original_node) -> None:
        loops = self.facts.get(LoopFacts)
        reported: set[int] = set()
        for loop in loops.loops:
            for reset, backward, step, optimizer in _wiped_updates(loops, loop):
                at = reset.via if reset.via is not None else reset.node
                if id(at) in reported:
                    continue
                reported.add(id(at))
                notes = [NodeNote(reset.node, "the gradients are reset here")] if at is not reset.node else []
                self.report(
                    at,
                    f"this reset wipes the gradients of `{optimizer}` after `backward()` and before "
                    "`step()`: the update runs with zero or `None` gradients",
                    notes=notes + [
                        NodeNote(backward.node, "gradients are computed here"),
                        NodeNote(step.node, f"`{optimizer}` updates here with the wiped gradients"),
                    ],
                    help="move the reset before `backward()` or after `step()`",
                )


def _wiped_updates(loops: LoopFacts, loop):
    """(reset, backward, step, optimizer) where a reset runs between backward and step on a path."""
    if not loop.paths:
        return
    stepped = {e.key for e in loop.events(STEP)
               if e.key is not None and loops.is_optimizer(e.key, e.at) and not e.has_args}
    only = len(stepped) == 1
    for path in loop.paths:
        backward = None
        pending: dict[str, tuple] = {}
        for event in path.events:
            if event.kind == BACKWARD:
                backward = event
                pending.clear()
            elif event.kind == RESET and backward is not None:
                for optimizer in stepped:
                    if loops.covers(event, optimizer, strict=True, only_optimizer=only):
                        pending.setdefault(optimizer, (event, backward))
            elif event.kind == STEP and event.key in pending and not event.has_args:
                reset, wiped = pending.pop(event.key)
                if set(reset.guards) <= set(event.guards):
                    yield reset, wiped, event, event.key
