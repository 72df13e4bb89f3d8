"""Gaussian input noise (regbench.noise, models.FullyConnectedNoise): the identity at std 0 and in eval mode, zero mean
and the stated std in training.

Every check takes the implementation first (the function ``gaussian_noise`` or a model class), so
test_mutations.py runs the same check on broken variants.
"""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from properties.budget import statistical
from properties.support import seeded
from regbench.checks import strategies as gen
from regbench.checks.statistics import PROPERTY_ALPHA, assert_pvalue
from regbench.models import FullyConnected, FullyConnectedNoise
from regbench.noise import gaussian_noise

# Two tests per example, each at alpha = 1e-10 (PROPERTY_ALPHA; the run's budget: properties/budget.py).
# With 50,000 draws a mean off by a tenth of std is 22 standard errors out (the t-test rejects beyond
# about 6.5), and a spread off by 10% moves the CDF by 0.023, beyond the Kolmogorov-Smirnov bound of
# sqrt(ln(2 / alpha) / (2 n)) = 0.015.
DRAWS = 50_000

STDS = st.floats(1e-3, 10.0)


@st.composite
def feature_batches(draw: st.DrawFn, *, max_features: int = 16) -> torch.Tensor:
    """(N, D) float32 feature vectors on the scale of standardized features and beyond."""
    n = draw(st.integers(1, gen.MAX_BATCH))
    d = draw(st.integers(1, max_features))
    return draw(gen.tensors((n, d), elements=st.floats(-10.0, 10.0, width=32)))


IDENTITY_INPUTS = dict(x=feature_batches(), training=st.booleans())
EVAL_INPUTS = dict(x=feature_batches(), std=STDS)
SPREAD_INPUTS = dict(std=STDS, seed=gen.seeds())
CHANGE_INPUTS = dict(x=feature_batches(), std=STDS, seed=gen.seeds())
MODEL_INPUTS = dict(case=gen.model_cases(kinds=("plain",)), std=STDS, seed=gen.seeds())


def check_std_zero_is_identity(noise, device, *, x: torch.Tensor, training: bool) -> None:
    """At std 0 the input passes unchanged, in train and eval mode."""
    x = x.to(device)
    assert torch.equal(noise(x, 0.0, training), x), f"std 0 changed the input in {'train' if training else 'eval'} mode"


def check_identity_in_eval(noise, device, *, x: torch.Tensor, std: float) -> None:
    """In eval mode the input passes unchanged, whatever the std."""
    x = x.to(device)
    assert torch.equal(noise(x, std, False), x), (
        f"eval mode changed the input (std {std:g}): noise must act in training only"
    )


def check_zero_mean_and_stated_std(noise, device, *, std: float, seed: int) -> None:
    """In training the noise (output - input) has mean 0 (one-sample t-test) and is N(0, std^2) (Kolmogorov-Smirnov
    test).
    """
    x = torch.zeros(
        DRAWS, dtype=torch.float64, device=device
    )  # float64: no rounding between the noise and what is measured
    with seeded(seed, device):
        drawn = (noise(x, std, True) - x).cpu().numpy()
    assert_pvalue(
        stats.ttest_1samp(drawn, 0.0).pvalue,
        PROPERTY_ALPHA,
        what=f"noise mean {drawn.mean():.3g} at std {std:g} is not 0",
    )
    assert_pvalue(
        stats.kstest(drawn, "norm", args=(0.0, std)).pvalue,
        PROPERTY_ALPHA,
        what=f"noise of spread {drawn.std():.4g} is not N(0, {std:g}^2)",
    )


def check_training_adds_noise(noise, device, *, x: torch.Tensor, std: float, seed: int) -> None:
    """In training with std > 0 the input changes: a regularizer that silently does nothing is a bug."""
    # float64: x + std * z rounds back to x only if |z| < 1e-12 on every entry (|x| <= 10, std >= 1e-3), probability <
    # 1e-11
    x = x.to(device, torch.float64)
    with seeded(seed, device):
        out = noise(x, std, True)
    assert not torch.equal(out, x), f"training with std {std:g} left the input unchanged"


def check_model_is_plain_in_eval_and_at_std_zero(
    model_class, device, *, case: gen.ModelCase, std: float, seed: int
) -> None:
    """The noisy model in eval mode (any std), and in train mode at std 0, is FullyConnected with the same weights."""
    spec, x = case.spec, case.inputs.to(device)
    plain = spec.build(FullyConnected, device).eval()
    with torch.no_grad():
        expected = plain(x)
    for noise_std, mode in ((std, "eval"), (0.0, "train")):
        model = model_class(spec.input_size, spec.hidden_size, spec.output_size, noise_std=noise_std).to(device)
        model.load_state_dict(plain.state_dict())
        model.train(mode == "train")
        with seeded(seed, device), torch.no_grad():
            out = model(x)
        assert torch.equal(out, expected), (
            f"{model_class.__name__}(noise_std={noise_std:g}) in {mode} mode differs from FullyConnected"
        )


@given(**IDENTITY_INPUTS)
def test_std_zero_is_identity(device, x, training):
    check_std_zero_is_identity(gaussian_noise, device, x=x, training=training)


@given(**EVAL_INPUTS)
def test_identity_in_eval(device, x, std):
    check_identity_in_eval(gaussian_noise, device, x=x, std=std)


@statistical(alpha=2 * PROPERTY_ALPHA)  # a t-test and a KS test per example
@given(**SPREAD_INPUTS)
def test_zero_mean_and_stated_std(device, std, seed):
    """Two tests at PROPERTY_ALPHA per example (its share of the run's false-failure budget: properties/budget.py)."""
    check_zero_mean_and_stated_std(gaussian_noise, device, std=std, seed=seed)


@given(**CHANGE_INPUTS)
def test_training_adds_noise(device, x, std, seed):
    check_training_adds_noise(gaussian_noise, device, x=x, std=std, seed=seed)


@given(**MODEL_INPUTS)
def test_model_is_plain_in_eval_and_at_std_zero(device, case, std, seed):
    check_model_is_plain_in_eval_and_at_std_zero(FullyConnectedNoise, device, case=case, std=std, seed=seed)
