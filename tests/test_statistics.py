"""regbench.checks.statistics: the exact tests hold their level where scipy's own would overflow."""

import math

import pytest

from regbench.checks.statistics import assert_binomial, binomial_pvalue

SMALLEST_NORMAL = (
    2.2250738585072014e-308  # a drop rate Hypothesis once generated; scipy.stats.binomtest overflowed on it
)


def test_a_rate_near_the_smallest_double_gets_a_p_value():
    """No overflow: zero successes are what such a rate predicts, three are all but impossible."""
    assert binomial_pvalue(0, 5, SMALLEST_NORMAL) == 1.0
    assert math.isfinite(binomial_pvalue(3, 5, SMALLEST_NORMAL)) and binomial_pvalue(3, 5, SMALLEST_NORMAL) < 1e-300


def test_assert_binomial_rejects_only_what_the_rate_cannot_explain():
    """50 of 100 is a fair coin; 90 of 100 is not, at alpha 1e-10."""
    assert_binomial(50, 100, 0.5, what="fair")
    with pytest.raises(AssertionError, match="not Binomial"):
        assert_binomial(90, 100, 0.5, what="biased")
