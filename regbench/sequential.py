"""Sequential paired decisions: is a candidate better than a baseline, no worse, or equivalent, adding seed pairs until
the data can say.

Both configs train on the same seeds (the same initial weights' draw and data order), so each pair
gives one difference d = candidate - baseline, signed so that positive is better in the metric's
direction. After every pair, from the minimum to the maximum, a decision is taken:

- **Pass**: a one-sided paired t-test rejects "not better than the bound" at the nominal level.
  The level is Pocock's (Biometrika 1977): one constant nominal level for every look, chosen so
  that the chance of any look rejecting a true null is exactly alpha. Pocock derived it for
  normal means with known variance; with the variance estimated, the looks' t statistics have
  a joint distribution that does not depend on the spread, so the level is calibrated once per
  (minimum, maximum, alpha) by simulating 200,000 null sequences (seeded, so it is the same
  number every time): 0.0013 for 3 to 20 pairs at alpha 0.01, against 0.01 / 18 = 0.00056 for
  Bonferroni over the 18 looks, because successive looks share most of their pairs. A constant
  level lets a clear effect stop early and keeps the last looks as strong as the first.
- **Fail**: the opposite one-sided test rejects at the same share: the data already show the
  claim false. Stopping to fail can only lower the false-pass rate.
- **Undecided** at the maximum (also a failure): the message says how many pairs a fixed design
  would need at the spread seen.
- When every difference is the same there is no spread to test. A config against itself trains
  bit-identically on every seed, so its differences are exactly 0 and are compared with the bound
  directly; two configs that merely tie on every seed so far are judged by the sign test.

The three claims, with d's mean mu:
- ``better``: mu > min_effect (passes when the candidate is better by more than min_effect);
- ``no_worse``: mu > -margin (non-inferiority);
- ``equivalent``: -margin < mu < margin (two one-sided tests, Schuirmann 1987: both must reject).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import numpy as np
from scipy import stats
from scipy.special import stdtr, stdtrit

__all__ = ["ALPHA", "KINDS", "SEEDS", "Decision", "decide", "look_levels", "nominal_level", "pairs_needed"]

ALPHA = 0.01
SEEDS = (3, 20)
KINDS = ("better", "no_worse", "equivalent")
MAX_NEEDED = 10_000


CALIBRATION_SEQUENCES = 200_000
CALIBRATION_SEED = 1977


@lru_cache(maxsize=None)
def nominal_level(minimum: int, maximum: int, alpha: float) -> float:
    """Pocock's constant one-sided level for looks at minimum..maximum pairs: under the null the smallest p over the
    looks
    falls below it with probability alpha (simulated normal sequences; t statistics do not depend on the spread)."""
    rng = np.random.default_rng(CALIBRATION_SEED)
    n = np.arange(minimum, maximum + 1)
    smallest = []
    for _ in range(CALIBRATION_SEQUENCES // 50_000):
        x = rng.standard_normal((50_000, maximum))
        sums, squares = np.cumsum(x, axis=1)[:, minimum - 1 :], np.cumsum(x * x, axis=1)[:, minimum - 1 :]
        mean = sums / n
        t = mean / np.sqrt((squares - n * mean**2) / (n - 1) / n)
        smallest.append(stdtr(n - 1, -t).min(axis=1))
    return float(np.quantile(np.concatenate(smallest), alpha))


def look_levels(minimum: int, maximum: int, alpha: float) -> dict[int, float]:
    """Each look's one-sided level: Pocock's constant nominal level, the same at every look."""
    level = nominal_level(minimum, maximum, alpha)
    return {n: level for n in range(minimum, maximum + 1)}


def _bounds(kind: str, effect: float) -> tuple[float, ...]:
    """The values of mu the claim must exceed (and, for equivalence, stay below)."""
    return (effect,) if kind == "better" else (-effect,) if kind == "no_worse" else (-effect, effect)


@dataclass(frozen=True)
class Decision:
    """What a sequential comparison decided, on how many pairs, and why."""

    kind: str
    verdict: str  # 'pass', 'fail' or 'undecided'
    why: str
    effect: float  # min_effect for 'better', the margin otherwise
    alpha: float
    level: float  # the one-sided level of the last look
    candidate: list[float]  # per pair, in the metric's own units and sign
    baseline: list[float]
    better: int  # +1: higher is better; -1: lower
    names: tuple[str, str] = ("candidate", "baseline")
    metric: str = "score"
    looks: list[tuple[int, float, float, float]] = field(
        default_factory=list
    )  # (pairs, level, p of the pass test, p of the fail test)

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @property
    def pairs(self) -> int:
        return len(self.candidate)

    @property
    def differences(self) -> np.ndarray:
        """Candidate minus baseline per pair, in the metric's units (not signed by direction)."""
        return np.asarray(self.candidate) - np.asarray(self.baseline)

    def interval(self) -> tuple[float, float, float]:
        """The mean difference (metric units) and its two-sided interval at 1 - 2 x the last look's level: its ends
        are the decision's one-sided bounds.
        """
        return _t_interval(self.differences, 2 * self.level)

    def table(self) -> str:
        """The assertion's message: each side's mean with its interval, the paired difference with its interval, the
        rule, and why.
        """
        cand, base = (np.asarray(v) for v in (self.candidate, self.baseline))
        rows = [(self.names[0], _t_interval(cand, self.alpha)), (self.names[1], _t_interval(base, self.alpha))]
        diff = self.interval()
        claim = {
            "better": f"{self.names[0]} better than {self.names[1]} by more than {self.effect:g}",
            "no_worse": f"{self.names[0]} no worse than {self.names[1]} by {self.effect:g} or more",
            "equivalent": f"{self.names[0]} within {self.effect:g} of {self.names[1]}",
        }[self.kind]
        direction = "higher" if self.better > 0 else "lower"
        lines = [
            f"regbench: {self.verdict.upper()}: {claim} ({self.metric}, {direction} is better)",
            f"| | {self.metric} | interval | seeds |",
            "|---|---:|---|---:|",
        ]
        lines += [
            f"| {name} | {m:.4f} | [{lo:.4f}, {hi:.4f}] ({1 - self.alpha:.0%} t) | {self.pairs} |"
            for name, (m, lo, hi) in rows
        ]
        lines.append(
            f"| difference (paired by seed) | {diff[0]:+.4f} | [{diff[1]:+.4f}, {diff[2]:+.4f}]"
            f" ({1 - 2 * self.level:.2%} t, this look's) | {self.pairs} pairs |"
        )
        lines.append(
            f"rule: a paired one-sided t-test after each pair at Pocock's level {self.level:.2g}, which keeps the"
            f" chance of a false pass over all the looks at alpha {self.alpha:g}"
        )
        lines.append(f"why: {self.why}")
        return "\n".join(lines)


