"""TL105 cat-in-loop and TL203 loss-kept-with-graph: the accumulation facts, the rules' traps, the tracer."""

from __future__ import annotations

import textwrap

import pytest

from torchlint.testing import lint_snippet


def _facts(source: str):
    import libcst as cst

    from torchlint.facts import ModuleFacts
    from torchlint.facts.accumulation import Accumulation

    return ModuleFacts(cst.parse_module(textwrap.dedent(source))).get(Accumulation)


def rows(source: str, code: str) -> list[int]:
    return sorted(d.span.start.row for d in lint_snippet(textwrap.dedent(source), select=[code]) if d.code == code)


# --- facts -------------------------------------------------------------------------------------------

def test_regrowth_lists_reads_inside_the_loop_but_not_none_checks_or_the_regrowing_element():
    (growth,) = _facts("""
        import torch
        acc = None
        for x in xs:
            acc = x if acc is None else torch.cat([acc, x])
        print(acc)
    """).regrowths()
    assert (growth.accumulator, growth.function, growth.reads_in_loop, growth.small_loop) == ("acc", "torch.cat", (), False)
    assert growth.read_after is not None
    (branches,) = _facts("""
        import torch
        acc = None
        for x in xs:
            if acc is None:
                acc = x
            else:
                acc = torch.cat([acc, x])
    """).regrowths()
    assert branches.reads_in_loop == ()
    (decoding,) = _facts("""
        import torch
        while idx.size(1) < n:
            idx = torch.cat((idx, model(idx).argmax(-1)), dim=1)
    """).regrowths()
    assert len(decoding.reads_in_loop) == 2  # the loop's test and the model's input


@pytest.mark.parametrize("header,small", [("for k in range(4):", True), ("for k in (a, b):", True),
                                          ("for k in range(5):", False), ("for k in items:", False),
                                          ("for k in self.config.kinds:", True), ("for k in self.kinds:", False)])
def test_small_literal_loops_are_marked(header, small):
    (growth,) = _facts(f"import numpy as np\n{header}\n    x = np.append(x, k)\n").regrowths()
    assert growth.small_loop is small


def test_only_known_concatenations_of_the_accumulator_itself_are_regrowths():
    assert _facts("import torch\nfor x in xs:\n    y = torch.cat([y[1:], x])\n").regrowths() == []
    assert _facts("for x in xs:\n    y = cat([y, x])\n").regrowths() == []
    assert _facts("import torch\nfor x in xs:\n    y = torch.stack([y, x])\n").regrowths() == []
    assert _facts("import torch\nfor x in xs:\n    y = torch.cat([y, y])\n").regrowths() == []
    assert _facts("import torch\nfor r in regions:\n    r.emb = torch.cat([u, r.emb])\n").regrowths() == []


def test_loss_accumulation_origins_and_grad_modes():
    from torchlint.facts.accumulation import GradMode, Into, Origin

    found = _facts("""
        import torch
        def train(loader):
            total, losses = 0, []
            for x, y in loader:
                loss = model(x, y)
                loss.backward()
                total += loss
                losses.append(criterion(x, y))
        @torch.no_grad()
        def check(loader):
            s = 0
            for x, y in loader:
                s += criterion(x, y)
        def evaluate(loader):
            s = 0
            for x, y in loader:
                s += criterion(x, y)
        def unused(loader):
            s = 0
            for x, y in loader:
                s += criterion(x, y)
        train(a)
        with torch.no_grad():
            evaluate(b)
    """).loss_accumulations()
    summary = [(f.accumulator, f.into, f.origin, f.grad_mode) for f in found]
    assert summary == [
        ("total", Into.SUM, Origin.BACKWARD, GradMode.ENABLED),
        ("losses", Into.LIST, Origin.CRITERION, GradMode.ENABLED),
        ("s", Into.SUM, Origin.CRITERION, GradMode.DISABLED),
        ("s", Into.SUM, Origin.CRITERION, GradMode.DISABLED),
        ("s", Into.SUM, Origin.CRITERION, GradMode.UNKNOWN),
    ]


def test_a_name_rebound_to_a_number_in_the_loop_is_no_loss():
    assert _facts("""
        for x, y in loader:
            loss = criterion(model(x), y)
            loss.backward()
            loss = loss.item()
            total += loss
    """).loss_accumulations() == []


# --- TL203: reported and silent ----------------------------------------------------------------------

def test_periodic_reset_still_keeps_graphs_between_resets():
    assert rows("""
        running = 0.0
        for i, (x, y) in enumerate(loader):
            loss = criterion(model(x), y)
            loss.backward()
            running = running + loss
            if i % 100 == 99:
                print(running / 100)
                running = 0.0
    """, "TL203") == [6]


