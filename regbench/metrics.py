"""What regularization is supposed to change, measured: the generalization gap and the weights.

Weight metrics look only at the parameters a penalty acts on (``penalized_parameters``), so a
baseline and a penalized model are compared on the same tensors.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from regbench.losses import PenaltyLoss, penalized_parameters

__all__ = [
    "SPARSITY_THRESHOLD",
    "eval_nondeterminism",
    "penalty_leak",
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


def generalization_gap(
    *, train_accuracy: float, test_accuracy: float, train_loss: float, test_loss: float
) -> dict[str, float]:
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


def weight_histogram(
    model: nn.Module, *, bins: int = HISTOGRAM_BINS, value_range: tuple[float, float] = HISTOGRAM_RANGE
) -> dict:
    """Density histogram of the penalized weights, kept as data so plots can be redrawn from results."""
    weights = penalized_weights(model).numpy()
    density, edges = np.histogram(weights, bins=bins, range=value_range, density=False)
    inside = int(density.sum())
    width = edges[1] - edges[0]
    return {
        "edges": edges.tolist(),
        "density": (
            (density / (len(weights) * width)).tolist()
        ),  # over all weights, as plt.hist(density=True) on the full set
        "outside_range": len(weights) - inside,
        "mean_abs": float(np.abs(weights).mean()),
    }


# Invariants measured on every trained run, so the regression gate sees them. Both are exactly 0
# for a correct model and loss, and the bugs they catch (a penalty reaching biases, dropout left on
# at evaluation) move accuracy too little for a statistical test across seeds to notice.


def penalty_leak(loss_fn: nn.Module, model: nn.Module) -> float:
    """Largest |d penalty / d p| over trainable parameters the penalty must not touch (biases, 1-D)."""
    if not isinstance(loss_fn, PenaltyLoss):
        return 0.0
    weights = {id(p) for _, p in penalized_parameters(model)}
    others = [p for p in model.parameters() if p.requires_grad and id(p) not in weights]
    if not others:
        return 0.0
    grads = torch.autograd.grad(loss_fn.penalty(), others, allow_unused=True)
    return max((float(g.abs().max()) for g in grads if g is not None), default=0.0)


def eval_nondeterminism(model: nn.Module, inputs: torch.Tensor) -> float:
    """Largest difference between two eval-mode passes over the same inputs: 0 unless something random acts in eval."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return float((model(inputs) - model(inputs)).abs().max())
    finally:
        model.train(was_training)
