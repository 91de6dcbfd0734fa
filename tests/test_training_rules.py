"""TL201 missing-zero-grad and TL202 zero-grad-before-step on snippets: findings, notes, silence."""

import textwrap

import pytest

from torchlint.testing import lint_snippet

HEADER = """\
import torch
from torch import nn
model = nn.Linear(3, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
"""


def findings(body: str, code: str):
    source = HEADER + textwrap.dedent(body)
    return [d for d in lint_snippet(source, select=[code]) if d.code == code]


def rows(body: str, code: str):
    offset = HEADER.count("\n")
    return [d.span.start.row - offset for d in findings(body, code)]


# --- TL201 ----------------------------------------------------------------------------------

def test_tl201_a_name_is_what_its_own_scope_binds_it_to():
    # `optimizer` is a scheduler in `warmup` and an optimizer in `train`: two bindings, not one name.
    body = """\
        from torch.optim.lr_scheduler import StepLR
        def warmup(net, xs):
            optimizer = StepLR(opt, 1)
            for x in xs:
                net(x).sum().backward()
                optimizer.step()
        def train(net, xs):
            optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
            for x in xs:
                net(x).sum().backward()
                optimizer.step()
        """
    assert rows(body, "TL201") == [10]


def test_tl201_reports_at_backward_with_a_note_at_the_step():
    (finding,) = findings("""\
        for x in xs:
            loss = model(x).sum()
            loss.backward()
            opt.step()
        """, "TL201")
    assert finding.span.start.row - HEADER.count("\n") == 3
    assert "`opt`" in finding.message
    (note,) = finding.notes
    assert "updates here" in note.message and note.span.start.row - HEADER.count("\n") == 4
    assert "opt.zero_grad()" in finding.help


@pytest.mark.parametrize("setup,label", [
    ("opt.zero_grad()\nfor x in xs:\n", "once, before the loop"),
    ("for epoch in range(2):\n    opt.zero_grad()\n    for x in xs:\n", "once per iteration of the outer loop"),
])
def test_tl201_notes_the_reset_that_runs_too_rarely(setup, label):
    depth = "    " * (setup.count("for "))
    body = setup + f"{depth}model(x).sum().backward()\n{depth}opt.step()\n"
    (finding,) = findings(body, "TL201")
    assert any(label in note.message for note in finding.notes)


def test_tl201_notes_a_conditional_reset():
    (finding,) = findings("""\
        for i, x in enumerate(xs):
            if i % 10 == 0:
                opt.zero_grad()
            model(x).sum().backward()
            opt.step()
        """, "TL201")
    assert any("only when `i % 10 == 0`" in note.message for note in finding.notes)


def test_tl201_zero_grad_without_call_is_no_reset():
    assert rows("""\
        for x in xs:
            opt.zero_grad
            model(x).sum().backward()
            opt.step()
        """, "TL201") == [3]


def test_tl201_one_finding_per_backward_even_through_nested_loops():
    assert rows("""\
        for epoch in range(3):
            for x in xs:
                model(x).sum().backward()
                opt.step()
        """, "TL201") == [3]


def test_tl201_break_path_does_not_need_a_reset():
    assert rows("""\
        for x in xs:
            model(x).sum().backward()
            opt.step()
            if done():
                break
            opt.zero_grad()
        """, "TL201") == []


def test_tl201_step_in_finally_like_accumulation_is_not_flagged_when_reset_with_step():
    assert rows("""\
        for i, x in enumerate(xs):
            model(x).sum().backward()
            if i % 4 == 3 or i == len(xs) - 1:
                opt.step()
                opt.zero_grad()
        """, "TL201") == []


def test_tl201_optimizer_handed_to_unknown_code_is_not_judged():
    assert rows("""\
        from helpers import clip_and_step
        for x in xs:
            model(x).sum().backward()
            clip_and_step(opt)
            opt.step()
        """, "TL201") == []


