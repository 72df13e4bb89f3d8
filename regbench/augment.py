"""The notebook's augmentations, as torchvision transforms on PIL images.

``notebook_train_transform`` is the notebook's exact pipeline, horizontal flip included. A flip
does not preserve a digit's label (a mirrored 2, 3, 4, 7 is not that digit), so regbench keeps it
as its own configuration to show the cost, and offers ``digit_train_transform``, the same
rotation and crop without the flip, as the label-preserving preset.
"""

from __future__ import annotations

from torchvision import transforms

__all__ = ["digit_train_transform", "notebook_train_transform", "test_transform"]

ROTATION_DEGREES = 10  # the notebook's +/-10 degrees: a slant people write, not a different digit
CROP_SCALE = (0.8, 1.0)  # keep at least 80% of the area so no stroke is cut away entirely
IMAGE_SIZE = 28


def _geometry() -> list:
    """Rotation then random resized crop, the label-preserving part of the notebook's pipeline."""
    return [
        transforms.RandomRotation(ROTATION_DEGREES),
        transforms.RandomResizedCrop(IMAGE_SIZE, scale=CROP_SCALE),
    ]


def notebook_train_transform() -> transforms.Compose:
    """The notebook's train transform: flip (p=0.5), rotation, crop, ToTensor."""
    return transforms.Compose([transforms.RandomHorizontalFlip(), *_geometry(), transforms.ToTensor()])


def digit_train_transform() -> transforms.Compose:
    """The notebook's transform minus the flip: augmentation that keeps every digit's label."""
    return transforms.Compose([*_geometry(), transforms.ToTensor()])


def test_transform() -> transforms.Compose:
    """No randomness at test time: the model is judged on real images, not augmented ones."""
    return transforms.Compose([transforms.ToTensor()])


test_transform.__test__ = False  # a name starting with "test" must not be collected by pytest where it is imported
