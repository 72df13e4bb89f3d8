"""Penalty losses against hand computation with the notebook's formulas, and their bad inputs."""

import pytest
import torch
from torch import nn

from regbench.losses import (
    ElasticNetLoss,
    LassoLoss,
    MixedL1L2Loss,
    PenaltyLoss,
    RidgeLoss,
    loss_parts,
    penalized_parameters,
)
from regbench.models import FullyConnected, FullyConnectedBatchNorm


@pytest.fixture
def model():
    torch.manual_seed(0)
    return FullyConnectedBatchNorm(8, 5, 3)


@pytest.fixture
def batch():
    torch.manual_seed(1)
    return torch.randn(4, 3), torch.tensor([0, 2, 1, 2])


def test_penalized_parameters_are_the_weight_matrices_only(model):
    """Biases and BatchNorm's 1-D affine parameters are excluded; frozen weights too."""
    assert [n for n, _ in penalized_parameters(model)] == ["linear_1.weight", "linear_2.weight"]
    model.linear_2.weight.requires_grad_(False)
    assert [n for n, _ in penalized_parameters(model)] == ["linear_1.weight"]


def test_lasso_and_ridge_add_the_notebook_penalties(model, batch):
    """base + lambda*sum|W| and base + lambda*sum W**2 over linear_1.weight and linear_2.weight."""
    outputs, targets = batch
    ce = nn.CrossEntropyLoss()
    w1, w2 = model.linear_1.weight, model.linear_2.weight
    base = ce(outputs, targets)
    torch.testing.assert_close(
        LassoLoss(ce, model, 0.01)(outputs, targets), base + 0.01 * (w1.abs().sum() + w2.abs().sum())
    )
    torch.testing.assert_close(
        RidgeLoss(ce, model, 0.02)(outputs, targets), base + 0.02 * (w1.square().sum() + w2.square().sum())
    )
    torch.testing.assert_close(
        ElasticNetLoss(ce, model, 0.01, 0.02)(outputs, targets),
        base + 0.01 * (w1.abs().sum() + w2.abs().sum()) + 0.02 * (w1.square().sum() + w2.square().sum()),
    )


def test_mixed_defaults_to_ridge_on_the_first_layer_and_lasso_on_the_second(model, batch):
    """The notebook's exercise: Ridge (l2_lambda) on linear_1, Lasso (l1_lambda) on linear_2."""
    outputs, targets = batch
    ce = nn.CrossEntropyLoss()
    loss = MixedL1L2Loss(ce, model, l1_lambda=1e-4, l2_lambda=1e-3)
    expected = (
        ce(outputs, targets) + 1e-3 * model.linear_1.weight.square().sum() + 1e-4 * model.linear_2.weight.abs().sum()
    )
    torch.testing.assert_close(loss(outputs, targets), expected)
    swapped = MixedL1L2Loss(ce, model, 0.1, 0.2, l1_layers=["linear_1"], l2_layers=["linear_2"])
    torch.testing.assert_close(
        swapped.penalty(), 0.1 * model.linear_1.weight.abs().sum() + 0.2 * model.linear_2.weight.square().sum()
    )


def test_parts_separate_base_and_penalty(model, batch):
    """parts().total is forward(); the penalty does not depend on the batch."""
    outputs, targets = batch
    loss = LassoLoss(nn.CrossEntropyLoss(), model, 0.5)
    parts = loss.parts(outputs, targets)
    torch.testing.assert_close(parts.base, nn.functional.cross_entropy(outputs, targets))
    torch.testing.assert_close(parts.total, loss(outputs, targets))
    torch.testing.assert_close(parts.penalty, loss.parts(outputs[:2], targets[:2]).penalty)


def test_loss_parts_of_a_plain_criterion_has_zero_penalty(batch):
    """A criterion without a penalty is all base."""
    parts = loss_parts(nn.CrossEntropyLoss(), *batch)
    assert float(parts.penalty) == 0.0 and parts.total == parts.base


def test_penalty_follows_the_weights_as_they_train(batch):
    """The loss holds the parameters themselves, not a copy: an update changes the penalty."""
    model = FullyConnected(8, 5, 3)
    loss = RidgeLoss(nn.CrossEntropyLoss(), model, 1.0)
    before = float(loss.penalty().detach())
    with torch.no_grad():
        model.linear_1.weight.mul_(2)
    assert float(loss.penalty().detach()) > before


