"""Batched augmentation (regbench.augment.BatchAugment) against torchvision, its reference, on images of any (C, H, W).

- The per-sample parameters follow torchvision's distributions for an image of size (H, W):
  RandomRotation(10)'s angle, RandomResizedCrop((H, W), scale=(0.8, 1.0)).get_params' crop box
  (central fallback included), RandomHorizontalFlip's coin (scipy.stats goodness-of-fit tests at
  alpha = PROPERTY_ALPHA each; its share of the run's budget: properties/budget.py).
- For fixed parameters the output matches torchvision's functional transforms (hflip, rotate,
  resized_crop) within interpolation tolerance, for grayscale digits, several channels and
  non-square images.
- Identity parameters give the input back; flipping twice is the identity; shape, dtype and range
  are preserved; a seed reproduces the output; for any number of channels and any H, W.

Each property is a ``check_*(impl, device, **inputs)`` so the mutants at the bottom run through
the same code. ``impl`` is anything with ``sample_params`` and ``apply_params`` (the module).
"""

from __future__ import annotations

import math
import types
from dataclasses import dataclass
from typing import Sequence
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats as sps
from torchvision import transforms
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as TF

from properties.budget import statistical
from properties.mutation import Mutation
from regbench.checks.strategies import seeds
from properties.support import assert_values_close, seeded
from regbench import augment
from regbench.augment import AugmentParams
from regbench.checks.statistics import PROPERTY_ALPHA, assert_binomial, assert_pvalue
from regbench.data import as_inputs, embedded_digits

SIZE = 28
# One image's (C, H, W) the strategies always include: the digits', CIFAR's, a wide image with
# several channels and a small tall one with an unusual channel count.
NAMED_SHAPES = ((1, SIZE, SIZE), (3, 32, 32), (3, 20, 36), (2, 17, 9))
MAX_SIDE = 40  # any H, W up to this: well past the named shapes, small enough to stay cheap
# Crop sizes (H, W) on which get_params behaves differently: square (an attempt nearly always fits,
# the fallback is the whole image); 24x30 (many attempts too tall; 30/24 lies in the ratio range,
# so the fallback is the whole image); 20x36 and 17x9 (no attempt ever fits: the fallback is the
# central crop of aspect ratio 4/3, or 3/4).
CROP_SIZES = ((SIZE, SIZE), (32, 32), (24, 30), (20, 36), (17, 9))
SMALLEST_CROP = math.sqrt(
    0.8 * 3 / 4
)  # the smallest fraction of a side get_params' attempts reach (area 0.8, ratio 3/4)
DRAWS = 10_000  # our parameter draws per distribution test
REFERENCE_DRAWS = 3_000  # torchvision get_params calls per distribution test, one Python call each
GOF_SETTINGS = settings(max_examples=3)  # plus the explicit examples below, one per kind of fallback
GOF_EXAMPLES = 3 + 3  # generated and explicit: what the budget (properties/budget.py) counts
# Interpolation tolerance, on images blurred (Gaussian, sigma 1.5 px) so that what is compared is
# geometry, not the sub-pixel differences between one bilinear resampling (ours) and torchvision's
# two (rotate, then resized_crop). The rule: it lies above every error of correct parameters, with
# INTERPOLATION_MARGIN to spare, and below every error of a rotation of the wrong sign by 3 to 10
# degrees. test_geometry_tolerance_is_measured measures both on random images of MATCH_SHAPES and
# checks the rule; run it with -s to print the figures (the README quotes them).
GEOMETRY_TOLERANCE = 0.07
INTERPOLATION_MARGIN = (
    0.01  # correct parameters must stay this far under the tolerance, so a small change in torchvision does not flip it
)
# The shapes that property and its measurement cover: NAMED_SHAPES and a tall one-channel image.
MATCH_SHAPES = (*NAMED_SHAPES, (1, MAX_SIDE, 12))


def image_shapes(*, channels: Sequence[int] = (1, 2, 3, 4)) -> st.SearchStrategy[tuple[int, int, int]]:
    """One image's (C, H, W): a named shape, or any C of ``channels`` and H, W in 1..MAX_SIDE."""
    named = [shape for shape in NAMED_SHAPES if shape[0] in channels]
    sides = st.integers(1, MAX_SIDE)
    return st.one_of(st.sampled_from(named), st.tuples(st.sampled_from(tuple(channels)), sides, sides))


