"""pytest plugin: one pytest test per regbench invariant of *your* model, loss or transform.

Registered through the ``pytest11`` entry point, so installing regbench enables it. In a test file:

    from regbench.pytest_plugin import regbench_check_loss, regbench_check_model, regbench_check_transform
    from my_models import MyL2Loss, MyNet, my_augment

    test_my_net = regbench_check_model(MyNet)
    test_my_loss = regbench_check_loss(MyL2Loss, model=MyNet)
    test_my_augment = regbench_check_transform(my_augment)
    test_my_config = regbench_check_config(MY_CONFIG)     # its model, its loss on that model, its augmentations

or, pytest's marker form, on any test (or a module's ``pytestmark``):

    @pytest.mark.regbench_check("my_models:MyNet")                 # "module:attribute", as regbench check takes it
    def test_my_net():
        ...  # runs after the invariant passed, for anything else you want to assert

    @pytest.mark.regbench_check(MyL2Loss, model=MyNet)             # or the object itself, with options
    @pytest.mark.regbench_check.with_args(MyNet)                   # alone, a class or function needs with_args
    (pytest's rule)

pytest collects ``test_my_net[eval_deterministic]``, ``test_my_net[dropout_identity_in_eval]``, ...
An invariant that holds passes, one that does not apply is skipped with the reason, and one that
fails fails with its name, the minimal counterexample Hypothesis found and how to fix it. The
checks run once per object, at its first test, and are marked ``regbench_check`` (``-m
regbench_check`` selects them). ``--regbench-max-examples N`` sets Hypothesis' examples per invariant.

Benchmark assertions (``regbench.assertions``) with the session's cache, through the
``regbench_bench`` fixture:

    def test_label_smoothing_helps(regbench_bench):
        regbench_bench.assert_better("label-smoothing", "baseline", epochs=5)

Trained cells go to ``--regbench-cache DIR`` (default: pytest's cache folder), so a second run of
the same tests trains nothing; ``pytest -v`` prints each passing assertion's table at the end.

Nothing heavy is imported until a test file asks for a check, so the plugin costs nothing elsewhere.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from regbench.argtypes import positive_int

__all__ = [
    "Bench",
    "regbench_bench",
    "regbench_check_config",
    "regbench_check_loss",
    "regbench_check_model",
    "regbench_check_transform",
]

MARKER = "regbench_check"
MARKED = "regbench_marked_invariant"  # the autouse fixture a marked test is parametrized through
REPORTS = pytest.StashKey[dict]()  # reports of marked tests, one per object and options, for the session
SECTION = "regbench"  # the report section holding a benchmark assertion's table ("Captured regbench call")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Options in their own group with a common prefix, clear of the repository's --device."""
    group = parser.getgroup("regbench-checks", "regbench checks of your own components (regbench.pytest_plugin)")
    group.addoption(
        "--regbench-max-examples",
        type=positive_int,
        default=None,
        metavar="N",
        help=(
            "Hypothesis examples per regbench invariant (default: regbench.checks.MAX_EXAMPLES); the search is"
            " derandomized"
        ),
    )
    group.addoption(
        "--regbench-cache",
        type=Path,
        default=None,
        metavar="DIR",
        help=(
            "where benchmark assertions (the regbench_bench fixture) keep the cells they trained (default: pytest's"
            " cache folder)"
        ),
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(obj, kind=None, **options): run regbench's invariants on obj (a model, loss, transform or "
        "config, its factory, or a 'module:attribute' string), one test per invariant, before the "
        "marked test's body (a class or function alone: {MARKER}.with_args(obj)); options are "
        "regbench.checks.check's (input_shape, model, targets, ...). Without arguments: the tests "
        "regbench_check_model/_loss/_transform/_config generate",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked regbench_check(obj) becomes one test per invariant of obj's kind."""
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None or not marker.args:
        return
    from regbench import checks

    obj, options = marker.args[0], dict(marker.kwargs)
    try:
        if isinstance(obj, str):  # "module:attribute", as regbench check takes it
            obj, options["name"] = checks.load_target(obj), options.get("name", obj)
        kind = options.pop("kind", None) or checks.kind_of(obj)
    except checks.CheckUsageError as error:  # one failing test that says why, as a generated test would
        metafunc.parametrize(
            MARKED, [("", obj, (), f"@pytest.mark.{MARKER}: {error}")], indirect=True, ids=["unchecked"]
        )
        return
    metafunc.parametrize(
        MARKED,
        [(kind, obj, tuple(options.items()), name) for name in checks.INVARIANTS[kind]],
        indirect=True,
        ids=checks.INVARIANTS[kind],
    )


@pytest.fixture(autouse=True)
def regbench_marked_invariant(request: pytest.FixtureRequest) -> Any:
    """The (kind, object, options, invariant) a regbench_check marker gave this test, or None; pytest_runtest_call
    judges it.
    """
    return getattr(request, "param", None)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """A marked test first passes, skips or fails on its invariant, as a generated test does; then its body runs."""
    marked = getattr(item, "callspec", None) and item.callspec.params.get(MARKED)
    if marked:
        kind, obj, options, invariant = marked
        if not kind:
            pytest.fail(invariant, pytrace=False)
        _judge(kind, obj, dict(options), invariant, item.config, item.session.stash.setdefault(REPORTS, {}))


class Bench:
    """The benchmark assertions bound to the session's cache."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache

    def _run(self, name: str, *args: Any, **kwargs: Any) -> Any:
        from regbench import assertions  # torch and the training stack, only for tests that use the fixture

        kwargs.setdefault("cache", self.cache)
        return getattr(assertions, name)(*args, **kwargs)

    def assert_better(self, candidate: Any, baseline: Any, **kwargs: Any) -> Any:
        """regbench.assert_better with this session's cache."""
        return self._run("assert_better", candidate, baseline, **kwargs)

    def assert_no_worse(self, candidate: Any, baseline: Any, **kwargs: Any) -> Any:
        """regbench.assert_no_worse with this session's cache."""
        return self._run("assert_no_worse", candidate, baseline, **kwargs)

    def assert_equivalent(self, a: Any, b: Any, **kwargs: Any) -> Any:
        """regbench.assert_equivalent with this session's cache."""
        return self._run("assert_equivalent", a, b, **kwargs)


@pytest.fixture
def regbench_bench(request: pytest.FixtureRequest) -> Bench:
    """Benchmark assertions for this test, caching trained cells in --regbench-cache or pytest's cache folder."""
    chosen = request.config.getoption("regbench_cache")
    if chosen is None and getattr(request.config, "cache", None) is not None:
        chosen = request.config.cache.mkdir(SECTION)
    if chosen is None:  # -p no:cacheprovider
        from regbench.cache import default_root

        chosen = default_root()
    return Bench(Path(chosen))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Each benchmark assertion the test made (through the fixture or regbench.assert_*), as a section of its report."""
    outcome = yield
    assertions = sys.modules.get("regbench.assertions")
    if call.when == "call" and assertions is not None:
        report = outcome.get_result()
        for decision in assertions.take_decisions():
            report.sections.append((f"Captured {SECTION} call", decision.table()))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """With -v, each passing benchmark assertion's table (a failing one's is its failure message)."""
    if config.getoption("verbose") < 1:
        return
    tables = [
        (report.nodeid, content)
        for report in terminalreporter.stats.get("passed", [])
        for title, content in getattr(report, "sections", [])
        if title == f"Captured {SECTION} call"
    ]
    if tables:
        terminalreporter.section("regbench benchmark assertions that passed")
        for nodeid, content in tables:
            terminalreporter.write_line(f"{nodeid}:\n{content}\n")


def pytest_report_header(config: pytest.Config) -> str:
    """How many examples each invariant gets; the search is derandomized, so that is all a rerun needs."""
    chosen = config.getoption("regbench_max_examples")
    return (
        f"regbench checks: {chosen or 'default'} Hypothesis examples per invariant, derandomized"
        " (--regbench-max-examples)"
    )


def regbench_check_model(factory: Any, **options: Any) -> Callable[..., None]:
    """A test function, parametrized over the model invariants, for a model class or zero-argument factory.

    Options are check_model's (``input_shape``); assign the result to a name starting with ``test``.
    """
    return _invariant_tests("model", factory, options)


def regbench_check_loss(factory: Any, **options: Any) -> Callable[..., None]:
    """A test function over the loss invariants, for ``Loss(base_criterion, model, lam)`` or ``model -> loss``.

    Options are check_loss's (``model``: your model factory to build the loss on).
    """
    return _invariant_tests("loss", factory, options)


def regbench_check_transform(transform: Any, **options: Any) -> Callable[..., None]:
    """A test function over the transform invariants, for a torchvision-style transform (or a zero-argument factory).

    Options are check_transform's (``split``, ``value_range``, ``label_threshold``).
    """
    return _invariant_tests("transform", transform, options)


def regbench_check_config(config: Any, **options: Any) -> Callable[..., None]:
    """A test function over every invariant of what a ``regbench.Config`` builds: ``model.*``, ``loss.*``,
    ``augment.*``, ``transform.*``.

    Parts the config does not have are skipped with the reason. Options are check_config's (``input_shape``).
    """
    return _invariant_tests("config", config, options)


def _invariant_tests(kind: str, obj: Any, options: dict[str, Any]) -> Callable[..., None]:
    """One parametrized test; the report is computed at the first of its tests and shared by the rest."""
    from regbench import checks  # torch and Hypothesis, only for test files that ask for checks

    cache: dict[Any, Any] = {}

    @pytest.mark.regbench_check
    @pytest.mark.parametrize("regbench_invariant", checks.INVARIANTS[kind])
    def test(regbench_invariant: str, request: pytest.FixtureRequest) -> None:
        _judge(kind, obj, dict(options), regbench_invariant, request.config, cache)

    test.__doc__ = f"regbench's {kind} invariants on {options.get('name') or checks.name_of(obj)}, one test each."
    return test


def _judge(
    kind: str, obj: Any, options: dict[str, Any], invariant: str, config: pytest.Config, cache: dict[Any, Any]
) -> None:
    """Pass, skip with the reason, or fail with the counterexample and fix; the report is computed once per object
    and options.
    """
    from regbench import checks

    name = options.pop("name", None) or checks.name_of(obj)
    key = (kind, id(obj), repr(sorted(options.items())))
    if key not in cache:
        examples = config.getoption("regbench_max_examples", None) or checks.MAX_EXAMPLES
        try:
            cache[key] = checks.check(obj, kind=kind, name=name, max_examples=examples, **options)
        except checks.CheckUsageError as error:
            cache[key] = error
    report = cache[key]
    if isinstance(report, Exception):
        pytest.fail(f"regbench cannot check {name} as a {kind}: {report}", pytrace=False)
    result = report[invariant]
    if result.status is checks.Status.NOT_APPLICABLE:
        pytest.skip(f"{invariant} does not apply to {name}: {result.explanation}")
    if result.status is checks.Status.FAILED:
        pytest.fail(result.describe(name), pytrace=False)
