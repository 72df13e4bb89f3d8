"""Repository-wide pytest setup: Hypothesis profiles, the --device option and the device fixture.

Profiles (pick with REGBENCH_HYPOTHESIS_PROFILE=<name> or Hypothesis's --hypothesis-profile):

- ``default``: few examples, so ``pytest`` stays quick on a 2-core laptop; random data each run,
  from a seed printed in the header (rerun a failure with ``--hypothesis-seed=<seed>``). A forced
  seed means Hypothesis keeps no example database for the run: the seed is the reproduction.
- ``ci``: the same example count, derandomized (the same examples on every run and machine), no
  example database, and failures printed with a reproduction blob. Chosen automatically when the
  ``CI`` environment variable is set.
- ``thorough``: many examples, for a nightly run or before a release.

``--device cpu|cuda|all`` picks where device-dependent properties run. Without it they run on
the CPU and on CUDA, the CUDA case skipped (with the reason) when no GPU is visible. Asking for
CUDA explicitly on a machine without a GPU is a usage error, not a run where everything skips.

torch is imported lazily: this file also serves tests/, and most of its hooks need no torch.
"""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import HealthCheck, settings

from properties.budget import FALSE_FAILURE_BOUND, MAX_EXAMPLES_CEILING

PROFILE_ENV = "REGBENCH_HYPOTHESIS_PROFILE"
# The statistical properties' false-failure bound per run (FALSE_FAILURE_BOUND, summed over the
# properties that declare their alpha in properties/budget.py, checked by properties/test_budget.py)
# assumes at most MAX_EXAMPLES_CEILING examples per test; a profile asking for more is refused below.

_COMMON = dict(
    deadline=None,  # torch's first call on a shape (kernel selection, CUDA init) is slow by design
    suppress_health_check=[HealthCheck.too_slow],  # small models still take milliseconds per example
)
settings.register_profile("default", max_examples=40, print_blob=True, **_COMMON)
settings.register_profile("ci", max_examples=40, derandomize=True, database=None, print_blob=True, **_COMMON)
settings.register_profile("thorough", max_examples=500, **_COMMON)

PROFILES = ("default", "ci", "thorough")

DEVICE_CHOICES = ("cpu", "cuda", "all")


def pytest_addoption(parser: pytest.Parser) -> None:
    """One option group, so `pytest --help` shows regbench's settings together."""
    group = parser.getgroup("regbench", "regbench properties")
    group.addoption(
        "--device",
        choices=DEVICE_CHOICES,
        default=None,
        help=(
            "where device-dependent tests run: cpu, cuda (fails without a GPU) or all "
            "(default: cpu, plus cuda when a GPU is visible, skipped otherwise)"
        ),
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Load the profile, refuse impossible device requests, and fix the Hypothesis seed, all before Hypothesis reads
    its options.
    """
    profile = os.environ.get(PROFILE_ENV) or ("ci" if os.environ.get("CI") else "default")
    if profile not in PROFILES:
        raise pytest.UsageError(
            f"{PROFILE_ENV}={profile!r} is not one of regbench's Hypothesis profiles: {', '.join(PROFILES)}"
        )
    settings.load_profile(profile)  # --hypothesis-profile, applied next by Hypothesis's own plugin, still wins
    requested = config.getoption("device")
    if requested in ("cuda", "all") and not _cuda_available():
        raise pytest.UsageError(
            f"--device {requested} asks for CUDA, but torch.cuda.is_available() is False on this "
            "machine (no GPU, a CPU-only torch, or CUDA_VISIBLE_DEVICES hides it); use --device cpu"
        )
    _fix_hypothesis_seed(config)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Check the profile finally in force (--hypothesis-profile is applied after pytest_configure above)."""
    if settings.default.max_examples > MAX_EXAMPLES_CEILING:
        raise pytest.UsageError(
            f"Hypothesis profile {settings.get_current_profile_name()!r} asks for "
            f"{settings.default.max_examples} examples; the statistical properties' false-failure "
            f"bound ({FALSE_FAILURE_BOUND:g} per run, properties/budget.py) assumes at most {MAX_EXAMPLES_CEILING}"
        )


def _fix_hypothesis_seed(config: pytest.Config) -> None:
    """Draw the seed ourselves (unless given or derandomized) so the header can print it.

    Under xdist the controller hands its seed to the workers, so one number reproduces the run.
    """
    final_profile = config.getoption("hypothesis_profile", None) or settings.get_current_profile_name()
    if settings.get_profile(final_profile).derandomize or config.getoption("hypothesis_seed", None) is not None:
        return
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "regbench_hypothesis_seed" in workerinput:
        seed = workerinput["regbench_hypothesis_seed"]
    else:
        seed = str(random.SystemRandom().randrange(2**32))
    config.option.hypothesis_seed = seed
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_SeedToWorkers(seed), "regbench-seed-to-workers")


class _SeedToWorkers:
    """xdist hook: every worker uses the controller's seed instead of drawing its own."""

    def __init__(self, seed: str) -> None:
        self.seed = seed

    def pytest_configure_node(self, node) -> None:
        node.workerinput["regbench_hypothesis_seed"] = self.seed


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Profile, devices and seed: what it takes to reproduce any failure of this run."""
    current = settings.default
    if current.derandomize:
        seed = "derandomized (examples fixed by each test's name)"
    else:
        seed = f"{config.getoption('hypothesis_seed', None)} (rerun with --hypothesis-seed=<seed>)"
    devices = ", ".join(f"{d} ({'skipped: ' + reason})" if reason else d for d, reason in _devices(config))
    return [
        (
            f"regbench: hypothesis profile {settings.get_current_profile_name()!r} "
            f"(max_examples={current.max_examples}, derandomize={current.derandomize}); set {PROFILE_ENV} to change"
        ),
        f"regbench: devices {devices}",
        f"regbench: hypothesis seed {seed}",
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that asks for ``device`` once per selected device."""
    if "device" not in metafunc.fixturenames:
        return
    params = []
    for name, reason in _devices(metafunc.config):
        marks = [pytest.mark.cuda] if name == "cuda" else []
        if reason:
            marks.append(pytest.mark.skip(reason=reason))
        params.append(pytest.param(name, marks=marks, id=name))
    metafunc.parametrize("device", params, indirect=True, scope="session")


@pytest.fixture(scope="session")
def device(request: pytest.FixtureRequest):
    """A torch.device; session-scoped because a device holds no state between examples."""
    import torch

    return torch.device(getattr(request, "param", "cpu"))


def _devices(config: pytest.Config) -> list[tuple[str, str]]:
    """(device, skip reason or '') for the selected devices."""
    requested = config.getoption("device")
    if requested == "cpu":
        return [("cpu", "")]
    if requested == "cuda":
        return [("cuda", "")]
    if requested == "all":
        return [("cpu", ""), ("cuda", "")]
    cuda_reason = "" if _cuda_available() else "no CUDA GPU visible (torch.cuda.is_available() is False)"
    return [("cpu", ""), ("cuda", cuda_reason)]


def _cuda_available() -> bool:
    """Imported here, not at the top, so collecting tests that never touch a device stays cheap."""
    import torch

    return torch.cuda.is_available()
