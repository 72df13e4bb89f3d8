"""Small helpers the property modules share: seeded RNG scopes, example budgets, the penalty rule as written in the design."""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import torch
from hypothesis import settings
from torch import nn

__all__ = ["CPU", "fewer_examples", "is_penalized", "penalty_losses", "seeded"]

CPU = torch.device("cpu")


@contextlib.contextmanager
def seeded(seed: int, device: torch.device = CPU) -> Iterator[None]:
    """Seed torch's global RNG (CPU and this CUDA device) inside the block only, so examples stay independent."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def fewer_examples(divisor: int) -> settings:
    """A fraction of the profile's examples, for properties that train a model per example."""
    return settings(max_examples=max(3, settings.default.max_examples // divisor))


def is_penalized(name: str, parameter: nn.Parameter) -> bool:
    """DESIGN.md's rule, written independently of regbench: trainable, not a bias, ndim > 1."""
    return parameter.requires_grad and name.rsplit(".", 1)[-1] != "bias" and parameter.ndim > 1


def penalty_losses() -> dict[str, Callable[[nn.Module, nn.Module, float], nn.Module]]:
    """regbench's penalty losses behind one (base, model, lambda) signature, every lambda set to the same value."""
    from regbench import losses

    return {
        "lasso": lambda base, model, lam: losses.LassoLoss(base, model, lam),
        "ridge": lambda base, model, lam: losses.RidgeLoss(base, model, lam),
        "elasticnet": lambda base, model, lam: losses.ElasticNetLoss(base, model, lam, lam),
        "mixed": lambda base, model, lam: losses.MixedL1L2Loss(base, model, lam, lam),
    }
