"""Batched augmentation (regbench.augment.BatchAugment) against torchvision, its reference.

- The per-sample parameters follow torchvision's distributions: RandomRotation(10)'s angle,
  RandomResizedCrop(28, scale=(0.8, 1.0)).get_params' crop box, RandomHorizontalFlip's coin
  (scipy.stats goodness-of-fit tests at alpha = PROPERTY_ALPHA = 1e-10 each; see the rate below).
- For fixed parameters the output matches torchvision's functional transforms (hflip, rotate,
  resized_crop) within interpolation tolerance.
- Identity parameters give the input back; shape, dtype and range are preserved; a seed
  reproduces the output.

Each property is a ``check_*(impl, device, **inputs)`` so the mutants at the bottom run through
the same code. ``impl`` is anything with ``sample_params`` and ``apply_params`` (the module).
"""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from torchvision import transforms
from torchvision.transforms import InterpolationMode
from torchvision.transforms import functional as TF

from properties.mutation import Mutation
from regbench.checks.strategies import seeds
from properties.support import seeded
from regbench import augment
from regbench.augment import AugmentParams
from regbench.checks.statistics import PROPERTY_ALPHA, assert_binomial, assert_pvalue
from regbench.data import as_inputs, embedded_digits

SIZE = 28
DRAWS = 10_000  # parameter draws per distribution test: ~0.3 s of torchvision get_params calls
# Five tests at PROPERTY_ALPHA each per example (KS, binomial, three chi-square), at most 1,010
# examples per run (conftest's ceiling): false-failure rate per run <= 5 * 1010 * 1e-10 < 1e-6.
GOF_SETTINGS = settings(max_examples=3)  # each example draws DRAWS samples twice
# Interpolation tolerance, on images blurred (Gaussian, sigma 1.5 px) so that what is compared is
# geometry, not the sub-pixel differences between one bilinear resampling (ours) and torchvision's
# two (rotate, then resized_crop). test_geometry_tolerance_is_measured keeps the measurement: over
# random digits and parameters as torchvision draws them the error stays well under it (at most
# 0.050 over 1,500 pairs), while a rotation of the wrong sign by 3 to 10 degrees exceeds it (at
# least 0.081).
GEOMETRY_TOLERANCE = 0.07


_DIGITS: list[torch.Tensor] = []


def _digit(index: int) -> torch.Tensor:
    """One embedded digit, loaded once per session: real strokes, not noise, are what augmentation meets."""
    if not _DIGITS:
        _DIGITS.append(as_inputs(embedded_digits().tensors()[0]))
    return _DIGITS[0][index]


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
    assert_pvalue(sps.chi2_contingency(table).pvalue, PROPERTY_ALPHA, what=f"{what}: regbench's distribution differs from torchvision's (chi-square)")


def check_params_follow_torchvision(impl, device, *, seed: int) -> None:
    """Angle ~ U(-10, 10) (KS), flip ~ Bernoulli(0.5) (binomial), crop box as get_params draws it (chi-square)."""
    ours = impl.sample_params(DRAWS, flip=True, generator=torch.Generator().manual_seed(seed))
    assert_pvalue(sps.kstest(ours.angle.numpy(), sps.uniform(loc=-10, scale=20).cdf).pvalue, PROPERTY_ALPHA, what="rotation angle is not U(-10, 10) (KS)")
    assert_binomial(int(ours.flip.sum()), DRAWS, 0.5, what="horizontal flips")
    image = torch.zeros(1, SIZE, SIZE)
    with seeded(seed):
        theirs = np.array([transforms.RandomResizedCrop.get_params(image, [0.8, 1.0], [3 / 4, 4 / 3]) for _ in range(DRAWS)])
    boxes = np.stack([ours.top.numpy(), ours.left.numpy(), ours.height.numpy(), ours.width.numpy()], axis=1).astype(int)
    _chi2_same_distribution(boxes[:, 2] * 100 + boxes[:, 3], theirs[:, 2] * 100 + theirs[:, 3], what="crop size (h, w)")
    _chi2_same_distribution(boxes[:, 0], theirs[:, 0], what="crop top")
    _chi2_same_distribution(boxes[:, 1], theirs[:, 1], what="crop left")


@GOF_SETTINGS
@given(seed=seeds())
def test_params_follow_torchvision(seed):
    check_params_follow_torchvision(augment, "cpu", seed=seed)


def test_no_flip_preset_never_flips():
    """BatchAugment(flip=False), the label-preserving preset, draws no flip at all."""
    params = augment.sample_params(DRAWS, flip=False, generator=torch.Generator().manual_seed(0))
    assert not params.flip.any()


# --- fixed parameters: the same image as torchvision's functional transforms --------------------


