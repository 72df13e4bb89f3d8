"""Gaussian input noise: the classic regularizer for feature vectors.

Adding zero-mean Gaussian noise of standard deviation ``std`` to the inputs while training is,
to first order in the noise variance, Tikhonov regularization of the model (Bishop, "Training
with noise is equivalent to Tikhonov regularization", Neural Computation 7(1), 1995); Sietsma and
Dow ("Creating artificial neural networks that generalize", Neural Networks 4(1), 1991) showed it
improves the generalization of small networks. In eval mode, and at std 0, the input passes unchanged.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["GaussianNoise", "gaussian_noise"]


def gaussian_noise(x: torch.Tensor, std: float, training: bool) -> torch.Tensor:
    """x + std * N(0, 1) when training, from torch's global RNG (which regbench seeds per run); x itself otherwise."""
    _check_std(std)
    if not training or std == 0:
        return x
    return x + std * torch.randn_like(x)


class GaussianNoise(nn.Module):
    """Zero-mean Gaussian noise of standard deviation ``std`` on the input, in train mode only."""

    def __init__(self, std: float = 0.1) -> None:
        super().__init__()
        _check_std(std)  # here too, so a bad std fails when the model is built, not at its first batch
        self.std = float(std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return gaussian_noise(x, self.std, self.training)

    def extra_repr(self) -> str:
        return f"std={self.std:g}"


def _check_std(std: float) -> None:
    """A negative or non-finite std has no Gaussian to draw from: refuse it by name."""
    if not (math.isfinite(std) and std >= 0):
        raise ValueError(f"std must be a finite number >= 0 (the noise's standard deviation), got {std!r}")
