"""Early stopping: train until the loss on a validation split carved from the training data stops improving.

The validation split comes from the training images (``data.holdout_split``: the last fraction
of each class), never from the test set, so no decision a run makes has seen a test image. The
monitored value is the validation *base* loss (cross-entropy), not base + penalty: the penalty
measures the weights, not how well they generalize. When ``patience`` epochs pass without an
improvement of more than ``min_delta``, training stops and the best epoch's weights come back.
Prechelt, "Early Stopping - But When?" (1998), discusses the criteria; this is his simplest.
"""

from __future__ import annotations

import copy
import math
import numbers
from dataclasses import dataclass
from typing import Optional

from torch import nn

__all__ = ["EarlyStopping", "Monitor"]


@dataclass(frozen=True)
class EarlyStopping:
    """Stop after ``patience`` epochs without the validation loss improving by more than ``min_delta``; keep the best
    weights.
    """

    patience: int = 3  # epochs without improvement before stopping: 1 reacts to noise, large never stops
    validation_fraction: float = 0.1  # of each class's training images, held out from training
    min_delta: float = 0.0  # an improvement smaller than this does not count

    def __post_init__(self) -> None:
        if isinstance(self.patience, bool) or not isinstance(self.patience, int) or self.patience < 1:
            raise ValueError(f"patience must be a whole number >= 1, got {self.patience!r}")
        if not isinstance(self.validation_fraction, numbers.Real) or not 0 < self.validation_fraction < 1:
            raise ValueError(
                f"validation_fraction must be between 0 and 1 (exclusive), got {self.validation_fraction!r}"
            )
        if not isinstance(self.min_delta, numbers.Real) or not (math.isfinite(self.min_delta) and self.min_delta >= 0):
            raise ValueError(f"min_delta must be a finite number >= 0, got {self.min_delta!r}")

    def monitor(self) -> "Monitor":
        """A fresh watcher for one run."""
        return Monitor(self)


class Monitor:
    """One run's early-stopping state: the best validation loss so far, its epoch and its weights."""

    def __init__(self, rule: EarlyStopping) -> None:
        self.rule = rule
        self.best_loss = math.inf
        self.best_epoch: Optional[int] = None
        self.stopped_epoch: Optional[int] = None
        self._best_state: Optional[dict] = None

    def update(self, epoch: int, validation_loss: float, model: nn.Module) -> bool:
        """Record one epoch's validation loss; True when training should stop after it."""
        if validation_loss < self.best_loss - self.rule.min_delta or self.best_epoch is None:
            self.best_loss, self.best_epoch = validation_loss, epoch
            self._best_state = copy.deepcopy(model.state_dict())
            return False
        if epoch - self.best_epoch >= self.rule.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def restore(self, model: nn.Module) -> None:
        """Put the best epoch's weights (and buffers, such as BatchNorm's statistics) back into the model."""
        if self._best_state is not None:
            model.load_state_dict(self._best_state)
