"""Invariants of a user's augmentation: output, reproducibility, and label preservation on real digits."""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import strategies as st
from PIL import Image
from torch import nn

from regbench.checks.engine import Invariant
from regbench.checks.objects import is_factory, made, name_of
from regbench.checks.report import ALPHA, MAX_EXAMPLES, CheckUsageError, Report
from regbench.checks.statistics import binomial_excess_pvalue, binomial_upper_bound
from regbench.checks.strategies import DigitImage, digit_images
from regbench.data import Split, TensorLoader, as_inputs
from regbench.datasets import load_dataset
from regbench.models import FullyConnected
from regbench.train import make_optimizer, rngs_restored, seed_everything, train_model

DIGIT_SHAPE = (1, 28, 28)  # the images transforms are checked on unless a dataset says otherwise


@dataclass
class TransformSubject:
    """The user's transform, what it takes (a PIL image, or a float tensor (C, H, W) in [0, 1]) and the options it is
    checked with.

    ``value_range`` None skips the range check (a pipeline ending in Normalize); ``split`` holds
    the clean images of the label-preservation test; ``threshold`` fixes its allowed change rate.
    """

    transform: Callable[[Any], Any]
    takes: str = "pil"  # "pil" or "tensor"
    value_range: Optional[tuple[float, float]] = (0.0, 1.0)
    split: Optional[Split] = None
    threshold: Optional[float] = None
    shape: tuple[int, ...] = (
        DIGIT_SHAPE  # (C, H, W) of the images it is checked on: a dataset's samples, or the digits'
    )

    def apply(self, pixels: np.ndarray) -> Any:
        """The transform of one uint8 image ((H, W), or (H, W, C) with several channels), given in the form the
        transform takes.
        """
        if self.takes == "pil":
            return self.transform(Image.fromarray(pixels))
        tensor = torch.from_numpy(pixels)
        return self.transform((tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1)).float() / 255)

    @functools.cached_property
    def references(self) -> torch.Tensor | str:
        """The label-preservation test's images under the transform, or why the reference classifier cannot read
        them.
        """
        return _transformed_references(self)


def transform_subject(transform: Any, **options: Any) -> TransformSubject:
    """A copy of the transform (or a factory's product), fed PIL images or tensors, whichever gives a tensor back
    (PIL first).
    """
    if is_factory(transform):
        transform = made(transform)
    try:
        transform = copy.deepcopy(transform)
    except Exception:  # an uncopyable transform (holding a file, a lock) is used as is
        pass
    channels, height, width = options.get("shape", DIGIT_SHAPE)
    blank = np.zeros((height, width) if channels == 1 else (height, width, channels), dtype=np.uint8)
    accepted = []
    for takes in ("pil", "tensor"):
        subject = TransformSubject(transform, takes, **options)
        try:
            with rngs_restored():
                out = subject.apply(blank)
        except Exception:
            continue
        if isinstance(out, torch.Tensor):
            return subject
        accepted.append(subject)
    # Returns no tensor for either (or takes neither): output_shape_dtype_range reports what it does.
    return accepted[0] if accepted else TransformSubject(transform, "pil", **options)


def _prop_output(subject: TransformSubject, image: DigitImage) -> None:
    out = subject.apply(image.pixels)
    assert isinstance(out, torch.Tensor), f"returned {type(out).__name__}, not a tensor"
    assert out.is_floating_point(), (
        f"dtype {out.dtype}, not a floating-point tensor (values {float(out.min()):g}..{float(out.max()):g})"
    )
    expected = subject.shape
    assert tuple(out.shape) == expected, f"shape {tuple(out.shape)}, expected {expected}"
    assert torch.isfinite(out).all(), "non-finite values in the output"
    if subject.value_range is not None:
        (least, most), low, high = subject.value_range, float(out.min()), float(out.max())
        assert least <= low and high <= most, f"values {low:g}..{high:g} outside [{least:g}, {most:g}]"


