"""One training run of one configuration and seed, measured into a results record.

This is where the pieces meet: data (a ``Split``) -> augmentation -> model + loss -> training ->
metrics. It returns a ``RunRecord`` (``regbench.records``). Every part comes from the config's
factories, sized by the data where a factory asks (``configs.DATA_ARGUMENTS``: the sample shape
and the number of classes), so any model that takes the dataset's samples trains here: a small
CNN on CIFAR-10 as well as the notebook's MLP on digits or on a table of features.

Two engines feed the same training loop:
- ``fast`` (default): each split is one tensor on the training device, converted once; batches
  are index gathers; augmentation is the config's batch transform (``augment``, such as
  ``BatchAugment``: per-sample parameters, one resampling call per chunk); Adam is fused.
- ``notebook``: the notebook's path, kept honest and unoptimized for comparison: the config's
  torchvision transform (``transform``) on PIL images, batched by a DataLoader at the training
  batch size, for training and evaluation alike (the notebook's test loader uses its
  ``batch_size`` too).
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch.utils.data import DataLoader

from regbench import augment, metrics
from regbench.configs import Config, ConfigError
from regbench.data import Samples, Split, TensorLoader, first_per_class, holdout_split
from regbench.errors import UsageError, first_line
from regbench.records import Measurement, RunRecord
from regbench.stopping import EarlyStopping
from regbench.supervise import announce
from regbench.losses import loss_parts
from regbench.train import (
    Batches,
    History,
    TrainingDiverged,
    TrainingTimeout,
    evaluate,
    rngs_restored,
    seed_everything,
    train_model,
)

__all__ = [
    "ENGINES",
    "Cell",
    "NotApplicable",
    "Prepared",
    "Settings",
    "check_engine",
    "evaluation_batches",
    "make_loaders",
    "make_record",
    "measure",
    "preflight",
    "prepare",
    "run_cell",
    "run_one",
]

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

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise UsageError(f"unknown engine {self.engine!r}; choose one of {', '.join(ENGINES)}")
        object.__setattr__(
            self, "device", str(self.device)
        )  # a torch.device works as well as its name, and results stay JSON


@dataclass(frozen=True)
class Cell:
    """One (dataset, config, seed) of a matrix: the unit every engine and executor trains."""

    config: Config
    seed: int
    dataset: Optional[str] = None  # the name of the split it trains on (records name it); None for a split made by hand


def check_engine(config: Config, engine: str) -> None:
    """Each engine augments with its own kind of transform; a config that gives only the other kind cannot run there."""
    if engine == "fast" and config.transform is not None and config.augment is None:
        raise ConfigError(
            f"config {config.name!r} augments with a PIL transform only (transform=...), which the notebook engine"
            " uses; the fast engine augments whole batches: give augment= too (a factory of (images, generator) ->"
            " images), or run with --engine notebook"
        )
    if engine == "notebook" and config.augment is not None and config.transform is None:
        raise ConfigError(
            f"config {config.name!r} augments with a batch transform only (augment=...), which the fast engine uses;"
            " the notebook engine augments PIL images: give transform= too (a torchvision transform factory), or run"
            " with --engine fast"
        )


def make_loaders(config: Config, seed: int, split: Split, settings: Settings) -> tuple[Batches, Batches, Batches]:
    """(augmented training batches, clean training set, test set) for the chosen engine."""
    order = torch.Generator().manual_seed(seed)  # shuffling (and, on the fast engine, augmentation) for this seed
    if settings.engine == "notebook":
        train = split.train.subset(
            torch.arange(len(split.train)), transform=config.build_transform(split.fit) or _to_tensor(split.train)
        )
        return (
            DataLoader(train, batch_size=settings.batch_size, shuffle=True, generator=order),
            *(evaluation_batches(s, settings) for s in (split.train, split.test)),
        )
    train_x, train_y = split.train.tensors(settings.device)
    return (
        TensorLoader(
            train_x,
            train_y,
            batch_size=settings.batch_size,
            shuffle=True,
            generator=order,
            transform=config.build_augment(split.fit),
        ),
        *(evaluation_batches(s, settings) for s in (split.train, split.test)),
    )


def evaluation_batches(samples: Samples, settings: Settings) -> Batches:
    """Clean (un-augmented) batches of a data set for measuring, as the engine reads them.

    The notebook batches its test loader like its training loader (DataLoader(test_data,
    batch_size=batch_size)); the fast engine evaluates resident tensors in large batches.
    """
    if settings.engine == "notebook":
        return DataLoader(
            samples.subset(torch.arange(len(samples)), transform=_to_tensor(samples)), batch_size=settings.batch_size
        )
    return TensorLoader(*samples.tensors(settings.device), batch_size=EVAL_BATCH)


def _to_tensor(samples: Samples) -> Optional[Callable]:
    """The notebook's test transform (ToTensor) for images; feature vectors index as tensors already."""
    return augment.test_transform() if samples.kind == "images" else None