def _t_interval(values: np.ndarray, alpha: float) -> tuple[float, float, float]:
    """Mean and two-sided t interval at level 1 - alpha (the mean itself when the values do not vary)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if values.size < 2 or np.all(values == values[0]):
        return mean, mean, mean
    half = float(stats.t.ppf(1 - alpha / 2, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size))
    return mean, mean - half, mean + half


def _one_sided(d: np.ndarray, bound: float, above: bool) -> float:
    """p of 'mu <= bound' (above) or 'mu >= bound' (not above): scipy.stats.ttest_1samp's one-sided p (the tests check
    them
    equal), from the t distribution's ufunc directly, since the benchmark simulates hundreds of thousands of looks."""
    t = (d.mean() - bound) / (d.std(ddof=1) / math.sqrt(d.size))
    return float(stdtr(d.size - 1, -t if above else t))


def _judge(
    kind: str, d: np.ndarray, effect: float, level: float, identical: bool
) -> tuple[str | None, float, float, str]:
    """One look: ('pass' | 'fail' | None, p of the pass test, p of the fail test, why) on the signed differences
    ``d``.
    """
    bounds = _bounds(kind, effect)
    if np.all(d == d[0]):
        return _judge_constant(kind, float(d[0]), d.size, bounds, effect, level, identical)
    if kind == "equivalent":
        p_pass = max(_one_sided(d, -effect, True), _one_sided(d, effect, False))  # TOST: both must reject
        p_fail = min(_one_sided(d, effect, True), _one_sided(d, -effect, False))  # clearly outside on one side
    else:
        p_pass, p_fail = _one_sided(d, bounds[0], True), _one_sided(d, bounds[0], False)
    if p_pass <= level:
        return "pass", p_pass, p_fail, f"the test of the claim rejects its opposite: p = {p_pass:.2g} <= {level:.2g}"
    if p_fail <= level:
        return (
            "fail",
            p_pass,
            p_fail,
            f"the data show the claim false: p = {p_fail:.2g} <= {level:.2g} for the opposite side",
        )
    return None, p_pass, p_fail, ""


