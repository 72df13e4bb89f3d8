"""The property suite's false-failure budget (properties/budget.py): every statistical property is declared, and the
sum stays under the bound.
"""

from __future__ import annotations

import pytest

from properties import budget
from properties.budget import (
    FALSE_FAILURE_BOUND,
    Statistical,
    budget_table,
    check_budget,
    property_tests,
    registered,
    uses_statistics,
)
from properties.test_dropout import check_unbiased
from regbench.checks.statistics import PROPERTY_ALPHA, assert_binomial


def test_every_statistical_property_declares_its_budget():
    """A property test that reaches regbench.checks.statistics (itself, through a check, or through a statistical
    invariant)
    must be declared with @statistical, or its false failures would be counted nowhere."""
    tests = {
        name: test for name, test in property_tests().items() if not name.startswith("test_budget.py::")
    }  # these only plant them
    undeclared = sorted(name for name, test in tests.items() if uses_statistics(test) and name not in registered())
    assert not undeclared, f"statistical properties without @statistical(alpha=..., examples=...): {undeclared}"
    needless = sorted(name for name, test in tests.items() if name in registered() and not uses_statistics(test))
    assert not needless, f"declared statistical but reach no statistical assertion: {needless}"


@pytest.mark.parametrize("cuda", [False, True], ids=["cpu-run", "cuda-run"])
def test_a_run_stays_within_the_stated_bound(cuda):
    """The union bound over every declared property, each counted on every device it runs on, is at most
    FALSE_FAILURE_BOUND.
    """
    check_budget(cuda=cuda)
    assert {row[0] for row in budget_table(cuda=cuda)} >= {
        "test_dropout.py::test_train_mode_is_unbiased",
        "test_noise.py::test_zero_mean_and_stated_std",
    }


def _undeclared_statistical_property(device, case, seed):
    """A planted property: dropout's Hoeffding check, reached through a helper, with no @statistical."""
    check_unbiased(None, device, case=case, seed=seed)


def _undeclared_direct(n):
    assert_binomial(n, 10, 0.5, what="planted")


def _not_statistical(x):
    assert x == x


def test_the_walk_finds_statistics_behind_helpers():
    """Planted: properties that reach a statistical assertion directly or through a check are found; a plain one is
    not.
    """
    assert uses_statistics(_undeclared_statistical_property) and uses_statistics(_undeclared_direct)
    assert not uses_statistics(_not_statistical)


def test_a_budget_over_the_bound_is_refused():
    """Planted: one more property at PROPERTY_ALPHA x 5 tests on the profile's examples, on two devices, breaks the
    bound.
    """
    planted = Statistical("test_planted.py::test_one_more", 5 * PROPERTY_ALPHA, budget.PROFILE_EXAMPLES, budget.DEVICES)
    check_budget(cuda=False, registry=[*registered().values(), planted])  # room left on a CPU run
    with pytest.raises(AssertionError, match="a CUDA run's false-failure bound .* exceeds 1e-06"):
        check_budget(cuda=True, registry=[*registered().values(), planted])
    assert (
        budget.run_bound(cuda=True)
        <= FALSE_FAILURE_BOUND
        < budget.run_bound(cuda=True, registry=[*registered().values(), planted])
    )
