"""Verdicts: every (config or benchmark, metric) judged on its own, then every metric judged over all configs at once.

A row fails ("regression") only when the whole (1 - alpha) interval of its change lies beyond
its minimum effect in the worse direction: significant and meaningful at once. A row whose
interval is too wide to rule out a regression SPREAD_LIMIT times the minimum effect is
"undecidable", with the number of seeds (or rounds) per side that would decide it. Invariants
need no statistics: nonzero in any candidate run where no baseline run was fails.

The pooled rows catch what no single row can: a change every config shows a little of (a slower
forward pass, a lower learning rate) is within each config's seed noise at 2 seeds, but the
configs agree. Each pooled row is judged with the same alpha and minimum effect as the rows it
pools; a change in one config alone is still judged by that config's row.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from regbench.compare.inputs import (
    GateRefused,
    Measurements,
    config_changes,
    environment_mismatches,
    settings_mismatches,
)
from regbench.compare.rules import ALPHA, MIN_STRATA, RULES, SPEED_TOLERANCE, SPREAD_LIMIT, Rule, rule_of
from regbench.compare.stats import (
    Interval,
    median_interval,
    needed_per_side,
    pooled_noise,
    shared_noise,
    stratified,
    welch,
)

__all__ = [
    "POOLED",
    "Report",
    "Row",
    "SpeedNoise",
    "compare",
    "judge_invariant",
    "judge_seeds",
    "judge_speed",
    "speed_noise",
]

POOLED = "pooled"  # the group of a row judging one metric over every config (or benchmark) both files have


@dataclass
class Row:
    """One metric of one config or benchmark (or of all of them, pooled): both sides, the change with its CI, and the
    verdict.
    """

    group: str
    metric: str
    baseline: float  # mean across seeds (geometric mean for speed)
    candidate: float
    n: tuple[int, int]  # values per side; for a pooled row, configs (or benchmarks) pooled
    change: float  # candidate - baseline; for speed candidate / baseline
    ci: tuple[float, float]  # confidence interval (1 - alpha) of the change
    p_value: float
    verdict: str  # ok | regression | improved | changed | undecidable | ignored | missing | new
    note: str = ""
    needed: Optional[int] = None  # undecidable rows: seeds (or rounds) per side that would decide them

    @property
    def pooled(self) -> bool:
        return self.group.startswith(POOLED)


@dataclass
class Report:
    """Everything the gate decided, ready to print or write as JSON."""

    baseline: str
    candidate: str
    alpha: float
    rows: list[Row]
    warnings: list[str]
    unit: str = "seeds"  # what a row's values are: seeds (regbench results) or rounds (pytest-benchmark)
    speed_tolerance: float = SPEED_TOLERANCE  # the minimum effect throughput was judged at

    @property
    def regressions(self) -> list[Row]:
        """Rows that fail the gate, pooled rows first."""
        return sorted((r for r in self.rows if r.verdict == "regression"), key=lambda r: not r.pooled)

    @property
    def undecidable(self) -> list[Row]:
        """Rows the gate could not judge, each with its reason."""
        return [r for r in self.rows if r.verdict == "undecidable"]

    def as_dict(self) -> dict:
        """JSON-ready: the verdict of every row plus the overall result."""
        return {**asdict(self), "passed": not self.regressions, "decided": not self.undecidable}


def _threshold(rule: Rule) -> float:
    """The minimum effect on the scale a change is judged on (log for speed)."""
    return -math.log(1 - rule.min_effect) if rule.speed else rule.min_effect


def _verdict(interval: Interval, rule: Rule, alpha: float) -> tuple[str, str]:
    """Where the interval lies against the minimum effect: regression, improved, changed, undecidable or ok."""
    m = _threshold(rule)
    effect = f"{rule.min_effect:.0%}" if rule.speed else f"{m:g}"
    if interval.low > m or interval.high < -m:
        if rule.better == 0:
            return "changed", f"CI beyond +-{effect}; no better direction, so it does not fail"
        worse = interval.high < -m if rule.better > 0 else interval.low > m
        return ("regression" if worse else "improved"), f"CI beyond the minimum effect {effect}"
    if interval.half_width > SPREAD_LIMIT * m:
        return "undecidable", f"CI too wide to tell a change of {SPREAD_LIMIT:g}x the minimum effect {effect}"
    return "ok", ("significant, but within the minimum effect" if interval.p < alpha else "")


def judge_invariant(base: list[float], cand: list[float]) -> tuple[float, tuple[float, float], float, str, str]:
    """An exact invariant needs no statistics: nonzero in any candidate run, where no baseline run was, fails."""
    worst_base, worst_cand = max(base, default=0.0), max(cand, default=0.0)
    diff = worst_cand - worst_base
    if worst_cand > 0 and worst_base == 0:
        return (
            diff,
            (diff, diff),
            0.0,
            "regression",
            f"invariant broken: 0 in every baseline run, up to {worst_cand:.3g} in the candidate",
        )
    return diff, (diff, diff), 1.0, "ok", "" if worst_cand == 0 else "nonzero in the baseline too"


def judge_seeds(
    base: list[float], cand: list[float], rule: Rule, alpha: float
) -> tuple[float, tuple[float, float], float, str, str]:
    """Welch's t interval across seeds: (change, CI, p, verdict, note), judged by where the whole CI lies."""
    if rule.invariant:
        return judge_invariant(base, cand)
    if len(base) < 2 or len(cand) < 2:
        return (
            float(np.mean(cand) - np.mean(base)),
            (math.nan, math.nan),
            math.nan,
            "undecidable",
            "needs at least 2 values on each side",
        )
    interval = welch(base, cand, alpha)
    return (interval.estimate, (interval.low, interval.high), interval.p, *_verdict(interval, rule, alpha))


