"""Augmentation beyond what the checks engine runs (test_invariants.py): no transform brightens an image; the test
transform is deterministic; the flip is a mirror that undoes itself; a train transform built for an input_shape
returns tensors of that shape.

Every property holds for grayscale ('L') and 'RGB' PIL images of any (H, W), square or not. The
transforms work on PIL images on the CPU, so these properties take no device.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from torchvision import transforms

from properties.mutation import find_counterexample
from properties.support import CPU, seeded
from properties.test_batch_augment import image_shapes
from regbench.augment import digit_train_transform, notebook_train_transform, test_transform
from regbench.checks import strategies as gen


@st.composite
def pil_arrays(draw: st.DrawFn) -> np.ndarray:
    """uint8 pixels of a grayscale (H, W) or RGB (H, W, 3) image of an image_shapes() size, as Image.fromarray takes
    them.
    """
    channels, height, width = draw(image_shapes(channels=(1, 3)))
    shape = (height, width) if channels == 1 else (height, width, 3)
    return draw(hnp.arrays(np.uint8, shape, elements=st.integers(0, 255)))


def shape_of(image: np.ndarray) -> tuple[int, int, int]:
    """(C, H, W) of the tensor ToTensor makes of this image: the input_shape a dataset of such images reports."""
    return (1, *image.shape) if image.ndim == 2 else (image.shape[2], *image.shape[:2])


TRANSFORMS = {"notebook_train": notebook_train_transform, "digit_train": digit_train_transform, "test": test_transform}
SIZED = {"notebook_train": notebook_train_transform, "digit_train": digit_train_transform}  # those taking input_shape
IMAGE_INPUTS = dict(image=pil_arrays(), seed=gen.seeds())
TEST_INPUTS = dict(image=pil_arrays(), seeds=st.lists(gen.seeds(), min_size=2, max_size=2, unique=True))
FLIP_INPUTS = dict(image=pil_arrays())


def check_never_brighter(factory, device, *, image: np.ndarray, seed: int) -> None:
    """No output pixel is brighter than the image's brightest (the format itself: test_invariants.py).

    Rotation (nearest neighbour, black fill) and resized crop (non-negative interpolation
    weights) only move and average pixels, so they can never create a brighter one.
    """
    with seeded(seed):
        out = factory()(Image.fromarray(image))
    assert float(out.max()) <= image.max() / 255 + 1e-6, (
        f"max {float(out.max()):.4f} above the image's brightest pixel {image.max() / 255:.4f}"
    )


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@given(**IMAGE_INPUTS)
def test_transforms_never_brighten(name, image, seed):
    """Augmentation moves and averages ink; it never adds light."""
    check_never_brighter(TRANSFORMS[name], CPU, image=image, seed=seed)


def check_test_transform_deterministic(factory, device, *, image: np.ndarray, seeds: list[int]) -> None:
    """Under any two RNG states the test transform gives the same tensor: the image itself, divided by 255."""
    outputs = []
    for seed in seeds:
        with seeded(seed):
            outputs.append(factory()(Image.fromarray(image)))
    assert torch.equal(outputs[0], outputs[1]), "the test transform gave two different tensors for one image"
    reference = torch.from_numpy(image).float().div(255).view(image.shape[0], image.shape[1], -1).permute(2, 0, 1)
    assert torch.equal(outputs[0], reference), "the test transform changes the image beyond converting it to [0, 1]"


@given(**TEST_INPUTS)
def test_test_transform_is_deterministic(image, seeds):
    """Test accuracy must measure the model on the real images, the same ones every run."""
    check_test_transform_deterministic(test_transform, CPU, image=image, seeds=seeds)


def check_flip_is_mirror_involution(factory, device, *, image: np.ndarray) -> None:
    """The pipeline's flip, forced on (p = 1), mirrors the columns, and flipping twice gives the image back."""
    flips = [step for step in factory().transforms if isinstance(step, transforms.RandomHorizontalFlip)]
    assert len(flips) == 1, f"expected one horizontal flip in the pipeline, found {len(flips)}"
    always = copy.copy(flips[0])
    always.p = 1.0
    pil = Image.fromarray(image)
    once, twice = np.asarray(always(pil)), np.asarray(always(always(pil)))
    assert np.array_equal(once, image[:, ::-1]), "the flip is not a left-right mirror"
    assert np.array_equal(twice, image), "flipping twice does not give the image back"


@given(**FLIP_INPUTS)
def test_flip_twice_is_identity(image):
    """The notebook's flip: a mirror image (which is why it can change a digit's label), undone by itself."""
    check_flip_is_mirror_involution(notebook_train_transform, CPU, image=image)


def check_output_has_the_input_shape(factory, device, *, image: np.ndarray, seed: int) -> None:
    """Built for the image's input_shape (C, H, W), the transform returns float32 (C, H, W) in [0, 1]: the crop
    is resized back to (H, W)."""
    shape = shape_of(image)
    with seeded(seed):
        out = factory(input_shape=shape)(Image.fromarray(image))
    assert tuple(out.shape) == shape, f"output {tuple(out.shape)} for input_shape {shape}"
    assert out.dtype == torch.float32 and 0.0 <= float(out.min()) and float(out.max()) <= 1.0


SHAPE_INPUTS = dict(image=pil_arrays(), seed=gen.seeds())


@pytest.mark.parametrize("name", sorted(SIZED))
@given(**SHAPE_INPUTS)
def test_train_transforms_keep_the_input_shape(name, image, seed):
    """A dataset of any (C, H, W) gets augmented samples of that shape, so the model sees what it was sized for."""
    check_output_has_the_input_shape(SIZED[name], CPU, image=image, seed=seed)


def _crop_always_28(*, input_shape=None) -> transforms.Compose:
    """Bug: input_shape accepted and ignored, the crop resized to the digits' 28x28 whatever the image."""
    return notebook_train_transform()


def test_a_crop_size_ignoring_input_shape_is_caught():
    """The shape property finds the transform that ignores input_shape (a mutant outside test_mutations.py's list)."""
    assert find_counterexample(check_output_has_the_input_shape, _crop_always_28, SHAPE_INPUTS) is not None
