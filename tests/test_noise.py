"""Gaussian input noise: FullyConnectedNoise's sizes, where its noise sits, and the std it refuses (its laws:
properties/test_noise.py).
"""

import pytest
import torch

from regbench.models import FullyConnectedNoise
from regbench.noise import GaussianNoise, gaussian_noise


def test_sized_from_the_data():
    """input_shape and num_classes size the model as for the other MLPs: 30-500-2 on breast-cancer's features."""
    model = FullyConnectedNoise(input_shape=(30,), num_classes=2)
    assert (model.linear_1.in_features, model.linear_1.out_features) == (30, 500)
    assert (model.linear_2.in_features, model.linear_2.out_features) == (500, 2)
    assert model.noise.std == 0.1 and "std=0.1" in repr(model)
    assert model(torch.randn(4, 30)).shape == (4, 2)


def test_noise_sits_on_the_inputs():
    """Train mode is linear_2(relu(linear_1(x + std * z))) with z drawn from torch's global RNG."""
    model = FullyConnectedNoise(6, 8, 2, noise_std=0.5).train()
    x = torch.randn(3, 6)
    torch.manual_seed(0)
    out = model(x)
    torch.manual_seed(0)
    expected = model.linear_2(torch.relu(model.linear_1(x + 0.5 * torch.randn_like(x))))
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_negative_or_non_finite_std_is_refused(bad):
    """A std with no Gaussian behind it is a ValueError naming std, from the model, the module and the function."""
    with pytest.raises(ValueError, match="std"):
        FullyConnectedNoise(input_shape=(30,), num_classes=2, noise_std=bad)
    with pytest.raises(ValueError, match="std"):
        GaussianNoise(bad)
    with pytest.raises(ValueError, match="std"):
        gaussian_noise(torch.zeros(2), bad, training=False)
