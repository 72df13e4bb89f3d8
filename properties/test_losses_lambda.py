"""Lambda's role in every penalty loss: at 0 the loss is the base criterion exactly; otherwise the penalty is linear in lambda."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from properties import strategies as gen
from properties.support import penalty_losses, seeded

LOSSES = penalty_losses()
ZERO_INPUTS = dict(case=gen.model_cases(), seed=gen.seeds())
# The penalty is float32: a factor so small that factor * penalty falls below float32's normal
# range (1.2e-38; a thorough run found factor = 1.4e-45) keeps no relative precision to compare.
# Zero, and factors from 1e-6 up, keep every product generated here far inside it.
FACTORS = st.one_of(st.just(0.0), st.floats(1e-6, 10.0))
LINEAR_INPUTS = dict(spec=gen.model_specs(), lam=gen.lambdas(), other=gen.lambdas(), factor=FACTORS)


def check_zero_lambda_is_base(loss_factory, device, *, case: gen.ModelCase, seed: int) -> None:
    """With lambda = 0 the penalty is exactly 0 and the loss is exactly the base criterion's value."""
    model = case.spec.build(device=device).eval()
    x = case.inputs.to(device)
    with seeded(seed, device):
        targets = torch.randint(case.spec.output_size, (len(x),), device=device)
    base = nn.CrossEntropyLoss()
    loss_fn = loss_factory(base, model, 0.0)
    outputs = model(x)
    penalty = loss_fn.penalty().detach()
    assert float(penalty) == 0.0, f"lambda = 0 still adds a penalty of {float(penalty):.6g}"
    assert torch.equal(loss_fn(outputs, targets), base(outputs, targets)), "lambda = 0 loss differs from the base criterion"


@pytest.mark.parametrize("loss_name", sorted(LOSSES))
@given(**ZERO_INPUTS)
def test_zero_lambda_is_the_base_criterion(device, loss_name, case, seed):
    """lambda = 0 is the unregularized baseline every comparison starts from."""
    check_zero_lambda_is_base(LOSSES[loss_name], device, case=case, seed=seed)


def check_penalty_linear_in_lambda(loss_factory, device, *, spec: gen.ModelSpec, lam: float, other: float, factor: float) -> None:
    """penalty(a + b) = penalty(a) + penalty(b) and penalty(c a) = c penalty(a), to float32 rounding (rtol 1e-5)."""
    model = spec.build(device=device)

    def penalty(value: float) -> torch.Tensor:
        return loss_factory(nn.MSELoss(), model, value).penalty().detach()

    torch.testing.assert_close(penalty(lam + other), penalty(lam) + penalty(other), rtol=1e-5, atol=0, msg="penalty is not additive in lambda")
    torch.testing.assert_close(penalty(factor * lam), factor * penalty(lam), rtol=1e-5, atol=0, msg="penalty does not scale with lambda")


@pytest.mark.parametrize("loss_name", sorted(LOSSES))
@given(**LINEAR_INPUTS)
def test_penalty_is_linear_in_lambda(device, loss_name, spec, lam, other, factor):
    """Doubling lambda doubles the regularization: sweeps over lambda are then interpretable."""
    check_penalty_linear_in_lambda(LOSSES[loss_name], device, spec=spec, lam=lam, other=other, factor=factor)
