"""Significance tests over datasets (Demšar, JMLR 2006; Benavoli, Corani and Mangili, JMLR 2016).

Each dataset is one block: configs are ranked within it (1 = best, ties get the average rank),
and the tests read only those ranks or the per-dataset mean scores. Seeds enter only through
the means; the datasets are the sample.

- Friedman's chi-square from the average ranks R_j of k configs over N datasets,
  12N/(k(k+1)) * (sum R_j^2 - k(k+1)^2/4), Demšar's eq. (without scipy's correction for ties,
  which is reported beside it), and Iman and Davenport's F = (N-1) chi2 / (N(k-1) - chi2) on
  (k-1, (k-1)(N-1)) degrees of freedom, which Demšar recommends as less conservative.
- Nemenyi's all-pairs test: two configs differ when their average ranks differ by at least the
  critical difference CD = q_alpha * sqrt(k(k+1)/(6N)), q_alpha the studentized range quantile
  over sqrt(2) (Demšar's table 5a).
- Each config against a control: Wilcoxon's signed-rank test on the per-dataset mean
  differences (zero differences split between the signs, as Demšar does), Holm-corrected over
  the k-1 comparisons.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "Friedman",
    "Nemenyi",
    "Versus",
    "average_ranks",
    "friedman",
    "holm",
    "nemenyi",
    "nemenyi_groups",
    "wilcoxon_floor",
    "wilcoxon_holm",
]


@dataclass(frozen=True)
class Friedman:
    """Friedman's test and Iman-Davenport's F over N datasets and k configs."""

    chi2: float
    p: float
    df: int
    f: float
    p_f: float
    df_f: tuple[int, int]
    chi2_ties: float  # with the correction for ties scipy.stats.friedmanchisquare applies (equal to chi2 without ties)
    p_ties: float


@dataclass(frozen=True)
class Nemenyi:
    """Nemenyi's all-pairs test: the critical difference of average ranks, and each pair's p-value."""

    q_alpha: float
    critical_difference: float
    p: np.ndarray  # (k, k), 1 on the diagonal


@dataclass(frozen=True)
class Versus:
    """One config against the control over the datasets both have."""

    datasets: int
    statistic: float  # Wilcoxon's T = min(R+, R-)
    p: float
    p_holm: float
    median_difference: float  # config minus control, in the metric's units
    signed_rank_sum: float  # R+ - R- in the metric's better direction: the side the test leans to
    wins: int  # datasets where the config's mean is better than the control's
    losses: int


def average_ranks(means: np.ndarray, better: int) -> np.ndarray:
    """(N, k) ranks within each dataset, 1 = best (a tie shares the average of the ranks it spans)."""
    return stats.rankdata(-better * np.asarray(means, dtype=float), axis=1)


def friedman(means: np.ndarray, better: int) -> Friedman:
    """Friedman's chi-square and Iman-Davenport's F on the (N datasets, k configs) table of mean scores."""
    means = np.asarray(means, dtype=float)
    n, k = means.shape
    r = average_ranks(means, better).mean(axis=0)
    chi2 = float(12 * n / (k * (k + 1)) * (np.sum(r**2) - k * (k + 1) ** 2 / 4))
    chi2 = max(chi2, 0.0)  # rounding can leave -1e-15 when every rank is equal
    df_f = (k - 1, (k - 1) * (n - 1))
    denominator = n * (k - 1) - chi2
    f = math.inf if denominator <= 1e-12 else (n - 1) * chi2 / denominator  # every dataset ranks the configs alike
    p_f = 0.0 if math.isinf(f) else float(stats.f.sf(f, *df_f))
    ties = sum(float(np.sum(counts**3 - counts)) for counts in (np.unique(row, return_counts=True)[1] for row in means))
    correction = 1 - ties / (
        n * k * (k**2 - 1)
    )  # scipy.stats.friedmanchisquare's, which refuses k = 2: the tests check them equal
    chi2_ties = chi2 / correction if correction > 1e-12 else 0.0  # every score equal: nothing differs
    p_ties = float(stats.chi2.sf(chi2_ties, k - 1)) if correction > 1e-12 else 1.0
    return Friedman(chi2, float(stats.chi2.sf(chi2, k - 1)), k - 1, f, p_f, df_f, chi2_ties, p_ties)


def nemenyi(ranks: np.ndarray, n: int, alpha: float) -> Nemenyi:
    """Nemenyi's test from the k average ranks over n datasets."""
    ranks = np.asarray(ranks, dtype=float)
    k = ranks.size
    se = math.sqrt(k * (k + 1) / (6 * n))
    q_alpha = float(stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2))
    z = np.abs(ranks[:, None] - ranks[None, :]) / se
    p = np.where(z > 0, stats.studentized_range.sf(z * math.sqrt(2), k, np.inf), 1.0)
    return Nemenyi(q_alpha, q_alpha * se, np.clip(p, 0.0, 1.0))


def nemenyi_groups(ranks: dict[str, float], critical_difference: float) -> list[list[str]]:
    """The maximal runs of configs (by average rank) whose ranks differ by less than the CD: the CD diagram's bars."""
    ordered = sorted(ranks, key=lambda c: ranks[c])
    groups: list[list[str]] = []
    for i, start in enumerate(ordered):
        j = i
        while j + 1 < len(ordered) and ranks[ordered[j + 1]] - ranks[start] < critical_difference:
            j += 1
        group = ordered[i : j + 1]
        if len(group) > 1 and not any(set(group) <= set(g) for g in groups):
            groups.append(group)
    return groups


def holm(p: list[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values: reject every hypothesis whose adjusted p is at most alpha (family-wise
    error <= alpha).
    """
    p = np.asarray(p, dtype=float)
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def wilcoxon_holm(differences: list[np.ndarray], better: int) -> list[Versus]:
    """Each config's per-dataset mean differences from the control: Wilcoxon's signed-rank test, Holm-corrected over
    all of them.
    """
    rows = []
    for d in differences:
        d = np.asarray(d, dtype=float)
        if np.all(d == 0):  # identical to the control everywhere: nothing to test
            statistic, p = 0.0, 1.0
        else:
            result = stats.wilcoxon(d, zero_method="zsplit")
            statistic, p = float(result.statistic), float(result.pvalue)
        rows.append((d, statistic, p))
    adjusted = holm([p for _, _, p in rows]) if rows else np.array([])
    return [
        Versus(
            datasets=d.size,
            statistic=statistic,
            p=p,
            p_holm=float(q),
            median_difference=float(np.median(d)),
            signed_rank_sum=float(np.sum(np.sign(better * d) * stats.rankdata(np.abs(d)))),
            wins=int(np.sum(better * d > 0)),
            losses=int(np.sum(better * d < 0)),
        )
        for (d, statistic, p), q in zip(rows, adjusted)
    ]


def wilcoxon_floor(n: int) -> float:
    """The smallest two-sided p Wilcoxon's exact test can give on n datasets (every difference one way): 2 / 2^n."""
    return min(1.0, 2.0 / 2**n)
