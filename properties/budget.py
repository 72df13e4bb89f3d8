"""The property suite's false-failure budget: every statistical property declares what it spends, and a run's total is
summed here.

A statistical property fails a correct regbench with probability at most ``alpha`` per example
(every statistical test it makes in one example together). Over a run, by the union bound, the
suite fails falsely with probability at most the sum of alpha x examples over the statistical
properties, each counted once per device it runs on (CPU always; CUDA too for a property that takes
``device``, when a GPU is there). ``FALSE_FAILURE_BOUND`` is what the suite promises for that sum;
properties/test_budget.py checks it for a CPU run and a CUDA run, and that no property using
regbench.checks.statistics (directly or through a statistical invariant) is left undeclared.

Print the table: ``python -m properties.budget``.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import pkgutil
import types
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

__all__ = [
    "FALSE_FAILURE_BOUND",
    "MAX_EXAMPLES_CEILING",
    "PROFILE_EXAMPLES",
    "REGISTRY",
    "Statistical",
    "budget_table",
    "check_budget",
    "property_tests",
    "registered",
    "run_bound",
    "statistical",
    "uses_statistics",
]

FALSE_FAILURE_BOUND = (
    1e-6  # the most a whole run of the property suite may fail a correct regbench, all statistical properties together
)
MAX_EXAMPLES_CEILING = 1000  # the most examples per test a Hypothesis profile may ask for (conftest.py refuses more)
PROFILE_EXAMPLES = (
    MAX_EXAMPLES_CEILING + 10
)  # a test run by the profile: its examples, plus Hypothesis' few explicit ones and replays
DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class Statistical:
    """What one statistical property spends: alpha per example, examples per device, and the devices it runs on."""

    test: str  # module.py::function
    alpha: float  # per example, every statistical test of the example (and of its parametrized cases) together
    examples: int  # per device run
    devices: tuple[str, ...]
    on_mutants: bool = (
        False  # runs on broken components, where a statistical failure is the expected outcome: spends nothing
    )

    def runs(self, *, cuda: bool) -> int:
        """How many times a run makes it: once on the CPU, and once more on CUDA when it takes a device and a GPU is
        there.
        """
        return len(self.devices) if cuda else 1

    def contribution(self, *, cuda: bool) -> float:
        """Its share of the run's false-failure bound."""
        return 0.0 if self.on_mutants else self.alpha * self.examples * self.runs(cuda=cuda)


REGISTRY: dict[str, Statistical] = {}


def _name(test: Callable[..., Any]) -> str:
    return f"{test.__module__.rsplit('.', 1)[-1]}.py::{test.__name__}"


def statistical(
    *, alpha: float, examples: int = PROFILE_EXAMPLES, on_mutants: bool = False
) -> Callable[[Callable], Callable]:
    """Declare a property test statistical (outermost decorator): its alpha per example and examples per device."""

    def register(test: Callable) -> Callable:
        devices = DEVICES if "device" in inspect.signature(test).parameters else ("cpu",)
        REGISTRY[_name(test)] = Statistical(_name(test), alpha, examples, devices, on_mutants)
        return test

    return register


def property_tests() -> dict[str, Callable]:
    """Every test function of the property suite, by name, its modules imported (which fills REGISTRY)."""
    import properties

    tests = {}
    for info in pkgutil.iter_modules(properties.__path__):
        if info.name.startswith("test_"):
            module = importlib.import_module(f"properties.{info.name}")
            tests.update(
                {
                    _name(f): f
                    for n, f in vars(module).items()
                    if n.startswith("test_") and inspect.isfunction(f) and f.__module__ == module.__name__
                }
            )
    return tests


def registered() -> dict[str, Statistical]:
    """REGISTRY once every property module is imported."""
    property_tests()
    return dict(REGISTRY)


def budget_table(*, cuda: bool, registry: Iterable[Statistical] | None = None) -> list[tuple[str, float, int, float]]:
    """(property, alpha per example, examples in the run, contribution) for each statistical property, the largest
    first.
    """
    rows = [
        (
            s.test + (" (on mutants)" if s.on_mutants else ""),
            s.alpha,
            s.examples * s.runs(cuda=cuda),
            s.contribution(cuda=cuda),
        )
        for s in (registered().values() if registry is None else registry)
    ]
    return sorted(rows, key=lambda row: (-row[3], row[0]))


def run_bound(*, cuda: bool, registry: Iterable[Statistical] | None = None) -> float:
    """The union bound on a run's false-failure probability: the contributions summed."""
    return sum(row[3] for row in budget_table(cuda=cuda, registry=registry))


