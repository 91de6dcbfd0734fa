"""Oracle checks for TL401: a DataLoader over the dataset raises on the first batch."""

import torch
from torch.utils.data import DataLoader, Dataset


class NoLength(Dataset):  # expect: TL401
    def __getitem__(self, index):
        return torch.tensor(index)


class Complete(Dataset):
    def __getitem__(self, index):
        return torch.tensor(index)

    def __len__(self):
        return 4


# TL401 claim: the loader raises on the first batch
def case_no_length():
    try:
        return next(iter(DataLoader(NoLength(), batch_size=2)))
    except TypeError:
        return None


# TL401 trap: a complete dataset
def case_complete():
    return next(iter(DataLoader(Complete(), batch_size=2)))
