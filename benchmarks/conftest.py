"""Options for the benchmarks, and what pytest-benchmark records about the machine.

``pytest benchmarks`` runs three families (each a module): training-step throughput, the data
path (the notebook's against regbench's), and generalization runs of the configuration matrix.
Timings are recorded, never asserted; ``regbench compare`` gates them against a baseline.

Options, in one group (``pytest benchmarks --help``):

- ``--bench-full``: generalization runs with ``regbench run``'s defaults (5 seeds x 20 epochs),
  which compare with ``results/baseline-cpu.json``; without it, 5 seeds x 5 epochs.
- ``--bench-out DIR``: where generalization results go (default ``results/latest``).
- ``--bench-threads N``: torch's CPU threads while timing (throughput and data path). On a
  shared machine 1 thread keeps timings steady: two threads that must wait for a busy core can
  make a step many times slower. Generalization runs keep torch's default, as ``regbench run``
  does, so their numbers match its results exactly.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from regbench.results import environment
from regbench.train import flushed_denormals


def pytest_addoption(parser: pytest.Parser) -> None:
    """regbench's benchmark options, prefixed --bench- so they never clash with pytest-benchmark's."""
    group = parser.getgroup("regbench-benchmarks", "regbench benchmarks")
    group.addoption(
        "--bench-full",
        action="store_true",
        help="generalization runs at regbench run's defaults (5 seeds x 20 epochs) instead of 5 x 5",
    )
    group.addoption(
        "--bench-out",
        type=Path,
        default=Path("results/latest"),
        help="folder for the generalization results files (default %(default)s)",
    )
    group.addoption(
        "--bench-threads",
        type=int,
        default=None,
        help="torch CPU threads while timing (default: torch's choice, one per core)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Refuse a thread count torch would not take, before anything runs."""
    threads = config.getoption("bench_threads", None)
    if threads is not None and threads < 1:
        raise pytest.UsageError(f"--bench-threads must be >= 1, got {threads}")


@pytest.fixture(scope="session", autouse=True)
def denormals_flushed():
    """Train and time as `regbench run` does, with denormals flushed (regbench.train.flushed_denormals)."""
    with flushed_denormals():
        yield


def timing_threads(config: pytest.Config) -> int:
    """The CPU threads timed benchmarks run with."""
    return config.getoption("bench_threads", None) or torch.get_num_threads()


@pytest.fixture
def timed_threads(request: pytest.FixtureRequest):
    """Run one timed benchmark with --bench-threads torch threads, then restore the default."""
    before = torch.get_num_threads()
    torch.set_num_threads(timing_threads(request.config))
    yield torch.get_num_threads()
    torch.set_num_threads(before)


def pytest_report_header(config: pytest.Config) -> str:
    """Threads and devices, since both change every number below."""
    cuda = torch.cuda.get_device_name() if torch.cuda.is_available() else "none visible"
    return (
        f"regbench benchmarks: torch {torch.__version__}, {timing_threads(config)} CPU thread(s) while timing, CUDA:"
        f" {cuda}"
    )


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    """regbench's environment record, so the gate can refuse a baseline from other hardware or libraries."""
    env = environment("cpu")
    env["torch_threads"] = timing_threads(config)
    env["cuda_device_name"] = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    machine_info["regbench"] = env


def data_path_ratio(benchmarks: list) -> float | None:
    """regbench's data path in samples/s over the notebook's, from the same run's medians."""
    speeds = {
        b.extra_info.get("path"): b.extra_info.get("samples_per_second") for b in benchmarks if b.group == "data-path"
    }
    if speeds.get("regbench") and speeds.get("notebook"):
        return speeds["regbench"] / speeds["notebook"]
    return None


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: list, output_json: dict) -> None:
    """Keep the data-path ratio in the JSON, beside the rounds it comes from."""
    ratio = data_path_ratio(benchmarks)
    if ratio is not None:
        output_json["regbench"] = {"data_path_ratio": ratio}


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    """Print the one number the data-path benchmarks exist for."""
    session = getattr(config, "_benchmarksession", None)
    ratio = data_path_ratio(session.benchmarks) if session is not None else None
    if ratio is not None:
        terminalreporter.write_line(f"regbench: data path, regbench / notebook samples per second = {ratio:.2f}x")
