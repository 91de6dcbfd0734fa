"""Datasets for the demo: `WindowDataset` forgets `__len__`, so the first epoch crashes."""

import torch
from torch.utils.data import Dataset


class WindowDataset(Dataset):
    """Sliding windows over a 1-D signal."""

    def __init__(self, signal: torch.Tensor, window: int):
        self.signal = signal
        self.window = window

    def __getitem__(self, index):
        return self.signal[index : index + self.window]


class LabelledDataset(Dataset):
    def __init__(self, features: torch.Tensor, labels: torch.Tensor):
        self.features = features
        self.labels = labels

    def __getitem__(self, index):
        return self.features[index], self.labels[index]

    def __len__(self):
        return len(self.labels)
