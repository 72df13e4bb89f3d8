"""L1 (Lasso): the penalty is a norm, its gradient is lambda*sign(W), and a larger lambda trains sparser weights."""

from __future__ import annotations

import math
from functools import lru_cache

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch import nn

from properties import mutants
from properties.support import CPU, NOTEBOOK_SPEC, assert_penalty_gradient, fewer_examples, is_penalized
from regbench.checks import strategies as gen
from regbench.losses import LassoLoss, l1_norm
from regbench.metrics import SPARSITY_THRESHOLD, sparsity

# ------------------------------------------------------------------------------ the norm axioms


@st.composite
def tensor_pairs(draw: st.DrawFn) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Two lists of float64 tensors with matching shapes, as a model's parameters would have."""
    shapes = draw(st.lists(hnp.array_shapes(min_dims=1, max_dims=3, max_side=5), min_size=1, max_size=3))
    elements = st.floats(-1e3, 1e3, allow_subnormal=False)

    def one() -> list[torch.Tensor]:
        return [torch.from_numpy(draw(hnp.arrays(float, s, elements=elements))) for s in shapes]

    return one(), one()


NORM_INPUTS = dict(pair=tensor_pairs(), scale=st.floats(-1e3, 1e3, allow_subnormal=False))


def check_is_a_norm(norm, device, *, pair: tuple[list[torch.Tensor], list[torch.Tensor]], scale: float) -> None:
    """Zero only at zero, absolutely homogeneous, triangle inequality (float64, relative slack 1e-12)."""
    xs, ys = ([t.to(device) for t in ts] for ts in pair)
    value = float(norm(xs))
    all_zero = all(bool((x == 0).all()) for x in xs)
    assert value >= 0, f"negative norm {value}"
    assert (value == 0) == all_zero, f"norm {value} of tensors that are {'' if all_zero else 'not '}all zero"
    scaled = float(norm([scale * x for x in xs]))
    assert math.isclose(scaled, abs(scale) * value, rel_tol=1e-12, abs_tol=1e-300), (
        f"norm(c x) = {scaled} != |c| norm(x) = {abs(scale) * value}"
    )
    total = float(norm([x + y for x, y in zip(xs, ys, strict=True)]))
    bound = value + float(norm(ys))
    assert total <= bound * (1 + 1e-12), f"triangle inequality broken: {total} > {bound}"


@given(**NORM_INPUTS)
def test_l1_penalty_is_a_norm(device, pair, scale):
    """A penalty that is not a norm can reward weights for cancelling each other out."""
    check_is_a_norm(l1_norm, device, pair=pair, scale=scale)


# ---------------------------------------------------------------------------------- the gradient

GRADIENT_INPUTS = dict(spec=gen.model_specs(), lam=gen.lambdas())


def lasso(base: nn.Module, model: nn.Module, lam: float) -> nn.Module:
    """regbench's Lasso with the (base, model, lambda) signature the checks use."""
    return LassoLoss(base, model, lam)


def check_l1_gradient(loss_factory, device, *, spec: gen.ModelSpec, lam: float) -> None:
    """d penalty / dW = lambda * sign(W) on penalized weights, and no gradient anywhere else."""
    model = spec.build(device=device)
    loss_factory(nn.MSELoss(), model, lam).penalty().backward()
    for name, p in model.named_parameters():
        expected = lam * torch.sign(p.detach()) if is_penalized(name, p) else torch.zeros_like(p)
        grad = p.grad if p.grad is not None else torch.zeros_like(p)
        assert_penalty_gradient(
            grad,
            expected,
            what=(
                f"L1 gradient on {name} is not lambda*sign(W)"
                if is_penalized(name, p)
                else f"L1 penalty has a gradient on {name}"
            ),
        )


@given(**GRADIENT_INPUTS)
@example(
    spec=NOTEBOOK_SPEC, lam=1e-4
)  # the notebook's size at the smallest lambda drawn: a gradient twice too large must fail here too
def test_l1_gradient_is_lambda_sign(device, spec, lam):
    """The subgradient every optimizer sees: constant pull lambda toward zero."""
    check_l1_gradient(lasso, device, spec=spec, lam=lam)


def test_a_gradient_off_by_a_factor_of_2_fails_at_the_smallest_lambda():
    """The broken variant (lasso_weights_listed_twice) at the notebook's size and lambda 1e-4, where float32's
    default atol (1e-5) let it pass.
    """
    with pytest.raises(AssertionError, match=r"L1 gradient on linear_1.weight is not lambda\*sign\(W\)"):
        check_l1_gradient(mutants.lasso_weights_listed_twice, CPU, spec=NOTEBOOK_SPEC, lam=1e-4)


