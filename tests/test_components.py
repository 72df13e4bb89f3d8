"""regbench.checks.components and what it lets the checks see: stock dropout-like modules, normalizations,
parametrized weights, loss shapes.
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import StochasticDepth

from examples import stock_components as stock
from regbench import checks
from regbench.checks import CheckUsageError, components
from regbench.losses import LassoLoss, PenaltyLoss, PenaltyTerm, RidgeLoss, penalized_parameters, squared_l2_norm

FEW = 10  # Hypothesis examples per invariant: enough for every bug below, and few enough for a quick file


def statuses(report: checks.Report) -> dict[str, str]:
    return {r.invariant: r.status.value for r in report.results}


@pytest.mark.parametrize("name", sorted(stock.EXPECTED))
def test_stock_models_get_their_expected_verdicts(name):
    """examples/stock_components.py: every verdict as EXPECTED says; every invariant it does not name passes."""
    report = checks.check_model(getattr(stock, name), max_examples=FEW)
    expected = {invariant: stock.EXPECTED[name].get(invariant, "passed") for invariant in checks.INVARIANTS["model"]}
    assert statuses(report) == expected, report.render()


def test_untracked_batchnorm_is_named_with_the_fix():
    """track_running_stats=False: the report names the modules and says to keep running statistics."""
    result = checks.check_model(stock.BatchStatsInEvalNet, max_examples=FEW)["batchnorm_tracks_running_stats"]
    assert "stem.1" in result.observed and "track_running_stats=True" in result.explanation


def run_on(x: torch.Tensor):
    return lambda model: model(x)


@pytest.mark.parametrize(
    "module, attribute",
    [
        (StochasticDepth(0.3, "row"), "p"),
        (stock.DropPath(0.3), "drop_prob"),
        (stock.DropBlock2d(0.3, 3), "drop_prob"),
        (nn.Dropout2d(0.3), "p"),
    ],
)
def test_dropout_like_modules_are_found_by_their_rate_and_behaviour(module, attribute):
    """A drop rate in (0, 1) that makes train mode random is found, with the attribute to zero."""
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), module)
    found = components.stochastic_modules(model, run_on(torch.rand(2, 1, 8, 8)))
    assert [(s.name, s.attribute, s.rate) for s in found] == [("1", attribute, 0.3)]


class Blend(nn.Module):
    """Deterministic: a fixed mix of the input and its square, with a weight named p."""

    def __init__(self, p: float = 0.3) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (1 - self.p) * x + self.p * x * x


def test_a_rate_attribute_alone_is_not_dropout():
    """A module with p = 0.3 that is not random in train mode is not taken for dropout (and not zeroed)."""
    model = nn.Sequential(nn.Linear(4, 4), Blend(0.3))
    assert components.stochastic_modules(model, run_on(torch.rand(2, 4))) == []
    assert (
        statuses(checks.check_model(lambda: model, input_shape=(4,), max_examples=FEW))["dropout_identity_in_eval"]
        == "not_applicable"
    )


class BatchMeanNorm(nn.LayerNorm):
    """Broken: a "LayerNorm" that in train mode also subtracts the batch mean (statistics over dim 0)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        return out - out.mean(0, keepdim=True) if self.training else out


def test_a_per_sample_norm_that_mixes_the_batch_in_train_mode_fails():
    """batch_independent_in_train is the property a LayerNorm/GroupNorm model adds; it catches statistics over the
    batch.
    """
    good = lambda: nn.Sequential(nn.Linear(784, 32), nn.LayerNorm(32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 10))  # noqa: E731
    bad = lambda: nn.Sequential(nn.Linear(784, 32), BatchMeanNorm(32), nn.ReLU(), nn.Linear(32, 10))  # noqa: E731
    assert statuses(checks.check_model(good, max_examples=FEW))["batch_independent_in_train"] == "passed"
    result = checks.check_model(bad, max_examples=FEW)["batch_independent_in_train"]
    assert result.status is checks.Status.FAILED and "train-mode output alone" in result.observed


def test_a_spectrally_normalized_weight_is_penalized_once():
    """parametrizations.weight.original is the weight the penalty and the bias rule see: once, and the biases never."""
    names = [n for n, _ in penalized_parameters(stock.SpectralNormNet())]
    assert names == ["fc1.parametrizations.weight.original", "fc2.weight"]
    report = checks.check_loss(RidgeLoss, model=stock.SpectralNormNet, max_examples=FEW)
    assert report.ok and statuses(report)["penalty_skips_biases_and_1d"] == "passed", report.render()