def _prop_reproducible(subject: TransformSubject, image: DigitImage, seed: int) -> None:
    outputs = []
    for _ in range(2):
        seed_everything(seed)
        outputs.append(subject.apply(image.pixels))
    first, second = outputs
    same = (
        torch.equal(first, second)
        if isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor)
        else first == second
    )
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
    """Train once per process and split (seconds of training, too slow to repeat per check), seeded, on clean images."""
    if id(split) not in _REFERENCES:
        _REFERENCES[id(split)] = (
            split,
            _train_reference(split or load_dataset("digits", n_train=REFERENCE_PER_CLASS, n_test=REFERENCE_PER_CLASS)),
        )
    return _REFERENCES[id(split)][1]


def _train_reference(split: Split) -> _Reference:
    """regbench's training loop, seeded: Adam 1e-3, batch 32, REFERENCE_EPOCHS epochs."""
    side = split.train.data.shape[-1]
    with rngs_restored():
        seed_everything(0)
        model = ReferenceClassifier(side)
        x, y = split.train.tensors()
        test_x, test_y = split.test.tensors()
        test_x = as_inputs(test_x)
        train_model(
            model,
            nn.CrossEntropyLoss(),
            make_optimizer(model, 1e-3),
            TensorLoader(x, y, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0)),
            [(test_x[:1], test_y[:1])],
            REFERENCE_EPOCHS,
            progress=False,
            desc="reference classifier",
        )
        model.eval()
        with torch.no_grad():
            clean = model(test_x).argmax(1)
    return _Reference(
        model, split.test.data[:, 0].numpy(), test_y, clean, split.source
    )  # grayscale (N, H, W), as PIL takes them


def _transformed_references(subject: TransformSubject) -> torch.Tensor | str:
    """The reference's test images under the transform (seeded), or why the classifier cannot read them."""
    ref = _reference(subject.split)
    outputs = []
    with rngs_restored():
        seed_everything(0)
        for pixels in ref.test_pixels:
            out = subject.apply(pixels)
            if not isinstance(out, torch.Tensor) or out.numel() != pixels.size:
                return (
                    f"the output ({type(out).__name__} {tuple(getattr(out, 'shape', ()))}) is not one {pixels.shape}"
                    " image the reference classifier can read"
                )
            outputs.append(out.reshape(1, *pixels.shape).float())
    transformed = torch.stack(outputs)
    if transformed.min() < -1e-6 or transformed.max() > 1 + 1e-6:
        return (
            f"outputs span {float(transformed.min()):g}..{float(transformed.max()):g}, not ToTensor's [0, 1] that the"
            " reference classifier reads"
        )
    return transformed


def _readable(subject: TransformSubject) -> Optional[str]:
    if subject.shape != DIGIT_SHAPE:
        return (
            "the reference classifier reads 28x28 grayscale images (moment-normalized digits); these images are"
            f" {subject.shape}: check label preservation on digits, or with a split of 28x28 grayscale images of"
            " your own"
        )
    return subject.references if isinstance(subject.references, str) else None


def _prop_label_preservation(subject: TransformSubject) -> str:
    """One-sided binomial test that the prediction-change rate exceeds the classifier's own error rate.

    n test images, k predictions changed by the transform, e clean errors. The allowed rate is the
    classifier's error rate (a label-preserving transform may move an image the classifier finds
    hard across its boundary, about as often as the classifier is wrong), taken at its
    Clopper-Pearson upper bound at level ALPHA/2; the transform is flagged when P(K >= k) under
    Binomial(n, bound) is below ALPHA/2. A transform that truly changes predictions no more often
    than the classifier errs is flagged with probability at most ALPHA (union bound over the two
    steps), treating the test images as a random sample. ``subject.threshold`` replaces the bound.
    """
    ref = _reference(subject.split)
    with torch.no_grad():
        predictions = ref.model(subject.references).argmax(1)
    n, k, e = len(ref.test_labels), int((predictions != ref.clean_predictions).sum()), ref.errors
    error_bound = subject.threshold if subject.threshold is not None else binomial_upper_bound(e, n, ALPHA)
    pvalue = binomial_excess_pvalue(k, n, error_bound)
    observed = (
        f"changed {k} of {n} predictions ({k / n:.1%}); allowed {error_bound:.1%} "
        + (
            "(given threshold)"
            if subject.threshold is not None
            else f"(classifier error {e / n:.1%}, upper bound at alpha {ALPHA / 2:g})"
        )
        + f"; one-sided binomial p {'= %.3g' % pvalue if pvalue > 0 else '< 1e-300'}"
    )
    assert pvalue >= ALPHA / 2, f"{observed}\n{_most_changed(ref, predictions)}"
    return observed


