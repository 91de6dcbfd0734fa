"""A user fixture folder with one false marker: dim 1 has size 4, so expand is no alternative."""

import torch


# a true claim: dim 1 has size 1
def case_true_claim(device="cpu"):
    x = torch.randn(8, 1, device=device)
    return x.repeat(1, 4)  # expect: TL101


# a false claim: dim 1 has size 4
def case_false_claim(device="cpu"):
    x = torch.randn(8, 4, device=device)
    return x.repeat(1, 4)  # expect: TL101
