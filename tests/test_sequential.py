"""The sequential paired rule: its alpha spending, its tests against scipy, exact and tied differences, and its error
rates.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from regbench import sequential
from regbench.sequential import decide, look_levels, pairs_needed


def fixed(values_c, values_b=None):
    """A pairs(n) that serves the first n of fixed values."""
    values_b = [0.0] * len(values_c) if values_b is None else values_b
    return lambda n: (list(values_c[:n]), list(values_b[:n]))


def test_pococks_level_is_constant_and_keeps_any_look_rejecting_at_alpha():
    """One level for every look, between Bonferroni's alpha / 18 and alpha; on 40,000 fresh null sequences (another
    seed, another
    spread, scipy's ttest_1samp as the oracle) the chance that any look rejects is alpha within its 99.9% binomial
    bounds.
    """
    levels = look_levels(3, 20, 0.01)
    assert list(levels) == list(range(3, 21)) and len(set(levels.values())) == 1
    level = levels[3]
    assert 0.01 / 18 < level < 0.01
    rng = np.random.default_rng(123)
    x = rng.normal(0.0, 0.7, size=(40_000, 20))
    smallest = np.min(
        [stats.ttest_1samp(x[:, :n], 0.0, axis=1, alternative="greater").pvalue for n in range(3, 21)], axis=0
    )
    low, high = stats.binom.ppf([0.0005, 0.9995], 40_000, 0.01) / 40_000
    assert low <= np.mean(smallest <= level) <= high, np.mean(smallest <= level)
    assert np.mean(smallest <= 0.01) > high  # every look at the full alpha (no correction) rejects far more often


def test_a_clear_effect_passes_early_with_scipys_one_sided_p():
    """Differences around +0.02 with spread 0.004: passes before the maximum; the p at the stopping look is scipy's
    ttest_1samp.
    """
    rng = np.random.default_rng(0)
    d = rng.normal(0.02, 0.004, size=20)
    decision = decide("better", fixed(d), effect=0.0, seeds=(3, 20))
    assert decision.passed and decision.pairs < 10
    n, level, p_pass, _ = decision.looks[-1]
    assert p_pass == pytest.approx(stats.ttest_1samp(d[:n], 0.0, alternative="greater").pvalue) and p_pass <= level
    assert all(p > lvl for _, lvl, p, _ in decision.looks[:-1])  # no earlier look had passed


def test_lower_is_better_flips_the_sign():
    """A loss that drops by 0.05 is better; the same drop in an accuracy is worse and fails early."""
    rng = np.random.default_rng(1)
    drop = list(-0.05 + rng.normal(0, 0.005, size=20))
    assert decide("better", fixed(drop), better=-1).passed
    worse = decide("better", fixed(drop), better=+1)
    assert worse.verdict == "fail" and "claim false" in worse.why


def test_equivalence_is_two_one_sided_tests():
    """TOST: pass needs both one-sided tests to reject; the p reported is the larger, as scipy gives them."""
    rng = np.random.default_rng(2)
    d = rng.normal(0.0, 0.002, size=20)
    decision = decide("equivalent", fixed(d), effect=0.01)
    assert decision.passed
    n = decision.pairs
    lower = stats.ttest_1samp(d[:n], -0.01, alternative="greater").pvalue
    upper = stats.ttest_1samp(d[:n], 0.01, alternative="less").pvalue
    assert decision.looks[-1][2] == pytest.approx(max(lower, upper))
    shifted = decide("equivalent", fixed(d + 0.03), effect=0.01)
    assert shifted.verdict == "fail"


def test_one_config_against_itself_is_exact_not_a_division_by_zero():
    """Identical training: every difference is 0; better fails, no_worse and equivalent pass, all at the first look,
    saying why.
    """
    zeros = [0.9] * 20
    for kind, verdict in (("better", "fail"), ("no_worse", "pass"), ("equivalent", "pass")):
        decision = decide(kind, fixed(zeros, zeros), effect=0.01 if kind != "better" else 0.0, identical=True)
        assert (decision.verdict, decision.pairs) == (verdict, 3) and "identical training" in decision.why
        assert decision.interval() == (0.0, 0.0, 0.0)
        assert "identical training" in decision.table()


def test_two_configs_that_tie_on_every_seed_are_judged_by_the_sign_test():
    """Different configs with equal scores on every seed so far: no t-test is possible; the sign test decides once
    0.5^n <= the look's level.
    """
    up = decide("better", fixed([0.002] * 20), effect=0.0)
    assert up.passed and "sign test" in up.why
    levels = look_levels(3, 20, 0.01)
    assert up.pairs == min(n for n in levels if 0.5**n <= levels[n])
    tie = decide("better", fixed([0.0] * 20), effect=0.0)
    assert tie.verdict == "undecided" and "exactly +0" in tie.why


def test_undecided_says_how_many_pairs_would_decide():
    """A small effect in wide noise: undecided at the maximum, with the pairs a fixed design needs; that n passes a
    fixed t-test, n - 1 does not.
    """
    rng = np.random.default_rng(3)
    d = rng.normal(0.002, 0.01, size=6)
    d = d - d.mean() + 0.002
    decision = decide("better", fixed(d), seeds=(3, 6))
    assert decision.verdict == "undecided" and "would need" in decision.why
    needed = pairs_needed("better", d, 0.0, 0.01)
    assert f"need {needed} pairs" in decision.why
    mean, sd = d.mean(), d.std(ddof=1)
    assert mean / (sd / math.sqrt(needed)) >= stats.t.ppf(0.99, needed - 1) > mean / (sd / math.sqrt(needed - 1))


def _false_passes(kind: str, truth: float, effect: float, sequences: int, levels=None) -> float:
    """The share of simulated sequences (normal differences, sd 0.005) that pass although the claim is false at
    ``truth``.
    """
    rng = np.random.default_rng(42)
    passed = 0
    for _ in range(sequences):
        d = rng.normal(truth, 0.005, size=20)
        passed += decide(kind, fixed(d), effect=effect).passed
    return passed / sequences


@pytest.mark.parametrize(
    "kind, truth, effect", [("better", 0.0, 0.0), ("no_worse", -0.01, 0.01), ("equivalent", 0.01, 0.01)]
)
def test_false_passes_stay_under_alpha_despite_the_looks(kind, truth, effect):
    """1,000 seeded sequences at the boundary of each claim: false passes within the 99.9% binomial bound of alpha =
    0.01.

    (benchmarks/test_assertions.py measures 1,000+ per claim, from real per-seed spreads.)
    """
    rate = _false_passes(kind, truth, effect, 1000)
    assert rate <= stats.binom.ppf(0.999, 1000, 0.01) / 1000, rate


def test_without_alpha_spending_the_looks_inflate_false_passes(monkeypatch):
    """Broken variant: every look at the full alpha (no spending). At the null, 18 looks pass falsely far above
    alpha: the check above can fail.
    """
    monkeypatch.setattr(sequential, "look_levels", lambda lo, hi, alpha: {n: alpha for n in range(lo, hi + 1)})
    rate = _false_passes("better", 0.0, 0.0, 1000)
    assert rate > stats.binom.ppf(0.999, 1000, 0.01) / 1000, rate


def test_one_sided_p_values_are_scipys_ttest_1samp():
    """The rule's p-values equal scipy.stats.ttest_1samp's, both sides, on random samples."""
    rng = np.random.default_rng(9)
    for n in (2, 3, 7, 20):
        d = rng.normal(0.001, 0.01, size=n)
        for bound in (-0.01, 0.0, 0.004):
            assert sequential._one_sided(d, bound, True) == pytest.approx(
                stats.ttest_1samp(d, bound, alternative="greater").pvalue, rel=1e-9
            )
            assert sequential._one_sided(d, bound, False) == pytest.approx(
                stats.ttest_1samp(d, bound, alternative="less").pvalue, rel=1e-9
            )
