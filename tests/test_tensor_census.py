"""The runtime census (bench/tensor_census.py) records the right calls on the right lines."""

from __future__ import annotations

import importlib.util
import os
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODEL = textwrap.dedent("""\
    import torch

    def forward(x):
        merged = x.transpose(0, 1).reshape(-1)
        same = x.reshape(-1)
        chained = (x.transpose(0, 1)
                   .reshape(-1))
        tokens = x.unsqueeze(0).repeat(3, 1, 1)
        scratch = x.unsqueeze(0).repeat(3, 1, 1)
        scratch.add_(1)
        tiled = x.repeat(2, 1)
        regrown = x.unsqueeze(0).repeat(3, 1, 1)
        flat = regrown.reshape(-1)
        stacked = x.unsqueeze(0).repeat(3, 1, 1)
        split = stacked.reshape(3, 2, 3, 1)
        single = x[:1].t().reshape(-1)
        try:
            x.t().view(-1)
        except RuntimeError:
            pass
        grown = torch.zeros(3).expand(4, 3)
        grown[0] = 1.0
        kept = (merged, same, tokens, scratch, tiled, flat, split, single)
        return sum(t.sum() for t in kept)
""")


def load_census():
    spec = importlib.util.spec_from_file_location("tensor_census", os.path.join(ROOT, "bench", "tensor_census.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("tensor_census", module)  # dataclasses look their module up
    spec.loader.exec_module(sys.modules["tensor_census"])
    return sys.modules["tensor_census"]


@pytest.fixture
def traced(tmp_path):
    census_module = load_census()
    (tmp_path / "toy_model.py").write_text(MODEL)
    spec = importlib.util.spec_from_file_location("toy_model", tmp_path / "toy_model.py")
    toy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(toy)
    census = census_module.Census(str(tmp_path))
    function_mode, dispatch_mode = census_module._make_modes(census)
    with dispatch_mode(), function_mode():
        toy.forward(torch.randn(2, 3))
    census.settle_repeats()
    return census_module, {(site["line"], site["kind"]): site for site in census.sites.values()}


def line_of(text: str) -> int:
    return next(number for number, line in enumerate(MODEL.splitlines(), 1) if text in line)


def test_records_the_copying_reshape_and_not_the_viewing_one(traced):
    _, sites = traced
    copying = sites[(line_of("merged ="), "reshape")]
    assert (copying["calls"], copying["positives"]) == (1, 1)
    viewing = sites[(line_of("same ="), "reshape")]
    assert (viewing["calls"], viewing["positives"]) == (1, 0)
    assert viewing["size_one_views"] == 0
    assert sites[(line_of("single ="), "reshape")]["size_one_views"] == 1


def test_a_chained_call_is_recorded_at_the_method_name_line(traced):
    _, sites = traced
    assert sites[(line_of(".reshape(-1))"), "reshape")]["positives"] == 1
    assert (line_of("chained ="), "reshape") not in sites


def test_records_the_view_that_raised(traced):
    _, sites = traced
    raised = sites[(line_of("x.t().view(-1)"), "view")]
    assert raised["positives"] == 1
    assert "raised" in raised["examples"][0]


def test_repeat_is_expand_equivalent_only_when_read_and_growing_size_one_dims(traced):
    census_module, sites = traced
    read_only = sites[(line_of("tokens ="), "repeat")]
    assert census_module._is_positive(read_only)
    written = sites[(line_of("scratch ="), "repeat")]
    assert written["written"] == 1 and not census_module._is_positive(written)
    tiled = sites[(line_of("tiled ="), "repeat")]
    assert tiled["not_expandable"] == 1 and not census_module._is_positive(tiled)
    reshaped_later = sites[(line_of("regrown ="), "repeat")]
    assert reshaped_later["later_copy"] == 1 and not census_module._is_positive(reshaped_later)
    viewed_later = sites[(line_of("stacked ="), "repeat")]
    assert viewed_later["later_reshape"] == 1 and not census_module._is_positive(viewed_later)
    assert census_module._is_undecided(viewed_later) and not census_module._is_undecided(reshaped_later)


def test_records_a_write_into_an_expanded_tensor(traced):
    _, sites = traced
    assert sites[(line_of("grown[0] = 1.0"), "expanded_write")]["positives"] == 1
    assert not any(kind == "expanded_write" for (line, kind) in sites if line != line_of("grown[0] = 1.0"))


def test_join_counts_found_missed_and_false():
    census_module = load_census()
    sites = [
        {"path": "m.py", "line": 3, "col": 5, "span": [3, 3], "kind": "reshape", "calls": 2, "positives": 1,
         "examples": []},
        {"path": "m.py", "line": 7, "col": 5, "span": [6, 8], "kind": "reshape", "calls": 1, "positives": 0,
         "examples": []},
        {"path": "m.py", "line": 9, "col": 5, "span": [9, 9], "kind": "reshape", "calls": 1, "positives": 1,
         "examples": []},
    ]
    findings = [
        {"code": "TL102", "filename": "m.py", "location": {"row": 3, "column": 5}, "message": "copies"},
        {"code": "TL102", "filename": "m.py", "location": {"row": 6, "column": 1}, "message": "copies"},
        {"code": "TL102", "filename": "m.py", "location": {"row": 20, "column": 1}, "message": "copies"},
    ]
    joined = census_module.join("toy", "/tree", sites, findings)
    row = next(r for r in census_module.tabulate(joined) if r["kind"] == "reshape")
    assert (row["positive_sites"], row["found"], row["missed"], row["false"], row["not_exercised"]) == (2, 1, 1, 1, 1)


def test_join_tells_a_flatten_finding_from_a_reshape_finding_on_the_same_line():
    census_module = load_census()
    sites = [
        {"path": "m.py", "line": 3, "col": 5, "span": [3, 3], "kind": "reshape", "calls": 1, "positives": 0,
         "examples": []},
        {"path": "m.py", "line": 3, "col": 5, "span": [3, 3], "kind": "flatten", "calls": 1, "positives": 1,
         "examples": []},
    ]
    findings = [{"code": "TL102", "filename": "m.py", "location": {"row": 3, "column": 30},
                 "message": "`.flatten(2, 3)` hides a copy: it merges dims 2 and 3"}]
    rows = census_module.tabulate(census_module.join("toy", "/tree", sites, findings))
    flatten = next(r for r in rows if r["kind"] == "flatten")
    reshape = next(r for r in rows if r["kind"] == "reshape")
    both = next(r for r in rows if r["kind"] == "reshape+flatten")
    assert (flatten["found"], flatten["false"], reshape["false"]) == (1, 0, 0)
    assert (both["positive_sites"], both["found"]) == (1, 1)
