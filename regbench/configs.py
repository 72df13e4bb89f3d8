"""The named configurations of the regularization matrix, as plain data.

Each ``Config`` says which model, which penalty and which augmentation one run uses; the
builders turn it into objects. Lambdas follow the notebook: 1e-4 for L1, 1e-3 for L2 (the
notebook's mixed-loss value, ten times its Ridge default, which it shows changes little).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Optional

from torch import nn

from regbench import augment, losses, models

__all__ = ["CONFIGS", "Config", "select_configs"]


@dataclass(frozen=True)
class Config:
    """One cell of the matrix: model variant x penalty x augmentation."""

    name: str
    description: str
    model: str = "plain"  # plain | dropout | batchnorm
    penalty: str = "none"  # none | l1 | l2 | elasticnet | mixed
    l1_lambda: float = 1e-4  # the notebook's LassoLoss default
    l2_lambda: float = 1e-3  # the notebook's MixedL1L2Loss value for Ridge
    dropout: float = 0.2  # the notebook's FullyConnected_dropout default
    augment: str = "none"  # none | digits (rotation + crop) | notebook (flip + rotation + crop)

    def build_model(self, input_size: int = 784, hidden_size: int = 500, output_size: int = 10) -> nn.Module:
        """A freshly initialized model (call after seeding for a repeatable run)."""
        if self.model == "dropout":
            return models.FullyConnectedDropout(input_size, hidden_size, output_size, dropout_prob=self.dropout)
        return _MODELS[self.model](input_size, hidden_size, output_size)

    def build_loss(self, model: nn.Module) -> nn.Module:
        """Cross-entropy, plus this config's penalty on ``model``'s weights."""
        base = nn.CrossEntropyLoss()
        if self.penalty == "none":
            return base
        if self.penalty == "l1":
            return losses.LassoLoss(base, model, self.l1_lambda)
        if self.penalty == "l2":
            return losses.RidgeLoss(base, model, self.l2_lambda)
        if self.penalty == "elasticnet":
            return losses.ElasticNetLoss(base, model, self.l1_lambda, self.l2_lambda)
        return losses.MixedL1L2Loss(base, model, self.l1_lambda, self.l2_lambda)

    def train_transform(self) -> Optional[Callable]:
        """The PIL-image augmentation for training (the notebook engine), or None for none."""
        return _AUGMENTS[self.augment]

    def batch_transform(self) -> Optional[augment.BatchAugment]:
        """The same augmentation on tensor batches (the fast engine), or None for none."""
        return None if self.augment == "none" else augment.BatchAugment(flip=self.augment == "notebook")

    def as_dict(self) -> dict:
        """Every setting, for results files."""
        return asdict(self)


_MODELS = {"plain": models.FullyConnected, "batchnorm": models.FullyConnectedBatchNorm}
_AUGMENTS = {
    "none": None,
    "digits": augment.digit_train_transform(),
    "notebook": augment.notebook_train_transform(),
}

CONFIGS: dict[str, Config] = {
    c.name: c
    for c in [
        Config("baseline", "no regularization"),
        Config("l1", "Lasso penalty, lambda 1e-4", penalty="l1"),
        Config("l2", "Ridge penalty, lambda 1e-3", penalty="l2"),
        Config("mixed", "Ridge on linear_1, Lasso on linear_2 (the notebook's exercise)", penalty="mixed"),
        Config("elasticnet", "Lasso 1e-4 + Ridge 1e-3 on all weights", penalty="elasticnet"),
        Config("dropout", "dropout p=0.2 after the ReLU", model="dropout"),
        Config("batchnorm", "BatchNorm1d before the ReLU", model="batchnorm"),
        Config("augment", "rotation +-10 deg and crop (label-preserving)", augment="digits"),
        Config("augment-flip", "the notebook's flip + rotation + crop (a flip changes digits)", augment="notebook"),
    ]
}


def select_configs(names: str | None) -> list[Config]:
    """Configs from a comma-separated list (None or 'all' for every one), in the order given."""
    if names is None or names.strip() == "all":
        return list(CONFIGS.values())
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in CONFIGS]
    if unknown or not chosen:
        raise ValueError(f"unknown configuration(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(CONFIGS)}")
    return [CONFIGS[n] for n in dict.fromkeys(chosen)]
