import os
import sys

import pytest

# A user's project, tested by running it as a project of its own (test_verify_user.py): never
# collected here, and its conftest.py never loaded (it would shadow this module as `conftest`).
collect_ignore = ["user_project"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")

try:  # property tests judge behaviour, not speed: a loaded CI machine must not fail them
    from hypothesis import HealthCheck, settings

    settings.register_profile("torchlint", deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("torchlint")
except ImportError:  # hypothesis is a test extra; the tests that need it import it themselves
    pass


def fixture_files():
    """Every rule fixture file: tests/fixtures/<CODE>_<name>/*.py|*.ipynb."""
    found = []
    for folder in sorted(os.listdir(FIXTURES)):
        path = os.path.join(FIXTURES, folder)
        if not (os.path.isdir(path) and folder[:2] == "TL" and folder[2:5].isdigit()):
            continue
        for name in sorted(os.listdir(path)):
            if name.endswith((".py", ".ipynb")) and not name.startswith("_"):
                found.append(os.path.join(path, name))
    return found


def nodes_in_order(module, kind=object, where=lambda node: True):
    """Every node of `module` of type `kind` for which `where(node)` holds, in visiting (source) order."""
    import libcst as cst

    found = []

    class Finder(cst.CSTVisitor):
        def on_visit(self, node):
            if isinstance(node, kind) and where(node):
                found.append(node)
            return True

    module.visit(Finder())
    return found


def nodes_with_source(source, code, kind):
    """The facts of a (dedented) snippet, and every node of type `kind` whose source text is
    `code`, in visiting order (at least one, or the test fails)."""
    import textwrap

    import libcst as cst

    from torchlint.facts import ModuleFacts

    module = cst.parse_module(textwrap.dedent(source))
    found = nodes_in_order(module, kind, lambda node: module.code_for_node(node) == code)
    assert found, f"no node {code!r}"
    return ModuleFacts(module), found


@pytest.fixture
def run_cli(tmp_path):
    """Run the real `torchlint` command in a subprocess; returns CompletedProcess."""
    import subprocess

    def run(*args, cwd=None, input=None, env=None):
        full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
        full_env.pop("FORCE_COLOR", None)
        return subprocess.run(
            [sys.executable, "-m", "torchlint", *args],
            cwd=cwd or tmp_path,
            input=input,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=120,
        )

    return run
