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
    census = trace(census_module, tmp_path, "toy_model", MODEL, torch.randn(2, 3))
    return census_module, {(site["line"], site["kind"]): site for site in census.sites.values()}


def trace(census_module, tmp_path, name: str, source: str, *args):
    """The census of one run of `forward(*args)` of a model module written to `tmp_path/name.py`."""
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model)
    census = census_module.Census(str(tmp_path))
    function_mode, dispatch_mode = census_module._make_modes(census)
    with dispatch_mode(), function_mode():
        model.forward(*args)
    census.settle_repeats()
    return census


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


# Size-1 dims grown to 2: each line below is a reshape/flatten that is a view at n=1; the census replays it
# with its size-1 dims grown and must predict what the same code does at n=2.
SIZED_MODEL = textwrap.dedent("""\
    import torch

    def forward(n):
        a = torch.randn(2, 4, n).permute(0, 2, 1)
        merged = a.flatten(1, 2)
        plain = torch.randn(2, n, 4).reshape(2, -1)
        b = torch.randn(2, 4, n, 8, 8).permute(0, 2, 1, 3, 4)
        frames = b.reshape(-1, 4, 8, 8)
        h = torch.randn(1, 1, 4, 4, 3, n, n, n).permute(0, 4, 1, 5, 2, 6, 3, 7)
        h = h.flatten(6, 7)
        h = h.flatten(4, 5)
        h = h.flatten(2, 3)
        t = torch.randn(2, 3, n).transpose(1, 2).reshape(2, -1)
        last = torch.randn(2, 3, n, n).contiguous(memory_format=torch.channels_last)
        spatial = last.flatten(2)
        channels = last.flatten(1)
        crop = torch.randn(2, 6, n + 1)[:, :, :n].reshape(2, -1)
        heads = torch.randn(2, 5, n, 4).transpose(1, 2).reshape(2, n, -1)
        batch = torch.randn(n, 3, 4).transpose(1, 2).reshape(n, 12)
        packed = torch.randn(2, 3, n).transpose(1, 2).contiguous().reshape(2, -1)
        rows = torch.randn(2, n, 5)[:, :, :3]
        outer = rows.flatten(0, 1)
        inner = rows.reshape(2, -1)
        kept = (merged, plain, frames, h, t, spatial, channels, crop, heads, batch, packed, outer, inner)
        return kept
""")


def trace_sized(tmp_path, census_module, n):
    census = trace(census_module, tmp_path, f"sized_model_{n}", SIZED_MODEL, n)
    return {site["line"]: site for site in census.sites.values() if site["kind"] in ("reshape", "flatten")}


def sized_line(text: str) -> int:
    return next(number for number, line in enumerate(SIZED_MODEL.splitlines(), 1) if text in line)


def test_grown_replay_predicts_what_the_same_code_does_at_size_two(tmp_path):
    census_module = load_census()
    at_one = trace_sized(tmp_path, census_module, 1)
    at_two = trace_sized(tmp_path, census_module, 2)
    copied_at_one = {line for line, site in at_one.items() if site["positives"]}
    assert copied_at_one == {sized_line("batch =")}  # a copy already: nothing to replay
    decided = {line for line, site in at_one.items() if site.get("grown_copies", 0) + site.get("grown_views", 0)}
    assert decided == set(at_one) - copied_at_one
    for line in decided:
        predicted = at_one[line].get("grown_copies", 0) > 0
        assert predicted == (at_two[line]["positives"] > 0), SIZED_MODEL.splitlines()[line - 1]
    copies = {line for line in decided if at_one[line].get("grown_copies")}
    assert copies == {sized_line(text) for text in ("merged =", "frames =", "h.flatten(6, 7)", "t = ",
                                                    "channels =", "crop =", "heads =", "inner =")}


def test_a_chained_call_replays_on_the_earlier_replay_not_on_its_size_one_strides(tmp_path):
    census_module = load_census()
    at_one = trace_sized(tmp_path, census_module, 1)
    # at n=2 flatten(6, 7) copies, so flatten(4, 5) runs on a contiguous tensor: a view
    assert at_one[sized_line("h.flatten(6, 7)")]["grown_copies"] == 1
    assert at_one[sized_line("h.flatten(4, 5)")]["grown_views"] == 1
    # placed from its own size-1 strides (left by views at n=1) this call would stay undecided
    assert at_one[sized_line("h.flatten(2, 3)")]["grown_views"] == 1


