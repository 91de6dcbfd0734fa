from __future__ import annotations

from torchlint._lazy import lazy_module
from torchlint.diagnostics import Applicability, Severity
from torchlint.facts.accumulation import Accumulation, AfterUse, GradMode, Into, Origin
from torchlint.facts.statements import snippet
from torchlint.rule import FixSpec, NodeNote, Rule

cst = lazy_module("libcst")


class LossKeptWithGraph(Rule):
    """## What it does
    Reports a loss tensor accumulated across the iterations of a loop with its autograd graph:
    `total += loss`, `total = total + loss`, `total += loss * x.size(0)`, `losses.append(loss)`,
    where the loss is something `.backward()` is called on in the same loop, or the output of a
    criterion (`nn.*Loss` instance, `F.cross_entropy` and other functional losses, a name such as
    `criterion` or `loss_fn`) computed where gradients are recorded.

    Silent when the value is detached first (`loss.item()`, `loss.detach()`, `float(loss)`,
    `loss.data`); when the accumulation runs under `torch.no_grad()`/`inference_mode()`/
    `set_grad_enabled(False)` (a `with` block, a decorator, or every same-module caller of the
    function); and when the accumulator is back-propagated inside the loop
    (`if step % k == 0: total.backward()`), or anywhere after a `.backward(retain_graph=True)`. A loss that was back-propagated in the
    loop is reported whatever happens to the total afterwards: its graph is spent, so the total
    cannot be back-propagated again.

    For a criterion output that no `backward()` in the loop consumes, summing is how a loss is
    usually built (`loss += F.l1_loss(pred[t], y[t])` over time steps or feature levels, then
    `loss.backward()`), so the finding needs more: gradients certainly on (module level, or a
    function every same-module caller runs with gradients; not Lightning's `validation_step`),
    and the total used afterwards only through `float()`, `.item()`, `.detach()`, printing,
    logging or formatting. A total returned, back-propagated, or combined into another value is
    left alone.

    ## Why is this bad?
    A loss tensor holds its autograd graph. Adding it to a running total makes the total's graph
    reach every iteration's graph, and a list of losses holds each of them: nothing of the
    accumulated iterations can be freed. Where no `backward()` ran (an evaluation loop without
    `no_grad`) that includes every activation the forward pass saved, so memory grows with each
    batch until it runs out; after `backward()` the graph nodes and the loss tensors still pile
    up. The total is also a tensor, not a number, so logging it prints `tensor(..., grad_fn=...)`.

    ## Example
    ```python
    total = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss
    ```

    ## Use instead
    ```python
    total = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item()
    ```

    ## Fix safety
    The fix detaches the accumulated name (`loss` becomes `loss.detach()`): the total stays a
    tensor on the same device, without history. It is unsafe: code out of sight (a caller) could
    still mean to back-propagate through the total. `.item()` is often better (a Python number)
    but changes the total's type, so it is left to the help.

    ## Runtime verification
    The runtime mode tags the graph of every loss the program back-propagates or computes with a
    loss module or a functional loss (an object stored in the graph root's `metadata`, watched
    with a weak reference) and hooks the root to count the backward passes through it. At each
    such call it looks at the graphs made at the same line two calls earlier: the claim holds when
    one of them is still alive (something kept the loss or its graph past its iteration) and no
    backward pass went through it after that. Detached, `no_grad` and deliberately
    back-propagated totals must not hold.

    ## References
    - [PyTorch FAQ: "Don't accumulate history across your training loop"](https://pytorch.org/docs/stable/notes/faq.html#my-model-reports-cuda-runtime-error-2-out-of-memory)
    - [torch.Tensor.item](https://pytorch.org/docs/stable/generated/torch.Tensor.item.html)
    """

    code = "TL203"
    name = "loss-kept-with-graph"
    severity = Severity.WARNING
    summary = "A loss tensor accumulated across iterations with its autograd graph: the graphs stay alive"
    tokens = ("loss", "criterion")

    VALID = (
        "total = 0.0\nfor x, y in loader:\n    loss = criterion(model(x), y)\n    loss.backward()\n    total += loss.item()\n",
        "import torch\ntotal = 0.0\nwith torch.no_grad():\n    for x, y in loader:\n        total += criterion(model(x), y)\n",
        "total = 0\nfor x, y in pairs:\n    total = total + criterion(model(x), y)\ntotal.backward()\n",
        "losses = []\nfor x, y in loader:\n    loss = criterion(model(x), y)\n    loss.backward()\n    losses.append(loss.detach())\n",
        "def evaluate(model, loader):\n    total = 0\n    for x, y in loader:\n        total += criterion(model(x), y)\n    return total\n",
    )
    INVALID = (
        "total = 0.0\nfor x, y in loader:\n    loss = criterion(model(x), y)\n    loss.backward()\n    total += loss  # expect: TL203\n",
        "losses = []\nfor x, y in loader:\n    loss = loss_fn(model(x), y)\n    loss.backward()\n    losses.append(loss)  # expect: TL203\n",
        "import torch.nn.functional as F\nrunning = 0\nfor x, y in loader:\n    running += F.mse_loss(model(x), y) * x.size(0)  # expect: TL203\nprint(running / n)\n",
    )

    def leave_Module(self, original_node) -> None:
        for found in self.facts.get(Accumulation).loss_accumulations():
            if not _kept(found):
                continue
            expression = snippet(found.expression)
            origin = ("back-propagated here" if found.origin is Origin.BACKWARD
                      else "computed here, with gradients recorded")
            notes = [NodeNote(found.origin_node, f"the loss is {origin}")]
            what = "adds" if found.into is Into.SUM else "collects"
            fix = None
            if isinstance(found.expression, cst.Name):
                fix = FixSpec(f"Accumulate `{expression}.detach()`", Applicability.UNSAFE,
                              ((found.expression, f"{expression}.detach()"),))
            self.report(
                found.statement,
                f"`{found.accumulator}` {what} `{expression}` with its autograd graph on every iteration: "
                "the graphs of all iterations stay alive",
                notes=notes,
                help=f"accumulate `{_atom(found.expression)}.item()` (a number) or "
                     f"`{_atom(found.expression)}.detach()` instead",
                fix=fix,
            )


def _kept(found) -> bool:
    """Does the accumulation keep graphs for nothing (not deliberately, not without gradients)?"""
    if found.grad_mode is GradMode.DISABLED:
        return False
    if found.origin is Origin.BACKWARD and found.retains_graph:
        return found.back_propagated is None  # a retained graph may be meant for the total's backward
    if found.origin is Origin.BACKWARD:
        # Each graph was freed by its own backward(): back-propagating the total would raise, so
        # handing the total on is no excuse; a backward() of the total inside the loop is.
        return found.back_propagated is None or not _inside(found.back_propagated, found.loop)
    # Summing criterion outputs is how a loss is built: only a total that is merely printed,
    # logged or converted to a number afterwards is certainly kept for nothing.
    return found.grad_mode is GradMode.ENABLED and found.after_use is AfterUse.DETACHED


def _inside(node, loop) -> bool:
    from torchlint.facts.statements import walk_nodes

    return any(inner is node for inner in walk_nodes(loop))


def _atom(expression) -> str:
    """The expression's text, parenthesised unless a method can be called on it as it is."""
    text = snippet(expression)
    return text if isinstance(expression, (cst.Name, cst.Attribute, cst.Call)) else f"({text})"
