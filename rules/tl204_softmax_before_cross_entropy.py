from __future__ import annotations

from torchlint._lazy import lazy_module
from torchlint.diagnostics import Severity
from torchlint.facts.dataflow import Dataflow
from torchlint.facts.modules import Modules, Normalised, normalising_call
from torchlint.facts.program import Program
from torchlint.facts.statements import iter_statements, small_statements
from torchlint.rule import NodeNote, Rule

cst = lazy_module("libcst")

# Loss -> the normalisation it applies itself (so its input must not have it already).
LOSS_FUNCTIONS = {
    "torch.nn.functional.cross_entropy": Normalised.SOFTMAX,
    "torch.nn.functional.binary_cross_entropy_with_logits": Normalised.SIGMOID,
}
LOSS_MODULES = {
    "torch.nn.CrossEntropyLoss": Normalised.SOFTMAX,
    "torch.nn.BCEWithLogitsLoss": Normalised.SIGMOID,
}
WORDS = {
    Normalised.SOFTMAX: ("softmax", "`CrossEntropyLoss` applies `log_softmax` itself",
                         "pass the logits (the input of the softmax); keep the softmax for predictions only"),
    Normalised.SIGMOID: ("sigmoid", "`BCEWithLogitsLoss` applies the sigmoid itself",
                         "pass the logits (the input of the sigmoid); keep the sigmoid for predictions only"),
}


