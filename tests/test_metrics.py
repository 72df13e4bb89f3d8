"""Weight and gap metrics against hand computation on a model whose weights we set."""

import numpy as np
import pytest
import torch

from regbench.metrics import generalization_gap, mean_abs_weight, penalized_weights, sparsity, weight_histogram
from regbench.models import FullyConnectedBatchNorm


@pytest.fixture
def model():
    """linear_1 weights all 0.01 except 4 zeros; linear_2 weights all -0.5; biases huge (must be ignored)."""
    m = FullyConnectedBatchNorm(4, 3, 2)
    with torch.no_grad():
        m.linear_1.weight.fill_(0.01)
        m.linear_1.weight[0] = 0.0
        m.linear_2.weight.fill_(-0.5)
        m.linear_1.bias.fill_(100.0)
        m.bn_1.weight.fill_(100.0)
    return m


def test_gap_is_train_minus_test():
    """Positive accuracy gap means the model does better on data it saw."""
    assert generalization_gap(train_accuracy=0.99, test_accuracy=0.9, train_loss=0.1, test_loss=0.4) == pytest.approx(
        {"accuracy": 0.09, "loss": -0.3}
    )


def test_weight_metrics_ignore_biases_and_batchnorm(model):
    """Only the two weight matrices (12 + 6 weights) count."""
    assert len(penalized_weights(model)) == 18
    means = mean_abs_weight(model)
    assert means["linear_1.weight"] == pytest.approx(0.01 * 8 / 12)
    assert means["linear_2.weight"] == pytest.approx(0.5)
    assert means["all"] == pytest.approx((0.08 + 3.0) / 18)


def test_sparsity_counts_weights_below_the_threshold(model):
    """4 exact zeros of 18; at threshold 0.02 the 0.01s count too."""
    assert sparsity(model) == pytest.approx(4 / 18)
    assert sparsity(model, threshold=0.02) == pytest.approx(12 / 18)
    with pytest.raises(ValueError, match="threshold"):
        sparsity(model, threshold=0)


def test_histogram_is_a_density_over_all_weights(model):
    """Density integrates to the fraction inside the range; weights outside are counted."""
    h = weight_histogram(model, bins=10, value_range=(-0.1, 0.1))
    width = np.diff(h["edges"])
    assert h["outside_range"] == 6
    assert float(np.sum(np.asarray(h["density"]) * width)) == pytest.approx(12 / 18)
    assert h["mean_abs"] == pytest.approx(mean_abs_weight(model)["all"])


def test_penalty_leak_is_zero_for_regbench_losses_and_not_for_a_bias_penalty(model):
    """The gradient of a correct penalty on biases and BatchNorm's parameters is exactly 0."""
    from torch import nn

    from regbench.losses import ElasticNetLoss, PenaltyLoss, PenaltyTerm, squared_l2_norm
    from regbench.metrics import penalty_leak

    assert penalty_leak(ElasticNetLoss(nn.CrossEntropyLoss(), model, 0.1, 0.1), model) == 0.0
    assert penalty_leak(nn.CrossEntropyLoss(), model) == 0.0
    leaky = PenaltyLoss(nn.CrossEntropyLoss(), [PenaltyTerm("l2", 0.5, squared_l2_norm, list(model.parameters()))])
    assert penalty_leak(leaky, model) == pytest.approx(2 * 0.5 * 100.0)  # d(0.5 b^2)/db at b = 100


def test_eval_nondeterminism_is_zero_unless_randomness_acts_in_eval():
    """Two eval passes agree exactly; a model that keeps dropout on in eval does not."""
    import torch.nn.functional as F

    from regbench.metrics import eval_nondeterminism
    from regbench.models import FullyConnectedDropout

    model = FullyConnectedDropout(6, 50, 3, dropout_prob=0.5).train()
    x = torch.randn(8, 6)
    assert eval_nondeterminism(model, x) == 0.0 and model.training

    class Leaky(FullyConnectedDropout):
        def hidden(self, x):
            return F.dropout(F.relu(self.linear_1(self.flatten(x))), 0.5, training=True)

    assert eval_nondeterminism(Leaky(6, 50, 3), x) > 0
