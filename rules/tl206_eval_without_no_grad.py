from __future__ import annotations

from torchlint.diagnostics import Severity
from torchlint.facts.modes import Modes
from torchlint.rule import NodeNote, Rule
from torchlint.rules._mode_switches import AsksWhenModesSwitch


class EvalWithoutNoGrad(AsksWhenModesSwitch, Rule):
    """## What it does
    Reports a forward pass `model(x)` that runs after `model.eval()` (in source order, in the
    same function or script, with no `model.train()` between) while gradients are enabled: no
    `with torch.no_grad():`, `torch.inference_mode()` or `torch.set_grad_enabled(...)` around
    it, no `@torch.no_grad()` / `@torch.inference_mode()` on the function or an enclosing one,
    and no call of the function from the same module made under one of these. The finding is at
    the forward call, with a note at the `eval()`.

    Silent when the evaluation needs the graph: a `backward()` or `torch.autograd.grad` in the
    same loop body or function (saliency maps, adversarial examples), inputs given
    `requires_grad`; for models whose parameters the file freezes (`model.requires_grad_(False)`,
    `p.requires_grad = False` over `model.parameters()`, unless it thaws some again); in
    Lightning's `validation_step`/`test_step`/`predict_step` methods (run under `no_grad` by the
    framework); under a wrapper named like the switches (`@smart_inference_mode()`); and after
    `torch.set_grad_enabled(...)` or `torch.enable_grad()`, whose effect we do not follow.

    ## Why is this bad?
    `eval()` changes how dropout and batch normalisation behave; it does not stop autograd.
    Every forward in evaluation mode without `no_grad` still records the graph and keeps every
    intermediate activation alive until the output is freed: evaluation takes several times the
    memory it needs (often the reason a validation pass runs out of GPU memory when training
    did not) and runs slower. The graph is thrown away unused.

    ## Example
    ```python
    import torch

    def evaluate(model, loader):
        model.eval()
        correct = 0
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
        return correct
    ```

    ## Use instead
    ```python
    import torch

    @torch.no_grad()
    def evaluate(model, loader):
        model.eval()
        correct = 0
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
        return correct
    ```

    ## Fix safety
    No fix: where the `no_grad` block should start (around the whole evaluation, or one
    decorator on the function) is the author's choice, and a caller we cannot see may still
    need gradients.

    ## Runtime verification
    The runtime mode records every forward of a module made by the program with the module's
    mode, whether gradients were enabled, whether the output requires grad, and whether a later
    `backward()` (or `autograd.grad`) reached the output. The claim holds when a forward in
    evaluation mode returns an output with a `grad_fn` that nothing back-propagates through; it
    is refuted when gradients were disabled, the output needs no grad, or the graph was used.

    ## References
    - [torch.no_grad](https://pytorch.org/docs/stable/generated/torch.no_grad.html)
    - [Autograd mechanics: evaluation mode is not a mechanism to disable gradients](https://pytorch.org/docs/stable/notes/autograd.html#evaluation-mode-nn-module-eval)
    """

    code = "TL206"
    name = "eval-without-no-grad"
    severity = Severity.WARNING
    summary = "A forward pass after model.eval() with gradients enabled: builds a graph that is thrown away"
    tokens = ("eval", "train(False", "train(mode=False")

    VALID = (
        "import torch\ndef evaluate(model, x):\n    model.eval()\n    with torch.no_grad():\n        return model(x)\n",
        "import torch\n@torch.inference_mode()\ndef evaluate(model, x):\n    model.eval()\n    return model(x)\n",
        "import torch\ndef saliency(model, x):\n    model.eval()\n    x.requires_grad_()\n    model(x).max().backward()\n"
        "    return x.grad\n",
        "import torch\ndef evaluate(model, x):\n    model.eval()\n    return model(x)\ndef main(model, x):\n"
        "    with torch.no_grad():\n        print(evaluate(model, x))\n",
    )
    INVALID = (
        "import torch\ndef evaluate(model, x):\n    model.eval()\n    return model(x)  # expect: TL206\n",
        "import torch\nmodel = torch.nn.Linear(3, 2)\nmodel.eval()\npredictions = model(torch.ones(1, 3)).argmax(1)  # expect: TL206\n",
    )

    def leave_Module(self, original_node) -> None:
        if not self.switches:
            return
        for found in self.facts.get(Modes).eval_forwards_with_grad():
            self.report(
                found.call,
                f"`{found.key}` runs in evaluation mode with gradients enabled: the forward records a graph "
                "and keeps its activations alive, and nothing uses them",
                notes=[NodeNote(found.eval_call, f"`{found.key}` is switched to evaluation mode here")],
                help="run the evaluation under `with torch.no_grad():` (or `torch.inference_mode()`, "
                     "or decorate the function with `@torch.no_grad()`)",
            )