def test_a_size_one_dim_whose_stride_marks_no_place_in_memory_is_not_grown():
    census_module = load_census()
    placed = census_module.place_size_one_dims((2, 1, 4, 1), (4, 7, 1, 8))  # 7 lies inside dim 0's extent
    assert placed.grown == (3,) and placed.unplaced == (1,)
    assert placed.layouts == [((2, 1, 4, 2), (4, 7, 1, 8))]
    assert isinstance(census_module.place_size_one_dims((2, 1), (0, 1)), str)  # expanded: nothing to place


def test_grown_target_grows_the_output_dim_of_the_group_that_absorbs_the_grown_dim():
    census_module = load_census()
    # computeStride's grouping: a size-1 input dim joins the group inside it
    assert census_module.grown_target((2, 1, 4, 8), (2, 2, 4, 8), (2, 4, 8)) == (2, 8, 8)
    assert census_module.grown_target((2, 1, 4), (2, 2, 4), (2, 1, 4)) == (2, 2, 4)  # onto a size-1 output dim
    assert census_module.grown_target((4, 1), (4, 2), (4,)) == (8,)  # a trailing one joins the group outside
    assert census_module.grown_target((2, 1, 1, 4), (2, 1, 2, 4), (2, 1, 1, 4)) == (2, 1, 2, 4)  # pairs in order
    assert census_module.grown_target((6, 4), (12, 4), (2, 3, 4)) is None  # a twin's growth with no single place


def test_a_replay_that_raises_is_recorded_as_unknown_and_the_run_goes_on(tmp_path, monkeypatch):
    census_module = load_census()

    def broken(*args, **kwargs):
        raise RuntimeError("replay bug")

    monkeypatch.setattr(census_module, "replay_grown", broken)
    sites = trace_sized(tmp_path, census_module, 1)
    merged = sites[sized_line("merged =")]
    assert (merged["calls"], merged.get("grown_unknown"), merged.get("grown_copies", 0)) == (1, 1, 0)
    assert "replay raised RuntimeError" in merged["examples"][0]


def test_tabulate_counts_grown_copies_as_positives_and_reports_real_sizes_apart():
    census_module = load_census()
    site = {"path": "m.py", "span": [1, 1], "kind": "flatten", "examples": []}
    sites = [
        dict(site, line=1, col=5, calls=1, positives=0, size_one_views=1, grown_copies=1),  # found by a grown copy
        dict(site, line=2, col=5, calls=1, positives=0, size_one_views=1, grown_views=1),  # false either way
        dict(site, line=3, col=5, calls=1, positives=0, size_one_views=1, grown_copies=1),  # missed grown positive
        dict(site, line=4, col=5, calls=2, positives=1),  # found, a real copy
    ]
    findings = [{"code": "TL102", "filename": "m.py", "location": {"row": row, "column": 5},
                 "message": "`.flatten(1, 2)` hides a copy"} for row in (1, 2, 4)]
    row = next(r for r in census_module.tabulate(census_module.join("toy", "/tree", sites, findings))
               if r["kind"] == "flatten")
    assert (row["positive_sites"], row["grown_positive_sites"], row["found"], row["missed"], row["false"]) == (
        3, 2, 2, 1, 1)
    assert (row["real_positive_sites"], row["real_found"], row["real_false"], row["false_size_one"]) == (1, 1, 2, 2)
    assert (row["precision"], row["recall"], row["real_precision"], row["real_recall"]) == (0.667, 0.667, 0.333, 1.0)


def test_a_dim_the_call_writes_as_literal_one_is_not_grown(tmp_path):
    census_module = load_census()
    assert census_module.literal_one_dims("x = (attn @ v).transpose(1, 2).reshape(B, 1, C)  # one token\n", 3) == {1}
    assert census_module.literal_one_dims("y = x.view((n, 1, -1)).reshape(n, frames, 4)\n", 3) == {1}
    assert census_module.literal_one_dims("y = x.reshape(n, frames, 4)\n", 3) == set()
    census = trace(census_module, tmp_path, "token_model", textwrap.dedent("""\
        import torch

        def forward(frames):
            cls = torch.randn(2, 3, 1, 4).transpose(1, 2).reshape(2, 1, 12)
            per_frame = torch.randn(2, 3, frames, 4).transpose(1, 2).reshape(2, frames, 12)
            return cls, per_frame
    """), 1)
    sites = {site["line"]: site for site in census.sites.values()}
    assert (sites[4].get("grown_pinned"), sites[4].get("grown_copies", 0)) == (1, 0)  # one token at any size
    assert sites[5].get("grown_copies") == 1  # a configured size: at 2 frames it copies
