"""Loop facts: iteration paths, optimizers, schedulers, scalers, resets and what they cover."""

import textwrap

import libcst as cst

from torchlint.facts import ModuleFacts
from torchlint.facts.loops import BACKWARD, FRESH, OPAQUE, RESET, STEP, Event, Held, Holds, LoopFacts, related


def loop_facts(source: str) -> LoopFacts:
    module = cst.parse_module(textwrap.dedent(source))
    return ModuleFacts(module).get(LoopFacts)


def kinds(path):
    return [(e.kind, e.key) for e in path.events]


def only_loop(facts: LoopFacts):
    assert len(facts.loops) == 1
    return facts.loops[0]


HEADER = "import torch\nfrom torch import nn\nmodel = nn.Linear(3, 1)\n"


def test_straight_line_body_is_one_path_in_source_order():
    facts = loop_facts(HEADER + """
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for x in xs:
    opt.zero_grad()
    model(x).sum().backward()
    opt.step()
""")
    (path,) = only_loop(facts).paths
    assert kinds(path) == [(RESET, "opt"), (BACKWARD, None), (STEP, "opt")]
    assert path.continues


def test_if_else_gives_two_paths_and_the_same_condition_is_one_decision():
    facts = loop_facts(HEADER + """
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for i, x in enumerate(xs):
    model(x).sum().backward()
    if (i + 1) % 4 == 0:
        opt.step()
    if (i + 1) % 4 == 0:
        opt.zero_grad()
""")
    paths = only_loop(facts).paths
    assert sorted(map(kinds, paths)) == sorted([
        [(BACKWARD, None), (STEP, "opt"), (RESET, "opt")],
        [(BACKWARD, None)],
    ])


def test_guards_name_the_condition_and_branch():
    facts = loop_facts(HEADER + """
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for i, x in enumerate(xs):
    if use_amp:
        opt.zero_grad()
    else:
        opt.step()
""")
    events = {e.kind: e for e in only_loop(facts).events()}
    assert [(g.key, g.branch) for g in events[RESET].guards] == [("use_amp", True)]
    assert [(g.key, g.branch) for g in events[STEP].guards] == [("use_amp", False)]


def test_continue_break_return_end_paths():
    facts = loop_facts(HEADER + """
def train(opt):
    for x in xs:
        loss = model(x).sum()
        loss.backward()
        if bad(loss):
            opt.zero_grad()
            continue
        if done(loss):
            return
        opt.step()
""")
    ends = sorted((p.end, tuple(e.kind for e in p.events)) for p in only_loop(facts).paths)
    assert ends == [
        ("next", (BACKWARD, RESET)),
        ("next", (BACKWARD, STEP)),
        ("return", (BACKWARD,)),
    ]


def test_nested_loop_runs_once_and_break_stays_inside_it():
    facts = loop_facts(HEADER + """
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(3):
    for x in xs:
        model(x).sum().backward()
        break
    opt.step()
""")
    outer = next(loop for loop in facts.loops if not loop.outer)
    (path,) = outer.paths
    assert kinds(path) == [(BACKWARD, None), (STEP, "opt")]
    assert path.continues
    # innermost loops come first
    assert facts.loops[0].outer


def test_try_except_is_a_choice_and_finally_always_runs():
    facts = loop_facts(HEADER + """
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for x in xs:
    try:
        model(x).sum().backward()
    except RuntimeError:
        continue
    finally:
        opt.zero_grad()
""")
    assert sorted(map(kinds, only_loop(facts).paths)) == [[(BACKWARD, None), (RESET, "opt")], [(RESET, "opt")]]


def test_same_module_helpers_are_inlined_with_arguments_renamed():
    facts = loop_facts(HEADER + """
def clear(net):
    for p in net.parameters():
        p.grad = None

def update(o):
    o.step()

optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for x in xs:
    clear(model)
    model(x).sum().backward()
    update(optimizer)
""")
    (path,) = only_loop_at_module_level(facts).paths
    assert kinds(path) == [(RESET, "model"), (BACKWARD, None), (STEP, "optimizer")]
    assert path.events[0].via is not None  # the call in the loop that leads to it