class SoftmaxBeforeCrossEntropy(Rule):
    """## What it does
    Reports `CrossEntropyLoss`/`F.cross_entropy` fed the output of a `softmax`, and
    `BCEWithLogitsLoss`/`F.binary_cross_entropy_with_logits` fed the output of a `sigmoid`:
    directly (`F.cross_entropy(F.softmax(z, 1), y)`), through a local variable (the definitions
    that reach the call), or through a model of the same module whose `forward` returns it
    (`return self.softmax(x)`, `return torch.sigmoid(x)`), called as `model(x)`. The loss module
    may be a local, a `self.` attribute set once, or a module-level name bound once
    (`criterion = nn.CrossEntropyLoss()` at the top of a script, called inside `train()`).

    `log_softmax` into `CrossEntropyLoss` is not reported: `log_softmax` is idempotent, so the loss
    and its gradients are exactly those of the logits (redundant, not wrong). `log_softmax` with
    `NLLLoss` is the correct pairing, and probabilities computed for metrics while the loss gets
    the logits are fine.

    ## Why is this bad?
    These losses expect raw scores (logits) and normalise them themselves. Given probabilities,
    they normalise a second time: `CrossEntropyLoss(softmax(z))` squashes every input into [0, 1],
    so the loss can never approach 0 and its gradients shrink (often several times smaller), and
    training is slow or stalls without an error. `BCEWithLogitsLoss(sigmoid(z))` likewise computes
    the loss of `sigmoid(sigmoid(z))`.

    ## Example
    ```python
    import torch.nn.functional as F

    loss = F.cross_entropy(F.softmax(logits, dim=1), labels)
    ```

    ## Use instead
    ```python
    import torch.nn.functional as F

    loss = F.cross_entropy(logits, labels)
    ```

    ## Fix safety
    No fix: the logits may live elsewhere (inside the model's `forward`), and predictions may still
    need the probabilities.

    ## Runtime verification
    The runtime mode records the input of every `F.cross_entropy`/`F.binary_cross_entropy_with_logits`
    call (and those `CrossEntropyLoss`/`BCEWithLogitsLoss` make), attributed to the user's line: the
    claim holds when the input is already normalised (every row along the class dim is
    non-negative and sums to 1; every value of a sigmoid input lies in [0, 1]); the evidence
    compares the loss with the loss of the probabilities taken as such, and the gradient norm with
    the one the logits would give. Logits and log-probabilities must not hold.

    ## References
    - [torch.nn.CrossEntropyLoss: "The input is expected to contain the unnormalized logits"](https://pytorch.org/docs/stable/generated/torch.nn.CrossEntropyLoss.html)
    - [torch.nn.BCEWithLogitsLoss](https://pytorch.org/docs/stable/generated/torch.nn.BCEWithLogitsLoss.html)
    """

    code = "TL204"
    name = "softmax-before-cross-entropy"
    severity = Severity.ERROR
    summary = "CrossEntropyLoss fed softmax output, or BCEWithLogitsLoss fed sigmoid output: normalised twice"
    tokens = ("cross_entropy", "CrossEntropyLoss", "BCEWithLogitsLoss")

    VALID = (
        "import torch.nn.functional as F\nloss = F.cross_entropy(logits, y)\n",
        "import torch.nn.functional as F\nloss = F.nll_loss(F.log_softmax(logits, 1), y)\n",
        "import torch.nn.functional as F\nloss = F.cross_entropy(F.log_softmax(logits, 1), y)\n",
        "import torch.nn as nn\nimport torch.nn.functional as F\ndef step(logits, y):\n    probs = F.softmax(logits, 1)\n    acc = (probs.argmax(1) == y).float().mean()\n    return nn.CrossEntropyLoss()(logits, y), acc\n",
        "import torch\nimport torch.nn as nn\ndef step(z, y):\n    loss_fn = nn.BCEWithLogitsLoss()\n    p = torch.sigmoid(z)\n    return loss_fn(z, y), p\n",
        "import torch.nn.functional as F\ndef step(z, y, flag):\n    out = z\n    if flag:\n        out = F.softmax(z, 1)\n    return F.cross_entropy(out, y)\n",
    )
    INVALID = (
        "import torch.nn.functional as F\nloss = F.cross_entropy(F.softmax(logits, dim=1), y)  # expect: TL204\n",
        "import torch\nimport torch.nn as nn\ndef step(z, y):\n    criterion = nn.BCEWithLogitsLoss()\n    p = torch.sigmoid(z)\n    return criterion(p, y)  # expect: TL204\n",
        "import torch.nn as nn\nimport torch.nn.functional as F\nclass Net(nn.Module):\n    def forward(self, x):\n        return F.softmax(x, dim=1)\ndef step(x, y):\n    model = Net()\n    out = model(x)\n    return nn.CrossEntropyLoss()(out, y)  # expect: TL204\n",
        "import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.act = nn.Softmax(dim=1)\n    def forward(self, x):\n        return self.act(x)\nclass Trainer:\n    def __init__(self):\n        self.model = Net()\n        self.criterion = nn.CrossEntropyLoss()\n    def step(self, x, y):\n        return self.criterion(self.model(x), y)  # expect: TL204\n",
    )

    def visit_Call(self, node) -> None:
        expects = self._loss_kind(node)
        if expects is None or not node.args or node.args[0].keyword is not None or node.args[0].star:
            return
        given, where = self._normalised(node.args[0].value, node)
        if given is not expects:
            return
        word, why, help_text = WORDS[expects]
        where, label = where if isinstance(where, tuple) else (where, f"the {word} is applied here")
        notes = [NodeNote(where, label)] if where is not None else []
        self.report(node, f"the loss gets {word} output, but {why}: the input is normalised twice "
                          "and the gradients are damped", notes=notes, help=help_text)

    # --- which loss ----------------------------------------------------------------------------

    def _loss_kind(self, node) -> Normalised | None:
        names = self.facts.names
        qualified = names.qualified_name(node.func)
        if qualified in LOSS_FUNCTIONS:
            return LOSS_FUNCTIONS[qualified]
        func = node.func
        bound = func.value if isinstance(func, cst.Name) else func.attr.value if isinstance(func, cst.Attribute) else None
        if bound is not None and bound not in self._loss_names():
            return None  # cheap: only names some assignment binds to a loss module are looked up
        for value in self._values_of(node.func, node):
            if isinstance(value, cst.Call) and names.qualified_name(value.func) in LOSS_MODULES:
                return LOSS_MODULES[names.qualified_name(value.func)]
        return None

    def _loss_names(self) -> frozenset:
        """Names and attribute names that some assignment of the file binds to a loss module."""
        found = getattr(self, "_loss_name_cache", None)
        if found is None:
            names, found = self.facts.names, set()
            # Assignments are small statements: visiting every statement (not every expression) finds them all.
            for statement in iter_statements(self.facts.module.body):
                for node in small_statements(statement):
                    if not (isinstance(node, cst.Assign) and isinstance(node.value, cst.Call)
                            and names.qualified_name(node.value.func) in LOSS_MODULES):
                        continue
                    for target in node.targets:
                        if isinstance(target.target, cst.Name):
                            found.add(target.target.value)
                        elif isinstance(target.target, cst.Attribute):
                            found.add(target.target.attr.value)
            found = self._loss_name_cache = frozenset(found)
        return found

    # --- what the input is ---------------------------------------------------------------------

    def _normalised(self, expr, at, depth: int = 0):
        """(what `expr` is normalised into, the node that normalises it); (None, None) if unknown."""
        names = self.facts.names
        found = normalising_call(names, expr)
        if found is not None:
            return found, expr
        if depth > 3:
            return None, None
        if isinstance(expr, cst.Name):
            values = self._values_of(expr, at)
            results = [self._normalised(v, v, depth + 1) for v in values] if values else [(None, None)]
            kinds = {kind for kind, _ in results}
            if len(kinds) == 1 and None not in kinds:
                return results[0]
            return None, None
        if isinstance(expr, cst.Call):  # model(x): a same-module module whose forward normalises
            for value in self._values_of(expr.func, at):
                if isinstance(value, cst.Call):
                    local = self.facts.get(Program).local_class(value.func)
                    if local is not None:
                        output = self.facts.get(Modules).forward_output(local)
                        if output is not None:
                            return output, (expr, f"`{local.name.value}.forward` returns {WORDS[output][0]} output"
                                            if output in WORDS else "")
        return None, None

    def _values_of(self, expr, at) -> list:
        """The values a name or `self.<attr>` may hold at `at`; [] when unknown or not all assigned."""
        if isinstance(expr, cst.Call):
            return [expr]
        if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self":
            dataflow = self.facts.get(Dataflow)
            cls = dataflow.enclosing_class(at)
            if cls is None:
                return []
            values = self.facts.get(Program).self_attributes(cls).get(expr.attr.value, [])
            return values if len(values) == 1 and values[0] is not None else []
        if not isinstance(expr, cst.Name):
            return []
        dataflow = self.facts.get(Dataflow)
        flow = dataflow.function_of(at)
        if flow is not None:
            if not flow.is_local_load(expr):
                # A global read in a module-level function or a method: the module's binding.
                # In a nested def the name may be an outer function's: unknown.
                if dataflow.enclosing_function(flow.scope) is not None:
                    return []
                return _module_level_values(self.facts.module, expr.value)
            bindings = flow.bindings_at(expr)
            if not bindings or any(b.kind != "assign" or b.value is None for b in bindings):
                return []
            return [b.value for b in bindings]
        return _module_level_values(self.facts.module, expr.value)


def _module_level_values(module, name: str) -> list:
    """Values of a module-level name assigned exactly once at module level (scripts, notebooks)."""
    values = []
    for statement in iter_statements(module.body, into_functions=False, into_classes=False):
        for small in small_statements(statement):
            if isinstance(small, cst.Assign):
                for target in small.targets:
                    if isinstance(target.target, cst.Name) and target.target.value == name:
                        values.append(small.value)
                    elif _binds(target.target, name):
                        return []  # unpacked: its value is unknown
            elif isinstance(small, (cst.AugAssign, cst.AnnAssign)) and isinstance(small.target, cst.Name) \
                    and small.target.value == name:
                return []
    return values if len(values) == 1 else []


def _binds(target, name: str) -> bool:
    """Does an unpacking target (`a, (b, *c) = ...`) bind `name`?"""
    if isinstance(target, cst.Name):
        return target.value == name
    if isinstance(target, (cst.Tuple, cst.List)):
        return any(_binds(element.value, name) for element in target.elements)
    if isinstance(target, cst.StarredElement):
        return _binds(target.value, name)
    return False
