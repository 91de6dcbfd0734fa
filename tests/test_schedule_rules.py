"""TL207 scheduler-before-optimizer and TL208 sampler-epoch-not-set: the facts behind them
(`torchlint.facts.schedules`), behaviour the fixtures don't show, and their runtime watches."""

from __future__ import annotations

import textwrap

import pytest

from torchlint.testing import lint_snippet

TORCH = "import torch\nfrom torch import nn\n"
LOADER = ("import torch\nfrom torch.utils.data import DataLoader\n"
          "from torch.utils.data.distributed import DistributedSampler\n")


def rows(source: str, code: str) -> list[int]:
    return sorted(d.span.start.row for d in lint_snippet(source, select=[code]) if d.code == code)


def facts_of(source: str):
    import libcst as cst

    from torchlint.facts import ModuleFacts
    from torchlint.facts.schedules import Schedules

    return ModuleFacts(cst.parse_module(source)).get(Schedules)


# --- TL207 ----------------------------------------------------------------------------------------

PHASES = TORCH + textwrap.dedent("""\
    def train_model(model, criterion, optimizer, scheduler, loaders, num_epochs=25):
        for epoch in range(num_epochs):
            for phase in ['train', 'val']:
                if phase == 'train':
                    scheduler.step()
                    model.train()
                else:
                    model.eval()
                for inputs, labels in loaders[phase]:
                    optimizer.zero_grad()
                    with torch.set_grad_enabled(phase == 'train'):
                        loss = criterion(model(inputs), labels)
                        if phase == 'train':
                            loss.backward()
                            optimizer.step()
    """)


def test_the_old_transfer_learning_tutorial_order_is_reported_at_the_scheduler():
    # The scheduler is a parameter: known by its name; the update sits under another `if` on the
    # same condition, which is no exclusive branch.
    assert rows(PHASES, "TL207") == [7]
    [early] = facts_of(PHASES).early_scheduler_steps()
    from torchlint.facts.schedules import Evidence, StepKind

    assert early.evidence is Evidence.NAME and early.update.kind is StepKind.OPTIMIZER
    assert early.scheduler.key == "scheduler" and early.update.key == "optimizer"


def test_the_typed_answer_names_the_constructor_and_its_optimizer():
    source = TORCH + textwrap.dedent("""\
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.StepLR(opt, 1)
        for x in xs:
            sched.step()
            opt.step()
        """)
    [early] = facts_of(source).early_scheduler_steps()
    from torchlint.facts.schedules import Evidence

    assert early.evidence is Evidence.CONSTRUCTOR and early.optimizer == "opt"
    assert early.built is not None and early.built.func.attr.value == "StepLR"


@pytest.mark.parametrize("body", [
    # an update anywhere earlier in the iteration, even on one branch
    "    if warm:\n        opt.step()\n    sched.step()\n    opt.step()\n",
    # the scheduler and the update on exclusive branches
    "    if warm:\n        sched.step()\n    else:\n        opt.step()\n",
    # no update in the loop at all: a loop that prints the schedule
    "    sched.step()\n    print(sched.get_last_lr())\n",
    # an explicit epoch, a metric
    "    sched.step(epoch)\n    opt.step()\n",
])
def test_scheduler_order_traps_stay_silent(body):
    source = TORCH + "opt = torch.optim.SGD(m.parameters(), lr=0.1)\nsched = torch.optim.lr_scheduler.StepLR(opt, 1)\n"
    assert rows(source + "for epoch in range(3):\n" + body, "TL207") == []


def test_a_name_bound_to_something_else_is_no_scheduler():
    source = TORCH + textwrap.dedent("""\
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)
        noise_scheduler = torch.zeros(3)
        for x in xs:
            scheduler.step()
            noise_scheduler.step()
            opt.step()
        """)
    assert rows(source, "TL207") == []


