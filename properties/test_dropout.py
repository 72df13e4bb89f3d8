"""FullyConnectedDropout beyond the checks engine (test_invariants.py): dropout_prob is the drop rate; train mode is
unbiased and commutes with ReLU.

Every check takes the model class first, so test_mutations.py runs the same check on broken classes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from hypothesis import assume, given

from properties.budget import statistical
from properties.support import assert_values_close, seeded
from regbench.checks import strategies as gen
from regbench.checks.models import ModelSubject
from regbench.checks.statistics import PROPERTY_ALPHA, assert_mean_within_hoeffding
from regbench.models import FullyConnectedDropout

# Enough masked units that an error of a few percent is far outside the statistical bounds: with
# 50,000 equal terms Hoeffding's bound at alpha = 1e-10 is 3.44 / (sqrt(50,000) (1 - p)) =
# 1.5% / (1 - p) of the expected sum; a missing 1/(1-p) rescaling takes p of it, so it is caught
# whenever p (1 - p) > 3% (any p in [0.04, 0.96]). (The drop count's exact binomial test is the
# engine's dropout_train_statistics, run by test_invariants.py.)
EFFECTIVE_UNITS = 50_000
MAX_ROWS = 200_000  # cap on repeated rows, a few MB however degenerate the generated example

CASES = gen.model_cases(kinds=("dropout",))
TRAIN_INPUTS = dict(case=CASES, seed=gen.seeds())


def _masked_hidden(model_class, device, case: gen.ModelCase, seed: int) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Eval-mode and train-mode hidden units where eval is positive (ReLU zeros say nothing about dropout).

    The batch is repeated until the positive units weigh as much as EFFECTIVE_UNITS equal ones
    ((sum h)^2 / sum h^2 of them), so the statistical checks have the power their docstrings state.
    """
    model = case.spec.build(model_class, device)
    x = case.inputs.to(device)
    with torch.no_grad():
        clean = model.eval().hidden(x)
        positive = clean[clean > 0].double()
        assume(len(positive) > 0)
        effective = float(positive.sum() ** 2 / positive.square().sum())
        repeats = min(math.ceil(EFFECTIVE_UNITS / effective), MAX_ROWS // len(x))
        with seeded(seed, device):
            noisy = model.train().hidden(x.repeat(repeats, 1))
    clean = clean.repeat(repeats, 1)
    keep = clean > 0
    assert torch.all(noisy[~keep] == 0), "dropout turned a unit that ReLU zeroed into a nonzero one"
    return clean[keep], noisy[keep], case.spec.dropout_prob


def check_rate_is_dropout_prob(model_class, device, *, case: gen.ModelCase) -> None:
    """The constructor's dropout_prob is the rate of the model's one dropout layer, found by behaviour (its law:
    test_invariants.py).
    """
    p = case.spec.dropout_prob
    subject = ModelSubject(case.spec.build(model_class, device), (case.spec.input_size,))
    rates = [s.rate for s in subject.stochastic]
    assert rates == ([p] if 0 < p < 1 else []), f"dropout_prob {p:.4g} built dropout layers with rates {rates}"


def check_unbiased(model_class, device, *, case: gen.ModelCase, seed: int) -> None:
    """Train mode: E[dropout(h)] = h; the summed units are within Hoeffding's bound (alpha = 1e-10 per example)."""
    clean, noisy, p = _masked_hidden(model_class, device, case, seed)
    # Each term is h_i * B_i / (1 - p) with B_i in {0, 1}: it lies in [0, h_i / (1 - p)].
    assert_mean_within_hoeffding(noisy, float(clean.double().sum()), clean / (1 - p), what="sum of dropped-out units")


def check_commutes_with_relu(model_class, device, *, case: gen.ModelCase, seed: int) -> None:
    """The notebook's claim: dropout before or after the ReLU gives the same numbers under the same mask."""
    model = case.spec.build(model_class, device).train()
    x = case.inputs.to(device)
    with torch.no_grad():
        with seeded(seed, device):
            after = model(x)  # regbench's placement: Linear -> ReLU -> Dropout -> Linear
        with seeded(seed, device):
            before = model.linear_2(F.relu(model.dropout(model.linear_1(x.reshape(len(x), -1)))))
    assert_values_close(before, after, what="dropout before the ReLU gives different numbers than after it")


@given(case=CASES)
def test_dropout_prob_is_the_drop_rate(device, case):
    """dropout_prob is the probability of dropping a unit (Keras' keep_prob is the other convention)."""
    check_rate_is_dropout_prob(FullyConnectedDropout, device, case=case)


@statistical(alpha=PROPERTY_ALPHA)  # one Hoeffding test per example
@given(**TRAIN_INPUTS)
def test_train_mode_is_unbiased(device, case, seed):
    """Train-mode activations equal eval-mode ones on average (its share of the run's false-failure budget:
    properties/budget.py).
    """
    check_unbiased(FullyConnectedDropout, device, case=case, seed=seed)


@given(**TRAIN_INPUTS)
def test_dropout_commutes_with_relu(device, case, seed):
    """Placement before or after ReLU is a speed choice, not a numerical one."""
    check_commutes_with_relu(FullyConnectedDropout, device, case=case, seed=seed)
