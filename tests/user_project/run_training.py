"""A training script: `torchlint verify -- python run_training.py --steps 2` runs exactly this."""

import argparse

import torch

from tinynet.model import TinyNet
from tinynet.train import train

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=5)
steps = parser.parse_args().steps
torch.manual_seed(0)
batches = [(torch.randn(2, 4, 8), torch.randn(2, 1)) for _ in range(steps)]
print(f"trained {len(train(TinyNet(), batches))} steps")