def test_tl201_reset_of_another_model_does_not_cover():
    assert rows("""\
        other = nn.Linear(3, 1)
        for x in xs:
            other.zero_grad()
            model(x).sum().backward()
            opt.step()
        """, "TL201") == [4]


def test_tl201_silent_for_other_frameworks():
    source = "import paddle\nfor x in xs:\n    loss.backward()\n    optimizer.step()\n"
    assert lint_snippet(source, select=["TL201"]) == []


def test_tl201_trainer_module_that_imports_nothing_from_torch():
    source = "import numpy as np\ndef train(model, loader, optimizer):\n    for x in loader:\n        model(x).backward()\n        optimizer.step()\n"
    assert [d.span.start.row for d in lint_snippet(source, select=["TL201"])] == [4]


def test_tl201_lightning_automatic_training_step_is_silent():
    assert rows("""\
        import lightning as L
        class M(L.LightningModule):
            def training_step(self, batch, i):
                for chunk in batch:
                    self.layer(chunk).sum().backward()
                    self.optimizer.step()
        """, "TL201") == []


def test_tl201_lightning_manual_optimization_is_checked():
    assert rows("""\
        import lightning as L
        class M(L.LightningModule):
            automatic_optimization = False
            def training_step(self, batch, i):
                opt = self.optimizers()
                for chunk in batch:
                    self.manual_backward(self.layer(chunk).sum())
                    opt.step()
        """, "TL201") == [7]


# --- TL202 ----------------------------------------------------------------------------------

def test_tl202_reports_at_the_reset_with_notes_at_backward_and_step():
    (finding,) = findings("""\
        for x in xs:
            model(x).sum().backward()
            opt.zero_grad()
            opt.step()
        """, "TL202")
    assert finding.span.start.row - HEADER.count("\n") == 3
    labels = [note.message for note in finding.notes]
    assert any("computed here" in label for label in labels)
    assert any("wiped" in label for label in labels)


def test_tl202_helper_reset_is_reported_at_the_call():
    assert rows("""\
        def reset(m):
            m.zero_grad()
        for x in xs:
            model(x).sum().backward()
            reset(model)
            opt.step()
        """, "TL202") == [5]


def test_tl202_follows_control_flow_not_source_order():
    # the reset comes later in the text, but runs on a path that skips the step
    assert rows("""\
        for x in xs:
            loss = model(x).sum()
            loss.backward()
            if torch.isnan(loss):
                opt.zero_grad()
                continue
            opt.step()
        """, "TL202") == []


def test_tl202_other_models_reset_is_not_a_wipe():
    assert rows("""\
        gen = nn.Linear(3, 3)
        for x in xs:
            model(gen(x).detach()).sum().backward()
            gen.zero_grad()
            opt.step()
        """, "TL202") == []


def test_tl202_unknown_reset_target_is_not_a_wipe():
    assert rows("""\
        for x in xs:
            model(x).sum().backward()
            for p in params:
                p.grad = None
            opt.step()
        """, "TL202") == []


def test_tl202_reset_then_second_backward_is_fine():
    assert rows("""\
        for x in xs:
            model(x).sum().backward()
            opt.zero_grad()
            model(2 * x).sum().backward()
            opt.step()
        """, "TL202") == []


def test_tl201_a_functions_model_parameter_may_be_the_optimizers_model():
    assert rows("""\
        def train(net, loader):
            for x in loader:
                net.zero_grad()
                net(x).sum().backward()
                opt.step()
        """, "TL201") == []


def test_tl201_wrapper_optimizer_reset_through_its_inner_optimizer():
    assert rows("""\
        class NoamOpt:
            def __init__(self, optimizer):
                self.optimizer = optimizer
            def step(self):
                self.optimizer.step()
        model_opt = NoamOpt(opt)
        def run(xs, model_opt):
            for x in xs:
                model(x).sum().backward()
                model_opt.step()
                model_opt.optimizer.zero_grad()
        """, "TL201") == []


