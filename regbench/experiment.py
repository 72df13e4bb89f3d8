"""One training run of one configuration and seed, measured into a results record.

This is where the pieces meet: data (a ``Split``) -> augmentation -> model + loss -> training ->
metrics. The record it returns is plain JSON-ready data for ``regbench.results``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader

from regbench import metrics
from regbench.configs import Config
from regbench.data import Split, TensorLoader
from regbench.train import TrainingDiverged, evaluate, seed_everything, train_model

__all__ = ["Settings", "run_one"]

EVAL_BATCH = 1024  # evaluation has no gradient, so large batches only save time


@dataclass(frozen=True)
class Settings:
    """How every run of a matrix trains (the same for all configs, so they compare)."""

    epochs: int = 20  # the small training set (1,000 images) is fit well before this
    batch_size: int = 32  # the notebook's small-data batch size
    lr: float = 1e-3  # Adam's default step size
    device: str = "cpu"


def run_one(config: Config, seed: int, split: Split, settings: Settings, *, progress: bool | None = None) -> dict:
    """Train ``config`` with ``seed`` and return its record; a diverged run is recorded, not raised."""
    started = time.perf_counter()
    device = torch.device(settings.device)
    seed_everything(seed)
    model = config.build_model().to(device)
    loss_fn = config.build_loss(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    train_x, train_y = (t.to(device) for t in split.train.tensors())
    test_x, test_y = (t.to(device) for t in split.test.tensors())
    shuffle = torch.Generator().manual_seed(seed)
    transform = config.train_transform()
    if transform is None:
        train_loader = TensorLoader(train_x, train_y, batch_size=settings.batch_size, shuffle=True, generator=shuffle)
    else:  # the notebook's path: PIL images through torchvision transforms, batched by a DataLoader
        augmented = split.train.subset(torch.arange(len(split.train)), transform=transform)
        train_loader = DataLoader(augmented, batch_size=settings.batch_size, shuffle=True, generator=shuffle)
    test_loader = TensorLoader(test_x, test_y, batch_size=EVAL_BATCH)
    record = {"config": config.name, "seed": seed, "status": "ok"}
    try:
        history = train_model(
            model, loss_fn, optimizer, train_loader, test_loader, settings.epochs,
            device=device, progress=progress, desc=f"{config.name} seed {seed}",
        )
    except TrainingDiverged as exc:
        record.update(status="diverged", error=str(exc), run_seconds=time.perf_counter() - started)
        return record
    train_eval = evaluate(model, loss_fn, TensorLoader(train_x, train_y, batch_size=EVAL_BATCH), device=device)
    test_eval = evaluate(model, loss_fn, test_loader, device=device)
    gap = metrics.generalization_gap(
        train_accuracy=train_eval.accuracy, test_accuracy=test_eval.accuracy,
        train_loss=train_eval.loss, test_loss=test_eval.loss,
    )
    record.update(
        train_accuracy=train_eval.accuracy,
        test_accuracy=test_eval.accuracy,
        train_loss=train_eval.loss,
        test_loss=test_eval.loss,
        penalty=test_eval.penalty,
        gap_accuracy=gap["accuracy"],
        gap_loss=gap["loss"],
        mean_abs_weight=metrics.mean_abs_weight(model),
        sparsity=metrics.sparsity(model),
        weight_histogram=metrics.weight_histogram(model),
        samples_per_second=history.samples_per_second,
        train_seconds=history.train_seconds,
        run_seconds=time.perf_counter() - started,
        history=history.epochs,
    )
    return record