_DIGITS: list[torch.Tensor] = []


def _digit(index: int) -> torch.Tensor:
    """One embedded digit, loaded once per session: real strokes, not noise, are what augmentation meets."""
    if not _DIGITS:
        _DIGITS.append(as_inputs(embedded_digits().tensors()[0]))
    return _DIGITS[0][index]


def _image(index: int, shape: tuple[int, int, int]) -> torch.Tensor:
    """An image of ``shape`` made of strokes: C digits from ``index`` on, one per channel, resized to (H, W)."""
    channels = torch.cat([_digit((index + 1000 * k) % 5000) for k in range(shape[0])])
    return channels if channels.shape == shape else TF.resize(channels, list(shape[1:]), antialias=True)


# --- parameters follow torchvision's distributions --------------------------------------------


def _chi2_same_distribution(ours: np.ndarray, theirs: np.ndarray, *, what: str) -> None:
    """Two-sample chi-square (scipy.stats.chi2_contingency) on categories with enough counts."""
    values = np.union1d(ours, theirs)
    table = np.array([[np.sum(ours == v) for v in values], [np.sum(theirs == v) for v in values]])
    keep = table.sum(0) >= 10  # rare categories pooled, so the chi-square approximation holds
    table = np.column_stack([table[:, keep], table[:, ~keep].sum(1)]) if (~keep).any() else table
    if table.shape[1] < 2:
        assert np.array_equal(np.unique(ours), np.unique(theirs)), f"{what}: {np.unique(ours)} vs {np.unique(theirs)}"
        return
    assert_pvalue(
        sps.chi2_contingency(table).pvalue,
        PROPERTY_ALPHA,
        what=f"{what}: regbench's distribution differs from torchvision's (chi-square)",
    )


def check_params_follow_torchvision(impl, device, *, seed: int, size: tuple[int, int]) -> None:
    """Angle ~ U(-10, 10) (KS), flip ~ Bernoulli(0.5) (binomial), crop box as get_params draws it (chi-square).

    ``size`` is the image's (H, W): get_params' attempts and fallback depend on it.
    """
    ours = impl.sample_params(DRAWS, size=size, flip=True, generator=torch.Generator().manual_seed(seed))
    assert_pvalue(
        sps.kstest(ours.angle.numpy(), sps.uniform(loc=-10, scale=20).cdf).pvalue,
        PROPERTY_ALPHA,
        what="rotation angle is not U(-10, 10) (KS)",
    )
    assert_binomial(int(ours.flip.sum()), DRAWS, 0.5, what="horizontal flips")
    image = torch.zeros(1, *size)
    with seeded(seed):
        theirs = np.array(
            [transforms.RandomResizedCrop.get_params(image, [0.8, 1.0], [3 / 4, 4 / 3]) for _ in range(REFERENCE_DRAWS)]
        )
    boxes = np.stack([ours.top.numpy(), ours.left.numpy(), ours.height.numpy(), ours.width.numpy()], axis=1).astype(int)
    sizes = boxes[:, 2] * 100 + boxes[:, 3], theirs[:, 2] * 100 + theirs[:, 3]
    _chi2_same_distribution(*sizes, what=f"crop size (h, w) of {size}")
    _chi2_same_distribution(boxes[:, 0], theirs[:, 0], what=f"crop top in {size}")
    _chi2_same_distribution(boxes[:, 1], theirs[:, 1], what=f"crop left in {size}")


@statistical(alpha=5 * PROPERTY_ALPHA, examples=GOF_EXAMPLES)  # KS, binomial and three chi-square tests per example
@GOF_SETTINGS
@given(seed=seeds(), size=st.sampled_from(CROP_SIZES))
@example(seed=0, size=(24, 30))
@example(seed=0, size=(20, 36))
@example(seed=0, size=(17, 9))
def test_params_follow_torchvision(seed, size):
    check_params_follow_torchvision(augment, "cpu", seed=seed, size=size)


def test_no_flip_preset_never_flips():
    """BatchAugment(flip=False), the label-preserving preset, draws no flip at all."""
    params = augment.sample_params(DRAWS, flip=False, generator=torch.Generator().manual_seed(0))
    assert not params.flip.any()


