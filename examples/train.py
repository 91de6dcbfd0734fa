"""Train the demo regressor.

The mistake: `optimizer.zero_grad()` sits in the epoch loop, so within an epoch every batch's
gradients pile onto the previous ones and each `step()` applies their running sum (TL201). The
validation loop below is fine: it never calls `backward()`.
"""

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def make_loaders(n=256, batch_size=32):
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(n, 8, generator=generator)
    targets = features @ torch.randn(8, 1, generator=generator) + 0.1 * torch.randn(n, 1, generator=generator)
    split = int(0.8 * n)
    train = TensorDataset(features[:split], targets[:split])
    valid = TensorDataset(features[split:], targets[split:])
    return DataLoader(train, batch_size=batch_size, shuffle=True), DataLoader(valid, batch_size=batch_size)


def evaluate(model, loader, criterion):
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for features, targets in loader:
            total += criterion(model(features), targets).item() * len(features)
            count += len(features)
    return total / count


def train(epochs=5, lr=1e-2):
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    criterion = nn.MSELoss()
    train_loader, valid_loader = make_loaders()
    for epoch in range(epochs):
        model.train()
        optimizer.zero_grad()
        for features, targets in train_loader:
            loss = criterion(model(features), targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
        scheduler.step()
        print(f"epoch {epoch}: validation loss {evaluate(model, valid_loader, criterion):.4f}")
    return model


if __name__ == "__main__":
    train()
