"""A small vision transformer for the demo, with tensor-memory mistakes.

- `forward` copies the class token once per sample with `repeat` (TL101) where `expand` is a view;
- `Attention.forward` calls `.view` on a transposed tensor, which raises at run time (TL103);
- `patchify` reshapes after a `permute` that makes the merge copy the whole batch (TL102);
- `masked_positions` writes into an `expand`-ed tensor, which raises (TL104).
"""

import torch
import torch.nn as nn


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int = 4):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).view(B, N, C)
        return self.proj(x)


def patchify(images: torch.Tensor, patch: int) -> torch.Tensor:
    B, C, H, W = images.shape
    x = images.reshape(B, C, H // patch, patch, W // patch, patch)
    x = x.permute(0, 2, 4, 1, 3, 5)
    return x.reshape(B, (H // patch) * (W // patch), C * patch * patch)


def masked_positions(pos: torch.Tensor, batch: int, keep: int) -> torch.Tensor:
    positions = pos.unsqueeze(0).expand(batch, -1, -1)
    positions[:, keep:] = 0.0
    return positions


class TinyViT(nn.Module):
    def __init__(self, dim: int = 48, patch: int = 4):
        super().__init__()
        self.patch = patch
        self.embed = nn.Linear(3 * patch * patch, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.block = Attention(dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(patchify(images, self.patch))
        cls = self.cls_token.repeat(tokens.shape[0], 1, 1)
        x = torch.cat([cls, tokens], dim=1)
        return self.block(x)[:, 0]