# ------------------------------------------------------------------------- sparsity against lambda
#
# The small fixed problem: least squares on an orthogonal design (X^T X / n = I, columns centred),
# y = X b. Its Lasso solution, for mean((Xw - y)^2) + lambda * sum|w|, is soft thresholding:
# w_j = sign(b_j) * max(|b_j| - lambda/2, 0), so the exact sparsity rises monotonically with lambda.
# Training is full-batch subgradient descent (what LassoLoss gives any optimizer) with a learning
# rate decaying geometrically by r per step. Weights near a kink (|b_j| close to lambda/2) are the
# ones subgradient descent resolves slowly: a dead weight's pull toward 0 is 2*gap per unit of
# learning rate, and it keeps up with its shrinking oscillation band (lr * K, K = lambda + 2|b|)
# only while gap >= K (1 - r) / 2. So a weight is *ambiguous* if |b_j| - lambda/2 lies in
# (-GAP, threshold + GAP), GAP = K_max (1 - r) / 2; every other weight must be classified exactly
# as the closed form says. (Checked against the exact scalar recursion on a dense grid of b and
# lambda: the largest misclassified gap is 0.016, below GAP = 0.028.)

FEATURES, SAMPLES = 8, 16
B = torch.linspace(0.1, 1.0, FEATURES, dtype=torch.float64) * torch.tensor(
    [1.0, -1.0] * (FEATURES // 2), dtype=torch.float64
)
LAMBDA_MAX = 2.4  # 2 * max|b| + margin: the largest lambdas zero every weight
STEPS, LR_FIRST, LR_LAST = 800, 0.25, 1e-5  # LR_LAST * K_max << threshold; 2*LR_FIRST < 1 keeps steps stable
DECAY = (LR_LAST / LR_FIRST) ** (1 / (STEPS - 1))
GAP = (LAMBDA_MAX + 2 * float(B.abs().max())) * (1 - DECAY) / 2

SPARSITY_INPUTS = dict(lams=gen.increasing_lambdas(min_size=2, max_size=4, min_value=1e-3, max_value=LAMBDA_MAX))


@lru_cache(maxsize=1)
def orthogonal_problem() -> tuple[torch.Tensor, torch.Tensor]:
    """X (n, d) with X^T X / n = I and zero-mean columns (orthogonal to the ones vector), y = X b."""
    generator = torch.Generator().manual_seed(0)
    basis, _ = torch.linalg.qr(
        torch.cat(
            [
                torch.ones(SAMPLES, 1, dtype=torch.float64),
                torch.randn(SAMPLES, FEATURES, generator=generator, dtype=torch.float64),
            ],
            1,
        )
    )
    x = basis[:, 1:] * math.sqrt(SAMPLES)
    return x.float(), (x @ B).float().unsqueeze(1)


def train_sparsity(loss_factory, device: torch.device, lam: float) -> float:
    """Sparsity (regbench.metrics.sparsity) of a linear model trained with the loss at this lambda."""
    x, y = (t.to(device) for t in orthogonal_problem())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # one fixed start for every lambda, so only lambda differs between runs
        model = nn.Linear(FEATURES, 1, bias=False).to(device)
    loss_fn = loss_factory(nn.MSELoss(), model, lam)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR_FIRST)
    for step in range(STEPS):
        optimizer.param_groups[0]["lr"] = LR_FIRST * DECAY**step
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimizer.step()
    return sparsity(model)


def check_sparsity_grows_with_lambda(loss_factory, device, *, lams: list[float]) -> None:
    """Trained sparsity matches the closed form up to ambiguous weights, never falls beyond them, and rises where
    theory says.
    """
    counts, low, high = [], [], []
    for lam in lams:
        offset = B.abs() - lam / 2  # exact |w_j| where positive, distance to the kink otherwise
        ambiguous = int(((offset > -GAP) & (offset < SPARSITY_THRESHOLD + GAP)).sum())
        certain_zero = int((offset <= -GAP).sum())
        count = round(train_sparsity(loss_factory, device, lam) * FEATURES)
        assert certain_zero <= count <= certain_zero + ambiguous, (
            f"lambda={lam:.4g}: {count} of {FEATURES} weights near zero, the Lasso solution has {certain_zero}"
            f" (+{ambiguous} ambiguous)"
        )
        counts.append(count)
        low.append(certain_zero)
        high.append(certain_zero + ambiguous)
    for i in range(len(lams) - 1):
        slack = (high[i] - low[i]) + (high[i + 1] - low[i + 1])
        assert counts[i + 1] >= counts[i] - slack, (
            f"sparsity fell from {counts[i]} to {counts[i + 1]} weights as lambda rose {lams[i]:.4g} ->"
            f" {lams[i + 1]:.4g}"
        )
    if low[-1] > high[0]:
        assert counts[-1] > counts[0], f"sparsity did not rise from lambda={lams[0]:.4g} to {lams[-1]:.4g} ({counts})"


@fewer_examples(4)
@given(**SPARSITY_INPUTS)
def test_larger_lambda_trains_sparser_weights(device, lams):
    """The reason to choose L1 over L2: it sets unimportant weights to zero, more of them as lambda grows."""
    check_sparsity_grows_with_lambda(lasso, device, lams=lams)