def _judge_constant(
    kind: str, exact: float, n: int, bounds: tuple[float, ...], effect: float, level: float, identical: bool
) -> tuple[str | None, float, float, str]:
    """Every difference equal, so no spread for a t-test: exact for one config against itself, else the sign test.

    The same config on the same seeds trains bit-identically, so its difference is exactly 0 by
    construction and is judged at once. Two different configs that happen to tie on every seed so
    far (accuracies on a small test set are coarse) are judged by the sign test: all n differences
    on one side of the bound has p = 0.5^n under the opposite claim for the median.
    """
    inside = (
        exact > bounds[0] if kind == "better" else exact >= bounds[0] if kind == "no_worse" else abs(exact) <= effect
    )
    if identical:
        return (
            ("pass" if inside else "fail"),
            float(not inside),
            float(inside),
            (
                f"one config against itself: every paired difference is exactly {exact:+g} (identical training), taken"
                " as exact"
            ),
        )
    strictly = exact > bounds[0] if kind != "equivalent" else abs(exact) < effect
    outside = exact < bounds[0] if kind != "equivalent" else abs(exact) > effect
    p = 0.5**n
    said = (
        f"every one of the {n} paired differences is exactly {exact:+g} (no spread: the sign test, p = 0.5^{n} ="
        f" {p:.2g})"
    )
    if strictly and p <= level:
        return "pass", p, 1.0, said
    if outside and p <= level:
        return "fail", 1.0, p, said
    return None, (p if strictly else 1.0), (p if outside else 1.0), said


def pairs_needed(kind: str, d: np.ndarray, effect: float, alpha: float) -> int | None:
    """Pairs a fixed design at ``alpha`` would need to pass at the mean and spread seen; None when the mean is on the
    wrong side.
    """
    mean, sd = float(np.mean(d)), float(np.std(d, ddof=1))
    distance = mean - effect if kind == "better" else mean + effect if kind == "no_worse" else effect - abs(mean)
    if distance <= 0 or sd == 0:
        return None
    n = np.arange(2, MAX_NEEDED + 1)
    enough = np.flatnonzero(distance / (sd / np.sqrt(n)) >= stdtrit(n - 1, 1 - alpha))  # the t quantile, as stats.t.ppf
    return int(n[enough[0]]) if enough.size else None


def decide(
    kind: str,
    pairs: Callable[[int], tuple[list[float], list[float]]],
    *,
    effect: float = 0.0,
    better: int = 1,
    alpha: float = ALPHA,
    seeds: tuple[int, int] = SEEDS,
    names: tuple[str, str] = ("candidate", "baseline"),
    metric: str = "score",
    identical: bool = False,
) -> Decision:
    """Ask ``pairs(n)`` for the first n pairs' (candidate, baseline) values, n = seeds[0], seeds[0] + 1, ..., until the
    rule decides.

    ``identical``: both sides are one config on the same seeds (equal differences are then exact, not chance).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    minimum, maximum = seeds
    levels = look_levels(minimum, maximum, alpha)
    looks = []
    for n in range(minimum, maximum + 1):
        cand, base = pairs(n)
        cand, base = list(map(float, cand[:n])), list(map(float, base[:n]))
        d = better * (np.asarray(cand) - np.asarray(base))
        verdict, p_pass, p_fail, why = _judge(kind, d, effect, levels[n], identical)
        looks.append((n, levels[n], p_pass, p_fail))
        if verdict is not None:
            return Decision(kind, verdict, why, effect, alpha, levels[n], cand, base, better, names, metric, looks)
    needed = pairs_needed(kind, d, effect, alpha)
    if why:  # the differences never varied: the sign test needs more pairs than the maximum
        why = f"undecided after {maximum} pairs (the most seeds allows): {why}"
    elif needed:
        why = (
            f"undecided after {maximum} pairs (the most seeds allows); at the spread seen a fixed design at alpha"
            f" {alpha:g} would need {needed} pairs"
        )
    else:
        why = (
            f"undecided after {maximum} pairs (the most seeds allows); the mean difference is on the wrong side of the"
            " bound, so more pairs would not make it pass"
        )
    return Decision(kind, "undecided", why, effect, alpha, levels[maximum], cand, base, better, names, metric, looks)