def _most_changed(ref: _Reference, predictions: torch.Tensor) -> str:
    """The three classes the transform changes most, each with one image that was rightly classified before."""
    labels, clean = ref.test_labels, ref.clean_predictions
    rates = torch.stack(
        [(predictions[labels == c] != clean[labels == c]).float().mean() for c in range(int(labels.max()) + 1)]
    )
    parts = []
    for c in rates.argsort(descending=True)[:3].tolist():
        flipped = ((labels == c) & (clean == c) & (predictions != c)).nonzero().flatten()
        shown = f", e.g. #{int(flipped[0])} read as {int(predictions[flipped[0]])}" if len(flipped) else ""
        parts.append(f"class {c}: {rates[c]:.0%} changed{shown}")
    return f"test images of {ref.source}: " + "; ".join(parts)


TRANSFORM_INVARIANTS = {
    i.name: i
    for i in (
        Invariant(
            "output_shape_dtype_range",
            "every image comes out as a finite floating-point tensor of its shape (C, H, W) with values in [0, 1], as"
            " ToTensor gives",
            "the transform's output is not what the model expects (PILToTensor's uint8 0..255 instead of ToTensor's "
            "floats, a lost channel dimension, NaNs); end the pipeline with ToTensor",
            _prop_output,
            lambda subject: {"image": digit_images(shape=subject.shape)},
        ),
        Invariant(
            "reproducible_under_seed",
            "seeding torch, numpy and random (regbench.seed_everything) fixes the transform's output",
            "the transform draws from an RNG no seed reaches (np.random.default_rng(), a private Generator), so "
            "runs cannot be repeated; draw from torch's global RNG as torchvision's transforms do",
            _prop_reproducible,
            lambda subject: {"image": digit_images(shape=subject.shape), "seed": st.integers(0, 2**16 - 1)},
        ),
        Invariant(
            "label_preservation",
            "a reference classifier trained on clean images changes its prediction under the transform no more often"
            f" than it errs on them (one-sided binomial test, alpha {ALPHA:g})",
            "the transform changes what the images show, not just how they look (a mirrored 3, 5 or 7 is no longer "
            "that digit): training on it teaches wrong labels; drop that step (as regbench.digit_train_transform does)",
            _prop_label_preservation,
            applies=_readable,
        ),
    )
}


def check_transform(
    transform: Any,
    *,
    input_shape: Optional[Sequence[int]] = None,
    split: Optional[Split] = None,
    value_range: Optional[tuple[float, float]] = (0.0, 1.0),
    label_threshold: Optional[float] = None,
    max_examples: int = MAX_EXAMPLES,
    name: Optional[str] = None,
) -> Report:
    """Every transform invariant on ``transform`` (PIL image or tensor in, tensor out; a zero-argument factory is called
    once).

    ``split`` holds the clean images the reference classifier learns from and is tested on
    (default: 200 + 200 embedded digits per class); ``input_shape`` (C, H, W) is the shape of the
    images it is checked on (default the digits' (1, 28, 28)); ``value_range=None`` skips the range check
    (for a pipeline ending in Normalize); ``label_threshold`` fixes the allowed change rate.
    """
    if label_threshold is not None and not 0 < label_threshold < 1:
        raise CheckUsageError(
            f"label_threshold is a rate of changed predictions, strictly between 0 and 1; got {label_threshold!r}"
        )
    shape = tuple(input_shape) if input_shape is not None else DIGIT_SHAPE
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise CheckUsageError(
            "transforms are checked on images of 1 or 3 channels, (C, H, W) as PIL and ToTensor take them; got input"
            f" shape {shape}"
        )
    with rngs_restored():
        subject = transform_subject(
            transform, value_range=value_range, split=split, threshold=label_threshold, shape=shape
        )
        results = [invariant.result(subject, max_examples) for invariant in TRANSFORM_INVARIANTS.values()]
    return Report(
        name or name_of(transform),
        "transform",
        results,
        {"input": ("PIL image" if subject.takes == "pil" else "tensor") + f" {shape}", "examples": max_examples},
    )
