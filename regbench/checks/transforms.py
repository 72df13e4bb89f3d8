"""Invariants of a user's augmentation: output, reproducibility, and label preservation on real digits."""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from torch import nn

from regbench.checks.report import (
    ALPHA,
    MAX_EXAMPLES,
    CheckUsageError,
    Invariant,
    Report,
    Result,
    Status,
)
from regbench.checks.search import (
    is_factory,
    made,
    not_applicable,
    property_result,
    name_of,
)
from regbench.checks.statistics import binomial_excess_pvalue, binomial_upper_bound
from regbench.data import Split, TensorLoader, load_dataset
from regbench.models import FullyConnected
from regbench.train import make_optimizer, rngs_restored, seed_everything, train_model


TRANSFORM_INVARIANTS = {
    i.name: i
    for i in (
        Invariant(
            "output_shape_dtype_range",
            "every image comes out as a finite floating-point tensor of shape (1, H, W) with values in [0, 1], as ToTensor gives",
            "the transform's output is not what the model expects (PILToTensor's uint8 0..255 instead of ToTensor's "
            "floats, a lost channel dimension, NaNs); end the pipeline with ToTensor",
        ),
        Invariant(
            "reproducible_under_seed",
            "seeding torch, numpy and random (regbench.seed_everything) fixes the transform's output",
            "the transform draws from an RNG no seed reaches (np.random.default_rng(), a private Generator), so "
            "runs cannot be repeated; draw from torch's global RNG as torchvision's transforms do",
        ),
        Invariant(
            "label_preservation",
f"a reference classifier trained on clean images changes its prediction under the transform no more often than it errs on them (one-sided binomial test, alpha {ALPHA:g})",
            "the transform changes what the images show, not just how they look (a mirrored 3, 5 or 7 is no longer "
            "that digit): training on it teaches wrong labels; drop that step (as regbench.digit_train_transform does)",
        ),
    )
}


@dataclass(frozen=True)
class DigitImage:
    """A generated grayscale uint8 image, shown by its content rather than 784 numbers."""

    pixels: np.ndarray

    def __str__(self) -> str:
        p, h, w = self.pixels, *self.pixels.shape
        values, counts = np.unique(p, return_counts=True)
        background = int(values[counts.argmax()])
        if len(values) == 1:
            return f"{h}x{w} image, every pixel {background}"
        rows, cols = np.nonzero(p != background)
        shown = ", ".join(f"({r},{c})={p[r, c]}" for r, c in list(zip(rows, cols))[:4])
        return f"{h}x{w} image of {background} with {len(rows)} other pixel{'s' if len(rows) > 1 else ''}: {shown}{' ...' if len(rows) > 4 else ''}"


def images(side: int = 28) -> st.SearchStrategy[DigitImage]:
    """uint8 images; Hypothesis' array filling makes most a flat background with a few strokes."""
    return hnp.arrays(np.uint8, (side, side), elements=st.integers(0, 255)).map(DigitImage)


@dataclass
class _TransformSubject:
    """The user's transform and what it takes: a PIL image, or a float tensor (1, H, W) in [0, 1]."""

    transform: Callable[[Any], Any]
    takes: str  # "pil" or "tensor"

    def apply(self, pixels: np.ndarray) -> Any:
        """The transform of one uint8 (H, W) image, given in the form the transform takes."""
        image = Image.fromarray(pixels) if self.takes == "pil" else torch.from_numpy(pixels).unsqueeze(0).float() / 255
        return self.transform(image)


def _transform_subject(transform: Any) -> _TransformSubject:
    """A copy of the transform (or a factory's product), fed PIL images or tensors, whichever gives a tensor back (PIL first)."""
    if is_factory(transform):
        transform = made(transform)
    try:
        transform = copy.deepcopy(transform)
    except Exception:  # an uncopyable transform (holding a file, a lock) is used as is
        pass
    blank = np.zeros((28, 28), dtype=np.uint8)
    accepted = []
    for takes in ("pil", "tensor"):
        subject = _TransformSubject(transform, takes)
        try:
            with rngs_restored():
                out = subject.apply(blank)
        except Exception:
            continue
        if isinstance(out, torch.Tensor):
            return subject
        accepted.append(subject)
    # Returns no tensor for either (or takes neither): output_shape_dtype_range reports what it does.
    return accepted[0] if accepted else _TransformSubject(transform, "pil")


def _prop_output(subject: _TransformSubject, image: DigitImage, value_range: Optional[tuple[float, float]]) -> None:
    out = subject.apply(image.pixels)
    assert isinstance(out, torch.Tensor), f"returned {type(out).__name__}, not a tensor"
    assert out.is_floating_point(), f"dtype {out.dtype}, not a floating-point tensor (values {float(out.min()):g}..{float(out.max()):g})"
    expected = (1, *image.pixels.shape)
    assert tuple(out.shape) == expected, f"shape {tuple(out.shape)}, expected {expected}"
    assert torch.isfinite(out).all(), "non-finite values in the output"
    if value_range is not None:
        low, high = float(out.min()), float(out.max())
        assert value_range[0] <= low and high <= value_range[1], f"values {low:g}..{high:g} outside [{value_range[0]:g}, {value_range[1]:g}]"