def test_a_project_scheduler_class_counts_and_an_inlined_step_is_reported_at_the_call():
    source = TORCH + textwrap.dedent("""\
        from utils import WarmUpLR

        def adjust(warm):
            warm.step()

        def main(model):
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            warmup = WarmUpLR(opt, 100)
            for x in xs:
                adjust(warmup)
                opt.step()
        """)
    diagnostics = [d for d in lint_snippet(source, select=["TL207"])]
    assert [d.span.start.row for d in diagnostics] == [12]
    assert any(note.span.start.row == 6 for note in diagnostics[0].notes)


def test_the_scheduler_name_is_read_per_function():
    # `scheduler` is a StepLR in one function and a plateau scheduler in another.
    source = TORCH + textwrap.dedent("""\
        def a(opt):
            scheduler = torch.optim.lr_scheduler.StepLR(opt, 1)
            for x in xs:
                scheduler.step()
                opt.step()

        def b(opt):
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)
            for x in xs:
                scheduler.step()
                opt.step()
        """)
    assert rows(source, "TL207") == [6]


# --- TL208 ----------------------------------------------------------------------------------------

def test_the_imagenet_example_shape_is_reported_at_the_helper_call():
    # The sampler is None in a single process; the loader is iterated by a same-module helper.
    source = LOADER + textwrap.dedent("""\
        def train(train_loader, model):
            for i, (x, y) in enumerate(train_loader):
                model(x)

        def main_worker(args, ds, model):
            if args.distributed:
                train_sampler = torch.utils.data.distributed.DistributedSampler(ds)
            else:
                train_sampler = None
            train_loader = torch.utils.data.DataLoader(ds, shuffle=(train_sampler is None), sampler=train_sampler)
            for epoch in range(10):
                train(train_loader, model)
        """)
    assert rows(source, "TL208") == [15]
    [unset] = facts_of(source).unset_sampler_epochs()
    from torchlint.facts.schedules import Shuffle

    assert unset.sampler.shuffle is Shuffle.ON and unset.sampler.key == "train_sampler"
    assert unset.via is not None and unset.iteration.target is not None


@pytest.mark.parametrize("epoch_body,sampler", [
    ("    if args.distributed:\n        sampler.set_epoch(epoch)\n    for b in loader:\n        step(b)\n", "DistributedSampler(ds)"),
    ("    for b in loader:\n        step(b)\n    loader.sampler.set_epoch(epoch + 1)\n", "DistributedSampler(ds)"),
    ("    for b in loader:\n        step(b)\n", "DistributedSampler(ds, shuffle=args.shuffle)"),
    ("    for b in loader:\n        step(b)\n", "DistributedSampler(ds, 1, 0, False)"),
    # handed to code we cannot read, which may set the epoch
    ("    reshuffle(loader, epoch)\n    for b in loader:\n        step(b)\n", "DistributedSampler(ds)"),
    # rebuilt every epoch (perhaps with a seed of its own)
    ("    loader = DataLoader(ds, sampler=DistributedSampler(ds, seed=epoch))\n    for b in loader:\n        step(b)\n",
     "DistributedSampler(ds)"),
])
def test_sampler_epoch_traps_stay_silent(epoch_body, sampler):
    source = LOADER + f"sampler = {sampler}\nloader = DataLoader(ds, sampler=sampler)\nfor epoch in range(3):\n" + epoch_body
    assert rows(source, "TL208") == []


def test_a_loader_parameter_or_a_loader_without_a_distributed_sampler_is_not_judged():
    source = LOADER + textwrap.dedent("""\
        def fit(loader):
            for epoch in range(3):
                for b in loader:
                    step(b)

        def other(ds):
            loader = DataLoader(ds, shuffle=True)
            for epoch in range(3):
                for b in loader:
                    step(b)

        def third(ds):
            loader = DataLoader(ds, sampler=DistributedSampler(ds))
            for epoch in range(3):
                for b in loader:
                    step(b)
        """)
    assert rows(source, "TL208") == [18]


