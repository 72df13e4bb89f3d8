"""The notebook's fully connected classifiers, sized for any data.

All three share one shape: Linear -> (BatchNorm1d) -> ReLU -> (Dropout) -> Linear(bias=False).
The second Linear has no bias in the notebook, so the only 2-D parameters are the two weight
matrices; that is what the penalty losses act on.

The notebook's ``FullyConnected(input_size, hidden_size, output_size)`` is 784-500-10. A run
passes ``input_shape`` (one sample's shape) and ``num_classes`` from its dataset
(``regbench.configs.DATA_ARGUMENTS``), so the same config builds 3072-500-10 on CIFAR-10 and
30-500-2 on breast-cancer; with neither, the digits' 784 and 10 remain the defaults.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from typing import Optional, Sequence

from regbench.noise import GaussianNoise

__all__ = [
    "DIGITS_CLASSES",
    "DIGITS_INPUT",
    "FullyConnected",
    "FullyConnectedBatchNorm",
    "FullyConnectedDropout",
    "FullyConnectedNoise",
]

DIGITS_INPUT = 784  # 28x28 pixels: what the notebook's models take when no data says otherwise
DIGITS_CLASSES = 10


class FullyConnected(nn.Module):
    """Linear -> ReLU -> Linear(bias=False): the notebook's unregularized baseline."""

    def __init__(
        self,
        input_size: Optional[int] = None,
        hidden_size: int = 500,
        output_size: Optional[int] = None,
        *,
        input_shape: Optional[Sequence[int]] = None,
        num_classes: Optional[int] = None,
    ) -> None:
        super().__init__()
        input_size = _fitted(
            "input_size",
            input_size,
            "input_shape",
            None if input_shape is None else math.prod(input_shape),
            DIGITS_INPUT,
        )
        output_size = _fitted("output_size", output_size, "num_classes", num_classes, DIGITS_CLASSES)
        _check_sizes(input_size=input_size, hidden_size=hidden_size, output_size=output_size)
        self.input_size = input_size
        self.linear_1 = nn.Linear(input_size, hidden_size)
        self.linear_2 = nn.Linear(hidden_size, output_size, bias=False)

    def flatten(self, x: torch.Tensor) -> torch.Tensor:
        """(N, ...) -> (N, input_size), refusing samples of another size rather than silently re-batching them."""
        per_sample = math.prod(x.shape[1:]) if x.ndim >= 2 else None
        if per_sample != self.input_size:
            raise ValueError(
                f"{type(self).__name__} takes a batch of samples of input_size={self.input_size} values each, such as "
                f"(N, 1, 28, 28) or (N, {self.input_size}); got shape {tuple(x.shape)}"
            )
        return x.reshape(len(x), self.input_size)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """Flattened images (N, ...) -> hidden activations (N, hidden), before the output layer."""
        return F.relu(self.linear_1(self.flatten(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, 1, 28, 28) or (N, 784) -> logits (N, output_size)."""
        return self.linear_2(self.hidden(x))


class FullyConnectedDropout(FullyConnected):
    """Dropout after the ReLU (the notebook notes that before or after gives the same numbers)."""

    def __init__(
        self,
        input_size: Optional[int] = None,
        hidden_size: int = 500,
        output_size: Optional[int] = None,
        dropout_prob: float = 0.2,
        *,
        input_shape: Optional[Sequence[int]] = None,
        num_classes: Optional[int] = None,
    ) -> None:
        super().__init__(input_size, hidden_size, output_size, input_shape=input_shape, num_classes=num_classes)
        if not 0.0 <= dropout_prob < 1.0:
            raise ValueError(f"dropout_prob must be in [0, 1), got {dropout_prob!r}")
        self.dropout = nn.Dropout(p=dropout_prob)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """Dropout acts on the hidden activations only, so eval mode is the baseline model."""
        return self.dropout(super().hidden(x))


class FullyConnectedNoise(FullyConnected):
    """Gaussian noise on the flattened inputs, in train mode only: the classic regularizer for feature vectors."""

    def __init__(
        self,
        input_size: Optional[int] = None,
        hidden_size: int = 500,
        output_size: Optional[int] = None,
        noise_std: float = 0.1,
        *,
        input_shape: Optional[Sequence[int]] = None,
        num_classes: Optional[int] = None,
    ) -> None:
        super().__init__(input_size, hidden_size, output_size, input_shape=input_shape, num_classes=num_classes)
        # noise_std 0.1: regbench standardizes feature tables to unit variance per feature, so the noise is a tenth of a
        # feature's spread (on MNIST's pixels in [0, 1], whose spread is 0.31, about a third)
        self.noise = GaussianNoise(noise_std)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """Noise on the inputs (what Bishop's Tikhonov equivalence is about), in train mode only, so eval mode is the
        baseline model.
        """
        return F.relu(self.linear_1(self.noise(self.flatten(x))))


class FullyConnectedBatchNorm(FullyConnected):
    """BatchNorm1d between the first Linear and the ReLU, as in the notebook."""

    def __init__(
        self,
        input_size: Optional[int] = None,
        hidden_size: int = 500,
        output_size: Optional[int] = None,
        *,
        input_shape: Optional[Sequence[int]] = None,
        num_classes: Optional[int] = None,
    ) -> None:
        super().__init__(input_size, hidden_size, output_size, input_shape=input_shape, num_classes=num_classes)
        self.bn_1 = nn.BatchNorm1d(hidden_size)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """Normalize pre-activations so their scale no longer depends on linear_1's weights."""
        if self.training and x.size(0) < 2:
            raise ValueError(
                "FullyConnectedBatchNorm in train mode needs a batch of at least 2 samples: the batch "
                "variance of one sample is undefined. Call model.eval() to predict single samples, or "
                "drop a last batch of 1 (DataLoader(drop_last=True) or another batch size)."
            )
        return F.relu(self.bn_1(self.linear_1(self.flatten(x))))


def _fitted(name: str, given: Optional[int], data_name: str, from_data: Optional[int], default: int) -> int:
    """A width given outright, or read off the data; both must agree, so a model built for another shape is refused,
    not reshaped.
    """
    if given is not None and from_data is not None and given != from_data:
        raise ValueError(
            f"{name}={given} does not fit the data: its {data_name} gives {from_data}; leave {name} out to size the"
            " model from the data"
        )
    return given if given is not None else from_data if from_data is not None else default


def _check_sizes(**sizes: int) -> None:
    """Reject zero or negative widths here, where the message can name the argument."""
    for name, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