def _prop_reproducible(subject: _TransformSubject, image: DigitImage, seed: int) -> None:
    outputs = []
    for _ in range(2):
        seed_everything(seed)
        outputs.append(subject.apply(image.pixels))
    first, second = outputs
    same = torch.equal(first, second) if isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor) else first == second
    assert same, f"two calls after seed_everything({seed}) gave different outputs"


# Label preservation ----------------------------------------------------------------------------
# The reference classifier is regbench's FullyConnected on moment-normalized images (Casey 1970):
# each image's centre of mass is moved to the middle and each axis scaled to a fixed spread, so a
# shift, zoom or stretch (what a crop does) is undone before the MLP sees the image, while a mirror
# image is not. Without it an MLP on raw pixels reads a 0.8-scale crop as another digit a third of
# the time, and no threshold separates a flip from a crop.
REFERENCE_PER_CLASS = 200  # training and test images per class: 2,000 each from the embedded 5,000
REFERENCE_HIDDEN = 100
REFERENCE_EPOCHS = 10
SPREAD = 0.25  # target standard deviation of the ink along each axis, in [-1, 1] image coordinates


def moment_normalize(images: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) -> same: centre of mass to the middle, each axis' ink spread scaled to SPREAD."""
    n, _, h, w = images.shape
    ys = (torch.arange(h, dtype=images.dtype) * 2 + 1) / h - 1  # pixel centres, as affine_grid's
    xs = (torch.arange(w, dtype=images.dtype) * 2 + 1) / w - 1
    mass = images.sum((1, 2, 3)).clamp_min(1e-6)
    along_x, along_y = images.sum((1, 2)), images.sum((1, 3))
    cx, cy = (along_x * xs).sum(1) / mass, (along_y * ys).sum(1) / mass
    sx = ((along_x * (xs - cx[:, None]) ** 2).sum(1) / mass).sqrt().clamp_min(1e-3)
    sy = ((along_y * (ys - cy[:, None]) ** 2).sum(1) / mass).sqrt().clamp_min(1e-3)
    zero = torch.zeros_like(cx)
    theta = torch.stack([torch.stack([sx / SPREAD, zero, cx], 1), torch.stack([zero, sy / SPREAD, cy], 1)], 1)
    return F.grid_sample(images, F.affine_grid(theta, list(images.shape), align_corners=False), align_corners=False)


class ReferenceClassifier(nn.Module):
    """Moment normalization, then FullyConnected: a digit classifier that shrugs off shifts and zooms."""

    def __init__(self, side: int = 28) -> None:
        super().__init__()
        self.side = side
        self.net = FullyConnected(side * side, REFERENCE_HIDDEN, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(moment_normalize(x.reshape(-1, 1, self.side, self.side)))


@dataclass
class _Reference:
    """The trained classifier and its clean predictions on the held-out images."""

    model: ReferenceClassifier
    test_pixels: np.ndarray  # (N, H, W) uint8
    test_labels: torch.Tensor
    clean_predictions: torch.Tensor
    source: str

    @property
    def errors(self) -> int:
        return int((self.clean_predictions != self.test_labels).sum())


_REFERENCES: dict[int, tuple[Optional[Split], _Reference]] = {}  # id(split) -> (split kept alive, its classifier)


def _reference(split: Optional[Split] = None) -> _Reference:
    """Train once per process and split (about 2 s on one core), seeded, on clean images."""
    if id(split) not in _REFERENCES:
        _REFERENCES[id(split)] = (split, _train_reference(split or load_dataset("digits", n_train=REFERENCE_PER_CLASS, n_test=REFERENCE_PER_CLASS)))
    return _REFERENCES[id(split)][1]


def _train_reference(split: Split) -> _Reference:
    """regbench's training loop, seeded: Adam 1e-3, batch 32, REFERENCE_EPOCHS epochs."""
    side = split.train.data.shape[-1]
    with rngs_restored():
        seed_everything(0)
        model = ReferenceClassifier(side)
        x, y = split.train.tensors()
        test_x, test_y = split.test.tensors()
        train_model(model, nn.CrossEntropyLoss(), make_optimizer(model, 1e-3), TensorLoader(x, y, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0)),
                    [(test_x[:1], test_y[:1])], REFERENCE_EPOCHS, progress=False, desc="reference classifier")
        model.eval()
        with torch.no_grad():
            clean = model(test_x).argmax(1)
    return _Reference(model, split.test.data.numpy(), test_y, clean, split.source)


