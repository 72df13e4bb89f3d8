"""The one set of Hypothesis strategies, for ``regbench check`` and the property suite: seeds, widths, lambdas, models,
batches, images, labels.

Models are generated as ``ModelSpec`` values (kind, widths, dropout rate, init seed) rather than
built modules, so a failing example prints as something a person can rebuild, and so the same
spec can build regbench's class or a mutant of it.
"""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch import nn

from regbench.checks.objects import built

__all__ = [
    "KINDS",
    "ModelCase",
    "ModelSpec",
    "Batch",
    "batches",
    "DigitImage",
    "class_labels",
    "digit_images",
    "dropout_rates",
    "images",
    "increasing_lambdas",
    "lambdas",
    "model_cases",
    "model_specs",
    "momenta",
    "seeds",
    "tensor_batches",
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
    """Dropout probabilities in [min_value, max_value]; regbench accepts [0, 1), and past 0.99 few units survive to
    test.
    """
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
    return sorted(
        draw(
            st.lists(
                lambdas(min_value=min_value, max_value=max_value), min_size=min_size, max_size=max_size, unique=True
            )
        )
    )


@dataclass(frozen=True)
class ModelSpec:
    """Everything that fixes a model: its kind (regbench's "plain", "dropout", "batchnorm", or "yours"), widths,
    dropout rate, init seed.
    """

    kind: str
    input_size: int = 0
    hidden_size: int = 0
    output_size: int = 0
    dropout_prob: float = 0.0
    seed: int = 0

    def build(
        self,
        model_class: Optional[Callable[..., nn.Module]] = None,
        device: torch.device | str = "cpu",
        *,
        reseed: bool = True,
    ) -> nn.Module:
        """The spec's model (regbench's class for its kind, unless another class is given), initialized from the spec's
        seed.

        Kind "yours" calls ``model_class`` (the user's zero-argument factory) and copies what it
        returns, in case it hands out one shared instance. ``reseed=False`` draws the
        initialization from torch's global RNG as it stands instead.
        """
        if self.kind == "yours":
            make = lambda: copy.deepcopy(model_class())  # noqa: E731
        else:
            sizes = (self.input_size, self.hidden_size, self.output_size)
            kwargs = {"dropout_prob": self.dropout_prob} if self.kind == "dropout" else {}
            make = functools.partial(model_class or _regbench_class(self.kind), *sizes, **kwargs)
        return (built(make, self.seed) if reseed else make()).to(
            device
        )  # built on the CPU, the global RNGs left as they were

    def __str__(self) -> str:
        if self.kind == "yours":
            return f"your model initialized from seed {self.seed}"
        dropout = f", dropout {self.dropout_prob:.3g}" if self.kind == "dropout" else ""
        return (
            f"{_regbench_class(self.kind).__name__}({self.input_size}, {self.hidden_size}, {self.output_size}{dropout})"
            f" initialized from seed {self.seed}"
        )


def _regbench_class(kind: str) -> Callable[..., nn.Module]:
    """regbench's model for a kind name."""
    from regbench import models

    return {
        "plain": models.FullyConnected,
        "dropout": models.FullyConnectedDropout,
        "batchnorm": models.FullyConnectedBatchNorm,
    }[kind]


@st.composite
def model_specs(
    draw: st.DrawFn,
    *,
    kinds: Sequence[str] = KINDS,
    max_width: int = MAX_WIDTH,
    min_dropout: float = 0.0,
) -> ModelSpec:
    """Models of the given kinds with any widths, any dropout rate and any initialization."""
    kind = draw(st.sampled_from(kinds))
    p = draw(dropout_rates(min_value=min_dropout)) if kind == "dropout" else 0.0
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
def tensor_batches(draw: st.DrawFn, input_size: int, *, min_size: int = 1, max_size: int = MAX_BATCH) -> torch.Tensor:
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
    return ModelCase(spec, draw(tensor_batches(spec.input_size, min_size=min_batch, max_size=max_batch)))


@dataclass(frozen=True)
class Batch:
    """A batch of inputs of any shape, described by how it is filled, so a counterexample reads as a sentence."""

    size: int
    fill: str  # "zeros", "ones", "uniform" (pixels in [0, 1)) or "normal"
    seed: int

    def tensor(self, shape: Sequence[int], device: torch.device | str = "cpu") -> torch.Tensor:
        """(size, *shape) float32, drawn from the batch's own generator."""
        full = (self.size, *shape)
        makers = {"zeros": torch.zeros, "ones": torch.ones}
        if self.fill in makers:
            return makers[self.fill](full).to(device)
        g = torch.Generator().manual_seed(self.seed)
        return (torch.rand if self.fill == "uniform" else torch.randn)(full, generator=g).to(device)

    def __str__(self) -> str:
        fills = {
            "zeros": "all zeros",
            "ones": "all ones",
            "uniform": f"uniform in [0, 1) from seed {self.seed}",
            "normal": f"standard normal from seed {self.seed}",
        }
        return f"{self.size} sample{'s' if self.size > 1 else ''}, {fills[self.fill]}"


def batches(*, min_size: int = 1, max_size: int = 8) -> st.SearchStrategy[Batch]:
    """Batches of any fill for a model of any input shape; small, since batch effects show from 2 samples on."""
    return st.builds(
        Batch,
        size=st.integers(min_size, max_size),
        fill=st.sampled_from(("zeros", "ones", "uniform", "normal")),
        seed=st.integers(0, 2**16 - 1),
    )


def images(*, side: int = 28, shape: Optional[Sequence[int]] = None) -> st.SearchStrategy[np.ndarray]:
    """uint8 images as PIL takes them: (H, W) grayscale, or (H, W, C) for a (C, H, W) ``shape`` of several channels.

    Hypothesis' array filling makes most of them a flat background with strokes, like digits.
    """
    channels, height, width = tuple(shape) if shape is not None else (1, side, side)
    return hnp.arrays(
        np.uint8, (height, width) if channels == 1 else (height, width, channels), elements=st.integers(0, 255)
    )


@dataclass(frozen=True)
class DigitImage:
    """A generated grayscale uint8 image, shown by its content rather than 784 numbers."""

    pixels: np.ndarray

    def __str__(self) -> str:
        p = self.pixels if self.pixels.ndim == 3 else self.pixels[..., None]
        h, w, c = p.shape
        size = f"{h}x{w}" + (f"x{c}" if c > 1 else "")
        values, counts = np.unique(p, return_counts=True)
        background = int(values[counts.argmax()])
        if len(values) == 1:
            return f"{size} image, every pixel {background}"
        rows, cols = np.nonzero((p != background).any(axis=2))
        value = lambda r, q: p[r, q, 0] if c == 1 else tuple(int(v) for v in p[r, q])  # noqa: E731
        shown = ", ".join(f"({r},{q})={value(r, q)}" for r, q in list(zip(rows, cols))[:4])
        return (
            f"{size} image of {background} with {len(rows)} other pixel{'s' if len(rows) > 1 else ''}:"
            f" {shown}{' ...' if len(rows) > 4 else ''}"
        )


def digit_images(*, side: int = 28, shape: Optional[Sequence[int]] = None) -> st.SearchStrategy[DigitImage]:
    """images(), each shown by its content in a counterexample."""
    return images(side=side, shape=shape).map(DigitImage)


@st.composite
def class_labels(draw: st.DrawFn, *, min_per_class: int = 0, max_extra: int = 4, num_classes: int = 10) -> list[int]:
    """Labels 0..num_classes-1 in any order, each class at least ``min_per_class`` times."""
    counts = draw(
        st.lists(st.integers(min_per_class, min_per_class + max_extra), min_size=num_classes, max_size=num_classes)
    )
    labels = [c for c, k in enumerate(counts) for _ in range(k)]
    return draw(st.permutations(labels))
