"""Every rule: complete docs, examples that behave as documented, and fixtures that agree."""

import os

import pytest
from conftest import FIXTURES, fixture_files

from torchlint.registry import all_rules
from torchlint.rule import DOC_SECTIONS, Invalid, code_blocks
from torchlint.testing import (
    describe_mismatch,
    expectations_in_file,
    expectations_in_text,
    findings_as_expectations,
    lint_fixture,
    lint_snippet,
)

RULES = all_rules()
ENGINE_CODES = {"TL001", "TL002", "TL003", "TL004"}
VISITOR_RULES = [rule for rule in RULES if rule.code not in ENGINE_CODES]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_identity(rule):
    assert rule.code[:2] == "TL" and rule.code[2:].isdigit() and len(rule.code) == 5
    assert rule.name == rule.name.lower() and " " not in rule.name and "_" not in rule.name
    assert rule.summary and rule.severity.value in ("error", "warning")


def test_codes_and_names_are_unique():
    assert len({r.code for r in RULES}) == len(RULES)
    assert len({r.name for r in RULES}) == len(RULES)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_docs_have_every_section(rule):
    sections = rule.doc_sections()
    missing = [s for s in DOC_SECTIONS if not sections.get(s)]
    assert not missing, f"{rule.code} docs lack sections: {missing}"


@pytest.mark.parametrize("rule", [r for r in RULES if getattr(r, "examples_are_text", True)], ids=lambda r: r.code)
def test_docs_example_triggers_and_use_instead_does_not(rule):
    sections = rule.doc_sections()
    example = code_blocks(sections["Example"])
    use_instead = code_blocks(sections["Use instead"])
    assert example and use_instead, f"{rule.code}: Example and Use instead need ```python blocks"
    # All rules run, as for a user: TL003 only judges suppressions of enabled rules.
    for snippet in example:
        codes = {d.code for d in lint_snippet(snippet)}
        assert rule.code in codes, f"{rule.code}: its docs Example does not trigger it:\n{snippet}"
    for snippet in use_instead:
        codes = {d.code for d in lint_snippet(snippet)}
        assert rule.code not in codes, f"{rule.code}: its docs 'Use instead' triggers it:\n{snippet}"


@pytest.mark.parametrize("rule", VISITOR_RULES, ids=lambda r: r.code)
def test_every_handler_names_a_libcst_node_class(rule):
    # The walk dispatches `visit_<Class>` / `leave_<Class>` only: a typo or LibCST's per-field
    # `visit_<Class>_<field>` form would silently never run.
    import libcst as cst

    for name in dir(rule):
        if name.startswith(("visit_", "leave_")) and callable(getattr(rule, name)):
            node = getattr(cst, name.partition("_")[2], None)
            assert isinstance(node, type) and issubclass(node, cst.CSTNode), f"{rule.code}.{name} names no LibCST node"


def _snippets(kind):
    for rule in VISITOR_RULES:
        for index, snippet in enumerate(getattr(rule, kind)):
            yield pytest.param(rule, snippet, id=f"{rule.code}-{kind}-{index}")


@pytest.mark.parametrize("rule,snippet", list(_snippets("VALID")))
def test_valid_snippets_are_silent(rule, snippet):
    diagnostics = [d for d in lint_snippet(snippet, select=[rule.code]) if d.code == rule.code]
    assert not diagnostics, f"{rule.code} fired on a VALID snippet:\n{snippet}\n{diagnostics}"


@pytest.mark.parametrize("rule,snippet", list(_snippets("INVALID")))
def test_invalid_snippets_fire_where_marked(rule, snippet):
    source = snippet.source if isinstance(snippet, Invalid) else snippet
    expected = expectations_in_text(source)
    assert expected, f"{rule.code}: INVALID snippet has no `# expect:` marker:\n{source}"
    diagnostics = lint_snippet(source, select=[rule.code])
    found = findings_as_expectations(d for d in diagnostics if d.code == rule.code)
    assert found == expected, describe_mismatch(expected, found, diagnostics)


