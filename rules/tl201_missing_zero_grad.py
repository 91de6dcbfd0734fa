from __future__ import annotations

from torchlint.diagnostics import Severity
from torchlint.facts.loops import BACKWARD, FRESH, OPAQUE, RESET, STEP, LoopFacts
from torchlint.rule import NodeNote, Rule


class MissingZeroGrad(Rule):
    """## What it does
    Reports a loop in which `backward()` and an optimizer update (`opt.step()`,
    `scaler.step(opt)`) run, but the gradients of that optimizer's parameters are not reset on
    every path through the update: no `zero_grad()` at all, one only before the loop or once
    per epoch while the updates run per batch, one on only some branches, or one optimizer of two
    reset. The finding is at the `backward()` call, with notes at the `step()` and at the reset
    that runs too rarely.

    Control flow is followed, not source order, and calls into functions and methods of the same
    module are followed three levels deep. Silent for resets by `model.zero_grad()`,
    `opt.zero_grad(set_to_none=...)`, `p.grad = None` / `p.grad.zero_()` over the parameters, a
    same-module helper doing one of these, or a reset after `step()`; for deliberate gradient
    accumulation (`step()` and the reset under the same condition, or each under its own, as in
    `if i % k == 0: reset` ... `if (i + 1) % k == 0: step`); LBFGS-style `step(closure)`; loops without an optimizer update; a `backward()` that is
    a method of a same-module class; Lightning's automatic `training_step`; `dist_autograd`
    contexts; and optimizers or models rebuilt inside the loop.

    An optimizer is what the scope that reads the name binds it to (a `torch.optim` class, a known
    library's, an `Optimizer` annotation; `self.opt` in a method: what that class assigns), so
    the same name in two functions is judged twice; a name like `optimizer` or `opt_g` counts when
    that scope binds it to nothing we can read (a parameter, a call we cannot see).

    ## Why is this bad?
    `backward()` adds into `.grad`; it never overwrites. Without a reset per update, the update
    of iteration k uses the sum of the gradients of iterations 1..k: the effective learning rate
    grows with every batch, training diverges or stalls, and nothing raises.

    ## Example
    ```python
    import torch

    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in batches:
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
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
    No fix: where the reset belongs (before `backward()`, after `step()`, under an accumulation
    condition) is a choice about the training schedule.

    ## Runtime verification
    The runtime mode runs the loop for k ≥ 2 iterations on deterministic data and compares each
    parameter's `.grad` just before the k-th update with the gradient of a fresh single step on
    the k-th batch alone. The claim holds when they differ (the gradients of earlier batches are
    still in `.grad`); a silent trap must show equal gradients, or no update at all.

    ## References
    - [torch.optim: taking an optimization step](https://pytorch.org/docs/stable/optim.html#taking-an-optimization-step)
    - [Optimizer.zero_grad](https://pytorch.org/docs/stable/generated/torch.optim.Optimizer.zero_grad.html)
    """

    code = "TL201"
    name = "missing-zero-grad"
    severity = Severity.ERROR
    summary = "A loop runs backward() and step() without resetting the gradients each iteration"
    tokens = ("backward",)
    requires = ("step",)  # no `step()`, no update to judge

    VALID = (
        "import torch\nm = torch.nn.Linear(3, 1)\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\nfor x in xs:\n    opt.zero_grad()\n    m(x).sum().backward()\n    opt.step()\n",
        "import torch\nm = torch.nn.Linear(3, 1)\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\nfor i, x in enumerate(xs):\n    m(x).sum().backward()\n    if (i + 1) % 4 == 0:\n        opt.step()\n        opt.zero_grad()\n",
        "import torch\nx = torch.ones(3, requires_grad=True)\nfor _ in range(3):\n    x.sum().backward()\n",
    )
    INVALID = (
        "import torch\nm = torch.nn.Linear(3, 1)\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\nfor x in xs:\n    m(x).sum().backward()  # expect: TL201\n    opt.step()\n",
        "import torch\nm = torch.nn.Linear(3, 1)\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\nopt.zero_grad()\nfor x in xs:\n    m(x).sum().backward()  # expect: TL201\n    opt.step()\n",
    )

    def leave_Module(self, original_node) -> None:
        loops = self.facts.get(LoopFacts)
        reported: set[int] = set()
        for loop in loops.loops:
            for optimizer, path_event in _unreset_updates(loops, loop):
                backward, step = path_event
                if id(backward.node) in reported:
                    continue
                reported.add(id(backward.node))
                self._report(loops, loop, optimizer, backward, step)

    def _report(self, loops: LoopFacts, loop, optimizer: str, backward, step) -> None:
        notes = [NodeNote(step.node, f"`{optimizer}` updates here with the gradients summed over earlier iterations")]
        rare = _rare_reset(loops, loop, optimizer)
        if rare is not None:
            notes.append(rare)
        self.report(
            backward.node,
            f"gradients of `{optimizer}` are not reset on every iteration of this loop: "
            "`backward()` adds to the gradients of earlier iterations and `step()` applies their sum",
            notes=notes,
            help=f"call `{optimizer}.zero_grad()` once per update, before `backward()` or after `step()`",
        )


