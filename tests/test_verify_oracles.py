"""Each rule declares its runtime oracle beside it (`rules/oracles/<rule module>.py`), found from the catalogue."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import fixture_files
from torchlint.registry import all_rules
from torchlint.rules.oracles import Oracle, module_name, oracles_by_code
from torchlint.rules.oracles.observations import Observation
from torchlint.testing import expectations_in_file


def test_every_rule_with_claims_in_its_fixtures_has_an_oracle():
    claimed = {e.code for path in fixture_files() for e in expectations_in_file(path)}
    oracles = oracles_by_code()
    missing = sorted(code for code in claimed if code not in oracles and not code.startswith("TL0"))
    assert not missing, f"rules with fixture claims but no oracle module in rules/oracles/: {missing}"


def test_oracles_are_found_by_rule_module_name_and_declare_typed_observations():
    modules = {rule.code: rule.__module__ for rule in all_rules()}
    for code, oracle in oracles_by_code().items():
        assert isinstance(oracle, Oracle) and oracle.code == code
        assert sys.modules[module_name(modules[code])].ORACLE is oracle
        assert oracle.watches and all(issubclass(kind, Observation) for kind in oracle.watches)


def test_oracle_modules_and_the_catalogue_import_no_torch():
    probe = ("import sys; from torchlint.rules.oracles import oracles_by_code; from torchlint.registry import all_rules; "
             "assert len(oracles_by_code()) >= 10 and all_rules(); "
             "heavy = [m for m in ('torch', 'numpy', 'sklearn', 'pandas') if m in sys.modules]; "
             "assert not heavy, heavy")
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                               cwd=os.path.dirname(os.path.abspath(__file__)))
    assert completed.returncode == 0, completed.stderr


def test_the_oracles_package_is_not_taken_for_a_rule_module():
    assert all(not rule.__module__.startswith("torchlint.rules.oracles") for rule in all_rules())