def test_tl201_helper_too_deep_to_follow_counts_as_a_possible_reset():
    assert rows("""\
        def a(m): b(m)
        def b(m): c(m)
        def c(m): d(m)
        def d(m): m.zero_grad()
        for x in xs:
            a(model)
            model(x).sum().backward()
            opt.step()
        """, "TL201") == []


def test_tl201_local_optimizer_subclass_is_an_optimizer():
    assert rows("""\
        class Plain(torch.optim.Optimizer):
            pass
        mine = Plain(model.parameters(), {})
        for x in xs:
            model(x).sum().backward()
            mine.step()
        """, "TL201") == [5]


def test_tl201_reset_only_on_the_other_branch_of_the_steps_condition():
    assert rows("""\
        for x in xs:
            model(x).sum().backward()
            if use_amp:
                opt.zero_grad()
            else:
                opt.step()
        """, "TL201") == [2]


def test_tl201_reset_in_a_same_module_base_class_method():
    assert rows("""\
        class Base:
            def clear(self):
                self.opt.zero_grad()
        class Trainer(Base):
            def __init__(self):
                self.opt = torch.optim.SGD(model.parameters(), lr=0.1)
            def fit(self, xs):
                for x in xs:
                    self.clear()
                    model(x).sum().backward()
                    self.opt.step()
        """, "TL201") == []


def test_tl201_gradient_method_of_an_unseen_base_may_reset():
    assert rows("""\
        from framework import BaseTrainer
        class Trainer(BaseTrainer):
            def fit(self, xs):
                for x in xs:
                    self.optimizer_zero_step()
                    model(x).sum().backward()
                    self.optimizer.step()
        """, "TL201") == []


def test_tl201_nested_helper_of_the_enclosing_function():
    assert rows("""\
        def train(xs):
            def clear():
                opt.zero_grad()
            for x in xs:
                clear()
                model(x).sum().backward()
                opt.step()
        """, "TL201") == []


def test_tl202_reset_of_a_local_module_instance():
    assert rows("""\
        class Net(nn.Module):
            pass
        net = Net()
        o = torch.optim.SGD(net.parameters(), lr=0.1)
        for x in xs:
            net(x).sum().backward()
            net.zero_grad()
            o.step()
        """, "TL202") == [7]


def test_tl202_partial_reset_freezes_a_submodule_on_purpose():
    assert rows("""\
        for x in xs:
            model(x).sum().backward()
            model.encoder.zero_grad()
            opt.step()
        """, "TL202") == []


def test_tl201_aliases_of_optimizer_and_model():
    assert rows("""\
        net = model
        o2 = torch.optim.SGD(net.parameters(), lr=0.1)
        class T:
            def fit(self, xs):
                optimizer = self.optimizer
                for x in xs:
                    self.optimizer.zero_grad()
                    model(x).sum().backward()
                    optimizer.step()
        for x in xs:
            model.zero_grad()
            model(x).sum().backward()
            o2.step()
        """, "TL201") == []


def test_tl201_reset_and_step_under_two_spellings_of_one_condition():
    assert rows("""\
        for x in xs:
            if mode == "train":
                opt.zero_grad()
            if is_train:
                model(x).sum().backward()
                opt.step()
        """, "TL201") == []


def test_tl201_reset_indented_into_a_logging_if_inside_the_train_branch():
    assert rows("""\
        for i, x in enumerate(xs):
            if is_train:
                model(x).sum().backward()
                opt.step()
                if i % 100 == 0:
                    opt.zero_grad()
        """, "TL201") == [3]


def test_an_optimizer_known_only_by_its_annotation_is_checked():
    body = """
        def train(loader, o: torch.optim.Optimizer, sched: torch.optim.lr_scheduler.LRScheduler):
            for x in loader:
                model(x).sum().backward()
                o.step()
                sched.step()
    """
    assert rows(body, "TL201") == [4]
