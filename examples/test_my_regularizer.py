"""Benchmark assertions on your own regularizers (examples/my_regularizers.py), inside your own pytest suite.

    pytest examples/test_my_regularizer.py -v      # from the repository root; the first run trains, a second trains
    nothing

Each assertion trains both configs on the same seeds, a pair at a time, until it can decide
(regbench.sequential): a pass or a failure whose message is a table of both sides, the paired
difference and why. The regbench_bench fixture (regbench's pytest plugin) caches every trained
cell in pytest's cache folder, or in --regbench-cache DIR.
"""

from my_regularizers import MAXNORM

SETTINGS = dict(
    dataset="digits", epochs=20, seeds=(3, 20)
)  # the notebook's 100 images per class and 20 epochs; 3 to 20 seed pairs


def test_label_smoothing_helps(regbench_bench):
    """The claim a regularizer paper makes, as a test: better than the baseline (by any amount) at alpha 0.01."""
    regbench_bench.assert_better("label-smoothing", "baseline", **SETTINGS)


def test_maxnorm_costs_under_two_points(regbench_bench):
    """Non-inferiority: the soft max-norm penalty loses less than 2 points of test accuracy."""
    regbench_bench.assert_no_worse(MAXNORM, "baseline", margin=0.02, **SETTINGS)


def test_maxnorm_matches_l2_within_a_point(regbench_bench):
    """Equivalence (two one-sided tests): the max-norm penalty and L2 within 1 point of each other either way."""
    regbench_bench.assert_equivalent(MAXNORM, "l2", margin=0.01, **SETTINGS)
