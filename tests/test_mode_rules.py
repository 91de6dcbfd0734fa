"""TL205 eval-mode-not-restored and TL206 eval-without-no-grad: the mode facts and the traps."""

from __future__ import annotations

import pytest

from torchlint.testing import lint_snippet

HEAD = "import torch\n"
TRAIN_HELPER = (
    "def run_batches(model, opt, loader):\n"
    "    for x in loader:\n"
    "        opt.zero_grad()\n"
    "        model(x).sum().backward()\n"
    "        opt.step()\n"
)
EVAL_HELPER = (
    "def evaluate(net, data):\n"
    "    net.eval()\n"
    "    with torch.no_grad():\n"
    "        return net(data)\n"
)


def rows(source: str, code: str) -> list[int]:
    return sorted(d.span.start.row for d in lint_snippet(source, select=[code]) if d.code == code)


def fit(body: str, before: str = "") -> str:
    return HEAD + TRAIN_HELPER + EVAL_HELPER + (
        "def fit(model, opt, loader, val, epochs):\n" + before
        + "    for epoch in range(epochs):\n" + body
    )


# --- TL205 ------------------------------------------------------------------------------------


def test_eval_through_a_helper_is_reported_at_the_call_in_the_loop_with_notes():
    source = fit("        run_batches(model, opt, loader)\n        evaluate(model, val)\n", "    model.train()\n")
    found = [d for d in lint_snippet(source, select=["TL205"])]
    assert [d.span.start.row for d in found] == [source.splitlines().index("        evaluate(model, val)") + 1]
    notes = [n.message for n in found[0].notes]
    assert any("switched to evaluation mode here" in n for n in notes)
    assert any("once, before the loop" in n for n in notes)


@pytest.mark.parametrize("body", [
    "        model.train()\n        run_batches(model, opt, loader)\n        evaluate(model, val)\n",
    "        run_batches(model, opt, loader)\n        evaluate(model, val)\n        model.train(True)\n",
    "        run_batches(model, opt, loader)\n        evaluate(model, val)\n        model.train(mode=flag)\n",
    "        run_batches(model, opt, loader)\n        train_hook(model)\n        evaluate(model, val)\n",
    "        run_batches(model, opt, loader)\n        evaluate(ema, val)\n",
    "        run_batches(model, opt, loader)\n        if epoch == epochs - 1:\n            evaluate(model, val)\n            break\n",
    "        run_batches(model, opt, loader)\n        model.fit_one_cycle(3)\n        evaluate(model, val)\n",
])
def test_eval_mode_is_silent_when_the_loop_may_restore_it_or_evaluates_another_model(body):
    assert rows(fit(body), "TL205") == []


def test_eval_without_any_training_in_the_loop_is_silent():
    source = HEAD + EVAL_HELPER + "def watch(model, val):\n    for v in val:\n        evaluate(model, v)\n"
    assert rows(source, "TL205") == []


def test_eval_before_the_training_in_the_iteration_is_reported_too():
    source = fit("        evaluate(model, val)\n        run_batches(model, opt, loader)\n")
    assert len(rows(source, "TL205")) == 1


def test_a_train_helper_renamed_through_parameters_restores_the_callers_model():
    source = HEAD + EVAL_HELPER + (
        "def train_one_epoch(net, opt, loader):\n    net.train()\n    for x in loader:\n"
        "        net(x).sum().backward()\n        opt.step()\n"
        "def fit(model, other, opt, loader, val):\n    for epoch in range(3):\n"
        "        train_one_epoch(model, opt, loader)\n        evaluate(model, val)\n"
    )
    assert rows(source, "TL205") == []
    # The helper restores `other`, not the evaluated model.
    assert len(rows(source.replace("train_one_epoch(model,", "train_one_epoch(other,")
                    .replace("net(x).sum()", "model(x).sum()"), "TL205")) <= 1


METHOD_EVAL = HEAD + (
    "class Net(torch.nn.Module):\n"
    "    def forward(self, x):\n        return x\n"
    "    def validate(self, x):\n        self.eval()\n        with torch.no_grad():\n            out = self(x)\n"
    "        return out\n"
    "model = Net()\nopt = torch.optim.SGD(model.parameters(), lr=0.1)\nmodel.train()\n"
    "for x in loader:\n    model(x).sum().backward()\n    opt.step()\n    opt.zero_grad()\n    model.validate(x)\n"
)


