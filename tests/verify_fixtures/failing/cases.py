"""Failures that must be reported, not fatal: a crash no claim predicts, and a refuted claim."""

import torch


# a crash no claim predicts
def case_crashes(device="cpu"):
    x = torch.randn(2, 3, device=device)
    return x.view(4, 4)


# a marker on a line that never runs
def case_never_calls_the_marked_line(device="cpu"):
    if device == "nowhere":
        torch.randn(3, 1, device=device).repeat(1, 2)  # expect: TL101
