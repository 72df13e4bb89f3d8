"""Training throughput: one optimization step of every model x penalty at batch 32, 256 and 1024.

A step is ``regbench.train.run_epoch`` over one batch: forward, the penalized loss split into its
parts, backward, the config's Adam (fused, as the fast engine builds it) and
the loss bookkeeping, exactly as ``regbench run`` trains, on data already on the device, so the
model and the penalty are timed, not the data path. On CUDA every call ends in
``torch.cuda.synchronize`` so a round measures the work rather than its launch, and warm-up
rounds absorb kernel selection and allocator growth. samples/s of the median round, the
device's name and the batch size go into ``extra_info``; nothing about speed is asserted.
"""

from __future__ import annotations

from collections.abc import Callable

import dataclasses

import pytest
import torch

from regbench.configs import CONFIGS, Config
from regbench.train import run_epoch, synchronize

pytestmark = [pytest.mark.benchmark, pytest.mark.usefixtures("timed_threads")]

MODELS = {
    "plain": "baseline",
    "dropout": "dropout",
    "batchnorm": "batchnorm",
}  # benchmark id -> the built-in config whose model it times
PENALTIES = {
    "none": "baseline",
    "l1": "l1",
    "l2": "l2",
    "elasticnet": "elasticnet",
    "mixed": "mixed",
}  # ... whose loss it times
BATCH_SIZES = (32, 256, 1024)
SAMPLES_PER_ROUND = 1024  # steps per round = 1024 / batch: every round lasts milliseconds, far above timer resolution
ROUNDS = 15  # enough for Mann-Whitney U to separate a real slowdown (smallest p with 15 vs 15 is ~1e-8)
WARMUP_ROUNDS = 2  # first calls pick kernels and grow the allocator


def training_step(config: Config, batch_size: int, device: torch.device) -> Callable[[], None]:
    """A closure that runs one step of ``config``'s model and loss on a fixed random batch."""
    torch.manual_seed(0)
    model = config.build_model().to(device).train()
    loss_fn = config.build_loss(model)
    optimizer = config.build_optimizer(model, lr=1e-3, fused=True)
    inputs = torch.rand(batch_size, 1, 28, 28, device=device)
    targets = torch.randint(0, 10, (batch_size,), device=device)
    batch = [(inputs, targets)]

    def step() -> None:
        run_epoch(model, loss_fn, batch, device, optimizer)
        synchronize(device)

    return step


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's as pytest-benchmark's machine_info would not say per benchmark."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


@pytest.mark.parametrize("batch_size", BATCH_SIZES, ids=lambda b: f"b{b}")
@pytest.mark.parametrize("penalty", PENALTIES)
@pytest.mark.parametrize("model", MODELS)
def test_train_step(benchmark, device, model, penalty, batch_size):
    """Time one training step; record samples per second."""
    built_in = CONFIGS[MODELS[model]]
    config = dataclasses.replace(
        CONFIGS[PENALTIES[penalty]], name=f"{model}-{penalty}", model=built_in.model, model_args=built_in.model_args
    )
    step = training_step(config, batch_size, device)
    benchmark.group = f"train-step-{device.type}-b{batch_size}"
    benchmark.extra_info.update(
        device=device.type,
        device_name=device_name(device),
        model=model,
        penalty=penalty,
        batch_size=batch_size,
        samples_per_call=batch_size,
        torch_threads=torch.get_num_threads(),
    )
    benchmark.pedantic(
        step, rounds=ROUNDS, iterations=max(1, SAMPLES_PER_ROUND // batch_size), warmup_rounds=WARMUP_ROUNDS
    )
    if benchmark.stats:  # None under --benchmark-disable, where the call runs once untimed
        benchmark.extra_info["samples_per_second"] = batch_size / benchmark.stats.stats.median
