"""Hypothesis strategies shared by the property modules: seeds, widths, lambdas, models, batches, images, labels.

Models are generated as ``ModelSpec`` values (kind, widths, dropout rate, init seed) rather than
built modules, so a failing example prints as something a person can rebuild, and so the same
spec can build regbench's class or a mutant of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch import nn

__all__ = [
    "KINDS",
    "ModelCase",
    "ModelSpec",
    "batches",
    "class_labels",
    "dropout_rates",
    "images",
    "increasing_lambdas",
    "lambdas",
    "model_cases",
    "model_specs",
    "momenta",
    "seeds",
    "tensors",
    "widths",
]

KINDS = ("plain", "dropout", "batchnorm")
MAX_WIDTH = 24  # wide enough for every layer shape to matter, small enough for ~1 ms per forward
MAX_BATCH = 12  # BatchNorm's statistics already differ from 2 samples on; larger batches only cost time
UNIT = st.floats(-1.0, 1.0, width=32, allow_subnormal=False)  # inputs on the scale of ToTensor's pixels


def seeds() -> st.SearchStrategy[int]:
    """Seeds for torch's RNG: any 32-bit value, so masks and inits vary between examples."""
    return st.integers(0, 2**32 - 1)


def widths(*, min_value: int = 1, max_value: int = MAX_WIDTH) -> st.SearchStrategy[int]:
    """Layer widths, including the degenerate width 1."""
    return st.integers(min_value, max_value)


def dropout_rates(*, min_value: float = 0.0, max_value: float = 0.99) -> st.SearchStrategy[float]:
    """Dropout probabilities in [min_value, max_value]; regbench accepts [0, 1), and past 0.99 few units survive to test."""
    return st.floats(min_value, max_value, allow_subnormal=False)


def momenta() -> st.SearchStrategy[float]:
    """BatchNorm momenta in (0, 1]: the weight of the new batch in the running statistics."""
    return st.floats(0.01, 1.0)


@st.composite
def lambdas(draw: st.DrawFn, *, min_value: float = 1e-4, max_value: float = 1.0) -> float:
    """Penalty strengths spread evenly in log scale, since lambdas span decades in practice."""
    exponent = draw(st.floats(math.log10(min_value), math.log10(max_value)))
    return float(min(max(10.0**exponent, min_value), max_value))


@st.composite
def increasing_lambdas(
    draw: st.DrawFn,
    *,
    min_size: int = 2,
    max_size: int = 4,
    min_value: float = 1e-4,
    max_value: float = 1.0,
) -> list[float]:
    """A strictly increasing sequence of lambdas: what a regularization sweep runs over."""
    return sorted(draw(st.lists(lambdas(min_value=min_value, max_value=max_value), min_size=min_size, max_size=max_size, unique=True)))


@dataclass(frozen=True)
class ModelSpec:
    """Everything that fixes a model: its kind, widths, dropout rate and the seed of its initialization."""

    kind: str
    input_size: int
    hidden_size: int
    output_size: int
    dropout_prob: float = 0.0
    seed: int = 0

    def build(self, model_class: Optional[Callable[..., nn.Module]] = None, device: torch.device | str = "cpu", *, reseed: bool = True) -> nn.Module:
        """The spec's model (regbench's class for its kind, unless another class is given), initialized from the spec's seed.

        ``reseed=False`` draws the initialization from torch's global RNG as it stands instead.
        """
        if model_class is None:
            model_class = _regbench_class(self.kind)
        sizes = (self.input_size, self.hidden_size, self.output_size)
        kwargs = {"dropout_prob": self.dropout_prob} if self.kind == "dropout" else {}
        if not reseed:
            return model_class(*sizes, **kwargs).to(device)
        with torch.random.fork_rng(devices=[]):  # built on the CPU; leave the global RNG as it was
            torch.manual_seed(self.seed)
            return model_class(*sizes, **kwargs).to(device)


def _regbench_class(kind: str) -> Callable[..., nn.Module]:
    """regbench's model for a kind name."""
    from regbench import models

    return {"plain": models.FullyConnected, "dropout": models.FullyConnectedDropout, "batchnorm": models.FullyConnectedBatchNorm}[kind]


@st.composite
def model_specs(
    draw: st.DrawFn,
    *,
    kinds: Sequence[str] = KINDS,
    max_width: int = MAX_WIDTH,
) -> ModelSpec:
    """Models of the given kinds with any widths, any dropout rate and any initialization."""
    kind = draw(st.sampled_from(kinds))
    p = draw(dropout_rates()) if kind == "dropout" else 0.0
    return ModelSpec(
        kind=kind,
        input_size=draw(widths(max_value=max_width)),
        hidden_size=draw(widths(max_value=max_width)),
        output_size=draw(widths(max_value=max_width)),
        dropout_prob=p,
        seed=draw(seeds()),
    )


def tensors(shape: tuple[int, ...], *, elements: st.SearchStrategy[float] = UNIT) -> st.SearchStrategy[torch.Tensor]:
    """float32 tensors of a fixed shape, generated (and shrunk) by hypothesis.extra.numpy."""
    return hnp.arrays(np.float32, shape, elements=elements).map(torch.from_numpy)


@st.composite
def batches(draw: st.DrawFn, input_size: int, *, min_size: int = 1, max_size: int = MAX_BATCH) -> torch.Tensor:
    """A (batch, input_size) float32 batch with a generated batch size."""
    n = draw(st.integers(min_size, max_size))
    return draw(tensors((n, input_size)))


@dataclass(frozen=True)
class ModelCase:
    """A model spec together with a batch that fits it."""

    spec: ModelSpec
    inputs: torch.Tensor


@st.composite
def model_cases(
    draw: st.DrawFn,
    *,
    kinds: Sequence[str] = KINDS,
    min_batch: int = 1,
    max_batch: int = MAX_BATCH,
) -> ModelCase:
    """A model and an input batch for it, the batch size drawn independently of the widths."""
    spec = draw(model_specs(kinds=kinds))
    return ModelCase(spec, draw(batches(spec.input_size, min_size=min_batch, max_size=max_batch)))


def images(*, side: int = 28) -> st.SearchStrategy[np.ndarray]:
    """Grayscale uint8 images; Hypothesis' array filling makes most of them a flat background with strokes, like digits."""
    return hnp.arrays(np.uint8, (side, side), elements=st.integers(0, 255))


@st.composite
def class_labels(draw: st.DrawFn, *, min_per_class: int = 0, max_extra: int = 4, num_classes: int = 10) -> list[int]:
    """Labels 0..num_classes-1 in any order, each class at least ``min_per_class`` times."""
    counts = draw(st.lists(st.integers(min_per_class, min_per_class + max_extra), min_size=num_classes, max_size=num_classes))
    labels = [c for c, k in enumerate(counts) for _ in range(k)]
    return draw(st.permutations(labels))
