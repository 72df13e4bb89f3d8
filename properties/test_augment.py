"""Augmentation: shape, dtype and value range survive every transform; the test transform is deterministic; a seed reproduces the train transform; the flip is a mirror that undoes itself.

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

from properties import strategies as gen
from regbench.train import rngs_restored
from properties.support import CPU, seeded
from regbench.augment import IMAGE_SIZE, digit_train_transform, notebook_train_transform, test_transform
from regbench.train import seed_everything

TRANSFORMS = {"notebook_train": notebook_train_transform, "digit_train": digit_train_transform, "test": test_transform}
TRAIN_TRANSFORMS = {"notebook_train": notebook_train_transform, "digit_train": digit_train_transform}
IMAGE_INPUTS = dict(image=gen.images(side=IMAGE_SIZE), seed=gen.seeds())
TEST_INPUTS = dict(image=gen.images(side=IMAGE_SIZE), seeds=st.lists(gen.seeds(), min_size=2, max_size=2, unique=True))
FLIP_INPUTS = dict(image=gen.images(side=IMAGE_SIZE))


def check_shape_dtype_range(factory, device, *, image: np.ndarray, seed: int) -> None:
    """A 28x28 uint8 image becomes a (1, 28, 28) float32 tensor in [0, 1], no brighter than the image's brightest pixel.

    Rotation (nearest neighbour, black fill) and resized crop (non-negative interpolation
    weights) only move and average pixels, so they can never create a brighter one.
    """
    with seeded(seed):
        out = factory()(Image.fromarray(image))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32, f"expected a float32 tensor, got {type(out).__name__} {getattr(out, 'dtype', '')}"
    assert out.shape == (1, IMAGE_SIZE, IMAGE_SIZE), f"expected shape (1, {IMAGE_SIZE}, {IMAGE_SIZE}), got {tuple(out.shape)}"
    assert float(out.min()) >= 0.0, f"values below 0: {float(out.min())}"
    assert float(out.max()) <= image.max() / 255 + 1e-6, f"max {float(out.max()):.4f} above the image's brightest pixel {image.max() / 255:.4f}"


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@given(**IMAGE_INPUTS)
def test_transforms_keep_shape_dtype_and_range(name, image, seed):
    """The model's input layer and the pixel scale assume exactly this format, augmented or not."""
    check_shape_dtype_range(TRANSFORMS[name], CPU, image=image, seed=seed)


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


def check_seed_reproduces(factory, device, *, image: np.ndarray, seed: int) -> None:
    """seed_everything(seed) before the train transform fixes its output."""
    transform, pil = factory(), Image.fromarray(image)
    outputs = []
    for _ in range(2):
        with rngs_restored():
            seed_everything(seed)
            outputs.append(transform(pil))
    assert torch.equal(outputs[0], outputs[1]), f"seed {seed} did not reproduce the augmented image"


@pytest.mark.parametrize("name", sorted(TRAIN_TRANSFORMS))
@given(**IMAGE_INPUTS)
def test_seed_reproduces_train_transform(name, image, seed):
    """An augmented run is repeatable from its seed, or its results cannot be checked."""
    check_seed_reproduces(TRAIN_TRANSFORMS[name], CPU, image=image, seed=seed)


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
