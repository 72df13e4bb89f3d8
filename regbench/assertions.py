"""Benchmark assertions for any pytest suite: a regularizer helps, a change costs nothing, two setups are equivalent.

    import regbench

    def test_label_smoothing_helps():
        regbench.assert_better("label-smoothing", "baseline", min_effect=0.0)

    def test_refactor_changes_nothing():
        regbench.assert_equivalent("my_bench:NEW", "my_bench:OLD", margin=0.005)

Each trains both configs on the same seeds, a pair at a time from ``seeds[0]`` to ``seeds[1]``,
and decides after every pair with ``regbench.sequential``'s rule: pass, fail, or one more pair.
A pass returns the ``Decision``; a failure or an undecided comparison raises
``BenchmarkAssertionError`` whose message is the decision's table. Cells are cached
(``regbench.cache``): a second run of the same tests trains nothing.

The error rates of each assertion at its defaults (false passes at the boundary of its claim,
failures where it should pass, real regressions caught) are measured by
``benchmarks/test_assertions.py``, from sequences simulated with the digits' real per-seed spread
and from real training, into results/latest/assertions_cpu.json.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from regbench.cache import default_root, train_cells
from regbench.compare.rules import RULES
from regbench.configs import Config, select_configs
from regbench.datasets import DEFAULT, select_datasets
from regbench.errors import UsageError
from regbench.experiment import Settings
from regbench.results import metric_value
from regbench.runner import resolve_device
from regbench.sequential import ALPHA, SEEDS, Decision, decide

__all__ = [
    "BenchmarkAssertionError",
    "assert_better",
    "assert_equivalent",
    "assert_no_worse",
    "compare_configs",
    "directed_metrics",
    "take_decisions",
]

_MADE: list[
    Decision
] = []  # decisions since the last take_decisions(): the pytest plugin adds each to its test's report


class BenchmarkAssertionError(AssertionError):
    """A benchmark assertion that failed or could not decide; ``decision`` holds every number, the message its table."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.table())
        self.decision = decision


def directed_metrics() -> dict[str, int]:
    """The run metrics an assertion can judge, with their direction (+1 higher is better, -1 lower)."""
    return {m: rule.better for m, rule in RULES.items() if rule.better and not rule.invariant and not rule.speed}


def _check(metric: str, effect: float, effect_name: str, alpha: float, seeds: tuple[int, int]) -> int:
    """The metric's direction, after refusing each bad argument by name."""
    known = directed_metrics()
    if metric not in known:
        raise UsageError(
            f"metric {metric!r} is not one a benchmark assertion can judge; choose one of {', '.join(known)}"
        )
    if not isinstance(effect, (int, float)) or isinstance(effect, bool) or not math.isfinite(effect) or effect < 0:
        raise UsageError(f"{effect_name} must be a number >= 0 in {metric}'s units, got {effect!r}")
    if not 0 < alpha < 1:
        raise UsageError(f"alpha must be between 0 and 1, got {alpha!r}")
    if (
        not isinstance(seeds, (tuple, list))
        or len(seeds) != 2
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
        or seeds[0] < 2
        or seeds[0] > seeds[1]
    ):
        raise UsageError(f"seeds must be (minimum, maximum) pairs with 2 <= minimum <= maximum, got {seeds!r}")
    return known[metric]


def compare_configs(
    kind: str,
    candidate: str | Config,
    baseline: str | Config,
    *,
    metric: str = "test_accuracy",
    effect: float = 0.0,
    alpha: float = ALPHA,
    seeds: tuple[int, int] = SEEDS,
    dataset: Any = "digits",
    root: Path | str | None = None,
    n_train: Any = DEFAULT,
    n_test: Any = DEFAULT,
    epochs: int = Settings.epochs,
    batch_size: int = Settings.batch_size,
    lr: float = Settings.lr,
    device: str = "auto",
    engine: str = "fast",
    cache: Path | str | None = None,
) -> Decision:
    """Train both configs seed-paired, adding pairs until ``regbench.sequential.decide`` decides ``kind``; the
    Decision either way.
    """
    better = _check(metric, effect, "min_effect" if kind == "better" else "margin", alpha, seeds)
    cand, base = (_one_config(c, name) for c, name in ((candidate, "candidate"), (baseline, "baseline")))
    datasets = select_datasets(dataset, roots={"": root} if root is not None else None, n_train=n_train, n_test=n_test)
    if len(datasets) != 1:
        raise UsageError(f"dataset must name one dataset, got {len(datasets)} ({', '.join(d.name for d in datasets)})")
    settings = Settings(epochs=epochs, batch_size=batch_size, lr=lr, device=resolve_device(device), engine=engine)
    where = Path(cache) if cache is not None else default_root()

    def pairs(n: int) -> tuple[list[float], list[float]]:
        records = train_cells([cand, base], n, datasets[0], settings, root=where, n_train=n_train, n_test=n_test)
        return [metric_value(r, metric) for r in records[cand.name]], [
            metric_value(r, metric) for r in records[base.name]
        ]

    names = (
        (cand.name, base.name) if cand.name != base.name else (f"{cand.name} (candidate)", f"{base.name} (baseline)")
    )
    decision = decide(
        kind,
        pairs,
        effect=effect,
        better=better,
        alpha=alpha,
        seeds=tuple(seeds),
        names=names,
        metric=metric,
        identical=cand.hash == base.hash,
    )
    _MADE.append(decision)
    return decision


