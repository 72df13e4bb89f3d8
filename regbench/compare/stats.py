"""The gate's statistics: an interval for one change, an interval for the change many configs share, and the sample size
that would decide.

- One row (a config's metric): Welch's two-sample t interval of the difference of means
  (``scipy.stats.ttest_ind(equal_var=False)``'s, computed with scipy.special's Student t), which
  does not assume both sides spread alike.
  Throughput is judged on the log scale: speed is multiplicative, its spread grows with its
  level, and a 20x drop is a difference of log(20) whatever the baseline's speed.
- A pooled throughput row over 8 or more strata (``median_interval``): the median change with its
  sign-test interval, since a burst of load makes a few strata's changes arbitrarily large.
- Throughput of a regbench run (``pooled_noise``, ``shared_noise``): a run's timings share the
  machine's momentary load, not its config; a burst slows whichever cells are running, and two
  seeds of one config have no spread of their own worth one degree of freedom. So a config's
  speed change is judged against the timing noise of the whole run: the within-config SD of log
  throughput pooled over every config of both files (sum of (seeds - 1) degrees of freedom).
  When both runs trained the same seeds interleaved (``regbench continuous``), each seed's
  candidate is paired with its baseline, run next to it under the same load, and the noise is
  the pooled SD of those paired differences.
- A pooled row (a metric over all configs): each config is a stratum and contributes its own
  change; the common change is the mean of the per-config changes, with a one-sample t interval
  over them (configs - 1 degrees of freedom). Between-config scatter of the changes is the
  noise it is judged against: seed noise, and any real difference in how configs respond, so a
  change in one config alone widens the interval rather than passing as common. Weighting by
  each config's estimated variance instead would lean on variances estimated from 2 seeds (1
  degree of freedom each) and grow overconfident.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

__all__ = ["Interval", "median_interval", "needed_per_side", "pooled_noise", "shared_noise", "stratified", "welch"]

MAX_NEEDED = 1000  # seeds or rounds beyond which "more would decide it" is no advice


@dataclass(frozen=True)
class Interval:
    """A change (candidate - baseline) with its (1 - alpha) confidence interval and two-sided p-value."""

    estimate: float
    low: float
    high: float
    p: float

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def _t_interval(estimate: float, se: float, df: float, alpha: float) -> Interval:
    """estimate +- t(1 - alpha/2, df) * se, and the two-sided p-value of estimate = 0 (scipy.special's Student t, as
    scipy.stats uses).
    """
    from scipy.special import stdtr, stdtrit  # light to import, and fast enough to simulate thousands of gates

    half = float(stdtrit(df, 1 - alpha / 2)) * se
    p = float(2 * stdtr(df, -abs(estimate) / se))
    return Interval(estimate, estimate - half, estimate + half, p)


def welch(base: Sequence[float], cand: Sequence[float], alpha: float) -> Interval:
    """Welch's t interval for mean(cand) - mean(base) (scipy.stats.ttest_ind(equal_var=False)'s); both sides exact
    give the exact difference.
    """
    base, cand = np.asarray(base, dtype=float), np.asarray(cand, dtype=float)
    diff = float(cand.mean() - base.mean())
    vb, vc = base.var(ddof=1) / len(base), cand.var(ddof=1) / len(cand)
    if vb + vc == 0:
        return Interval(diff, diff, diff, 1.0 if diff == 0 else 0.0)
    df = (vb + vc) ** 2 / (vb**2 / (len(base) - 1) + vc**2 / (len(cand) - 1))  # Welch-Satterthwaite
    return _t_interval(diff, math.sqrt(vb + vc), float(df), alpha)


def stratified(changes: Sequence[float], alpha: float) -> Interval:
    """The common change of several strata: the mean of their changes, one-sample t interval with len - 1 degrees of
    freedom.
    """
    arr = np.asarray(changes, dtype=float)
    mean = float(arr.mean())
    if np.var(arr) == 0:
        return Interval(mean, mean, mean, 1.0 if mean == 0 else 0.0)
    return _t_interval(mean, float(arr.std(ddof=1)) / math.sqrt(len(arr)), len(arr) - 1, alpha)


def pooled_noise(groups: Sequence[Sequence[float]]) -> tuple[float, int]:
    """Several groups' common spread: the pooled within-group SD (each group's own mean taken out) and its degrees of
    freedom.
    """
    squares, df = 0.0, 0
    for group in groups:
        values = np.asarray(group, dtype=float)
        if len(values) >= 2:
            squares += float(((values - values.mean()) ** 2).sum())
            df += len(values) - 1
    return (math.sqrt(squares / df) if df else math.nan), df


def shared_noise(estimate: float, sd: float, df: int, scale: float, alpha: float) -> Interval:
    """estimate +- t(1 - alpha/2, df) * sd * scale: a change judged against a spread measured over many groups at
    once.
    """
    if sd == 0:
        return Interval(estimate, estimate, estimate, 1.0 if estimate == 0 else 0.0)
    return _t_interval(estimate, sd * scale, df, alpha)


def median_interval(changes: Sequence[float], alpha: float) -> Optional[Interval]:
    """The median of several strata's changes with its distribution-free (1 - alpha) interval: order statistics of the
    sign test.

    The interval is [x_(k), x_(n-k+1)] for the largest k with 2 P(Binomial(n, 1/2) <= k - 1) <=
    alpha (scipy.stats.binom); the p-value is the two-sided sign test's (scipy.stats.binomtest).
    A burst of load can make any one config's change arbitrarily large: the median and its
    interval ignore a few such configs whatever their size, where a mean and its t interval are
    dragged by them. None when there are too few strata for any order statistic to reach
    1 - alpha (fewer than 8 at alpha 0.01).
    """
    from scipy import stats

    values = np.sort(np.asarray(changes, dtype=float))
    n = len(values)
    k = 0
    while k < n // 2 and 2 * float(stats.binom.cdf(k, n, 0.5)) <= alpha:
        k += 1
    if k == 0:
        return None
    nonzero = values[values != 0]
    p = float(stats.binomtest(int((nonzero > 0).sum()), len(nonzero), 0.5).pvalue) if len(nonzero) else 1.0
    return Interval(float(np.median(values)), float(values[k - 1]), float(values[n - k]), p)


def needed_per_side(
    base: Sequence[float],
    cand: Sequence[float],
    alpha: float,
    half_width: float,
    *,
    noise: Optional[tuple[float, int]] = None,
) -> Optional[int]:
    """Values per side at which the interval, at the spread observed here, would be no wider than ``half_width``.

    The spread is the two sides' pooled standard deviation, or ``noise`` (an SD of one side's value
    and its degrees of freedom) when it was measured over many groups; with n on each side the
    half-width is t(1 - alpha/2, df) * s * sqrt(2/n). None when even MAX_NEEDED would not do.
    """
    from scipy.special import stdtrit

    if noise is None:
        var = (np.var(base, ddof=1) * (len(base) - 1) + np.var(cand, ddof=1) * (len(cand) - 1)) / max(
            1, len(base) + len(cand) - 2
        )
        s = math.sqrt(float(var))
    else:
        s = noise[0]
    if s == 0:
        return 2
    for n in range(2, MAX_NEEDED + 1):
        df = 2 * n - 2 if noise is None else noise[1]
        if float(stdtrit(df, 1 - alpha / 2)) * s * math.sqrt(2 / n) <= half_width:
            return n
    return None
