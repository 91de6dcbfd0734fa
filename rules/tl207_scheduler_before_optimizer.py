from __future__ import annotations

from torchlint.diagnostics import Severity
from torchlint.facts.schedules import Schedules
from torchlint.rule import NodeNote, Rule


class SchedulerBeforeOptimizer(Rule):
    """## What it does
    Reports a learning-rate scheduler's `step()` that runs, in one iteration of a loop, before the
    optimizer update of that iteration: `scheduler.step()` at the top of a batch loop with
    `optimizer.step()` below it, or at the top of an epoch loop ahead of the batch loop (the order
    of PyTorch before 1.1). `scaler.step(optimizer)` counts as the update, and calls into functions
    and methods of the same module are followed. The finding is at the scheduler's `step()`, with
    a note at the update that follows it.

    Silent for the order PyTorch asks for (update, then scheduler, including an epoch-level
    scheduler stepped after the batch loop), for an update of the scheduler's optimizer (or of an
    optimizer we cannot tell apart from it) that runs earlier in the same iteration, even on one
    branch only (an update on the *other* branch of the same `if`, as in a GAN alternating its
    generator and discriminator steps, does not count), for `ReduceLROnPlateau` (its `step(metric)` follows a metric, not a schedule) and
    for `step(...)` with arguments (an explicit epoch, a metric, a timm-style scheduler), and for
    loops with no visible update (a loop that only prints the schedule, or one whose update runs
    in a function of another module). A scheduler is known by its constructor
    (`torch.optim.lr_scheduler.*`, the `transformers`/`diffusers` schedule factories), by a
    project class named like one (`WarmUpLR(opt, n)`), or by its name (`scheduler`, `lr_sched`);
    rebinding it by an unpacking (`optimizer, scheduler = accelerator.prepare(optimizer, scheduler)`)
    keeps what the constructor said. A step reached both directly in a loop and through a helper
    called by an outer loop (a search calling a whole training run) is reported in the loop that
    holds it.

    ## Why is this bad?
    Since PyTorch 1.1 a scheduler is built with the learning rate of its first step already set,
    and each `scheduler.step()` moves to the next value. Stepping it before the optimizer means the
    first value of the schedule is never used: a warmup starts one step late, a step decay comes
    one epoch early, and the whole schedule is shifted. PyTorch warns "Detected call of
    `lr_scheduler.step()` before `optimizer.step()`" once, on the first step, and the warning is
    easy to miss among a training log.

    ## Example
    ```python
    import torch

    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for epoch in range(10):
        sched.step()
        for x, y in batches:
            opt.zero_grad()
            ((model(x) - y) ** 2).mean().backward()
            opt.step()
    ```

    ## Use instead
    ```python
    import torch

    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for epoch in range(10):
        for x, y in batches:
            opt.zero_grad()
            ((model(x) - y) ** 2).mean().backward()
            opt.step()
        sched.step()
    ```

    ## Fix safety
    No fix: moving the call changes when every later learning rate takes effect, and where the
    step belongs (after each batch or after each epoch) depends on how the schedule was sized.

    ## Runtime verification
    The runtime mode records every `step()` of an `LRScheduler` that the program calls, with the
    warnings PyTorch raised and whether its optimizer had stepped yet. The claim holds when the
    scheduler's first step ran before any optimizer step (PyTorch's own test, which also warns):
    the learning rate moved from the schedule's first value to its second before an update ever
    used the first. A silent trap must show an optimizer step before the scheduler's first one.

    ## References
    - [torch.optim: how to adjust the learning rate](https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate)
    - [PyTorch 1.1 release notes: the order of `optimizer.step()` and `lr_scheduler.step()`](https://github.com/pytorch/pytorch/releases/tag/v1.1.0)
    """

    code = "TL207"
    name = "scheduler-before-optimizer"
    severity = Severity.WARNING
    summary = "A learning-rate scheduler steps before the optimizer in the same iteration"
    tokens = ("step",)

    VALID = (
        "import torch\nm = torch.nn.Linear(3, 1)\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\nsched = torch.optim.lr_scheduler.StepLR(opt, 1)\nfor epoch in range(3):\n    for x in xs:\n        opt.zero_grad()\n        m(x).sum().backward()\n        opt.step()\n    sched.step()\n",
        "import torch\nm = torch.nn.Linear(3, 1)\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\nplateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)\nfor epoch in range(3):\n    plateau.step(val_loss)\n    for x in xs:\n        opt.zero_grad()\n        m(x).sum().backward()\n        opt.step()\n",
    )
    INVALID = (
        "import torch\nm = torch.nn.Linear(3, 1)\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\nsched = torch.optim.lr_scheduler.StepLR(opt, 1)\nfor epoch in range(3):\n    sched.step()  # expect: TL207\n    for x in xs:\n        opt.zero_grad()\n        m(x).sum().backward()\n        opt.step()\n",
        "import torch\nm = torch.nn.Linear(3, 1)\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\nscheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 10))\nfor x in xs:\n    opt.zero_grad()\n    m(x).sum().backward()\n    scheduler.step()  # expect: TL207\n    opt.step()\n",
    )

    def leave_Module(self, original_node) -> None:
        schedules = self.facts.get(Schedules)
        reported: set[int] = set()
        for early in schedules.early_scheduler_steps():
            step = early.scheduler
            at = step.via if step.via is not None else step.node
            if id(at) in reported:
                continue
            reported.add(id(at))
            notes = [NodeNote(step.node, f"`{step.key}` steps here")] if at is not step.node else []
            updater = early.update.key or "the optimizer"
            notes.append(NodeNote(early.update.node, f"`{updater}` updates only here, later in the same iteration"))
            if early.built is not None:
                notes.append(NodeNote(early.built, "the scheduler starts at its first value here"))
            self.report(
                at,
                f"`{step.key}.step()` runs before the optimizer's `step()` of the same iteration: "
                "the first value of the schedule is skipped and every later one comes a step early",
                notes=notes,
                help=f"call `{step.key}.step()` after `{updater}.step()` (at the end of the iteration, "
                     "or after the batch loop for a per-epoch schedule)",
            )
