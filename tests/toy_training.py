"""A toy objective and dataset for testing the training loop itself: a linear model
fitted to a fixed linear map, plus a random term so the per-step generators matter."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import Dataset


class LinearDataset(Dataset):
    def __init__(self, count: int = 8, seed: int = 0):
        generator = torch.Generator().manual_seed(seed)
        self.inputs = torch.randn(count, 3, generator=generator)
        self.targets = self.inputs @ torch.tensor([[1.0], [-2.0], [0.5]])

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"x": self.inputs[index], "y": self.targets[index]}


class LinearObjective(nn.Module):
    def __init__(self, noise: float = 0.1):
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(3, 1)
        self.noise = noise

    def forward(self, batch, generator: torch.Generator) -> dict[str, torch.Tensor]:
        jitter = torch.randn(batch["y"].shape, generator=generator) * self.noise
        error = (self.linear(batch["x"]) - batch["y"] - jitter).square().mean()
        return {"total": error, "squared_error": error}
