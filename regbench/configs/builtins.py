"""The built-in matrix: the notebook's nine regularizers, and beside them the ones most models ship with today.

The built-ins are written with the same public API a user has. Lambdas follow the notebook:
1e-4 for L1, 1e-3 for L2 (the notebook's mixed-loss value, ten times its Ridge default, which
it shows changes little). Beside the notebook's nine come decoupled weight decay (AdamW, on the
penalized weights only), label smoothing, input noise and early stopping on a split of the
training data.
"""

from __future__ import annotations

import torch

from regbench import augment, losses, models
from regbench.configs.config import Config
from regbench.stopping import EarlyStopping

__all__ = ["BUILTINS", "CONFIGS"]

BUILTINS: tuple[Config, ...] = (
    Config(name="baseline", description="no regularization", model=models.FullyConnected),
    Config(
        name="l1",
        description="Lasso penalty, lambda 1e-4",
        model=models.FullyConnected,
        loss=losses.LassoLoss,
        loss_args={"l1_lambda": 1e-4},
    ),
    Config(
        name="l2",
        description="Ridge penalty, lambda 1e-3",
        model=models.FullyConnected,
        loss=losses.RidgeLoss,
        loss_args={"l2_lambda": 1e-3},
    ),
    Config(
        name="mixed",
        description="Ridge on linear_1, Lasso on linear_2 (the notebook's exercise)",
        model=models.FullyConnected,
        loss=losses.MixedL1L2Loss,
        loss_args={"l1_lambda": 1e-4, "l2_lambda": 1e-3, "l1_layers": ["linear_2"], "l2_layers": ["linear_1"]},
    ),
    Config(
        name="elasticnet",
        description="Lasso 1e-4 + Ridge 1e-3 on all weights",
        model=models.FullyConnected,
        loss=losses.ElasticNetLoss,
        loss_args={"l1_lambda": 1e-4, "l2_lambda": 1e-3},
    ),
    Config(
        name="dropout",
        description="dropout p=0.2 after the ReLU",
        model=models.FullyConnectedDropout,
        model_args={"dropout_prob": 0.2},
    ),
    Config(name="batchnorm", description="BatchNorm1d before the ReLU", model=models.FullyConnectedBatchNorm),
    Config(
        name="augment",
        description="rotation +-10 deg and crop (label-preserving)",
        model=models.FullyConnected,
        augment=augment.BatchAugment,
        augment_args={"flip": False},
        transform=augment.digit_train_transform,
    ),
    Config(
        name="augment-flip",
        description="the notebook's flip + rotation + crop (a flip changes digits)",
        model=models.FullyConnected,
        augment=augment.BatchAugment,
        augment_args={"flip": True},
        transform=augment.notebook_train_transform,
    ),
    # The regularizers most models ship with today, beside the notebook's:
    # weight_decay 1: at lr 1e-3 over a default run's steps, lr * wd * steps is of order one, enough decay to show
    # in the weights; torch's default 0.01 is a hundred times weaker
    Config(
        name="adamw",
        description="AdamW: decoupled weight decay 1.0 on the weights, none on biases",
        model=models.FullyConnected,
        optimizer=torch.optim.AdamW,
        optimizer_args={"weight_decay": 1.0},
    ),
    Config(
        name="label-smoothing",
        description="cross-entropy with label smoothing 0.1",
        model=models.FullyConnected,
        criterion_args={"label_smoothing": 0.1},
    ),
    # noise_std 0.1: a tenth of a standardized feature's spread (models.FullyConnectedNoise)
    Config(
        name="noise",
        description="Gaussian input noise, std 0.1, in training only",
        model=models.FullyConnectedNoise,
        model_args={"noise_std": 0.1},
    ),
    Config(
        name="early-stopping",
        description="early stopping: patience 3 on the loss of 10% of the training images, held out",
        model=models.FullyConnected,
        stopping=EarlyStopping,
        stopping_args={"patience": 3, "validation_fraction": 0.1},
    ),
)
CONFIGS: dict[str, Config] = {c.name: c for c in BUILTINS}