def measure(
    model: torch.nn.Module, loss_fn: torch.nn.Module, clean_train: Batches, test: Batches, device: torch.device
) -> Measurement:
    """A trained model's eval-mode accuracy and loss on clean train and test data, its gap, weights and invariants."""
    train_eval = evaluate(model, loss_fn, clean_train, device=device)
    test_eval = evaluate(model, loss_fn, test, device=device)
    gap = metrics.generalization_gap(
        train_accuracy=train_eval.accuracy,
        test_accuracy=test_eval.accuracy,
        train_loss=train_eval.loss,
        test_loss=test_eval.loss,
    )
    return Measurement(
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
        penalty_leak=metrics.penalty_leak(loss_fn, model),
        eval_nondeterminism=metrics.eval_nondeterminism(model, next(iter(test))[0].to(device)),
    )


@dataclass
class Prepared:
    """A run built and ready to train: what run_one trains and then measures."""

    model: torch.nn.Module
    loss_fn: torch.nn.Module
    optimizer: torch.optim.Optimizer
    train: Batches
    clean_train: Batches
    test: Batches
    stopping: Optional[EarlyStopping] = None
    holdout: Optional[Batches] = None  # with early stopping: the validation batches carved from the training data
    validation_size: int = 0


def prepare(config: Config, seed: int, split: Split, settings: Settings) -> Prepared:
    """Seed, then build model, loss, optimizer and loaders in the one order that makes a run repeatable.

    With early stopping, the validation split is carved from the training set first: the run
    trains (and its train accuracy is measured) on the rest.
    """
    seed_everything(seed)
    device = torch.device(settings.device)
    model = config.build_model(split.fit).to(device)
    loss_fn = config.build_loss(model, split.fit)
    if isinstance(loss_fn, torch.nn.Module):
        loss_fn = loss_fn.to(device)  # a loss with buffers of its own (class weights) follows the model
    optimizer = config.build_optimizer(model, settings.lr, fused=settings.engine == "fast")
    stopping, holdout = config.build_stopping(), None
    if stopping is not None:
        kept, held = holdout_split(split.train, stopping.validation_fraction)
        holdout = split.train.subset(held)
        split = split.cut(train=kept)
    return Prepared(
        model,
        loss_fn,
        optimizer,
        *make_loaders(config, seed, split, settings),
        stopping=stopping,
        holdout=evaluation_batches(holdout, settings) if holdout is not None else None,
        validation_size=len(holdout) if holdout is not None else 0,
    )


class NotApplicable(ConfigError):
    """A config that cannot train on one dataset (a model built for another shape, an image augmentation on feature
    vectors).
    """


# images per class for one forward pass and loss: BatchNorm's train mode and a held-out split both work, and it is cheap
PREFLIGHT_PER_CLASS = 2


def preflight(config: Config, split: Split, settings: Settings) -> Prepared:
    """Build every part of a config once and push one batch through its model and loss, before any training.

    A mistake (a keyword the factory refuses, a model built for another shape, an image
    augmentation on feature vectors, a loss that does not return a scalar) is reported here in
    one line naming the config and the dataset, not minutes into a matrix or inside a worker
    process; what fails only with this dataset's data is ``NotApplicable``. Global RNGs are left
    as they were. Returns the built run (seed 0, tiny data), from which engines read what a config means.
    """
    announce(f"the one-batch check of config {config.name!r} on {split.name}, before training")
    check_engine(config, settings.engine)
    tiny = split.cut(
        train=torch.cat(first_per_class(split.train, PREFLIGHT_PER_CLASS, classes=split.classes)),
        test=torch.arange(min(PREFLIGHT_PER_CLASS, len(split.test))),
    )
    where = (
        f"config {config.name!r} on dataset {split.name!r} ({split.kind} {split.sample_shape}, {split.classes} classes)"
    )
    with rngs_restored():
        try:
            run = prepare(config, 0, tiny, settings)
        except UsageError:
            raise
        except Exception as error:
            raise NotApplicable(f"{where}: building it failed: {type(error).__name__}: {first_line(error)}") from error
        try:
            inputs, targets = next(iter(run.train))
            run.model.train()
            outputs = run.model(inputs.to(torch.device(settings.device)))
            parts = loss_parts(run.loss_fn, outputs, targets.to(outputs.device))
        except Exception as error:
            raise NotApplicable(
                f"{where}: its augmentation, model and loss failed on a training batch: {type(error).__name__}:"
                f" {first_line(error)}"
            ) from error
        if parts.total.ndim != 0 or not parts.total.is_floating_point():
            raise ConfigError(
                f"{where}: the loss returned a tensor of shape {tuple(parts.total.shape)} and dtype "
                f"{parts.total.dtype}; training needs a floating-point scalar (reduce with mean or sum)"
            )
    return run