def judge_speed(
    base: list[float], cand: list[float], rule: Rule, alpha: float, tolerance: float
) -> tuple[float, tuple[float, float], float, str, str]:
    """Welch's t interval of the difference of mean log throughput: (ratio, CI of the ratio, p, verdict, note).

    A ratio fails when its whole interval lies below 1 - tolerance. On the log scale a 20x drop
    with a tight spread is clear from 2 values per side, and overlapping values stay undecidable.
    """
    rule = Rule(rule.title, rule.better, tolerance, speed=True)
    if len(base) < 2 or len(cand) < 2:
        return (
            _geometric(cand) / _geometric(base),
            (math.nan, math.nan),
            math.nan,
            "undecidable",
            "needs at least 2 values on each side",
        )
    interval = welch(np.log(base), np.log(cand), alpha)
    verdict, note = _verdict(interval, rule, alpha)
    return math.exp(interval.estimate), (math.exp(interval.low), math.exp(interval.high)), interval.p, verdict, note


def _geometric(values: list[float]) -> float:
    """Geometric mean: the centre of throughput on the scale it is judged on."""
    return float(np.exp(np.mean(np.log(values)))) if values else math.nan


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


@dataclass(frozen=True)
class SpeedNoise:
    """A run's timing noise, measured over every config at once: the SD of one value's log throughput and its degrees of
    freedom.

    ``paired``: both runs trained the same seeds interleaved, and the SD is that of a seed's
    paired difference (candidate - baseline, logs); otherwise the within-config SD of one run's
    value, pooled over both files.
    """

    sd: float
    df: int
    configs: int
    paired: bool

    def interval(
        self, base: list[float], cand: list[float], pairs: Optional[list[tuple[float, float]]], alpha: float
    ) -> Interval:
        """The change of mean log throughput, with this noise's t interval."""
        if self.paired and pairs:
            diffs = [math.log(c) - math.log(b) for b, c in pairs]
            return shared_noise(float(np.mean(diffs)), self.sd, self.df, 1 / math.sqrt(len(diffs)), alpha)
        estimate = float(np.mean(np.log(cand)) - np.mean(np.log(base)))
        return shared_noise(estimate, self.sd, self.df, math.sqrt(1 / len(base) + 1 / len(cand)), alpha)

    def describe(self) -> str:
        """How the row was judged, for its note."""
        what = "paired differences" if self.paired else "seeds"
        return (
            f"timing noise of {what} pooled over {self.configs} configs (SD {self.sd:.3f} of log samples/s,"
            f" {self.df} df)"
        )