def test_loaders_are_followed_through_helper_returns_and_call_sites_but_only_when_every_path_agrees():
    source = "import torch\n" + textwrap.dedent("""\
        def loaders(ds):
            train = torch.utils.data.DataLoader(ds, sampler=torch.utils.data.distributed.DistributedSampler(ds))
            return train, torch.utils.data.DataLoader(ds)

        def fit(loader, epochs):
            for epoch in range(epochs):
                for b in loader:
                    step(b)

        def main(ds, accelerator):
            train, val = loaders(ds)
            for epoch in range(3):
                for b in val:
                    step(b)
            fit(train, 3)

        def fit_prepared(loader):
            for epoch in range(3):
                for b in loader:
                    step(b)

        def fit_twice(loader):
            for epoch in range(3):
                for b in loader:
                    step(b)

        def other(ds, accelerator):
            train, _ = loaders(ds)
            fit_prepared(accelerator.prepare(train))  # a framework's loader sets its own epoch
            fit_twice(train)
            fit_twice(torch.utils.data.DataLoader(ds, shuffle=True))
        """)
    # only `fit`: `val` is the helper's second element (no sampler), `fit_prepared` gets what
    # `prepare` returns, and `fit_twice` gets a plain loader from one of its two callers
    assert rows(source, "TL208") == [8]


def test_a_pass_over_the_loader_is_no_epoch_loop_for_the_evaluations_inside_it():
    # LLMs-from-scratch's DDP training: every `eval_freq` batches, the first batches of the train
    # and val loaders are re-read for a loss estimate; the same order each time is what it wants.
    source = LOADER + textwrap.dedent("""\
        def make(ds):
            return DataLoader(ds, sampler=DistributedSampler(ds))

        def estimate(loader, n):
            for i, b in enumerate(loader):
                if i >= n:
                    break

        def train(train_loader, val_loader, epochs):
            for epoch in range(epochs):
                train_loader.sampler.set_epoch(epoch)
                for b in train_loader:
                    step(b)
                    estimate(train_loader, 2)
                    estimate(val_loader, 2)

        train(make(ds), make(ds), 3)
        """)
    assert rows(source, "TL208") == []


# --- the runtime watches --------------------------------------------------------------------------

def test_the_tracer_records_scheduler_steps_and_sampler_passes_and_the_oracles_judge_them():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, TensorDataset
    from torch.utils.data.distributed import DistributedSampler

    from torchlint.rules.oracles.observations import SamplerEpoch, SchedulerStep
    from torchlint.rules.oracles.tl207_scheduler_before_optimizer import judge as judge_order
    from torchlint.rules.oracles.tl208_sampler_epoch_not_set import judge as judge_epochs
    from torchlint.verify.tracer import Tracer

    step_before = torch.optim.lr_scheduler.LRScheduler.step
    iter_before = DistributedSampler.__iter__
    model = torch.nn.Linear(2, 1)
    early_opt = torch.optim.SGD(model.parameters(), lr=1.0)
    late_opt = torch.optim.SGD(model.parameters(), lr=1.0)
    loader = DataLoader(TensorDataset(torch.arange(8.0)), batch_size=4,
                        sampler=DistributedSampler(TensorDataset(torch.arange(8.0)), num_replicas=1, rank=0))
    with Tracer() as tracer:
        early = torch.optim.lr_scheduler.StepLR(early_opt, step_size=1, gamma=0.5)
        early.step()  # before any update
        late = torch.optim.lr_scheduler.StepLR(late_opt, step_size=1, gamma=0.5)
        late_opt.step()
        late.step()
        for epoch in range(2):
            for _ in loader:
                pass
    steps = [c for c in tracer.calls if isinstance(c, SchedulerStep)]
    passes = [c for c in tracer.calls if isinstance(c, SamplerEpoch)]
    assert [(s.first, s.optimizer_stepped) for s in steps] == [(True, False), (True, True)]
    assert steps[0].lr_before == (1.0,) and steps[0].lr_after == (0.5,)
    assert judge_order(steps[0], tracer).holds and not judge_order(steps[1], tracer).holds
    assert len(passes) == 2 and passes[0].order == passes[1].order
    assert judge_epochs(passes[0], tracer) is None and judge_epochs(passes[1], tracer).holds
    assert torch.optim.lr_scheduler.LRScheduler.step is step_before and DistributedSampler.__iter__ is iter_before


