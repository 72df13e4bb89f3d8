"""Statistical assertions with a stated false-failure rate, for every invariant regbench checks.

Each assertion fails a correct implementation with probability at most its ``alpha``; callers
split their budget over the tests they make (a union bound), so the rate they state holds for a
whole run: ``regbench check`` gives each invariant ``checks.ALPHA`` per run, the property suite
``PROPERTY_ALPHA`` per test. In the property suite each statistical property declares what it
spends (alpha per example, examples per device) and properties/budget.py sums them into the
run's bound, checked against its stated bound by properties/test_budget.py
(``python -m properties.budget`` prints the table).
"""

from __future__ import annotations

import math

import torch
from scipy import stats

__all__ = [
    "PROPERTY_ALPHA",
    "assert_binomial",
    "assert_mean_within_hoeffding",
    "assert_pvalue",
    "binomial_excess_pvalue",
    "binomial_pvalue",
    "binomial_upper_bound",
]

PROPERTY_ALPHA = 1e-10


def binomial_pvalue(successes: int, trials: int, p: float) -> float:
    """Two-sided exact binomial test, equal tails: min(1, 2 min(P(K <= k), P(K >= k))).

    Doubling the smaller exact tail keeps the level at alpha for any n and p. scipy.stats.binomtest's
    likelihood-ordered p-value would do too, but overflows for p near the smallest double (a rate
    Hypothesis found: dropout_prob = 2.2e-308).
    """
    tails = stats.binom.cdf(successes, trials, p), stats.binom.sf(successes - 1, trials, p)
    return float(min(1.0, 2 * min(tails)))


def binomial_excess_pvalue(successes: int, trials: int, p: float) -> float:
    """One-sided exact binomial test that the rate exceeds ``p``: P(K >= successes) under Binomial(trials, p)."""
    return float(stats.binom.sf(successes - 1, trials, p))


def binomial_upper_bound(successes: int, trials: int, alpha: float) -> float:
    """Clopper-Pearson upper bound of a rate: exceeded by the true rate with probability at most alpha / 2."""
    return float(stats.binomtest(successes, trials).proportion_ci(1 - alpha, method="exact").high)


def assert_pvalue(pvalue: float, alpha: float, *, what: str) -> None:
    """Reject at ``alpha``, saying which test rejected and how strongly."""
    assert pvalue >= alpha, f"{what}: p-value {pvalue:.3g} < alpha {alpha:.3g}"


def assert_binomial(successes: int, trials: int, p: float, *, what: str, alpha: float = PROPERTY_ALPHA) -> None:
    """``successes`` of ``trials`` is a draw from Binomial(trials, p), by binomial_pvalue at ``alpha``."""
    assert_pvalue(
        binomial_pvalue(successes, trials, p),
        alpha,
        what=f"{what}: {successes} of {trials} (rate {successes / trials:.4f}) is not Binomial(n, {p:.4g})",
    )


def assert_mean_within_hoeffding(
    samples: torch.Tensor, expected_sum: float, upper: torch.Tensor, *, what: str, alpha: float = PROPERTY_ALPHA
) -> None:
    """Sum of independent terms, term i in [0, upper[i]], is within Hoeffding's bound of its expectation.

    Hoeffding: P(|S - E S| >= t) <= 2 exp(-2 t^2 / sum(upper^2)); t is chosen so that is alpha.
    No normal approximation, so the rate holds for any number of terms. A float32 rounding
    allowance (a few ulps per term) is added, far below t for every case generated here.
    """
    total = float(samples.double().sum())
    t = math.sqrt(float(upper.double().square().sum()) * math.log(2 / alpha) / 2)
    rounding = 4 * torch.finfo(torch.float32).eps * float(samples.double().abs().sum())
    assert abs(total - expected_sum) <= t + rounding, (
        f"{what}: sum {total:.6g} differs from its expectation {expected_sum:.6g} by "
        f"{abs(total - expected_sum):.3g}, beyond the Hoeffding bound {t:.3g} at alpha {alpha:g}"
    )