@pytest.mark.parametrize("tail", ["total.backward()", "(total / n).backward()", "scaler.scale(total).backward()",
                                  "return total"])
def test_criterion_sum_handed_to_backward_is_deliberate(tail):
    source = f"def f(pairs):\n    total = 0\n    for x, y in pairs:\n        total += criterion(model(x), y)\n    {tail}\nf(p)\n"
    assert rows(source, "TL203") == []


def test_criterion_sum_only_logged_is_reported_and_per_iteration_backward_is_never_an_excuse():
    logged = "def f(pairs):\n    total = 0\n    for x, y in pairs:\n        total += criterion(model(x), y)\n    return float(total)\nf(p)\n"
    assert rows(logged, "TL203") == [4]
    returned = ("def f(pairs):\n    total = 0\n    for x, y in pairs:\n        loss = criterion(model(x), y)\n"
                "        loss.backward()\n        total += loss\n    return total\n")
    assert rows(returned, "TL203") == [6]


def test_retained_graphs_are_reported_unless_the_total_is_back_propagated_and_no_grad_sums_are_silent():
    retained = "for x in xs:\n    loss = f(x)\n    loss.backward(retain_graph=True)\n    total += loss\n"
    assert rows(retained, "TL203") == [4]  # the retained graphs, saved tensors included, pile up
    assert rows(retained + "total.backward()\n", "TL203") == []
    assert rows("import torch\nfor x in xs:\n    loss = f(x)\n    loss.backward()\n    with torch.no_grad():\n"
                "        total += loss\n", "TL203") == []


def test_lightning_validation_step_is_run_without_gradients():
    assert rows("class M:\n    def validation_step(self, batch, i):\n        for x, y in batch:\n"
                "            self.total += self.criterion(self(x), y)\n", "TL203") == []


# --- TL105: reported and silent ----------------------------------------------------------------------

def test_cat_in_loop_reports_each_growing_accumulator_once_per_site():
    assert rows("""
        import numpy as np
        import torch
        a, b = torch.empty(0), np.zeros((0, 2))
        for x in xs:
            a = torch.cat([a, x])
            b = np.concatenate((b, x.numpy()), axis=0)
            for y in ys:
                c = torch.hstack([c, y])
        print(a, b, c)
    """, "TL105") == [6, 7, 9]


def test_cat_in_loop_is_silent_when_the_accumulator_is_read_in_the_loop():
    assert rows("""
        import torch
        for x in xs:
            h = torch.cat([h, f(h[:, -1:])], 1)
        for x in xs:
            out = torch.cat([out, x])
            if out.shape[0] > 100:
                flush(out)
    """, "TL105") == []


# --- the tracer ----------------------------------------------------------------------------------------

def test_tracer_follows_concatenation_chains_and_sees_reads_of_their_results():
    torch = pytest.importorskip("torch")
    from torchlint.verify.tracer import Tracer

    with Tracer() as tracer:
        grown = torch.empty(0)
        for _ in range(6):
            grown = torch.cat([grown, torch.ones(2)])
        read = torch.ones(1)
        for _ in range(6):
            read = torch.cat([read, read[-1:] * 2])
    chains = [(call.chain, call.output_bytes, call.read_between) for call in tracer.calls
              if type(call).__name__ == "CatCall"]
    assert [c[:2] for c in chains[:6]] == [(1, 8), (2, 16), (3, 24), (4, 32), (5, 40), (6, 48)]
    assert not any(c[2] for c in chains[:6])
    assert all(c[2] for c in chains[8:12])
    assert torch.overrides._get_current_function_mode_stack() == []


def test_tracer_tags_loss_graphs_and_sees_them_kept_or_freed():
    torch = pytest.importorskip("torch")
    from torchlint.rules.oracles.tl203_loss_kept_with_graph import judge
    from torchlint.verify.tracer import Tracer

    model = torch.nn.Linear(2, 1)
    with Tracer() as tracer:
        kept = []
        for _ in range(4):
            loss = model(torch.ones(1, 2)).sum()
            loss.backward()
            kept.append(loss)
        total = 0.0
        for _ in range(4):
            loss = model(torch.ones(1, 2)).sum()
            loss.backward()
            total += loss.item()
    verdicts = [judge(call, tracer) for call in tracer.calls if type(call).__name__ == "LossGraph"]
    assert [v is not None and v.holds for v in verdicts] == [False, False, True, True, False, False, False, False]