def only_loop_at_module_level(facts):
    loops = [loop for loop in facts.loops if loop.function is None]
    assert len(loops) == 1
    return loops[0]


def test_methods_are_inlined_through_self_two_levels():
    facts = loop_facts(HEADER + """
class T:
    def __init__(self, model):
        self.model = model
        self.opt = torch.optim.Adam(model.parameters())

    def reset(self):
        self._zero(self.model)

    def _zero(self, m):
        m.zero_grad()

    def fit(self, xs):
        for x in xs:
            self.reset()
            self.model(x).sum().backward()
            self.opt.step()
""")
    loop = next(loop for loop in facts.loops if loop.function.name.value == "fit")
    (path,) = loop.paths
    assert kinds(path) == [(RESET, "self.model"), (BACKWARD, None), (STEP, "self.opt")]


def test_user_defined_backward_on_a_module_class_is_not_a_tensor_backward():
    facts = loop_facts(HEADER + """
class Layer:
    def backward(self, grad):
        return grad * 2

layer = Layer()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for g in grads:
    layer.backward(g)
    opt.step()
""")
    (path,) = only_loop_at_module_level(facts).paths
    assert kinds(path) == [(STEP, "opt")]


def test_optimizers_schedulers_and_scalers():
    facts = loop_facts(HEADER + """
import transformers
from torch.optim.lr_scheduler import StepLR
opt = torch.optim.AdamW(model.parameters())
hf = transformers.AdamW(model.parameters())
picked = getattr(torch.optim, name)(model.parameters())
sched = StepLR(opt, 1)
scaler = torch.cuda.amp.GradScaler()
lr_scheduler = make()
""")
    module = None  # read at the module's level
    assert all(facts.held(key, module).holds is Holds.OPTIMIZER for key in ("opt", "hf", "picked"))
    assert facts.held("opt", module).models == frozenset({"model"})
    assert not facts.is_optimizer("sched", module) and not facts.is_optimizer("lr_scheduler", module)
    assert facts.is_scaler("scaler", module) and not facts.is_optimizer("scaler", module)
    # named like an optimizer: a parameter, an attribute
    assert facts.is_optimizer("optimizer", module) and facts.is_optimizer("self.optimizer_g", module)
    assert facts.is_optimizer("optD", module) and facts.is_optimizer("g_opt", module)
    assert not facts.is_optimizer("options", module) and not facts.is_optimizer("optimizer_config", module)
    assert facts.is_optimizer("adam", module) and not facts.is_optimizer("local_sgd", module)


def test_scaler_step_updates_its_optimizer_and_scheduler_step_is_no_update():
    facts = loop_facts(HEADER + """
opt = torch.optim.SGD(model.parameters(), lr=0.1)
scaler = torch.amp.GradScaler("cuda")
sched = torch.optim.lr_scheduler.StepLR(opt, 1)
for x in xs:
    scaler.scale(model(x).sum()).backward()
    scaler.step(opt)
    sched.step()
""")
    (path,) = only_loop_at_module_level(facts).paths
    assert kinds(path) == [(BACKWARD, None), (STEP, "opt")]


def test_rebuilt_optimizer_opaque_calls_and_closure_steps():
    facts = loop_facts(HEADER + """
for x in xs:
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    custom_update(opt)
    opt.step(closure)
""")
    events = list(only_loop_at_module_level(facts).events())
    assert [(e.kind, e.key) for e in events] == [(FRESH, "opt"), (OPAQUE, "opt"), (STEP, "opt")]
    assert events[-1].has_args


