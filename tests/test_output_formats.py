"""The CI output formats: SARIF 2.1.0 (validated against the OASIS schema), GitHub annotations, JUnit."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET

import pytest

from torchlint.registry import all_rules

SCHEMA = os.path.join(os.path.dirname(__file__), "data", "sarif-schema-2.1.0.json")

DATASET = (
    "from torch.utils.data import Dataset\n"
    "\n"
    "class NoLen(Dataset):\n"
    "    def __getitem__(self, index):\n"
    "        return index\n"
)
SUPPRESSION = "x = 1  # noqa: TL401, E501\n"
BROKEN = "def f(:\n    pass\n"


def _notebook(source: list[str] | str, indent: int | None = 1) -> str:
    """A notebook as Jupyter writes it (one-space indent, a string per source line) or minified."""
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# title"]},
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source},
    ]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=indent)


@pytest.fixture
def project(tmp_path):
    """Files with findings of several kinds, one with `,` and `:` in its name, and a clean one."""
    (tmp_path / "data.py").write_text(DATASET)
    (tmp_path / "odd, name: 1.py").write_text(DATASET)
    (tmp_path / "supp.py").write_text(SUPPRESSION)
    (tmp_path / "broken.py").write_text(BROKEN)
    (tmp_path / "clean.py").write_text("x = 1\n")
    (tmp_path / "nb.ipynb").write_text(_notebook(["from torch.utils.data import Dataset\n", "class D(Dataset):\n", "    pass\n"]))
    return tmp_path


def _sarif(run_cli, project):
    done = run_cli("check", "--isolated", "--output-format", "sarif", ".", cwd=project)
    assert done.returncode == 1, done.stderr
    return json.loads(done.stdout)


# --- SARIF -----------------------------------------------------------------------------------


def test_sarif_validates_against_the_oasis_schema(run_cli, project):
    import jsonschema

    with open(SCHEMA, encoding="utf-8") as handle:
        schema = json.load(handle)
    log = _sarif(run_cli, project)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    errors = sorted(validator_class(schema).iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def test_sarif_describes_the_tool_and_every_rule(run_cli, project):
    run = _sarif(run_cli, project)["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "torchlint" and driver["version"] and driver["informationUri"].startswith("https://")
    assert [r["id"] for r in driver["rules"]] == [rule.code for rule in all_rules()]
    for record in driver["rules"]:
        assert record["name"] and record["shortDescription"]["text"] and record["fullDescription"]["text"]
        assert record["helpUri"].startswith("https://")
        assert record["defaultConfiguration"]["level"] in ("error", "warning")


def test_sarif_results_point_at_their_rule_and_place(run_cli, project):
    run = _sarif(run_cli, project)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    by_uri = {}
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning") and result["message"]["text"]
        location = result["locations"][0]["physicalLocation"]
        by_uri.setdefault(location["artifactLocation"]["uri"], []).append((result, location))
    assert set(by_uri) == {"data.py", "odd%2C%20name%3A%201.py", "supp.py", "broken.py", "nb.ipynb"}
    (result, location), = by_uri["data.py"]
    assert result["ruleId"] == "TL401" and result["level"] == "error"
    assert location["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
    assert location["region"]["startLine"] == 3 and location["region"]["startColumn"] >= 1
    (result, _), = by_uri["broken.py"]
    assert result["ruleId"] == "TL001"
    (result, location), = by_uri["nb.ipynb"]
    assert result["properties"] == {"cell": 2, "cellLine": 2, "cellColumn": 7}
    assert _stored_text(project / "nb.ipynb", location["region"]) == "D(Dataset):\n"
    assert result["message"]["text"].startswith("cell 2, line 2: ")


def test_sarif_carries_fixes_as_replacements(run_cli, project):
    run = _sarif(run_cli, project)["runs"][0]
    result, = [r for r in run["results"] if r["ruleId"] == "TL003"]
    change, = result["fixes"][0]["artifactChanges"]
    assert change["artifactLocation"]["uri"] == "supp.py"
    replacement, = change["replacements"]
    assert replacement["insertedContent"]["text"] == ""
    region = replacement["deletedRegion"]
    line = SUPPRESSION.splitlines()[0]
    assert line[region["startColumn"] - 1 : region["endColumn"] - 1] == "TL401, "


def test_sarif_of_a_clean_run_is_valid_and_empty(run_cli, tmp_path):
    (tmp_path / "clean.py").write_text("x = 1\n")
    done = run_cli("check", "--isolated", "--output-format", "sarif", "clean.py")
    assert done.returncode == 0
    assert json.loads(done.stdout)["runs"][0]["results"] == []


# --- GitHub annotations ----------------------------------------------------------------------

ANNOTATION = re.compile(
    r"^::(?P<kind>error|warning) file=(?P<file>[^,:]+),line=(?P<line>\d+),col=(?P<col>\d+),"
    r"endLine=(?P<endLine>\d+),endColumn=(?P<endColumn>\d+),title=(?P<title>TL\d{3} [a-z0-9-]+)::(?P<message>[^\r\n]+)$"
)


def test_github_annotations_are_well_formed_and_escaped(run_cli, project):
    done = run_cli("check", "--isolated", "--output-format", "github", ".", cwd=project)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert len(lines) == 5  # no summary: every line is a workflow command
    parsed = [ANNOTATION.match(line) for line in lines]
    assert all(parsed), [line for line, match in zip(lines, parsed) if not match]
    by_file = {m["file"]: m for m in parsed}
    assert "odd%2C name%3A 1.py" in by_file
    data = by_file["data.py"]
    assert (data["kind"], data["line"], data["title"]) == ("error", "3", "TL401 dataset-protocol")
    assert by_file["supp.py"]["kind"] == "warning"
    notebook = by_file["nb.ipynb"]
    assert notebook["message"].startswith("cell 2, line 2: ")
    region = {"startLine": int(notebook["line"]), "startColumn": int(notebook["col"])}
    assert _stored_text(project / "nb.ipynb", region) == "D(Dataset):\n"


def test_github_annotation_escapes_newlines_and_percent():
    from torchlint.diagnostics import Diagnostic, Position, Severity, Span
    from torchlint.output.github import annotation

    span = Span(Position(1, 1), Position(2, 3))
    diagnostic = Diagnostic("TL401", "dataset-protocol", "100% wrong\nreally", Severity.ERROR, "a,b.py", span, help="do x")
    assert annotation(diagnostic) == (
        "::error file=a%2Cb.py,line=1,col=1,endLine=2,endColumn=3,title=TL401 dataset-protocol"
        "::100%25 wrong%0Areally%0Ahelp: do x"
    )


# --- JUnit -----------------------------------------------------------------------------------


def test_junit_has_a_suite_per_file_and_a_failure_per_finding(run_cli, project):
    done = run_cli("check", "--isolated", "--output-format", "junit", ".", cwd=project)
    assert done.returncode == 1
    root = ET.fromstring(done.stdout)
    assert root.tag == "testsuites"
    suites = {suite.get("name"): suite for suite in root.findall("testsuite")}
    assert set(suites) == {"broken.py", "clean.py", "data.py", "nb.ipynb", "odd, name: 1.py", "supp.py"}
    assert suites["clean.py"].get("failures") == "0" and len(suites["clean.py"]) == 1
    failure = suites["data.py"].find("testcase/failure")
    assert failure.get("type") == "TL401" and failure.text.startswith("data.py:3:")
    assert root.get("tests") == "6" and root.get("failures") == "5"


# --- notebooks: findings at the .ipynb line that stores the source line ----------------------

NOTEBOOK_CELL = [
    "import torch\n",
    "from torch.utils.data import Dataset\n",
    "label = \"caf\u00e9 \\\"x\\\"\"  # escapes before the finding\n",
    "class Frames(Dataset):\n",
    "    def __getitem__(self, i):\n",
    "        return i\n",
]


def _stored_text(path, region) -> str:
    """The decoded rest of the source line that (line, column) of the `.ipynb` file points into."""
    line = path.read_text(encoding="utf-8").split("\n")[region["startLine"] - 1]
    column = region["startColumn"] - 1
    quote = max(i for i in range(column) if line[i] == '"' and (i == 0 or line[i - 1] != "\\"))
    whole, _ = json.decoder.scanstring(line, quote + 1)
    prefix, _ = json.decoder.scanstring(line[: column] + '"', quote + 1)
    rest = whole[len(prefix) :]
    return rest[: rest.index("\n") + 1] if "\n" in rest else rest


@pytest.fixture(params=["jupyter", "ascii", "minified", "one-string"])
def notebook(request, tmp_path):
    """The same cells written four ways: as Jupyter does, ASCII-escaped, on one line, as one string."""
    text = {
        "jupyter": lambda: _notebook(NOTEBOOK_CELL).replace("\\u00e9", "\u00e9"),
        "ascii": lambda: _notebook(NOTEBOOK_CELL),
        "minified": lambda: _notebook(NOTEBOOK_CELL, indent=None),
        "one-string": lambda: _notebook("".join(NOTEBOOK_CELL)),
    }[request.param]()
    (tmp_path / "nb.ipynb").write_text(text, encoding="utf-8")
    return tmp_path / "nb.ipynb"


def test_github_annotation_of_a_notebook_is_at_its_ipynb_line(run_cli, notebook):
    done = run_cli("check", "--isolated", "--no-cache", "--output-format", "github", "nb.ipynb")
    match = ANNOTATION.match(done.stdout.splitlines()[0])
    assert match and match["message"].startswith("cell 2, line 4: ")
    region = {"startLine": int(match["line"]), "startColumn": int(match["col"])}
    assert _stored_text(notebook, region) == "Frames(Dataset):\n"
    end = {"startLine": int(match["endLine"]), "startColumn": int(match["endColumn"])}
    assert _stored_text(notebook, end) == "(Dataset):\n"


def test_sarif_of_a_notebook_points_at_its_ipynb_line_and_validates(run_cli, notebook):
    import jsonschema

    done = run_cli("check", "--isolated", "--no-cache", "--output-format", "sarif", "nb.ipynb")
    log = json.loads(done.stdout)
    with open(SCHEMA, encoding="utf-8") as handle:
        jsonschema.validate(log, json.load(handle))
    [result] = log["runs"][0]["results"]
    region = result["locations"][0]["physicalLocation"]["region"]
    assert _stored_text(notebook, region) == "Frames(Dataset):\n"
    assert result["properties"] == {"cell": 2, "cellLine": 4, "cellColumn": 7}
    [note] = result["relatedLocations"]  # the evidence note, mapped the same way
    assert _stored_text(notebook, note["physicalLocation"]["region"]).startswith("Dataset")


def test_junit_line_of_a_notebook_finding_is_its_ipynb_line(run_cli, notebook):
    done = run_cli("check", "--isolated", "--no-cache", "--output-format", "junit", "nb.ipynb")
    case = ET.fromstring(done.stdout).find("testsuite/testcase")
    line = int(case.get("line"))
    stored = notebook.read_text(encoding="utf-8").split("\n")[line - 1]
    assert "class Frames(Dataset)" in stored
    assert "at cell 2:4:7" in case.get("name")


@pytest.mark.parametrize("fixture", ["TL201_missing_zero_grad/notebook.ipynb", "TL301_fit_on_test_data/leakage_notebook.ipynb"])
def test_notebook_lines_in_the_fixture_notebooks_match_their_cells(run_cli, tmp_path, fixture):
    """Real notebooks (the fixtures, as Jupyter saved them): every finding maps onto its row."""
    import shutil

    from conftest import FIXTURES

    shutil.copy(os.path.join(FIXTURES, *fixture.split("/")), tmp_path / "nb.ipynb")
    document = json.loads((tmp_path / "nb.ipynb").read_text(encoding="utf-8"))
    done = run_cli("check", "--isolated", "--no-cache", "--output-format", "sarif", "nb.ipynb")
    results = json.loads(done.stdout)["runs"][0]["results"]
    assert results
    for result in results:
        cell = document["cells"][result["properties"]["cell"] - 1]
        row_text = "".join(cell["source"]).split("\n")[result["properties"]["cellLine"] - 1]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] > result["properties"]["cellLine"]
        stored = _stored_text(tmp_path / "nb.ipynb", region)
        assert stored.rstrip("\n") == row_text[result["properties"]["cellColumn"] - 1 :]


def test_a_notebook_changed_since_it_was_linted_keeps_cell_rows(run_cli, tmp_path):
    """stdin (or an edited file) has no stored lines to point at: cell-relative rows, still valid."""
    (tmp_path / "nb.ipynb").write_text(_notebook(["x = 1\n"]))
    stdin = _notebook(NOTEBOOK_CELL)
    done = run_cli("check", "--isolated", "--output-format", "github", "-", "--stdin-filename", "nb.ipynb", input=stdin)
    match = ANNOTATION.match(done.stdout.splitlines()[0])
    assert (match["line"], match["col"]) == ("4", "7")
    assert match["message"].startswith("cell 2, line 4: ")


# --- progress --------------------------------------------------------------------------------


def _run_in_terminal(args, cwd, env):
    """Run torchlint with stdout and stderr on a pseudo-terminal; returns everything it wrote."""
    pty = pytest.importorskip("pty")
    import subprocess
    import sys

    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "torchlint", *args], cwd=cwd, stdin=subprocess.DEVNULL,
                               stdout=slave, stderr=slave, env=env)
    os.close(slave)
    output = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    process.wait(timeout=120)
    return output.decode("utf-8", "replace")


@pytest.fixture
def many_files(tmp_path):
    from torchlint.cli import PROGRESS_MIN_FILES

    for index in range(PROGRESS_MIN_FILES + 5):
        (tmp_path / f"m{index}.py").write_text(f"x{index} = 1  # noqa: TL401\n")
    return tmp_path


def test_progress_bar_on_a_terminal_is_erased_when_done(many_files):
    env = {key: value for key, value in os.environ.items() if key not in ("CI", "NO_COLOR", "FORCE_COLOR")}
    output = _run_in_terminal(["check", "--isolated", "--output-format", "concise", "."], many_files, env)
    assert "Checking" in output
    bar_end = output.rindex("Checking")
    tail = output[bar_end:]
    assert "\x1b[2K" in tail  # the bar's line is cleared before the findings
    assert tail.count("TL003") == len(list(many_files.glob("*.py")))


def test_no_progress_bar_in_ci_or_on_a_pipe(many_files, run_cli):
    env = {**os.environ, "CI": "true"}
    assert "Checking" not in _run_in_terminal(["check", "--isolated", "."], many_files, env)
    piped = run_cli("check", "--isolated", "--output-format", "concise", ".", cwd=many_files, env={"CI": ""})
    assert "Checking" not in piped.stdout + piped.stderr and "\x1b" not in piped.stdout + piped.stderr
