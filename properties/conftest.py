"""Fixtures and reporting for the property suite only (the repository-wide setup is in ../conftest.py)."""

from __future__ import annotations

import pytest
import torch

MUTATION_TESTS = (  # every test that runs a property on a mutant, so the score counts every mutant
    "test_mutations.py::test_property_kills_mutant",
    "test_batch_augment.py::test_distribution_mutant_is_killed",
)


@pytest.fixture(scope="package", autouse=True)
def one_cpu_thread():
    """One intra-op thread: at these tensor sizes extra threads only add synchronization, and on a
    busy 2-core machine they made the suite ten times slower. Restored after the package."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the mutation score: mutants whose property found them, out of all mutants run."""
    reports = [
        r
        for outcome in ("passed", "failed")
        for r in terminalreporter.stats.get(outcome, [])
        if getattr(r, "when", None) == "call" and any(test in r.nodeid for test in MUTATION_TESTS)
    ]
    if reports:
        killed = sum(r.passed for r in reports)
        terminalreporter.write_line(
            f"regbench mutation score: {killed}/{len(reports)} mutants killed by their property"
        )