def speed_noise(
    metric: str, baseline: Measurements, candidate: Measurements, groups: list[str], *, paired: bool
) -> Optional[SpeedNoise]:
    """The timing noise of ``metric`` over ``groups`` in both files (None when no group has two values to spread)."""
    samples = []
    for group in groups:
        if paired:
            samples.append([math.log(c) - math.log(b) for b, c in _pairs(baseline, candidate, group, metric)])
        else:
            samples += [np.log(side.values[(group, metric)]) for side in (baseline, candidate)]
    sd, df = pooled_noise(samples)
    return SpeedNoise(sd, df, len(groups), paired) if df >= 1 else None


def _pairs(baseline: Measurements, candidate: Measurements, group: str, metric: str) -> list[tuple[float, float]]:
    """(baseline, candidate) values of the seeds both files have, in seed order."""
    key = (group, metric)
    base = dict(zip(baseline.seeds.get(key, []), baseline.values.get(key, [])))
    cand = dict(zip(candidate.seeds.get(key, []), candidate.values.get(key, [])))
    return [(base[k], cand[k]) for k in sorted(base.keys() & cand.keys())]


def _row(
    group: str,
    metric: str,
    base: list[float],
    cand: list[float],
    alpha: float,
    tolerance: float,
    machine: list[str],
    unit: str,
    noise: Optional[SpeedNoise] = None,
    pairs: Optional[list[tuple[float, float]]] = None,
) -> Row:
    """One metric's verdict, or 'missing'/'new' when only one side has it; throughput against the run's ``noise``
    when given.
    """
    rule = rule_of(metric)
    n = (len(base), len(cand))
    centre = _geometric if rule.speed else _mean
    if not base or not cand:
        verdict, note = ("missing", "no values in the candidate") if base else ("new", "no values in the baseline")
        return Row(
            group, metric, centre(base), centre(cand), n, math.nan, (math.nan, math.nan), math.nan, verdict, note
        )
    speed_rule = Rule(rule.title, rule.better, tolerance, speed=True) if rule.speed else rule
    changes = (
        [c - b for b, c in pairs] if pairs and len(pairs) >= 2 and not (rule.speed or rule.invariant) else None
    )  # paired by seed
    if rule.speed and noise is not None:
        interval = noise.interval(base, cand, pairs, alpha)
        verdict, note = _verdict(interval, speed_rule, alpha)
        change, ci, p = math.exp(interval.estimate), (math.exp(interval.low), math.exp(interval.high)), interval.p
        note = f"{note}; {noise.describe()}" if note else noise.describe()
    elif rule.speed:
        change, ci, p, verdict, note = judge_speed(base, cand, rule, alpha, tolerance)
    elif changes is not None:  # the same seeds on both sides: each seed's change, one-sample t
        interval = stratified(changes, alpha)
        change, ci, p = interval.estimate, (interval.low, interval.high), interval.p
        verdict, note = _verdict(interval, rule, alpha)
        note = f"{note}; paired by seed" if note else "paired by seed"
    else:
        change, ci, p, verdict, note = judge_seeds(base, cand, rule, alpha)
    if rule.speed and machine:
        verdict, note = "undecidable", f"{'; '.join(machine)}: timings do not compare"
    row = Row(group, metric, centre(base), centre(cand), n, change, ci, p, verdict, note)
    if verdict == "undecidable" and not machine and min(n) >= 2:
        scale = np.log if rule.speed else np.asarray
        if noise is not None:
            shared = (noise.sd / math.sqrt(2) if noise.paired else noise.sd, noise.df)
        elif changes is not None:
            shared = (float(np.std(changes, ddof=1)) / math.sqrt(2), len(changes) - 1)
        else:
            shared = None
        row.needed = needed_per_side(
            scale(base), scale(cand), alpha, SPREAD_LIMIT * _threshold(speed_rule), noise=shared
        )
        if row.needed is not None:
            row.note += f": {row.needed} {unit} per side would decide it"
    return row


