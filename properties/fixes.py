"""The fixes suggested for the regbench bugs these properties found, as small variants the same properties accept.

regbench itself is not changed here (other people own it); test_mutations.py runs each fix as a
control, so a suggested fix is known to satisfy the property before anyone applies it.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from regbench import losses
from regbench.models import FullyConnected


class InputCheckedFullyConnected(FullyConnected):
    """FullyConnected that flattens per sample and refuses samples of the wrong size, instead of re-batching them."""

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        per_sample = math.prod(x.shape[1:])
        if per_sample != self.input_size:
            raise ValueError(
                f"{type(self).__name__} takes samples of {self.input_size} values; got a batch of shape "
                f"{tuple(x.shape)}, {per_sample} values per sample"
            )
        return F.relu(self.linear_1(x.reshape(len(x), self.input_size)))


def mixed_loss_without_repeats(
    base: nn.Module,
    model: nn.Module,
    l1_lambda: float,
    l2_lambda: float,
    *,
    l1_layers: Sequence[str],
    l2_layers: Sequence[str],
) -> losses.PenaltyLoss:
    """MixedL1L2Loss with each layer list de-duplicated (order kept), so naming a layer twice penalizes it once."""
    return losses.MixedL1L2Loss(base, model, l1_lambda, l2_lambda, l1_layers=list(dict.fromkeys(l1_layers)), l2_layers=list(dict.fromkeys(l2_layers)))
