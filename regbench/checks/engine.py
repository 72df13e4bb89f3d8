"""The one invariant engine: an invariant defined once, run by ``regbench check``, the property suite and the mutation
check.

An ``Invariant`` says what it checks, when it applies to a subject (the user's model, loss,
transform or config, as the check modules wrap them), how its inputs are drawn, what it asserts,
and the fix to suggest. ``Invariant.result`` searches it with Hypothesis for a report;
``Invariant.holds`` runs one drawn example inside a property test, where the subject is drawn
too (regbench's own components with generated sizes, or a deliberately broken mutant of them).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from hypothesis import HealthCheck, Phase, Verbosity, assume, given, settings
from hypothesis import strategies as st

from regbench.checks.report import ALPHA, Result, Status
from regbench.checks.statistics import PROPERTY_ALPHA
from regbench.errors import first_line
from regbench.train import rngs_restored, seed_torch

__all__ = ["Invariant", "search_settings"]

Strategies = Mapping[str, st.SearchStrategy]


def _no_inputs(subject: Any) -> Strategies:
    """An invariant read off the subject: nothing to draw."""
    return {}


def _always(subject: Any) -> Optional[str]:
    """An invariant every subject of its kind has."""
    return None


@dataclass(frozen=True)
class Invariant:
    """A named property of a subject: what it checks, when it applies, its inputs, its assertion, its fix.

    ``prop(subject, **inputs)`` raises AssertionError on a violation; with no ``inputs`` it is read
    off the subject once (not searched) and may return what it saw. ``applies(subject)`` is None,
    or why the invariant does not apply. A ``statistical`` prop also takes ``alpha``: its
    false-failure budget for one example.
    """

    name: str
    checks: str
    fix: str
    prop: Callable[..., Optional[str]]
    inputs: Callable[[Any], Strategies] = _no_inputs
    applies: Callable[[Any], Optional[str]] = _always
    statistical: bool = False

    def bound(self, subject: Any, alpha: float) -> Callable[..., Optional[str]]:
        """The prop on one subject, given its per-example alpha when statistical."""
        return functools.partial(self.prop, subject, **({"alpha": alpha} if self.statistical else {}))

    def result(self, subject: Any, max_examples: int) -> Result:
        """The verdict ``regbench check`` reports: searched on ``max_examples`` examples, the run sharing ALPHA."""
        reason = self.applies(subject)
        if reason is not None:
            return Result(self.name, Status.NOT_APPLICABLE, reason)
        strategies = self.inputs(subject)
        # Union bound: at most max_examples (+ Hypothesis' few replays) examples share the run's ALPHA.
        prop = self.bound(subject, ALPHA / (max_examples + 10))
        found = _search(prop, strategies, max_examples) if strategies else _read(prop)
        if isinstance(found, _Found):
            return Result(self.name, Status.FAILED, self.fix, found.observed, found.example or None)
        return Result(self.name, Status.PASSED, self.checks, found or f"held on {max_examples} generated examples")

    def holds(self, subject: Any, data: st.DataObject, alpha: float = PROPERTY_ALPHA) -> None:
        """One example inside a property test: inputs drawn from ``data``, torch seeded as the search seeds it."""
        assume(self.applies(subject) is None)
        drawn = {name: data.draw(strategy, label=name) for name, strategy in self.inputs(subject).items()}
        with rngs_restored():
            seed_torch(0)
            self.bound(subject, alpha)(**drawn)


def search_settings(max_examples: int) -> settings:
    """Derandomized and database-free, so a verdict is the same on every run and machine; quiet, since the report
    says it all.
    """
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        report_multiple_bugs=False,
        print_blob=False,
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
    )


@dataclass(frozen=True)
class _Found:
    """A failing example as the report shows it."""

    example: str
    observed: str


def _search(prop: Callable[..., Any], strategies: Strategies, max_examples: int) -> Optional[_Found]:
    """The minimal example on which ``prop`` raises, or None when Hypothesis finds none.

    Every example runs with torch seeded to 0, so a random bug fails again on replay; Hypothesis
    replays the shrunk example last, so the last failure recorded is the minimal one. An exception
    from the user's code is a failure of the invariant too (the check could not hold).
    """
    failures: list[tuple[dict, BaseException]] = []

    @search_settings(max_examples)
    @given(**strategies)
    def run(**drawn: Any) -> None:
        try:
            with rngs_restored():
                seed_torch(0)
                prop(**drawn)
        except Exception as error:
            failures.append((drawn, error))
            raise

    try:
        run()
    except Exception:
        if not failures:
            raise  # Hypothesis itself failed: not a verdict about the user's code
        drawn, error = failures[-1]
        return _Found("; ".join(f"{k} = {v}" for k, v in drawn.items()), _one_line(error))
    return None


def _read(prop: Callable[[], Optional[str]]) -> Optional[str] | _Found:
    """An invariant read off the subject: what it saw, or the violation (an assertion's second line, if any, shows
    where).
    """
    try:
        with rngs_restored():
            seed_torch(0)
            return prop()
    except Exception as error:
        where = str(error).split("\n", 1)[1] if isinstance(error, AssertionError) and "\n" in str(error) else ""
        return _Found(where, _one_line(error))


def _one_line(error: BaseException) -> str:
    """An assertion's message as is; any other exception with its type; first line only."""
    return (
        first_line(error)
        if isinstance(error, AssertionError)
        else f"raised {type(error).__name__}: {first_line(error)}"
    )[:400]