def _pooled(
    metric: str,
    rows: list[Row],
    values: dict,
    alpha: float,
    tolerance: float,
    machine: list[str],
    strata: str,
    left_out: set[str] = frozenset(),
) -> Optional[Row]:
    """One metric over every group both files measured (but ``left_out``): the per-group changes as strata of a
    one-sample t interval.
    """
    rule = rule_of(metric)
    if rule.invariant or math.isinf(rule.min_effect):
        return None
    judged = [
        r
        for r in rows
        if r.metric == metric
        and r.verdict not in ("missing", "new", "ignored")
        and min(r.n) >= 1
        and not (rule.speed and r.group in left_out)
    ]
    if len(judged) < MIN_STRATA:
        return None
    scale = np.log if rule.speed else np.asarray
    changes = [
        float(np.mean(scale(values[1][(r.group, metric)])) - np.mean(scale(values[0][(r.group, metric)])))
        for r in judged
    ]
    robust = (
        median_interval(changes, alpha) if rule.speed else None
    )  # timings are heavy-tailed under load: the median, when enough strata
    interval = robust or stratified(changes, alpha)
    effective = Rule(rule.title, rule.better, tolerance, speed=True) if rule.speed else rule
    verdict, note = _verdict(interval, effective, alpha)
    if robust is not None:
        note = (
            f"{note}; median of the {strata}' changes, sign-test interval"
            if note
            else f"median of the {strata}' changes, sign-test interval"
        )
    if rule.speed and machine:
        verdict, note = "undecidable", f"{'; '.join(machine)}: timings do not compare"
    elif verdict == "undecidable":
        note = f"the {len(judged)} {strata}' changes scatter too much: {note}"
    base = [r.baseline for r in judged]
    cand = [r.candidate for r in judged]
    centre = _geometric if rule.speed else _mean
    if rule.speed:
        change, ci = math.exp(interval.estimate), (math.exp(interval.low), math.exp(interval.high))
    else:
        change, ci = interval.estimate, (interval.low, interval.high)
    return Row(
        f"{POOLED} ({len(judged)} {strata})",
        metric,
        centre(base),
        centre(cand),
        (len(judged), len(judged)),
        change,
        ci,
        interval.p,
        verdict,
        note,
    )