def make_record(
    cell: Cell,
    settings: Settings,
    *,
    run_seconds: float,
    execution: str = "single",
    members: int = 1,
    measurement: Optional[Measurement] = None,
    history: Optional[History] = None,
    error: Optional[str] = None,
    status: Optional[str] = None,
    run: Optional[Prepared] = None,
) -> RunRecord:
    """The one place a run record is made, for every engine and execution: identity and provenance are filled in here.

    ``status`` defaults to "diverged" when there is an error and "ok" otherwise.
    """
    finished = history is not None and measurement is not None
    stopping = None
    if (
        run is not None and run.stopping is not None and finished
    ):  # what early stopping chose, and on how many held-out images
        stopping = {
            "chosen_epoch": history.chosen_epoch,
            "epochs_trained": len(history.epochs),
            "validation_size": run.validation_size,
        }
    return RunRecord(
        config=cell.config.name,
        config_hash=cell.config.hash,
        seed=cell.seed,
        dataset=cell.dataset,
        engine=settings.engine,
        execution=execution,
        members=members,
        torch_threads=torch.get_num_threads(),
        run_seconds=run_seconds,
        status=status or ("diverged" if error is not None else "ok"),
        error=error,
        measurement=measurement,
        history=history.epochs if history is not None else [],
        samples_per_second=history.samples_per_second if finished else None,
        train_seconds=history.train_seconds if finished else None,
        epoch_seconds=history.epoch_seconds if finished and history.epoch_seconds else None,
        stopping=stopping,
    )


def run_one(
    config: Config,
    seed: int,
    split: Split,
    settings: Settings,
    *,
    progress: bool | None = None,
    time_limit: Optional[float] = None,
) -> RunRecord:
    """Train ``config`` with ``seed`` and return its record; a diverged run, or one past ``time_limit`` seconds, is
    recorded, not raised.
    """
    started = time.perf_counter()
    device = torch.device(settings.device)
    run = prepare(config, seed, split, settings)
    deadline = time.monotonic() + time_limit if time_limit is not None else None
    try:
        history = train_model(
            run.model,
            run.loss_fn,
            run.optimizer,
            run.train,
            run.test,
            settings.epochs,
            device=device,
            progress=progress,
            desc=f"{config.name} seed {seed}",
            stopping=run.stopping,
            holdout=run.holdout,
            deadline=deadline,
        )
    except TrainingDiverged as exc:
        return make_record(
            Cell(config, seed, split.name), settings, error=str(exc), run_seconds=time.perf_counter() - started
        )
    except TrainingTimeout as exc:
        return make_record(
            Cell(config, seed, split.name),
            settings,
            error=f"{exc} ({time_limit:g} s)",
            status="timeout",
            run_seconds=time.perf_counter() - started,
        )
    measurement = measure(run.model, run.loss_fn, run.clean_train, run.test, device)
    return make_record(
        Cell(config, seed, split.name),
        settings,
        measurement=measurement,
        history=history,
        run=run,
        run_seconds=time.perf_counter() - started,
    )


TRACEBACK_LINES = 6  # of an exception a cell raised, kept in its record: the innermost frames and the message


def run_cell(cell: Cell, split: Split, settings: Settings, *, time_limit: Optional[float] = None) -> RunRecord:
    """run_one for an executor: never raises for a failing cell, so one bad cell cannot stop a matrix.

    An exception becomes a record with status "error" and the exception's last lines; it is not
    retried, since the same code would fail the same way. (A worker that dies is the executor's
    to notice.)
    """
    started = time.perf_counter()
    try:
        return run_one(cell.config, cell.seed, split, settings, progress=False, time_limit=time_limit)
    except Exception:
        tail = "".join(traceback.format_exc().strip().splitlines(keepends=True)[-TRACEBACK_LINES:])
        return make_record(cell, settings, error=tail, status="error", run_seconds=time.perf_counter() - started)
