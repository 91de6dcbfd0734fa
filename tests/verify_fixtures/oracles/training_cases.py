"""Oracle checks for TL201 and TL202 on a tiny linear model."""

import torch
import torch.nn.functional as F


def _setup(device):
    model = torch.nn.Linear(3, 1).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = [(torch.randn(4, 3, device=device), torch.randn(4, 1, device=device)) for _ in range(3)]
    return model, optimizer, batches


# TL201 claim: no gradient reset in the loop, so each step sees the previous batches' gradients
def case_missing_zero_grad(device="cpu"):
    model, optimizer, batches = _setup(device)
    for x, y in batches:
        F.mse_loss(model(x), y).backward()
        optimizer.step()  # expect: TL201


# TL201 claim on the loop statement: checked against the steps of the case
def case_missing_zero_grad_loop_marker(device="cpu"):
    model, optimizer, batches = _setup(device)
    for x, y in batches:  # expect: TL201
        F.mse_loss(model(x), y).backward()
        optimizer.step()


# TL201 trap: zero_grad every iteration
def case_zero_grad_each_iteration(device="cpu"):
    model, optimizer, batches = _setup(device)
    for x, y in batches:
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()


# TL201 trap: deliberate accumulation over two batches, reset after each step
def case_gradient_accumulation(device="cpu"):
    model, optimizer, batches = _setup(device)
    for i, (x, y) in enumerate(batches + batches[:1]):
        F.mse_loss(model(x), y).backward()
        if i % 2 == 1:
            optimizer.step()
            optimizer.zero_grad()


# TL202 claim: zero_grad between backward and step
def case_zero_grad_before_step(device="cpu"):
    model, optimizer, batches = _setup(device)
    for x, y in batches:
        F.mse_loss(model(x), y).backward()
        optimizer.zero_grad()
        optimizer.step()  # expect: TL202


# TL202 claim on the zero_grad line: checked against the steps of the case
def case_zero_grad_marked_line(device="cpu"):
    model, optimizer, batches = _setup(device)
    for x, y in batches:
        F.mse_loss(model(x), y).backward()
        optimizer.zero_grad()  # expect: TL202
        optimizer.step()
