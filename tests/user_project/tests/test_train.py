import torch

from tinynet.model import TinyNet
from tinynet.train import train


def test_train_runs_three_steps():
    torch.manual_seed(0)
    batches = [(torch.randn(2, 4, 8), torch.randn(2, 1)) for _ in range(3)]
    assert len(train(TinyNet(), batches)) == 3
