"""Run a property against a deliberately broken implementation and demand that Hypothesis refutes it.

Every property module defines ``check_*(impl, device, **inputs)`` functions that assert, plus the
strategies for ``inputs``. The ``@given`` test runs a check on regbench's implementation; a
``Mutation`` runs the *same* check with the *same* strategies on a mutant, so a property that
cannot fail shows up as a surviving mutant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import FlakyFailure
from hypothesis.strategies import SearchStrategy

from properties.support import CPU

__all__ = ["MUTANT_SETTINGS", "Mutation", "find_counterexample"]

# Derandomized and database-free so a kill (or a survival) is the same on every run and machine;
# no shrinking, since only the existence of a counterexample matters here.
MUTANT_SETTINGS = settings(
    max_examples=100,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    report_multiple_bugs=False,
    suppress_health_check=list(HealthCheck),
)


@dataclass(frozen=True)
class Mutation:
    """A mutant, the property (check plus strategies) that must kill it, the words of the assertion that must do so, and
    regbench's own component, which the same property must accept under the same settings (the control)."""

    name: str
    mutant: Any
    check: Callable[..., None]
    inputs: Mapping[str, SearchStrategy] = field(repr=False)
    kills_with: str = (
        ""  # part of the property's own failure message for this bug: the kill's reason, not any AssertionError
    )
    control: Any = field(
        default=None, repr=False
    )  # regbench's component under the same check (None: the row has no such twin)

    def __str__(self) -> str:
        return self.name


def find_counterexample(
    check: Callable[..., None], impl: Any, inputs: Mapping[str, SearchStrategy]
) -> AssertionError | None:
    """The AssertionError Hypothesis finds for ``check(impl, CPU, **inputs)``, or None if it finds none.

    Only AssertionError counts: a mutant that merely crashes the check (a TypeError from a wrong
    signature, say) has not been caught by the property, so that exception propagates. A mutant
    that is itself random (an unseeded RNG) fails an example that then passes on replay; Hypothesis
    reports that as FlakyFailure, and its assertion is the counterexample.
    """

    @MUTANT_SETTINGS
    @given(**inputs)
    def run(**example: Any) -> None:
        check(impl, CPU, **example)

    try:
        run()
    except AssertionError as error:
        return error
    except FlakyFailure as flaky:
        found, rest = flaky.split(AssertionError)
        if found is None or rest is not None:
            raise
        return found.exceptions[0]
    return None