def test_a_method_of_a_same_module_class_is_followed_like_a_function():
    # `model.validate(x)` runs `self.eval()` on `model` (Summaries: the class of `model`, `self` renamed).
    assert rows(METHOD_EVAL, "TL205") == [METHOD_EVAL.splitlines().index("    model.validate(x)") + 1]
    restored = METHOD_EVAL.replace("        return out\n", "        self.train()\n        return out\n")
    assert rows(restored, "TL205") == []


def test_a_backward_in_a_method_makes_the_forwards_before_it_training_ones():
    source = HEAD + EVAL_HELPER + (
        "class Trainer:\n    def backprop(self, out):\n        out.sum().backward()\n"
        "trainer = Trainer()\nmodel.train()\n"
        "for x in loader:\n    out = model(x)\n    trainer.backprop(out)\n    evaluate(model, val)\n"
    )
    assert rows(source, "TL205") == [source.splitlines().index("    evaluate(model, val)") + 1]
    assert rows(source.replace(".backward()", ".item()"), "TL205") == []


def test_files_that_do_not_import_torch_are_not_judged():
    source = fit("        run_batches(model, opt, loader)\n        evaluate(model, val)\n").replace("import torch\n", "")
    assert rows(source, "TL205") == []


# --- TL206 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("wrap", [
    "    with torch.no_grad():\n        return model(x)\n",
    "    with torch.inference_mode():\n        return model(x)\n",
    "    with torch.set_grad_enabled(False):\n        return model(x)\n",
    "    with torch.set_grad_enabled(phase == 'train'):\n        return model(x)\n",
    "    torch.set_grad_enabled(False)\n    return model(x)\n",
    "    model.train()\n    return model(x)\n",
    "    out = model(x)\n    out.sum().backward()\n    return out\n",
    "    grads = torch.autograd.grad(model(x).sum(), x)\n    return grads\n",
    "    x.requires_grad = True\n    return model(x)\n",
])
def test_eval_forward_is_silent_when_gradients_are_off_or_needed(wrap):
    assert rows(HEAD + "def evaluate(model, x, phase=None):\n    model.eval()\n" + wrap, "TL206") == []


@pytest.mark.parametrize("decorator", ["@torch.no_grad()", "@torch.no_grad", "@torch.inference_mode()"])
def test_decorators_on_the_function_or_an_enclosing_one_disable_gradients(decorator):
    inner = "def evaluate(model, x):\n    model.eval()\n    return model(x)\n"
    assert rows(HEAD + decorator + "\n" + inner, "TL206") == []
    nested = f"{decorator}\ndef outer(model, x):\n    def evaluate():\n        model.eval()\n        return model(x)\n    return evaluate()\n"
    assert rows(HEAD + nested, "TL206") == []


def test_a_caller_under_no_grad_two_levels_up_disables_gradients():
    source = HEAD + (
        "def predict(model, x):\n    model.eval()\n    return model(x)\n"
        "def report(model, x):\n    return predict(model, x).argmax(1)\n"
        "def main(model, x):\n    with torch.no_grad():\n        print(report(model, x))\n"
    )
    assert rows(source, "TL206") == []
    assert rows(source.replace("    with torch.no_grad():\n        print", "    if True:\n        print"), "TL206") == [4]


def test_only_forwards_after_eval_and_before_train_are_reported():
    source = HEAD + (
        "def run(model, x):\n    model(x)\n    model.eval()\n    y = model(x)\n    model.train()\n    return model(x)\n"
    )
    assert rows(source, "TL206") == [5]


def test_lightning_validation_step_runs_under_the_frameworks_no_grad():
    source = HEAD + "class Lit:\n    def validation_step(self, batch, i):\n        self.eval()\n        return self(batch)\n"
    assert rows(source, "TL206") == []


def test_script_level_prediction_in_a_notebook_style_file_is_reported():
    source = HEAD + "model = torch.nn.Linear(2, 2)\nmodel.eval()\nout = model(torch.ones(1, 2))\nprint(out)\n"
    assert rows(source, "TL206") == [4]


@pytest.mark.parametrize("freeze", [
    "model.requires_grad_(False)\n",
    "for p in model.parameters():\n    p.requires_grad = False\n",
])
def test_a_frozen_model_records_no_graph(freeze):
    source = HEAD + "model = torch.nn.Linear(2, 2)\n" + freeze + "model.eval()\nout = model(torch.ones(1, 2))\n"
    assert rows(source, "TL206") == []
    assert rows(source.replace(freeze, ""), "TL206") == [4]


