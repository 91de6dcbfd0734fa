"""Oracle checks for TL101-TL104: each claim and trap exercises one measurement of the tracer."""

import torch


# TL101 claim: repeat grows a size-1 dim; expand gives the same values with 0 bytes
def case_repeat_size_one(device="cpu"):
    x = torch.randn(3, 1, device=device)
    return x.repeat(1, 4)  # expect: TL101


# TL101 claim: repeat adds a new leading dim
def case_repeat_new_leading_dim(device="cpu"):
    x = torch.randn(5, device=device)
    return x.repeat(2, 1)  # expect: TL101


# TL101 trap: the repeated dim has size 4, so expand cannot produce the same values
def case_repeat_wide_dim(device="cpu"):
    x = torch.randn(3, 4, device=device)
    return x.repeat(1, 2)


# TL101 trap: the repeat's result is written in place afterwards, so it needs its own storage
def case_repeat_then_written(device="cpu"):
    x = torch.randn(3, 1, device=device)
    y = x.repeat(1, 4)
    y.add_(1)
    return y


# TL102 claim: reshape of a transpose copies
def case_reshape_transposed(device="cpu"):
    x = torch.randn(2, 3, device=device).t()
    return x.reshape(-1)  # expect: TL102


# TL102 trap: reshape of a contiguous tensor is a view
def case_reshape_contiguous(device="cpu"):
    return torch.randn(2, 3, device=device).reshape(-1)


# TL103 claim: view of a transpose raises
def case_view_transposed(device="cpu"):
    x = torch.randn(2, 3, device=device).t()
    try:
        x.view(-1)  # expect: TL103
    except RuntimeError:
        return None


# TL103 trap: view of a contiguous tensor
def case_view_contiguous(device="cpu"):
    return torch.randn(2, 3, device=device).view(-1)


# TL104 claim: in-place add into an expanded tensor raises the overlap error
def case_add_into_expanded(device="cpu"):
    x = torch.ones(3, 1, device=device)
    y = x.expand(3, 4)
    try:
        y.add_(1)  # expect: TL104
    except RuntimeError:
        return x


# TL104 claim: writing one row of an expanded tensor changes the source, hence every row
def case_fill_row_of_expanded(device="cpu"):
    x = torch.ones(1, 4, device=device)
    y = x.expand(3, 4)
    y[0].fill_(2)  # expect: TL104
    return y


# TL104 trap: the expanded tensor was cloned first
def case_add_into_clone(device="cpu"):
    x = torch.ones(3, 1, device=device)
    y = x.expand(3, 4).clone()
    y.add_(1)
    return y
