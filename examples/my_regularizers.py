"""A user's own regularizers and a small CNN, checked and benchmarked against regbench's built-ins.

From the repository root:

    regbench configs examples.my_regularizers:CONFIGS       # what each config builds
    regbench check examples.my_regularizers:CONFIGS         # their invariants, one report per config
    regbench run --configs baseline,dropout,l2,examples.my_regularizers:CONFIGS --out results/mine

Nothing here is part of regbench: it is written only against its public API (``Config``,
``PenaltyLoss``, ``PenaltyTerm``, ``penalized_parameters``), as a user would write it.

- DropConnect (Wan et al., 2013, "Regularization of Neural Networks using DropConnect"): each
  training batch drops a random fraction of a layer's *weights* (not its activations) and
  rescales the rest by 1/(1-p); in eval mode the full weights are used.
- A soft max-norm penalty: lambda * sum over units of max(0, |w_unit| - c)^2, where w_unit is
  the row of incoming weights of one unit. The hard max-norm constraint (Srebro and Shraibman,
  2005) is what Srivastava et al. (2014) pair with dropout; as a penalty it leaves every unit
  whose incoming weights stay within norm c alone, unlike L2, which shrinks them all.
- A small CNN: two 3x3 convolutions (8 and 16 channels) with max pooling, then one linear layer.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from regbench import Config, FullyConnected, PenaltyLoss, penalized_parameters
from regbench.losses import PenaltyTerm


def drop_connect(weight: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """The weight with a fraction p of its entries zeroed and the rest scaled by 1/(1-p); unchanged in eval or at p =
    0.
    """
    if not training or p == 0.0:
        return weight
    keep = torch.empty_like(weight).bernoulli_(1.0 - p)
    return weight * keep / (1.0 - p)


class DropConnectLinear(nn.Linear):
    """nn.Linear whose weight is DropConnect-ed in train mode: a fresh mask per batch."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, p: float = 0.5) -> None:
        super().__init__(in_features, out_features, bias)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"DropConnect p must be in [0, 1), got {p!r}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, drop_connect(self.weight, self.p, self.training), self.bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, p={self.p}"


class DropConnectNet(nn.Module):
    """The notebook's MLP (784-500-10, second layer without bias) with DropConnect on the first layer's weights."""

    def __init__(self, hidden_size: int = 500, drop_prob: float = 0.5) -> None:
        super().__init__()
        self.linear_1 = DropConnectLinear(784, hidden_size, p=drop_prob)
        self.linear_2 = nn.Linear(hidden_size, 10, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.relu(self.linear_1(x.flatten(1))))


def unit_norm_excess(params: list[torch.Tensor], max_norm: float) -> torch.Tensor:
    """sum over units (rows) of max(0, |w_unit|_2 - max_norm)^2: zero while every unit's incoming weights stay within
    the norm.
    """
    return sum(F.relu(p.flatten(1).norm(dim=1) - max_norm).square().sum() for p in params)


class MaxNormLoss(PenaltyLoss):
    """base + maxnorm_lambda * sum over units of max(0, |w_unit| - max_norm)^2, over the weights regbench's penalties
    use.
    """

    def __init__(
        self, base_criterion: nn.Module, model: nn.Module, maxnorm_lambda: float = 1.0, *, max_norm: float = 1.0
    ) -> None:
        if not max_norm > 0:
            raise ValueError(f"max_norm must be > 0, got {max_norm!r}")
        weights = [p for _, p in penalized_parameters(model)]
        super().__init__(
            base_criterion,
            [PenaltyTerm("max-norm", maxnorm_lambda, functools.partial(unit_norm_excess, max_norm=max_norm), weights)],
        )


class SmallCNN(nn.Module):
    """conv 3x3 (8) -> ReLU -> max-pool -> conv 3x3 (16) -> ReLU -> max-pool -> linear: about 9k parameters on (1,
    28, 28) images.
    """

    def __init__(self, channels: int = 8) -> None:
        super().__init__()
        self.conv_1 = nn.Conv2d(1, channels, 3, padding=1)
        self.conv_2 = nn.Conv2d(channels, 2 * channels, 3, padding=1)
        self.linear = nn.Linear(2 * channels * 7 * 7, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv_1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv_2(x)), 2)
        return self.linear(x.flatten(1))


DROPCONNECT = Config(
    name="dropconnect",
    description="DropConnect p=0.5 on the first layer's weights",
    model=DropConnectNet,
    model_args={"drop_prob": 0.5},
)
MAXNORM = Config(
    name="maxnorm",
    description="soft max-norm penalty: lambda 1e-2 on unit norms above 0.5",
    model=FullyConnected,
    loss=MaxNormLoss,
    loss_args={"maxnorm_lambda": 1e-2, "max_norm": 0.5},
)
CNN = Config(
    name="cnn", description="a small CNN (3x3 convolutions, 8 and 16 channels), no regularization", model=SmallCNN
)
CONFIGS = [DROPCONNECT, MAXNORM, CNN]
