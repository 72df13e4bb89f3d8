"""Models built from stock components, as vision code writes them, with the verdicts `regbench check` gives.

From the repository root:

    regbench check examples.stock_components:StochasticDepthNet examples.stock_components:DropPathNet \
        examples.stock_components:DropBlockNet examples.stock_components:SpectralNormNet \
        examples.stock_components:GroupNormNet examples.stock_components:BatchStatsInEvalNet
    regbench check regbench.losses:RidgeLoss --model examples.stock_components:SpectralNormNet
    regbench check examples.stock_components:dice_l2_loss --model examples.stock_components:SegmentationNet
    --loss-targets dense

EXPECTED holds every model's verdicts that are not a plain pass; tests/test_components.py
holds regbench to them. Two carry a bug on purpose: ``ScaledDropPathNet`` (the drop-path
convention that scales in eval instead of in train) and ``BatchStatsInEvalNet`` (BatchNorm with
``track_running_stats=False``).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import StochasticDepth

from regbench.losses import PenaltyLoss, PenaltyTerm, penalized_parameters, squared_l2_norm

# ---------------------------------------------------------------------------------------- modules


class DropPath(nn.Module):
    """Drop-path as most vision code writes it: drop a sample's residual branch with probability drop_prob, in train
    mode only.
    """

    def __init__(self, drop_prob: float = 0.1) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.drop_prob == 0:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1 - self.drop_prob)
        return x * keep / (1 - self.drop_prob)


class ScaledDropPath(DropPath):
    """Broken: drops without rescaling in train mode and scales by (1 - drop_prob) in eval, so eval is not the
    identity.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x * (1 - self.drop_prob)
        return x * x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1 - self.drop_prob)


class DropBlock2d(nn.Module):
    """DropBlock (Ghiasi et al., 2018): zero square blocks of a feature map in train mode, rescale the rest."""

    def __init__(self, drop_prob: float = 0.1, block_size: int = 3) -> None:
        super().__init__()
        self.drop_prob, self.block_size = drop_prob, block_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.drop_prob == 0:
            return x
        gamma = self.drop_prob / self.block_size**2
        seeds = torch.bernoulli(torch.full_like(x, gamma))
        mask = 1 - F.max_pool2d(seeds, self.block_size, stride=1, padding=self.block_size // 2)
        return x * mask * mask.numel() / mask.sum().clamp(min=1)


class ResidualBlock(nn.Module):
    """conv -> norm -> ReLU -> conv -> norm, plus the input, with the branch passed through ``drop``."""

    def __init__(self, channels: int, norm: Callable[[int], nn.Module], drop: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1, self.norm1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False), norm(channels)
        self.conv2, self.norm2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False), norm(channels)
        self.drop = drop or nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch = self.norm2(self.conv2(F.relu(self.norm1(self.conv1(x)))))
        return F.relu(x + self.drop(branch))


class SmallResNet(nn.Module):
    """A 28x28 digit classifier: a stem, two residual blocks, global average pooling, a linear head."""

    def __init__(
        self,
        norm: Callable[[int], nn.Module] = nn.BatchNorm2d,
        drop: Callable[[], nn.Module] | None = None,
        channels: int = 8,
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, channels, 3, stride=2, padding=1, bias=False), norm(channels), nn.ReLU())
        self.blocks = nn.Sequential(*(ResidualBlock(channels, norm, drop() if drop else None) for _ in range(2)))
        self.head = nn.Linear(channels, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)).mean((2, 3)))


# ----------------------------------------------------------------------------------------- models


def StochasticDepthNet() -> nn.Module:
    """torchvision's StochasticDepth (row mode, p = 0.2) on each residual branch."""
    return SmallResNet(drop=lambda: StochasticDepth(0.2, "row"))


def DropPathNet() -> nn.Module:
    """A drop-path module with a drop_prob attribute on each residual branch."""
    return SmallResNet(drop=lambda: DropPath(0.2))


def ScaledDropPathNet() -> nn.Module:
    """Broken: the drop-path above with the old convention, scaling by (1 - p) in eval."""
    return SmallResNet(drop=lambda: ScaledDropPath(0.2))