@pytest.mark.parametrize("lam", [-1e-4, float("nan"), float("inf"), "0.1", None, True])
@pytest.mark.parametrize("cls", [LassoLoss, RidgeLoss])
def test_bad_lambda_is_refused(cls, lam, model):
    """Negative, NaN, infinite or non-numeric lambdas raise ValueError naming lambda."""
    with pytest.raises(ValueError, match="lambda"):
        cls(nn.CrossEntropyLoss(), model, lam)


def test_unknown_layer_names_the_layers_that_exist(model):
    """A typo in a layer name is an error that lists the real names."""
    with pytest.raises(ValueError, match=r"layer 'linear_3' does not exist.*linear_1"):
        MixedL1L2Loss(nn.CrossEntropyLoss(), model, l1_layers=["linear_3"])


def test_layer_without_weights_and_string_layers_are_refused(model):
    """bn_1 has only 1-D parameters; a bare string is not a list of layers."""
    with pytest.raises(ValueError, match="no penalizable weight"):
        MixedL1L2Loss(nn.CrossEntropyLoss(), model, l1_layers=["bn_1"])
    with pytest.raises(ValueError, match="list of layer names"):
        MixedL1L2Loss(nn.CrossEntropyLoss(), model, l1_layers="linear_2")


def test_model_with_nothing_to_penalize():
    """A model of biases only, or fully frozen, has nothing for a penalty to act on."""
    with pytest.raises(ValueError, match="no parameters to act on"):
        LassoLoss(nn.CrossEntropyLoss(), nn.BatchNorm1d(4))
    frozen = FullyConnected(4, 3, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="no parameters to act on"):
        RidgeLoss(nn.CrossEntropyLoss(), frozen)


def test_a_penalty_loss_needs_terms():
    """An empty PenaltyLoss would silently be the base criterion."""
    with pytest.raises(ValueError, match="at least one"):
        PenaltyLoss(nn.CrossEntropyLoss(), [])


def test_repr_says_what_the_loss_does(model):
    """Printing a loss shows its lambdas and how many weights each term covers."""
    text = repr(ElasticNetLoss(nn.CrossEntropyLoss(), model, 1e-4, 1e-3))
    assert "l1=0.0001 over 55 weights" in text and "l2=0.001 over 55 weights" in text


def test_layers_are_penalized_once_however_often_named(model):
    """A layer named twice, or in a list built by concatenation, is still penalized once."""
    ce = nn.CrossEntropyLoss()
    once = MixedL1L2Loss(ce, model, 0.1, 0.2, l1_layers=["linear_1"], l2_layers=["linear_2"])
    twice = MixedL1L2Loss(ce, model, 0.1, 0.2, l1_layers=["linear_1", "linear_1"], l2_layers=["linear_2"] * 3)
    torch.testing.assert_close(twice.penalty(), once.penalty())


def test_one_sided_mixed_loss_and_empty_lists(model):
    """An empty list means no penalty of that kind; both empty is refused."""
    ridge_only = MixedL1L2Loss(nn.CrossEntropyLoss(), model, l1_layers=[], l2_layers=["linear_1"])
    assert [t.name for t in ridge_only.terms] == ["l2"]
    with pytest.raises(ValueError, match="at least one layer"):
        MixedL1L2Loss(nn.CrossEntropyLoss(), model, l1_layers=[], l2_layers=[])


def test_any_real_scalar_is_a_lambda(model):
    """NumPy floats and 0-d tensors are accepted and stored as Python floats."""
    import numpy as np

    assert LassoLoss(nn.CrossEntropyLoss(), model, np.float32(0.5)).terms[0].lam == 0.5
    assert RidgeLoss(nn.CrossEntropyLoss(), model, torch.tensor(0.25)).terms[0].lam == 0.25


def test_weight_decay_groups_follow_the_penalty_rule():
    """An optimizer's weight decay gets the penalized weights; biases and BatchNorm's 1-D parameters go in a group
    without decay.
    """
    from regbench.losses import weight_decay_groups

    model = FullyConnectedBatchNorm(4, 3, 2)
    decayed, undecayed = weight_decay_groups(model)
    assert [p.shape for p in decayed["params"]] == [(3, 4), (2, 3)] and "weight_decay" not in decayed
    assert undecayed["weight_decay"] == 0.0 and sorted(p.ndim for p in undecayed["params"]) == [1, 1, 1]
    no_bias = nn.Linear(2, 2, bias=False)
    assert (
        len(weight_decay_groups(no_bias)) == 1 and weight_decay_groups(no_bias)[0]["params"][0] is no_bias.weight
    )  # no empty group
