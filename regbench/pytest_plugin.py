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
    @pytest.mark.regbench_check.with_args(MyNet)                   # alone, a class or function needs with_args (pytest's rule)

pytest collects ``test_my_net[eval_deterministic]``, ``test_my_net[dropout_identity_in_eval]``, ...
An invariant that holds passes, one that does not apply is skipped with the reason, and one that
fails fails with its name, the minimal counterexample Hypothesis found and how to fix it. The
checks run once per object, at its first test, and are marked ``regbench_check`` (``-m
regbench_check`` selects them). ``--regbench-max-examples N`` sets Hypothesis' examples per invariant.

Nothing heavy is imported until a test file asks for a check, so the plugin costs nothing elsewhere.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from regbench.argtypes import positive_int

__all__ = ["regbench_check_config", "regbench_check_loss", "regbench_check_model", "regbench_check_transform"]

MARKER = "regbench_check"
MARKED = "regbench_marked_invariant"  # the autouse fixture a marked test is parametrized through
REPORTS = pytest.StashKey[dict]()  # reports of marked tests, one per object and options, for the session


def pytest_addoption(parser: pytest.Parser) -> None:
    """Options in their own group with a common prefix, clear of the repository's --device."""
    group = parser.getgroup("regbench-checks", "regbench checks of your own components (regbench.pytest_plugin)")
    group.addoption(
        "--regbench-max-examples",
        type=positive_int,
        default=None,
        metavar="N",
        help="Hypothesis examples per regbench invariant (default: regbench.checks.MAX_EXAMPLES); the search is derandomized",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(obj, kind=None, **options): run regbench's invariants on obj (a model, loss, transform or "
                                       "config, its factory, or a 'module:attribute' string), one test per invariant, before the "
                                       "marked test's body (a class or function alone: {MARKER}.with_args(obj)); options are "
                                       "regbench.checks.check's (input_shape, model, targets, ...). Without arguments: the tests "
                                       "regbench_check_model/_loss/_transform/_config generate")


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
        metafunc.parametrize(MARKED, [("", obj, (), f"@pytest.mark.{MARKER}: {error}")], indirect=True, ids=["unchecked"])
        return
    metafunc.parametrize(MARKED, [(kind, obj, tuple(options.items()), name) for name in checks.INVARIANTS[kind]], indirect=True,
                         ids=checks.INVARIANTS[kind])


@pytest.fixture(autouse=True)
def regbench_marked_invariant(request: pytest.FixtureRequest) -> Any:
    """The (kind, object, options, invariant) a regbench_check marker gave this test, or None; pytest_runtest_call judges it."""
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


def pytest_report_header(config: pytest.Config) -> str:
    """How many examples each invariant gets; the search is derandomized, so that is all a rerun needs."""
    chosen = config.getoption("regbench_max_examples")
    return f"regbench checks: {chosen or 'default'} Hypothesis examples per invariant, derandomized (--regbench-max-examples)"


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
    """A test function over every invariant of what a ``regbench.Config`` builds: ``model.*``, ``loss.*``, ``augment.*``, ``transform.*``.

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


def _judge(kind: str, obj: Any, options: dict[str, Any], invariant: str, config: pytest.Config, cache: dict[Any, Any]) -> None:
    """Pass, skip with the reason, or fail with the counterexample and fix; the report is computed once per object and options."""
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
