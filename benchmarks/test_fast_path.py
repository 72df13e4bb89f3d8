"""How close regbench's training comes to the bare step loop, and how far ahead of the notebook's path.

Three ways to train the same 784-500-10 model with the same fused Adam, timed in one run:

- ``bare``: the limit: a plain step loop over resident, un-augmented tensors, sliced in order;
- ``regbench``: ``train.run_epoch`` over a ``TensorLoader`` (shuffled gathers), with the
  notebook's augmentation done by ``BatchAugment`` (``regbench-plain``: the same without
  augmentation);
- ``notebook``: ``train.run_epoch`` over the notebook's DataLoader and PIL transforms.

One round is one pass over the training images (tiled to 4,096 at batch 1024 so a round holds
several steps). At the end of the module the ratios of median samples per second are printed
and written to ``<--bench-out>/fast_path.json``:

- augmented regbench / bare at batch 32 and 256 (goal >= 0.8: augmentation nearly free);
- augmented regbench / notebook at batch 32 (goal >= 5) and 256 (goal >= 10);
- plain regbench / bare at batch 1024 (goal >= 0.9: the loop's bookkeeping is free).

``test_full_matrix`` (marked slow) times the whole default matrix on the fast engine, as
``regbench run`` trains it (worker processes included), against the same runs one by one on the
notebook engine, and writes ``<--bench-out>/full_matrix_<device>.json`` (goal >= 5). Nothing
here asserts a speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Iterator

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from regbench import results
from regbench.augment import BatchAugment, notebook_train_transform
from regbench.configs import CONFIGS
from regbench.data import Split, TensorLoader, as_inputs
from regbench.datasets import load_dataset
from regbench.experiment import Settings
from regbench.models import FullyConnected
from regbench.matrix import run_matrix
from regbench.train import make_optimizer, run_epoch, synchronize

pytestmark = [pytest.mark.benchmark, pytest.mark.usefixtures("timed_threads")]

ROUNDS = 7  # passes timed per path; the median of 7 shrugs off a noisy neighbour
GOALS = {  # (numerator, denominator, batch): goal, from the fast-path issue
    ("regbench", "bare", 32): 0.8,
    ("regbench", "bare", 256): 0.8,
    ("regbench", "notebook", 32): 5.0,
    ("regbench", "notebook", 256): 10.0,
    ("regbench-plain", "bare", 1024): 0.9,
}
PATHS = {32: ("bare", "regbench", "notebook"), 256: ("bare", "regbench", "notebook"), 1024: ("bare", "regbench-plain")}
MEDIANS: dict[tuple[str, int], float] = {}  # (path, batch) -> samples per second of the median round


@pytest.fixture(scope="module")
def split() -> Split:
    """The embedded digits' 1,000 training images, as regbench run uses them."""
    return load_dataset("digits")