def test_a_loss_module_call_is_recorded_at_the_users_line_through_the_nested_patches():
    # TL204's oracle: `criterion(probabilities, labels)` reaches `F.cross_entropy` through
    # `_Loss.__call__` (patched for TL203) and `CrossEntropyLoss.forward`; the walk out of torch must
    # also walk out of the tracer's own wrappers, or the call is never attributed to this line.
    torch = pytest.importorskip("torch")
    import inspect

    from torchlint.rules.oracles.observations import LossCall
    from torchlint.rules.oracles.tl204_softmax_before_cross_entropy import judge
    from torchlint.verify.tracer import Tracer

    logits, labels = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    with Tracer() as tracer:
        line = inspect.currentframe().f_lineno + 1
        torch.nn.CrossEntropyLoss()(logits.softmax(dim=1), labels)
        torch.nn.BCEWithLogitsLoss()(torch.sigmoid(logits), torch.ones(4, 3))
    losses = [c for c in tracer.calls if isinstance(c, LossCall)]
    assert [(c.name, c.line) for c in losses] == [("cross_entropy", line), ("binary_cross_entropy_with_logits", line + 1)]
    assert all(judge(c, tracer).holds for c in losses)


def test_an_unpacked_prepare_keeps_the_scheduler_and_two_training_helpers_are_not_one_iteration():
    source = TORCH + textwrap.dedent("""\
        from transformers import get_scheduler

        def run(model, accelerator, loader):
            optimizer = torch.optim.AdamW(model.parameters())
            lr_scheduler = get_scheduler("linear", optimizer, 0, 100)
            optimizer, lr_scheduler = accelerator.prepare(optimizer, lr_scheduler)
            for batch in loader:
                accelerator.backward(model(batch).loss)
                lr_scheduler.step()
                optimizer.step()

        def baseline(engine, sched):
            for b in data:
                engine.step()
                sched.step()

        def integration(optimizer):
            for b in data:
                optimizer.step()

        for stage in [1, 2]:
            baseline(engine, sched)
            integration(optimizer)
        """)
    assert rows(source, "TL207") == [11]


def test_what_a_name_holds_comes_from_the_program_models_scopes():
    import libcst as cst

    from torchlint.facts.schedule_loaders import Unpacked

    source = TORCH + textwrap.dedent("""\
        scheduler = torch.optim.lr_scheduler.StepLR(opt, 1)
        class Config:
            warmup = make_warmup()
        def train(scheduler):
            return scheduler
        def outer():
            warmup = torch.optim.lr_scheduler.LinearLR(opt)
            a, *rest, b = build()
            def inner():
                return warmup
            return inner
        class Trainer:
            def __init__(self):
                self.sched, self.opt = prepare()
            def fit(self):
                return self.sched
        class Other:
            def __init__(self):
                self.sched = torch.optim.lr_scheduler.StepLR(opt, 1)
    """)
    facts = facts_of(source)
    module = facts.facts.module
    defs = {n.name.value: n for n in module.body if isinstance(n, (cst.FunctionDef, cst.ClassDef))}
    train, outer = defs["train"], defs["outer"]
    inner = outer.body.body[-2]
    fit = defs["Trainer"].body.body[1]
    assert len(facts.values("scheduler", None)) == 1
    assert facts.values("scheduler", train) == []  # the parameter, not the module's
    assert facts.values("warmup", None) == []  # a class attribute is no module name
    [warmup] = facts.values("warmup", inner)  # the enclosing def's
    assert facts.scope_of(warmup, None) is outer
    [b] = facts.values("b", outer)
    assert isinstance(b, Unpacked) and b.index is None  # after a starred element: position unknown
    # `self.sched` of the method's own class, not of every class in the file
    [sched] = facts.values("self.sched", fit)
    assert isinstance(sched, Unpacked) and sched.index == 0 and facts.scope_of(sched, None) is defs["Trainer"].body.body[0]