def test_reset_coverage():
    facts = loop_facts(HEADER + """
net_g, net_d = nn.Linear(3, 3), nn.Linear(3, 1)
opt_g = torch.optim.SGD(net_g.parameters(), lr=0.1)
opt_d = torch.optim.SGD(net_d.parameters(), lr=0.1)
""")
    reset = lambda key: Event(RESET, key, None)  # noqa: E731
    assert facts.covers(reset("opt_g"), "opt_g", strict=True)
    assert not facts.covers(reset("opt_g"), "opt_d", strict=False)
    assert facts.covers(reset("net_d"), "opt_d", strict=True)
    assert not facts.covers(reset("net_g"), "opt_d", strict=False)
    # an unknown target counts as a reset, but never as proof of a wipe
    assert facts.covers(reset(None), "opt_d", strict=False)
    assert not facts.covers(reset(None), "opt_d", strict=True)
    # an optimizer of unknown origin: any model reset might be its own
    assert facts.covers(reset("model"), "optimizer", strict=False)
    assert not facts.covers(reset("model"), "optimizer", strict=True)
    assert facts.covers(reset("model"), "optimizer", strict=True, only_optimizer=True)


def test_related_names():
    assert related("self.model", "model")
    assert related("model", "model.head")
    assert related("self", "self.net")
    assert not related("net_g", "net_d")


def test_grad_none_check_does_not_split_paths():
    facts = loop_facts(HEADER + """
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for x in xs:
    model(x).sum().backward()
    opt.step()
    for p in model.parameters():
        if p.grad is not None:
            p.grad.zero_()
""")
    (path,) = next(loop for loop in facts.loops if not loop.outer).paths
    assert kinds(path) == [(BACKWARD, None), (STEP, "opt"), (RESET, "model")]


def test_resets_before_the_loop_and_in_the_outer_loop():
    facts = loop_facts(HEADER + """
opt = torch.optim.SGD(model.parameters(), lr=0.1)
opt.zero_grad()
for epoch in range(2):
    model.zero_grad()
    for x in xs:
        model(x).sum().backward()
        opt.step()
""")
    inner = facts.loops[0]
    node, in_outer = facts.resets_before(inner, "opt")
    assert in_outer and isinstance(node, cst.Call)
    outer = facts.loops[1]
    node, in_outer = facts.resets_before(outer, "opt")
    assert not in_outer


def test_files_of_other_frameworks_have_no_loop_facts():
    facts = loop_facts("import tensorflow as tf\nfor x in xs:\n    loss.backward()\n    optimizer.step()\n")
    assert facts.loops == []


def test_a_trainer_module_without_torch_imports_is_judged_but_not_hand_written_backprop():
    facts = loop_facts("import numpy as np\nfor x in xs:\n    loss.backward()\n    net.backward(dout)\n")
    (path,) = facts.loops[0].paths
    assert kinds(path) == [(BACKWARD, None)]


def test_too_many_paths_means_no_judgement():
    ifs = "".join(f"    if c{i}:\n        opt.zero_grad()\n" for i in range(12))
    facts = loop_facts(HEADER + "opt = torch.optim.SGD(model.parameters())\nfor x in xs:\n" + ifs)
    assert only_loop_at_module_level(facts).paths is None


def test_dist_autograd_context_has_no_events():
    facts = loop_facts(HEADER + """
import torch.distributed.autograd as dist_autograd
for x in xs:
    with dist_autograd.context() as cid:
        dist_autograd.backward(cid, [model(x).sum()])
        opt.step(cid)
""")
    assert list(only_loop_at_module_level(facts).events()) == []


def test_not_is_the_same_condition_taken_the_other_way():
    facts = loop_facts(HEADER + """
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for i, x in enumerate(xs):
    model(x).sum().backward()
    if need_update:
        opt.step()
    if not need_update:
        continue
    opt.zero_grad()
""")
    assert sorted(map(kinds, only_loop_at_module_level(facts).paths)) == [
        [(BACKWARD, None)],
        [(BACKWARD, None), (STEP, "opt"), (RESET, "opt")],
    ]