def _unreset_updates(loops: LoopFacts, loop):
    """(optimizer, (backward, step)) for each path of `loop` that updates without a reset."""
    if not loop.paths:
        return
    stepped = {e.key for e in loop.events(STEP) if e.key is not None and loops.is_optimizer(e.key, e.at)}
    for optimizer in sorted(stepped):
        if any(e.key == optimizer and e.has_args for e in loop.events(STEP)):
            continue  # step(closure): the closure resets and back-propagates
        if any(e.kind == FRESH and loops.covers(e, optimizer, strict=False) for e in loop.events()):
            continue  # rebuilt every iteration: nothing accumulates
        resets = [e for e in loop.events() if e.kind in (RESET, OPAQUE) and loops.covers(e, optimizer, strict=False)]
        for path in loop.paths:
            found = _update_without_reset(loops, path, optimizer)
            if found is None or not path.continues:
                continue
            backward, step = found
            if any(_accumulates(reset, step, backward) for reset in resets):
                continue  # deliberate accumulation: step (and reset) every k-th iteration
            yield optimizer, (backward, step)
            break


def _update_without_reset(loops: LoopFacts, path, optimizer: str):
    step = backward = None
    for event in path.events:
        if event.kind in (RESET, OPAQUE, FRESH) and loops.covers(event, optimizer, strict=False):
            return None
        if event.kind == BACKWARD and (step is None or backward is None):
            backward = event
        elif event.kind == STEP and event.key == optimizer and step is None:
            step = event
    if step is None or backward is None:
        return None
    return backward, step


def _accumulates(reset, step, backward) -> bool:
    """Does this path look like deliberate accumulation, given a reset elsewhere in the loop?

    Either the step runs under a condition the backward is not under (every k-th iteration)
    and the reset can run with it, or reset and step each sit under a condition of their own.
    """
    if _opposite(reset, step):
        return False  # the reset runs only where the step does not (an AMP-only reset)
    backward_guards = {(guard.key, guard.branch) for guard in backward.guards}
    if any((guard.key, guard.branch) not in backward_guards for guard in step.guards):
        return True
    return _under_other_conditions(reset, step)


def _opposite(reset, step) -> bool:
    step_guards = {(guard.key, guard.branch) for guard in step.guards}
    return any((guard.key, not guard.branch) in step_guards for guard in reset.guards)


def _under_other_conditions(reset, step) -> bool:
    """Do reset and step each sit under a condition the other is not under, never opposite ones?

    That is accumulation written with two conditions (`i % k == 0` resets, `(i + 1) % k == 0`
    steps) or one condition spelled twice; we cannot tell those apart from a bug, so we stay
    silent. A reset under the step's own conditions plus one more (a reset indented into a
    logging `if`) or a step under no condition is not excused.
    """
    step_guards = {(guard.key, guard.branch) for guard in step.guards}
    reset_guards = {(guard.key, guard.branch) for guard in reset.guards}
    return bool(step_guards - reset_guards) and bool(reset_guards - step_guards)


def _rare_reset(loops: LoopFacts, loop, optimizer: str) -> NodeNote | None:
    for event in loop.events(RESET):
        if loops.covers(event, optimizer, strict=False) and event.guards:
            condition = loops.facts.module.code_for_node(event.guards[-1].node)
            when = "when" if event.guards[-1].branch else "unless"
            return NodeNote(event.node, f"the reset runs only {when} `{_short(condition)}`")
    found = loops.resets_before(loop, optimizer)
    if found is None:
        return None
    node, in_outer_loop = found
    if in_outer_loop:
        return NodeNote(node, "the reset runs once per iteration of the outer loop, not once per update")
    return NodeNote(node, "the reset runs once, before the loop")


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
