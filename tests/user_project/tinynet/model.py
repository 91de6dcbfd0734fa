"""A tiny sequence model: the project a user would run `torchlint verify -- pytest tests/` on."""

import torch
from torch import nn


def flatten_features(t):
    # The caller passes a permuted tensor: this reshape copies, and nothing static can tell.
    return t.reshape(t.size(0), -1)


class TinyNet(nn.Module):
    def __init__(self, dim=8, length=4):
        super().__init__()
        self.pos = nn.Parameter(torch.randn(length, dim))
        self.proj = nn.Linear(dim, dim)
        self.head = nn.Linear(dim * length, 1)

    def forward(self, x):
        pos = self.pos.unsqueeze(0).repeat(x.size(0), 1, 1)
        h = self.proj(x + pos)
        return self.head(flatten_features(h.permute(0, 2, 1)))

    def pooled(self, x):
        # x is (batch, 1, dim) here: the transposed tensor is still contiguous, no copy.
        B, N, C = x.shape
        return x.transpose(1, 2).reshape(B, -1)

    def export_rows(self, x):
        # Never called by the tests: a finding here is not exercised.
        B, N, C = x.shape
        return x.transpose(1, 2).view(B, -1)
