"""Data of any shape on the fast engine, and suites of datasets: measured against references timed in the same run.

- CIFAR-shaped training: images (3, 32, 32) kept resident as uint8, gathered, converted and
  augmented by ``BatchAugment`` a batch at a time, training a 3072-500-10 MLP, against the bare
  step loop over resident, un-augmented float tensors sliced in order, at batch 32 and 256
  (goal: regbench / bare >= 0.8 each; the median ratio of ROUNDS passes timed in interleaved
  pairs; each path's own rounds are also timed by pytest-benchmark).
- The resident copy of CIFAR-10's 50,000 training images (random pixels of that shape: no CIFAR
  files ship here): bytes of the tensor the fast engine keeps (goal: under 200 MB).
- A suite against its datasets run one after another: `regbench.run` on digits, iris and wine
  together, and on each alone, interleaved over REPEATS rounds (goal: suite / sum of the
  datasets' medians <= 1.05).

Written to ``<--bench-out>/datasets_<device>.json``; nothing here asserts a speed.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable, Iterator

import pytest
import torch

import regbench
from benchmarks.test_fast_path import bare_pass
from regbench import results
from regbench.augment import BatchAugment
from regbench.data import Samples, TensorLoader, as_inputs
from regbench.models import FullyConnected
from regbench.train import make_optimizer, run_epoch, synchronize

pytestmark = [pytest.mark.benchmark, pytest.mark.usefixtures("timed_threads")]

# passes timed per path; the median of 15 shrugs off a noisy neighbour, where fewer left the batch-256 ratio wandering
# from run to run
ROUNDS = 15
CIFAR_SHAPE = (3, 32, 32)
CIFAR_TRAIN = 50_000
SAMPLES = 2048  # training images per timed pass: 64 steps at batch 32, 8 at 256
GOALS = {"regbench / bare, batch 32": 0.8, "regbench / bare, batch 256": 0.8, "resident MB": 200, "suite / sum": 1.05}
SUITE = ("digits", "iris", "wine")
SUITE_RUN = dict(
    configs=["baseline", "l2", "dropout"],
    seeds=2,
    epochs=5,
    n_train=30,
    n_test=10,
    execution="single",
    plots=False,
    progress=False,
)
REPEATS = 3  # suite and datasets alone, interleaved: drift on a shared machine hits both sides alike
FOUND: dict[str, float | dict] = {}


def _cifar_like(n: int) -> Samples:
    """Random uint8 images of CIFAR's shape and 10 balanced classes."""
    g = torch.Generator().manual_seed(0)
    return Samples(
        torch.randint(0, 256, (n, *CIFAR_SHAPE), dtype=torch.uint8, generator=g),
        torch.arange(n) % 10,
        name="cifar-like",
    )


def _pass(path: str, samples: Samples, batch_size: int, device: torch.device) -> Callable[[], None]:
    """One training pass of ``path`` over the samples, with a freshly seeded model and fused Adam."""
    torch.manual_seed(0)
    model = FullyConnected(input_shape=CIFAR_SHAPE, num_classes=10).to(device).train()
    optimizer = make_optimizer(model, 1e-3, fused=True)
    if path == "bare":
        return bare_pass(
            model, optimizer, as_inputs(samples.data).to(device), samples.targets.to(device), batch_size, device
        )
    x, y = samples.tensors(device)  # uint8, as the fast engine keeps them
    batches = TensorLoader(
        x,
        y,
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
        transform=BatchAugment(flip=True),
    )

    def fast() -> None:
        run_epoch(model, torch.nn.CrossEntropyLoss(), batches, device, optimizer)
        synchronize(device)

    return fast


@pytest.mark.parametrize("batch_size", [32, 256])
@pytest.mark.parametrize("path", ["bare", "regbench"])
def test_cifar_shaped_pass(benchmark, device, path, batch_size):
    """Time one pass over CIFAR-shaped images: the bare loop, or regbench's fast engine with augmentation."""
    run = _pass(path, _cifar_like(SAMPLES), batch_size, device)
    benchmark.group = f"cifar-shaped-{device.type}-b{batch_size}"
    benchmark.extra_info.update(path=path, batch_size=batch_size, device=device.type, samples_per_call=SAMPLES)
    benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    if benchmark.stats:
        FOUND[f"{path} samples/s, batch {batch_size}"] = SAMPLES / benchmark.stats.stats.median


@pytest.mark.parametrize("batch_size", [32, 256])
def test_cifar_shaped_ratio_interleaved(device, batch_size):
    """The goal's ratio from passes timed in pairs, bare and regbench alternately (the order swapped each round): the
    median of the
    pairs' ratios, which a shared machine's drift moves far less than a ratio of two medians timed a minute apart."""
    samples = _cifar_like(SAMPLES)
    paths = {path: _pass(path, samples, batch_size, device) for path in ("bare", "regbench")}
    for run in paths.values():
        run()  # warm-up
    ratios = []
    for k in range(ROUNDS):
        seconds = {}
        for path in ("bare", "regbench") if k % 2 == 0 else ("regbench", "bare"):
            started = time.perf_counter()
            paths[path]()
            seconds[path] = time.perf_counter() - started
        ratios.append(seconds["bare"] / seconds["regbench"])  # regbench's samples/s over the bare loop's
    FOUND[f"regbench / bare, batch {batch_size}"] = statistics.median(ratios)
    FOUND[f"pair ratios, batch {batch_size}"] = ratios


def test_resident_cifar10_size():
    """Bytes of the tensor the fast engine keeps for 50,000 CIFAR-10 training images (uint8, never float)."""
    x, _ = _cifar_like(CIFAR_TRAIN).tensors("cpu")
    FOUND["resident MB"] = x.untyped_storage().nbytes() / 1e6
    FOUND["resident dtype"] = str(x.dtype)


def test_suite_against_its_datasets_alone(device):
    """Wall seconds of the suite and of each dataset alone, interleaved; the ratio of the suite's median to the sum
    of the others'.
    """
    seconds: dict[str, list[float]] = {}
    for _ in range(REPEATS):
        for name in (",".join(SUITE), *SUITE):
            started = time.perf_counter()
            regbench.run(dataset=name, device=device.type, **SUITE_RUN)
            seconds.setdefault(name, []).append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    FOUND["suite seconds"] = seconds
    FOUND["suite / sum"] = medians[",".join(SUITE)] / sum(medians[name] for name in SUITE)


@pytest.fixture(scope="module", autouse=True)
def report(request: pytest.FixtureRequest, device) -> Iterator[None]:
    """After the module: the ratios against their goals, printed and written beside the other results."""
    yield
    rows = {
        key: {
            "value": FOUND[key],
            "goal": goal,
            "meets_goal": FOUND[key] <= goal if key in ("resident MB", "suite / sum") else FOUND[key] >= goal,
        }
        for key, goal in GOALS.items()
        if key in FOUND
    }
    if not rows:
        return
    path = request.config.getoption("bench_out") / f"datasets_{device.type}.json"
    results.write_json(
        path,
        {
            "schema_version": results.SCHEMA_VERSION,
            "environment": results.environment(device.type),
            "threads": torch.get_num_threads(),
            "ratios": rows,
            "measured": FOUND,
            "suite": {"datasets": list(SUITE), **{k: v for k, v in SUITE_RUN.items() if k != "progress"}},
        },
    )
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"\nregbench datasets on {device.type} (wrote {path}):")
        for key, row in rows.items():
            reporter.write_line(
                f"  {key:<28} {row['value']:8.3f} (goal {'<=' if key in ('resident MB', 'suite / sum') else '>='}"
                f" {row['goal']})"
            )