def _tiled(split: Split, batch_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The training tensors (uint8 images, as regbench keeps them) on the device, repeated so a round at batch 1024
    has several steps.
    """
    x, y = split.train.tensors()
    repeat = max(1, 4 * batch_size // len(x))
    return x.repeat(repeat, 1, 1, 1).to(device), y.repeat(repeat).to(device)


def bare_pass(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    device: torch.device,
) -> Callable[[], None]:
    """The limit every path is measured against: one pass of plain steps over resident float tensors, sliced in
    order.
    """

    def bare() -> None:
        for xb, yb in zip(x.split(batch_size), y.split(batch_size)):
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        synchronize(device)

    return bare


def _epoch(path: str, split: Split, batch_size: int, device: torch.device) -> tuple[Callable[[], None], int]:
    """(one pass of ``path``, samples per pass), with a freshly seeded model and optimizer."""
    torch.manual_seed(0)
    model = FullyConnected().to(device).train()
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = _tiled(split, batch_size, device)
    order = torch.Generator().manual_seed(0)
    if path == "bare":  # the bare loop's tensors are float already; regbench keeps the images as stored (uint8)
        return bare_pass(model, make_optimizer(model, 1e-3, fused=True), as_inputs(x), y, batch_size, device), len(x)
    if path == "notebook":
        batches: object = DataLoader(
            split.train.subset(torch.arange(len(split.train)), transform=notebook_train_transform()),
            batch_size=batch_size,
            shuffle=True,
            generator=order,
        )
        optimizer, n = make_optimizer(model, 1e-3), len(split.train)
    else:
        transform = BatchAugment(flip=True) if path == "regbench" else None
        batches = TensorLoader(x, y, batch_size=batch_size, shuffle=True, generator=order, transform=transform)
        optimizer, n = make_optimizer(model, 1e-3, fused=True), len(x)

    def regbench_or_notebook() -> None:
        run_epoch(model, loss_fn, batches, device, optimizer)
        synchronize(device)

    return regbench_or_notebook, n


@pytest.mark.parametrize(
    "batch_size, path", [(b, p) for b, paths in PATHS.items() for p in paths], ids=lambda v: str(v)
)
def test_training_pass(benchmark, device, split, batch_size, path):
    """Time one pass of a path; record samples per second of the median round."""
    run, samples = _epoch(path, split, batch_size, device)
    benchmark.group = f"fast-path-{device.type}-b{batch_size}"
    benchmark.extra_info.update(
        path=path, batch_size=batch_size, device=device.type, samples_per_call=samples
    )  # a name: JSON has no torch.device
    benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    if benchmark.stats:
        speed = samples / benchmark.stats.stats.median
        benchmark.extra_info["samples_per_second"] = speed
        MEDIANS[(path, batch_size, device.type)] = speed


def ratios(medians: dict, device: str) -> list[dict]:
    """Each goal's ratio of medians from this run, where both sides were timed."""
    rows = []
    for (top, bottom, batch), goal in GOALS.items():
        a, b = medians.get((top, batch, device)), medians.get((bottom, batch, device))
        if a and b:
            rows.append(
                {
                    "ratio": f"{top} / {bottom}",
                    "batch_size": batch,
                    "value": a / b,
                    "goal": goal,
                    "meets_goal": a / b >= goal,
                    "samples_per_second": {top: a, bottom: b},
                }
            )
    return rows


@pytest.fixture(scope="module", autouse=True)
def report_ratios(request: pytest.FixtureRequest) -> Iterator[None]:
    """After the module: print the ratios and keep them beside the other results."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    for device in sorted({key[2] for key in MEDIANS}):  # device names (strings): they sort, and JSON takes them
        rows = ratios(MEDIANS, device)
        if not rows:
            continue
        out = request.config.getoption("bench_out")
        results.write_json(
            out / f"fast_path_{device}.json",
            {
                "schema_version": results.SCHEMA_VERSION,
                "environment": results.environment(device),
                "ratios": rows,
                "samples_per_second": {f"{p}/b{b}": v for (p, b, d), v in MEDIANS.items() if d == device},
            },
        )
        if reporter is not None:
            reporter.write_line(f"\nregbench fast path on {device} (ratios of median samples/s, same run):")
            for r in rows:
                reporter.write_line(
                    f"  {r['ratio']:<27} batch {r['batch_size']:>4}: {r['value']:6.2f}x (goal {r['goal']}x)"
                )


@pytest.mark.slow
def test_full_matrix(device, split, request):
    """The default matrix (all configs x 5 seeds x 20 epochs): fast engine, as `regbench run` trains it, vs one by
    one on the notebook path.
    """
    seconds, executions = {}, {}
    for engine in ("fast", "notebook"):
        started = time.perf_counter()
        records, executions[engine] = run_matrix(
            list(CONFIGS.values()), 5, split, Settings(device=device.type, engine=engine)
        )
        seconds[engine] = time.perf_counter() - started
        assert [r.status for r in records] == ["ok"] * len(records), (
            "a run diverged: the timing would not be comparable"
        )
    ratio = seconds["notebook"] / seconds["fast"]
    results.write_json(
        request.config.getoption("bench_out") / f"full_matrix_{device.type}.json",
        {
            "schema_version": results.SCHEMA_VERSION,
            "environment": results.environment(device.type),
            "threads": torch.get_num_threads(),
            "wall_seconds": seconds,
            "ratio": ratio,
            "goal": 5.0,
            "meets_goal": ratio >= 5.0,
            "execution": executions,
        },
    )
    workers = {group["workers"] for group in executions["fast"].values() if group["choice"] == "single"}
    line = (
        f"full matrix on {device.type}, {torch.get_num_threads()} threads: fast {seconds['fast']:.0f} s "
        f"(one-by-one runs on {'/'.join(map(str, sorted(workers))) or 'no'} worker processes), "
        f"notebook one by one {seconds['notebook']:.0f} s, ratio {ratio:.1f}x (goal 5x)"
    )
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("\n" + line)