# --- fixed parameters: the same image as torchvision's functional transforms --------------------


def _fallback_size(size: tuple[int, int]) -> tuple[int, int]:
    """(h, w) of torchvision's central fallback crop, from get_params itself given a scale no attempt can meet."""
    with torch.random.fork_rng():
        return tuple(transforms.RandomResizedCrop.get_params(torch.zeros(1, *size), [2.0, 2.0], [3 / 4, 4 / 3])[2:])


@st.composite
def fixed_params(draw: st.DrawFn, size: tuple[int, int]) -> AugmentParams:
    """One sample's parameters for an image of ``size`` (H, W), anywhere in the ranges torchvision can draw:
    a crop of at least SMALLEST_CROP of each side (where get_params' attempts land) or its fallback's size."""
    image_h, image_w = size
    attempts = st.tuples(*(st.integers(math.ceil(SMALLEST_CROP * side), side) for side in size))
    height, width = draw(st.one_of(attempts, st.just(_fallback_size(size))))
    as_tensor = lambda v: torch.tensor([v], dtype=torch.float64)  # noqa: E731
    return AugmentParams(
        angle=as_tensor(draw(st.floats(-10, 10))),
        top=as_tensor(draw(st.integers(0, image_h - height))),
        left=as_tensor(draw(st.integers(0, image_w - width))),
        height=as_tensor(height),
        width=as_tensor(width),
        flip=torch.tensor([draw(st.booleans())]),
    )


@dataclass(frozen=True)
class MatchCase:
    """An image (``index`` and ``shape`` rebuild it with _image) and one sample's parameters for it."""

    shape: tuple[int, int, int]
    index: int
    params: AugmentParams


@st.composite
def match_cases(draw: st.DrawFn) -> MatchCase:
    """An image of one of MATCH_SHAPES and parameters for its size."""
    shape = draw(st.sampled_from(MATCH_SHAPES))
    return MatchCase(shape, draw(st.integers(0, 4999)), draw(fixed_params(shape[1:])))


def _torchvision(image: torch.Tensor, p: AugmentParams) -> torch.Tensor:
    """The notebook's order with torchvision's functional ops: flip, rotate, resized crop back to (H, W)."""
    if bool(p.flip[0]):
        image = TF.hflip(image)
    image = TF.rotate(image, float(p.angle[0]), interpolation=InterpolationMode.BILINEAR)
    box = int(p.top[0]), int(p.left[0]), int(p.height[0]), int(p.width[0])
    return TF.resized_crop(image, *box, list(image.shape[-2:]), InterpolationMode.BILINEAR, antialias=True)


