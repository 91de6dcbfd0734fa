"""Static checking must not import torch or scikit-learn (they are only for `torchlint verify`)."""

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    probe = code + "\nimport sys\nprint('\\n'.join(sys.modules))\n"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


HEAVY = {"torch", "sklearn", "numpy", "pandas"}


def test_importing_torchlint_and_every_rule_imports_no_ml_library():
    loaded = _modules_after("import torchlint, torchlint.cli, torchlint.engine\nfrom torchlint.registry import all_rules\nall_rules()")
    assert not (HEAVY & loaded)


def test_a_full_static_run_imports_no_ml_library(tmp_path):
    (tmp_path / "m.py").write_text(
        "import torch\nfrom torch.utils.data import Dataset\nfrom sklearn.preprocessing import StandardScaler\n"
        "class A(Dataset):\n    def __getitem__(self, i): return i\n"
        "x = torch.zeros(1, 3).repeat(4, 1)\nStandardScaler().fit(x)\n"
    )
    loaded = _modules_after(
        "import sys\nfrom torchlint.cli import main\nsys.argv = ['torchlint', 'check', %r]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n" % str(tmp_path)
    )
    assert not (HEAVY & loaded), HEAVY & loaded


def test_listing_the_catalogue_does_not_import_libcst():
    loaded = _modules_after("from torchlint.registry import all_rules\nall_rules()")
    assert not any(m == "libcst" or m.startswith("libcst.") for m in loaded)
