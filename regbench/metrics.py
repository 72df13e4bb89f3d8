"""What regularization is supposed to change, measured: the generalization gap and the weights.

Weight metrics look only at the parameters a penalty acts on (``penalized_parameters``), so a
baseline and a penalized model are compared on the same tensors.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from regbench.losses import penalized_parameters

__all__ = [
    "SPARSITY_THRESHOLD",
    "generalization_gap",
    "mean_abs_weight",
    "penalized_weights",
    "sparsity",
    "weight_histogram",
]

# |w| below 1e-3 counts as zero: about 3% of PyTorch's initial 784-input weights (uniform in
# +-1/sqrt(784) = +-0.036) are that small, and Adam's steps of ~lr = 1e-3 keep an L1-pulled weight
# oscillating within about that distance of zero rather than exactly at it.
SPARSITY_THRESHOLD = 1e-3
HISTOGRAM_RANGE = (-0.1, 0.1)  # the notebook's plt.xlim
HISTOGRAM_BINS = 100  # the notebook's bins


def generalization_gap(*, train_accuracy: float, test_accuracy: float, train_loss: float, test_loss: float) -> dict[str, float]:
    """Train minus test: a positive accuracy gap (or negative loss gap) is overfitting."""
    return {"accuracy": train_accuracy - test_accuracy, "loss": train_loss - test_loss}


def penalized_weights(model: nn.Module) -> torch.Tensor:
    """All penalized weights of a model as one flat CPU tensor (the notebook's concatenation)."""
    return torch.cat([p.detach().flatten().cpu() for _, p in penalized_parameters(model)])


def mean_abs_weight(model: nn.Module) -> dict[str, float]:
    """Mean |W| per penalized parameter, plus ``"all"`` over every penalized weight together."""
    per_layer = {name: float(p.detach().abs().mean()) for name, p in penalized_parameters(model)}
    per_layer["all"] = float(penalized_weights(model).abs().mean())
    return per_layer


def sparsity(model: nn.Module, threshold: float = SPARSITY_THRESHOLD) -> float:
    """Fraction of penalized weights with |w| < threshold: what L1 should raise."""
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0, got {threshold}")
    return float((penalized_weights(model).abs() < threshold).float().mean())


def weight_histogram(model: nn.Module, *, bins: int = HISTOGRAM_BINS, value_range: tuple[float, float] = HISTOGRAM_RANGE) -> dict:
    """Density histogram of the penalized weights, kept as data so plots can be redrawn from results."""
    weights = penalized_weights(model).numpy()
    density, edges = np.histogram(weights, bins=bins, range=value_range, density=False)
    inside = int(density.sum())
    width = edges[1] - edges[0]
    return {
        "edges": edges.tolist(),
        "density": (density / (len(weights) * width)).tolist(),  # over all weights, as plt.hist(density=True) on the full set
        "outside_range": len(weights) - inside,
        "mean_abs": float(np.abs(weights).mean()),
    }