def geometry_error(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    """Relative L1 difference of the two images blurred (Gaussian, sigma 1.5 px): geometry, not interpolation."""
    blur = lambda t: TF.gaussian_blur(t, [7, 7], [1.5, 1.5])  # noqa: E731
    return float((blur(ours) - blur(theirs)).abs().sum() / blur(theirs).abs().sum().clamp_min(1e-6))


def check_matches_torchvision(impl, device, *, case: MatchCase) -> None:
    """Blurred relative L1 difference from torchvision's result stays under the interpolation tolerance."""
    image = _image(case.index, case.shape)
    ours = impl.apply_params(image[None].to(device), case.params)[0].cpu()
    error = geometry_error(ours, _torchvision(image, case.params))
    assert error <= GEOMETRY_TOLERANCE, f"differs from torchvision by {error:.3f} (> {GEOMETRY_TOLERANCE}) on {case}"


MATCH_INPUTS = {"case": match_cases()}

DIGIT_PAIRS = 300  # random (digit, parameters) pairs at 28x28, the records' case
PAIRS_PER_SHAPE = 50  # random (image, parameters) pairs for each other shape of MATCH_SHAPES


def _one(params: AugmentParams, k: int, angle: float | None = None) -> AugmentParams:
    """Sample k of a batch's parameters, its angle replaced when ``angle`` is given."""
    fields = {name: getattr(params, name)[k : k + 1] for name in ("angle", "top", "left", "height", "width", "flip")}
    if angle is not None:
        fields["angle"] = torch.tensor([angle], dtype=params.angle.dtype)
    return AugmentParams(**fields)


def _errors(shape: tuple[int, int, int], pairs: int, generator: torch.Generator) -> tuple[list[float], list[float]]:
    """Geometry errors on random images of ``shape``: with the right parameters, and with the angle's sign
    flipped (angles of 3 to 10 degrees)."""
    params = augment.sample_params(pairs, size=shape[1:], flip=True, generator=generator)
    indices = torch.randint(5000, (pairs,), generator=generator).tolist()
    correct, wrong = [], []
    for k, index in enumerate(indices):
        image, p = _image(index, shape), _one(params, k)
        reference = _torchvision(image, p)
        correct.append(geometry_error(augment.apply_params(image[None], p)[0], reference))
        angle = float(params.angle[k])
        if abs(angle) >= 3:
            wrong.append(geometry_error(augment.apply_params(image[None], _one(params, k, -angle))[0], reference))
    return correct, wrong


def test_geometry_tolerance_is_measured():
    """GEOMETRY_TOLERANCE sits between what interpolation does and what a wrong rotation does, measured here.

    Correct: regbench against torchvision on random images of each of MATCH_SHAPES (digits at
    28x28) with parameters as torchvision draws them, the largest error at least INTERPOLATION_MARGIN
    under the tolerance. Wrong: the same with the angle's sign flipped, for angles of 3 to 10
    degrees, the smallest error above the tolerance. The figures are printed, not kept here.
    """
    g = torch.Generator().manual_seed(0)
    for shape in MATCH_SHAPES:
        correct, wrong = _errors(shape, DIGIT_PAIRS if shape == (1, SIZE, SIZE) else PAIRS_PER_SHAPE, g)
        print(
            f"{shape}: geometry error correct at most {max(correct):.3f} over {len(correct)}, "
            f"wrong sign at least {min(wrong):.3f} over {len(wrong)}"
        )
        assert max(correct) <= GEOMETRY_TOLERANCE - INTERPOLATION_MARGIN, (
            f"{shape}: interpolation alone reached {max(correct):.3f}"
        )
        assert min(wrong) > GEOMETRY_TOLERANCE, (
            f"{shape}: a wrong-sign rotation gave only {min(wrong):.3f} (of {len(wrong)})"
        )


@given(**MATCH_INPUTS)
def test_matches_torchvision(device, case):
    check_matches_torchvision(augment, device, case=case)


# --- identity, invariants, reproducibility -------------------------------------------------------


@st.composite
def image_batches(draw: st.DrawFn) -> torch.Tensor:
    """Float batches (N, C, H, W) in [0, 1] of any image_shapes(), from the uint8 images a dataset holds: the first as
    it is
    (so the batch reaches the image's full range, as a dataset's strokes reach 1), the others rolled and dimmed."""
    n, shape = draw(st.integers(1, 6)), draw(image_shapes())
    pixels = draw(hnp.arrays(np.uint8, shape, elements=st.integers(0, 255)))
    noise_seed = draw(seeds())
    base = torch.from_numpy(pixels).float()[None] / 255
    rolled = [base.roll(k * 3, dims=-1) for k in range(n)]  # distinct samples, derived from one drawn image
    dimming = torch.rand(n, 1, 1, 1, generator=torch.Generator().manual_seed(noise_seed))
    dimming[0] = 1.0
    return torch.cat(rolled) * dimming


def _size(batch: torch.Tensor) -> tuple[int, int]:
    """(H, W) of a batch (N, C, H, W)."""
    return batch.shape[-2], batch.shape[-1]


def identity_params(n: int, size: tuple[int, int]) -> AugmentParams:
    """No flip, no rotation, the whole image of ``size`` (H, W) as the crop."""
    zeros = torch.zeros(n, dtype=torch.float64)
    return AugmentParams(zeros, zeros, zeros, zeros + size[0], zeros + size[1], torch.zeros(n, dtype=torch.bool))


def check_identity(impl, device, *, batch: torch.Tensor) -> None:
    """Identity parameters sample every pixel at its own centre: the input comes back (float rounding only)."""
    out = impl.apply_params(batch.to(device), identity_params(len(batch), _size(batch))).cpu()
    assert_values_close(out, batch, atol=1e-5, rtol=0, what="identity parameters changed the batch")


def check_flip_twice(impl, device, *, batch: torch.Tensor) -> None:
    """Flipping, then flipping the result, returns the input."""
    flip = identity_params(len(batch), _size(batch))
    flip.flip[:] = True
    twice = impl.apply_params(impl.apply_params(batch.to(device), flip), flip).cpu()
    assert_values_close(twice, batch, atol=1e-5, rtol=0, what="flipping twice changed the batch")


def _random_params(impl, batch: torch.Tensor, seed: int) -> AugmentParams:
    """Parameters for the batch's size, as BatchAugment(flip=True) draws them from a seeded generator."""
    return impl.sample_params(len(batch), size=_size(batch), flip=True, generator=torch.Generator().manual_seed(seed))


def check_shape_dtype_range(impl, device, *, batch: torch.Tensor, seed: int) -> None:
    """Random augmentation keeps (N, C, H, W), float32, the device, and values in [0, 1]."""
    out = impl.apply_params(batch.to(device), _random_params(impl, batch, seed))
    assert out.shape == batch.shape and out.dtype == batch.dtype and out.device.type == torch.device(device).type, (
        f"augmenting {tuple(batch.shape)} {batch.dtype} gave {tuple(out.shape)} {out.dtype} on {out.device}"
    )
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0 + 1e-6, (
        f"augmented values in [{float(out.min()):.4g}, {float(out.max()):.4g}], not [0, 1]"
    )


def check_seed_reproduces(impl, device, *, batch: torch.Tensor, seed: int) -> None:
    """The same generator seed gives the same augmented batch."""
    run = lambda: impl.apply_params(batch.to(device), _random_params(impl, batch, seed))  # noqa: E731
    assert torch.equal(run(), run()), f"two runs from generator seed {seed} differ"


BATCH_INPUTS = {"batch": image_batches()}
RANDOM_INPUTS = {"batch": image_batches(), "seed": seeds()}


@given(**BATCH_INPUTS)
def test_identity_parameters_give_the_input_back(device, batch):
    check_identity(augment, device, batch=batch)


@given(**BATCH_INPUTS)
def test_flipping_twice_is_the_identity(device, batch):
    check_flip_twice(augment, device, batch=batch)


@given(**RANDOM_INPUTS)
def test_shape_dtype_and_range_are_preserved(device, batch, seed):
    check_shape_dtype_range(augment, device, batch=batch, seed=seed)


@given(**RANDOM_INPUTS)
def test_a_seed_reproduces_the_output(device, batch, seed):
    check_seed_reproduces(augment, device, batch=batch, seed=seed)


# --- mutants: each property must catch a real bug -------------------------------------------------


def _with(**overrides) -> types.SimpleNamespace:
    """regbench.augment with some functions replaced by broken ones."""
    return types.SimpleNamespace(
        sample_params=overrides.get("sample_params", augment.sample_params),
        apply_params=overrides.get("apply_params", augment.apply_params),
    )


def _resample(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """grid_sample through F.affine_grid, for mutants that build their own maps."""
    grid = torch.nn.functional.affine_grid(theta.to(images), list(images.shape), align_corners=False)
    return torch.nn.functional.grid_sample(images, grid, align_corners=False)


def _angle_sign_flipped(images, params):
    return augment.apply_params(
        images, AugmentParams(-params.angle, params.top, params.left, params.height, params.width, params.flip)
    )


def _half_pixel_shift(images, params):
    return augment.apply_params(
        images, AugmentParams(params.angle, params.top, params.left + 0.5, params.height, params.width, params.flip)
    )


def _flip_ignored(images, params):
    return augment.apply_params(
        images, AugmentParams(params.angle, params.top, params.left, params.height, params.width, params.flip & False)
    )


def _brightened(images, params):
    return augment.apply_params(images, params) * 1.05  # values can leave [0, 1]


def _flip_off_by_one(images, params):
    theta = augment.affine_matrices(params, _size(images))
    theta[params.flip, 0, 2] += 2.0 / images.shape[-1]  # mirrors about x = W/2 + 1/2 instead of the centre
    return _resample(images, theta)


def _one_normalization(images, params):
    theta = augment.affine_matrices(params, _size(images))
    theta[:, 1] *= images.shape[-2] / images.shape[-1]  # y normalized by 2/W, where 2/H belongs
    return _resample(images, theta)


def _rotation_in_normalized_space(images, params):
    z = torch.zeros_like(params.angle)
    unrotated = AugmentParams(z, params.top, params.left, params.height, params.width, params.flip & False)
    crop = augment.affine_matrices(unrotated, _size(images))
    cos, sin = torch.cos(torch.deg2rad(params.angle)), torch.sin(torch.deg2rad(params.angle))
    rotation = torch.stack([torch.stack([cos, -sin], dim=1), torch.stack([sin, cos], dim=1)], dim=1)
    theta = rotation @ crop  # rotates [-1, 1] coordinates: a shear in pixels when H != W
    theta[params.flip, 0] *= -1
    return _resample(images, theta)


def _wide_angles(n, **kw):
    p = augment.sample_params(n, **kw)
    return AugmentParams(p.angle * 2, p.top, p.left, p.height, p.width, p.flip)


def _crops_at_origin(n, **kw):
    p = augment.sample_params(n, **kw)
    return AugmentParams(p.angle, p.top * 0, p.left * 0, p.height, p.width, p.flip)


def _whole_image_fallback(n, **kw):
    # the whole image as the fallback: right for square images only
    with mock.patch.object(augment, "_central_crop", lambda image_h, image_w: (image_h, image_w)):
        return augment.sample_params(n, **kw)


def _unseeded(n, *, generator=None, **kw):
    return augment.sample_params(n, generator=None, **kw)


MUTATIONS = [  # run by test_mutations.py with every other mutant
    Mutation(
        "rotation by the wrong sign",
        _with(apply_params=_angle_sign_flipped),
        check_matches_torchvision,
        MATCH_INPUTS,
        "differs from torchvision by",
        augment,
    ),
    Mutation(
        "flip parameter ignored",
        _with(apply_params=_flip_ignored),
        check_matches_torchvision,
        MATCH_INPUTS,
        "differs from torchvision by",
        augment,
    ),
    Mutation(
        "rotation of normalized coordinates (non-square)",
        _with(apply_params=_rotation_in_normalized_space),
        check_matches_torchvision,
        MATCH_INPUTS,
        "differs from torchvision by",
        augment,
    ),
    Mutation(
        "crop box shifted by half a pixel",
        _with(apply_params=_half_pixel_shift),
        check_identity,
        BATCH_INPUTS,
        "identity parameters changed the batch: Tensor-likes are not close",
        augment,
    ),
    Mutation(
        "y normalized by 2/W (non-square)",
        _with(apply_params=_one_normalization),
        check_identity,
        BATCH_INPUTS,
        "identity parameters changed the batch: Tensor-likes are not close",
        augment,
    ),
    Mutation(
        "flip about an off-centre axis",
        _with(apply_params=_flip_off_by_one),
        check_flip_twice,
        BATCH_INPUTS,
        "flipping twice changed the batch: Tensor-likes are not close",
        augment,
    ),
    Mutation(
        "output brightened out of range",
        _with(apply_params=_brightened),
        check_shape_dtype_range,
        RANDOM_INPUTS,
        "augmented values in",
        augment,
    ),
    Mutation(
        "sampling ignores the generator",
        _with(sample_params=_unseeded),
        check_seed_reproduces,
        RANDOM_INPUTS,
        "two runs from generator seed",
        augment,
    ),
]
GOF_MUTANTS = [  # (name, mutant, the crop size its distribution property is run on)
    ("angles drawn from U(-20, 20)", _with(sample_params=_wide_angles), (SIZE, SIZE)),
    ("crop always at the top-left corner", _with(sample_params=_crops_at_origin), (SIZE, SIZE)),
    ("whole image as the fallback crop of a 20x36 image", _with(sample_params=_whole_image_fallback), (20, 36)),
]


@statistical(alpha=5 * PROPERTY_ALPHA, examples=1, on_mutants=True)
@pytest.mark.parametrize("name, mutant, size", GOF_MUTANTS, ids=[m[0] for m in GOF_MUTANTS])
def test_distribution_mutant_is_killed(name, mutant, size):
    """A wrong distribution fails the goodness-of-fit property on its first seed."""
    with pytest.raises(AssertionError):
        check_params_follow_torchvision(mutant, "cpu", seed=0, size=size)