def test_asking_the_penalty_rule_leaves_a_spectral_norm_alone():
    """The rule reads the originals, never the parametrized weight: in train mode that would advance the power
    iteration.
    """
    model = stock.SpectralNormNet().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    penalized_parameters(model)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def weight_normed() -> nn.Module:
    """An MLP whose layers are weight-normalized: each weight is magnitude g (original0) times direction v
    (original1).
    """
    weight_norm = nn.utils.parametrizations.weight_norm
    return nn.Sequential(
        nn.Flatten(), weight_norm(nn.Linear(784, 16)), nn.ReLU(), weight_norm(nn.Linear(16, 1)), nn.Flatten(0)
    )


def penalty_on_every_matrix(base: nn.Module, model: nn.Module, lam: float) -> PenaltyLoss:
    """The naive rule (every trainable parameter with ndim > 1), which under weight norm penalizes each weight twice."""
    return PenaltyLoss(base, [PenaltyTerm("l2", lam, squared_l2_norm, [p for p in model.parameters() if p.ndim > 1])])


def test_a_weight_normed_weight_is_penalized_once_through_its_direction():
    """Weight norm splits a weight in two originals: the rule sees it once (v, which holds its entries), never g, a
    per-row scale.
    """
    names = [n for n, _ in penalized_parameters(weight_normed())]
    assert names == ["1.parametrizations.weight.original1", "3.parametrizations.weight.original1"]
    assert checks.check_loss(RidgeLoss, model=weight_normed, targets="binary", max_examples=FEW).ok
    naive = checks.check_loss(penalty_on_every_matrix, model=weight_normed, targets="binary", max_examples=FEW)[
        "penalty_skips_biases_and_1d"
    ]
    assert naive.status is checks.Status.FAILED and "original0" in naive.observed, naive.describe(
        "penalty_on_every_matrix"
    )


@pytest.mark.parametrize("targets", ["classes", "probabilities", "dense", "binary"])
def test_regbench_losses_pass_on_every_target_form(targets):
    """The penalty does not care what the logits are: every form passes, with the matching base criterion."""
    report = checks.check_loss(LassoLoss, targets=targets, max_examples=FEW)
    assert report.ok and targets in report.settings["targets"], report.render()


def lasso_without_abs(base: nn.Module, model: nn.Module, lam: float) -> PenaltyLoss:
    """Broken: sum W instead of sum |W|."""
    weights = [p for _, p in penalized_parameters(model)]
    return PenaltyLoss(base, [PenaltyTerm("l1", lam, lambda ps: torch.stack([p.sum() for p in ps]).sum(), weights)])


def test_a_segmentation_loss_on_a_segmentation_model():
    """(N, C, H, W) logits with a class per pixel, the model's own output shape: Dice + L2 passes, a broken penalty
    still fails.
    """
    report = checks.check_loss(stock.dice_l2_loss, model=stock.SegmentationNet, targets="dense", max_examples=FEW)
    assert report.ok and statuses(report)["penalty_non_negative"] == "passed", report.render()
    broken = checks.check_loss(lasso_without_abs, model=stock.SegmentationNet, targets="dense", max_examples=FEW)
    assert statuses(broken)["penalty_non_negative"] == "failed"


def test_targets_that_do_not_fit_the_model_say_which_would():
    with pytest.raises(CheckUsageError, match=r"\(N, 3, 28, 28\).*pass targets \(--loss-targets\) dense or binary"):
        checks.check_loss(RidgeLoss, model=stock.SegmentationNet, targets="classes")
    with pytest.raises(CheckUsageError, match="unknown targets 'pixels'"):
        checks.check_loss(RidgeLoss, targets="pixels")


class ColourNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.head = nn.Conv2d(3, 4, 3), nn.Linear(4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.relu(self.conv(x)).mean((2, 3)))


def test_a_loss_check_builds_its_model_with_the_input_shape():
    """--input-shape reaches a loss check's --model: a 3-channel model is checked, not refused."""
    with pytest.raises(CheckUsageError, match="input_shape"):
        checks.check_loss(RidgeLoss, model=ColourNet)
    assert checks.check_loss(RidgeLoss, model=ColourNet, input_shape=(3, 16, 16), max_examples=FEW).ok
