"""Same-module function summaries: which def a call runs, its arguments, what running it does."""

import textwrap

import libcst as cst

from torchlint.facts import ModuleFacts
from torchlint.facts.dataflow import Dataflow, How
from torchlint.facts.statements import walk_nodes
from torchlint.facts.summaries import Act, Summaries


def _setup(source: str):
    module = cst.parse_module(textwrap.dedent(source))
    facts = ModuleFacts(module)
    return module, facts, facts.get(Summaries)


def _call(module, text: str):
    found = [n for n in walk_nodes(module) if isinstance(n, cst.Call) and module.code_for_node(n) == text]
    assert found, text
    return found[0]


def _def_line(module, function) -> str:
    return module.code_for_node(function).splitlines()[0].strip()


def test_a_call_runs_the_nearest_def_of_its_name_and_an_import_wins():
    module, _, summaries = _setup("""
        from lib import imported
        def helper(x):
            return x
        def imported(x):
            return x
        def outer(y):
            def helper(z):
                return z
            return helper(y)
        def caller(y):
            return helper(y) + imported(y)
    """)
    calls = [n for n in walk_nodes(module) if isinstance(n, cst.Call) and module.code_for_node(n) == "helper(y)"]
    # in `outer` its own nested helper, in `caller` the module's
    assert sorted(_def_line(module, summaries.callee(c)) for c in calls) == ["def helper(x):", "def helper(z):"]
    assert {summaries.facts.get(Dataflow).enclosing_function(c).name.value: _def_line(module, summaries.callee(c)) for c in calls} == {
        "outer": "def helper(z):", "caller": "def helper(x):"}
    assert summaries.callee(_call(module, "imported(y)")) is None


def test_a_def_spelled_twice_is_ambiguous_but_both_are_candidates():
    module, _, summaries = _setup("""
        if fast:
            def step(m):
                m.a()
        else:
            def step(m):
                m.b()
        step(model)
    """)
    call = _call(module, "step(model)")
    assert summaries.callee(call) is None
    assert [_def_line(module, f) for f in summaries.callees(call)] == ["def step(m):", "def step(m):"]


def test_methods_are_found_through_same_module_bases_for_self_and_for_instances():
    module, _, summaries = _setup("""
        class Base:
            def reset(self, opt):
                opt.zero_grad()
        class Trainer(Base):
            def run(self, opt):
                self.reset(opt)
        trainer = Trainer()
        trainer.reset(sgd)
        other = make()
        other.reset(sgd)
    """)
    for text in ("self.reset(opt)", "trainer.reset(sgd)"):
        assert _def_line(module, summaries.callee(_call(module, text))) == "def reset(self, opt):"
    assert summaries.callee(_call(module, "other.reset(sgd)")) is None


def test_arguments_bind_the_receiver_keywords_and_positions_before_a_star():
    module, _, summaries = _setup("""
        class M:
            def f(self, a, b, *, c=1):
                pass
            @staticmethod
            def g(a, b):
                pass
            def run(self):
                self.f(1, c=3, b=2)
                self.g(4, 5)
                self.f(*xs, b=6)
    """)
    function = summaries.callee(_call(module, "self.f(1, c=3, b=2)"))

    def bound(text, f):
        return {k: module.code_for_node(v) for k, v in summaries.arguments(_call(module, text), f).items()}

    assert bound("self.f(1, c=3, b=2)", function) == {"self": "self", "a": "1", "b": "2", "c": "3"}
    assert bound("self.g(4, 5)", summaries.callee(_call(module, "self.g(4, 5)"))) == {"a": "4", "b": "5"}
    assert bound("self.f(*xs, b=6)", function) == {"self": "self", "b": "6"}


def test_a_summary_says_which_parameters_are_returned_written_and_stored():
    module, _, summaries = _setup("""
        def touch(t):
            t.add_(1)
        def f(a, b, c, d, e):
            v = a.view(-1)
            v[0] = 1
            touch(b)
            self.kept = c
            return d.t(), len(e)
    """)
    summary = summaries.of(module.body[1])
    assert summary.params == ("a", "b", "c", "d", "e")
    assert summary.writes == {"a", "b"}
    assert summary.returns == {"d"}
    assert summary.stores == {"c"}


def test_recursion_is_cut():
    module, _, summaries = _setup("""
        def f(x, n):
            if n:
                return f(x, n - 1)
            x.zero_()
    """)
    summary = summaries.of(module.body[0])
    assert summary.writes == {"x"}


