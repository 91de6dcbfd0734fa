from __future__ import annotations

from torchlint.diagnostics import Severity
from torchlint.facts.modes import Modes
from torchlint.rule import NodeNote, Rule
from torchlint.rules._mode_switches import AsksWhenModesSwitch


class EvalModeNotRestored(AsksWhenModesSwitch, Rule):
    """## What it does
    Reports a training loop whose iteration switches the model to evaluation mode
    (`model.eval()` or `model.train(False)`, directly or inside a function or method of the same
    module such as `evaluate(model, loader)`) and trains that model (a forward of it in code that
    runs `backward()`), but never switches it back with `model.train()`. The finding is at the
    call in the loop that reaches `eval()`, with notes at the `eval()` inside a helper, at the
    training forward, and at a `.train()` that runs only once, before the loop. A training
    forward is one that a `backward()` follows in the same loop body (or function body), also
    inside a helper that switches no mode, such as `compute_loss(model, batch)`.

    Same-module helpers (functions, and methods called on `self` or on an instance of a class of
    the module, such as `model.validate(x)`) are followed three calls deep, with their parameters
    renamed to the caller's arguments (the instance as `self`). Silent when the loop reaches `.train()` on the model (in the loop, in a
    train helper called each epoch, or at the end of the evaluation helper), when the model is
    handed to code we cannot see (an imported `train_one_epoch(model, ...)` or `evaluate(model)`,
    an unknown method of the model: it may switch the mode back; context managers such as
    `accelerator.accumulate(model)` and bookkeeping calls such as `save_checkpoint(model)` or
    `ema.update(model)` are not taken to), when the evaluated model is another one (a copy
    such as `copy.deepcopy(model).eval()`, an EMA model), when nothing in the loop trains the
    evaluated model, when the evaluation mode is set before every training forward, the first one
    included, and `.train()` is never set before the loop (training in evaluation mode by design,
    as in linear probing on frozen batch-norm statistics, or an EMA teacher's forward), when the loop exits right after the evaluation (`break`, `return`), and for
    frameworks that toggle modes themselves (Lightning's `training_step`/`validation_step` run
    no `backward()` of their own).

    ## Why is this bad?
    `eval()` switches dropout off and makes batch normalisation use (and stop updating) its
    running statistics. If nothing switches the model back, every epoch after the first
    evaluation trains without dropout and with frozen batch-norm statistics: the model overfits
    or converges to something else than the first epoch promised, and nothing raises.

    ## Example
    ```python
    import torch

    def evaluate(model, loader):
        model.eval()
        with torch.no_grad():
            return sum(float(model(x).sum()) for x in loader)

    def fit(model, opt, train_loader, val_loader, epochs):
        model.train()
        for epoch in range(epochs):
            for x in train_loader:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
            evaluate(model, val_loader)
    ```

    ## Use instead
    ```python
    import torch

    def evaluate(model, loader):
        model.eval()
        with torch.no_grad():
            return sum(float(model(x).sum()) for x in loader)

    def fit(model, opt, train_loader, val_loader, epochs):
        for epoch in range(epochs):
            model.train()
            for x in train_loader:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
            evaluate(model, val_loader)
    ```

    ## Fix safety
    No fix: whether `train()` belongs at the top of the epoch or at the end of the evaluation
    helper is the author's choice.

    ## Runtime verification
    The runtime mode records every `train()`/`eval()` call and every forward of a module
    made by the program, and marks a forward whose output a later `backward()` reaches. The
    claim at an `eval()` holds when a later forward of that model (or of one containing it) is
    back-propagated and followed by an optimizer step while the model is still in evaluation
    mode (`model.training` is False at the next epoch's training step); it is refuted when a
    `train()` of the model comes first, or no training step follows.

    ## References
    - [torch.nn.Module.eval](https://pytorch.org/docs/stable/generated/torch.nn.Module.html#torch.nn.Module.eval)
    - [torch.nn.Module.train](https://pytorch.org/docs/stable/generated/torch.nn.Module.html#torch.nn.Module.train)
    """

    code = "TL205"
    name = "eval-mode-not-restored"
    severity = Severity.ERROR
    summary = "A training loop calls model.eval() but never model.train() again: later epochs train in eval mode"
    tokens = ("eval", "train(False", "train(mode=False")

    VALID = (
        "import torch\ndef fit(model, opt, loader, val, epochs):\n    for epoch in range(epochs):\n"
        "        model.train()\n        for x in loader:\n            model(x).sum().backward()\n"
        "            opt.step()\n        model.eval()\n        with torch.no_grad():\n            model(val)\n",
        "import copy\nimport torch\ndef fit(model, opt, loader, epochs):\n    model.train()\n"
        "    for epoch in range(epochs):\n        for x in loader:\n            model(x).sum().backward()\n"
        "            opt.step()\n        copy.deepcopy(model).eval()\n",
        "import torch\ndef fit(model, opt, loader, val, epochs):\n    model.train()\n    for epoch in range(epochs):\n"
        "        for x in loader:\n            model(x).sum().backward()\n            opt.step()\n"
        "    model.eval()\n",
        "import torch\ndef probe(model, opt, loader):\n    model.eval()\n    for x in loader:\n"
        "        model(x).sum().backward()\n        opt.step()\n"
        "def fit(model, opt, loader, epochs):\n    for epoch in range(epochs):\n        probe(model, opt, loader)\n",
    )
    INVALID = (
        "import torch\ndef fit(model, opt, loader, val, epochs):\n    model.train()\n    for epoch in range(epochs):\n"
        "        for x in loader:\n            model(x).sum().backward()\n            opt.step()\n"
        "        model.eval()  # expect: TL205\n        with torch.no_grad():\n            model(val)\n",
        "import torch\ndef evaluate(net, data):\n    net.eval()\n    with torch.no_grad():\n        return net(data)\n"
        "def fit(model, opt, loader, val, epochs):\n    for epoch in range(epochs):\n        for x in loader:\n"
        "            model(x).sum().backward()\n            opt.step()\n        evaluate(model, val)  # expect: TL205\n",
    )

    def leave_Module(self, original_node) -> None:
        if not self.switches:
            return
        for found in self.facts.get(Modes).evals_left_in_loops():
            notes = []
            if found.eval_call is not found.site:
                notes.append(NodeNote(found.eval_call, f"`{found.key}` is switched to evaluation mode here"))
            notes.append(NodeNote(found.trains, f"`{found.key}` trains here, in evaluation mode after the first "
                                                "evaluation"))
            if found.train_before is not None:
                notes.append(NodeNote(found.train_before, "training mode is set only here, once, before the loop"))
            self.report(
                found.site,
                f"`{found.key}` is switched to evaluation mode in this training loop and never back: from the "
                "next iteration on it trains with dropout off and batch-norm statistics frozen",
                notes=notes,
                help=f"call `{found.key}.train()` at the start of each epoch (or at the end of the evaluation)",
            )