def _label_preservation(invariant: Invariant, subject: _TransformSubject, split: Optional[Split], threshold: Optional[float]) -> Result:
    """One-sided binomial test that the prediction-change rate exceeds the classifier's own error rate.

    n test images, k predictions changed by the transform, e clean errors. The allowed rate is the
    classifier's error rate (a label-preserving transform may move an image the classifier finds
    hard across its boundary, about as often as the classifier is wrong), taken at its
    Clopper-Pearson upper bound at level ALPHA/2; the transform is flagged when P(K >= k) under
    Binomial(n, bound) is below ALPHA/2. A transform that truly changes predictions no more often
    than the classifier errs is flagged with probability at most ALPHA (union bound over the two
    steps), treating the test images as a random sample. ``threshold`` replaces the bound.
    """
    ref = _reference(split)
    n = len(ref.test_labels)
    outputs = []
    with rngs_restored():
        seed_everything(0)
        for pixels in ref.test_pixels:
            out = subject.apply(pixels)
            if not isinstance(out, torch.Tensor) or out.numel() != pixels.size:
                return not_applicable(invariant, f"the output ({type(out).__name__} {tuple(getattr(out, 'shape', ()))}) is not one {pixels.shape} image the reference classifier can read")
            outputs.append(out.reshape(1, *pixels.shape).float())
    transformed = torch.stack(outputs)
    if transformed.min() < -1e-6 or transformed.max() > 1 + 1e-6:
        return not_applicable(invariant, f"outputs span {float(transformed.min()):g}..{float(transformed.max()):g}, not ToTensor's [0, 1] that the reference classifier reads")
    with torch.no_grad():
        predictions = ref.model(transformed).argmax(1)
    changed = (predictions != ref.clean_predictions).nonzero().flatten().tolist()
    k, e = len(changed), ref.errors
    error_bound = threshold if threshold is not None else binomial_upper_bound(e, n, ALPHA)
    pvalue = binomial_excess_pvalue(k, n, error_bound)
    observed = (
        f"changed {k} of {n} predictions ({k / n:.1%}); allowed {error_bound:.1%} "
        + ("(given threshold)" if threshold is not None else f"(classifier error {e / n:.1%}, upper bound at alpha {ALPHA / 2:g})")
        + f"; one-sided binomial p {'= %.3g' % pvalue if pvalue > 0 else '< 1e-300'}"
    )
    if pvalue >= ALPHA / 2:
        return Result(invariant.name, Status.PASSED, invariant.checks, observed)
    return Result(invariant.name, Status.FAILED, invariant.fix, observed, _most_changed(ref, predictions))


def _most_changed(ref: _Reference, predictions: torch.Tensor) -> str:
    """The three classes the transform changes most, each with one image that was rightly classified before."""
    labels, clean = ref.test_labels, ref.clean_predictions
    rates = torch.stack([(predictions[labels == c] != clean[labels == c]).float().mean() for c in range(int(labels.max()) + 1)])
    parts = []
    for c in rates.argsort(descending=True)[:3].tolist():
        flipped = ((labels == c) & (clean == c) & (predictions != c)).nonzero().flatten()
        shown = f", e.g. #{int(flipped[0])} read as {int(predictions[flipped[0]])}" if len(flipped) else ""
        parts.append(f"class {c}: {rates[c]:.0%} changed{shown}")
    return f"test images of {ref.source}: " + "; ".join(parts)


def check_transform(
    transform: Any,
    *,
    split: Optional[Split] = None,
    value_range: Optional[tuple[float, float]] = (0.0, 1.0),
    label_threshold: Optional[float] = None,
    max_examples: int = MAX_EXAMPLES,
    name: Optional[str] = None,
) -> Report:
    """Every transform invariant on ``transform`` (PIL image or tensor in, tensor out; a zero-argument factory is called once).

    ``split`` holds the clean images the reference classifier learns from and is tested on
    (default: 200 + 200 embedded digits per class); ``value_range=None`` skips the range check
    (for a pipeline ending in Normalize); ``label_threshold`` fixes the allowed change rate.
    """
    if label_threshold is not None and not 0 < label_threshold < 1:
        raise CheckUsageError(f"label_threshold is a rate of changed predictions, strictly between 0 and 1; got {label_threshold!r}")
    inv = TRANSFORM_INVARIANTS
    with rngs_restored():
        subject = _transform_subject(transform)
        results = [
            property_result(inv["output_shape_dtype_range"], functools.partial(_prop_output, subject, value_range=value_range), {"image": images()}, max_examples),
            property_result(inv["reproducible_under_seed"], functools.partial(_prop_reproducible, subject), {"image": images(), "seed": st.integers(0, 2**16 - 1)}, max_examples),
            _label_preservation(inv["label_preservation"], subject, split, label_threshold),
        ]
    return Report(name or name_of(transform), "transform", results, {"input": "PIL image" if subject.takes == "pil" else "tensor (1, H, W)", "examples": max_examples})
