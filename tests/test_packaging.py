"""The wheel must contain every package of the source tree (a forgotten one breaks installs)."""

import os
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _declared():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as handle:
        setuptools = tomllib.load(handle)["tool"]["setuptools"]
    return set(setuptools["packages"]), setuptools.get("package-dir", {})


def test_every_engine_subpackage_is_declared():
    packages, _ = _declared()
    on_disk = set()
    for directory, _, files in os.walk(os.path.join(ROOT, "torchlint")):
        if "__init__.py" in files and "__pycache__" not in directory:
            on_disk.add(os.path.relpath(directory, ROOT).replace(os.sep, "."))
    assert on_disk <= packages, f"add to [tool.setuptools] packages: {sorted(on_disk - packages)}"


def test_rules_are_installed_as_torchlint_rules_not_a_top_level_package():
    packages, package_dir = _declared()
    assert "torchlint.rules" in packages and package_dir.get("torchlint.rules") == "rules"
    assert "rules" not in packages