def test_literal_arguments_decide_the_helpers_conditions():
    facts = loop_facts(HEADER + """
opt = torch.optim.SGD(model.parameters(), lr=0.1)
def step_model(x, do_backward=True):
    if not do_backward:
        model(x).sum().backward()
    else:
        opt.step()
for x in xs:
    step_model(x, False)
""")
    (path,) = only_loop_at_module_level(facts).paths
    assert kinds(path) == [(BACKWARD, None)]


def test_annotations_are_evidence_of_optimizers_scalers_and_schedulers():
    facts = loop_facts(
        "import torch\nfrom torch.optim import Optimizer\nfrom torch.optim.lr_scheduler import LRScheduler\n"
        "def train(o: Optimizer, s: torch.amp.GradScaler, opt: LRScheduler, other: int):\n"
        "    pass\n"
    )
    train = facts.facts.module.body[3]
    assert facts.is_optimizer("o", train) and not facts.is_optimizer("other", train)
    assert facts.is_scaler("s", train) and not facts.is_optimizer("s", train)
    assert not facts.is_optimizer("opt", train)  # named like an optimizer, annotated as a scheduler
    assert facts.is_optimizer("opt", None)  # the module binds no `opt`: the name alone speaks


def test_what_a_name_holds_comes_from_its_bindings_in_the_scope_that_reads_it():
    facts = loop_facts(HEADER + """
from torch.optim.lr_scheduler import StepLR
def a(net):
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    state.opt = torch.optim.Adam(net.parameters())
    return optimizer
def b(opt):
    optimizer = StepLR(opt, 1)
    return optimizer
def c():
    return optimizer
optimizer = torch.optim.Adam(model.parameters())
class A:
    def __init__(self, net):
        self.opt = torch.optim.SGD(net.parameters(), lr=0.1)
    def run(self):
        return self.opt
class B:
    def __init__(self):
        self.opt = StepLR(None, 1)
    def run(self):
        return self.opt
""")
    body = {s.name.value: s for s in facts.facts.module.body if isinstance(s, (cst.FunctionDef, cst.ClassDef))}
    a, b, c = (body[name].body.body[-1] for name in "abc")  # their `return`s
    assert facts.held("optimizer", a) == Held(Holds.OPTIMIZER, frozenset({"net"}), built=True)
    assert facts.held("optimizer", b).holds is Holds.OTHER and not facts.is_optimizer("optimizer", b)
    # `c` binds no `optimizer`: it reads the module's
    assert facts.held("optimizer", c).models == frozenset({"model"})
    in_a, in_b = (body[name].body.body[-1].body.body[0] for name in "AB")
    assert facts.held("self.opt", in_a).models == frozenset({"net"}) and facts.is_optimizer("self.opt", in_a)
    assert not facts.is_optimizer("self.opt", in_b)
    assert facts.optimizers_at(a).keys() == {"optimizer", "state.opt"}  # its own, hiding the module's
    assert facts.held("state.opt", a).holds is Holds.OPTIMIZER and facts.held("state.opt", b).holds is Holds.UNKNOWN


# --- names answered by the program model's scoped bindings ------------------------------------


def test_a_name_holds_what_its_reaching_bindings_hold_at_the_read():
    facts = loop_facts(HEADER + """
def run(data):
    thing = Counter()
    thing.step()
    thing = torch.optim.SGD(model.parameters(), lr=0.1)
    thing.step()
    other = Counter()
    for x in data:
        other.step()
        other = torch.optim.Adam(model.parameters())
def elsewhere():
    return thing
""")
    run = next(s for s in facts.facts.module.body if isinstance(s, cst.FunctionDef))
    lines = run.body.body
    read_first, read_second, loop = lines[1].body[0].value, lines[3].body[0].value, lines[5]
    # only `Counter()` reaches the first read; the optimizer the second
    assert facts.held("thing", read_first).holds is Holds.UNKNOWN and not facts.is_optimizer("thing", read_first)
    assert facts.held("thing", read_second) == Held(Holds.OPTIMIZER, frozenset({"model"}), built=True)
    # in a loop, the next iteration reads what the previous one bound
    in_loop = loop.body.body[0].body[0].value
    assert facts.held("other", in_loop).holds is Holds.OPTIMIZER
    # a def, not a point: every binding in the scope counts
    assert facts.held("thing", run).holds is Holds.OPTIMIZER


