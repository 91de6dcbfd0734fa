"""The tensor memory rules as a user sees them: rendered findings, evidence notes and fixes."""

import textwrap

from torchlint.diagnostics import Applicability
from torchlint.testing import lint_snippet

CLS_TOKEN = textwrap.dedent("""\
    import torch
    import torch.nn as nn


    class Encoder(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))

        def forward(self, x):
            B = x.shape[0]
            cls = self.cls_token.repeat(B, 1, 1)
            return torch.cat([cls, x], dim=1)
""")


def test_tl101_full_output_names_expand_and_the_size_one_evidence(run_cli, tmp_path):
    (tmp_path / "model.py").write_text(CLS_TOKEN)
    done = run_cli("check", "--isolated", "--select", "TL101", "--output-format", "full", "model.py")
    assert done.returncode == 1
    assert done.stdout.startswith(textwrap.dedent("""\
        warning[TL101] repeat-could-be-expand: `.repeat(B, 1, 1)` copies its input `B` times into new memory; `.expand(B, -1, -1)` gives the same values as a view that allocates nothing
          --> model.py:12:15
           |
        11 |         B = x.shape[0]
        12 |         cls = self.cls_token.repeat(B, 1, 1)
           |               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
           |
           = note: dim 0 has size 1: `torch.zeros(1, 1, dim)` here
             ::: model.py:8:39
          |
        8 |         self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
          |                                       ----------------------
          |
           = help: use `.expand(B, -1, -1)`
    """))


def test_tl101_safe_fix_when_only_read_in_the_function(run_cli, tmp_path):
    (tmp_path / "model.py").write_text(CLS_TOKEN)
    done = run_cli("check", "--isolated", "--select", "TL101", "--diff", "model.py")
    assert "-        cls = self.cls_token.repeat(B, 1, 1)" in done.stdout
    assert "+        cls = self.cls_token.expand(B, -1, -1)" in done.stdout


def test_tl101_fix_is_unsafe_when_the_value_escapes():
    source = "import torch\ndef f(n):\n    return torch.zeros(1, 4).repeat(n, 1)\n"
    [finding] = lint_snippet(source, select=["TL101"])
    assert finding.fix.applicability is Applicability.UNSAFE
    from torchlint.fixes import apply_edits

    assert apply_edits(source, finding.fix.edits) == source.replace(".repeat(n, 1)", ".expand(n, -1)")
    assert "the result is returned" in finding.help


def test_tl101_no_fix_without_ndim():
    # on a 1-D input `expand(B, -1, -1)` would need a 1 for the new middle dim: no automatic fix
    source = "import torch\ndef f(x, B):\n    return torch.cat([x.unsqueeze(0).repeat(B, 1, 1), x[None]])\n"
    [finding] = lint_snippet(source, select=["TL101"])
    assert finding.fix is None and "`.expand(B, -1, -1)`" in finding.message


def test_tl101_two_grown_dims_multiply():
    source = "import torch\ndef f(h, w):\n    x = torch.zeros(1, 1, 8)\n    return x.repeat(h, w, 1).sum()\n"
    [finding] = lint_snippet(source, select=["TL101"])
    assert "copies its input `h * w` times" in finding.message
    assert finding.fix.applicability is Applicability.SAFE


def test_tl102_message_and_note_point_at_the_permute(run_cli, tmp_path):
    (tmp_path / "m.py").write_text(textwrap.dedent("""\
        import torch


        def tokens(x):
            N, A, K, H, W = x.shape
            y = x.permute(0, 3, 4, 1, 2)
            return y.reshape(N, -1, K)
    """))
    done = run_cli("check", "--isolated", "--select", "TL102", "--output-format", "full", "m.py")
    assert done.stdout.startswith(textwrap.dedent("""\
        warning[TL102] reshape-copies: `.reshape(N, -1, K)` hides a copy: it merges dims 1, 2 and 3, which are not adjacent in memory after `permute(0, 3, 4, 1, 2)`, so the whole tensor is copied into new memory
          --> m.py:7:12
          |
        6 |     y = x.permute(0, 3, 4, 1, 2)
        7 |     return y.reshape(N, -1, K)
          |            ^^^^^^^^^^^^^^^^^^^
          |
           = note: non-contiguous: `permute(0, 3, 4, 1, 2)` here
             ::: m.py:6:9
          |
        6 |     y = x.permute(0, 3, 4, 1, 2)
          |         ------------------------
          |
           = help: if the copy is needed, write `.contiguous().view(N, -1, K)` so that it shows; otherwise keep a layout in which these dims stay adjacent, so that no copy is needed
           = fix (unsafe): Spell the copy: `.contiguous().view(N, -1, K)`
    """))


def test_tl103_unsafe_fix_to_reshape(run_cli, tmp_path):
    (tmp_path / "m.py").write_text(textwrap.dedent("""\
        import torch


        def merge_heads(x):
            B, H, N, D = x.shape
            return x.transpose(1, 2).view(B, N, H * D)
    """))
    done = run_cli("check", "--isolated", "--select", "TL103", "--output-format", "full", "m.py")
    assert "error[TL103] view-non-contiguous: `.view(B, N, H * D)` raises here" in done.stdout
    assert "= note: non-contiguous: `transpose(1, 2)` here" in done.stdout
    assert "= fix (unsafe): Replace `.view` with `.reshape` (copies here)" in done.stdout
    diff = run_cli("check", "--isolated", "--select", "TL103", "--diff", "--unsafe-fixes", "m.py").stdout
    assert "+    return x.transpose(1, 2).reshape(B, N, H * D)" in diff


def test_tl104_reported_at_the_write_with_the_expand_as_evidence():
    source = textwrap.dedent("""\
        import torch
        def f(x, n):
            y = x.unsqueeze(0).expand(n, -1)
            y[0] = 1
            return y
    """)
    [finding] = lint_snippet(source, select=["TL104"])
    assert (finding.span.start.row, finding.span.start.column) == (4, 5)
    assert "it is assigned in place" in finding.message
    [note] = finding.notes
    assert note.span.start.row == 3 and "expanded here" in note.message
