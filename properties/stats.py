"""Statistical assertions with a stated false-failure rate.

Each statistical assertion fails a correct implementation with probability at most ``ALPHA``.
conftest.py refuses profiles with more than 1,000 examples, and no property makes more than two
such assertions per example, so with Hypothesis' few extra calls (explicit and replayed examples)
one property's false-failure rate per run is at most 2 * (1,000 + 10) * 1e-10 < 3e-7 < 1e-6.
"""

from __future__ import annotations

import math

import torch
from scipy import stats

__all__ = ["ALPHA", "assert_binomial", "assert_mean_within_hoeffding"]

ALPHA = 1e-10


def assert_binomial(successes: int, trials: int, p: float, *, what: str) -> None:
    """Two-sided exact binomial test, equal tails: p-value = min(1, 2 min(P(K <= k), P(K >= k))); reject at ALPHA.

    Doubling the smaller exact tail keeps the level at ALPHA for any n and p. scipy.stats.binomtest's
    likelihood-ordered p-value would do too, but overflows for p near the smallest double (a rate
    Hypothesis found: dropout_prob = 2.2e-308).
    """
    tails = stats.binom.cdf(successes, trials, p), stats.binom.sf(successes - 1, trials, p)
    pvalue = min(1.0, 2 * min(tails))
    assert pvalue >= ALPHA, (
        f"{what}: {successes} of {trials} (rate {successes / trials:.4f}) is not Binomial(n, {p:.4f}); "
        f"p-value {pvalue:.3g} < alpha {ALPHA:g}"
    )


def assert_mean_within_hoeffding(samples: torch.Tensor, expected_sum: float, upper: torch.Tensor, *, what: str) -> None:
    """Sum of independent terms, term i in [0, upper[i]], is within Hoeffding's bound of its expectation.

    Hoeffding: P(|S - E S| >= t) <= 2 exp(-2 t^2 / sum(upper^2)); t is chosen so that is ALPHA.
    No normal approximation, so the rate holds for any number of terms. A float32 rounding
    allowance (a few ulps per term) is added, far below t for every case generated here.
    """
    total = float(samples.double().sum())
    t = math.sqrt(float(upper.double().square().sum()) * math.log(2 / ALPHA) / 2)
    rounding = 4 * torch.finfo(torch.float32).eps * float(samples.double().abs().sum())
    assert abs(total - expected_sum) <= t + rounding, (
        f"{what}: sum {total:.6g} differs from its expectation {expected_sum:.6g} by "
        f"{abs(total - expected_sum):.3g}, beyond the Hoeffding bound {t:.3g} at alpha {ALPHA:g}"
    )