@st.composite
def fixed_params(draw: st.DrawFn) -> AugmentParams:
    """One sample's parameters anywhere in the ranges torchvision can draw."""
    height, width = draw(st.integers(22, SIZE)), draw(st.integers(22, SIZE))
    as_tensor = lambda v: torch.tensor([v], dtype=torch.float64)  # noqa: E731
    return AugmentParams(
        angle=as_tensor(draw(st.floats(-10, 10))),
        top=as_tensor(draw(st.integers(0, SIZE - height))),
        left=as_tensor(draw(st.integers(0, SIZE - width))),
        height=as_tensor(height),
        width=as_tensor(width),
        flip=torch.tensor([draw(st.booleans())]),
    )


def _torchvision(image: torch.Tensor, p: AugmentParams) -> torch.Tensor:
    """The notebook's order with torchvision's functional ops: flip, rotate, resized crop."""
    if bool(p.flip[0]):
        image = TF.hflip(image)
    image = TF.rotate(image, float(p.angle[0]), interpolation=InterpolationMode.BILINEAR)
    return TF.resized_crop(image, int(p.top[0]), int(p.left[0]), int(p.height[0]), int(p.width[0]), [SIZE, SIZE], InterpolationMode.BILINEAR, antialias=True)


def geometry_error(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    """Relative L1 difference of the two images blurred (Gaussian, sigma 1.5 px): geometry, not interpolation."""
    blur = lambda t: TF.gaussian_blur(t, [7, 7], [1.5, 1.5])  # noqa: E731
    return float((blur(ours) - blur(theirs)).abs().sum() / blur(theirs).abs().sum().clamp_min(1e-6))


def check_matches_torchvision(impl, device, *, index: int, params: AugmentParams) -> None:
    """Blurred relative L1 difference from torchvision's result stays under the interpolation tolerance."""
    image = _digit(index)
    error = geometry_error(impl.apply_params(image[None].to(device), params)[0].cpu(), _torchvision(image, params))
    assert error <= GEOMETRY_TOLERANCE, f"differs from torchvision by {error:.3f} (> {GEOMETRY_TOLERANCE}) for {params}"


MATCH_INPUTS = {"index": st.integers(0, 4999), "params": fixed_params()}

TOLERANCE_PAIRS = 300  # random (digit, parameters) pairs: about 2 s


def test_geometry_tolerance_is_measured():
    """GEOMETRY_TOLERANCE sits between what interpolation does and what a wrong rotation does, measured here.

    Correct: regbench against torchvision on random digits with parameters as torchvision draws
    them, the largest error at most 0.06. Wrong: the same with the angle's sign flipped, for angles
    of 3 to 10 degrees, the smallest error above the tolerance.
    """
    g = torch.Generator().manual_seed(0)
    params = augment.sample_params(TOLERANCE_PAIRS, flip=True, generator=g)
    indices = torch.randint(5000, (TOLERANCE_PAIRS,), generator=g).tolist()
    one = lambda p, k, angle=None: AugmentParams(*(  # noqa: E731
        (torch.tensor([angle], dtype=p.angle.dtype) if name == "angle" and angle is not None else getattr(p, name)[k : k + 1])
        for name in ("angle", "top", "left", "height", "width", "flip")))
    correct, wrong = [], []
    for k, index in enumerate(indices):
        image = _digit(index)
        p = one(params, k)
        correct.append(geometry_error(augment.apply_params(image[None], p)[0], _torchvision(image, p)))
        angle = float(params.angle[k])
        if abs(angle) >= 3:
            wrong.append(geometry_error(augment.apply_params(image[None], one(params, k, -angle))[0], _torchvision(image, p)))
    print(f"geometry error: correct at most {max(correct):.3f} over {len(correct)}, wrong sign at least {min(wrong):.3f} over {len(wrong)}")
    assert max(correct) <= 0.06 < GEOMETRY_TOLERANCE, f"interpolation alone reached {max(correct):.3f}"
    assert min(wrong) > GEOMETRY_TOLERANCE, f"a wrong-sign rotation gave only {min(wrong):.3f} (of {len(wrong)})"


@given(**MATCH_INPUTS)
def test_matches_torchvision(device, index, params):
    check_matches_torchvision(augment, device, index=index, params=params)


# --- identity, invariants, reproducibility -------------------------------------------------------


@st.composite
def image_batches(draw: st.DrawFn) -> torch.Tensor:
    """Float batches (N, 1, 28, 28) in [0, 1], from the uint8 images a dataset holds."""
    n = draw(st.integers(1, 6))
    pixels = draw(st.lists(st.integers(0, 255), min_size=SIZE * SIZE, max_size=SIZE * SIZE))
    noise_seed = draw(seeds())
    base = torch.tensor(pixels, dtype=torch.float32).view(1, 1, SIZE, SIZE) / 255
    rolled = [base.roll(k * 3, dims=-1) for k in range(n)]  # distinct samples, derived from one drawn image
    return torch.cat(rolled) * torch.rand(n, 1, 1, 1, generator=torch.Generator().manual_seed(noise_seed))


def identity_params(n: int) -> AugmentParams:
    """No flip, no rotation, the whole image as the crop."""
    zeros = torch.zeros(n, dtype=torch.float64)
    return AugmentParams(zeros, zeros, zeros, zeros + SIZE, zeros + SIZE, torch.zeros(n, dtype=torch.bool))


def check_identity(impl, device, *, batch: torch.Tensor) -> None:
    """Identity parameters sample every pixel at its own centre: the input comes back (float rounding only)."""
    out = impl.apply_params(batch.to(device), identity_params(len(batch))).cpu()
    torch.testing.assert_close(out, batch, atol=1e-5, rtol=0)


def check_flip_twice(impl, device, *, batch: torch.Tensor) -> None:
    """Flipping, then flipping the result, returns the input."""
    flip = identity_params(len(batch))
    flip.flip[:] = True
    twice = impl.apply_params(impl.apply_params(batch.to(device), flip), flip).cpu()
    torch.testing.assert_close(twice, batch, atol=1e-5, rtol=0)


def check_shape_dtype_range(impl, device, *, batch: torch.Tensor, seed: int) -> None:
    """Random augmentation keeps (N, 1, 28, 28), float32, the device, and values in [0, 1]."""
    params = impl.sample_params(len(batch), flip=True, generator=torch.Generator().manual_seed(seed))
    out = impl.apply_params(batch.to(device), params)
    assert out.shape == batch.shape and out.dtype == batch.dtype and out.device.type == torch.device(device).type
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0 + 1e-6


def check_seed_reproduces(impl, device, *, batch: torch.Tensor, seed: int) -> None:
    """The same generator seed gives the same augmented batch."""
    run = lambda: impl.apply_params(batch.to(device), impl.sample_params(len(batch), flip=True, generator=torch.Generator().manual_seed(seed)))  # noqa: E731
    assert torch.equal(run(), run())


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
    return types.SimpleNamespace(sample_params=overrides.get("sample_params", augment.sample_params), apply_params=overrides.get("apply_params", augment.apply_params))


def _angle_sign_flipped(images, params):
    return augment.apply_params(images, AugmentParams(-params.angle, params.top, params.left, params.height, params.width, params.flip))


def _half_pixel_shift(images, params):
    return augment.apply_params(images, AugmentParams(params.angle, params.top, params.left + 0.5, params.height, params.width, params.flip))


def _flip_ignored(images, params):
    return augment.apply_params(images, AugmentParams(params.angle, params.top, params.left, params.height, params.width, params.flip & False))


def _brightened(images, params):
    return augment.apply_params(images, params) * 1.05  # values can leave [0, 1]


def _flip_off_by_one(images, params):
    theta = augment.affine_matrices(params, images.shape[-1]).to(images)
    theta[params.flip, 0, 2] += 2.0 / images.shape[-1]  # mirrors about x = S/2 + 1/2 instead of the centre
    grid = torch.nn.functional.affine_grid(theta, list(images.shape), align_corners=False)
    return torch.nn.functional.grid_sample(images, grid, align_corners=False)


def _wide_angles(n, **kw):
    p = augment.sample_params(n, **kw)
    return AugmentParams(p.angle * 2, p.top, p.left, p.height, p.width, p.flip)


def _crops_at_origin(n, **kw):
    p = augment.sample_params(n, **kw)
    return AugmentParams(p.angle, p.top * 0, p.left * 0, p.height, p.width, p.flip)


def _unseeded(n, *, generator=None, **kw):
    return augment.sample_params(n, generator=None, **kw)


MUTATIONS = [  # run by test_mutations.py with every other mutant
    Mutation("rotation by the wrong sign", _with(apply_params=_angle_sign_flipped), check_matches_torchvision, MATCH_INPUTS),
    Mutation("flip parameter ignored", _with(apply_params=_flip_ignored), check_matches_torchvision, MATCH_INPUTS),
    Mutation("crop box shifted by half a pixel", _with(apply_params=_half_pixel_shift), check_identity, BATCH_INPUTS),
    Mutation("flip about an off-centre axis", _with(apply_params=_flip_off_by_one), check_flip_twice, BATCH_INPUTS),
    Mutation("output brightened out of range", _with(apply_params=_brightened), check_shape_dtype_range, RANDOM_INPUTS),
    Mutation("sampling ignores the generator", _with(sample_params=_unseeded), check_seed_reproduces, RANDOM_INPUTS),
]
GOF_MUTANTS = [
    ("angles drawn from U(-20, 20)", _with(sample_params=_wide_angles)),
    ("crop always at the top-left corner", _with(sample_params=_crops_at_origin)),
]


@pytest.mark.parametrize("name, mutant", GOF_MUTANTS, ids=[m[0] for m in GOF_MUTANTS])
def test_distribution_mutant_is_killed(name, mutant):
    """A wrong distribution fails the goodness-of-fit property on its first seed."""
    with pytest.raises(AssertionError):
        check_params_follow_torchvision(mutant, "cpu", seed=0)