def test_a_training_forward_is_one_followed_by_backward_in_its_loop_or_a_loss_helper():
    head = HEAD + EVAL_HELPER + "def compute_loss(net, x):\n    return net(x).sum()\n"
    loop = "def fit(model, ema, opt, loader, val):\n    for epoch in range(3):\n        for x in loader:\n"
    # The EMA model is evaluated after the batch loop: nothing trains it.
    ema = loop + "            model(x).sum().backward()\n            opt.step()\n        evaluate(ema, val)\n"
    assert rows(head + ema, "TL205") == []
    helper = loop + "            loss = compute_loss(model, x)\n            loss.backward()\n        evaluate(model, val)\n"
    assert len(rows(head + helper, "TL205")) == 1


# --- the runtime oracles ------------------------------------------------------------------------


def _traced(body):
    pytest.importorskip("torch")
    from torchlint.verify.tracer import Tracer

    with Tracer() as tracer:
        body()
    return tracer


def _verdicts(tracer, kind, code):
    from torchlint.rules.oracles import oracles_by_code

    judge = oracles_by_code()[code].judge
    return [v.holds for v in (judge(c, tracer) for c in tracer.calls if type(c).__name__ == kind) if v is not None]


def test_eval_forward_oracle_holds_only_for_a_graph_nobody_uses():
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Dropout())
    x = torch.ones(4, 3)

    def run():
        model.eval()
        model(x)  # a graph, thrown away
        with torch.no_grad():
            model(x)
        model(x).sum().backward()  # the graph is used
        model.train()
        model(x)  # a training forward: no claim either way

    assert _verdicts(_traced(run), "ModuleForward", "TL206") == [True, False, False]


def test_eval_mode_oracle_holds_when_a_step_runs_in_eval_mode_before_any_train():
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Dropout())
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.ones(4, 3)

    def epochs(restore):
        for _ in range(2):
            if restore:
                model.train()
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
            model.eval()

    assert _verdicts(_traced(lambda: epochs(False)), "ModeSwitch", "TL205") == [True, False]
    assert _verdicts(_traced(lambda: epochs(True)), "ModeSwitch", "TL205") == [False, False]


def test_a_frozen_model_with_a_thawed_head_still_records_a_graph():
    source = HEAD + ("model = torch.nn.Linear(2, 2)\nfor p in model.parameters():\n    p.requires_grad = False\n"
                     "for p in model.head.parameters():\n    p.requires_grad = True\n"
                     "model.eval()\nout = model(torch.ones(1, 2))\n")
    assert rows(source, "TL206") == [8]


def test_freezing_part_of_a_model_leaves_the_rest_recording_a_graph():
    source = HEAD + ("vgg = torch.nn.Linear(2, 2)\nfor p in vgg.features.parameters():\n    p.requires_grad = False\n"
                     "vgg.eval()\nout = vgg(torch.ones(1, 2))\n")
    assert rows(source, "TL206") == [6]


def test_a_model_stored_on_self_by_a_base_class_trains_in_the_subclass():
    # `self.model` is stored by `Base.__init__`: `self.model(x)` in `Trainer` is its forward, not
    # `self` handed to a method we cannot see
    source = HEAD + (
        "class Base:\n    def __init__(self, model, opt):\n        self.model = model\n        self.opt = opt\n"
        "class Trainer(Base):\n    def fit(self, loader):\n        for epoch in range(3):\n"
        "            for x in loader:\n                self.opt.zero_grad()\n"
        "                self.model(x).sum().backward()\n                self.opt.step()\n"
        "            self.model.eval()\n"
    )
    assert rows(source, "TL205") == [13]


def test_calls_of_same_module_defs_are_no_forwards():
    import libcst as cst

    from torchlint.facts import ModuleFacts
    from torchlint.facts.modes import Modes
    from torchlint.facts.statements import walk_nodes

    source = HEAD + (
        "if fast:\n    def predict(x):\n        return x\nelse:\n    def predict(x):\n        return 2 * x\n"
        "class M:\n    def __init__(self, net):\n        self.net = net\n"
        "    def helper(self, x):\n        return x\n"
        "    def run(self, x):\n        return self.helper(x), self.net(x), predict(x), model(x)\n"
    )
    module = cst.parse_module(source)
    modes = ModuleFacts(module).get(Modes)
    calls = [n for n in walk_nodes(module) if isinstance(n, cst.Call)]
    keys = {cst.Module([]).code_for_node(call.func): modes.forward_key(call) for call in calls}
    assert keys == {"self.helper": None, "self.net": "self.net", "predict": None, "model": "model"}