HELPER_CLASS = """
import torch
class Helper:
    def run(self):
        self.opt.zero_grad()
def setup():
    h = Helper()
    return h
"""


def test_a_name_holds_a_class_instance_only_where_its_bindings_say_so():
    # `h` is a parameter of `train`: the `h = Helper()` of another function says nothing about it
    facts = loop_facts(HELPER_CLASS + """
def train(model, h, opt, xs):
    for x in xs:
        model(x).sum().backward()
        h.run()
        opt.step()
""")
    assert [e.kind for e in only_loop(facts).events()] == [BACKWARD, STEP]


def test_a_method_on_a_local_instance_is_followed_with_self_renamed():
    facts = loop_facts(HELPER_CLASS + """
def train(model, opt, xs):
    h = Helper()
    for x in xs:
        model(x).sum().backward()
        h.run()
        opt.step()
""")
    assert [(e.kind, e.key) for e in only_loop(facts).events()] == [(BACKWARD, None), (RESET, "h.opt"), (STEP, "opt")]


def test_an_instance_passed_to_a_helper_is_known_inside_it():
    facts = loop_facts(HELPER_CLASS + """
def inner(helper):
    helper.run()
def train(model, opt, xs):
    h = Helper()
    for x in xs:
        inner(h)
        opt.step()
""")
    assert (RESET, "h.opt") in [(e.kind, e.key) for e in only_loop(facts).events()]


def test_an_attribute_holds_the_class_every_self_assignment_gives_it():
    facts = loop_facts(HELPER_CLASS + """
class Trainer:
    def __init__(self):
        self.helper = Helper()
    def fit(self, model, opt, xs):
        for x in xs:
            self.helper.run()
            opt.step()
""")
    assert (RESET, "self.helper.opt") in [(e.kind, e.key) for e in only_loop(facts).events()]


def test_aliases_are_those_of_the_scope_that_reads_the_names():
    module = cst.parse_module(textwrap.dedent("""
    import torch
    def a(net_opt):
        opt = net_opt
        return opt
    def b(opt):
        for x in xs:
            opt.step()
    """))
    facts = ModuleFacts(module).get(LoopFacts)
    in_a = module.body[1].body.body[0]
    in_b = facts.loops[0].node
    assert facts.same_as("opt", in_a) == {"opt", "net_opt"}
    assert facts.same_as("opt", in_b) == {"opt"}


def test_a_loops_paths_are_expanded_only_when_a_question_follows_them(monkeypatch):
    # The scheduler rule lists the loops but follows no path: it pays for no expansion.
    from torchlint.engine import lint_text
    from torchlint.facts.iteration import Paths
    from torchlint.registry import all_rules

    expanded = []
    expand = Paths.expand
    monkeypatch.setattr(Paths, "expand", lambda self: expanded.append(self.loop.node) or expand(self))
    source = HEADER + textwrap.dedent("""
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.StepLR(opt, 1)
        for epoch in range(3):
            for x in xs:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
            sched.step()
    """)
    rules = {rule.code: rule for rule in all_rules()}
    lint_text(source, "train.py", [rules["TL207"]])
    assert expanded == []
    facts = loop_facts(source)
    assert expanded == [] and len(facts.loops) == 2
    inner = facts.loops[0]
    assert [kinds(path) for path in inner.paths] == [[(RESET, "opt"), (BACKWARD, None), (STEP, "opt")]]
    assert inner.paths is inner.paths and expanded == [inner.node]  # once, on first use
    diagnostics, _ = lint_text(source.replace("        opt.zero_grad()\n", ""), "train.py", [rules["TL201"]])
    assert [d.code for d in diagnostics] == ["TL201"] and len(expanded) == 3  # both loops, for the rule that follows paths
