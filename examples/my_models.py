"""A user's own components, one correct and one broken of each kind, as `regbench check` sees them.

From the repository root:

    regbench check examples.my_models:MyNet examples.my_models:LeakyDropoutNet examples.my_models:BatchStatsNet
    regbench check examples.my_models:MyL2Loss examples.my_models:L2OnEverything --model examples.my_models:MyNet
    regbench check examples.my_models:my_augment examples.my_models:mirror_augment

and in a test file, one pytest test per invariant (see examples/test_my_models.py).
Each broken component carries one bug that regbench names; tests/test_checks.py holds it to that.
"""

import torch
import torch.nn.functional as F
from torch import nn
from torchvision import transforms

# ----------------------------------------------------------------------------------------- models


class MyNet(nn.Module):
    """Correct: Linear -> BatchNorm1d -> ReLU -> Dropout -> Linear on flattened 28x28 images."""

    def __init__(self, hidden: int = 64, dropout: float = 0.2) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, hidden)
        self.bn = nn.BatchNorm1d(hidden)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, 10)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.fc1(x.flatten(1))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dropout(self.hidden(x)))


class LeakyDropoutNet(MyNet):
    """Broken: dropout hard-wired to training=True, so it keeps dropping units in eval mode."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.dropout(self.hidden(x), self.dropout.p, training=True))


class BatchStatsNet(MyNet):
    """Broken: BatchNorm normalizes with the batch's own statistics in eval mode too."""

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        bn = self.bn
        z = F.batch_norm(self.fc1(x.flatten(1)), bn.running_mean, bn.running_var, bn.weight, bn.bias, training=True)
        return F.relu(z)


class ColourNet(nn.Module):
    """Correct, on 3x8x8 colour images: none of the notebook's input shapes fits, so say --input-shape 3,8,8."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn, self.fc = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(4 * 6 * 6, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(F.relu(self.bn(self.conv(x))).flatten(1))


# ----------------------------------------------------------------------------------------- losses


class MyL2Loss(nn.Module):
    """Correct, in the notebook's convention Loss(base_criterion, model, lam): base + lam * sum W**2 over weight
    matrices.
    """

    def __init__(self, base_criterion: nn.Module, model: nn.Module, lam: float = 1e-3) -> None:
        super().__init__()
        self.base, self.lam = base_criterion, lam
        self.weights = [p for p in self.penalized(model)]

    @staticmethod
    def penalized(model: nn.Module) -> list[nn.Parameter]:
        return [p for p in model.parameters() if p.ndim > 1]

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.base(outputs, targets) + self.lam * sum(w.square().sum() for w in self.weights)


class L2OnEverything(MyL2Loss):
    """Broken: decays every parameter, biases and BatchNorm's scale and shift included."""

    @staticmethod
    def penalized(model: nn.Module) -> list[nn.Parameter]:
        return list(model.parameters())


# ------------------------------------------------------------------------------------- transforms

# Correct: a small rotation keeps a digit's label.
my_augment = transforms.Compose([transforms.RandomRotation(10), transforms.ToTensor()])

# Broken: a mirrored 2, 3, 4 or 7 is no longer that digit.
mirror_augment = transforms.Compose([transforms.RandomHorizontalFlip(p=1.0), transforms.ToTensor()])
