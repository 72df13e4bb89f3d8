"""The notebook's architectures, exactly: layer order, which layers have biases, sizes."""

import pytest
import torch
from torch import nn

from regbench.models import FullyConnected, FullyConnectedBatchNorm, FullyConnectedDropout


@pytest.mark.parametrize("cls", [FullyConnected, FullyConnectedDropout, FullyConnectedBatchNorm])
def test_default_sizes_and_no_bias_on_the_output_layer(cls):
    """784-500-10 by default; the second Linear has no bias, as in the notebook."""
    model = cls()
    assert (model.linear_1.in_features, model.linear_1.out_features) == (784, 500)
    assert (model.linear_2.in_features, model.linear_2.out_features) == (500, 10)
    assert model.linear_1.bias is not None and model.linear_2.bias is None
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)


def test_sizes_are_arguments():
    """Input, hidden and output sizes come from the constructor."""
    model = FullyConnectedBatchNorm(12, 7, 3)
    assert model(torch.rand(5, 12)).shape == (5, 3)
    assert model.bn_1.num_features == 7


def test_plain_model_matches_the_notebook_formula():
    """linear_2(relu(linear_1(x)))."""
    torch.manual_seed(0)
    model = FullyConnected(6, 4, 2)
    x = torch.randn(3, 6)
    expected = model.linear_2(torch.relu(model.linear_1(x)))
    torch.testing.assert_close(model(x), expected)


def test_dropout_sits_after_the_relu():
    """With dropout p -> outputs are linear_2(dropout(relu(linear_1 x))) under the same RNG state."""
    model = FullyConnectedDropout(6, 50, 2, dropout_prob=0.5).train()
    x = torch.randn(4, 6)
    torch.manual_seed(1)
    got = model(x)
    torch.manual_seed(1)
    expected = model.linear_2(nn.functional.dropout(torch.relu(model.linear_1(x)), 0.5, training=True))
    torch.testing.assert_close(got, expected)
    assert torch.equal(model.eval()(x), model.linear_2(torch.relu(model.linear_1(x))))


def test_batchnorm_sits_before_the_relu():
    """relu(bn(linear_1 x)) in eval mode, with the running statistics."""
    model = FullyConnectedBatchNorm(6, 4, 2)
    model.bn_1.running_mean.uniform_(-1, 1)
    model.bn_1.running_var.uniform_(0.5, 2)
    model.eval()
    x = torch.randn(3, 6)
    expected = model.linear_2(torch.relu(model.bn_1(model.linear_1(x))))
    torch.testing.assert_close(model(x), expected)


def test_batchnorm_refuses_a_single_sample_in_train_mode():
    """Batch variance of one sample is undefined: a clear error, and eval mode still works."""
    model = FullyConnectedBatchNorm()
    with pytest.raises(ValueError, match="at least 2 samples"):
        model.train()(torch.rand(1, 1, 28, 28))
    assert model.eval()(torch.rand(1, 1, 28, 28)).shape == (1, 10)


@pytest.mark.parametrize("kwargs", [{"hidden_size": 0}, {"input_size": -1}, {"output_size": 2.5}])
def test_bad_sizes_name_the_argument(kwargs):
    """A zero or fractional width is refused with the argument's name."""
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        FullyConnected(**kwargs)


@pytest.mark.parametrize("p", [-0.1, 1.0, float("nan")])
def test_bad_dropout_probability(p):
    """p must be in [0, 1): p = 1 would zero every activation."""
    with pytest.raises(ValueError, match="dropout_prob"):
        FullyConnectedDropout(dropout_prob=p)


@pytest.mark.parametrize("cls", [FullyConnected, FullyConnectedDropout, FullyConnectedBatchNorm])
@pytest.mark.parametrize("shape", [(4, 1, 14, 14), (784,), (2, 785)])
def test_mis_sized_samples_are_refused_not_rebatched(cls, shape):
    """Four 14x14 images must not become one 784-pixel sample: the error names input_size and the shape."""
    with pytest.raises(ValueError, match=r"input_size=784.*got shape"):
        cls().eval()(torch.zeros(shape))
