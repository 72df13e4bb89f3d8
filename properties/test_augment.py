"""Augmentation beyond what the checks engine runs (test_invariants.py): no transform brightens an image; the test transform is deterministic; the flip is a mirror that undoes itself.

The transforms work on PIL images on the CPU, so these properties take no device.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from torchvision import transforms

from properties.support import CPU, seeded
from regbench.augment import IMAGE_SIZE, digit_train_transform, notebook_train_transform, test_transform
from regbench.checks import strategies as gen

TRANSFORMS = {"notebook_train": notebook_train_transform, "digit_train": digit_train_transform, "test": test_transform}
IMAGE_INPUTS = dict(image=gen.images(side=IMAGE_SIZE), seed=gen.seeds())
TEST_INPUTS = dict(image=gen.images(side=IMAGE_SIZE), seeds=st.lists(gen.seeds(), min_size=2, max_size=2, unique=True))
FLIP_INPUTS = dict(image=gen.images(side=IMAGE_SIZE))


def check_never_brighter(factory, device, *, image: np.ndarray, seed: int) -> None:
    """No output pixel is brighter than the image's brightest (the format itself: test_invariants.py).

    Rotation (nearest neighbour, black fill) and resized crop (non-negative interpolation
    weights) only move and average pixels, so they can never create a brighter one.
    """
    with seeded(seed):
        out = factory()(Image.fromarray(image))
    assert float(out.max()) <= image.max() / 255 + 1e-6, f"max {float(out.max()):.4f} above the image's brightest pixel {image.max() / 255:.4f}"


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
    reference = torch.from_numpy(image).float().div(255).unsqueeze(0)
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
