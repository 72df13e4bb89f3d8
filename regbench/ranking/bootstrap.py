"""How much a config helps, with stratified-bootstrap intervals (Agarwal et al., NeurIPS 2021, rliable).

- Probability of improvement P(X > Y): on each dataset, the chance that a run of X scores better
  than a run of Y (a tie counts one half: the Mann-Whitney U over n*m), averaged over datasets.
- The interquartile mean (IQM) of control-normalized scores: every run's score divided by the
  control's mean score on its dataset, pooled over datasets, the middle 50% averaged
  (``scipy.stats.trim_mean`` at 0.25): robust to one odd dataset, unlike the mean, and less
  coarse than the median.
- Intervals: ``scipy.stats.bootstrap`` with every (dataset, config) cell resampled on its own
  (``paired=False``): datasets are strata, seeds are resampled within each; percentile intervals,
  as rliable. A cell with one score has nothing to resample and stays fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import stats

__all__ = [
    "CONFIDENCE",
    "RESAMPLES",
    "SEED",
    "Estimate",
    "iqm",
    "normalized",
    "probability_of_improvement",
    "stratified",
]

CONFIDENCE = 0.95
RESAMPLES = 10_000  # per interval; the resampling is seeded, so the same input gives the same interval
SEED = 0


@dataclass(frozen=True)
class Estimate:
    """A point estimate and its stratified-bootstrap interval (equal to the point when nothing can be resampled)."""

    estimate: float
    low: float
    high: float

    def as_dict(self) -> dict:
        """JSON form."""
        return {"estimate": self.estimate, "low": self.low, "high": self.high}


def stratified(
    cells: list[np.ndarray], statistic: Callable[[list[np.ndarray]], np.ndarray], *, resamples: int = RESAMPLES
) -> Estimate:
    """``statistic`` of the cells, with a percentile interval from resampling each cell of two or more scores on its
    own.

    ``statistic`` takes the list of cells, each an array whose last axis holds the scores (leading
    axes: a batch of resamples), and returns one value per batch entry.
    """
    cells = [np.asarray(c, dtype=float) for c in cells]
    point = float(statistic(cells))
    varying = [i for i, c in enumerate(cells) if c.size > 1]
    if not varying:
        return Estimate(point, point, point)

    def batched(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
        batch = samples[0].shape[:-1]
        full = [np.broadcast_to(c, batch + c.shape) for c in cells]
        for i, sample in zip(varying, samples):
            full[i] = sample
        return statistic(full)

    result = stats.bootstrap(
        tuple(cells[i] for i in varying),
        batched,
        paired=False,
        vectorized=True,
        n_resamples=resamples,
        confidence_level=CONFIDENCE,
        method="percentile",
        rng=np.random.default_rng(SEED),
    )
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    return Estimate(point, min(low, point), max(high, point))


def probability_of_improvement(
    xs: list[np.ndarray], ys: list[np.ndarray], better: int, *, resamples: int = RESAMPLES
) -> Estimate:
    """P(X > Y): X's runs against Y's on each dataset (``xs[d]``, ``ys[d]``), 'better' in the metric's direction,
    averaged over datasets.
    """
    n = len(xs)

    def statistic(cells: list[np.ndarray]) -> np.ndarray:
        per_dataset = []
        for x, y in zip(cells[:n], cells[n:]):
            diff = better * (x[..., :, None] - y[..., None, :])
            per_dataset.append(((diff > 0) + 0.5 * (diff == 0)).mean(axis=(-2, -1)))
        return np.mean(per_dataset, axis=0)

    return stratified(list(xs) + list(ys), statistic, resamples=resamples)


def normalized(cells: list[np.ndarray], control_means: list[float]) -> list[np.ndarray]:
    """Each dataset's scores divided by the control's mean score there: 1.0 is the control's level on every dataset."""
    return [np.asarray(c, dtype=float) / m for c, m in zip(cells, control_means)]


def iqm(cells: list[np.ndarray], *, resamples: int = RESAMPLES) -> Estimate:
    """The interquartile mean of all runs' scores pooled over datasets (rliable's IQM)."""

    def statistic(cells: list[np.ndarray]) -> np.ndarray:
        batch = np.broadcast_shapes(*(c.shape[:-1] for c in cells))
        pooled = np.concatenate([np.broadcast_to(c, batch + c.shape[-1:]) for c in cells], axis=-1)
        return stats.trim_mean(pooled, 0.25, axis=-1)

    return stratified(cells, statistic, resamples=resamples)