def compare(
    baseline: Measurements,
    candidate: Measurements,
    *,
    alpha: float = ALPHA,
    speed_tolerance: float = SPEED_TOLERANCE,
    allow_env_mismatch: bool = False,
    allow_settings_mismatch: bool = False,
    ignore: tuple[str, ...] = (),
    paired: bool = False,
) -> Report:
    """Judge every metric of every config or benchmark, then every metric pooled; refuse when the files do not compare.

    ``paired``: both files trained the same seeds interleaved on one machine (``regbench
    continuous``), so each seed's value is judged against its baseline twin: throughput against
    the paired differences' pooled noise, every other metric by a one-sample t interval of its
    per-seed changes (unchanged code gives exact zeros, and an exact verdict).
    """
    if baseline.kind != candidate.kind:
        raise GateRefused(f"cannot compare {baseline.kind} ({baseline.path}) with {candidate.kind} ({candidate.path})")
    hardware, libraries, timing = environment_mismatches(baseline.environment, candidate.environment)
    if (hardware or libraries) and not allow_env_mismatch:
        raise GateRefused(
            f"baseline and candidate come from different environments ({'; '.join(hardware + libraries)}); "
            "make a baseline on this machine, or pass --allow-env-mismatch to compare anyway"
        )
    changed_settings = (
        settings_mismatches(baseline.settings, candidate.settings) if baseline.kind == "regbench results" else []
    )
    if changed_settings and not allow_settings_mismatch:
        raise GateRefused(
            f"baseline and candidate were trained with different settings ({'; '.join(changed_settings)}); "
            "compare runs made with the same settings, or pass --allow-settings-mismatch"
        )
    changed_configs = config_changes(baseline.configs, candidate.configs)
    if changed_configs and not allow_settings_mismatch:
        raise GateRefused(
            f"same-named configs differ between baseline and candidate ({'; '.join(changed_configs)}); "
            "compare runs of the same configs, or pass --allow-settings-mismatch"
        )
    warnings = [f"different hardware: {d}" for d in hardware] + [f"different libraries: {d}" for d in libraries]
    warnings += [f"different thread count: {d} (throughput not judged)" for d in timing]
    warnings += [f"different settings: {d}" for d in changed_settings] + [
        f"different definition: {d}" for d in changed_configs
    ]
    unit, strata = ("seeds", "configs") if baseline.kind == "regbench results" else ("rounds", "benchmarks")
    machine = [f"different hardware ({d})" for d in hardware] + [f"different threads ({d})" for d in timing]
    executed = _execution_changes(baseline, candidate)
    warnings += [f"{group}: trained {how}; its throughput is reported, not judged" for group, how in executed.items()]
    keys = _keys(baseline, candidate)
    noises = {}
    if unit == "seeds":  # a regbench run's timings: judged against the whole run's timing noise (stats)
        for metric in dict.fromkeys(m for _, m in keys if rule_of(m).speed):
            both = [
                g
                for g, m in keys
                if m == metric and g not in executed and baseline.values.get((g, m)) and candidate.values.get((g, m))
            ]
            noises[metric] = speed_noise(metric, baseline, candidate, both, paired=paired)
    rows = []
    for group, metric in keys:
        why_not = machine + ([f"trained {executed[group]}"] if group in executed else [])
        row = _row(
            group,
            metric,
            baseline.values.get((group, metric), []),
            candidate.values.get((group, metric), []),
            alpha,
            speed_tolerance,
            why_not,
            unit,
            noises.get(metric),
            _pairs(baseline, candidate, group, metric) if paired else None,
        )
        if metric in ignore and row.verdict not in ("missing", "new"):
            row.verdict, row.note, row.needed = "ignored", "--ignore: reported, not judged", None
        rows.append(row)
    pooled = []
    for metric in dict.fromkeys(r.metric for r in rows):
        row = _pooled(
            metric, rows, (baseline.values, candidate.values), alpha, speed_tolerance, machine, strata, set(executed)
        )
        if row is not None:
            if metric in ignore:
                row.verdict, row.note = "ignored", "--ignore: reported, not judged"
            pooled.append(row)
    rows = pooled + rows + _unfinished_rows(baseline.unfinished, candidate.unfinished)
    return Report(baseline.path, candidate.path, alpha, rows, warnings, unit, speed_tolerance)


def _execution_changes(baseline: Measurements, candidate: Measurements) -> dict[str, str]:
    """Configs trained one way in the baseline and another in the candidate ('sweep in the baseline, single in the
    candidate').
    """
    changes = {}
    for group in baseline.executions.keys() & candidate.executions.keys():
        old, new = baseline.executions[group], candidate.executions[group]
        if old != new:
            changes[group] = f"{'+'.join(sorted(old))} in the baseline, {'+'.join(sorted(new))} in the candidate"
    return changes


def _keys(baseline: Measurements, candidate: Measurements) -> list[tuple[str, str]]:
    """Baseline's (group, metric) pairs in order, then any the candidate adds; metrics in RULES order."""
    order = list(RULES)
    keys = list(dict.fromkeys([*baseline.values, *candidate.values]))
    groups = list(dict.fromkeys(g for g, _ in keys))
    return sorted(keys, key=lambda k: (groups.index(k[0]), order.index(k[1]) if k[1] in order else len(order)))


def _unfinished_rows(baseline: dict[str, tuple[int, int]], candidate: dict[str, tuple[int, int]]) -> list[Row]:
    """A config whose runs now fail (diverge, error, crash, time out) where they did not fails: that is never seed
    noise.
    """
    rows = []
    for group in dict.fromkeys([*baseline, *candidate]):
        (bf, bn), (cf, cn) = baseline.get(group, (0, 0)), candidate.get(group, (0, 0))
        if not (bf or cf):
            continue
        base_rate, cand_rate = bf / bn if bn else 0.0, cf / cn if cn else 0.0
        worse = cand_rate > base_rate
        rows.append(
            Row(
                group,
                "unfinished_runs",
                base_rate,
                cand_rate,
                (bn, cn),
                cand_rate - base_rate,
                (math.nan, math.nan),
                math.nan,
                "regression" if worse else "ok",
                f"{bf}/{bn} -> {cf}/{cn} runs did not finish",
            )
        )
    return rows
