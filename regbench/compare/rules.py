"""How each metric is judged, and what must match for two files to compare at all.

Minimum effects: one point of accuracy (30 of 3,000 test images) and 0.02 of cross-entropy, about
one to two seed-to-seed SDs on the embedded digits (test accuracy SD 0.003-0.016, test loss
0.008-0.047 over 5 seeds), small enough to catch dropout left on at evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

from regbench.spec import COMPARED

__all__ = [
    "ALPHA",
    "HARDWARE",
    "LIBRARIES",
    "MIN_STRATA",
    "RULES",
    "SETTINGS_THAT_MATTER",
    "SPEED_TOLERANCE",
    "SPREAD_LIMIT",
    "TIMING_ONLY",
    "Rule",
    "rule_of",
]

ALPHA = 0.01  # ~150 rows are tested at once; 0.01 keeps chance hits rare and is attainable by 5 vs 5 seeds
SPEED_TOLERANCE = (
    0.2  # a throughput more than 20% lower fails, if the whole interval says so: below that, shared machines wander
)
SPREAD_LIMIT = 3.0  # undecidable when a regression three times the minimum effect could hide inside the CI
# a pooled row needs this many configs (or benchmarks): with fewer, its t interval (strata - 1 degrees of freedom) is
# too wide to tell
MIN_STRATA = 5


@dataclass(frozen=True)
class Rule:
    """How one metric is judged: which way is better, and the smallest change that matters."""

    title: str
    better: int  # +1 higher is better, -1 lower is better, 0 neither: a change is reported, never fails
    min_effect: float  # in the metric's units; for speed, a fraction of the baseline (the tolerance)
    speed: bool = False  # throughput: judged on the log scale (speed is multiplicative), min_effect a fraction
    invariant: bool = False  # must be exactly 0 in every run: any nonzero value where the baseline had none fails


RULES: dict[str, Rule] = {
    "test_accuracy": Rule("test accuracy", +1, 0.01),
    "train_accuracy": Rule("train accuracy", 0, 0.01),  # lower can be the point of regularizing
    "gap_accuracy": Rule("gap (train-test acc)", -1, 0.01),
    "test_loss": Rule("test loss", -1, 0.02),
    "gap_loss": Rule("gap (train-test loss)", +1, 0.02),  # negative; further below zero is more overfit
    "sparsity": Rule("sparsity", 0, 0.02),  # L1 moves it by 0.5; seeds by 0.01
    "mean_abs_weight": Rule("mean |W|", 0, 0.0005),  # L2 moves it by 0.01; seeds by 0.0001
    # Invariants every run measures (regbench.metrics): a penalty's gradient on biases and 1-D
    # parameters, and the difference between two eval passes. Correct code gives exactly 0.
    "penalty_leak": Rule("penalty grad on biases", -1, 0.0, invariant=True),
    "eval_nondeterminism": Rule("eval nondeterminism", -1, 0.0, invariant=True),
    "samples_per_second": Rule("samples/s", +1, SPEED_TOLERANCE, speed=True),
    "calls_per_second": Rule("calls/s", +1, SPEED_TOLERANCE, speed=True),
}
SETTINGS_THAT_MATTER = COMPARED  # one list, beside the rest of a run's description (regbench.spec)
HARDWARE = ("device", "device_name", "cpu_brand", "cpu_count", "cuda_device_name")
TIMING_ONLY = (
    "torch_threads",
)  # changes speed, not results (1 and 2 threads differ only by rounding in a loss): never refused
LIBRARIES = ("torch", "torchvision", "python")  # what computes the numbers; numpy and scipy only summarize them


def rule_of(metric: str) -> Rule:
    """A metric's rule; one regbench does not know is reported, never judged."""
    return RULES.get(metric, Rule(metric, 0, float("inf")))