def take_decisions() -> list[Decision]:
    """The decisions made since the last call, and forget them (the plugin puts each test's in its report)."""
    made = list(_MADE)
    _MADE.clear()
    return made


def _one_config(config: str | Config, argument: str) -> Config:
    """One config from a Config, a built-in name or 'module:attribute'."""
    chosen = select_configs([config] if isinstance(config, Config) else str(config))
    if len(chosen) != 1:
        raise UsageError(f"{argument} must be one config, got {len(chosen)} from {config!r}")
    return chosen[0]


def _asserted(decision: Decision) -> Decision:
    """Return a pass, raise anything else."""
    if not decision.passed:
        raise BenchmarkAssertionError(decision)
    return decision


def assert_better(
    candidate: str | Config,
    baseline: str | Config,
    *,
    metric: str = "test_accuracy",
    min_effect: float = 0.0,
    alpha: float = ALPHA,
    seeds: tuple[int, int] = SEEDS,
    dataset: Any = "digits",
    **settings: Any,
) -> Decision:
    """Pass when ``candidate`` beats ``baseline`` on ``metric`` by more than ``min_effect`` (in the metric's direction).

    A pass when the true difference is exactly ``min_effect`` is a false pass, kept near ``alpha``
    over all the looks; a true effect a per-seed spread or more above ``min_effect`` passes
    (rates measured by benchmarks/test_assertions.py). A config against itself trains
    bit-identically, every difference is exactly 0: it fails, saying so.
    ``settings``: root, n_train, n_test, epochs, batch_size, lr, device, engine, cache.
    """
    return _asserted(
        compare_configs(
            "better",
            candidate,
            baseline,
            metric=metric,
            effect=min_effect,
            alpha=alpha,
            seeds=seeds,
            dataset=dataset,
            **settings,
        )
    )


def assert_no_worse(
    candidate: str | Config,
    baseline: str | Config,
    *,
    metric: str = "test_accuracy",
    margin: float,
    alpha: float = ALPHA,
    seeds: tuple[int, int] = SEEDS,
    dataset: Any = "digits",
    **settings: Any,
) -> Decision:
    """Pass when ``candidate`` is worse than ``baseline`` by less than ``margin`` (non-inferiority).

    A pass when the candidate is worse by exactly ``margin`` is a false pass, kept near ``alpha``
    over all the looks; no true difference passes (rates measured by benchmarks/test_assertions.py).
    A config against itself passes (every difference exactly 0, within any margin).
    ``settings`` as assert_better's.
    """
    return _asserted(
        compare_configs(
            "no_worse",
            candidate,
            baseline,
            metric=metric,
            effect=margin,
            alpha=alpha,
            seeds=seeds,
            dataset=dataset,
            **settings,
        )
    )


def assert_equivalent(
    a: str | Config,
    b: str | Config,
    *,
    metric: str = "test_accuracy",
    margin: float,
    alpha: float = ALPHA,
    seeds: tuple[int, int] = SEEDS,
    dataset: Any = "digits",
    **settings: Any,
) -> Decision:
    """Pass when ``a`` and ``b`` differ by less than ``margin`` either way (two one-sided tests): "this refactor changed
    nothing measurable".

    Passes when it should not: 0.0025 and 0.0095 of simulated sequences differing by exactly +margin
    and -margin (0.01). Fails when it should pass: under 0.002 at no true difference, 0.13 at half
    the margin; 1 of 20 real A/A cases on disjoint seeds (undecided at 20 pairs). A config against
    itself passes at once (every difference exactly 0). ``settings`` as assert_better's.
    """
    return _asserted(
        compare_configs(
            "equivalent", a, b, metric=metric, effect=margin, alpha=alpha, seeds=seeds, dataset=dataset, **settings
        )
    )