def DropBlockNet() -> nn.Module:
    """DropBlock on each residual branch."""
    return SmallResNet(drop=lambda: DropBlock2d(0.2, 3))


def GroupNormNet() -> nn.Module:
    """GroupNorm (2 groups) instead of BatchNorm: every statistic from one sample, in train mode too."""
    return SmallResNet(norm=lambda c: nn.GroupNorm(2, c))


def BatchStatsInEvalNet() -> nn.Module:
    """Broken: BatchNorm with track_running_stats=False normalizes with the batch's statistics in eval too."""
    return SmallResNet(norm=lambda c: nn.BatchNorm2d(c, track_running_stats=False))


class SpectralNormNet(nn.Module):
    """An MLP whose hidden layer is spectrally normalized (torch.nn.utils.parametrizations.spectral_norm)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.utils.parametrizations.spectral_norm(nn.Linear(784, 64))
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class SegmentationNet(nn.Module):
    """A per-pixel classifier: (N, 1, 28, 28) images to (N, 3, 28, 28) logits."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.GroupNorm(2, 8), nn.ReLU(), nn.Conv2d(8, 3, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


# ------------------------------------------------------------------------------------------ losses


class DiceLoss(nn.Module):
    """Soft Dice over (N, C, H, W) logits and (N, H, W) class indices: 1 - mean over classes of 2|A.B| / (|A| + |B|)."""

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        probs = logits.softmax(1)
        onehot = F.one_hot(target, logits.shape[1]).movedim(-1, 1).to(probs)
        overlap = (probs * onehot).sum((0, 2, 3))
        return 1 - (2 * overlap / (probs.sum((0, 2, 3)) + onehot.sum((0, 2, 3))).clamp(min=1e-8)).mean()


def dice_l2_loss(model: nn.Module, lam: float = 1e-4) -> PenaltyLoss:
    """Soft Dice plus lambda times the L2 penalty, built from the model alone (the Dice part is the base criterion)."""
    return PenaltyLoss(
        DiceLoss(), [PenaltyTerm("l2", lam, squared_l2_norm, [p for _, p in penalized_parameters(model)])]
    )


# Every verdict that is not a plain pass, per model; the rest of the model invariants pass.
EXPECTED: dict[str, dict[str, str]] = {
    "StochasticDepthNet": {
        "dropout_train_statistics": "not_applicable",
        "batch_independent_in_train": "not_applicable",
        "batchnorm_rejects_batch_of_one": "not_applicable",
    },
    "DropPathNet": {
        "dropout_train_statistics": "not_applicable",
        "batch_independent_in_train": "not_applicable",
        "batchnorm_rejects_batch_of_one": "not_applicable",
    },
    "ScaledDropPathNet": {
        "dropout_identity_in_eval": "failed",
        "dropout_train_statistics": "not_applicable",
        "batch_independent_in_train": "not_applicable",
        "batchnorm_rejects_batch_of_one": "not_applicable",
    },
    "DropBlockNet": {
        "dropout_train_statistics": "not_applicable",
        "batch_independent_in_train": "not_applicable",
        "batchnorm_rejects_batch_of_one": "not_applicable",
    },
    "GroupNormNet": {
        "dropout_identity_in_eval": "not_applicable",
        "dropout_train_statistics": "not_applicable",
        "batchnorm_tracks_running_stats": "not_applicable",
        "batchnorm_rejects_batch_of_one": "not_applicable",
    },
    "BatchStatsInEvalNet": {
        "dropout_identity_in_eval": "not_applicable",
        "dropout_train_statistics": "not_applicable",
        "batch_independent_in_eval": "failed",
        "batch_independent_in_train": "not_applicable",
        "batchnorm_tracks_running_stats": "failed",
        "batchnorm_rejects_batch_of_one": "not_applicable",
    },
    "SpectralNormNet": {
        "dropout_identity_in_eval": "not_applicable",
        "dropout_train_statistics": "not_applicable",
        "batch_independent_in_train": "not_applicable",
        "batchnorm_tracks_running_stats": "not_applicable",
        "batchnorm_rejects_batch_of_one": "not_applicable",
    },
}
