"""How often fresh seed noise alone fails the gate, measured by simulation from a results file's own spreads.

Each simulated A/A pair draws, for every (config, metric) the gate judges across seeds, a
baseline and a candidate of ``seeds`` values each from a normal distribution with that config's
mean and seed-to-seed standard deviation in the file, and runs the whole gate (every row and
the pooled rows) on them. The false-failure rate is the fraction of pairs with any regression,
with its Clopper-Pearson interval. Invariants (exact) and throughput (machine noise, not seed
noise: measured with real reruns in ``benchmarks/test_gate_power.py``) are left out.

    python -m regbench.compare.simulate results/baseline-cpu.json --seeds 5 --simulations 10000
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from regbench.compare.inputs import Measurements, load_measurements
from regbench.compare.rules import ALPHA, rule_of
from regbench.compare.verdicts import compare

__all__ = ["false_failure_rate", "main"]


def false_failure_rate(
    path: Path | str, *, seeds: int, simulations: int, alpha: float = ALPHA, seed: int = 0, confidence: float = 0.95
) -> dict:
    """Simulated A/A gates from the spreads in ``path``: how many fail, the rate and its Clopper-Pearson interval."""
    from scipy import stats

    measured = load_measurements(path)
    spreads = {
        key: (float(np.mean(v)), float(np.std(v, ddof=1)))
        for key, v in measured.values.items()
        if len(v) >= 2 and not rule_of(key[1]).speed and not rule_of(key[1]).invariant and rule_of(key[1]).better != 0
    }
    rng = np.random.default_rng(seed)
    failures, failing_rows = 0, {}
    for _ in range(simulations):
        sides = [
            Measurements(
                str(path),
                measured.kind,
                measured.environment,
                measured.settings,
                {key: list(mean + sd * rng.standard_normal(seeds)) for key, (mean, sd) in spreads.items()},
            )
            for _ in range(2)
        ]
        report = compare(*sides, alpha=alpha)
        failures += bool(report.regressions)
        for row in report.regressions:
            name = f"{row.group} {row.metric}"
            failing_rows[name] = failing_rows.get(name, 0) + 1
    low = float(stats.beta.ppf((1 - confidence) / 2, failures, simulations - failures + 1)) if failures else 0.0
    high = float(stats.beta.ppf(1 - (1 - confidence) / 2, failures + 1, simulations - failures))
    return {
        "file": str(path),
        "seeds": seeds,
        "simulations": simulations,
        "alpha": alpha,
        "rows_per_gate": len(spreads),
        "failures": failures,
        "rate": failures / simulations,
        "interval": [low, high],
        "confidence": confidence,
        "failing_rows": dict(sorted(failing_rows.items(), key=lambda kv: -kv[1])),
    }


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Print the simulated false-failure rate of a results file as JSON."""
    parser = argparse.ArgumentParser(prog="python -m regbench.compare.simulate", description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="a results.json whose seed spreads the simulation draws from")
    parser.add_argument(
        "--seeds", type=int, default=5, help="seeds per side in each simulated gate (default %(default)s)"
    )
    parser.add_argument("--simulations", type=int, default=10_000, help="simulated A/A pairs (default %(default)s)")
    args = parser.parse_args(argv)
    print(json.dumps(false_failure_rate(args.results, seeds=args.seeds, simulations=args.simulations), indent=1))


if __name__ == "__main__":
    main()