def check_budget(
    *, cuda: bool, registry: Iterable[Statistical] | None = None, bound: float = FALSE_FAILURE_BOUND
) -> None:
    """Raise AssertionError, with the table, when the run's bound exceeds ``bound``."""
    total = run_bound(cuda=cuda, registry=registry)
    assert total <= bound, (
        f"a {'CUDA' if cuda else 'CPU'} run's false-failure bound {total:.3g} exceeds {bound:g}:\n"
        + render(cuda=cuda, registry=registry)
    )


# --- which tests are statistical: a walk from the test function to regbench.checks.statistics -----

OURS = ("properties", "regbench.checks")  # code walked; statistics come from regbench.checks.statistics only


def uses_statistics(obj: Any) -> bool:
    """Whether ``obj`` (a test function) reaches a statistical assertion: a function of regbench.checks.statistics, or
    an
    Invariant declared statistical, through the globals, closures, defaults and data (mutation rows, invariant tables)
    of
    functions in properties/ and regbench.checks."""
    return any(_statistical_leaf(leaf) for leaf in _reachable(obj, set()))


def _statistical_leaf(obj: Any) -> bool:
    from regbench.checks.engine import Invariant

    if isinstance(obj, Invariant):
        return obj.statistical
    return inspect.isfunction(obj) and obj.__module__ == "regbench.checks.statistics"


def _ours(obj: Any) -> bool:
    return (getattr(obj, "__module__", None) or "").startswith(OURS)


def _reachable(obj: Any, seen: set[int]) -> Iterator[Any]:
    """Everything reachable from ``obj`` that the walk follows (see uses_statistics), ``obj`` included."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    yield obj
    for child in _children(obj):
        yield from _reachable(child, seen)


def _children(obj: Any) -> Iterable[Any]:
    from regbench.checks.engine import Invariant

    if isinstance(obj, (Invariant, str, bytes, int, float, bool)) or obj is None:
        return ()
    inner = getattr(getattr(obj, "hypothesis", None), "inner_test", None)  # a @given test: the function it wraps
    if inner is not None:
        return [inner, *_marked(obj)]
    if isinstance(obj, functools.partial):
        return [obj.func, *obj.args, *obj.keywords.values()]
    if isinstance(obj, dict):
        return list(obj.values())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return list(obj)
    if inspect.isfunction(obj):
        return _function_children(obj) if _ours(obj) else ()
    if inspect.isclass(obj):
        return [v for v in vars(obj).values() if inspect.isfunction(v)] if _ours(obj) else ()
    if dataclasses.is_dataclass(obj) and _ours(type(obj)):
        return [getattr(obj, f.name) for f in dataclasses.fields(obj)]
    return ()


def _function_children(function: types.FunctionType) -> list[Any]:
    """The globals a function's code names (attributes of our modules too), its closure cells and its defaults."""
    names = set(_code_names(function.__code__))
    scope = function.__globals__
    children = [scope[n] for n in names if n in scope and not isinstance(scope[n], types.ModuleType)]
    for module in (
        scope[n] for n in names if isinstance(scope.get(n), types.ModuleType) and scope[n].__name__.startswith(OURS)
    ):
        children += [getattr(module, n) for n in names if hasattr(module, n)]
    children += [cell.cell_contents for cell in function.__closure__ or () if _filled(cell)]
    children += list(function.__defaults__ or ()) + list((function.__kwdefaults__ or {}).values())
    return children + _marked(function) + ([function.__wrapped__] if hasattr(function, "__wrapped__") else [])


def _marked(test: Callable) -> list[Any]:
    """What a test's marks hand it (@pytest.mark.parametrize's rows: mutation tables, say)."""
    return [value for mark in getattr(test, "pytestmark", ()) for value in (*mark.args, *mark.kwargs.values())]


def _code_names(code: types.CodeType) -> Iterator[str]:
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_names(const)


def _filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents
    except ValueError:  # a cell not yet assigned
        return False
    return True


def render(*, cuda: bool, registry: Iterable[Statistical] | None = None) -> str:
    """The budget table as text, with the total against the bound."""
    rows = budget_table(cuda=cuda, registry=registry)
    width = max(len(row[0]) for row in rows)
    lines = [f"{'property':<{width}}  {'alpha':>8}  {'examples':>8}  {'contribution':>12}"]
    lines += [f"{name:<{width}}  {alpha:>8.2g}  {examples:>8}  {share:>12.3g}" for name, alpha, examples, share in rows]
    lines.append(
        f"{'total (union bound) for a ' + ('CUDA' if cuda else 'CPU') + ' run':<{width}}  {'':>8}  {'':>8}  "
        f"{sum(row[3] for row in rows):>12.3g}  (bound {FALSE_FAILURE_BOUND:g})"
    )
    return "\n".join(lines)


if __name__ == "__main__":  # run as a script this file is __main__; the property modules register in properties.budget
    from properties import budget

    print(budget.render(cuda=False), budget.render(cuda=True), sep="\n\n")
