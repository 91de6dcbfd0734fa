import torch

from tinynet.model import TinyNet


def test_forward():
    model = TinyNet()
    assert model(torch.randn(3, 4, 8)).shape == (3, 1)


def test_pooled_is_a_view():
    model = TinyNet()
    assert model.pooled(torch.randn(2, 1, 8)).shape == (2, 8)
