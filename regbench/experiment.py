"""One training run of one configuration and seed, measured into a results record.

This is where the pieces meet: data (a ``Split``) -> augmentation -> model + loss -> training ->
metrics. The record it returns is plain JSON-ready data for ``regbench.results``.

Two engines feed the same training loop:
- ``fast`` (default): each split is one tensor on the training device, converted once; batches
  are index gathers; augmentation is ``BatchAugment`` (per-sample parameters, one resampling
  call per chunk); Adam is fused.
- ``notebook``: the notebook's path, kept honest and unoptimized for comparison: torchvision
  transforms on PIL images, batched by a DataLoader at the training batch size, for training
  and evaluation alike (the notebook's test loader uses its ``batch_size`` too).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader

from regbench import augment, metrics
from regbench.configs import Config
from regbench.data import Split, TensorLoader
from regbench.train import Batches, TrainingDiverged, evaluate, make_optimizer, seed_everything, train_model

__all__ = ["ENGINES", "Prepared", "Settings", "make_loaders", "measure", "prepare", "run_one"]

ENGINES = ("fast", "notebook")

EVAL_BATCH = 1024  # the fast engine's evaluation batches: no gradient, so large batches only save time


@dataclass(frozen=True)
class Settings:
    """How every run of a matrix trains (the same for all configs, so they compare)."""

    epochs: int = 20  # the small training set (1,000 images) is fit well before this
    batch_size: int = 32  # the notebook's small-data batch size
    lr: float = 1e-3  # Adam's default step size
    device: str = "cpu"
    engine: str = "fast"  # see the module docstring


def make_loaders(config: Config, seed: int, split: Split, settings: Settings) -> tuple[Batches, Batches, Batches]:
    """(augmented training batches, clean training set, test set) for the chosen engine."""
    order = torch.Generator().manual_seed(seed)  # shuffling (and, on the fast engine, augmentation) for this seed
    if settings.engine == "notebook":
        train = split.train.subset(torch.arange(len(split.train)), transform=config.train_transform() or augment.test_transform())
        clean, test = (s.subset(torch.arange(len(s)), transform=augment.test_transform()) for s in (split.train, split.test))
        return (  # the notebook batches its test loader like its training loader: DataLoader(test_data, batch_size=batch_size)
            DataLoader(train, batch_size=settings.batch_size, shuffle=True, generator=order),
            DataLoader(clean, batch_size=settings.batch_size),
            DataLoader(test, batch_size=settings.batch_size),
        )
    if settings.engine != "fast":
        raise ValueError(f"unknown engine {settings.engine!r}; choose one of {', '.join(ENGINES)}")
    device = torch.device(settings.device)
    train_x, train_y = (t.to(device) for t in split.train.tensors())
    test_x, test_y = (t.to(device) for t in split.test.tensors())
    return (
        TensorLoader(train_x, train_y, batch_size=settings.batch_size, shuffle=True, generator=order, transform=config.batch_transform()),
        TensorLoader(train_x, train_y, batch_size=EVAL_BATCH),
        TensorLoader(test_x, test_y, batch_size=EVAL_BATCH),
    )


def measure(model: torch.nn.Module, loss_fn: torch.nn.Module, clean_train: Batches, test: Batches, device: torch.device) -> dict:
    """A trained model's record fields: eval-mode accuracy and loss on clean train and test data, gap, weights."""
    train_eval = evaluate(model, loss_fn, clean_train, device=device)
    test_eval = evaluate(model, loss_fn, test, device=device)
    gap = metrics.generalization_gap(
        train_accuracy=train_eval.accuracy, test_accuracy=test_eval.accuracy,
        train_loss=train_eval.loss, test_loss=test_eval.loss,
    )
    return {
        "train_accuracy": train_eval.accuracy,
        "test_accuracy": test_eval.accuracy,
        "train_loss": train_eval.loss,
        "test_loss": test_eval.loss,
        "penalty": test_eval.penalty,
        "gap_accuracy": gap["accuracy"],
        "gap_loss": gap["loss"],
        "mean_abs_weight": metrics.mean_abs_weight(model),
        "sparsity": metrics.sparsity(model),
        "weight_histogram": metrics.weight_histogram(model),
        "penalty_leak": metrics.penalty_leak(loss_fn, model),
        "eval_nondeterminism": metrics.eval_nondeterminism(model, next(iter(test))[0].to(device)),
    }


@dataclass
class Prepared:
    """A run built and ready to train: what run_one trains and then measures."""

    model: torch.nn.Module
    loss_fn: torch.nn.Module
    optimizer: torch.optim.Optimizer
    train: Batches
    clean_train: Batches
    test: Batches


def prepare(config: Config, seed: int, split: Split, settings: Settings) -> Prepared:
    """Seed, then build model, loss, optimizer and loaders in the one order that makes a run repeatable."""
    seed_everything(seed)
    model = config.build_model().to(torch.device(settings.device))
    loss_fn = config.build_loss(model)
    optimizer = make_optimizer(model, settings.lr, fused=settings.engine == "fast")
    return Prepared(model, loss_fn, optimizer, *make_loaders(config, seed, split, settings))


def run_one(config: Config, seed: int, split: Split, settings: Settings, *, progress: bool | None = None) -> dict:
    """Train ``config`` with ``seed`` and return its record; a diverged run is recorded, not raised."""
    started = time.perf_counter()
    device = torch.device(settings.device)
    run = prepare(config, seed, split, settings)
    record = {"config": config.name, "seed": seed, "status": "ok", "engine": settings.engine}
    try:
        history = train_model(
            run.model, run.loss_fn, run.optimizer, run.train, run.test, settings.epochs,
            device=device, progress=progress, desc=f"{config.name} seed {seed}",
        )
    except TrainingDiverged as exc:
        record.update(status="diverged", error=str(exc), run_seconds=time.perf_counter() - started)
        return record
    record.update(measure(run.model, run.loss_fn, run.clean_train, run.test, device))
    record.update(
        samples_per_second=history.samples_per_second,
        torch_threads=torch.get_num_threads(),  # speed depends on it; in a worker process it is that worker's share
        train_seconds=history.train_seconds,
        run_seconds=time.perf_counter() - started,
        history=history.epochs,
    )
    return record