def test_actions_of_a_call_are_in_the_callers_terms_helpers_followed():
    module, _, summaries = _setup("""
        def update(optimizer, scheduler):
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
        def epoch_end(net, opt, sched):
            update(opt, sched)
            net.train(False)
            local = make()
            local.eval()
            MODEL.train()
        update_all = None
        epoch_end(model, sgd, None)
    """)
    actions = summaries.actions(_call(module, "epoch_end(model, sgd, None)"))
    assert [(a.act, a.target) for a in actions] == [
        (Act.STEP, "sgd"), (Act.STEP, None), (Act.ZERO_GRAD, "sgd"), (Act.EVAL, "model"), (Act.EVAL, None), (Act.TRAIN, "MODEL"),
    ]
    assert all(module.code_for_node(a.via) == "epoch_end(model, sgd, None)" for a in actions)


def test_dataflow_follows_helpers_through_summaries():
    module, facts, _ = _setup("""
        class Base:
            def fill(self, t):
                t.fill_(0)
        class Net(Base):
            def forward(self, x):
                y = x.expand(4, 3)
                self.fill(y)
                return y
    """)
    dataflow = facts.get(Dataflow)
    flow = dataflow.function_of(_call(module, "x.expand(4, 3)"))
    [y] = flow.bindings_of("y")
    [write] = flow.writes(y)
    assert write.how is How.FUNCTION and write.name == "fill"


def test_class_of_follows_enclosing_bindings_and_self_attributes():
    module, facts, summaries = _setup("""
    class Engine:
        def run(self): ...
    class Trainer:
        def __init__(self):
            self.engine = Engine()
        def fit(self):
            self.engine.run()
    trainer = Trainer()
    def main():
        trainer.fit()
        trainer.engine.run()
    def other(trainer):
        trainer.fit()
    """)
    engine, trainer, _, main, other = module.body

    def receivers(scope) -> dict:
        calls = [n for n in walk_nodes(scope) if isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute)]
        return {module.code_for_node(c): c.func.value for c in calls}

    # a module-level instance read in a function, an attribute set in __init__, `self.<attr>`
    assert summaries.class_of(receivers(main)["trainer.fit()"]) is trainer
    assert summaries.class_of(receivers(main)["trainer.engine.run()"]) is engine
    assert summaries.class_of(receivers(trainer)["self.engine.run()"]) is engine
    # a parameter that shadows the module's instance is unknown
    in_other = receivers(other)["trainer.fit()"]
    assert summaries.class_of(in_other) is None
    flow = facts.get(Dataflow).flow_of(in_other)
    assert facts.get(Dataflow).enclosing_flow(flow).scope is module


def test_the_act_a_call_makes_itself():
    module, _, summaries = _setup("""
        from torch.autograd import grad
        import torch
        m.train(False); m.train(mode=flag); m.train(); m.eval(); m.eval(data); m.train(a, b)
        loss.backward(); grad(y, x); torch.autograd.grad(y, x); opt.step(); opt.zero_grad(); m.fit()
    """)
    acts = {text: summaries.act_of(_call(module, text)) for text in (
        "m.train(False)", "m.train(mode=flag)", "m.train()", "m.eval()", "m.eval(data)", "m.train(a, b)",
        "loss.backward()", "grad(y, x)", "torch.autograd.grad(y, x)", "opt.step()", "opt.zero_grad()", "m.fit()")}
    assert acts == {
        "m.train(False)": Act.EVAL, "m.train(mode=flag)": Act.TRAIN, "m.train()": Act.TRAIN, "m.eval()": Act.EVAL,
        "m.eval(data)": None, "m.train(a, b)": None, "loss.backward()": Act.BACKWARD, "grad(y, x)": Act.BACKWARD,
        "torch.autograd.grad(y, x)": Act.BACKWARD, "opt.step()": Act.STEP, "opt.zero_grad()": Act.ZERO_GRAD,
        "m.fit()": None,
    }


def test_acts_follow_functions_and_methods_three_defs_deep_and_cut_recursion():
    module, _, summaries = _setup("""
        import torch
        def loss_of(net, x):
            return torch.autograd.grad(net(x).sum(), x)
        class Trainer:
            def run(self, x):
                self.inner(x)
            def inner(self, x):
                loss_of(self.net, x)
            def again(self):
                self.again()
        def deep(x):
            deeper(x)
        def deeper(x):
            Trainer().run(x)
        trainer = Trainer()
        trainer.run(batch)
        trainer.again()
        deep(batch)
        loss_of(model, batch)
    """)
    assert summaries.acts(_call(module, "trainer.run(batch)")) == {Act.BACKWARD}  # method -> method -> function
    assert summaries.acts(_call(module, "loss_of(model, batch)")) == {Act.BACKWARD}
    assert summaries.acts(_call(module, "trainer.again()")) == frozenset()
    # deep -> deeper -> Trainer().run is not a name's method call: nothing followed
    assert summaries.acts(_call(module, "deep(batch)")) == frozenset()
    assert summaries.acts(_call(module, "trainer.run(batch)"), depth=2) == frozenset()
