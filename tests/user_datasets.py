"""Datasets a user might write, good and broken, for the tests of regbench.datasets (found as
tests.user_datasets:NAME).
"""

import torch
from torch.utils.data import TensorDataset

from regbench.configs import CONFIGS
from regbench.datasets import Dataset


def _blobs(n: int, *, seed: int, classes: int = 3, features: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian clusters: easy, but not trivially, separable feature vectors."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % classes
    centres = torch.randn(classes, features, generator=torch.Generator().manual_seed(99)) * 2
    return centres[labels] + torch.randn(n, features, generator=g), labels


def pairs():
    """(train, test) as (inputs, labels) tensor pairs: feature vectors."""
    return _blobs(60, seed=0), _blobs(30, seed=1)


def torch_datasets():
    """(train, test) as torch Datasets of 3-channel 8x12 float images in [0, 1]."""
    g = torch.Generator().manual_seed(0)
    make = lambda n: TensorDataset(torch.rand(n, 3, 8, 12, generator=g), torch.arange(n) % 2)  # noqa: E731
    return make(20), make(10)


MINE = Dataset(name="mine", load=pairs, description="three Gaussian blobs in six dimensions")


def nan_features():
    (x, y), test = pairs()
    x[3, 2] = float("nan")
    return (x, y), test


def labels_out_of_range():
    (x, y), (tx, ty) = pairs()
    return (x, y), (tx, ty - 1)


def no_training_sample_for_a_class():
    (x, y), test = pairs()
    return (x[y != 1], y[y != 1]), test


def shapes_differ():
    (x, y), (tx, ty) = pairs()
    return (x, y), (tx[:, :4], ty)


def float_labels():
    (x, y), test = pairs()
    return (x, y.float() + 0.5), test


def not_a_pair():
    return "train.csv"


L2 = CONFIGS["l2"]  # a config, for regbench check --dataset
