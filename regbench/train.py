"""The notebook's training loop wrapper, with the bookkeeping a benchmark needs.

``train_model`` runs epochs of (train mode) optimization and (eval mode) validation, and returns
a ``History``: per epoch, the train and validation loss split into base and penalty, and the
accuracies; plus the time spent in training steps alone, for samples per second.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Optional

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from regbench.losses import PenaltyLoss, loss_parts
from regbench.stopping import EarlyStopping

__all__ = [
    "EpochStats",
    "History",
    "TrainingDiverged",
    "TrainingTimeout",
    "accuracy",
    "epoch_entry",
    "evaluate",
    "flushed_denormals",
    "make_optimizer",
    "rngs_restored",
    "run_epoch",
    "seed_everything",
    "seed_torch",
    "synchronize",
    "train_model",
]

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; continuing would only produce garbage weights."""


class TrainingTimeout(RuntimeError):
    """Training ran past its deadline (checked after every epoch)."""


def accuracy(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Fraction of rows whose largest logit is the target class (the notebook's definition)."""
    return (predictions.argmax(dim=1) == targets).float().mean()


def seed_everything(seed: int) -> None:
    """Seed every RNG a run touches (torch, numpy, random), so a CPU run repeats exactly."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    seed_torch(seed)


def seed_torch(seed: int) -> None:
    """torch.manual_seed, minus its lazy seeding of accelerators a CPU-only machine does not have.

    For each absent backend (CUDA, XPU, MTIA) torch.manual_seed queues the seed with a formatted
    stack trace, which costs more than the seeding itself deep inside a property test.
    """
    accelerator = getattr(torch, "accelerator", None)  # torch >= 2.6
    if accelerator is None or accelerator.is_available():
        torch.manual_seed(seed)
    else:
        torch.default_generator.manual_seed(seed)


@contextmanager
def rngs_restored() -> Iterator[None]:
    """Let a block reseed torch's, Python's and numpy's global RNGs (as seed_everything does) without the caller
    noticing.
    """
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


@contextmanager
def flushed_denormals() -> Iterator[None]:
    """Treat denormal floats as zero on the CPU inside the block, then return to torch's default (off).

    After a few hundred Adam steps, moment estimates of weights that rarely get a gradient decay
    into the denormal range, and x86 arithmetic on denormals is many times slower, enough to
    slow a whole epoch of the notebook's MLP. Values below 1.2e-38 do not matter to any result
    regbench reports.
    """
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


@dataclass
class EpochStats:
    """Mean per-sample loss parts and accuracy over one pass through a data set."""

    loss: float
    penalty: float
    accuracy: float

    @classmethod
    def from_sums(cls, loss: torch.Tensor, penalty: torch.Tensor, correct: torch.Tensor, n: int) -> "EpochStats":
        """Sums accumulated on the device become means here, with one synchronization per epoch."""
        if n == 0:
            raise ValueError("the data loader yielded no samples")
        return cls(float(loss) / n, float(penalty) / n, float(correct) / n)


def epoch_entry(epoch: int, train: EpochStats, val: EpochStats) -> dict:
    """One epoch of a history, in the keys every results file uses (single runs and sweeps alike)."""
    return {
        "epoch": epoch,
        "train_loss": train.loss,
        "train_penalty": train.penalty,
        "train_accuracy": train.accuracy,
        "val_loss": val.loss,
        "val_penalty": val.penalty,
        "val_accuracy": val.accuracy,
    }


@dataclass
class History:
    """What training produced, epoch by epoch, and how long the optimization itself took."""

    epochs: list[dict] = field(default_factory=list)
    train_seconds: float = 0.0
    train_samples: int = 0
    chosen_epoch: Optional[int] = None  # with early stopping: the epoch whose weights the model ends with
    epoch_seconds: list[float] = field(default_factory=list)  # each epoch's training steps alone, in order

    @property
    def samples_per_second(self) -> float:
        """Training throughput, robust to warm-up and to a burst of load: the median over epochs of one epoch's samples
        per second.

        The first epoch is left out when there are others (it pays for allocation, kernel
        selection and a cold cache, and made whichever config trained first look slow), and the
        median ignores an epoch a busy neighbour slowed down. A history without per-epoch
        timings falls back to all samples over all seconds.
        """
        if not self.epoch_seconds:
            return self.train_samples / self.train_seconds if self.train_seconds > 0 else float("nan")
        per_epoch = self.train_samples / len(self.epoch_seconds)
        timed = self.epoch_seconds[1:] or self.epoch_seconds
        middle = statistics.median(timed)
        return per_epoch / middle if middle > 0 else float("nan")


def run_epoch(
    model: nn.Module,
    loss_fn: nn.Module,
    batches: Batches,
    device: torch.device,
    optimizer: Optional[torch.optim.Optimizer],
) -> tuple[EpochStats, int]:
    """One pass; trains when given an optimizer, otherwise only measures (under no_grad).

    Per-batch values stay on the device and are reduced once at the end of the pass: one
    synchronization per pass, and no bookkeeping in the step beyond keeping each batch's loss
    parts and predicted classes.
    """
    penalized = isinstance(
        loss_fn, PenaltyLoss
    )  # a plain criterion's total is its base: no zero to add (and back-propagate) every step
    bases, penalties, predicted, labels, sizes = [], [], [], [], []
    with torch.set_grad_enabled(optimizer is not None):
        for inputs, targets in batches:
            inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
            outputs = model(inputs)
            parts = loss_parts(loss_fn, outputs, targets)
            if optimizer is not None:
                optimizer.zero_grad(set_to_none=True)
                (parts.total if penalized else parts.base).backward()
                optimizer.step()
            bases.append(parts.base.detach())
            penalties.append(parts.penalty.detach())
            predicted.append(outputs.argmax(1))
            labels.append(targets)
            sizes.append(len(targets))
    n = sum(sizes)
    if n == 0:
        raise ValueError("the data loader yielded no samples")
    weights = torch.tensor(sizes, device=device, dtype=torch.float64)
    weighted = lambda values: (torch.stack(values).double() * weights).sum()  # noqa: E731
    correct = (torch.cat(predicted) == torch.cat(labels)).sum()
    return EpochStats.from_sums(weighted(bases), weighted(penalties), correct, n), n


def evaluate(
    model: nn.Module, loss_fn: nn.Module, batches: Batches, *, device: torch.device | str | None = None
) -> EpochStats:
    """Loss parts and accuracy in eval mode (dropout off, BatchNorm on running statistics)."""
    device = torch.device(device) if device is not None else _model_device(model)
    was_training = model.training
    model.eval()
    try:
        return run_epoch(model, loss_fn, batches, device, optimizer=None)[0]
    finally:
        model.train(was_training)


def train_model(
    model: nn.Module,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_loader: Batches,
    val_loader: Batches,
    epochs: int,
    *,
    device: torch.device | str | None = None,
    progress: Optional[bool] = None,
    desc: str = "training",
    stopping: Optional[EarlyStopping] = None,
    holdout: Optional[Batches] = None,
    deadline: Optional[float] = None,
) -> History:
    """Train for ``epochs`` and validate after each; stop with TrainingDiverged on a NaN/inf loss.

    With ``stopping``, the ``holdout`` batches (carved from the training data) are evaluated
    after every epoch as well; training stops when their base loss stops improving, and the
    model keeps the best epoch's weights (``History.chosen_epoch``). ``val_loader``'s numbers are
    recorded, never used to decide. ``deadline`` (a ``time.monotonic()`` value) stops a run that
    passes it with TrainingTimeout, checked after every epoch. ``progress=None`` shows a bar only
    on a terminal.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if (stopping is None) != (holdout is None):
        raise ValueError("early stopping needs both the rule (stopping) and the validation batches (holdout)")
    device = torch.device(device) if device is not None else _model_device(model)
    history = History()
    monitor = stopping.monitor() if stopping is not None else None
    bar = tqdm(
        range(1, epochs + 1), desc=desc, unit="epoch", disable=None if progress is None else not progress, leave=False
    )
    for epoch in bar:
        model.train()
        synchronize(device)
        start = time.perf_counter()
        train_stats, n = run_epoch(model, loss_fn, train_loader, device, optimizer)
        synchronize(device)
        history.epoch_seconds.append(time.perf_counter() - start)
        history.train_seconds += history.epoch_seconds[-1]
        history.train_samples += n
        if not (math.isfinite(train_stats.loss) and math.isfinite(train_stats.penalty)):
            raise TrainingDiverged(
                f"{desc}: the training loss became {train_stats.loss + train_stats.penalty} in epoch {epoch}; "
                "lower the learning rate or the penalty lambda"
            )
        val_stats = evaluate(model, loss_fn, val_loader, device=device)
        history.epochs.append(epoch_entry(epoch, train_stats, val_stats))
        bar.set_postfix(train_acc=f"{train_stats.accuracy:.3f}", val_acc=f"{val_stats.accuracy:.3f}")
        if monitor is not None:
            held = evaluate(model, loss_fn, holdout, device=device)
            history.epochs[-1].update(holdout_loss=held.loss, holdout_accuracy=held.accuracy)
            if monitor.update(epoch, held.loss, model):
                break
        if deadline is not None and time.monotonic() > deadline and epoch < epochs:
            raise TrainingTimeout(f"{desc}: still training after epoch {epoch} of {epochs} at the time limit")
    if monitor is not None:
        monitor.restore(model)
        history.chosen_epoch = monitor.best_epoch
    return history


def make_optimizer(model: nn.Module, lr: float, *, fused: bool = False) -> torch.optim.Optimizer:
    """Adam, as every regbench run uses; fused=True does the whole update in one kernel per device."""
    return torch.optim.Adam(model.parameters(), lr=lr, fused=fused or None)


def _model_device(model: nn.Module) -> torch.device:
    """Where the model's parameters live (CPU for a parameterless model)."""
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work so wall-clock timings measure it, not just its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