@pytest.mark.parametrize("rule", VISITOR_RULES, ids=lambda r: r.code)
def test_every_rule_has_examples_and_fixtures(rule):
    assert rule.VALID and rule.INVALID, f"{rule.code} needs VALID and INVALID snippets"
    folder = os.path.join(FIXTURES, f"{rule.code}_{rule.name.replace('-', '_')}")
    assert os.path.isdir(folder), f"{rule.code} needs a fixture folder {folder}"
    files = [f for f in fixture_files() if os.path.dirname(f) == folder]
    assert files, f"{rule.code}: no fixture files in {folder}"
    markers = set().union(*(expectations_in_file(f) for f in files))
    assert any(m.code == rule.code for m in markers), f"{rule.code}: fixtures have no `# expect: {rule.code}`"


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: os.path.relpath(p, FIXTURES))
def test_fixture_findings_equal_markers(path):
    """All rules run on every fixture: a finding of any rule must be marked, and every marker found."""
    diagnostics = lint_fixture(path)
    found = findings_as_expectations(diagnostics)
    expected = expectations_in_file(path)
    assert found == expected, "\n" + describe_mismatch(expected, found, diagnostics)


# --- the rule pages: docs/rules/, generated from the catalogue ----------------------------------


def test_rule_pages_are_up_to_date():
    from conftest import ROOT

    from torchlint.rule import DOCS_DIR
    from torchlint.rule_docs import COMMAND, stale_pages

    stale = stale_pages(os.path.join(ROOT, DOCS_DIR))
    assert not stale, f"{DOCS_DIR}/ is out of date ({', '.join(stale)}): run `{COMMAND}` and commit the result"


def test_a_changed_docstring_makes_its_page_stale(tmp_path, monkeypatch):
    from torchlint.rule_docs import stale_pages, write_pages

    assert write_pages(str(tmp_path))  # every page is new
    assert stale_pages(str(tmp_path)) == []
    rule = RULES[-1]
    monkeypatch.setattr(rule, "__doc__", rule.__doc__ + "\n    One more line.\n")
    assert stale_pages(str(tmp_path)) == [rule.doc_file()]
    (tmp_path / "TL999-retired.md").write_text((tmp_path / "README.md").read_text())
    assert "TL999-retired.md" in stale_pages(str(tmp_path))


def _urls(value):
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("url", "helpUri") and isinstance(item, str):
                yield item
            else:
                yield from _urls(item)
    elif isinstance(value, list):
        for item in value:
            yield from _urls(item)


def test_every_url_in_json_and_sarif_output_names_an_existing_page(tmp_path, run_cli):
    import json

    from conftest import ROOT

    from torchlint.rule import DOCS_BASE, DOCS_DIR

    (tmp_path / "broken.py").write_text("def f(:\n    pass\n")
    (tmp_path / "unused.py").write_text("x = 1  # noqa: TL401\n")
    urls, codes = set(), set()
    for fmt in ("json", "sarif"):
        result = run_cli("check", "--isolated", "--no-cache", "--output-format", fmt, ".", FIXTURES)
        assert result.returncode == 1, result.stderr
        document = json.loads(result.stdout)
        urls |= set(_urls(document))
        if fmt == "json":
            codes = {record["code"] for record in document}
            assert all(record["url"] for record in document)
    assert {rule.code for rule in VISITOR_RULES} | {"TL001", "TL003"} <= codes
    assert len(urls) == len(RULES)  # SARIF lists every rule; JSON names those found
    for url in urls:
        assert url.startswith(DOCS_BASE + "/"), url
        page = os.path.join(ROOT, DOCS_DIR, url[len(DOCS_BASE) + 1 :])
        assert os.path.isfile(page), f"{url} names no file: {page}"
